/*
 * health.h - the health query: its SQL, its parameters, and its result
 * turned into a plain sample.
 *
 * This module knows PostgreSQL's catalogs and result format; it decides
 * nothing. The throttle (throttle.h) decides on the samples, the engine
 * runs the query on a connection of its own (a worker's is busy with
 * batches):
 *
 *   health_params(&p, pids, npids, schema, table);
 *   send health_sql() with HEALTH_NPARAMS text parameters p.values
 *   (types NULL, formats NULL: the query casts);
 *   health_from_result(&s, res, err, len)   res NULL if the query failed
 *   == 0: throttle_health_update(&throttle, &s, now, ...)
 *   <  0: log err; no sample (the throttle notices a lack of samples)
 *
 * The sample holds no libpq type, so the throttle and its tests never
 * see one. health_parse() is the same conversion from column texts, for
 * a caller (or a test) without a PGresult.
 */
#ifndef NB_HEALTH_H
#define NB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

struct pg_result;               /* libpq's PGresult */

#define HEALTH_MAX_PIDS 256     /* backends in the health query's $1 */
#define HEALTH_NPARAMS 3

/* One health query's answer. */
struct health_sample {
	double lag_bytes;       /* max replay lag over standbys; 0 if none */
	double lag_seconds;     /* max replay_lag; 0 if none or caught up */
	long replicas;          /* rows of pg_stat_replication */
	long replicas_unknown;  /* of which without a replay position */
	double wal_lsn;         /* current WAL position, bytes; < 0 unknown
	                         * (a standby) */
	double slot_bytes;      /* max WAL retained by a slot; 0 if none */
	long blocked;           /* other sessions waiting on our backends */
	long autovacuum;        /* autovacuum workers on the table */
	long others;            /* other client sessions not idle, or unseen */
	double others_idle_s;   /* since the last of the idle ones worked;
	                         * < 0: none */
	bool sees_all;          /* the role may read all sessions' stats */
	bool in_recovery;       /* the server is a standby */
};

/* The query's columns, in the order health_parse() takes them. */
enum health_column {
	HEALTH_LAG_BYTES,
	HEALTH_LAG_SECONDS,
	HEALTH_REPLICAS,
	HEALTH_REPLICAS_UNKNOWN,
	HEALTH_WAL_LSN,
	HEALTH_SLOT_BYTES,
	HEALTH_BLOCKED,
	HEALTH_AUTOVACUUM,
	HEALTH_OTHERS,
	HEALTH_OTHERS_IDLE_S,
	HEALTH_SEES_ALL,
	HEALTH_IN_RECOVERY,
	HEALTH_NCOLUMNS
};

/* A column's name in the query ("lag_bytes"); NULL if out of range. */
const char *health_column_name(enum health_column col);

/*
 * The health query: one row, text results, HEALTH_NPARAMS text
 * parameters:
 *   $1 int4[]  the daemon's own backend pids (PQbackendPID of each worker)
 *   $2 text    the table's schema, as in the catalog
 *   $3 text    the table's name, as in the catalog
 * Columns: those of enum health_column, by health_column_name().
 * Safe on a standby (LSN columns are then NULL), read-only, and cheap:
 * pg_blocking_pids() runs only for sessions waiting on a lock.
 */
const char *health_sql(void);

struct health_params {
	const char *values[HEALTH_NPARAMS];
	char pids[HEALTH_MAX_PIDS * 12 + 3];        /* "{1,2,3}" */
};

/*
 * Fills p for the health query: the npids backend pids (0 while no worker
 * is connected), and the target's schema and table (not copied: they must
 * outlive the send). Returns 0, or -1 if npids is negative or more than
 * HEALTH_MAX_PIDS.
 */
int health_params(struct health_params *p, const int *pids, int npids,
		  const char *schema, const char *table);

/*
 * Fills *s from the texts of one row, values[HEALTH_NCOLUMNS] in the order
 * of enum health_column, NULL for SQL NULL. NULL numbers count as none (0;
 * wal_lsn and others_idle_s: -1); sees_all NULL counts as true (nothing
 * to warn about), in_recovery NULL as false; "t" is true. Returns 0, or -1
 * with one line in err if a number column holds no finite number (*s is
 * then unspecified).
 */
int health_parse(struct health_sample *s,
		 const char *const values[HEALTH_NCOLUMNS], char *err,
		 size_t errlen);

/*
 * health_parse() on the health query's PGresult, columns found by name.
 * Returns 0, or -1 with one line in err: res is NULL (the query failed or
 * could not be sent: "health query failed"), not one row of tuples, or
 * lacks a column.
 */
int health_from_result(struct health_sample *s, const struct pg_result *res,
		       char *err, size_t errlen);

/*
 * The pace's probe (pace.h), sent every PACE_PROBE_INTERVAL seconds on the
 * health connection with one text parameter, the daemon's own backend
 * pids (p.values[0] of health_params()). Its answer: the other client
 * sessions (not ours, not another nanoid-backfill's) at work, those of
 * them waiting on WAL, sessions waiting on a lock our backends hold, and
 * how many other client sessions are connected at all.
 */
struct health_probe {
	long active;
	long wal_waits;
	long blocked;
	long connected;         /* other client sessions, at work or idle, and
				 * those the role cannot see into */
};

/* With commit, the probe takes a transaction id, so that its commit
 * waits for a WAL flush as the application's do: while others work, its
 * latency is their commits'. */
const char *health_probe_sql(bool commit);

/* Returns 0, or -1 with one line in err (res NULL, or not the probe's). */
int health_probe_from_result(struct health_probe *p, const struct pg_result *res,
			     char *err, size_t errlen);

#endif
