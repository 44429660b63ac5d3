/*
 * pgtext.h - text around libpq: SQL built from quoted identifiers, one-line
 * error messages, server notices. Shared by the async engine and the
 * blocking one-shot commands.
 */
#ifndef NB_PGTEXT_H
#define NB_PGTEXT_H

#include <stddef.h>
#include <libpq-fe.h>

/*
 * printf into a new malloc'ed string; NULL if out of memory. For SQL text
 * the arguments must be identifiers already quoted (PQescapeIdentifier) or
 * constants: values travel as parameters.
 */
char *pgtext_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Makes s one line: newlines and tabs become blanks, trailing blanks go. */
void pgtext_flatten(char *s);

/* Writes "a, b, c" (n items) to buf, cut short if it does not fit. */
void pgtext_join(char *buf, size_t len, char *const *items, int n);

/*
 * One line for a failed result: the primary message, then "; detail" if
 * the server sent one. Written to buf, which is returned.
 */
const char *pgtext_result_error(const PGresult *res, char *buf, size_t len);

/* SQLSTATE of a result ("" if none, or res is NULL). */
const char *pgtext_sqlstate(const PGresult *res);

/*
 * A notice processor (PQsetNoticeProcessor) that logs server notices
 * ("... already exists, skipping") at debug level instead of libpq's
 * default of printing them raw on stderr. arg is unused.
 */
void pgtext_log_notice(void *arg, const char *message);

#endif
