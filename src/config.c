/*
 * config.c - the key table and the two parsers that read it.
 *
 * Every key is one row of keys[] below. The command-line parser (getopt_long
 * options are generated from the rows), the job-file parser (inih), --help,
 * reload and the docs tests all walk that table, so adding a key is adding
 * a row (and a field in struct config).
 *
 * Empty values ("--schema ''" or "schema =") go through the same row: keys
 * that are optional (dsn, schema, key, job) are unset by an empty value, so
 * a job file can write "schema =" to mean "use search_path"; prefix and
 * alphabet keep the empty string (prefix: no prefix; alphabet: rejected by
 * config_validate with nanoid's own reason); every other string key (table,
 * column, progress-schema, config) rejects it, because an empty table name
 * is always a mistake and "missing --table" would point the wrong way.
 */
#include "config.h"

#include "hours.h"
#include "log.h"
#include "nanoid.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum key_type {
	KEY_STRING,     /* char *, heap copy */
	KEY_LONG,       /* long, decimal, in lmin..lmax */
	KEY_DOUBLE,     /* double, finite, in dmin..dmax */
	KEY_BOOL,       /* bool; a flag without value on the command line */
	KEY_LOGLEVEL,   /* char *, one of log_level_parse()'s names */
	KEY_BYTES,      /* double, bytes: "64MB" (1024-based, as in
	                 * postgresql.conf), in dmin..dmax */
	KEY_DURATION,   /* double, seconds: "90s", "1h30m", "500ms", a bare
	                 * number is seconds; in dmin..dmax */
};

enum key_flag {
	KEY_RELOAD = 1 << 0,     /* may change on reload (SIGHUP) */
	KEY_CLI_ONLY = 1 << 1,   /* not allowed in a job file */
	KEY_EMPTY_NULL = 1 << 2, /* an empty value unsets the key */
	KEY_EMPTY_OK = 1 << 3,   /* an empty value is a value */
	KEY_SECRET = 1 << 4,     /* never log the value (passwords in a DSN) */
	KEY_BOOL_ARG = 1 << 5,   /* a bool that takes a value on the command
	                          * line too: its default is true, and a
	                          * plain flag could never turn it off */
};

struct key_def {
	const char *name;       /* option and job-file name */
	enum key_type type;
	size_t offset;          /* of the field in struct config */
	const char *def;        /* default as text; NULL: unset */
	const char *metavar;    /* for --help; NULL for flags */
	const char *help;       /* one line */
	unsigned flags;         /* enum key_flag */
	long lmin, lmax;        /* KEY_LONG */
	double dmin, dmax;      /* KEY_DOUBLE */
};

#define STR_(x) #x
#define STR(x) STR_(x)
#define FIELD(f) offsetof(struct config, f)

#define K_STRING(name, field, def, metavar, flags, help) \
	{ name, KEY_STRING, FIELD(field), def, metavar, help, flags, \
	  0, 0, 0.0, 0.0 }
#define K_LONG(name, field, def, min, max, metavar, flags, help) \
	{ name, KEY_LONG, FIELD(field), def, metavar, help, flags, \
	  min, max, 0.0, 0.0 }
#define K_DOUBLE(name, field, def, min, max, metavar, flags, help) \
	{ name, KEY_DOUBLE, FIELD(field), def, metavar, help, flags, \
	  0, 0, min, max }
#define K_BOOL(name, field, def, flags, help) \
	{ name, KEY_BOOL, FIELD(field), def, NULL, help, flags, \
	  0, 0, 0.0, 0.0 }
#define K_LOGLEVEL(name, field, def, flags, help) \
	{ name, KEY_LOGLEVEL, FIELD(field), def, "LEVEL", help, flags, \
	  0, 0, 0.0, 0.0 }
#define K_BYTES(name, field, def, min, max, metavar, flags, help) \
	{ name, KEY_BYTES, FIELD(field), def, metavar, help, flags, \
	  0, 0, min, max }
#define K_DURATION(name, field, def, min, max, metavar, flags, help) \
	{ name, KEY_DURATION, FIELD(field), def, metavar, help, flags, \
	  0, 0, min, max }
#define K_SWITCH(name, field, def, flags, help) \
	{ name, KEY_BOOL, FIELD(field), def, "on|off", help, \
	  (flags) | KEY_BOOL_ARG, 0, 0, 0.0, 0.0 }

static const struct key_def keys[] = {
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
	K_BOOL("no-unique", no_unique, "false", 0,
	       "plan, finalize: leave out the unique index"),
	K_BOOL("no-not-null", no_not_null, "false", 0,
	       "plan, finalize: leave out the NOT NULL steps"),
	K_BOOL("null-index", null_index, "false", 0,
	       "plan: a partial index WHERE column IS NULL for cheap service "
	       "probes, dropped at the end"),
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
	K_DOUBLE("busy-max-rate", busy_max_rate, "500", 0.0, 1e9, "ROWS/S",
		 KEY_RELOAD,
		 "at most this many rows/s while other sessions use the "
		 "server (0: full speed)"),
	K_DURATION("busy-hold", busy_hold, "30s", 1.0, 86400.0, "DURATION",
		   KEY_RELOAD,
		   "the server counts as busy this long after another "
		   "session was seen working"),
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

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* getopt_long values of the table's options: OPT_BASE + row. */
#define OPT_BASE 256

static const char *const bool_true[] = { "true", "yes", "on", "1" };
static const char *const bool_false[] = { "false", "no", "off", "0" };

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void *field(struct config *c, const struct key_def *k)
{
	return (char *)c + k->offset;
}

static const void *cfield(const struct config *c, const struct key_def *k)
{
	return (const char *)c + k->offset;
}

static bool is_string(const struct key_def *k)
{
	return k->type == KEY_STRING || k->type == KEY_LOGLEVEL;
}

static const struct key_def *find_key(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

/*
 * Strict decimal parsing: the whole text must be the number. strtol/strtod
 * alone accept leading blanks and stop quietly at trailing junk.
 * Returns 0, -1 if not a number, -2 if it overflows.
 */
static int parse_long(const char *s, long *out)
{
	char *end;

	if (*s == '\0' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (*end != '\0')
		return -1;
	return errno == ERANGE ? -2 : 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	if (*s == '\0' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (*end != '\0' || isnan(*out))
		return -1;
	/* Overflow and "inf" both land here; underflow is only imprecise. */
	if (isinf(*out) || (errno == ERANGE && fabs(*out) > 1.0))
		return -2;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	size_t i;

	for (i = 0; i < sizeof(bool_true) / sizeof(bool_true[0]); i++) {
		if (strcasecmp(s, bool_true[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, bool_false[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* The number at the start of s: digits with at most one '.', at least one
 * digit; no sign, blank, exponent or hex. Returns its length, 0 if none. */
static size_t number_span(const char *s)
{
	size_t n = 0, digits = 0;
	bool dot = false;

	for (;; n++) {
		if (isdigit((unsigned char)s[n]))
			digits++;
		else if (s[n] == '.' && !dot)
			dot = true;
		else
			break;
	}
	return digits > 0 ? n : 0;
}

/*
 * Bytes: a number and an optional unit, as postgresql.conf writes sizes:
 * B, kB, MB, GB, TB (1024-based, like PostgreSQL) or KiB, MiB, GiB, TiB;
 * case does not matter, one blank may come before the unit; a bare number
 * is bytes. Returns 0, -1 if malformed, -2 if it overflows.
 */
static int parse_bytes(const char *s, double *out)
{
	static const struct { const char *unit; double mult; } units[] = {
		{ "", 1.0 }, { "B", 1.0 },
		{ "kB", 1024.0 }, { "KiB", 1024.0 },
		{ "MB", 1048576.0 }, { "MiB", 1048576.0 },
		{ "GB", 1073741824.0 }, { "GiB", 1073741824.0 },
		{ "TB", 1099511627776.0 }, { "TiB", 1099511627776.0 },
	};
	size_t n = number_span(s), i;
	const char *unit;
	char num[64];

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	unit = s + n;
	if (*unit == ' ' && unit[1] != '\0')
		unit++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(unit, units[i].unit) == 0) {
			*out = strtod(num, NULL) * units[i].mult;
			return isinf(*out) ? -2 : 0;
		}
	}
	return -1;
}

/*
 * A duration: one or more <number><unit>, units d, h, m (or min), s, ms,
 * each at most once and from the largest to the smallest ("1h30m", "90s",
 * "1.5h", "250ms"); a bare number is seconds. Returns 0, -1 if malformed,
 * -2 if it overflows.
 */
static int parse_duration(const char *s, double *out)
{
	/* Longer units first, so "ms" and "min" are not read as "m". */
	static const struct { const char *unit; double secs; int rank; } units[] = {
		{ "ms", 0.001, 4 }, { "min", 60.0, 2 }, { "d", 86400.0, 0 },
		{ "h", 3600.0, 1 }, { "m", 60.0, 2 }, { "s", 1.0, 3 },
	};
	double total = 0.0;
	int last_rank = -1;
	char num[64];
	size_t n, i, len;

	n = number_span(s);
	if (n > 0 && s[n] == '\0' && n < sizeof(num)) {
		memcpy(num, s, n);
		num[n] = '\0';
		*out = strtod(num, NULL);
		return isinf(*out) ? -2 : 0;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		n = number_span(s);
		if (n == 0 || n >= sizeof(num))
			return -1;
		memcpy(num, s, n);
		num[n] = '\0';
		s += n;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			len = strlen(units[i].unit);
			if (strncmp(s, units[i].unit, len) == 0 &&
			    !isalpha((unsigned char)s[len]))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]) ||
		    units[i].rank <= last_rank)
			return -1;
		last_rank = units[i].rank;
		total += strtod(num, NULL) * units[i].secs;
		s += strlen(units[i].unit);
	}
	*out = total;
	return isinf(total) ? -2 : 0;
}

static int set_string(char **dst, const char *value, char *why, size_t whylen)
{
	char *copy = strdup(value);

	if (copy == NULL) {
		set_err(why, whylen, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

/*
 * Sets one key from text, as both parsers and config_init do. On error
 * returns -1 with the reason (without the key's name) in why; the field
 * keeps its old value.
 */
static int set_value(struct config *c, const struct key_def *k,
		     const char *value, char *why, size_t whylen)
{
	long l;
	double d;
	bool b;
	enum log_level level;
	int rc;

	if (value == NULL)
		value = "";

	switch (k->type) {
	case KEY_STRING:
		if (*value == '\0' && (k->flags & KEY_EMPTY_NULL)) {
			free(*(char **)field(c, k));
			*(char **)field(c, k) = NULL;
			return 0;
		}
		if (*value == '\0' && !(k->flags & KEY_EMPTY_OK)) {
			set_err(why, whylen, "needs a non-empty value");
			return -1;
		}
		return set_string(field(c, k), value, why, whylen);

	case KEY_LONG:
		rc = parse_long(value, &l);
		if (rc == -1) {
			set_err(why, whylen, "'%s' is not a number", value);
			return -1;
		}
		if (rc == -2 || l < k->lmin || l > k->lmax) {
			set_err(why, whylen, "%s is out of range %ld..%ld",
				value, k->lmin, k->lmax);
			return -1;
		}
		*(long *)field(c, k) = l;
		return 0;

	case KEY_DOUBLE:
		rc = parse_double(value, &d);
		if (rc == -1) {
			set_err(why, whylen, "'%s' is not a number", value);
			return -1;
		}
		if (rc == -2 || d < k->dmin || d > k->dmax) {
			set_err(why, whylen, "%s is out of range %g..%g",
				value, k->dmin, k->dmax);
			return -1;
		}
		*(double *)field(c, k) = d;
		return 0;

	case KEY_BYTES:
	case KEY_DURATION:
		if (*value == '\0' && (k->flags & KEY_EMPTY_OK))
			value = "0";
		rc = k->type == KEY_BYTES ? parse_bytes(value, &d) :
					    parse_duration(value, &d);
		if (rc == -1) {
			set_err(why, whylen, k->type == KEY_BYTES ?
				"'%s' is not a size (bytes, or e.g. 64MB, 1GB)" :
				"'%s' is not a duration (seconds, or e.g. 90s, "
				"30m, 1h30m)", value);
			return -1;
		}
		if (rc == -2 || d < k->dmin || d > k->dmax) {
			set_err(why, whylen, "%s is out of range", value);
			return -1;
		}
		*(double *)field(c, k) = d;
		return 0;

	case KEY_BOOL:
		if (parse_bool(value, &b) < 0) {
			set_err(why, whylen,
				"'%s' is not true/false, yes/no, on/off or 1/0",
				value);
			return -1;
		}
		*(bool *)field(c, k) = b;
		return 0;

	case KEY_LOGLEVEL:
		if (log_level_parse(value, &level) < 0) {
			set_err(why, whylen,
				"'%s' is not error, warn, info or debug",
				value);
			return -1;
		}
		return set_string(field(c, k), value, why, whylen);
	}
	set_err(why, whylen, "unhandled key type");
	return -1;
}

/*
 * Checks a field that code (not a parser) may have set: ranges and
 * presence of keys that have a default. Returns 0 or -1 with a reason.
 */
static int check_field(const struct config *c, const struct key_def *k,
		       char *why, size_t whylen)
{
	long l;
	double d;
	const char *s;
	enum log_level level;

	switch (k->type) {
	case KEY_STRING:
		if (k->def != NULL && *(char *const *)cfield(c, k) == NULL) {
			set_err(why, whylen, "not set");
			return -1;
		}
		return 0;
	case KEY_LONG:
		l = *(const long *)cfield(c, k);
		if (l < k->lmin || l > k->lmax) {
			set_err(why, whylen, "%ld is out of range %ld..%ld",
				l, k->lmin, k->lmax);
			return -1;
		}
		return 0;
	case KEY_DOUBLE:
	case KEY_BYTES:
	case KEY_DURATION:
		d = *(const double *)cfield(c, k);
		if (!(d >= k->dmin && d <= k->dmax)) {
			set_err(why, whylen, "%g is out of range %g..%g",
				d, k->dmin, k->dmax);
			return -1;
		}
		return 0;
	case KEY_BOOL:
		return 0;
	case KEY_LOGLEVEL:
		s = *(char *const *)cfield(c, k);
		if (log_level_parse(s, &level) < 0) {
			set_err(why, whylen, "'%s' is not error, warn, info or debug",
				s ? s : "");
			return -1;
		}
		return 0;
	}
	return 0;
}

void config_init(struct config *c)
{
	char why[CONFIG_ERR_LEN];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS; i++) {
		/* Defaults are known good; only malloc can fail here, and
		 * config_validate() reports a default left unset. */
		if (keys[i].def != NULL)
			(void)set_value(c, &keys[i], keys[i].def, why,
					sizeof(why));
	}
}

static void free_key_columns(struct config *c)
{
	int i;

	for (i = 0; i < c->nkeys; i++) {
		free(c->key_columns[i]);
		c->key_columns[i] = NULL;
	}
	c->nkeys = 0;
}

void config_free(struct config *c)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (is_string(&keys[i]))
			free(*(char **)field(c, &keys[i]));
	}
	free_key_columns(c);
	memset(c, 0, sizeof(*c));
}

enum config_result config_set(struct config *c, const char *name,
			      const char *value, char *err, size_t errlen)
{
	const struct key_def *k = find_key(name);
	char why[CONFIG_ERR_LEN];

	if (k == NULL) {
		set_err(err, errlen, "unknown key '%s'", name);
		return CONFIG_INVALID;
	}
	if (set_value(c, k, value, why, sizeof(why)) < 0) {
		set_err(err, errlen, "%s: %s", k->name, why);
		return CONFIG_INVALID;
	}
	return CONFIG_OK;
}

/* ---- job file ---------------------------------------------------------- */

struct file_state {
	struct config *c;
	FILE *f;
	char *buf;              /* getline() buffer */
	size_t cap;
	int lineno;             /* of the line last handed to inih */
	int read_errno;         /* nonzero: reading failed */
	int seen[NKEYS];        /* line where each key was set, or 0 */
	int err_line;           /* first error found by us, or 0 */
	char err_msg[CONFIG_ERR_LEN];
};

__attribute__((format(printf, 2, 3)))
static void file_error(struct file_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->err_line != 0)
		return;         /* report the first error only */
	st->err_line = st->lineno;
	va_start(ap, fmt);
	vsnprintf(st->err_msg, sizeof(st->err_msg), fmt, ap);
	va_end(ap);
}

/*
 * inih's line reader (fgets-like). Reading lines ourselves keeps our line
 * count equal to inih's, so handler errors carry the right line number,
 * and lets us refuse what inih would accept quietly:
 *  - "[section]" headers: a job file is flat;
 *  - indented lines: inih would take them as the continuation of the
 *    previous value ("multi-line"), so "  batch-size = 5" after
 *    "table = t" would set table to "batch-size = 5". We drop the
 *    indentation instead; a value never spans lines;
 *  - lines longer than inih's buffer, which it would split silently.
 * A refused line is handed to inih as a blank line.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct file_state *st = stream;
	ssize_t n;
	const char *p;
	size_t len;

	errno = 0;
	n = getline(&st->buf, &st->cap, st->f);
	if (n < 0) {
		if (ferror(st->f))
			st->read_errno = errno != 0 ? errno : EIO;
		return NULL;
	}
	st->lineno++;
	p = st->buf;
	len = (size_t)n;
	if (st->lineno == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
		p += 3;
		len -= 3;
	}
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	if (num < 2)
		return NULL;
	if (memchr(p, '\0', len) != NULL) {
		file_error(st, "NUL byte in line");
		p = "\n";
		len = 1;
	} else if (*p == '[') {
		file_error(st, "sections are not used in a job file; "
			   "write every key at the top level");
		p = "\n";
		len = 1;
	} else if (len + 1 > (size_t)num) {
		file_error(st, "line is longer than %d characters", num - 2);
		p = "\n";
		len = 1;
	}
	memcpy(str, p, len);
	str[len] = '\0';
	return str;
}

static int on_file_key(void *user, const char *section, const char *name,
		       const char *value)
{
	struct file_state *st = user;
	const struct key_def *k;
	char why[CONFIG_ERR_LEN];
	size_t i;

	if (section[0] != '\0') {       /* read_line() drops headers */
		file_error(st, "'%s' is inside section [%s]", name, section);
		return 0;
	}
	k = find_key(name);
	if (k == NULL) {
		file_error(st, "unknown key '%s'", name);
		return 0;
	}
	if (k->flags & KEY_CLI_ONLY) {
		file_error(st, "'%s' can only be given on the command line",
			   name);
		return 0;
	}
	/* A key set twice is almost always an edit gone wrong: the first
	 * line would be silently dead. */
	i = (size_t)(k - keys);
	if (st->seen[i] != 0) {
		file_error(st, "'%s' is already set on line %d", name,
			   st->seen[i]);
		return 0;
	}
	st->seen[i] = st->lineno;
	if (set_value(st->c, k, value, why, sizeof(why)) < 0) {
		file_error(st, "%s: %s", name, why);
		return 0;
	}
	return 1;
}

/*
 * Does a conninfo string or URI carry a password? The keyword (or a URI's
 * "?password=" parameter), or a URI's userinfo with a ':' ("user:secret@").
 * Only ever answers yes or no: the value is never copied or printed.
 */
static bool dsn_has_password(const char *dsn)
{
	const char *p, *end;

	if (dsn == NULL)
		return false;
	if (strstr(dsn, "password") != NULL)
		return true;
	if (strncmp(dsn, "postgresql://", 13) == 0)
		p = dsn + 13;
	else if (strncmp(dsn, "postgres://", 11) == 0)
		p = dsn + 11;
	else
		return false;
	end = p + strcspn(p, "/?");     /* the authority */
	for (const char *at = p; at < end; at++) {
		if (*at == '@')
			return memchr(p, ':', (size_t)(at - p)) != NULL;
	}
	return false;
}

enum config_result config_load_file(struct config *c, const char *path,
				    char *err, size_t errlen)
{
	struct file_state st;
	int rc, line;
	const char *msg;

	memset(&st, 0, sizeof(st));
	st.c = c;
	st.f = fopen(path, "r");
	if (st.f == NULL) {
		set_err(err, errlen, "cannot read job file '%s': %s", path,
			strerror(errno));
		return CONFIG_INVALID;
	}
	rc = ini_parse_stream(read_line, &st, on_file_key, &st);
	free(st.buf);
	{
		/* A password in a file others can read is a leak waiting to
		 * happen; say so, but do not refuse (the file is the admin's). */
		const struct key_def *dk = find_key("dsn");
		struct stat sb;

		if (dk != NULL && st.seen[dk - keys] != 0 &&
		    dsn_has_password(c->dsn) && fstat(fileno(st.f), &sb) == 0 &&
		    (sb.st_mode & 077) != 0)
			log_warn("job file %s is readable by group or others and "
				 "holds a password; chmod 600 it", path);
	}
	fclose(st.f);

	if (st.read_errno != 0) {
		set_err(err, errlen, "cannot read job file '%s': %s", path,
			strerror(st.read_errno));
		return CONFIG_INVALID;
	}
	if (rc < 0) {
		set_err(err, errlen, "cannot read job file '%s': %s", path,
			strerror(ENOMEM));
		return CONFIG_INVALID;
	}
	/* inih reports the first bad line: a handler failure (our message is
	 * recorded for that line) or a line it could not split itself. */
	line = st.err_line;
	msg = st.err_msg;
	if (rc > 0 && (line == 0 || rc < line)) {
		line = rc;
		msg = "expected 'name = value'";
	}
	if (line != 0) {
		set_err(err, errlen, "%s:%d: %s", path, line, msg);
		return CONFIG_INVALID;
	}
	return CONFIG_OK;
}

/* ---- command line ------------------------------------------------------ */

/* Length of an argv element's option part: "--name=value" -> "--name". */
static int option_len(const char *arg)
{
	size_t n = strcspn(arg, "=");

	return n > 256 ? 256 : (int)n;
}

enum config_result config_parse_args(struct config *c, int argc,
				     char *const argv[], char *err,
				     size_t errlen)
{
	struct option longopts[NKEYS + 3];
	struct { const struct key_def *k; const char *value; } *pending;
	size_t npending = 0, i;
	const char *config_path = NULL;
	const char *arg;
	char why[CONFIG_ERR_LEN];
	enum config_result res = CONFIG_OK;
	int opt, before;

	config_init(c);
	set_err(err, errlen, "%s", "");

	for (i = 0; i < NKEYS; i++) {
		longopts[i].name = keys[i].name;
		longopts[i].has_arg = keys[i].type == KEY_BOOL &&
				      !(keys[i].flags & KEY_BOOL_ARG) ?
				      no_argument : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = OPT_BASE + (int)i;
	}
	longopts[NKEYS] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[NKEYS + 1] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[NKEYS + 2] = (struct option){ NULL, 0, NULL, 0 };

	pending = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*pending));
	if (pending == NULL) {
		set_err(err, errlen, "out of memory");
		return CONFIG_INVALID;
	}

	/*
	 * "-" returns positional arguments in order (as option 1) instead of
	 * permuting argv; ":" makes a missing value return ':'. optind = 0
	 * makes glibc reinitialise, so this can run more than once per
	 * process; opterr = 0 because we print our own one-line error.
	 */
	optind = 0;
	opterr = 0;
	for (;;) {
		/* The element getopt is about to read (glibc turns 0 into 1).
		 * Short options come in clusters only for -h/-V, which end
		 * the parse, so argv[before] is the option just returned. */
		before = optind == 0 ? 1 : optind;
		opt = getopt_long(argc, argv, "-:hV", longopts, NULL);
		if (opt == -1)
			break;
		arg = before < argc ? argv[before] : "";

		if (opt == 1) {
			set_err(err, errlen, "unexpected argument '%s'", optarg);
			res = CONFIG_USAGE_ERROR;
			goto out;
		}
		if (opt == 'h') {
			res = CONFIG_HELP;
			goto out;
		}
		if (opt == 'V') {
			res = CONFIG_VERSION;
			goto out;
		}
		if (opt == ':') {
			if (optopt >= OPT_BASE && optopt < OPT_BASE + (int)NKEYS)
				set_err(err, errlen, "option '--%s' needs a value",
					keys[optopt - OPT_BASE].name);
			else
				set_err(err, errlen, "option '%.*s' needs a value",
					option_len(arg), arg);
			res = CONFIG_USAGE_ERROR;
			goto out;
		}
		if (opt == '?') {
			if (optopt != 0 && strncmp(arg, "--", 2) == 0)
				set_err(err, errlen, "option '%.*s' takes no value",
					option_len(arg), arg);
			else if (optopt != 0)
				set_err(err, errlen, "unknown option '-%c'", optopt);
			else
				set_err(err, errlen, "unknown option '%.*s'",
					option_len(arg), arg);
			res = CONFIG_USAGE_ERROR;
			goto out;
		}

		/* getopt_long takes any unambiguous prefix ("--batch");
		 * we do not, so adding a key never breaks a command line. */
		{
			const struct key_def *k;
			size_t n;

			if (opt < OPT_BASE || opt >= OPT_BASE + (int)NKEYS) {
				set_err(err, errlen, "unknown option '%.*s'",
					option_len(arg), arg);
				res = CONFIG_USAGE_ERROR;
				goto out;
			}
			k = &keys[opt - OPT_BASE];
			n = strlen(k->name);
			if (strncmp(arg, "--", 2) != 0 ||
			    strncmp(arg + 2, k->name, n) != 0 ||
			    (arg[2 + n] != '\0' && arg[2 + n] != '=')) {
				set_err(err, errlen, "unknown option '%.*s'",
					option_len(arg), arg);
				res = CONFIG_USAGE_ERROR;
				goto out;
			}
			if (k->offset == FIELD(config_file))
				config_path = optarg;   /* the last one wins */
			else {
				pending[npending].k = k;
				pending[npending].value =
					k->type == KEY_BOOL &&
					!(k->flags & KEY_BOOL_ARG) ?
					"true" : optarg;
				npending++;
			}
		}
	}

	/* "--" ends the options; anything after it is still positional. */
	if (optind < argc) {
		set_err(err, errlen, "unexpected argument '%s'", argv[optind]);
		res = CONFIG_USAGE_ERROR;
		goto out;
	}

	/* Defaults (set above), then the job file, then the command line. */
	if (config_path != NULL) {
		if (set_value(c, find_key("config"), config_path, why,
			      sizeof(why)) < 0) {
			set_err(err, errlen, "--config: %s", why);
			res = CONFIG_INVALID;
			goto out;
		}
		res = config_load_file(c, config_path, err, errlen);
		if (res != CONFIG_OK)
			goto out;
	}
	for (i = 0; i < npending; i++) {
		if (set_value(c, pending[i].k, pending[i].value, why,
			      sizeof(why)) < 0) {
			set_err(err, errlen, "--%s: %s", pending[i].k->name, why);
			res = CONFIG_INVALID;
			goto out;
		}
	}
out:
	free(pending);
	return res;
}

/* ---- validation -------------------------------------------------------- */

/*
 * Splits c->key on ',' into key_columns. Names are used exactly as
 * written (spaces and all, as they are in the catalog); only a column
 * whose name contains ',' cannot be named here.
 */
static enum config_result split_key(struct config *c, char *err,
				    size_t errlen)
{
	const char *p = c->key, *comma;
	size_t len;
	char *name;
	int j;

	if (p == NULL)
		return CONFIG_OK;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0) {
			set_err(err, errlen, "--key: empty column name in '%s'",
				c->key);
			goto fail;
		}
		if (c->nkeys == CONFIG_MAX_KEYS) {
			set_err(err, errlen, "--key: more than %d columns",
				CONFIG_MAX_KEYS);
			goto fail;
		}
		name = strndup(p, len);
		if (name == NULL) {
			set_err(err, errlen, "--key: out of memory");
			goto fail;
		}
		for (j = 0; j < c->nkeys; j++) {
			if (strcmp(c->key_columns[j], name) == 0) {
				set_err(err, errlen,
					"--key: column '%s' is listed twice",
					name);
				free(name);
				goto fail;
			}
		}
		c->key_columns[c->nkeys++] = name;
		if (comma == NULL)
			return CONFIG_OK;
		p = comma + 1;
	}
fail:
	free_key_columns(c);
	return CONFIG_INVALID;
}

enum config_result config_validate(struct config *c, char *err, size_t errlen)
{
	char why[CONFIG_ERR_LEN];
	int start, end;
	size_t i;

	free_key_columns(c);
	set_err(err, errlen, "%s", "");

	/* Missing target: the command line is incomplete (usage, 64). */
	if (c->table == NULL || c->table[0] == '\0') {
		set_err(err, errlen,
			"missing --table (or 'table' in the job file)");
		return CONFIG_USAGE_ERROR;
	}
	if (c->column == NULL || c->column[0] == '\0') {
		set_err(err, errlen,
			"missing --column (or 'column' in the job file)");
		return CONFIG_USAGE_ERROR;
	}

	/* Values are config errors (78): restarting cannot fix them. */
	for (i = 0; i < NKEYS; i++) {
		if (check_field(c, &keys[i], why, sizeof(why)) < 0) {
			set_err(err, errlen, "--%s: %s", keys[i].name, why);
			return CONFIG_INVALID;
		}
	}
	if (nanoid_check_size(c->size, why, sizeof(why)) < 0) {
		set_err(err, errlen, "--size: %s", why);
		return CONFIG_INVALID;
	}
	if (nanoid_check_alphabet(c->alphabet, why, sizeof(why)) < 0) {
		set_err(err, errlen, "--alphabet: %s", why);
		return CONFIG_INVALID;
	}
	if (nanoid_check_prefix(c->prefix, why, sizeof(why)) < 0) {
		set_err(err, errlen, "--prefix: %s", why);
		return CONFIG_INVALID;
	}
	if (hours_parse(c->active_hours, &start, &end, why, sizeof(why)) < 0) {
		set_err(err, errlen, "--active-hours: %s", why);
		return CONFIG_INVALID;
	}
	if (c->pause_file != NULL && strlen(c->pause_file) >= PATH_MAX) {
		set_err(err, errlen, "--pause-file: longer than %d bytes",
			PATH_MAX - 1);
		return CONFIG_INVALID;
	}
	if (strcmp(c->order, "key") != 0 && strcmp(c->order, "physical") != 0 &&
	    strcmp(c->order, "auto") != 0) {
		set_err(err, errlen, "--order: '%s' is not key, physical or auto",
			c->order);
		return CONFIG_INVALID;
	}
	return split_key(c, err, errlen);
}

/* ---- help, introspection, reload --------------------------------------- */

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
	for (i = 0; i < NKEYS; i++) {
		k = &keys[i];
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
	return NKEYS;
}

const char *config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

bool config_key_reloadable(size_t i)
{
	return i < NKEYS && (keys[i].flags & KEY_RELOAD);
}

bool config_key_in_file(size_t i)
{
	return i < NKEYS && !(keys[i].flags & KEY_CLI_ONLY);
}

static void format_value(const struct config *c, const struct key_def *k,
			 char *buf, size_t len)
{
	const char *s;

	switch (k->type) {
	case KEY_STRING:
	case KEY_LOGLEVEL:
		s = *(char *const *)cfield(c, k);
		if (s == NULL)
			snprintf(buf, len, "(unset)");
		else
			snprintf(buf, len, "'%s'", s);
		return;
	case KEY_LONG:
		snprintf(buf, len, "%ld", *(const long *)cfield(c, k));
		return;
	case KEY_DOUBLE:
	case KEY_DURATION:
		snprintf(buf, len, "%g", *(const double *)cfield(c, k));
		return;
	case KEY_BYTES:
		snprintf(buf, len, "%.0f", *(const double *)cfield(c, k));
		return;
	case KEY_BOOL:
		snprintf(buf, len, "%s",
			 *(const bool *)cfield(c, k) ? "true" : "false");
		return;
	}
}

void config_key_value(const struct config *c, size_t i, char *buf, size_t len)
{
	const struct key_def *k;
	const char *s;

	if (i >= NKEYS) {
		snprintf(buf, len, "(no such key)");
		return;
	}
	k = &keys[i];
	if (k->type == KEY_STRING || k->type == KEY_LOGLEVEL) {
		s = *(char *const *)cfield(c, k);
		snprintf(buf, len, "%s", s ? s : "(null)");
		return;
	}
	format_value(c, k, buf, len);
}

static bool value_equal(const struct config *a, const struct config *b,
			const struct key_def *k)
{
	const char *sa, *sb;

	switch (k->type) {
	case KEY_STRING:
	case KEY_LOGLEVEL:
		sa = *(char *const *)cfield(a, k);
		sb = *(char *const *)cfield(b, k);
		if (sa == NULL || sb == NULL)
			return sa == sb;
		return strcmp(sa, sb) == 0;
	case KEY_LONG:
		return *(const long *)cfield(a, k) == *(const long *)cfield(b, k);
	case KEY_DOUBLE:
	case KEY_BYTES:
	case KEY_DURATION:
		return !(*(const double *)cfield(a, k) <
			 *(const double *)cfield(b, k)) &&
		       !(*(const double *)cfield(a, k) >
			 *(const double *)cfield(b, k));
	case KEY_BOOL:
		return *(const bool *)cfield(a, k) == *(const bool *)cfield(b, k);
	}
	return true;
}

int config_apply_reload(struct config *cur, const struct config *next)
{
	char old[CONFIG_ERR_LEN / 2], new[CONFIG_ERR_LEN / 2];
	const struct key_def *k;
	char *copy;
	const char *s;
	size_t i;
	int applied = 0;

	for (i = 0; i < NKEYS; i++) {
		k = &keys[i];
		if ((k->flags & KEY_CLI_ONLY) || value_equal(cur, next, k))
			continue;
		format_value(cur, k, old, sizeof(old));
		format_value(next, k, new, sizeof(new));
		if (!(k->flags & KEY_RELOAD)) {
			if (k->flags & KEY_SECRET)
				log_warn("reload: %s changed; it takes effect "
					 "only after a restart", k->name);
			else
				log_warn("reload: %s changed from %s to %s; it "
					 "takes effect only after a restart, "
					 "keeping %s", k->name, old, new, old);
			continue;
		}
		if (is_string(k)) {
			s = *(char *const *)cfield(next, k);
			copy = NULL;
			if (s != NULL && (copy = strdup(s)) == NULL) {
				log_warn("reload: %s: out of memory, keeping %s",
					 k->name, old);
				continue;
			}
			free(*(char **)field(cur, k));
			*(char **)field(cur, k) = copy;
		} else {
			/* Scalars: copy the field's bytes, whatever its type. */
			size_t size = k->type == KEY_LONG ? sizeof(long) :
				      k->type == KEY_BOOL ? sizeof(bool) :
				      sizeof(double);
			memcpy(field(cur, k), cfield(next, k), size);
		}
		log_info("reload: %s %s -> %s", k->name, old, new);
		applied++;
	}
	return applied;
}
