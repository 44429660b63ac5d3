/*
 * conn.c - one nonblocking libpq connection on the libev loop.
 *
 * The protocol with libpq (see "Asynchronous Command Processing" in the
 * libpq docs): after PQsend*, call PQflush until it returns 0, waiting for
 * write-readiness while it returns 1; when the socket is readable, call
 * PQconsumeInput and then PQgetResult while !PQisBusy, until it returns
 * NULL. A conn watches for write only while libpq has output queued, so
 * an idle connection costs no wakeups. A chain runs in pipeline mode,
 * entered for it alone (the simple protocol's statements the conn also
 * sends are refused there): each statement's results end with a NULL of
 * their own, and the chain's with the sync's PGRES_PIPELINE_SYNC; the
 * NULL PQgetResult gives after that (it does because nothing is queued
 * past the sync) is when the conn leaves pipeline mode.
 */
#include "conn.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pgconn.h"

const char *conn_error(struct conn *w)
{
	char msg[sizeof w->errbuf];

	/* libpq's message while there is one; after the close, the last. */
	if (w->conn && pgconn_conn_error(w->conn, msg, sizeof msg)[0] != '\0')
		memcpy(w->errbuf, msg, sizeof msg);
	else if (w->errbuf[0] == '\0')
		snprintf(w->errbuf, sizeof w->errbuf, "unknown error");
	return w->errbuf;
}

/* Point the watcher at the connection's current socket and wanted events. */
static void watch(struct conn *w, bool want_read)
{
	int fd = PQsocket(w->conn);
	int events = (want_read ? EV_READ : 0) | (w->want_write ? EV_WRITE : 0);

	if (ev_is_active(&w->io) && (w->io.fd != fd || w->io.events != events))
		ev_io_stop(w->loop, &w->io);
	if (fd < 0 || events == 0)
		return;
	if (!ev_is_active(&w->io)) {
		ev_io_set(&w->io, fd, events);
		ev_io_start(w->loop, &w->io);
	}
}

static void lost(struct conn *w)
{
	/* Keep libpq's message: conn_error() reads it before the close. */
	conn_error(w);
	if (ev_is_active(&w->io))
		ev_io_stop(w->loop, &w->io);
	if (w->pending) {
		PQclear(w->pending);
		w->pending = NULL;
	}
	PQfinish(w->conn);
	w->conn = NULL;
	w->state = CONN_DISCONNECTED;
	w->want_write = false;
	w->chain = false;
	w->on_result(w, NULL);
}

static void connect_step(struct conn *w)
{
	switch (PQconnectPoll(w->conn)) {
	case PGRES_POLLING_READING:
		w->want_write = false;
		watch(w, true);
		return;
	case PGRES_POLLING_WRITING:
		w->want_write = true;
		watch(w, false);
		return;
	case PGRES_POLLING_OK:
		w->want_write = false;
		if (PQsetnonblocking(w->conn, 1) != 0)
			break;
		w->state = CONN_IDLE;
		watch(w, false);
		w->on_connect(w, true, NULL);
		return;
	default:
		break;
	}
	conn_error(w);
	if (ev_is_active(&w->io))
		ev_io_stop(w->loop, &w->io);
	PQfinish(w->conn);
	w->conn = NULL;
	w->state = CONN_DISCONNECTED;
	w->on_connect(w, false, w->errbuf);
}

/* Collect every result that has fully arrived; finish the query on NULL. */
static void read_results(struct conn *w)
{
	while (!PQisBusy(w->conn)) {
		PGresult *res = PQgetResult(w->conn);

		if (!res) {
			PGresult *done;

			/* In a chain, NULL ends one statement's results; the
			 * chain's own end is the NULL once its sync is read
			 * (the queue is empty then). Two NULLs in a row before
			 * it: libpq gave up on the connection (it returns NULL
			 * from then on), which must not spin here. */
			if (w->chain && !w->synced) {
				if (w->chain_null || PQstatus(w->conn) == CONNECTION_BAD) {
					lost(w);
					return;
				}
				w->chain_null = true;
				continue;
			}
			if (w->chain) {
				w->chain = false;
				if (!PQexitPipelineMode(w->conn)) {
					lost(w);
					return;
				}
			}
			done = w->pending;
			w->pending = NULL;
			w->state = CONN_IDLE;
			watch(w, false);
			w->on_result(w, done);
			PQclear(done);
			return;
		}
		w->chain_null = false;
		/* The sync, and the statements an error kept from running:
		 * no result of their own. */
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC ||
		    PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
			w->synced |= PQresultStatus(res) == PGRES_PIPELINE_SYNC;
			PQclear(res);
			continue;
		}
		/* Keep the first error; otherwise the latest result. */
		if (w->pending && PQresultStatus(w->pending) == PGRES_FATAL_ERROR)
			PQclear(res);
		else {
			PQclear(w->pending);
			w->pending = res;
		}
	}
	watch(w, true);
}

static void flush(struct conn *w)
{
	int r = PQflush(w->conn);

	if (r < 0) {
		lost(w);
		return;
	}
	w->want_write = r == 1;
	watch(w, true);
}

static void io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct conn *w = io->data;

	(void)loop;
	if (w->state == CONN_CONNECTING) {
		connect_step(w);
		return;
	}
	if (w->state != CONN_BUSY) {
		/* Idle: a notice, or the server closing the connection. */
		if (PQconsumeInput(w->conn) == 0 || PQstatus(w->conn) == CONNECTION_BAD) {
			log_warn("worker %d: connection lost while idle: %s",
				 w->id, conn_error(w));
			if (ev_is_active(&w->io))
				ev_io_stop(w->loop, &w->io);
			PQfinish(w->conn);
			w->conn = NULL;
			w->state = CONN_DISCONNECTED;
		}
		return;
	}
	if (revents & EV_READ) {
		if (PQconsumeInput(w->conn) == 0) {
			lost(w);
			return;
		}
	}
	if (w->want_write || (revents & EV_WRITE)) {
		flush(w);
		if (w->state != CONN_BUSY)
			return;
	}
	read_results(w);
}

void conn_init(struct conn *w, struct ev_loop *loop, int id,
		 conn_connect_cb on_connect, conn_result_cb on_result,
		 void *data)
{
	memset(w, 0, sizeof *w);
	w->loop = loop;
	w->id = id;
	w->on_connect = on_connect;
	w->on_result = on_result;
	w->data = data;
	w->state = CONN_DISCONNECTED;
	ev_init(&w->io, io_cb);
	w->io.data = w;
}

int conn_connect(struct conn *w, const char *dsn)
{
	struct pgconn_params p;

	conn_close(w);
	w->errbuf[0] = '\0';
	pgconn_params(&p, dsn, NULL);
	w->conn = PQconnectStartParams(p.keywords, p.values, 1);
	if (!w->conn) {
		snprintf(w->errbuf, sizeof w->errbuf, "out of memory");
		return -1;
	}
	if (PQstatus(w->conn) == CONNECTION_BAD) {
		conn_error(w);
		PQfinish(w->conn);
		w->conn = NULL;
		return -1;
	}
	PQsetNoticeProcessor(w->conn, pgconn_log_notice, NULL);
	w->state = CONN_CONNECTING;
	/* Per the libpq docs: behave as if PQconnectPoll said WRITING. */
	w->want_write = true;
	watch(w, false);
	return 0;
}

/*
 * After a PQsend*: a failure here is reported by the return value, never by
 * calling back into the caller that is still inside conn_send.
 */
static int sent(struct conn *w, int ok)
{
	int r;

	if (!ok || (r = PQflush(w->conn)) < 0) {
		conn_error(w);
		return -1;
	}
	w->state = CONN_BUSY;
	w->want_write = r == 1;
	watch(w, true);
	return 0;
}

int conn_send(struct conn *w, const char *sql, int nparams,
		const Oid *types, const char *const *values,
		const int *lengths, const int *formats)
{
	if (nparams == 0 && !types)
		return sent(w, PQsendQuery(w->conn, sql));
	return sent(w, PQsendQueryParams(w->conn, sql, nparams, types, values,
					 lengths, formats, 0));
}

int conn_send_prepare(struct conn *w, const char *name, const char *sql,
			int nparams, const Oid *types)
{
	return sent(w, PQsendPrepare(w->conn, name, sql, nparams, types));
}

int conn_send_prepared(struct conn *w, const char *name, int nparams,
			 const char *const *values, const int *lengths,
			 const int *formats)
{
	return sent(w, PQsendQueryPrepared(w->conn, name, nparams, values,
					   lengths, formats, 0));
}

int conn_send_chain(struct conn *w, const struct conn_query *q, int n)
{
	if (!PQenterPipelineMode(w->conn)) {
		conn_error(w);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int ok = q[i].prepare ?
			PQsendPrepare(w->conn, q[i].name, q[i].sql, q[i].nparams, q[i].types) :
			q[i].sql ?
			PQsendQueryParams(w->conn, q[i].sql, q[i].nparams, q[i].types,
					  q[i].values, q[i].lengths, q[i].formats, 0) :
			PQsendQueryPrepared(w->conn, q[i].name, q[i].nparams, q[i].values,
					    q[i].lengths, q[i].formats, 0);

		/* Part of the chain may be on its way: the caller gives the
		 * connection up (a failed send is a lost connection to it). */
		if (!ok)
			return sent(w, 0);
	}
	if (!PQpipelineSync(w->conn))
		return sent(w, 0);
	w->chain = true;
	w->synced = false;
	w->chain_null = false;
	return sent(w, 1);
}

void conn_close(struct conn *w)
{
	if (ev_is_active(&w->io))
		ev_io_stop(w->loop, &w->io);
	if (w->pending) {
		PQclear(w->pending);
		w->pending = NULL;
	}
	if (w->conn) {
		PQfinish(w->conn);
		w->conn = NULL;
	}
	w->state = CONN_DISCONNECTED;
	w->want_write = false;
	w->chain = false;
}
