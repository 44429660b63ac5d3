/*
 * db.h - small blocking libpq helpers for the one-shot commands: plan,
 * finalize, verify, and the --add-column and --finalize steps of a run.
 *
 * The service loop never uses these (it stays nonblocking, conn.h). A
 * one-shot command may block, but it can still be stopped: after
 * db_catch_signals(), SIGINT/SIGTERM only set a flag, and db_exec() then
 * cancels the statement in flight on the server (a CREATE INDEX
 * CONCURRENTLY that runs for an hour must not outlive a Ctrl-C), so the
 * caller can clean up and exit with one line.
 */
#ifndef NB_DB_H
#define NB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "pgconn.h"

/*
 * Connects with dsn (pgconn_params: a conninfo string, URI or database
 * name; NULL: libpq's PG* environment), application_name
 * "nanoid-backfill" unless the dsn sets one. Returns the connection, or NULL with one line in err
 * ("cannot connect to the database: ..."; libpq never echoes a password).
 */
PGconn *db_connect(const char *dsn, char *err, size_t errlen);

/* Makes SIGINT and SIGTERM set the stop flag instead of ending the
 * process; db_release_signals() restores the default actions. */
void db_catch_signals(void);
void db_release_signals(void);

/* Whether SIGINT or SIGTERM arrived since db_catch_signals(). */
bool db_stopping(void);

/*
 * Runs sql (several statements separated by ';' when nparams is 0: the
 * server runs them as one implicit transaction) with text parameters.
 * Returns the first failed result if any, else the last one; the caller
 * PQclear()s it. Returns NULL if the query could not be sent or the
 * connection was lost (db_error(conn, NULL, ...) says why).
 * interruptible: if the stop flag is set while it runs, the statement is
 * cancelled on the server (the result is then an error, SQLSTATE 57014).
 */
PGresult *db_exec(PGconn *conn, const char *sql, int nparams,
		  const char *const *values, bool interruptible);

/* db_exec with PQexecParams' parameter types, lengths and formats
 * (binary parameters); results in text. */
PGresult *db_exec_params(PGconn *conn, const char *sql, int nparams,
			 const Oid *types, const char *const *values,
			 const int *lengths, const int *formats,
			 bool interruptible);

/* Whether res is a successful result (command or rows). NULL is not. */
bool db_ok(const PGresult *res);

/*
 * The planner's row count of schema.table and every partition or child
 * under it: EXPLAIN, so no row is read, and it exists without ANALYZE
 * (the planner scales by the relation's size). Run in a transaction of
 * its own with lock_timeout 5 s, so DDL holding the table makes it give
 * up rather than wait. Returns the count, or -1 (logged at debug) when it
 * cannot be had.
 */
double db_planned_rows(PGconn *conn, const char *schema, const char *table);

/*
 * Writes s to buf for a log line or a summary: printable ASCII and UTF-8
 * bytes as they are, control characters and DEL as \xHH, so a value can
 * never break a line or move the cursor. Truncated with "..." to fit.
 */
const char *db_display(const char *s, char *buf, size_t len);

/* Sleeps ms milliseconds, returning early once the stop flag is set. */
void db_sleep_ms(long ms);

#endif
