/*
 * pgtext.h - text built from parts: SQL from quoted identifiers
 * (pgconn_quote), lists for log lines. No libpq calls of its own.
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

/*
 * A dollar-quote tag ("$nb$", else "$nb1$", ...) that body does not hold,
 * so that text in the body (a prefix, a name) can never end the quote.
 * len: at least 16.
 */
void pgtext_dollar_tag(char *tag, size_t len, const char *body);

/* Writes "a, b, c" (n items) to buf, cut short if it does not fit. */
void pgtext_join(char *buf, size_t len, char *const *items, int n);

#endif
