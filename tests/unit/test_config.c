/*
 * test_config.c - the key table, both parsers, validation, --help, the
 * shipped example job file, and the log line format.
 */
#include "config.h"
#include "log.h"
#include "nanoid.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 64

static SRunner *runner;

/* Parses a NULL-terminated list of arguments (argv[0] is added). */
static enum config_result parse(struct config *c, char *err, ...)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0, i;
	const char *a;
	va_list ap;
	enum config_result r;

	argv[argc++] = strdup("nanoid-backfill");
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(argc, MAX_ARGS);
		argv[argc++] = strdup(a);
	}
	va_end(ap);
	argv[argc] = NULL;
	r = config_parse_args(c, argc, argv, err, CONFIG_ERR_LEN);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return r;
}

/* Writes text to a new file under /tmp; returns its malloc'd path. */
static char *write_job(const char *text)
{
	char *path = strdup("/tmp/nb-test-config-XXXXXX");
	int fd;
	size_t len = strlen(text);

	ck_assert_ptr_nonnull(path);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void drop_job(char *path)
{
	unlink(path);
	free(path);
}

/* Parses "--config FILE" where FILE holds text. */
static enum config_result parse_file(struct config *c, char *err,
				     const char *text, char **path_out)
{
	char *path = write_job(text);
	enum config_result r = parse(c, err, "--config", path, (char *)NULL);

	if (path_out != NULL)
		*path_out = path;
	else
		drop_job(path);
	return r;
}

/* A sample value for every key and how to read it back as text. A key
 * added to the table without a row here fails the tests below. */
static const struct sample {
	const char *name;
	const char *value;      /* NULL: a flag on the command line */
	const char *expect;     /* field read back by field_text() */
} samples[] = {
	{ "dsn", "host=/tmp dbname=shop", "host=/tmp dbname=shop" },
	{ "schema", "sales", "sales" },
	{ "table", "orders", "orders" },
	{ "column", "public_id", "public_id" },
	{ "key", "region,id", "region,id" },
	{ "job", "orders-job", "orders-job" },
	{ "progress-schema", "nb_progress", "nb_progress" },
	{ "size", "30", "30" },
	{ "alphabet", "0123456789abcdef", "0123456789abcdef" },
	{ "prefix", "ord_", "ord_" },
	{ "allow-duplicates", NULL, "true" },
	{ "batch-size", "250", "250" },
	{ "until-done", NULL, "true" },
	{ "idle-interval", "2.5", "2.5" },
	{ "full-sweep-interval", "2h", "7200" },
	{ "progress-interval", "0.5", "0.5" },
	{ "log-level", "debug", "debug" },
	{ "workers", "3", "3" },
	{ "lease-size", "5000", "5000" },
	{ "order", "physical", "physical" },
	{ "progress", "lines", "lines" },
	{ "batch-time", "250", "250" },
	{ "min-batch-size", "50", "50" },
	{ "max-batch-size", "9000", "9000" },
	{ "reconnect-timeout", "30", "30" },
	{ "synchronous-commit", NULL, "true" },
	/* rollout */
	{ "out", "db/migrations", "db/migrations" },
	{ "format", "goose", "goose" },
	{ "no-unique", NULL, "true" },
	{ "no-not-null", NULL, "true" },
	{ "null-index", NULL, "true" },
	{ "no-default", NULL, "true" },
	{ "add-column", NULL, "true" },
	{ "finalize", NULL, "true" },
	{ "ddl-lock-timeout", "500", "500" },
	{ "ddl-retries", "3", "3" },
	/* operations */
	{ "metrics-file", "/run/nb/orders.prom", "/run/nb/orders.prom" },
	{ "check-config", NULL, "true" },
	/* throttling */
	{ "max-rate", "20000", "20000" },
	{ "max-latency-increase", "2", "2" },
	{ "min-rate", "800", "800" },
	{ "sleep", "100", "100" },
	{ "nice-ratio", "0.5", "0.5" },
	{ "lock-timeout", "250", "250" },
	{ "statement-timeout", "60000", "60000" },
	{ "max-replica-lag-bytes", "1MB", "1048576" },
	{ "max-replica-lag", "1m30s", "90" },
	{ "max-wal-rate", "16MB", "16777216" },
	{ "max-slot-retained-wal", "10GB", "10737418240" },
	{ "pause-on-blocking", "off", "false" },
	{ "pause-on-autovacuum", "on", "true" },
	{ "health-interval", "2.5", "2.5" },
	{ "active-hours", "22:00-06:00", "22:00-06:00" },
	{ "max-runtime", "1h30m", "5400" },
	{ "pause-file", "/run/nb/pause", "/run/nb/pause" },
};

static const struct sample *find_sample(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		if (strcmp(samples[i].name, name) == 0)
			return &samples[i];
	}
	return NULL;
}

static const char *field_text(const struct config *c, const char *name,
			      char *buf, size_t len)
{
	for (size_t i = 0; i < config_key_count(); i++) {
		if (strcmp(config_key_name(i), name) == 0) {
			config_key_value(c, i, buf, len);
			return buf;
		}
	}
	snprintf(buf, len, "<no key %s>", name);
	return buf;
}

/* ---- defaults ---------------------------------------------------------- */

static void check_defaults(const struct config *c)
{
	ck_assert_ptr_null(c->config_file);
	ck_assert_ptr_null(c->dsn);
	ck_assert_ptr_null(c->schema);
	ck_assert_ptr_null(c->table);
	ck_assert_ptr_null(c->column);
	ck_assert_ptr_null(c->key);
	ck_assert_ptr_null(c->job);
	ck_assert_str_eq(c->progress_schema, "nanoid_backfill");
	ck_assert_int_eq(c->size, NANOID_DEFAULT_SIZE);
	ck_assert_str_eq(c->alphabet, NANOID_DEFAULT_ALPHABET);
	ck_assert_str_eq(c->prefix, "");
	ck_assert(!c->allow_duplicates);
	ck_assert_int_eq(c->batch_size, 1000);
	ck_assert(!c->until_done);
	ck_assert_double_eq(c->idle_interval, 60.0);
	ck_assert_double_eq(c->progress_interval, 5.0);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_int_eq(c->nkeys, 0);
}

START_TEST(test_defaults)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	config_init(&c);
	check_defaults(&c);
	config_free(&c);
	ck_assert_ptr_null(c.alphabet);

	ck_assert_int_eq(parse(&c, err, (char *)NULL), CONFIG_OK);
	check_defaults(&c);
	config_free(&c);
}
END_TEST

/* ---- every key, both ways ---------------------------------------------- */

START_TEST(test_every_key_cli)
{
	struct config c;
	char err[CONFIG_ERR_LEN], buf[256], opt[256];
	size_t i;

	for (i = 0; i < config_key_count(); i++) {
		const char *name = config_key_name(i);
		const struct sample *s;

		if (!config_key_in_file(i) &&
		    strcmp(name, "check-config") != 0) {
			ck_assert_str_eq(name, "config");
			continue;       /* tested with the job files */
		}
		s = find_sample(name);
		ck_assert_msg(s != NULL, "no sample value for key '%s'", name);

		/* --name value */
		snprintf(opt, sizeof(opt), "--%s", name);
		if (s->value != NULL)
			ck_assert_int_eq(parse(&c, err, opt, s->value,
					       (char *)NULL), CONFIG_OK);
		else
			ck_assert_int_eq(parse(&c, err, opt, (char *)NULL),
					 CONFIG_OK);
		buf[0] = '\0';
		ck_assert_str_eq(field_text(&c, name, buf, sizeof(buf)),
				 s->expect);
		config_free(&c);

		/* --name=value */
		if (s->value == NULL)
			continue;
		snprintf(opt, sizeof(opt), "--%s=%s", name, s->value);
		ck_assert_int_eq(parse(&c, err, opt, (char *)NULL), CONFIG_OK);
		buf[0] = '\0';
		ck_assert_str_eq(field_text(&c, name, buf, sizeof(buf)),
				 s->expect);
		config_free(&c);
	}
}
END_TEST

START_TEST(test_every_key_file)
{
	struct config c;
	char err[CONFIG_ERR_LEN], buf[256], text[512];
	size_t i;
	char *path;

	for (i = 0; i < config_key_count(); i++) {
		const char *name = config_key_name(i);
		const struct sample *s;

		if (!config_key_in_file(i))
			continue;
		s = find_sample(name);
		ck_assert_msg(s != NULL, "no sample value for key '%s'", name);
		snprintf(text, sizeof(text), "# sample\n%s = %s\n", name,
			 s->value != NULL ? s->value : "true");
		ck_assert_msg(parse_file(&c, err, text, &path) == CONFIG_OK,
			      "%s: %s", name, err);
		ck_assert_str_eq(c.config_file, path);
		buf[0] = '\0';
		ck_assert_str_eq(field_text(&c, name, buf, sizeof(buf)),
				 s->expect);
		config_free(&c);
		drop_job(path);
	}
}
END_TEST

START_TEST(test_config_only_on_command_line)
{
	struct config c;
	char err[CONFIG_ERR_LEN];
	char *path;

	ck_assert_int_eq(parse_file(&c, err, "table = t\nconfig = /x\n", &path),
			 CONFIG_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":2: "));
	ck_assert_ptr_nonnull(strstr(err, "'config'"));
	config_free(&c);
	drop_job(path);
}
END_TEST

/* --check-config is a command-line mode, not a job setting; and being
 * command-line only does not make it another --config. */
START_TEST(test_check_config_only_on_command_line)
{
	struct config c;
	char err[CONFIG_ERR_LEN];
	char *path;

	ck_assert_int_eq(parse_file(&c, err, "table = t\ncheck-config = true\n",
				    &path), CONFIG_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":2: "));
	ck_assert_ptr_nonnull(strstr(err, "'check-config'"));
	config_free(&c);
	drop_job(path);

	path = write_job("table = t\ncolumn = c\n");
	ck_assert_int_eq(parse(&c, err, "--check-config", "--config", path,
			       (char *)NULL), CONFIG_OK);
	ck_assert(c.check_config);
	ck_assert_str_eq(c.config_file, path);
	ck_assert_str_eq(c.table, "t");
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--config", path, "--check-config",
			       (char *)NULL), CONFIG_OK);
	ck_assert(c.check_config);
	ck_assert_str_eq(c.config_file, path);
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--check-config=yes", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	config_free(&c);
	drop_job(path);
}
END_TEST

/* ---- precedence and verbatim values ------------------------------------ */

START_TEST(test_precedence)
{
	struct config c;
	char err[CONFIG_ERR_LEN];
	char *path = write_job("batch-size = 500\ntable = from_file\n"
			       "size = 30\n");

	/* The command line wins wherever it sits relative to --config. */
	ck_assert_int_eq(parse(&c, err, "--batch-size", "200", "--config",
			       path, "--column", "cli_col", (char *)NULL),
			 CONFIG_OK);
	ck_assert_int_eq(c.batch_size, 200);       /* both: CLI */
	ck_assert_str_eq(c.table, "from_file");    /* file only */
	ck_assert_int_eq(c.size, 30);              /* file only */
	ck_assert_str_eq(c.column, "cli_col");     /* CLI only */
	ck_assert_int_eq(c.progress_interval, 5);  /* neither: default */
	config_free(&c);

	/* On the command line itself, the last value wins. */
	ck_assert_int_eq(parse(&c, err, "--batch-size", "7", "--batch-size=8",
			       (char *)NULL), CONFIG_OK);
	ck_assert_int_eq(c.batch_size, 8);
	config_free(&c);
	drop_job(path);
}
END_TEST

START_TEST(test_names_verbatim)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse(&c, err, "--table", "Order \"Items\"",
			       "--schema", "My Schema", "--column=it's",
			       (char *)NULL), CONFIG_OK);
	ck_assert_str_eq(c.table, "Order \"Items\"");
	ck_assert_str_eq(c.schema, "My Schema");
	ck_assert_str_eq(c.column, "it's");
	config_free(&c);

	ck_assert_int_eq(parse_file(&c, err,
				    "table = Order \"Items\"\n"
				    "  column =   Public Id  \n"
				    "dsn = postgresql://u:p@h/db?x=1\n", NULL),
			 CONFIG_OK);
	ck_assert_str_eq(c.table, "Order \"Items\"");
	ck_assert_str_eq(c.column, "Public Id");
	ck_assert_str_eq(c.dsn, "postgresql://u:p@h/db?x=1");
	config_free(&c);
}
END_TEST

START_TEST(test_bool_forms)
{
	static const struct { const char *text; bool value; } forms[] = {
		{ "true", true }, { "yes", true }, { "on", true },
		{ "1", true }, { "TRUE", true }, { "Yes", true },
		{ "false", false }, { "no", false }, { "off", false },
		{ "0", false }, { "Off", false },
	};
	struct config c;
	char err[CONFIG_ERR_LEN], text[64];
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text), "until-done = %s\n",
			 forms[i].text);
		ck_assert_msg(parse_file(&c, err, text, NULL) == CONFIG_OK,
			      "%s: %s", forms[i].text, err);
		ck_assert_msg(c.until_done == forms[i].value, "%s",
			      forms[i].text);
		config_free(&c);
	}
	ck_assert_int_eq(parse_file(&c, err, "until-done = maybe\n", NULL),
			 CONFIG_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "until-done: 'maybe'"));
	config_free(&c);

	/* A flag on the command line: no value. */
	ck_assert_int_eq(parse(&c, err, "--until-done=yes", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "'--until-done'"));
	config_free(&c);
}
END_TEST

START_TEST(test_empty_values)
{
	struct config c;
	char err[CONFIG_ERR_LEN];
	char *path;

	ck_assert_int_eq(parse_file(&c, err,
				    "schema =\nkey =\njob =\ndsn =\nprefix =\n",
				    NULL), CONFIG_OK);
	ck_assert_ptr_null(c.schema);
	ck_assert_ptr_null(c.key);
	ck_assert_ptr_null(c.job);
	ck_assert_ptr_null(c.dsn);
	ck_assert_str_eq(c.prefix, "");
	config_free(&c);

	/* An empty value on the command line unsets a key from the file. */
	path = write_job("schema = s\njob = j\n");
	ck_assert_int_eq(parse(&c, err, "--config", path, "--schema=",
			       (char *)NULL), CONFIG_OK);
	ck_assert_ptr_null(c.schema);
	ck_assert_str_eq(c.job, "j");
	config_free(&c);
	drop_job(path);

	ck_assert_int_eq(parse_file(&c, err, "table =\n", NULL),
			 CONFIG_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":1: table: "));
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--column", "", (char *)NULL),
			 CONFIG_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "--column: "));
	config_free(&c);
}
END_TEST

/* ---- command-line errors ----------------------------------------------- */

START_TEST(test_unknown_option)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse(&c, err, "--tabel", "x", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "unknown option '--tabel'");
	config_free(&c);

	ck_assert_int_eq(parse(&c, err, "--table", "t", "--tabel=x",
			       (char *)NULL), CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "unknown option '--tabel'");
	config_free(&c);

	ck_assert_int_eq(parse(&c, err, "-x", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "unknown option '-x'");
	config_free(&c);

	/* No abbreviations: "--batch" must not mean --batch-size. */
	ck_assert_int_eq(parse(&c, err, "--batch", "5", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "unknown option '--batch'");
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--ta=x", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "unknown option '--ta'");
	config_free(&c);
}
END_TEST

START_TEST(test_missing_argument)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse(&c, err, "--column", "c", "--table",
			       (char *)NULL), CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "option '--table' needs a value");
	config_free(&c);

	ck_assert_int_eq(parse(&c, err, "--config", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "option '--config' needs a value");
	config_free(&c);
}
END_TEST

START_TEST(test_positional)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse(&c, err, "--table", "t", "foo", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "unexpected argument 'foo'");
	config_free(&c);

	ck_assert_int_eq(parse(&c, err, "--", "--table", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "unexpected argument '--table'");
	config_free(&c);

	ck_assert_int_eq(parse(&c, err, "-", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	config_free(&c);
}
END_TEST

START_TEST(test_bad_numbers)
{
	static const struct { const char *opt, *value, *err; } bad[] = {
		{ "--batch-size", "abc", "--batch-size: 'abc' is not a number" },
		{ "--batch-size", "0", "--batch-size: 0 is out of range 1..100000" },
		{ "--batch-size", "100001", "--batch-size: 100001 is out of range 1..100000" },
		{ "--batch-size", "-5", "--batch-size: -5 is out of range 1..100000" },
		{ "--batch-size", "10x", "--batch-size: '10x' is not a number" },
		{ "--batch-size", " 10", "--batch-size: ' 10' is not a number" },
		{ "--batch-size", "1.5", "--batch-size: '1.5' is not a number" },
		{ "--batch-size", "0x10", "--batch-size: '0x10' is not a number" },
		{ "--batch-size", "", "--batch-size: '' is not a number" },
		{ "--batch-size", "99999999999999999999999",
		  "--batch-size: 99999999999999999999999 is out of range 1..100000" },
		{ "--size", "300", "--size: 300 is out of range 1..255" },
		{ "--size", "0", "--size: 0 is out of range 1..255" },
		{ "--idle-interval", "-1", "--idle-interval: -1 is out of range 0.01..86400" },
		{ "--idle-interval", "nan", "--idle-interval: 'nan' is not a number" },
		{ "--idle-interval", "inf", "--idle-interval: inf is out of range 0.01..86400" },
		{ "--idle-interval", "1e999", "--idle-interval: 1e999 is out of range 0.01..86400" },
		{ "--idle-interval", "5s", "--idle-interval: '5s' is not a number" },
		{ "--progress-interval", "0.05", "--progress-interval: 0.05 is out of range 0.1..3600" },
		{ "--log-level", "loud", "--log-level: 'loud' is not error, warn, info or debug" },
	};
	struct config c;
	char err[CONFIG_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(&c, err, bad[i].opt, bad[i].value,
				    (char *)NULL) == CONFIG_INVALID,
			      "%s %s accepted", bad[i].opt, bad[i].value);
		ck_assert_str_eq(err, bad[i].err);
		config_free(&c);
	}

	/* The bounds themselves are in range. */
	ck_assert_int_eq(parse(&c, err, "--batch-size", "1", "--size", "255",
			       "--idle-interval", "0.01", "--progress-interval",
			       "3600", (char *)NULL), CONFIG_OK);
	ck_assert_int_eq(c.batch_size, 1);
	ck_assert_int_eq(c.size, 255);
	config_free(&c);
}
END_TEST

/* ---- job-file errors --------------------------------------------------- */

START_TEST(test_file_unknown_key)
{
	struct config c;
	char err[CONFIG_ERR_LEN], want[CONFIG_ERR_LEN];
	char *path;

	ck_assert_int_eq(parse_file(&c, err, "# comment\ntable = t\n"
				    "tabel = x\n", &path), CONFIG_INVALID);
	snprintf(want, sizeof(want), "%s:3: unknown key 'tabel'", path);
	ck_assert_str_eq(err, want);
	config_free(&c);
	drop_job(path);
}
END_TEST

START_TEST(test_file_bad_value)
{
	struct config c;
	char err[CONFIG_ERR_LEN], want[CONFIG_ERR_LEN];
	char *path;

	ck_assert_int_eq(parse_file(&c, err, "table = t\n\nbatch-size = x\n",
				    &path), CONFIG_INVALID);
	snprintf(want, sizeof(want), "%s:3: batch-size: 'x' is not a number",
		 path);
	ck_assert_str_eq(err, want);
	config_free(&c);
	drop_job(path);

	/* The first error wins, whatever its kind. */
	ck_assert_int_eq(parse_file(&c, err, "table = t\nno equals sign\n"
				    "batch-size = x\n", &path),
			 CONFIG_INVALID);
	snprintf(want, sizeof(want), "%s:2: expected 'name = value'", path);
	ck_assert_str_eq(err, want);
	config_free(&c);
	drop_job(path);

	ck_assert_int_eq(parse_file(&c, err, "batch-size = 0\nnonsense\n",
				    &path), CONFIG_INVALID);
	snprintf(want, sizeof(want), "%s:1: batch-size: 0 is out of range "
		 "1..100000", path);
	ck_assert_str_eq(err, want);
	config_free(&c);
	drop_job(path);
}
END_TEST

START_TEST(test_file_section)
{
	struct config c;
	char err[CONFIG_ERR_LEN], want[CONFIG_ERR_LEN];
	char *path;

	ck_assert_int_eq(parse_file(&c, err, "table = t\n[job]\ncolumn = c\n",
				    &path), CONFIG_INVALID);
	snprintf(want, sizeof(want), "%s:2: ", path);
	ck_assert_ptr_eq(strstr(err, want), err);
	ck_assert_ptr_nonnull(strstr(err, "section"));
	config_free(&c);
	drop_job(path);

	/* Even an empty section at the end. */
	ck_assert_int_eq(parse_file(&c, err, "table = t\n  [x]\n", NULL),
			 CONFIG_INVALID);
	config_free(&c);
}
END_TEST

START_TEST(test_file_duplicate_and_layout)
{
	struct config c;
	char err[CONFIG_ERR_LEN], line[400];
	char *path;

	ck_assert_int_eq(parse_file(&c, err, "table = a\ntable = b\n", &path),
			 CONFIG_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":2: 'table' is already set on line 1"));
	config_free(&c);
	drop_job(path);

	/* An indented line is a line of its own, not a continuation. */
	ck_assert_int_eq(parse_file(&c, err, "table = t\n    column = c\n"
				    "\tbatch-size = 9 ; comment\n", NULL),
			 CONFIG_OK);
	ck_assert_str_eq(c.table, "t");
	ck_assert_str_eq(c.column, "c");
	ck_assert_int_eq(c.batch_size, 9);
	config_free(&c);

	/* CRLF line ends and a UTF-8 byte order mark. */
	ck_assert_int_eq(parse_file(&c, err, "\xEF\xBB\xBFtable = t\r\n"
				    "column = c\r\n", NULL), CONFIG_OK);
	ck_assert_str_eq(c.table, "t");
	ck_assert_str_eq(c.column, "c");
	config_free(&c);

	/* A line too long for inih's buffer is refused, not split. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "dsn = ", 6);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	ck_assert_int_eq(parse_file(&c, err, line, NULL), CONFIG_INVALID);
	ck_assert_ptr_nonnull(strstr(err, ":1: line is longer than"));
	config_free(&c);
}
END_TEST

START_TEST(test_file_unreadable)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse(&c, err, "--config", "/nonexistent/job.conf",
			       (char *)NULL), CONFIG_INVALID);
	ck_assert_str_eq(err, "cannot read job file '/nonexistent/job.conf': "
			 "No such file or directory");
	config_free(&c);

	/* A directory opens but cannot be read. */
	ck_assert_int_eq(parse(&c, err, "--config", "/tmp", (char *)NULL),
			 CONFIG_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "cannot read job file '/tmp'"));
	config_free(&c);

	ck_assert_int_eq(parse(&c, err, "--config", "", (char *)NULL),
			 CONFIG_INVALID);
	config_free(&c);
}
END_TEST

/* ---- validation -------------------------------------------------------- */

static void base(struct config *c)
{
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse(c, err, "--table", "orders", "--column",
			       "public_id", (char *)NULL), CONFIG_OK);
}

START_TEST(test_validate_missing_target)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse(&c, err, "--column", "c", (char *)NULL),
			 CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "missing --table (or 'table' in the job file)");
	config_free(&c);

	ck_assert_int_eq(parse(&c, err, "--table", "t", (char *)NULL),
			 CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "missing --column (or 'column' in the job file)");
	config_free(&c);

	base(&c);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(c.nkeys, 0);
	config_free(&c);
}
END_TEST

START_TEST(test_validate_nanoid_settings)
{
	static const struct { const char *opt, *value, *mention; } bad[] = {
		{ "--alphabet", "aab", "--alphabet: " },
		{ "--alphabet", "a", "--alphabet: " },
		{ "--alphabet", "ab c", "--alphabet: " },
		{ "--alphabet", "", "--alphabet: " },
		{ "--prefix", "a b", "--prefix: " },
		{ "--prefix", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		  "--prefix: " },
	};
	struct config c;
	char err[CONFIG_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(parse(&c, err, "--table", "t", "--column", "c",
				       bad[i].opt, bad[i].value, (char *)NULL),
				 CONFIG_OK);
		ck_assert_msg(config_validate(&c, err, sizeof(err)) ==
			      CONFIG_INVALID, "%s '%s' accepted", bad[i].opt,
			      bad[i].value);
		ck_assert_msg(strstr(err, bad[i].mention) == err,
			      "%s '%s': %s", bad[i].opt, bad[i].value, err);
		config_free(&c);
	}

	/* Sizes the parser refuses can still be set by code. */
	base(&c);
	c.size = 0;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_INVALID);
	ck_assert_ptr_eq(strstr(err, "--size: "), err);
	c.size = 256;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_INVALID);
	ck_assert_ptr_eq(strstr(err, "--size: "), err);
	c.size = 255;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	c.batch_size = 0;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_INVALID);
	ck_assert_ptr_eq(strstr(err, "--batch-size: "), err);
	config_free(&c);

	/* Edge cases that are fine. */
	ck_assert_int_eq(parse(&c, err, "--table", "t", "--column", "c",
			       "--alphabet", "01", "--prefix",
			       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
			       (char *)NULL), CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	config_free(&c);
}
END_TEST

START_TEST(test_key_list)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	base(&c);
	ck_assert_int_eq(config_set(&c, "key", "a", err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(c.nkeys, 1);
	ck_assert_str_eq(c.key_columns[0], "a");

	/* Validating again replaces the list (no leak, no growth). */
	ck_assert_int_eq(config_set(&c, "key", "a,b", err, sizeof(err)),
			 CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(c.nkeys, 2);
	ck_assert_str_eq(c.key_columns[0], "a");
	ck_assert_str_eq(c.key_columns[1], "b");

	ck_assert_int_eq(config_set(&c, "key", "a b,c", err, sizeof(err)),
			 CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(c.nkeys, 2);
	ck_assert_str_eq(c.key_columns[0], "a b");
	ck_assert_str_eq(c.key_columns[1], "c");

	/* Unset again: the primary key. */
	ck_assert_int_eq(config_set(&c, "key", "", err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(c.nkeys, 0);
	config_free(&c);
}
END_TEST

START_TEST(test_key_list_bad)
{
	static const char *const bad[] = {
		"a,,b", "a,", ",a", ",", "a,a", "a,b,a",
		"c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12,c13,c14,c15,c16,c17",
	};
	struct config c;
	char err[CONFIG_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		base(&c);
		ck_assert_int_eq(config_set(&c, "key", bad[i], err, sizeof(err)),
				 CONFIG_OK);
		ck_assert_msg(config_validate(&c, err, sizeof(err)) ==
			      CONFIG_INVALID, "key '%s' accepted", bad[i]);
		ck_assert_msg(strstr(err, "--key: ") == err, "%s", err);
		ck_assert_int_eq(c.nkeys, 0);
		config_free(&c);
	}

	/* Exactly CONFIG_MAX_KEYS is fine. */
	base(&c);
	ck_assert_int_eq(config_set(&c, "key",
				    "c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12,"
				    "c13,c14,c15,c16", err, sizeof(err)),
			 CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	ck_assert_int_eq(c.nkeys, CONFIG_MAX_KEYS);
	ck_assert_str_eq(c.key_columns[15], "c16");
	config_free(&c);
}
END_TEST

START_TEST(test_config_set)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	config_init(&c);
	ck_assert_int_eq(config_set(&c, "tabel", "x", err, sizeof(err)),
			 CONFIG_INVALID);
	ck_assert_str_eq(err, "unknown key 'tabel'");
	ck_assert_int_eq(config_set(&c, "batch-size", "12", err, sizeof(err)),
			 CONFIG_OK);
	ck_assert_int_eq(c.batch_size, 12);
	ck_assert_int_eq(config_set(&c, "batch-size", "x", err, sizeof(err)),
			 CONFIG_INVALID);
	ck_assert_str_eq(err, "batch-size: 'x' is not a number");
	ck_assert_int_eq(c.batch_size, 12);    /* unchanged on error */
	config_free(&c);
}
END_TEST

/* ---- help, version, re-entry ------------------------------------------- */

START_TEST(test_help_version)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse(&c, err, "--help", (char *)NULL), CONFIG_HELP);
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--table", "t", "-h", (char *)NULL),
			 CONFIG_HELP);
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--version", (char *)NULL),
			 CONFIG_VERSION);
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "-V", (char *)NULL), CONFIG_VERSION);
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--help=x", (char *)NULL),
			 CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "option '--help' takes no value");
	config_free(&c);
}
END_TEST

START_TEST(test_usage_lists_every_key)
{
	char *text = NULL, opt[128];
	size_t len = 0, i;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	config_usage(out);
	fclose(out);
	ck_assert_ptr_eq(strstr(text, "Usage: nanoid-backfill [OPTIONS]\n"),
			 text);
	for (i = 0; i < config_key_count(); i++) {
		snprintf(opt, sizeof(opt), "--%s ", config_key_name(i));
		ck_assert_msg(strstr(text, opt) != NULL,
			      "--help lacks %s", config_key_name(i));
	}
	ck_assert_ptr_nonnull(strstr(text, "1..100000, default 1000"));
	ck_assert_ptr_nonnull(strstr(text, "--help"));
	ck_assert_ptr_nonnull(strstr(text, "--version"));
	free(text);
}
END_TEST

START_TEST(test_parse_twice)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	/* An error stops getopt mid-argv; the next parse must start over. */
	ck_assert_int_eq(parse(&c, err, "--table", "a", "--bogus", "--size",
			       "9", (char *)NULL), CONFIG_USAGE_ERROR);
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--table", "t1", "--column", "c1",
			       (char *)NULL), CONFIG_OK);
	ck_assert_str_eq(c.table, "t1");
	config_free(&c);
	ck_assert_int_eq(parse(&c, err, "--column", "c2", "--batch-size", "3",
			       (char *)NULL), CONFIG_OK);
	ck_assert_ptr_null(c.table);    /* nothing left over */
	ck_assert_str_eq(c.column, "c2");
	ck_assert_int_eq(c.batch_size, 3);
	config_free(&c);
}
END_TEST

START_TEST(test_reload)
{
	struct config cur, next;
	char err[CONFIG_ERR_LEN];
	size_t i;
	int nreload = 0;

	log_set_level(LOG_ERROR);       /* the reload lines are not the test */
	ck_assert_int_eq(parse(&cur, err, "--table", "a", "--column", "c",
			       "--batch-size", "100", (char *)NULL), CONFIG_OK);
	ck_assert_int_eq(parse(&next, err, "--table", "b", "--column", "c",
			       "--batch-size", "200", "--log-level", "debug",
			       "--idle-interval", "1.5", "--dsn", "host=x",
			       (char *)NULL), CONFIG_OK);
	ck_assert_int_eq(config_apply_reload(&cur, &next), 3);
	ck_assert_int_eq(cur.batch_size, 200);
	ck_assert_str_eq(cur.log_level, "debug");
	ck_assert_double_eq(cur.idle_interval, 1.5);
	ck_assert_str_eq(cur.table, "a");       /* needs a restart */
	ck_assert_ptr_null(cur.dsn);
	ck_assert_int_eq(config_apply_reload(&cur, &next), 0);
	config_free(&cur);
	config_free(&next);

	/* What a reload may change live, and what only a restart may. */
	for (i = 0; i < config_key_count(); i++) {
		static const char *const live[] = {
			"batch-size", "idle-interval", "progress-interval",
			"log-level", "batch-time", "min-batch-size",
			"max-batch-size", "lease-size", "metrics-file",
			/* throttling */
			"max-rate", "max-latency-increase", "min-rate", "sleep",
			"nice-ratio", "lock-timeout",
			"statement-timeout", "max-replica-lag-bytes",
			"max-replica-lag", "max-wal-rate",
			"max-slot-retained-wal", "pause-on-blocking",
			"pause-on-autovacuum", "health-interval",
			"active-hours", "max-runtime", "pause-file",
		};
		static const char *const restart[] = {
			"dsn", "schema", "table", "column", "key", "job",
			"progress-schema", "size", "alphabet", "prefix",
			"allow-duplicates", "until-done", "workers",
		};
		const char *name = config_key_name(i);

		for (size_t j = 0; j < sizeof live / sizeof live[0]; j++)
			if (strcmp(name, live[j]) == 0) {
				ck_assert_msg(config_key_reloadable(i), "%s should reload", name);
				nreload++;
			}
		for (size_t j = 0; j < sizeof restart / sizeof restart[0]; j++)
			if (strcmp(name, restart[j]) == 0)
				ck_assert_msg(!config_key_reloadable(i), "%s needs a restart", name);
	}
	ck_assert_int_eq(nreload, 9 + 17);
	log_set_level(LOG_INFO);
}
END_TEST

/* ---- the shipped example ----------------------------------------------- */

static char *example_path(void)
{
	const char *root = getenv("SOURCE_ROOT");
	char *path;

	if (root == NULL || *root == '\0')
		root = ".";
	ck_assert_int_ge(asprintf(&path, "%s/config/example.conf", root), 0);
	return path;
}

START_TEST(test_example_parses)
{
	struct config c;
	char err[CONFIG_ERR_LEN];
	char *path = example_path();

	ck_assert_msg(parse(&c, err, "--config", path, (char *)NULL) ==
		      CONFIG_OK, "%s", err);
	ck_assert_msg(config_validate(&c, err, sizeof(err)) == CONFIG_OK,
		      "%s", err);
	ck_assert_str_eq(c.table, "orders");
	ck_assert_str_eq(c.column, "public_id");
	ck_assert_ptr_null(c.dsn);
	config_free(&c);
	free(path);
}
END_TEST

/* ---- log lines --------------------------------------------------------- */

/*
 * log.c detects the journal once per process, so these tests need a
 * fresh process each (CK_FORK, the default). Without fork they pass
 * vacuously rather than test the cache.
 */
static bool forked(void)
{
	return srunner_fork_status(runner) != CK_NOFORK;
}

/* Sends stderr to a temporary file; returns the file's descriptor. */
static int capture_stderr(char *path)
{
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	return fd;
}

static char *captured(int fd)
{
	static char buf[1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

START_TEST(test_log_plain)
{
	char path[] = "/tmp/nb-test-log-XXXXXX";
	enum log_level level;
	int fd;

	ck_assert_int_eq(log_level_parse("warn", &level), 0);
	ck_assert_int_eq(level, LOG_WARN);
	ck_assert_int_eq(log_level_parse("debug", &level), 0);
	ck_assert_int_eq(level, LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("loud", &level), -1);
	if (!forked())
		return;

	unsetenv("JOURNAL_STREAM");
	fd = capture_stderr(path);
	log_set_level(LOG_INFO);
	log_warn("batch %d failed", 7);
	log_debug("not shown");
	log_info("from libpq\n");
	log_error("two\nlines");
	ck_assert_str_eq(captured(fd),
			 "nanoid-backfill: warn: batch 7 failed\n"
			 "nanoid-backfill: info: from libpq\n"
			 "nanoid-backfill: error: two lines\n");
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(test_log_journal)
{
	char path[] = "/tmp/nb-test-log-XXXXXX", env[64];
	struct stat st;
	int fd;

	if (!forked())
		return;
	fd = capture_stderr(path);
	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_set_level(LOG_DEBUG);
	log_error("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	ck_assert_str_eq(captured(fd), "<3>e\n<4>w\n<6>i\n<7>d\n");
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(test_log_journal_elsewhere)
{
	char path[] = "/tmp/nb-test-log-XXXXXX";
	int fd;

	if (!forked())
		return;
	/* Inherited from a journal-connected parent, but stderr moved. */
	setenv("JOURNAL_STREAM", "1:1", 1);
	fd = capture_stderr(path);
	log_set_level(LOG_INFO);
	log_info("x");
	ck_assert_str_eq(captured(fd), "nanoid-backfill: info: x\n");
	close(fd);
	unlink(path);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *parse_tc = tcase_create("parse");
	TCase *file_tc = tcase_create("file");
	TCase *validate_tc = tcase_create("validate");
	TCase *docs_tc = tcase_create("docs");
	TCase *log_tc = tcase_create("log");

	tcase_add_test(parse_tc, test_defaults);
	tcase_add_test(parse_tc, test_every_key_cli);
	tcase_add_test(parse_tc, test_precedence);
	tcase_add_test(parse_tc, test_names_verbatim);
	tcase_add_test(parse_tc, test_unknown_option);
	tcase_add_test(parse_tc, test_missing_argument);
	tcase_add_test(parse_tc, test_positional);
	tcase_add_test(parse_tc, test_bad_numbers);
	tcase_add_test(parse_tc, test_help_version);
	tcase_add_test(parse_tc, test_parse_twice);
	tcase_add_test(parse_tc, test_config_set);
	tcase_add_test(parse_tc, test_reload);
	suite_add_tcase(s, parse_tc);

	tcase_add_test(file_tc, test_every_key_file);
	tcase_add_test(file_tc, test_config_only_on_command_line);
	tcase_add_test(file_tc, test_check_config_only_on_command_line);
	tcase_add_test(file_tc, test_bool_forms);
	tcase_add_test(file_tc, test_empty_values);
	tcase_add_test(file_tc, test_file_unknown_key);
	tcase_add_test(file_tc, test_file_bad_value);
	tcase_add_test(file_tc, test_file_section);
	tcase_add_test(file_tc, test_file_duplicate_and_layout);
	tcase_add_test(file_tc, test_file_unreadable);
	suite_add_tcase(s, file_tc);

	tcase_add_test(validate_tc, test_validate_missing_target);
	tcase_add_test(validate_tc, test_validate_nanoid_settings);
	tcase_add_test(validate_tc, test_key_list);
	tcase_add_test(validate_tc, test_key_list_bad);
	suite_add_tcase(s, validate_tc);

	tcase_add_test(docs_tc, test_usage_lists_every_key);
	tcase_add_test(docs_tc, test_example_parses);
	suite_add_tcase(s, docs_tc);

	tcase_add_test(log_tc, test_log_plain);
	tcase_add_test(log_tc, test_log_journal);
	tcase_add_test(log_tc, test_log_journal_elsewhere);
	suite_add_tcase(s, log_tc);
	return s;
}

int main(void)
{
	int failed;

	runner = srunner_create(config_suite());
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
