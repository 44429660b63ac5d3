/*
 * conn.h - one nonblocking libpq connection driven by the libev loop.
 *
 * A conn connects with PQconnectStartParams/PQconnectPoll and sends one
 * query at a time with the PQsend* functions; an ev_io watcher on
 * PQsocket() (re-read after every connect step, since libpq may switch
 * sockets while it tries hosts) wakes it when the socket is ready. It never
 * blocks the loop. When a query's last result has arrived, the conn calls
 * on_result once; what the query means is the caller's business. A chain
 * (conn_send_chain) is several statements sent as one query: one round
 * trip, one transaction, one on_result.
 */
#ifndef NB_CONN_H
#define NB_CONN_H

#include <stdbool.h>
#include <ev.h>
#include <libpq-fe.h>

struct conn;

/*
 * Called once when a connection attempt ends. ok is false if it failed;
 * then err is libpq's message flattened to one line.
 */
typedef void (*conn_connect_cb)(struct conn *w, bool ok, const char *err);

/*
 * Called once when the query sent last has completed. res is the query's
 * result: the first error result if any, else the last result. res is NULL
 * if the connection was lost; PQerrorMessage tells why (conn_error()).
 * The conn clears res after the callback returns; the callback may send
 * the next query.
 */
typedef void (*conn_result_cb)(struct conn *w, PGresult *res);

enum conn_state {
	CONN_DISCONNECTED,
	CONN_CONNECTING,
	CONN_IDLE,      /* connected, no query in flight */
	CONN_BUSY,      /* a query is in flight */
};

struct conn {
	struct ev_loop *loop;
	ev_io io;
	PGconn *conn;
	enum conn_state state;
	bool want_write;           /* PQflush has data left, or connect polls for write */
	int id;                    /* for log lines: worker 1, 2, ... */
	conn_connect_cb on_connect;
	conn_result_cb on_result;
	PGresult *pending;         /* result being collected */
	bool chain;                /* a chain is in flight (libpq's pipeline mode) */
	bool synced;               /* its sync has come back: its last result */
	bool chain_null;           /* the last result read in it was a NULL */
	void *data;                /* the caller's */
	char errbuf[512];
};

/* Sets up w on loop; nothing is connected yet. */
void conn_init(struct conn *w, struct ev_loop *loop, int id,
		 conn_connect_cb on_connect, conn_result_cb on_result,
		 void *data);

/*
 * Starts connecting with pgconn_params(dsn): a conninfo string, URI or
 * database name, or NULL for libpq's PG* environment; application_name
 * "nanoid-backfill" unless the dsn sets its own. Returns 0 if the attempt started (on_connect reports
 * the outcome later) or -1 if it could not (out of memory, bad conninfo);
 * then conn_error() says why. Any previous connection is closed first.
 */
int conn_connect(struct conn *w, const char *dsn);

/*
 * Send a query; the conn must be CONN_IDLE. Return 0 if sent (on_result
 * follows), -1 if libpq refused it (conn_error() says why; no callback
 * follows). Parameters follow PQsendQueryParams; results come in text format.
 */
int conn_send(struct conn *w, const char *sql, int nparams,
		const Oid *types, const char *const *values,
		const int *lengths, const int *formats);
int conn_send_prepare(struct conn *w, const char *name, const char *sql,
			int nparams, const Oid *types);
int conn_send_prepared(struct conn *w, const char *name, int nparams,
			 const char *const *values, const int *lengths,
			 const int *formats);

/* One statement of a chain: prepares name as sql (prepare, with types);
 * or runs sql, or else the prepared statement name, with values,
 * lengths, formats (and sql's types). */
struct conn_query {
	bool prepare;
	const char *name;
	const char *sql;
	int nparams;
	const Oid *types;
	const char *const *values;
	const int *lengths;
	const int *formats;
};

/*
 * Sends the n statements of q in one round trip, in one implicit
 * transaction (libpq's pipeline mode, one sync after the last): when one
 * fails, those after it do not run and the transaction rolls back. The
 * conn must be CONN_IDLE. on_result follows once, with the first error or
 * else the last statement's result. Returns as conn_send.
 */
int conn_send_chain(struct conn *w, const struct conn_query *q, int n);

/* Closes the connection (if any) and stops the watcher. Safe to repeat. */
void conn_close(struct conn *w);

/* libpq's last error for w, flattened to one line (no newline). */
const char *conn_error(struct conn *w);

#endif
