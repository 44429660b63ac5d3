/*
 * config_value.c - from text to values: strict numbers, sizes, durations
 * and booleans, defaults, and the checks across keys (config_validate).
 *
 * Values are parsed strictly (the whole text is the value, no blanks, no
 * trailing junk) and range-checked against their row, so a job file and
 * the command line refuse the same text with the same words.
 */
#include "config_key.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bar.h"
#include "hours.h"
#include "log.h"
#include "nanoid.h"
#include "plan_format.h"

static const char *const bool_true[] = { "true", "yes", "on", "1" };
static const char *const bool_false[] = { "false", "no", "off", "0" };

void config_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
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
		config_seterr(why, whylen, "out of memory");
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
int config_set_value(struct config *c, const struct key_def *k,
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
			free(*(char **)config_field(c, k));
			*(char **)config_field(c, k) = NULL;
			return 0;
		}
		if (*value == '\0' && !(k->flags & KEY_EMPTY_OK)) {
			config_seterr(why, whylen, "needs a non-empty value");
			return -1;
		}
		return set_string(config_field(c, k), value, why, whylen);

	case KEY_LONG:
		rc = parse_long(value, &l);
		if (rc == -1) {
			config_seterr(why, whylen, "'%s' is not a number", value);
			return -1;
		}
		if (rc == -2 || l < k->lmin || l > k->lmax) {
			config_seterr(why, whylen, "%s is out of range %ld..%ld",
				      value, k->lmin, k->lmax);
			return -1;
		}
		*(long *)config_field(c, k) = l;
		return 0;

	case KEY_DOUBLE:
		rc = parse_double(value, &d);
		if (rc == -1) {
			config_seterr(why, whylen, "'%s' is not a number", value);
			return -1;
		}
		if (rc == -2 || d < k->dmin || d > k->dmax) {
			config_seterr(why, whylen, "%s is out of range %g..%g",
				      value, k->dmin, k->dmax);
			return -1;
		}
		*(double *)config_field(c, k) = d;
		return 0;

	case KEY_BYTES:
	case KEY_DURATION:
		if (*value == '\0' && (k->flags & KEY_EMPTY_OK))
			value = "0";
		rc = k->type == KEY_BYTES ? parse_bytes(value, &d) :
					    parse_duration(value, &d);
		if (rc == -1) {
			config_seterr(why, whylen, k->type == KEY_BYTES ?
				      "'%s' is not a size (bytes, or e.g. 64MB, 1GB)" :
				      "'%s' is not a duration (seconds, or e.g. 90s, "
				      "30m, 1h30m)", value);
			return -1;
		}
		if (rc == -2 || d < k->dmin || d > k->dmax) {
			config_seterr(why, whylen, "%s is out of range", value);
			return -1;
		}
		*(double *)config_field(c, k) = d;
		return 0;

	case KEY_BOOL:
		if (parse_bool(value, &b) < 0) {
			config_seterr(why, whylen,
				      "'%s' is not true/false, yes/no, on/off or 1/0",
				      value);
			return -1;
		}
		*(bool *)config_field(c, k) = b;
		return 0;

	case KEY_LOGLEVEL:
		if (log_level_parse(value, &level) < 0) {
			config_seterr(why, whylen,
				      "'%s' is not error, warn, info or debug",
				      value);
			return -1;
		}
		return set_string(config_field(c, k), value, why, whylen);
	}
	config_seterr(why, whylen, "unhandled key type");
	return -1;
}

/*
 * Checks a field that code (not a parser) may have set: ranges and
 * presence of keys that have a default. Returns 0 or -1 with a reason.
 */
static int config_check_field(const struct config *c, const struct key_def *k,
			      char *why, size_t whylen)
{
	long l;
	double d;
	const char *s;
	enum log_level level;

	switch (k->type) {
	case KEY_STRING:
		if (k->def != NULL && *(char *const *)config_cfield(c, k) == NULL) {
			config_seterr(why, whylen, "not set");
			return -1;
		}
		return 0;
	case KEY_LONG:
		l = *(const long *)config_cfield(c, k);
		if (l < k->lmin || l > k->lmax) {
			config_seterr(why, whylen, "%ld is out of range %ld..%ld",
				      l, k->lmin, k->lmax);
			return -1;
		}
		return 0;
	case KEY_DOUBLE:
	case KEY_BYTES:
	case KEY_DURATION:
		d = *(const double *)config_cfield(c, k);
		if (!(d >= k->dmin && d <= k->dmax)) {
			config_seterr(why, whylen, "%g is out of range %g..%g",
				      d, k->dmin, k->dmax);
			return -1;
		}
		return 0;
	case KEY_BOOL:
		return 0;
	case KEY_LOGLEVEL:
		s = *(char *const *)config_cfield(c, k);
		if (log_level_parse(s, &level) < 0) {
			config_seterr(why, whylen, "'%s' is not error, warn, info or debug",
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
	for (i = 0; i < config_nkeys; i++) {
		/* Defaults are known good; only malloc can fail here, and
		 * config_validate() reports a default left unset. */
		if (config_keys[i].def != NULL)
			(void)config_set_value(c, &config_keys[i], config_keys[i].def, why,
					       sizeof(why));
	}
}

void config_free_key_columns(struct config *c)
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

	for (i = 0; i < config_nkeys; i++) {
		if (config_key_is_string(&config_keys[i]))
			free(*(char **)config_field(c, &config_keys[i]));
	}
	config_free_key_columns(c);
	memset(c, 0, sizeof(*c));
}

enum config_result config_set(struct config *c, const char *name,
			      const char *value, char *err, size_t errlen)
{
	const struct key_def *k = config_find_key(name);
	char why[CONFIG_ERR_LEN];

	if (k == NULL) {
		const char *hint = config_removed_key(name, strlen(name));

		config_seterr(err, errlen, "unknown key '%s'%s%s", name, hint ? ": " : "",
			      hint ? hint : "");
		return CONFIG_INVALID;
	}
	if (config_set_value(c, k, value, why, sizeof(why)) < 0) {
		config_seterr(err, errlen, "%s: %s", k->name, why);
		return CONFIG_INVALID;
	}
	return CONFIG_OK;
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
			config_seterr(err, errlen, "--key: empty column name in '%s'",
				      c->key);
			goto fail;
		}
		if (c->nkeys == CONFIG_MAX_KEYS) {
			config_seterr(err, errlen, "--key: more than %d columns",
				      CONFIG_MAX_KEYS);
			goto fail;
		}
		name = strndup(p, len);
		if (name == NULL) {
			config_seterr(err, errlen, "--key: out of memory");
			goto fail;
		}
		for (j = 0; j < c->nkeys; j++) {
			if (strcmp(c->key_columns[j], name) == 0) {
				config_seterr(err, errlen,
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
	config_free_key_columns(c);
	return CONFIG_INVALID;
}

enum config_result config_validate(struct config *c, char *err, size_t errlen)
{
	char why[CONFIG_ERR_LEN];
	int start, end;
	size_t i;

	config_free_key_columns(c);
	config_seterr(err, errlen, "%s", "");

	/* Missing target: the command line is incomplete (usage, 64). */
	if (c->table == NULL || c->table[0] == '\0') {
		config_seterr(err, errlen,
			      "missing --table (or 'table' in the job file)");
		return CONFIG_USAGE_ERROR;
	}
	if (c->column == NULL || c->column[0] == '\0') {
		config_seterr(err, errlen,
			      "missing --column (or 'column' in the job file)");
		return CONFIG_USAGE_ERROR;
	}

	/* Values are config errors (78): restarting cannot fix them. */
	for (i = 0; i < config_nkeys; i++) {
		if (config_check_field(c, &config_keys[i], why, sizeof(why)) < 0) {
			config_seterr(err, errlen, "--%s: %s", config_keys[i].name, why);
			return CONFIG_INVALID;
		}
	}
	if (nanoid_check_size(c->size, why, sizeof(why)) < 0) {
		config_seterr(err, errlen, "--size: %s", why);
		return CONFIG_INVALID;
	}
	if (nanoid_check_alphabet(c->alphabet, why, sizeof(why)) < 0) {
		config_seterr(err, errlen, "--alphabet: %s", why);
		return CONFIG_INVALID;
	}
	if (nanoid_check_prefix(c->prefix, why, sizeof(why)) < 0) {
		config_seterr(err, errlen, "--prefix: %s", why);
		return CONFIG_INVALID;
	}
	if (c->max_latency_increase > 0 && c->max_latency_increase <= 1) {
		/* A ratio to the probe's fastest latency: at 1 or under, every
		 * probe would count as harm. */
		config_seterr(err, errlen, "--max-latency-increase: %g is not more than 1 "
			      "(it is a ratio: 1.5 allows 50%% slower; 0 turns the pace off)",
			      c->max_latency_increase);
		return CONFIG_INVALID;
	}
	if (hours_parse(c->active_hours, &start, &end, why, sizeof(why)) < 0) {
		config_seterr(err, errlen, "--active-hours: %s", why);
		return CONFIG_INVALID;
	}
	if (c->pause_file != NULL && strlen(c->pause_file) >= PATH_MAX) {
		config_seterr(err, errlen, "--pause-file: longer than %d bytes",
			      PATH_MAX - 1);
		return CONFIG_INVALID;
	}
	if (!bar_setting_valid(c->progress)) {
		config_seterr(err, errlen, "--progress: '%s' is not auto, bar or lines",
			      c->progress);
		return CONFIG_INVALID;
	}
	if (strcmp(c->order, "key") != 0 && strcmp(c->order, "physical") != 0 &&
	    strcmp(c->order, "auto") != 0) {
		config_seterr(err, errlen, "--order: '%s' is not key, physical or auto",
			      c->order);
		return CONFIG_INVALID;
	}
	if (plan_format_find(c->format) == NULL) {
		config_seterr(err, errlen, "--format: '%s' is not one of %s",
			      c->format, plan_format_names());
		return CONFIG_INVALID;
	}
	return split_key(c, err, errlen);
}
