/*
 * health.c - the health query and its result as a sample; see health.h.
 */
#include "health.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

static const char *const column_names[HEALTH_NCOLUMNS] = {
	[HEALTH_LAG_BYTES] = "lag_bytes",
	[HEALTH_LAG_SECONDS] = "lag_seconds",
	[HEALTH_REPLICAS] = "replicas",
	[HEALTH_REPLICAS_UNKNOWN] = "replicas_unknown",
	[HEALTH_WAL_LSN] = "wal_lsn",
	[HEALTH_SLOT_BYTES] = "slot_bytes",
	[HEALTH_BLOCKED] = "blocked",
	[HEALTH_AUTOVACUUM] = "autovacuum",
	[HEALTH_OTHERS] = "others",
	[HEALTH_OTHERS_IDLE_S] = "others_idle_s",
	[HEALTH_SEES_ALL] = "sees_all",
	[HEALTH_IN_RECOVERY] = "in_recovery",
};

const char *health_column_name(enum health_column col)
{
	if ((int)col < 0 || col >= HEALTH_NCOLUMNS)
		return NULL;
	return column_names[col];
}

/*
 * pg_current_wal_lsn() fails on a standby, so it sits behind a CASE (a CASE
 * does not evaluate the branches it does not take). pg_blocking_pids()
 * takes every lock-manager partition lock, so it runs only for sessions
 * waiting on a heavyweight lock - or whose wait we cannot see (state is
 * NULL for other roles' sessions without pg_read_all_stats).
 */
static const char health_sql_text[] =
	"WITH cur AS (\n"
	"  SELECT CASE WHEN pg_is_in_recovery() THEN NULL\n"
	"              ELSE pg_current_wal_lsn() END AS lsn,\n"
	"         pg_is_in_recovery() AS in_recovery),\n"
	/* other client sessions: not ours, not another nanoid-backfill's */
	"oth AS (\n"
	"  SELECT a.state, a.state_change FROM pg_stat_activity a\n"
	"   WHERE a.backend_type = 'client backend'\n"
	"     AND a.pid <> pg_backend_pid() AND a.pid <> ALL ($1::int4[])\n"
	"     AND a.application_name IS DISTINCT FROM\n"
	"         current_setting('application_name'))\n"
	"SELECT\n"
	"  (SELECT max(pg_wal_lsn_diff(cur.lsn, r.replay_lsn))\n"
	"     FROM pg_stat_replication r) AS lag_bytes,\n"
	"  (SELECT extract(epoch FROM max(r.replay_lag))\n"
	"     FROM pg_stat_replication r) AS lag_seconds,\n"
	"  (SELECT count(*) FROM pg_stat_replication r) AS replicas,\n"
	"  (SELECT count(*) FROM pg_stat_replication r\n"
	"    WHERE r.replay_lsn IS NULL) AS replicas_unknown,\n"
	"  pg_wal_lsn_diff(cur.lsn, '0/0') AS wal_lsn,\n"
	"  (SELECT max(pg_wal_lsn_diff(cur.lsn, s.restart_lsn))\n"
	"     FROM pg_replication_slots s) AS slot_bytes,\n"
	"  (SELECT count(*) FROM pg_stat_activity a\n"
	"    WHERE a.pid <> ALL ($1::int4[])\n"
	"      AND CASE WHEN a.wait_event_type = 'Lock' OR a.state IS NULL\n"
	"               THEN pg_blocking_pids(a.pid) && $1::int4[]\n"
	"               ELSE false END) AS blocked,\n"
	"  (SELECT count(*) FROM pg_stat_progress_vacuum v\n"
	"     JOIN pg_stat_activity a ON a.pid = v.pid\n"
	"    WHERE a.backend_type = 'autovacuum worker'\n"
	"      AND v.relid = (SELECT c.oid FROM pg_class c\n"
	"                       JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"                      WHERE n.nspname = $2::text\n"
	"                        AND c.relname = $3::text)) AS autovacuum,\n"
	"  (SELECT count(*) FROM oth\n"
	"    WHERE oth.state IS NULL OR oth.state <> 'idle') AS others,\n"
	"  (SELECT extract(epoch FROM\n"
	"            statement_timestamp() - max(oth.state_change))\n"
	"     FROM oth WHERE oth.state = 'idle') AS others_idle_s,\n"
	"  pg_has_role('pg_read_all_stats', 'USAGE') AS sees_all,\n"
	"  cur.in_recovery\n"
	"FROM cur";

const char *health_sql(void)
{
	return health_sql_text;
}

int health_params(struct health_params *p, const int *pids, int npids,
		  const char *schema, const char *table)
{
	size_t o = 0;
	int i;

	if (npids < 0 || npids > HEALTH_MAX_PIDS)
		return -1;
	p->pids[o++] = '{';
	for (i = 0; i < npids; i++)
		o += (size_t)snprintf(p->pids + o, sizeof(p->pids) - o, "%s%d",
				      i > 0 ? "," : "", pids[i]);
	p->pids[o++] = '}';
	p->pids[o] = '\0';
	p->values[0] = p->pids;
	p->values[1] = schema;
	p->values[2] = table;
	return 0;
}

/* A number column's text; NULL is dflt. -1 if not a finite number. */
static int get_num(const char *s, double dflt, double *out)
{
	char *end;

	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	*out = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(*out))
		return -1;
	return 0;
}

int health_parse(struct health_sample *s,
		 const char *const values[HEALTH_NCOLUMNS], char *err,
		 size_t errlen)
{
	double v[HEALTH_NCOLUMNS];
	int i;

	for (i = 0; i < HEALTH_NCOLUMNS; i++) {
		if (i == HEALTH_SEES_ALL || i == HEALTH_IN_RECOVERY)
			continue;
		/* Unknown position and no idle session are -1, not 0: 0 is
		 * a position and an idle time. */
		if (get_num(values[i], i == HEALTH_WAL_LSN ||
			    i == HEALTH_OTHERS_IDLE_S ? -1.0 : 0.0, &v[i]) < 0) {
			snprintf(err, errlen, "health query: %s is not a "
				 "number: '%s'", column_names[i], values[i]);
			return -1;
		}
	}
	s->lag_bytes = v[HEALTH_LAG_BYTES] > 0 ? v[HEALTH_LAG_BYTES] : 0.0;
	s->lag_seconds = v[HEALTH_LAG_SECONDS] > 0 ? v[HEALTH_LAG_SECONDS] : 0.0;
	s->replicas = (long)v[HEALTH_REPLICAS];
	s->replicas_unknown = (long)v[HEALTH_REPLICAS_UNKNOWN];
	s->wal_lsn = v[HEALTH_WAL_LSN] >= 0 ? v[HEALTH_WAL_LSN] : -1.0;
	s->slot_bytes = v[HEALTH_SLOT_BYTES] > 0 ? v[HEALTH_SLOT_BYTES] : 0.0;
	s->blocked = (long)v[HEALTH_BLOCKED];
	s->autovacuum = (long)v[HEALTH_AUTOVACUUM];
	s->others = (long)v[HEALTH_OTHERS];
	s->others_idle_s = v[HEALTH_OTHERS_IDLE_S];
	/* Without an answer there is nothing to warn about. */
	s->sees_all = values[HEALTH_SEES_ALL] == NULL ||
		      strcmp(values[HEALTH_SEES_ALL], "t") == 0;
	s->in_recovery = values[HEALTH_IN_RECOVERY] != NULL &&
			 strcmp(values[HEALTH_IN_RECOVERY], "t") == 0;
	return 0;
}

int health_from_result(struct health_sample *s, const struct pg_result *res,
		       char *err, size_t errlen)
{
	const char *values[HEALTH_NCOLUMNS];
	int i, col;

	if (res == NULL) {
		snprintf(err, errlen, "health query failed");
		return -1;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(err, errlen, "health query: expected one row, got %s",
			 PQresultStatus(res) == PGRES_TUPLES_OK ?
			 "another count" : PQresStatus(PQresultStatus(res)));
		return -1;
	}
	for (i = 0; i < HEALTH_NCOLUMNS; i++) {
		col = PQfnumber(res, column_names[i]);
		if (col < 0) {
			snprintf(err, errlen, "health query: no column %s",
				 column_names[i]);
			return -1;
		}
		values[i] = PQgetisnull(res, 0, col) ? NULL :
			    PQgetvalue(res, 0, col);
	}
	return health_parse(s, values, err, errlen);
}

/*
 * The pace's probe (pace.h): what the other client sessions do right now.
 * Cheap enough for ten a second: one pass over pg_stat_activity, and
 * pg_blocking_pids() only for a session waiting on a heavyweight lock. A
 * session the role cannot see into (another role's, without
 * pg_read_all_stats) shows no backend type, state or wait: the counts
 * cannot include it (the throttle warns that the role is blind), but
 * `connected` does, so that the pace never takes a server it cannot see
 * for one where nobody is connected.
 * WAL waits are the LWLock and IO events of a commit queued behind WAL
 * being written or flushed.
 */
#define PROBE_COUNTS \
	"SELECT count(*) FILTER (WHERE a.state = 'active' OR a.state IS NULL) AS active,\n" \
	"  count(*) FILTER (WHERE a.state = 'active' AND a.wait_event_type IN\n" \
	"    ('LWLock', 'IO') AND a.wait_event IN ('WALWrite', 'WALInsert',\n" \
	"    'WALSync', 'WALBufMapping')) AS wal_waits,\n" \
	"  count(*) FILTER (WHERE CASE WHEN a.wait_event_type = 'Lock' OR a.state IS NULL\n" \
	"    THEN pg_blocking_pids(a.pid) && $1::int4[] ELSE false END) AS blocked,\n" \
	"  (SELECT count(*) FROM pg_stat_activity o\n" \
	"    WHERE (o.backend_type = 'client backend' OR o.backend_type IS NULL)\n" \
	"      AND o.pid <> pg_backend_pid() AND o.pid <> ALL ($1::int4[])\n" \
	"      AND o.application_name IS DISTINCT FROM\n" \
	"          current_setting('application_name')) AS connected"
#define PROBE_FROM \
	"\nFROM pg_stat_activity a\n" \
	"WHERE a.backend_type = 'client backend'\n" \
	"  AND a.pid <> pg_backend_pid() AND a.pid <> ALL ($1::int4[])\n" \
	"  AND a.application_name IS DISTINCT FROM current_setting('application_name')"

static const char probe_sql_text[] = PROBE_COUNTS PROBE_FROM;

/*
 * The same and a transaction id: the probe's commit then waits for its
 * WAL to be flushed, behind whatever WAL the backfill wrote before it, as
 * the application's commits do. Its latency is theirs.
 */
static const char probe_write_sql_text[] =
	PROBE_COUNTS ",\n  pg_current_xact_id() AS xid" PROBE_FROM;

const char *health_probe_sql(bool commit)
{
	return commit ? probe_write_sql_text : probe_sql_text;
}

int health_probe_from_result(struct health_probe *p, const struct pg_result *res,
			     char *err, size_t errlen)
{
	long *out[4] = { &p->active, &p->wal_waits, &p->blocked, &p->connected };

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1 || PQnfields(res) < 4) {
		snprintf(err, errlen, "probe: expected one row of four columns");
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		char *end;

		*out[i] = strtol(PQgetvalue(res, 0, i), &end, 10);
		if (*end != '\0' || *out[i] < 0) {
			snprintf(err, errlen, "probe: not a count: %s", PQgetvalue(res, 0, i));
			return -1;
		}
	}
	return 0;
}
