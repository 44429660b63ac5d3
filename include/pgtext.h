/*
 * pgtext.h - SQL text built from quoted identifiers.
 *
 * The error texts, SQLSTATE and notices that were here are pgconn.h's;
 * the old names below forward to it for the callers not yet moved, and
 * new code calls pgconn_* directly.
 */
#ifndef NB_PGTEXT_H
#define NB_PGTEXT_H

#include <stddef.h>

#include "pgconn.h"

/*
 * printf into a new malloc'ed string; NULL if out of memory. For SQL text
 * the arguments must be identifiers already quoted (PQescapeIdentifier) or
 * constants: values travel as parameters.
 */
char *pgtext_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* pgconn_flatten */
static inline void pgtext_flatten(char *s)
{
	pgconn_flatten(s);
}

/* Writes "a, b, c" (n items) to buf, cut short if it does not fit. */
void pgtext_join(char *buf, size_t len, char *const *items, int n);

/* pgconn_result_error */
static inline const char *pgtext_result_error(const PGresult *res, char *buf,
					      size_t len)
{
	return pgconn_result_error(res, buf, len);
}

/* pgconn_sqlstate */
static inline const char *pgtext_sqlstate(const PGresult *res)
{
	return pgconn_sqlstate(res);
}

/* pgconn_log_notice */
static inline void pgtext_log_notice(void *arg, const char *message)
{
	pgconn_log_notice(arg, message);
}

#endif
