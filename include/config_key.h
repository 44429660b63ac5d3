/*
 * config_key.h - the key table, as the config modules share it.
 *
 * Internal to config_keys.c (the table, --help, introspection),
 * config_value.c (text to values, defaults, validation), config_file.c
 * (the job-file reader) and config.c (the command line, reload); the rest
 * of the program uses config.h only.
 *
 * Every key is one row of config_keys[]: its name (the option and the
 * job-file key), type, field in struct config, default, help and flags.
 * Every reader walks that table, so adding a key is adding a row (and a
 * field in struct config), and no reader can forget it.
 */
#ifndef NB_CONFIG_KEY_H
#define NB_CONFIG_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

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

#define CONFIG_FIELD(f) offsetof(struct config, f)

/* The table, in --help order, and its length. */
extern const struct key_def config_keys[];
extern const size_t config_nkeys;

/* The row called name, or NULL. */
const struct key_def *config_find_key(const char *name);

/* k's field in c. */
void *config_field(struct config *c, const struct key_def *k);
const void *config_cfield(const struct config *c, const struct key_def *k);

/* Whether k's field is a heap string that config_free() releases. */
bool config_key_is_string(const struct key_def *k);

/* snprintf into err (nothing if err is NULL or errlen 0). */
__attribute__((format(printf, 3, 4)))
void config_seterr(char *err, size_t errlen, const char *fmt, ...);

/*
 * Sets k's field in c from text, as both parsers and config_init() do:
 * parsed strictly and range-checked. On error returns -1 with the reason
 * (without the key's name) in why; the field keeps its old value.
 */
int config_set_value(struct config *c, const struct key_def *k,
		     const char *value, char *why, size_t whylen);

/* k's value in c as the reload log shows it: strings quoted, "(unset)". */
void config_format_value(const struct config *c, const struct key_def *k,
			 char *buf, size_t len);

/* Frees c's key_columns and sets nkeys to 0. */
void config_free_key_columns(struct config *c);

/* What took the place of a removed key name[0..len), or NULL. */
const char *config_removed_key(const char *name, size_t len);

#endif
