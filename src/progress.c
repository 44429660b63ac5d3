/*
 * progress.c - the progress tables: jobs, leases and the job_progress view.
 *
 * Every statement here is built once from quoted identifiers; values travel
 * as parameters. Advisory lock keys are (hashtext('nanoid_backfill:' ||
 * job), n): n = 0 is the carve lock, n >= 1 a lease.
 */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "catalog.h"
#include "db.h"
#include "pgbin.h"
#include "pgtext.h"
#include "conn.h"

#define LOCK_KEY "hashtext('nanoid_backfill:' || $1::text)"

const char *const progress_job_state_names[JOB_NSTATES] = {
	[JOB_RUNNING] = "running",
	[JOB_IDLE] = "idle",
	[JOB_DONE] = "done",
	[JOB_STOPPED] = "stopped",
};

const char *const progress_lease_state_names[LEASE_NSTATES] = {
	[LEASE_OPEN] = "open",
	[LEASE_DONE] = "done",
};

const char *progress_job_state_name(enum job_state s)
{
	return (unsigned)s < JOB_NSTATES ? progress_job_state_names[s] : "?";
}

const char *progress_lease_state_name(enum lease_state s)
{
	return (unsigned)s < LEASE_NSTATES ? progress_lease_state_names[s] : "?";
}

int progress_job_state_parse(const char *name, enum job_state *s)
{
	for (int i = 0; i < JOB_NSTATES; i++) {
		if (strcmp(name, progress_job_state_names[i]) == 0) {
			*s = (enum job_state)i;
			return 0;
		}
	}
	return -1;
}

/*
 * The schema version is the comment on <schema>.jobs (see progress.h):
 * anyone may read a comment, so a role without SELECT on a version table
 * or CREATE anywhere still learns it, and the role that runs setup owns
 * jobs already (its ALTER TABLE needs that). VERSION_OF(rel) is the
 * recorded version of the jobs table named by the text rel, NULL if none.
 */
#define SCHEMA_COMMENT "nanoid-backfill progress tables, schema version "
#define VERSION_OF(rel) "substring(obj_description(to_regclass(" rel "), 'pg_class')" \
	" FROM '^" SCHEMA_COMMENT "([0-9]{1,9})$')::int"

static const char setup_fmt[] =
	/* One implicit transaction: the lock is held until it commits. */
	"SELECT pg_advisory_xact_lock(hashtext('nanoid_backfill setup'));"
	/* tables of a newer version are refused before anything is written */
	"%4$s"
	/* version 1, and tables older than versions brought to it */
	"CREATE SCHEMA IF NOT EXISTS %1$s;"
	"CREATE TABLE IF NOT EXISTS %1$s.jobs ("
	" job text PRIMARY KEY,"
	" schema_name text NOT NULL,"
	" table_name text NOT NULL,"
	" column_name text NOT NULL,"
	" key_columns text[] NOT NULL,"
	" state text NOT NULL,"
	" pass bigint NOT NULL DEFAULT 1,"
	" frontier text[],"
	" frontier_done boolean NOT NULL DEFAULT false,"
	" next_lease integer NOT NULL DEFAULT 1,"
	" rows_done bigint NOT NULL DEFAULT 0,"
	" batches bigint NOT NULL DEFAULT 0,"
	" passes bigint NOT NULL DEFAULT 0,"
	" rows_estimate double precision,"
	" started_at timestamptz NOT NULL DEFAULT now(),"
	" updated_at timestamptz NOT NULL DEFAULT now(),"
	" finished_at timestamptz,"
	" idle_since timestamptz);"
	/* Added after the first release: tables made by it get them here. */
	"ALTER TABLE %1$s.jobs ADD COLUMN IF NOT EXISTS walk text,"
	" ADD COLUMN IF NOT EXISTS frontier_rel oid,"
	" ADD COLUMN IF NOT EXISTS frontier_blk bigint,"
	" ADD COLUMN IF NOT EXISTS frontier_end bigint,"
	" ADD COLUMN IF NOT EXISTS hwm bigint,"
	" ADD COLUMN IF NOT EXISTS hwm_next bigint,"
	" ADD COLUMN IF NOT EXISTS swept_at timestamptz,"
	" ADD COLUMN IF NOT EXISTS id_size integer,"
	" ADD COLUMN IF NOT EXISTS id_alphabet text,"
	" ADD COLUMN IF NOT EXISTS id_prefix text;"
	"CREATE TABLE IF NOT EXISTS %1$s.leases ("
	" job text NOT NULL REFERENCES %1$s.jobs ON DELETE CASCADE,"
	" lease integer NOT NULL,"
	" lo text[],"
	" hi text[],"
	" cursor text[],"
	" state text NOT NULL DEFAULT '%2$s',"
	" rows_done bigint NOT NULL DEFAULT 0,"
	" batches bigint NOT NULL DEFAULT 0,"
	" rate double precision NOT NULL DEFAULT 0,"
	" owner text,"
	" updated_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (job, lease));"
	"ALTER TABLE %1$s.leases ADD COLUMN IF NOT EXISTS rel oid;"
	"CREATE OR REPLACE VIEW %1$s.job_progress AS"
	" SELECT j.job, j.schema_name, j.table_name, j.column_name, j.key_columns,"
	"  j.state, j.pass, j.passes,"
	"  j.rows_done + COALESCE(l.rows_done, 0) AS rows_done,"
	"  j.batches + COALESCE(l.batches, 0) AS batches,"
	"  GREATEST(j.rows_estimate - COALESCE(l.rows_done, 0), 0) AS rows_left,"
	"  COALESCE(l.rate, 0) AS rate,"
	"  COALESCE(l.open_leases, 0) AS open_leases,"
	"  COALESCE(l.done_leases, 0) AS done_leases,"
	"  j.started_at, GREATEST(j.updated_at, l.updated_at) AS updated_at,"
	"  j.finished_at"
	" FROM %1$s.jobs j LEFT JOIN ("
	"  SELECT job, sum(rows_done) AS rows_done, sum(batches) AS batches,"
	"   sum(rate) FILTER (WHERE state = '%2$s'"
	"    AND updated_at > now() - interval '30 seconds') AS rate,"
	"   count(*) FILTER (WHERE state = '%2$s') AS open_leases,"
	"   count(*) FILTER (WHERE state = '%3$s') AS done_leases,"
	"   max(updated_at) AS updated_at"
	"  FROM %1$s.leases GROUP BY job) l USING (job);"
	/* then every step past the recorded version, and the new version */
	"%5$s"
	"COMMENT ON TABLE %1$s.jobs IS '" SCHEMA_COMMENT "%6$d'";

/*
 * Migrations: migration_step(k, schema) is the DDL that takes the tables
 * from version k - 1 to k, for the quoted progress schema (NULL: out of
 * memory, or no step). Setup runs each step past the recorded version (a
 * missing version is 1), in its transaction and under its lock, then
 * records PROGRESS_SCHEMA_VERSION. Version 1 is what the CREATE ... IF
 * NOT EXISTS script above makes; each later change of the tables is a
 * step here (idempotent: IF NOT EXISTS) and bumps PROGRESS_SCHEMA_VERSION.
 */
static char *migration_step(int k, const char *schema_q)
{
	switch (k) {
	case 2:
		/* Rows skipped because the application held them locked, and
		 * when their lease is walked again. */
		return pgtext_printf("ALTER TABLE %s.leases"
				     " ADD COLUMN IF NOT EXISTS busy bigint NOT NULL DEFAULT 0,"
				     " ADD COLUMN IF NOT EXISTS retries integer NOT NULL DEFAULT 0,"
				     " ADD COLUMN IF NOT EXISTS retry_at timestamptz", schema_q);
	case 3:
		/* Runs before this version wrote the walk at their claim only,
		 * so a pass in progress may record another walk than its
		 * leases have; lease lists now keep to the recorded walk. A
		 * block range has a relation, a key range none. */
		return pgtext_printf("UPDATE %1$s.jobs j SET walk = CASE WHEN"
				     " j.frontier_rel IS NOT NULL OR EXISTS (SELECT 1 FROM"
				     " %1$s.leases l WHERE l.job = j.job AND l.rel IS NOT NULL)"
				     " THEN 'physical' ELSE 'key' END"
				     " WHERE j.frontier IS NOT NULL OR j.frontier_rel IS NOT NULL"
				     " OR EXISTS (SELECT 1 FROM %1$s.leases l WHERE l.job = j.job)",
				     schema_q);
	default:
		return NULL;
	}
}

/* A dollar-quote tag that occurs in none of the texts. */
static void dollar_tag(char *tag, size_t len, const char *a, const char *b)
{
	for (int n = 0;; n++) {
		snprintf(tag, len, n ? "$nb%d$" : "$nb$", n);
		if (!strstr(a, tag) && !strstr(b, tag))
			return;
	}
}

/*
 * The DO block that refuses tables of a newer version (SQLSTATE 0A000,
 * a configuration error: exit 78, the transaction and so nothing written).
 */
static char *version_guard_sql(const char *jobs_lit, const char *schema_q)
{
	char tag[32];

	dollar_tag(tag, sizeof tag, jobs_lit, schema_q);
	return pgtext_printf(
		"DO %1$s DECLARE v int := " VERSION_OF("%2$s") ";"
		" BEGIN IF v > %3$d THEN RAISE EXCEPTION USING"
		"  ERRCODE = 'feature_not_supported',"
		"  MESSAGE = format('progress table %%s records schema version %%s;"
		" this nanoid-backfill knows versions up to %%s: run a newer"
		" nanoid-backfill, or use another --progress-schema', %2$s, v, %3$d);"
		" END IF; END %1$s;", tag, jobs_lit, PROGRESS_SCHEMA_VERSION);
}

/*
 * The migration: one DO block that reads the recorded version and runs
 * the steps past it. With no step it runs and does nothing.
 */
static char *migrate_sql(const char *jobs_lit, const char *schema_q)
{
	char tag[32], *body = pgtext_printf("%s", ""), *next;

	dollar_tag(tag, sizeof tag, jobs_lit, schema_q);
	for (int k = 2; body && k <= PROGRESS_SCHEMA_VERSION; k++) {
		char *step = migration_step(k, schema_q);

		next = step ? pgtext_printf("%s IF v < %d THEN %s; END IF;", body, k, step) :
		       NULL;
		free(body);
		free(step);
		body = next;
	}
	if (!body)
		return NULL;
	next = pgtext_printf("DO %1$s DECLARE v int := COALESCE(" VERSION_OF("%2$s") ", 1);"
			     " BEGIN NULL;%3$s END %1$s;", tag, jobs_lit, body);
	free(body);
	return next;
}

/*
 * The job is in the middle of a pass: its leases and frontier are in
 * its walk's terms, so the pass goes on in that walk. A running job is,
 * even with nothing carved yet: another run may have just started the
 * pass and hold the carve lock (the claim does not take it). Marking
 * that job idle would end the pass after its first lease, for the other
 * run's next look at the job would find it idle and only probe.
 */
#define MID_PASS "(j.state = $11 OR j.frontier IS NOT NULL" \
	" OR j.frontier_rel IS NOT NULL" \
	" OR EXISTS (SELECT 1 FROM %2$s l0 WHERE l0.job = j.job))"

/*
 * Insert the job, or take it over if it has the same target. The second
 * branch reads the row as it was before this statement, so it only answers
 * when the first changed nothing: another target owns the name.
 */
static const char claim_fmt[] =
	"WITH up AS ("
	" INSERT INTO %1$s AS j (job, schema_name, table_name, column_name,"
	"  key_columns, state, rows_estimate, walk, id_size, id_alphabet, id_prefix)"
	"  VALUES ($1, $2, $3, $4, $5, $11, $6, $7, $8, $9, $10)"
	/* A job between passes (stopped or done after one) goes idle as if
	 * its interval were over: a service's next pass starts with the probe,
	 * not with a walk of the whole table. */
	" ON CONFLICT (job) DO UPDATE SET updated_at = now(), finished_at = NULL,"
	"  state = CASE WHEN j.passes > 0 AND NOT " MID_PASS " THEN $12 ELSE $11 END,"
	"  idle_since = CASE WHEN j.passes > 0 AND NOT " MID_PASS
	"   THEN now() - interval '100 years' END,"
	"  rows_estimate = COALESCE(EXCLUDED.rows_estimate, j.rows_estimate),"
	"  walk = CASE WHEN " MID_PASS " THEN COALESCE(j.walk, 'key') ELSE EXCLUDED.walk END,"
	/* a job recorded before formats were: this run's is its format now */
	"  id_size = EXCLUDED.id_size, id_alphabet = EXCLUDED.id_alphabet,"
	"  id_prefix = EXCLUDED.id_prefix"
	"  WHERE (j.schema_name, j.table_name, j.column_name, j.key_columns)"
	"   = (EXCLUDED.schema_name, EXCLUDED.table_name, EXCLUDED.column_name,"
	"      EXCLUDED.key_columns)"
	"   AND (j.id_size IS NULL OR (j.id_size, j.id_alphabet, j.id_prefix)"
	"        = (EXCLUDED.id_size, EXCLUDED.id_alphabet, EXCLUDED.id_prefix))"
	" RETURNING (xmax = 0) AS created, rows_done, schema_name, table_name,"
	"  column_name, key_columns, walk, state),"
	" l AS (SELECT COALESCE(sum(rows_done), 0) AS rows_done,"
	"  count(*) FILTER (WHERE state = $13) AS open,"
	"  count(*) FILTER (WHERE state = $13 AND cursor IS NOT NULL) AS started"
	"  FROM %2$s WHERE job = $1)"
	" SELECT true, created, up.rows_done + l.rows_done, l.open, l.started,"
	"  schema_name, table_name, column_name, array_to_string(key_columns, ', '), walk,"
	"  NULL::integer, NULL::text, NULL::text, up.state"
	"  FROM up, l"
	" UNION ALL SELECT false, false, 0, 0, 0, schema_name, table_name,"
	"  column_name, array_to_string(key_columns, ', '), COALESCE(walk, 'key'),"
	"  id_size, id_alphabet, id_prefix, state"
	"  FROM %1$s WHERE job = $1 AND NOT EXISTS (SELECT 1 FROM up)";

static const char pass_end_fmt[] =
	"WITH f AS (DELETE FROM %2$s WHERE job = $1 RETURNING rows_done, batches)"
	" UPDATE %1$s SET rows_done = rows_done + (SELECT COALESCE(sum(rows_done), 0) FROM f),"
	"  batches = batches + (SELECT COALESCE(sum(batches), 0) FROM f),"
	"  passes = passes + 1, pass = pass + 1, frontier = NULL,"
	"  frontier_rel = NULL, frontier_blk = NULL, frontier_end = NULL,"
	/* The mark and the sweep move only by probes that found nothing: a
	 * pass may miss a row an update moved behind its cursor. */
	"  frontier_done = false, state = $2, rows_estimate = 0,"
	/* a pass that starts here walks as the run that starts it ($5) */
	"  walk = CASE WHEN $2 = 'running' THEN $5 ELSE walk END,"
	/* done is between passes too: a service that meets a job another
	 * run finished waits its interval from the end, then probes */
	"  idle_since = CASE WHEN $3 OR $4 THEN now() END,"
	"  finished_at = CASE WHEN $4 THEN now() ELSE finished_at END,"
	"  updated_at = now()"
	" WHERE job = $1";

/*
 * A new lease: insert it, move the frontier, and take its lock in the same
 * statement, so no one can see the lease before it is ours. Lease numbers
 * only grow, across passes too, so a lock number is never reused.
 */
static const char new_lease_fmt[] =
	"WITH ins AS (INSERT INTO %2$s (job, lease, lo, hi, owner)"
	"  VALUES ($1, $2, $3, $4, $5) RETURNING lease),"
	" j AS (UPDATE %1$s SET frontier = $4, frontier_done = ($4::text[] IS NULL),"
	"  next_lease = $2 + 1, walk = 'key', updated_at = now() WHERE job = $1"
	"  RETURNING 1)"
	" SELECT pg_try_advisory_lock(" LOCK_KEY ", $2),"
	"  (SELECT count(*) FROM ins), (SELECT count(*) FROM j)";

/* The same for a physical lease: (relation, blocks [lo, hi)). */
static const char new_block_lease_fmt[] =
	"WITH ins AS (INSERT INTO %2$s (job, lease, rel, lo, hi, owner)"
	"  VALUES ($1, $2, $3, ARRAY[format('(%%s,0)', $4::bigint)],"
	"   ARRAY[format('(%%s,0)', $5::bigint)], $7) RETURNING lease),"
	" j AS (UPDATE %1$s SET frontier_rel = $3, frontier_blk = $5, frontier_end = $6,"
	"  next_lease = $2 + 1, walk = 'physical', updated_at = now() WHERE job = $1"
	"  RETURNING 1)"
	" SELECT pg_try_advisory_lock(" LOCK_KEY ", $2),"
	"  (SELECT count(*) FROM ins), (SELECT count(*) FROM j)";

int progress_init(struct progress *p, PGconn *conn, const char *schema,
		  const char *job, const struct target *t, char *err,
		  size_t errlen)
{
	char *jobs_lit, *guard, *migrate;

	memset(p, 0, sizeof *p);
	p->target = t;
	p->schema_q = pgconn_quote(conn, schema);
	p->job = catalog_job_name(job, t->schema, t->table, t->column);
	if (!p->schema_q || !p->job)
		goto fail;
	p->jobs = pgtext_printf("%s.jobs", p->schema_q);
	p->leases = pgtext_printf("%s.leases", p->schema_q);
	if (!p->jobs || !p->leases)
		goto fail;
	p->sql_exists = pgtext_printf(
		"SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL"
		" AND to_regclass($3) IS NOT NULL"
		/* and of the latest shape: else setup adds what is missing */
		" AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)"
		"  AND attname = 'id_prefix' AND NOT attisdropped)"
		" AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2)"
		"  AND attname = 'rel' AND NOT attisdropped)"
		" AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2)"
		"  AND attname = 'retry_at' AND NOT attisdropped)"
		/* and of this version (tables of the latest shape without one
		 * are): else setup migrates, or refuses a newer */
		" AND COALESCE(" VERSION_OF("$1") ", $4::int) = $4::int"
		/* A missing version is written by a role that could run setup;
		 * one that could not (no CREATE, tables a DBA made) goes on
		 * with the tables as they are, as before versions. */
		" AND (" VERSION_OF("$1") " IS NOT NULL OR NOT ("
		"  has_database_privilege(current_database(), 'CREATE')"
		"  AND (SELECT bool_and(pg_has_role(relowner, 'USAGE')) FROM pg_class"
		"       WHERE oid IN (to_regclass($1), to_regclass($2), to_regclass($3)))))");
	jobs_lit = PQescapeLiteral(conn, p->jobs, strlen(p->jobs));
	if (!jobs_lit)
		goto fail;
	guard = version_guard_sql(jobs_lit, p->schema_q);
	migrate = migrate_sql(jobs_lit, p->schema_q);
	PQfreemem(jobs_lit);
	if (!guard || !migrate) {
		free(guard);
		free(migrate);
		goto fail;
	}
	/* The DDL cannot take parameters: the lease states go in as literals,
	 * from the name table (constant lowercase words, not input). */
	p->sql_setup = pgtext_printf(setup_fmt, p->schema_q,
				     progress_lease_state_name(LEASE_OPEN),
				     progress_lease_state_name(LEASE_DONE),
				     guard, migrate, PROGRESS_SCHEMA_VERSION);
	free(guard);
	free(migrate);
	p->sql_claim = pgtext_printf(claim_fmt, p->jobs, p->leases);
	p->sql_state = pgtext_printf(
		"UPDATE %s SET state = $2, updated_at = now()"
		" WHERE job = $1 AND state <> $3", p->jobs);
	p->sql_list = pgtext_printf(
		"SELECT lease FROM %s WHERE job = $1 AND state = $2"
		" AND (retry_at IS NULL OR retry_at <= now())"
		/* only leases of this process's walk: a key lease has no
		 * relation, a block range always has one */
		" AND (rel IS NULL) = $3"
		" ORDER BY lease LIMIT 64", p->leases);
	p->sql_try_lock = pgtext_printf("SELECT pg_try_advisory_lock(" LOCK_KEY ", $2)");
	p->sql_take = pgtext_printf(
		"UPDATE %s l SET owner = $3, updated_at = now()"
		" WHERE job = $1 AND lease = $2 AND state = $4"
		" RETURNING lo, hi, cursor, rows_done, rel,"
		"  (SELECT n.nspname FROM pg_class c JOIN pg_namespace n"
		"    ON n.oid = c.relnamespace WHERE c.oid = l.rel),"
		"  (SELECT c.relname FROM pg_class c WHERE c.oid = l.rel)", p->leases);
	p->sql_lease_gone = pgtext_printf(
		"UPDATE %s SET state = $3, updated_at = now()"
		" WHERE job = $1 AND lease = $2", p->leases);
	p->sql_frontier_done = pgtext_printf(
		"UPDATE %s SET frontier_done = true, updated_at = now() WHERE job = $1",
		p->jobs);
	p->sql_new_block_lease = pgtext_printf(new_block_lease_fmt, p->jobs, p->leases);
	p->sql_unlock = pgtext_printf("SELECT pg_advisory_unlock(" LOCK_KEY ", $2)");
	p->sql_read_job = pgtext_printf(
		"SELECT state, frontier, frontier_done, next_lease,"
		" COALESCE(EXTRACT(epoch FROM now() - idle_since), 0)::float8,"
		" (SELECT count(*) FROM %s l WHERE l.job = j.job AND l.state = $2),"
		" frontier_rel, frontier_blk, frontier_end, hwm,"
		" EXTRACT(epoch FROM now() - swept_at)::float8,"
		" (SELECT COALESCE(sum(rows_done), 0) FROM %s l WHERE l.job = j.job),"
		" COALESCE(walk, 'key')"
		" FROM %s j WHERE job = $1", p->leases, p->leases, p->jobs);
	p->sql_start_pass = pgtext_printf(
		"UPDATE %s SET state = $4, idle_since = NULL, updated_at = now(),"
		" frontier = $2, hwm_next = COALESCE($3, hwm_next), walk = $5"
		" WHERE job = $1", p->jobs);
	p->sql_stay_idle = pgtext_printf(
		"UPDATE %s SET idle_since = now(), updated_at = now(),"
		" hwm = hwm_next, hwm_next = $3,"
		" swept_at = CASE WHEN $2 THEN now() ELSE swept_at END"
		" WHERE job = $1", p->jobs);
	p->sql_new_lease = pgtext_printf(new_lease_fmt, p->jobs, p->leases);
	p->sql_pass_end = pgtext_printf(pass_end_fmt, p->jobs, p->leases);
	if (p->sql_exists && p->sql_setup && p->sql_claim && p->sql_state &&
	    p->sql_list && p->sql_try_lock && p->sql_take && p->sql_unlock &&
	    p->sql_read_job && p->sql_start_pass &&
	    p->sql_new_lease && p->sql_pass_end && p->sql_lease_gone &&
	    p->sql_frontier_done && p->sql_new_block_lease && p->sql_stay_idle)
		return 0;
fail:
	snprintf(err, errlen, "cannot build the progress statements: %s",
		 PQerrorMessage(conn)[0] ? PQerrorMessage(conn) : "out of memory");
	progress_free(p);
	return -1;
}

void progress_free(struct progress *p)
{
	char **all[] = {
		&p->schema_q, &p->jobs, &p->leases, &p->job, &p->sql_exists,
		&p->sql_setup, &p->sql_claim, &p->sql_state, &p->sql_list,
		&p->sql_try_lock, &p->sql_take, &p->sql_unlock,
		&p->sql_read_job, &p->sql_start_pass,
		&p->sql_new_lease, &p->sql_pass_end, &p->sql_lease_gone,
		&p->sql_frontier_done, &p->sql_new_block_lease, &p->sql_stay_idle,
	};

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
	p->target = NULL;
}

/* Sends sql with text parameters (NULL values are SQL NULL). */
static int send_text(struct conn *w, const char *sql, int n,
		     const char *const *values)
{
	return conn_send(w, sql, n, NULL, values, NULL, NULL);
}

static int send_job_lease(struct progress *p, struct conn *w,
			  const char *sql, int lease)
{
	char num[16];
	const char *values[2] = { p->job, num };

	snprintf(num, sizeof num, "%d", lease);
	return send_text(w, sql, 2, values);
}

int progress_send_exists(struct progress *p, struct conn *w)
{
	char *names[4], version[16];
	int rc;

	snprintf(version, sizeof version, "%d", PROGRESS_SCHEMA_VERSION);
	names[0] = p->jobs;
	names[1] = p->leases;
	names[2] = pgtext_printf("%s.job_progress", p->schema_q);
	names[3] = version;
	if (!names[2])
		return -1;
	rc = send_text(w, p->sql_exists, 4, (const char *const *)names);
	free(names[2]);
	return rc;
}

int progress_send_setup(struct progress *p, struct conn *w)
{
	return conn_send(w, p->sql_setup, 0, NULL, NULL, NULL, NULL);
}

/* Binary text[] parameter, or NULL (SQL NULL) when items is NULL. */
struct array_param {
	unsigned char *buf;
	int len;
};

static int array_param(struct array_param *a, char *const *items, int n)
{
	const char *const *it = (const char *const *)items;

	a->buf = NULL;
	a->len = 0;
	if (!items)
		return 0;
	a->buf = malloc(pgbin_text_array_size(it, n));
	if (!a->buf)
		return -1;
	a->len = (int)pgbin_text_array(a->buf, it, n);
	return 0;
}

int progress_send_claim(struct progress *p, struct conn *w, double estimate,
			const struct progress_format *f)
{
	static const Oid types[13] = { PGBIN_TEXTOID, PGBIN_TEXTOID, PGBIN_TEXTOID,
				       PGBIN_TEXTOID, PGBIN_TEXTARRAYOID, PGBIN_FLOAT8OID,
				       PGBIN_TEXTOID, PGBIN_INT4OID,
				       PGBIN_TEXTOID, PGBIN_TEXTOID, PGBIN_TEXTOID,
				       PGBIN_TEXTOID, PGBIN_TEXTOID };
	const struct target *t = p->target;
	struct array_param keys;
	char est[32], size[24];
	const char *values[13];
	int lengths[13] = { 0 };
	int formats[13] = { 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	int rc;

	if (array_param(&keys, t->keys, t->nkeys) != 0)
		return -1;
	p->format = *f;
	snprintf(est, sizeof est, "%.17g", estimate);
	snprintf(size, sizeof size, "%ld", f->size);
	values[0] = p->job;
	values[1] = t->schema;
	values[2] = t->table;
	values[3] = t->column;
	values[4] = (const char *)keys.buf;
	values[5] = estimate >= 0 ? est : NULL;
	values[6] = target_walk_name(t->walk);
	values[7] = size;
	values[8] = f->alphabet;
	values[9] = f->prefix;
	values[10] = progress_job_state_name(JOB_RUNNING);
	values[11] = progress_job_state_name(JOB_IDLE);
	values[12] = progress_lease_state_name(LEASE_OPEN);
	lengths[4] = keys.len;
	rc = conn_send(w, p->sql_claim, 13, types, values, lengths, formats);
	free(keys.buf);
	return rc;
}

/* Appends s to buf (len bytes, used of them taken), cut short if full. */
static void append(char *buf, size_t len, size_t *used, const char *s)
{
	for (; *s && *used + 1 < len; s++)
		buf[(*used)++] = *s;
	buf[*used] = '\0';
}

int progress_read_claim(struct progress *p, const PGresult *res,
			struct progress_claim *claim, char *err, size_t errlen)
{
	const struct target *t = p->target;

	memset(claim, 0, sizeof *claim);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != 14) {
		snprintf(err, errlen, "unexpected answer claiming job \"%s\"", p->job);
		return -1;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		char keys[1024];
		size_t used = 0;

		/* As array_to_string(key_columns, ', ') has them. */
		keys[0] = '\0';
		for (int i = 0; i < t->nkeys; i++) {
			append(keys, sizeof keys, &used, i ? ", " : "");
			append(keys, sizeof keys, &used, t->keys[i]);
		}
		/* Our target, refused: the ids' format differs. */
		if (strcmp(PQgetvalue(res, 0, 5), t->schema) == 0 &&
		    strcmp(PQgetvalue(res, 0, 6), t->table) == 0 &&
		    strcmp(PQgetvalue(res, 0, 7), t->column) == 0 &&
		    strcmp(PQgetvalue(res, 0, 8), keys) == 0 &&
		    !PQgetisnull(res, 0, 10) &&
		    (strtol(PQgetvalue(res, 0, 10), NULL, 10) != p->format.size ||
		     strcmp(PQgetvalue(res, 0, 11), p->format.alphabet) != 0 ||
		     strcmp(PQgetvalue(res, 0, 12), p->format.prefix) != 0)) {
			char was[600], now[600];

			progress_format_describe(was, sizeof was,
						 strtol(PQgetvalue(res, 0, 10), NULL, 10),
						 PQgetvalue(res, 0, 11), PQgetvalue(res, 0, 12));
			progress_format_describe(now, sizeof now, p->format.size,
						 p->format.alphabet, p->format.prefix);
			snprintf(err, errlen, "job \"%s\" fills ids of %s; this run would "
				 "make ids of %s: give the job's --size, --alphabet and "
				 "--prefix, or start a new job with --job", p->job, was, now);
			return -1;
		}
		snprintf(err, errlen, "job \"%s\" already exists for \"%s\".\"%s\".\"%s\" "
			 "with key (%s); choose another --job", p->job,
			 PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6),
			 PQgetvalue(res, 0, 7), PQgetvalue(res, 0, 8));
		return -1;
	}
	claim->created = PQgetvalue(res, 0, 1)[0] == 't';
	claim->rows_done = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	claim->open_leases = strtol(PQgetvalue(res, 0, 3), NULL, 10);
	claim->leases_with_cursor = strtol(PQgetvalue(res, 0, 4), NULL, 10);
	claim->walk = strcmp(PQgetvalue(res, 0, 9), "physical") == 0 ?
		      WALK_PHYSICAL : WALK_KEY;
	if (progress_job_state_parse(PQgetvalue(res, 0, 13), &p->state) != 0)
		p->state = JOB_RUNNING;
	return 0;
}

void progress_format_describe(char *buf, size_t len, long size,
			      const char *alphabet, const char *prefix)
{
	char shown_a[300], shown_p[160];

	snprintf(buf, len, "%ld symbols of \"%s\"%s%s%s", size,
		 db_display(alphabet, shown_a, sizeof shown_a),
		 prefix[0] ? " after prefix \"" : "",
		 prefix[0] ? db_display(prefix, shown_p, sizeof shown_p) : "",
		 prefix[0] ? "\"" : "");
}

int progress_send_stopped(struct progress *p, struct conn *w)
{
	const char *values[3] = { p->job, progress_job_state_name(JOB_STOPPED),
				  progress_job_state_name(JOB_DONE) };

	if (p->state != JOB_DONE)
		p->state = JOB_STOPPED;
	return send_text(w, p->sql_state, 3, values);
}

int progress_send_list(struct progress *p, struct conn *w)
{
	const char *values[3] = { p->job, progress_lease_state_name(LEASE_OPEN),
				  p->target->walk == WALK_KEY ? "t" : "f" };

	return send_text(w, p->sql_list, 3, values);
}

int progress_send_try_lock(struct progress *p, struct conn *w, int lease)
{
	return send_job_lease(p, w, p->sql_try_lock, lease);
}

int progress_send_take(struct progress *p, struct conn *w, int lease,
		       const char *owner)
{
	char num[16];
	const char *values[4] = { p->job, num, owner,
				  progress_lease_state_name(LEASE_OPEN) };

	snprintf(num, sizeof num, "%d", lease);
	return send_text(w, p->sql_take, 4, values);
}

/* Reads a text[] field into out[nkeys]; *has says if it was not NULL. */
static int read_keys(const PGresult *res, int field, int nkeys, char **out,
		     bool *has)
{
	*has = !PQgetisnull(res, 0, field);
	if (!*has)
		return 0;
	return pgbin_parse_text_array(PQgetvalue(res, 0, field), out,
				      CONFIG_MAX_KEYS) == nkeys ? 0 : -1;
}

int progress_read_take(const struct progress *p, const PGresult *res,
			int lease, struct progress_lease *l)
{
	int width = target_width(p->target);

	memset(l, 0, sizeof *l);
	l->lease = lease;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 7)
		return -1;
	if (PQntuples(res) == 0)
		return 0;
	if (read_keys(res, 0, width, l->lo, &l->has_lo) != 0 ||
	    read_keys(res, 1, width, l->hi, &l->has_hi) != 0 ||
	    read_keys(res, 2, width, l->cursor, &l->has_cursor) != 0) {
		progress_lease_free(l);
		return -1;
	}
	l->rows_done = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	l->rel = PQgetisnull(res, 0, 4) ? 0 : (Oid)strtoul(PQgetvalue(res, 0, 4), NULL, 10);
	if (!PQgetisnull(res, 0, 5) && !PQgetisnull(res, 0, 6)) {
		l->rel_schema = strdup(PQgetvalue(res, 0, 5));
		l->rel_name = strdup(PQgetvalue(res, 0, 6));
		if (!l->rel_schema || !l->rel_name) {
			progress_lease_free(l);
			return -1;
		}
	}
	return 1;
}

static void free_keys(char **keys)
{
	for (int i = 0; i < CONFIG_MAX_KEYS; i++) {
		free(keys[i]);
		keys[i] = NULL;
	}
}

void progress_lease_free(struct progress_lease *l)
{
	free_keys(l->lo);
	free_keys(l->hi);
	free_keys(l->cursor);
	free(l->rel_schema);
	free(l->rel_name);
	l->rel_schema = l->rel_name = NULL;
	l->has_lo = l->has_hi = l->has_cursor = false;
}

int progress_send_unlock(struct progress *p, struct conn *w, int lease)
{
	return send_job_lease(p, w, p->sql_unlock, lease);
}

int progress_send_read_job(struct progress *p, struct conn *w)
{
	const char *values[2] = { p->job, progress_lease_state_name(LEASE_OPEN) };

	return send_text(w, p->sql_read_job, 2, values);
}

int progress_read_job(struct progress *p, const PGresult *res,
		      struct progress_job *j)
{
	memset(j, 0, sizeof *j);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != 13)
		return -1;
	snprintf(j->state, sizeof j->state, "%s", PQgetvalue(res, 0, 0));
	if (progress_job_state_parse(PQgetvalue(res, 0, 0), &j->state_id) != 0)
		j->state_id = JOB_NSTATES;
	else
		p->state = j->state_id;
	if (read_keys(res, 1, target_width(p->target), j->frontier, &j->has_frontier) != 0) {
		progress_job_free(j);
		return -1;
	}
	j->frontier_done = PQgetvalue(res, 0, 2)[0] == 't';
	j->next_lease = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
	j->idle_for = strtod(PQgetvalue(res, 0, 4), NULL);
	j->open_leases = strtol(PQgetvalue(res, 0, 5), NULL, 10);
	j->frontier_rel = PQgetisnull(res, 0, 6) ? 0 :
			  (Oid)strtoul(PQgetvalue(res, 0, 6), NULL, 10);
	j->frontier_blk = PQgetisnull(res, 0, 7) ? 0 : strtoll(PQgetvalue(res, 0, 7), NULL, 10);
	j->frontier_end = PQgetisnull(res, 0, 8) ? 0 : strtoll(PQgetvalue(res, 0, 8), NULL, 10);
	j->has_hwm = !PQgetisnull(res, 0, 9);
	snprintf(j->hwm, sizeof j->hwm, "%s", j->has_hwm ? PQgetvalue(res, 0, 9) : "");
	j->swept_ago = PQgetisnull(res, 0, 10) ? -1 : strtod(PQgetvalue(res, 0, 10), NULL);
	j->pass_rows = strtoll(PQgetvalue(res, 0, 11), NULL, 10);
	j->walk = strcmp(PQgetvalue(res, 0, 12), "physical") == 0 ? WALK_PHYSICAL : WALK_KEY;
	return 0;
}

void progress_job_free(struct progress_job *j)
{
	free_keys(j->frontier);
	j->has_frontier = false;
}

int progress_send_start_pass(struct progress *p, struct conn *w,
			     const char *from, const char *max_key)
{
	static const Oid types[5] = { PGBIN_TEXTOID, PGBIN_TEXTARRAYOID, PGBIN_INT8OID,
				      PGBIN_TEXTOID, PGBIN_TEXTOID };
	struct array_param a;
	const char *values[5];
	int lengths[5] = { 0, 0, 0, 0, 0 };
	int formats[5] = { 0, 1, 0, 0, 0 };
	int rc;

	if (array_param(&a, from ? (char *const[]){ (char *)from } : NULL, 1) != 0)
		return -1;
	values[0] = p->job;
	values[1] = (const char *)a.buf;
	values[2] = max_key;
	values[3] = progress_job_state_name(JOB_RUNNING);
	values[4] = target_walk_name(p->target->walk);
	lengths[1] = a.len;
	p->state = JOB_RUNNING;
	rc = conn_send(w, p->sql_start_pass, 5, types, values, lengths, formats);
	free(a.buf);
	return rc;
}

int progress_send_stay_idle(struct progress *p, struct conn *w, bool sweep,
			    const char *max_key)
{
	static const Oid types[3] = { PGBIN_TEXTOID, PGBIN_BOOLOID, PGBIN_INT8OID };
	const char *values[3] = { p->job, sweep ? "t" : "f", max_key };

	return conn_send(w, p->sql_stay_idle, 3, types, values, NULL, NULL);
}

int progress_send_new_lease(struct progress *p, struct conn *w, int lease,
			    char *const *lo, char *const *hi, const char *owner)
{
	static const Oid types[5] = { PGBIN_TEXTOID, PGBIN_INT4OID,
				      PGBIN_TEXTARRAYOID, PGBIN_TEXTARRAYOID,
				      PGBIN_TEXTOID };
	int nkeys = target_width(p->target);
	struct array_param alo, ahi;
	char num[16];
	const char *values[5];
	int lengths[5] = { 0, 0, 0, 0, 0 };
	int formats[5] = { 0, 0, 1, 1, 0 };
	int rc = -1;

	if (array_param(&alo, lo, nkeys) != 0)
		return -1;
	if (array_param(&ahi, hi, nkeys) != 0)
		goto out;
	snprintf(num, sizeof num, "%d", lease);
	values[0] = p->job;
	values[1] = num;
	values[2] = (const char *)alo.buf;
	values[3] = (const char *)ahi.buf;
	values[4] = owner;
	formats[1] = 0;
	lengths[2] = alo.len;
	lengths[3] = ahi.len;
	rc = conn_send(w, p->sql_new_lease, 5, types, values, lengths, formats);
out:
	free(alo.buf);
	free(ahi.buf);
	return rc;
}

int progress_send_pass_end(struct progress *p, struct conn *w,
			   enum job_state state, enum walk next)
{
	static const Oid types[5] = { PGBIN_TEXTOID, PGBIN_TEXTOID, PGBIN_BOOLOID,
				      PGBIN_BOOLOID, PGBIN_TEXTOID };
	const char *values[5] = { p->job, progress_job_state_name(state),
				  state == JOB_IDLE ? "t" : "f",
				  state == JOB_DONE ? "t" : "f", target_walk_name(next) };

	p->state = state;
	return conn_send(w, p->sql_pass_end, 5, types, values, NULL, NULL);
}

int progress_send_new_block_lease(struct progress *p, struct conn *w, int lease,
				  Oid rel, long long lo, long long hi,
				  long long end, const char *owner)
{
	char num[16], srel[16], slo[24], shi[24], send_[24];
	const char *values[7] = { p->job, num, srel, slo, shi, send_, owner };

	snprintf(num, sizeof num, "%d", lease);
	snprintf(srel, sizeof srel, "%u", rel);
	snprintf(slo, sizeof slo, "%lld", lo);
	snprintf(shi, sizeof shi, "%lld", hi);
	snprintf(send_, sizeof send_, "%lld", end);
	return send_text(w, p->sql_new_block_lease, 7, values);
}

int progress_send_frontier_done(struct progress *p, struct conn *w)
{
	const char *values[1] = { p->job };

	return send_text(w, p->sql_frontier_done, 1, values);
}

int progress_send_lease_gone(struct progress *p, struct conn *w, int lease)
{
	char num[16];
	const char *values[3] = { p->job, num, progress_lease_state_name(LEASE_DONE) };

	snprintf(num, sizeof num, "%d", lease);
	return send_text(w, p->sql_lease_gone, 3, values);
}
