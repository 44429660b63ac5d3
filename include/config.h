/*
 * config.h - the job configuration: command line and INI job file.
 *
 * Every key is declared once, in the table in config_keys.c (name, type, field,
 * default, help, whether it can change on reload). The command-line parser,
 * the job-file parser, --help and the docs tests all read that table, so a
 * key cannot exist in one place and be missing in another.
 *
 * The same names serve both: `table = orders` in a job file is
 * `--table orders` on the command line. Precedence: command line over job
 * file over built-in defaults.
 */
#ifndef NB_CONFIG_H
#define NB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_KEYS 16          /* key columns in a composite key */
#define CONFIG_ERR_LEN 512

struct config {
	/* where */
	char *config_file;          /* --config: the job file, or NULL */
	char *dsn;                  /* libpq conninfo or URI; NULL: PG* env */
	char *schema;               /* NULL: resolve the table via search_path */
	char *table;                /* required; exactly as in the catalog */
	char *column;               /* required; exactly as in the catalog */
	char *key;                  /* comma-separated; NULL: the primary key */
	char *job;                  /* progress record name; NULL: derived */
	char *progress_schema;      /* default "nanoid_backfill" */

	/* what */
	long size;                  /* default 21 */
	char *alphabet;             /* default NANOID_DEFAULT_ALPHABET */
	char *prefix;               /* default "" */
	bool allow_duplicates;      /* fill where ids likely repeat and no
	                             * unique index rejects them (idspace.h) */

	/* how */
	long batch_size;            /* default 1000; 1..100000 */
	bool until_done;            /* exit 0 once no NULL is left */
	double idle_interval;       /* seconds between service passes; default 60 */
	double full_sweep_interval; /* seconds between whole-table NULL checks; 24h */
	double progress_interval;   /* seconds between progress lines; default 5 */
	char *progress;             /* "auto" (default), "bar" or "lines" (bar.h) */
	char *log_level;            /* "error", "warn", "info" (default), "debug" */

	/* parallelism and batch sizing */
	long workers;               /* connections; default 1 */
	long lease_size;            /* rows per lease; default 20000 */
	char *order;                /* "key", "physical" or "auto" (default) */
	double batch_time;          /* ms a batch should take; 0: fixed size */
	long min_batch_size;        /* default 100 */
	long max_batch_size;        /* default 20000 */
	double reconnect_timeout;   /* s without a connection before --until-done gives up */
	bool synchronous_commit;    /* false: the sessions set synchronous_commit = off */

	/* parsed from key; filled by config_validate() */
	char *key_columns[CONFIG_MAX_KEYS];
	int nkeys;                  /* 0: use the primary key */

	/* rollout: plan, finalize, verify, --add-column */
	char *out;                  /* plan: migrations directory; NULL: unset */
	char *format;               /* plan: the migration tool (plan_format.h) */
	bool no_unique;             /* plan/finalize: no unique index step */
	bool no_not_null;           /* plan/finalize: no NOT NULL steps */
	bool null_index;            /* plan: partial index WHERE column IS NULL */
	bool no_default;            /* plan: no in-database nanoid default step */
	bool add_column;            /* run: create the column if missing */
	bool finalize;              /* run (--until-done): NOT NULL + UNIQUE after */
	long ddl_lock_timeout;      /* ms, lock_timeout of each DDL; default 2000 */
	long ddl_retries;           /* retries after a lock timeout; default 10 */

	/* operations */
	char *metrics_file;         /* Prometheus text file, rewritten atomically; NULL: none */
	bool check_config;          /* --check-config: check file and target, write nothing */
	/* throttling: see throttle.h */
	double max_rate;            /* rows/s; 0: no limit */
	double max_latency_increase; /* the pace's harm: the probe this many
				      * times its baseline; 0: no pace */
	double min_rate;            /* the pace never goes slower, rows/s */
	long sleep_ms;              /* ms of pause after every batch */
	double nice_ratio;          /* pause this many times the batch's duration */
	long lock_timeout;          /* ms, lock_timeout of every batch; default 1000 */
	long statement_timeout;     /* ms, statement_timeout of every batch; 0: none; default 30000 */
	double max_replica_lag_bytes; /* bytes; 0: off; default 64 MiB */
	double max_replica_lag;     /* seconds of replay_lag; 0: off; default 10 */
	double max_wal_rate;        /* bytes/s of WAL written; 0: off */
	double max_slot_retained_wal; /* bytes held by a slot; 0: off */
	bool pause_on_blocking;     /* default true */
	bool pause_on_autovacuum;   /* default false */
	double health_interval;     /* seconds between health queries; default 1 */
	char *active_hours;         /* "HH:MM-HH:MM" local; NULL: always */
	double max_runtime;         /* seconds; 0: no limit */
	char *pause_file;           /* NULL: none */
};

/* Kinds of result of the parsing functions. */
enum config_result {
	CONFIG_OK = 0,
	CONFIG_HELP = 1,        /* --help was given: print config_usage(), exit 0 */
	CONFIG_VERSION = 2,     /* --version was given: print it, exit 0 */
	CONFIG_USAGE_ERROR = 3, /* bad command line: exit 64 */
	CONFIG_INVALID = 4,     /* bad value, bad or unreadable job file: exit 78 */
};

/* Sets every field to its default. Strings are heap copies. */
void config_init(struct config *c);

/* Frees every string the config owns and zeroes it. */
void config_free(struct config *c);

/*
 * Builds the configuration from argv (argv[0] is the program name) and the
 * job file named by --config, if any: defaults, then the file, then the
 * command line. c is overwritten (it starts with config_init()), so it
 * must not hold strings of its own; whatever the result, the caller
 * releases it with config_free(). Does not validate values across keys;
 * call config_validate() after. On error returns CONFIG_USAGE_ERROR or
 * CONFIG_INVALID with one line in err (no trailing newline) that names the
 * option or file:line and the problem.
 */
enum config_result config_parse_args(struct config *c, int argc,
				     char *const argv[], char *err,
				     size_t errlen);

/*
 * A flag only one command knows (status's --json): not a key, so not in
 * a job file, --help or reload. *value is set true when it is given.
 */
struct config_flag {
	const char *name;           /* without "--" */
	bool *value;
};

/* config_parse_args() that also accepts flags[0..nflags-1]. */
enum config_result config_parse_args_flags(struct config *c, int argc,
					   char *const argv[],
					   const struct config_flag *flags,
					   size_t nflags, char *err,
					   size_t errlen);

/*
 * Applies one job file to c (its keys overwrite c's fields). Unknown keys,
 * bad values and unreadable files are CONFIG_INVALID with "FILE:LINE: ..."
 * in err. Sections are not used; a key inside any section is an error.
 */
enum config_result config_load_file(struct config *c, const char *path,
				    char *err, size_t errlen);

/*
 * Sets one key from text, as both parsers do. Returns CONFIG_OK, or
 * CONFIG_INVALID with the reason in err (unknown key, bad number, ...).
 */
enum config_result config_set(struct config *c, const char *name,
			      const char *value, char *err, size_t errlen);

/*
 * Checks the whole configuration: table and column present (else
 * CONFIG_USAGE_ERROR), size/alphabet/prefix valid, numbers in range, key
 * list well formed (no empty name, at most CONFIG_MAX_KEYS, no duplicate),
 * and fills key_columns/nkeys. Returns CONFIG_OK or the error kind, with
 * one line in err.
 */
enum config_result config_validate(struct config *c, char *err, size_t errlen);

/* Writes the --help text (generated from the key table) to out. */
void config_usage(FILE *out);

/* Key table introspection, for docs tests: number of keys, and the name of
 * the i-th key (0 <= i < config_key_count()). */
size_t config_key_count(void);
const char *config_key_name(size_t i);

/*
 * The i-th key's value in c as text: strings verbatim ("(null)" if unset),
 * numbers as %ld/%g, booleans as true/false. For tests and diagnostics.
 */
void config_key_value(const struct config *c, size_t i, char *buf, size_t len);

/* Whether the i-th key may change on reload, and whether it may appear in
 * a job file (--config and --check-config may not). */
bool config_key_reloadable(size_t i);
bool config_key_in_file(size_t i);

/*
 * Reload: copies into cur the keys of next (a freshly parsed and
 * validated config) that may change live; a changed key that needs a
 * restart is logged (warn, old and new value; never the dsn's value) and
 * keeps cur's value. Each applied change is logged (info). Returns the
 * number of keys applied. The caller then re-applies log_level itself.
 */
int config_apply_reload(struct config *cur, const struct config *next);

#endif
