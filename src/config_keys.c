/*
 * config_keys.c - the key table, and what is generated from it alone:
 * --help and the introspection the docs tests and reload use.
 *
 * Empty values ("--schema ''" or "schema =") go through the same row: keys
 * that are optional (dsn, schema, key, job) are unset by an empty value, so
 * a job file can write "schema =" to mean "use search_path"; prefix and
 * alphabet keep the empty string (prefix: no prefix; alphabet: rejected by
 * config_validate with nanoid's own reason); every other string key (table,
 * column, progress-schema, config) rejects it, because an empty table name
 * is always a mistake and "missing --table" would point the wrong way.
 */
#include "config_key.h"

#include <stdio.h>
#include <string.h>

#include "nanoid.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define K_STRING(name, field, def, metavar, flags, help) \
	{ name, KEY_STRING, CONFIG_FIELD(field), def, metavar, help, flags, \
	  0, 0, 0.0, 0.0 }
#define K_LONG(name, field, def, min, max, metavar, flags, help) \
	{ name, KEY_LONG, CONFIG_FIELD(field), def, metavar, help, flags, \
	  min, max, 0.0, 0.0 }
#define K_DOUBLE(name, field, def, min, max, metavar, flags, help) \
	{ name, KEY_DOUBLE, CONFIG_FIELD(field), def, metavar, help, flags, \
	  0, 0, min, max }
#define K_BOOL(name, field, def, flags, help) \
	{ name, KEY_BOOL, CONFIG_FIELD(field), def, NULL, help, flags, \
	  0, 0, 0.0, 0.0 }
#define K_LOGLEVEL(name, field, def, flags, help) \
	{ name, KEY_LOGLEVEL, CONFIG_FIELD(field), def, "LEVEL", help, flags, \
	  0, 0, 0.0, 0.0 }
#define K_BYTES(name, field, def, min, max, metavar, flags, help) \
	{ name, KEY_BYTES, CONFIG_FIELD(field), def, metavar, help, flags, \
	  0, 0, min, max }
#define K_DURATION(name, field, def, min, max, metavar, flags, help) \
	{ name, KEY_DURATION, CONFIG_FIELD(field), def, metavar, help, flags, \
	  0, 0, min, max }
#define K_SWITCH(name, field, def, flags, help) \
	{ name, KEY_BOOL, CONFIG_FIELD(field), def, "on|off", help, \
	  (flags) | KEY_BOOL_ARG, 0, 0, 0.0, 0.0 }

const struct key_def config_keys[] = {
	K_STRING("config", config_file, NULL, "FILE", KEY_CLI_ONLY,
		 "job file of 'name = value' lines"),
	K_STRING("dsn", dsn, NULL, "CONNINFO", KEY_EMPTY_NULL | KEY_SECRET,
		 "libpq conninfo or URI (unset: PG* environment)"),
	K_STRING("schema", schema, NULL, "NAME", KEY_EMPTY_NULL,
		 "schema of the table (unset: search_path)"),
	K_STRING("table", table, NULL, "NAME", 0,
		 "table to fill, as named in the catalog (required)"),
	K_STRING("column", column, NULL, "NAME", 0,
		 "column to fill, as named in the catalog (required)"),
	K_STRING("key", key, NULL, "COL[,COL]", KEY_EMPTY_NULL,
		 "unique ordered key columns (unset: primary key)"),
	K_STRING("job", job, NULL, "NAME", KEY_EMPTY_NULL,
		 "progress record name (unset: schema.table.column)"),
	K_STRING("progress-schema", progress_schema, "nanoid_backfill", "NAME",
		 0, "schema of the progress table, created if missing"),
	K_LONG("size", size, STR(NANOID_DEFAULT_SIZE), NANOID_MIN_SIZE,
	       NANOID_MAX_SIZE, "N", 0,
	       "random symbols per id, not counting the prefix"),
	K_STRING("alphabet", alphabet, NANOID_DEFAULT_ALPHABET, "CHARS",
		 KEY_EMPTY_OK, "symbols to draw from (printable, distinct)"),
	K_STRING("prefix", prefix, "", "TEXT", KEY_EMPTY_OK,
		 "fixed text before every id, e.g. ord_"),
	K_BOOL("allow-duplicates", allow_duplicates, "false", 0,
	       "accept ids that likely repeat, with no unique index"),
	K_LONG("batch-size", batch_size, "1000", 1, 100000, "N", KEY_RELOAD,
	       "rows per batch, one transaction each"),
	K_BOOL("until-done", until_done, "false", 0,
	       "exit 0 once no NULL is left, instead of idling"),
	K_DOUBLE("idle-interval", idle_interval, "60", 0.01, 86400.0,
		 "SEC", KEY_RELOAD, "pause between service passes"),
	K_DURATION("full-sweep-interval", full_sweep_interval, "24h", 1.0, 31536000.0,
		   "DURATION", KEY_RELOAD,
		   "service: look at the whole table for NULLs this often; in between, "
		   "past the highest integer key"),
	K_DOUBLE("progress-interval", progress_interval, "5", 0.1, 3600.0,
		 "SEC", KEY_RELOAD, "pause between progress lines"),
	K_STRING("progress", progress, "auto", "auto|bar|lines", 0,
		 "a bar redrawn in place or a line every progress-interval; "
		 "auto: the bar on a terminal"),
	K_LOGLEVEL("log-level", log_level, "info", KEY_RELOAD,
		   "error, warn, info or debug"),
	/* parallelism and batch sizing */
	K_LONG("workers", workers, "1", 1, 64, "N", 0,
	       "connections working disjoint key ranges in parallel"),
	K_LONG("lease-size", lease_size, "20000", 100, 100000000, "ROWS", KEY_RELOAD,
	       "rows per range lease a worker takes at a time"),
	K_STRING("order", order, "auto", "key|physical|auto", 0,
		 "walk the table by key, by heap block ranges, or choose"),
	K_DOUBLE("batch-time", batch_time, "0", 0.0, 600000.0, "MS", KEY_RELOAD,
		 "adapt the batch size so a batch takes about this long (0: fixed)"),
	K_LONG("min-batch-size", min_batch_size, "100", 1, 100000, "N", KEY_RELOAD,
	       "smallest batch when adapting or splitting"),
	K_LONG("max-batch-size", max_batch_size, "20000", 1, 100000, "N", KEY_RELOAD,
	       "largest batch when adapting"),
	K_BOOL("synchronous-commit", synchronous_commit, "false", 0,
	       "batches wait for their WAL flush (default: no; a crash redoes the last ones)"),
	K_DOUBLE("reconnect-timeout", reconnect_timeout, "300", 0.0, 864000.0, "SEC",
		 KEY_RELOAD, "with --until-done: give up after this long without a connection (0: never)"),
	/* rollout */
	K_STRING("out", out, NULL, "DIR", KEY_EMPTY_NULL,
		 "plan: directory to write the migration files to"),
	K_STRING("format", format, "sqlx", "FORMAT", 0,
		 "plan: migration tool: sqlx, golang-migrate, goose, dbmate, "
		 "sql-migrate, knex, flyway or psql"),
	K_BOOL("no-unique", no_unique, "false", 0,
	       "plan, finalize: leave out the unique index"),
	K_BOOL("no-not-null", no_not_null, "false", 0,
	       "plan, finalize: leave out the NOT NULL steps"),
	K_BOOL("null-index", null_index, "false", 0,
	       "plan: a partial index WHERE column IS NULL for cheap service "
	       "probes, dropped at the end"),
	K_BOOL("no-default", no_default, "false", 0,
	       "plan: leave out the column default that gives inserted rows an "
	       "id"),
	K_BOOL("add-column", add_column, "false", 0,
	       "create the column (text, nullable) if missing, then fill it"),
	K_BOOL("finalize", finalize, "false", 0,
	       "with --until-done: then make the column NOT NULL and UNIQUE"),
	K_LONG("ddl-lock-timeout", ddl_lock_timeout, "2000", 1, 600000, "MS", 0,
	       "lock_timeout of every DDL statement, in milliseconds"),
	K_LONG("ddl-retries", ddl_retries, "10", 0, 1000, "N", 0,
	       "retries of a DDL statement whose lock timed out"),
	/* operations */
	K_STRING("metrics-file", metrics_file, NULL, "FILE",
		 KEY_EMPTY_NULL | KEY_RELOAD,
		 "write Prometheus metrics to FILE (node_exporter textfile)"),
	K_BOOL("check-config", check_config, "false", KEY_CLI_ONLY,
	       "check the job file and the target, write nothing, exit"),
	/* throttling */
	K_DOUBLE("max-rate", max_rate, "0", 0.0, 1e9, "ROWS/S", KEY_RELOAD,
		 "at most this many rows per second (0: no limit)"),
	K_DOUBLE("max-latency-increase", max_latency_increase, "1.5", 0.0, 1000.0,
		 "X", KEY_RELOAD,
		 "slow down when the server answers X times slower than "
		 "without the backfill, while others work (0: no pace)"),
	K_DOUBLE("min-rate", min_rate, "500", 1.0, 1e9, "ROWS/S", KEY_RELOAD,
		 "the pace never goes below this many rows/s"),
	K_LONG("sleep", sleep_ms, "0", 0, 3600000, "MS", KEY_RELOAD,
	       "pause after every batch, in milliseconds"),
	K_DOUBLE("nice-ratio", nice_ratio, "0", 0.0, 1000.0, "X", KEY_RELOAD,
		 "after every batch, pause X times as long as it took"),
	K_LONG("lock-timeout", lock_timeout, "1000", 1, 3600000, "MS",
	       KEY_RELOAD, "lock_timeout of every batch; a timeout is retried"),
	K_LONG("statement-timeout", statement_timeout, "30000", 0, 86400000,
	       "MS", KEY_RELOAD,
	       "statement_timeout of every batch (0: none)"),
	K_BYTES("max-replica-lag-bytes", max_replica_lag_bytes, "64MB", 0.0,
		1125899906842624.0, "BYTES", KEY_RELOAD,
		"pause while a standby's replay lags more (0: off)"),
	K_DURATION("max-replica-lag", max_replica_lag, "10s", 0.0, 86400.0,
		   "DURATION", KEY_RELOAD,
		   "pause while replay_lag is longer (0: off)"),
	K_BYTES("max-wal-rate", max_wal_rate, "0", 0.0, 1125899906842624.0,
		"BYTES", KEY_RELOAD,
		"pause while the server writes more WAL/s (0: off)"),
	K_BYTES("max-slot-retained-wal", max_slot_retained_wal, "0", 0.0,
		1125899906842624.0, "BYTES", KEY_RELOAD,
		"pause while a slot holds more WAL (0: off)"),
	K_SWITCH("pause-on-blocking", pause_on_blocking, "on", KEY_RELOAD,
		 "pause while our batches block other sessions"),
	K_SWITCH("pause-on-autovacuum", pause_on_autovacuum, "off", KEY_RELOAD,
		 "pause while autovacuum works on the table"),
	K_DOUBLE("health-interval", health_interval, "1", 0.1, 3600.0, "SEC",
		 KEY_RELOAD, "seconds between two health queries"),
	K_STRING("active-hours", active_hours, NULL, "HH:MM-HH:MM",
		 KEY_EMPTY_NULL | KEY_RELOAD,
		 "work only in this local-time window (unset: any)"),
	K_DURATION("max-runtime", max_runtime, "0", 0.0, 31536000.0,
		   "DURATION", KEY_EMPTY_OK | KEY_RELOAD,
		   "stop cleanly after running this long (0: no limit)"),
	K_STRING("pause-file", pause_file, NULL, "PATH",
		 KEY_EMPTY_NULL | KEY_RELOAD,
		 "pause while this file exists (unset: none)"),
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

void *config_field(struct config *c, const struct key_def *k)
{
	return (char *)c + k->offset;
}

const void *config_cfield(const struct config *c, const struct key_def *k)
{
	return (const char *)c + k->offset;
}

bool config_key_is_string(const struct key_def *k)
{
	return k->type == KEY_STRING || k->type == KEY_LOGLEVEL;
}

const struct key_def *config_find_key(const char *name)
{
	size_t i;

	for (i = 0; i < config_nkeys; i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

/* ---- help, introspection --------------------------------------------- */

/* --help layout: "  --name METAVAR" padded to USAGE_LEFT, then the help;
 * range, default and [reload] follow on the same line if they fit. */
#define USAGE_LEFT 24
#define USAGE_WIDTH 79

void config_usage(FILE *out)
{
	char left[64], range[CONFIG_ERR_LEN / 2], detail[CONFIG_ERR_LEN];
	const struct key_def *k;
	const char *tag;
	size_t i;
	int n;

	fputs("Usage: nanoid-backfill [OPTIONS]\n"
	      "Fill a PostgreSQL column with nanoids in small, throttled "
	      "batches.\n\n"
	      "Every option but --config can also be a job file line: "
	      "name = value.\n"
	      "Options marked [reload] take effect on SIGHUP; the others "
	      "need a restart.\n\n", out);
	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		tag = (k->flags & KEY_RELOAD) ? "[reload]" : "";
		snprintf(left, sizeof(left), "--%s%s%s", k->name,
			 k->metavar ? " " : "", k->metavar ? k->metavar : "");
		range[0] = '\0';
		switch (k->type) {
		case KEY_LONG:
			snprintf(range, sizeof(range), "(%ld..%ld, default %s)",
				 k->lmin, k->lmax, k->def);
			break;
		case KEY_DOUBLE:
			snprintf(range, sizeof(range), "(%g..%g, default %s)",
				 k->dmin, k->dmax, k->def);
			break;
		case KEY_STRING:
		case KEY_LOGLEVEL:
		case KEY_BYTES:
		case KEY_DURATION:
			if (k->def != NULL && k->def[0] != '\0')
				snprintf(range, sizeof(range), "(default %s)",
					 k->def);
			break;
		case KEY_BOOL:
			if (k->flags & KEY_BOOL_ARG)
				snprintf(range, sizeof(range), "(default %s)",
					 k->def);
			break;
		}
		snprintf(detail, sizeof(detail), "%s%s%s", range,
			 range[0] != '\0' && tag[0] != '\0' ? " " : "", tag);
		if (strlen(left) > USAGE_LEFT)
			n = fprintf(out, "  %s\n%*s%s", left, USAGE_LEFT + 3,
				    "", k->help) - (int)strlen(left) - 3;
		else
			n = fprintf(out, "  %-*s %s", USAGE_LEFT, left,
				    k->help);
		if (detail[0] == '\0')
			fputc('\n', out);
		else if (n + 1 + (int)strlen(detail) <= USAGE_WIDTH)
			fprintf(out, " %s\n", detail);
		else
			fprintf(out, "\n%*s%s\n", USAGE_LEFT + 3, "", detail);
	}
	fputs("  -h, --help               show this help and exit\n"
	      "  -V, --version            show the version and exit\n\n"
	      "Exit status: 0 done or stopped, 1 runtime failure, "
	      "64 usage error,\n78 configuration error.\n", out);
}

size_t config_key_count(void)
{
	return config_nkeys;
}

const char *config_key_name(size_t i)
{
	return i < config_nkeys ? config_keys[i].name : NULL;
}

bool config_key_reloadable(size_t i)
{
	return i < config_nkeys && (config_keys[i].flags & KEY_RELOAD);
}

bool config_key_in_file(size_t i)
{
	return i < config_nkeys && !(config_keys[i].flags & KEY_CLI_ONLY);
}

void config_format_value(const struct config *c, const struct key_def *k,
			 char *buf, size_t len)
{
	const char *s;

	switch (k->type) {
	case KEY_STRING:
	case KEY_LOGLEVEL:
		s = *(char *const *)config_cfield(c, k);
		if (s == NULL)
			snprintf(buf, len, "(unset)");
		else
			snprintf(buf, len, "'%s'", s);
		return;
	case KEY_LONG:
		snprintf(buf, len, "%ld", *(const long *)config_cfield(c, k));
		return;
	case KEY_DOUBLE:
	case KEY_DURATION:
		snprintf(buf, len, "%g", *(const double *)config_cfield(c, k));
		return;
	case KEY_BYTES:
		snprintf(buf, len, "%.0f", *(const double *)config_cfield(c, k));
		return;
	case KEY_BOOL:
		snprintf(buf, len, "%s",
			 *(const bool *)config_cfield(c, k) ? "true" : "false");
		return;
	}
}

void config_key_value(const struct config *c, size_t i, char *buf, size_t len)
{
	const struct key_def *k;
	const char *s;

	if (i >= config_nkeys) {
		snprintf(buf, len, "(no such key)");
		return;
	}
	k = &config_keys[i];
	if (k->type == KEY_STRING || k->type == KEY_LOGLEVEL) {
		s = *(char *const *)config_cfield(c, k);
		snprintf(buf, len, "%s", s ? s : "(null)");
		return;
	}
	config_format_value(c, k, buf, len);
}

/* Keys that were removed, and what took their place. */
static const struct {
	const char *name;
	const char *hint;
} removed_keys[] = {
	{ "busy-max-rate", "removed: the pace follows measured harm now "
	  "(--max-latency-increase; --min-rate is its floor)" },
	{ "busy-hold", "removed: the pace follows measured harm now "
	  "(--max-latency-increase; --min-rate is its floor)" },
};

const char *config_removed_key(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof removed_keys / sizeof removed_keys[0]; i++)
		if (strlen(removed_keys[i].name) == len &&
		    strncmp(removed_keys[i].name, name, len) == 0)
			return removed_keys[i].hint;
	return NULL;
}
