/*
 * pgconn.h - the libpq layer under both sides: the run's asynchronous
 * connections (conn.h), the one-shot commands' blocking ones (db.h) and
 * the pooler check (pooler.h).
 *
 * How to connect (the parameters), what went wrong (one-line error texts,
 * the SQLSTATE), names in SQL (identifier quoting), and why a connection
 * could not be had. That last is told by libpq's codes - PQconninfoParse,
 * PQstatus, PQpingParams - never by its message text: libpq words its
 * messages differently across versions and translates them, so a text
 * match would turn an unreachable server into a configuration error once
 * the messages come out in another language.
 */
#ifndef NB_PGCONN_H
#define NB_PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#define PGCONN_APPLICATION_NAME "nanoid-backfill"

/*
 * Connect parameters for PQconnectdbParams / PQconnectStartParams /
 * PQpingParams, with expand_dbname = 1: "dbname" carries the whole dsn (a
 * conninfo string, a URI, or a bare database name: libpq tells which;
 * NULL or "": libpq's PG* environment).
 */
struct pgconn_params {
	const char *keywords[3];
	const char *values[3];
};

/*
 * Fills p for dsn. application_name NULL: "nanoid-backfill" unless the
 * dsn sets its own (fallback_application_name); otherwise this name, over
 * the dsn's (a check's connections recognisable whatever the workers are
 * called). The strings are not copied: they must outlive p's use.
 */
void pgconn_params(struct pgconn_params *p, const char *dsn,
		   const char *application_name);

/* What a dsn is, for a connection that could not be had. */
enum pgconn_dsn {
	PGCONN_DSN_OK,          /* libpq would try it: a failure is the
	                         * server's or the network's (exit 1) */
	PGCONN_DSN_MALFORMED,   /* PQconninfoParse refuses it (exit 78) */
	PGCONN_DSN_REJECTED,    /* it parses, but libpq would not try it: an
	                         * option value it rejects (sslmode=bogus),
	                         * a port that is not a number (exit 78) */
};

/*
 * Classifies dsn (NULL: the environment) after a connection failed. A
 * bare word is a database name (expand_dbname), never malformed. For
 * PGCONN_DSN_MALFORMED, libpq's parse error (it names the bad part, never
 * a password's value) goes to err as one line; err is untouched
 * otherwise. Blocking, but only as long as libpq's PQpingParams takes to
 * refuse, or to fail as the connection did: call it after a failure, not
 * before every connect.
 */
enum pgconn_dsn pgconn_classify_dsn(const char *dsn, char *err, size_t errlen);

/*
 * Like pgconn_classify_dsn, but only the parse (no PQpingParams, no
 * network): 0, or -1 with the parse error in err, for a check before
 * any connection is made.
 */
int pgconn_parse_dsn(const char *dsn, char *err, size_t errlen);

/* Makes s one line: newlines and tabs become blanks, trailing blanks go. */
void pgconn_flatten(char *s);

/* conn's last error (PQerrorMessage) as one line in buf; "" if none. */
const char *pgconn_conn_error(const PGconn *conn, char *buf, size_t len);

/*
 * One line for a failed result: the primary message, then "; detail" if
 * the server sent one. Written to buf, which is returned.
 */
const char *pgconn_result_error(const PGresult *res, char *buf, size_t len);

/*
 * One line saying why a statement failed: res's error, or for res NULL
 * conn's ("no connection" for conn NULL, "connection lost" when libpq
 * has no message). Written to buf, which is returned.
 */
const char *pgconn_error(const PGconn *conn, const PGresult *res, char *buf,
			 size_t len);

/* SQLSTATE of a result ("" if none, or res is NULL): for retry.h. */
const char *pgconn_sqlstate(const PGresult *res);

/*
 * A notice processor (PQsetNoticeProcessor) that logs server notices
 * ("... already exists, skipping") at debug level instead of libpq's
 * default of printing them raw on stderr. arg is unused.
 */
void pgconn_log_notice(void *arg, const char *message);

/*
 * Quotes an identifier for conn with PQescapeIdentifier into a string the
 * caller free()s. NULL if out of memory or the name is invalid in the
 * connection's encoding.
 */
char *pgconn_quote(PGconn *conn, const char *name);

/*
 * Quotes an identifier without a connection, as PostgreSQL's quote_ident
 * would if it always quoted: "name" with every " doubled. Always valid
 * SQL, whatever the name holds. The caller free()s the result; NULL if
 * out of memory.
 */
char *pgconn_quote_ident(const char *name);

/*
 * Quotes a string literal without a connection: E'...' with every quote
 * and backslash doubled, so it means s whatever
 * standard_conforming_strings is. For the few values DDL cannot take as
 * parameters (a function body's constants). The caller free()s the
 * result; NULL if out of memory.
 */
char *pgconn_quote_literal(const char *s);

#endif
