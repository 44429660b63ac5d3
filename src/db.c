/*
 * db.c - blocking libpq helpers for the one-shot commands.
 */
#include "db.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pgconn.h"

static volatile sig_atomic_t stop_flag;

PGconn *db_connect(const char *dsn, char *err, size_t errlen)
{
	struct pgconn_params p;
	PGconn *conn;
	char msg[512];

	pgconn_params(&p, dsn, NULL);
	conn = PQconnectdbParams(p.keywords, p.values, 1);
	if (conn == NULL) {
		snprintf(err, errlen, "cannot connect to the database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to the database: %s",
			 pgconn_conn_error(conn, msg, sizeof msg));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, pgconn_log_notice, NULL);
	return conn;
}

/* Signal context: only the flag. db_exec() does the rest in normal code. */
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void db_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll() and nanosleep() return EINTR at once. */
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* libpq writes to sockets; a peer that went away must not kill us. */
	signal(SIGPIPE, SIG_IGN);
}

void db_release_signals(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}

bool db_stopping(void)
{
	return stop_flag != 0;
}

static void cancel(PGconn *conn)
{
	PGcancel *c = PQgetCancel(conn);
	char buf[256];

	if (c != NULL) {
		(void)PQcancel(c, buf, sizeof buf);
		PQfreeCancel(c);
	}
}

PGresult *db_exec(PGconn *conn, const char *sql, int nparams,
		  const char *const *values, bool interruptible)
{
	return db_exec_params(conn, sql, nparams, NULL, values, NULL, NULL,
			      interruptible);
}

PGresult *db_exec_params(PGconn *conn, const char *sql, int nparams,
			 const Oid *types, const char *const *values,
			 const int *lengths, const int *formats,
			 bool interruptible)
{
	PGresult *keep = NULL, *r;
	bool cancelled = false;
	int sent;

	if (nparams > 0)
		sent = PQsendQueryParams(conn, sql, nparams, types, values,
					 lengths, formats, 0);
	else
		sent = PQsendQuery(conn, sql);
	if (!sent)
		return NULL;
	for (;;) {
		while (PQisBusy(conn)) {
			struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };

			if (interruptible && stop_flag && !cancelled) {
				cancel(conn);
				cancelled = true;
			}
			if (poll(&p, 1, 200) < 0 && errno != EINTR)
				goto lost;
			if (!PQconsumeInput(conn))
				goto lost;
		}
		r = PQgetResult(conn);
		if (r == NULL)
			break;
		if (keep != NULL && !db_ok(keep)) {
			PQclear(r);     /* keep the first error */
		} else {
			PQclear(keep);
			keep = r;
		}
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		PQclear(keep);
		return NULL;
	}
	return keep;
lost:
	PQclear(keep);
	return NULL;
}

bool db_ok(const PGresult *res)
{
	ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ||
	       s == PGRES_EMPTY_QUERY;
}


double db_planned_rows(PGconn *conn, const char *schema, const char *table)
{
	static const char key[] = "\"Plan Rows\":";
	char *qs = pgconn_quote(conn, schema), *qt = pgconn_quote(conn, table);
	char *sql = NULL, buf[512];
	double rows = -1;
	PGresult *res = NULL;
	const char *at;

	if (qs == NULL || qt == NULL ||
	    asprintf(&sql, "EXPLAIN (FORMAT JSON) SELECT 1 FROM %s.%s", qs, qt) < 0)
		sql = NULL;
	free(qs);
	free(qt);
	if (sql == NULL)
		return -1;
	PQclear(db_exec(conn, "BEGIN", 0, NULL, true));
	res = db_exec(conn, "SET LOCAL lock_timeout = '5s'", 0, NULL, true);
	if (db_ok(res)) {
		PQclear(res);
		res = db_exec(conn, sql, 0, NULL, true);
	}
	if (db_ok(res) && PQntuples(res) == 1 &&
	    (at = strstr(PQgetvalue(res, 0, 0), key)) != NULL)
		rows = strtod(at + strlen(key), NULL);
	else
		log_debug("the planner's row count: %s",
			  pgconn_error(conn, res, buf, sizeof buf));
	PQclear(res);
	PQclear(db_exec(conn, "ROLLBACK", 0, NULL, true));
	free(sql);
	return rows;
}

const char *db_display(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return buf;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		size_t need = (ch < 0x20 || ch == 0x7f) ? 4 : 1;

		/* Leave room for "..." and the NUL. */
		if (o + need + 4 > len) {
			if (len >= 4) {
				while (o + 4 > len)
					o--;
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 4)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o < len ? o : len - 1] = '\0';
	return buf;
}

void db_sleep_ms(long ms)
{
	struct timespec end, now;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while (!stop_flag) {
		struct timespec slice = { 0, 100 * 1000000L };

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return;
		nanosleep(&slice, NULL);
	}
}
