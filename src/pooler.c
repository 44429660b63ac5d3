/*
 * pooler.c - tell a session from a pooler's transaction slot.
 *
 * Two connections, A and B, take turns asking which server backend answers
 * them. A backend is named by its pid and its postmaster's start time, so
 * two servers behind one conninfo (a host list) cannot be taken for one.
 * A session keeps its backend for life, and no other live session can be
 * answered by it; so either of these proves a pooler that hands backends
 * out per transaction (or per statement):
 *
 *   - one connection is answered by two backends;
 *   - both connections are answered by the same backend.
 *
 * Every probe is one autocommit statement, and only one is in flight at a
 * time: a transaction pooler needs a single server for the whole check
 * (it never waits on itself, even with pool_size = 1), and a statement
 * pooler, which refuses transaction blocks, answers it like any other. The
 * order A, B, A, A, B catches both of PgBouncer's ways of reusing idle
 * servers: last in, first out (B gets the server A just released) and
 * round robin (A's second statement gets another server than its first).
 * It is repeated so that other clients of the same pool taking servers in
 * between do not hide the pooler by chance. None of this can report a
 * direct connection or session pooling as transaction pooling.
 *
 * The probes change nothing on the server: no SET, no prepared statement,
 * no lock, and both connections are closed before returning.
 */
#include "pooler.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "pgconn.h"

/* How the check's connections show in pg_stat_activity and server logs. */
#define POOLER_APPNAME "nanoid-backfill pooler check"
/* What one connection may take without connect_timeout set. */
#define POOLER_WAIT_S 10
#define POOLER_ROUNDS 3

/* The backend that answers: "pid@postmaster start in microseconds". */
static const char probe_sql[] =
	"SELECT pg_backend_pid()::text || '@' ||"
	" (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint::text";

struct probe {
	const char *name;            /* "A" or "B", for debug lines */
	PGconn *conn;
	char first[64];              /* the backend of its first answer */
	double deadline;             /* the whole check's, CLOCK_MONOTONIC */
	double limit;                /* its length in seconds, for messages */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Seconds one connection may take: connect_timeout as libpq resolved it
 * (conninfo, PGCONNECT_TIMEOUT or a service file; libpq makes anything
 * below 2 into 2), else POOLER_WAIT_S. A nonblocking connection does not
 * enforce it itself, and a query waiting in a pooler's queue for a free
 * server has no other bound than the pooler's (query_wait_timeout: 120 s
 * in PgBouncer), so the check keeps its own deadline.
 */
static double wait_limit(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn);
	double t = POOLER_WAIT_S;

	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && o->val[0]) {
			long v = strtol(o->val, NULL, 10);

			if (v > 0)
				t = v < 2 ? 2 : (double)v;
		}
	}
	PQconninfoFree(opts);
	return t;
}

/* Waits until conn's socket is ready to read (or write). 0, or -1 past
 * the deadline or on a poll error. */
static int wait_socket(PGconn *conn, bool write, double deadline)
{
	struct pollfd p = { .fd = PQsocket(conn), .events = write ? POLLOUT : POLLIN };

	if (p.fd < 0)
		return -1;
	for (;;) {
		double left = deadline - now_s();
		int r;

		if (left <= 0)
			return -1;
		r = poll(&p, 1, left > 1 ? 1000 : (int)(left * 1000) + 1);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static void conn_error(PGconn *conn, const char *what, char *err, size_t errlen)
{
	char msg[512];

	snprintf(err, errlen, "pooler check: %s: %s", what,
		 pgconn_error(conn, NULL, msg, sizeof msg));
}

/* Starts p's connection; -1 with one line in err if libpq refuses at once. */
static int probe_start(struct probe *p, const char *conninfo, char *err, size_t errlen)
{
	/* A name of its own, so the check's connections are recognisable
	 * whatever the workers are called. */
	struct pgconn_params params;

	pgconn_params(&params, conninfo, POOLER_APPNAME);
	p->conn = PQconnectStartParams(params.keywords, params.values, 1);
	if (p->conn == NULL) {
		snprintf(err, errlen, "pooler check: cannot connect to the database: out of memory");
		return -1;
	}
	if (PQstatus(p->conn) == CONNECTION_BAD) {
		conn_error(p->conn, "cannot connect to the database", err, errlen);
		return -1;
	}
	PQsetNoticeProcessor(p->conn, pgconn_log_notice, NULL);
	return 0;
}

/* Completes p's connection by deadline; -1 with one line in err. */
static int probe_connect(struct probe *p, char *err, size_t errlen)
{
	/* Per the libpq docs: start as if PQconnectPoll had said WRITING. */
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			conn_error(p->conn, "cannot connect to the database", err, errlen);
			return -1;
		}
		if (wait_socket(p->conn, st == PGRES_POLLING_WRITING, p->deadline) != 0) {
			snprintf(err, errlen, "pooler check: cannot connect to the database: "
				 "no connection within %.0f s", p->limit);
			return -1;
		}
		st = PQconnectPoll(p->conn);
	}
	return 0;
}

/*
 * Asks p which backend answers: the key into key. 0, or -1 with one line
 * in err (a failed statement, a lost connection, no answer in time).
 */
static int probe_ask(struct probe *p, char *key, size_t keylen, char *err, size_t errlen)
{
	PGresult *res, *keep = NULL;
	int flushed;
	char msg[512];

	if (!PQsendQuery(p->conn, probe_sql)) {
		conn_error(p->conn, "cannot send its query", err, errlen);
		return -1;
	}
	while ((flushed = PQflush(p->conn)) == 1)
		if (wait_socket(p->conn, true, p->deadline) != 0)
			goto timeout;
	if (flushed < 0) {
		conn_error(p->conn, "cannot send its query", err, errlen);
		return -1;
	}
	for (;;) {
		while (PQisBusy(p->conn)) {
			if (wait_socket(p->conn, false, p->deadline) != 0)
				goto timeout;
			if (!PQconsumeInput(p->conn)) {
				PQclear(keep);
				conn_error(p->conn, "lost the connection", err, errlen);
				return -1;
			}
		}
		res = PQgetResult(p->conn);
		if (res == NULL)
			break;
		if (keep == NULL)
			keep = res;     /* the first result: the answer, or the error */
		else
			PQclear(res);
	}
	if (keep == NULL || PQstatus(p->conn) != CONNECTION_OK) {
		PQclear(keep);
		conn_error(p->conn, "lost the connection", err, errlen);
		return -1;
	}
	if (PQresultStatus(keep) != PGRES_TUPLES_OK || PQntuples(keep) != 1 ||
	    PQnfields(keep) != 1 || PQgetisnull(keep, 0, 0)) {
		if (PQresultStatus(keep) == PGRES_TUPLES_OK)
			snprintf(msg, sizeof msg, "unexpected answer (%d rows)", PQntuples(keep));
		else
			pgconn_result_error(keep, msg, sizeof msg);
		snprintf(err, errlen, "pooler check: %s", msg);
		PQclear(keep);
		return -1;
	}
	snprintf(key, keylen, "%s", PQgetvalue(keep, 0, 0));
	PQclear(keep);
	return 0;
timeout:
	PQclear(keep);
	/* A pooler with no free server keeps a query waiting. */
	snprintf(err, errlen, "pooler check: no answer within %.0f s (a pooler with no "
		 "free server connection?)", p->limit);
	return -1;
}

/*
 * One probe of p. 1 if its backend shows a transaction pooler (another
 * than its first, or the other connection's), 0 if not, -1 on an error.
 */
static int probe_turn(struct probe *p, const struct probe *other,
		      char *err, size_t errlen)
{
	char key[64];

	if (probe_ask(p, key, sizeof key, err, errlen) != 0)
		return -1;
	log_debug("pooler check: connection %s answered by backend %s", p->name, key);
	if (p->first[0] == '\0')
		snprintf(p->first, sizeof p->first, "%s", key);
	if (strcmp(key, p->first) != 0) {
		log_debug("pooler check: connection %s was first answered by backend %s",
			  p->name, p->first);
		return 1;
	}
	if (other->first[0] != '\0' && strcmp(key, other->first) == 0) {
		log_debug("pooler check: connection %s is answered by connection %s's backend",
			  p->name, other->name);
		return 1;
	}
	return 0;
}

enum pooler_result pooler_check(const char *conninfo, char *err, size_t errlen)
{
	struct probe a = { .name = "A" }, b = { .name = "B" };
	/* The order of turns within a round: see the top of the file. */
	struct probe *const turns[] = { &a, &b, &a, &a, &b };
	enum pooler_result result = POOLER_UNKNOWN;

	if (probe_start(&a, conninfo, err, errlen) != 0)
		goto out;
	/* The whole check: twice what one connection may take. */
	a.limit = b.limit = 2 * wait_limit(a.conn);
	a.deadline = b.deadline = now_s() + a.limit;
	if (probe_connect(&a, err, errlen) != 0 ||
	    probe_start(&b, conninfo, err, errlen) != 0 ||
	    probe_connect(&b, err, errlen) != 0)
		goto out;
	result = POOLER_SESSION;
	for (int round = 0; round < POOLER_ROUNDS && result == POOLER_SESSION; round++) {
		for (size_t i = 0; i < sizeof turns / sizeof turns[0]; i++) {
			struct probe *p = turns[i];
			int r = probe_turn(p, p == &a ? &b : &a, err, errlen);

			if (r < 0) {
				result = POOLER_UNKNOWN;
				break;
			}
			if (r > 0) {
				result = POOLER_TRANSACTION;
				snprintf(err, errlen, "the connection goes through a pooler in "
					 "transaction or statement mode (its statements run in "
					 "changing server sessions); the backfill keeps session "
					 "locks and prepared statements: connect directly or with "
					 "session pooling (PgBouncer: pool_mode = session)");
				break;
			}
		}
	}
out:
	PQfinish(a.conn);
	PQfinish(b.conn);
	return result;
}
