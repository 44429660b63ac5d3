/*
 * rowbyrow.c - the backfill script from the usual tutorials, in C with libpq,
 * as a contender in bench/throughput.sh:
 *
 *   loop {
 *     SELECT id FROM bench_t WHERE public_id IS NULL LIMIT 1000;
 *     for each id: UPDATE bench_t SET public_id = $1 WHERE id = $2;
 *   }
 *
 * Autocommit (every UPDATE is its own transaction and waits for its own WAL
 * flush), one round trip per row, the nanoid generated client-side (reference
 * mask-and-reject over getrandom(2); default size and alphabet). Written the
 * way the tutorials write it and no worse: parameters, not string pasting.
 *
 * Connects through the PG* environment. Stops when the SELECT finds no NULL
 * left, or once MAX_SECONDS have passed (0: no limit), and prints one line:
 *
 *   rows=N seconds=S done=0|1
 *
 * rows: rows updated; seconds: wall time from before connecting to after the
 * last UPDATE; done: 1 if no NULL was left.
 *
 * Build: cc -O2 -std=c11 rowbyrow.c $(pkg-config --cflags --libs libpq)
 * Usage: rowbyrow [MAX_SECONDS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ID_SIZE 21
static const char ALPHABET[] =
	"useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(PGconn *conn, const char *what)
{
	fprintf(stderr, "rowbyrow: %s: %s", what, conn ? PQerrorMessage(conn) : "\n");
	if (conn)
		PQfinish(conn);
	exit(1);
}

/* One nanoid into out[0..ID_SIZE], NUL-terminated: mask and reject, as the
 * reference implementation (no modulo bias). */
static void nanoid(char *out)
{
	const unsigned len = sizeof ALPHABET - 1;
	unsigned mask = 1;
	while (mask < len)
		mask <<= 1;
	mask -= 1;
	/* the reference's step: 1.6 * mask * size / alphabet length */
	unsigned char bytes[64];
	size_t step = (size_t)(1.6 * mask * ID_SIZE / len) + 1;
	if (step > sizeof bytes)
		step = sizeof bytes;
	size_t n = 0;
	while (n < ID_SIZE) {
		ssize_t got = getrandom(bytes, step, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			perror("rowbyrow: getrandom");
			exit(1);
		}
		for (ssize_t i = 0; i < got && n < ID_SIZE; i++) {
			unsigned idx = bytes[i] & mask;
			if (idx < len)
				out[n++] = ALPHABET[idx];
		}
	}
	out[ID_SIZE] = '\0';
}

int main(int argc, char **argv)
{
	double max_seconds = argc > 1 ? atof(argv[1]) : 0;
	double t0 = now(), t_end = t0;
	long rows = 0;
	int done = 0;

	PGconn *conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
		die(conn, "connect");

	for (;;) {
		PGresult *sel = PQexec(conn,
			"SELECT id FROM bench_t WHERE public_id IS NULL LIMIT 1000");
		if (PQresultStatus(sel) != PGRES_TUPLES_OK)
			die(conn, "SELECT");
		int n = PQntuples(sel);
		if (n == 0) {
			PQclear(sel);
			done = 1;
			break;
		}
		int stop = 0;
		for (int i = 0; i < n; i++) {
			char id[ID_SIZE + 1];
			nanoid(id);
			const char *params[2] = { id, PQgetvalue(sel, i, 0) };
			PGresult *upd = PQexecParams(conn,
				"UPDATE bench_t SET public_id = $1 WHERE id = $2",
				2, NULL, params, NULL, NULL, 0);
			if (PQresultStatus(upd) != PGRES_COMMAND_OK)
				die(conn, "UPDATE");
			rows += atol(PQcmdTuples(upd));
			PQclear(upd);
			t_end = now();
			if (max_seconds > 0 && t_end - t0 >= max_seconds) {
				stop = 1;
				break;
			}
		}
		PQclear(sel);
		if (stop)
			break;
	}
	t_end = now();
	PQfinish(conn);
	printf("rows=%ld seconds=%.3f done=%d\n", rows, t_end - t0, done);
	return 0;
}
