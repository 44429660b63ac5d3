/*
 * retry.c - the SQLSTATE table and the backoff; see retry.h.
 */
#include "retry.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include <sodium.h>

/*
 * Exact codes first: a row of five characters matches its code, a row of
 * two its whole class, and the first match wins (23505 before 23).
 */
static const struct rule {
	const char *code;
	enum retry_class cls;
	enum retry_action engine;
	enum retry_action oneshot;
} rules[] = {
	{ "",      RETRY_CLASS_NO_SQLSTATE,     RETRY_RECONNECT, RETRY_FAIL },
	{ "55P03", RETRY_CLASS_LOCK_TIMEOUT,    RETRY_AGAIN,     RETRY_AGAIN },
	{ "40P01", RETRY_CLASS_DEADLOCK,        RETRY_AGAIN,     RETRY_AGAIN },
	{ "57014", RETRY_CLASS_CANCELED,        RETRY_AGAIN,     RETRY_FAIL },
	{ "40001", RETRY_CLASS_SERIALIZATION,   RETRY_AGAIN,     RETRY_FAIL },
	{ "23505", RETRY_CLASS_UNIQUE,          RETRY_AGAIN,     RETRY_FAIL },
	{ "23514", RETRY_CLASS_CHECK,           RETRY_FAIL,      RETRY_FAIL },
	{ "23",    RETRY_CLASS_INTEGRITY,       RETRY_FAIL,      RETRY_FAIL },
	{ "57P01", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "57P02", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "57P03", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "08",    RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "42P01", RETRY_CLASS_UNDEFINED_TABLE, RETRY_CONFIG,    RETRY_CONFIG },
	{ "42",    RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_CONFIG },
	{ "0A",    RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_FAIL },
	{ "3F",    RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_FAIL },
	{ "22",    RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_FAIL },
};

static const struct rule *find(const char *sqlstate)
{
	const char *s = sqlstate != NULL ? sqlstate : "";

	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		const struct rule *r = &rules[i];
		size_t n = strlen(r->code);

		if (n == 2 ? strncmp(s, r->code, 2) == 0 : strcmp(s, r->code) == 0)
			return r;
	}
	return NULL;
}

enum retry_class retry_classify(const char *sqlstate)
{
	const struct rule *r = find(sqlstate);

	return r != NULL ? r->cls : RETRY_CLASS_OTHER;
}

enum retry_action retry_action(enum retry_context ctx, const char *sqlstate)
{
	const struct rule *r = find(sqlstate);

	if (r == NULL)
		return RETRY_FAIL;
	return ctx == RETRY_ENGINE ? r->engine : r->oneshot;
}

double retry_backoff(struct retry_policy p, int retries, double jitter)
{
	double d = p.first;

	/* Doubling up to the cap, not pow(): no overflow whatever retries. */
	for (int i = 0; i < retries && d < p.max; i++)
		d *= 2;
	if (d > p.max)
		d = p.max;
	if (!(jitter >= 0))
		jitter = 0;
	if (jitter > 1)
		jitter = 1;
	return d / 2 + d / 2 * jitter;
}

long retry_backoff_ms(struct retry_policy p, int retries, double jitter)
{
	return lround(retry_backoff(p, retries, jitter) * 1000.0);
}

double retry_jitter(void)
{
	return randombytes_uniform(1001) / 1000.0;
}
