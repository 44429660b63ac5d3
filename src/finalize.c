/*
 * finalize.c - --add-column, and NOT NULL + UNIQUE after the backfill
 * (see finalize.h).
 */
#include "finalize.h"
#include "finalize_steps.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "exit_codes.h"
#include "log.h"
#include "pgtext.h"
#include "plan.h"
#include "progress.h"
#include "retry.h"
#include "rollout.h"
#include "target.h"

static void fin_free(struct fin *f)
{
	plan_tree_free(&f->tree);
	catalog_table_free(&f->t);
	free(f->qt);
	free(f->qc);
	free(f->qidx);
	free(f->qidx_full);
	if (f->conn != NULL)
		PQfinish(f->conn);
	memset(f, 0, sizeof *f);
}

/* Connects and sets the session's lock_timeout for every DDL to come. */
static int fin_open(struct fin *f, const struct config *cfg)
{
	char err[1024], ms[32];
	const char *v[1] = { ms };
	PGresult *res;

	memset(f, 0, sizeof *f);
	f->cfg = cfg;
	f->conn = db_connect(cfg->dsn, err, sizeof err);
	if (f->conn == NULL) {
		log_error("%s", err);
		return NB_EXIT_FAILURE;
	}
	snprintf(ms, sizeof ms, "%ldms", cfg->ddl_lock_timeout);
	res = db_exec(f->conn, "SELECT set_config('lock_timeout', $1, false)",
		      1, v, false);
	if (!db_ok(res)) {
		log_error("cannot set lock_timeout: %s",
			  pgconn_error(f->conn, res, err, sizeof err));
		PQclear(res);
		return NB_EXIT_FAILURE;
	}
	PQclear(res);
	return 0;
}

/*
 * Finds the table as the backfill does, and the column in it. Returns 0,
 * or an exit code after one error line. need_column: a missing column is
 * an error (78).
 */
static int fin_resolve(struct fin *f, bool need_column)
{
	const struct config *cfg = f->cfg;
	const char *v[CATALOG_TABLE_NPARAMS];
	char err[1024], idx[PLAN_MAX_IDENT + 1];
	PGresult *res;
	char *qs, *qi;
	int rc;

	catalog_table_params(cfg, v);
	res = db_exec(f->conn, catalog_table_sql(), CATALOG_TABLE_NPARAMS, v, true);
	if (!db_ok(res)) {
		log_error("cannot look up the table: %s",
			  pgconn_error(f->conn, res, err, sizeof err));
		PQclear(res);
		return NB_EXIT_FAILURE;
	}
	rc = catalog_table_read(&f->t, res, cfg, need_column, err, sizeof err);
	PQclear(res);
	if (rc != 0) {
		log_error("%s", err);
		return rc == -1 ? NB_EXIT_CONFIG : NB_EXIT_FAILURE;
	}
	snprintf(f->shown, sizeof f->shown, "%s.\"%s\"", f->t.shown, cfg->column);

	plan_object_name(f->t.table, cfg->column, PLAN_CHECK_LABEL, f->chk);
	plan_object_name(f->t.table, cfg->column, PLAN_INDEX_LABEL, idx);
	snprintf(f->idx, sizeof f->idx, "%s", idx);
	qs = pgconn_quote(f->conn, f->t.schema);
	qi = pgconn_quote(f->conn, f->t.table);
	f->qc = pgconn_quote(f->conn, cfg->column);
	if (qs != NULL && qi != NULL && asprintf(&f->qt, "%s.%s", qs, qi) < 0)
		f->qt = NULL;
	free(qi);
	f->qidx = pgconn_quote(f->conn, f->idx);
	if (qs != NULL && f->qidx != NULL &&
	    asprintf(&f->qidx_full, "%s.%s", qs, f->qidx) < 0)
		f->qidx_full = NULL;
	free(qs);
	if (f->qt == NULL || f->qc == NULL || f->qidx_full == NULL) {
		log_error("cannot quote the names: %s", PQerrorMessage(f->conn));
		return NB_EXIT_FAILURE;
	}
	return 0;
}

/*
 * Runs one DDL statement (or several, atomically) and tries again while
 * its lock times out, up to --ddl-retries times, with backoff. cleanup,
 * if given, runs before each retry (the invalid index a cancelled
 * CREATE INDEX CONCURRENTLY leaves). Returns the last result, which the
 * caller checks and clears. cleaning: this is itself cleanup, so it is
 * not cancelled by a signal.
 */
static PGresult *ddl(struct fin *f, const char *sql, const char *what,
		     const char *cleanup, bool cleaning)
{
	char msg[512];
	PGresult *res, *r;
	long delay;

	for (int attempt = 1;; attempt++) {
		res = db_exec(f->conn, sql, 0, NULL, !cleaning);
		if (db_ok(res) ||
		    retry_action(RETRY_ONESHOT, pgconn_sqlstate(res)) != RETRY_AGAIN ||
		    attempt > f->cfg->ddl_retries || (db_stopping() && !cleaning))
			return res;
		delay = retry_backoff_ms(RETRY_POLICY_DDL, attempt - 1, retry_jitter());
		log_warn("%s: %s (%s); retry %d of %ld in %.1f s", what,
			 pgconn_error(f->conn, res, msg, sizeof msg), pgconn_sqlstate(res),
			 attempt, f->cfg->ddl_retries, (double)delay / 1000.0);
		if (cleanup != NULL) {
			r = db_exec(f->conn, cleanup, 0, NULL, false);
			if (!db_ok(r))
				log_warn("%s: cleanup failed: %s", what,
					 pgconn_error(f->conn, r, msg, sizeof msg));
			PQclear(r);
		}
		db_sleep_ms(delay);
		if (db_stopping() && !cleaning)
			return res;
		PQclear(res);
	}
}

int fin_fail(struct fin *f, PGresult *res, const char *what)
{
	char msg[512];

	if (db_stopping())
		log_error("%s: stopped by a signal before it finished; nothing "
			  "of this step is left behind, run finalize again to "
			  "finish", what);
	else if (res != NULL &&
		 retry_action(RETRY_ONESHOT, pgconn_sqlstate(res)) == RETRY_AGAIN)
		log_error("%s: its lock was not granted within %ld ms, %ld "
			  "times; a long transaction holds \"%s\".\"%s\" (see "
			  "pg_locks), try again later or raise --ddl-lock-timeout",
			  what, f->cfg->ddl_lock_timeout, f->cfg->ddl_retries + 1,
			  f->t.schema ? f->t.schema : "", f->t.table ? f->t.table : "");
	else
		log_error("%s: %s", what, pgconn_error(f->conn, res, msg, sizeof msg));
	PQclear(res);
	return NB_EXIT_FAILURE;
}

PGresult *fin_ddl(struct fin *f, const char *sql, const char *what,
		  const char *cleanup, bool cleaning)
{
	return ddl(f, sql, what, cleanup, cleaning);
}

char *fin_sql(char *s)
{
	if (s == NULL) {
		log_error("out of memory");
		exit(NB_EXIT_FAILURE);
	}
	return s;
}

PGresult *fin_query(struct fin *f, const char *sql, int n,
		    const char *const *v, const char *what)
{
	char msg[512];
	PGresult *res = db_exec(f->conn, sql, n, v, true);

	if (db_ok(res))
		return res;
	if (db_stopping())
		log_error("%s: stopped by a signal", what);
	else
		log_error("%s: %s", what, pgconn_error(f->conn, res, msg, sizeof msg));
	PQclear(res);
	return NULL;
}

int fin_any_row(struct fin *f, const char *sql, int n, const char *const *v,
		const char *what)
{
	PGresult *res = fin_query(f, sql, n, v, what);
	int rows;

	if (res == NULL)
		return -1;
	rows = PQntuples(res);
	PQclear(res);
	return rows > 0;
}

/* The name of our check is taken by another constraint: one line, 78. */
static int check_name_taken(const struct fin *f)
{
	log_error("a constraint named \"%s\" already exists on \"%s\".\"%s\" "
		  "and is not CHECK (%s IS NOT NULL); rename it or use "
		  "--no-not-null", f->chk, f->t.schema, f->t.table, f->qc);
	return NB_EXIT_CONFIG;
}

/* The name of our unique index is taken by another object: one line, 78. */
static int index_name_taken(const struct fin *f)
{
	log_error("\"%s\".\"%s\" already exists and is not a unique index on "
		  "%s alone; drop or rename it, or use --no-unique", f->t.schema,
		  f->idx, f->qc);
	return NB_EXIT_CONFIG;
}

/* ---- NOT NULL ----------------------------------------------------------- */

/*
 * A check constraint of exactly "column IS NOT NULL" on the table, ours
 * first if there are several. pg_get_constraintdef() prints the column
 * with quote_ident's rules, so the text comparison is exact.
 */
static int find_check(struct fin *f, char *name, size_t len, bool *found,
		      bool *validated)
{
	static const char sql[] =
		"SELECT k.conname, k.convalidated FROM pg_constraint k"
		" WHERE k.conrelid = $1::oid AND k.contype = 'c'"
		"   AND regexp_replace(pg_get_constraintdef(k.oid), ' NOT VALID$', '')"
		"       = format('CHECK ((%s IS NOT NULL))', quote_ident($2::text))"
		" ORDER BY k.conname = $3::text DESC, k.conname LIMIT 1";
	const char *v[3] = { f->t.oid, f->cfg->column, f->chk };
	PGresult *res = fin_query(f, sql, 3, v, "looking for the NOT NULL check");

	if (res == NULL)
		return -1;
	*found = PQntuples(res) == 1;
	if (*found) {
		snprintf(name, len, "%s", PQgetvalue(res, 0, 0));
		*validated = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	return 0;
}

static int drop_check(struct fin *f, const char *name, bool cleaning)
{
	char *qn = pgconn_quote(f->conn, name);
	char *sql;
	PGresult *res;
	int rc = 0;

	if (qn == NULL)
		return fin_fail(f, NULL, "quoting the check's name");
	sql = fin_sql(rollout_drop_check(f->qt, qn, true));
	res = ddl(f, sql, "dropping the check", NULL, cleaning);
	if (!db_ok(res))
		rc = fin_fail(f, res, "dropping the check");
	else
		PQclear(res);
	free(sql);
	free(qn);
	return rc;
}

static int not_null(struct fin *f)
{
	static const char taken_sql[] =
		"SELECT 1 FROM pg_constraint WHERE conrelid = $1::oid AND conname = $2";
	char name[PLAN_MAX_IDENT + 1] = "", msg[512];
	const char *v[2] = { f->t.oid, f->chk };
	bool found = false, validated = false, created = false, ours;
	char *qn, *sql;
	PGresult *res;

	if (find_check(f, name, sizeof name, &found, &validated) < 0)
		return NB_EXIT_FAILURE;
	ours = found && strcmp(name, f->chk) == 0;
	if (f->t.notnull) {
		/* A check of ours left beside NOT NULL is redundant. */
		if (ours) {
			if (drop_check(f, name, false) != 0)
				return NB_EXIT_FAILURE;
			log_info("finalize: dropped the redundant check \"%s\"", name);
		}
		log_info("finalize: %s is already NOT NULL", f->shown);
		return 0;
	}

	if (!found) {
		switch (fin_any_row(f, taken_sql, 2, v, "checking the check's name")) {
		case -1:
			return NB_EXIT_FAILURE;
		case 1:
			return check_name_taken(f);
		}
		snprintf(name, sizeof name, "%s", f->chk);
		qn = pgconn_quote(f->conn, name);
		if (qn == NULL)
			return fin_fail(f, NULL, "quoting the check's name");
		sql = fin_sql(rollout_add_check(f->qt, qn, f->qc));
		free(qn);
		res = ddl(f, sql, "adding the NOT NULL check", NULL, false);
		free(sql);
		if (!db_ok(res))
			return fin_fail(f, res, "adding the NOT NULL check");
		PQclear(res);
		created = true;
		log_info("finalize: added the check \"%s\" NOT VALID: new NULLs "
			 "are rejected from now on", name);
	}

	qn = pgconn_quote(f->conn, name);
	if (qn == NULL)
		return fin_fail(f, NULL, "quoting the check's name");
	if (!validated) {
		log_info("finalize: validating \"%s\" (a scan that blocks neither "
			 "reads nor writes)", name);
		sql = fin_sql(rollout_validate_check(f->qt, qn));
		res = ddl(f, sql, "validating the NOT NULL check", NULL, false);
		free(sql);
		if (!db_ok(res)) {
			free(qn);
			if (strcmp(pgconn_sqlstate(res), "23514") == 0 && !db_stopping()) {
				log_error("%s still holds NULL values: run the "
					  "backfill to the end first (%s)%s",
					  f->shown,
					  pgconn_error(f->conn, res, msg, sizeof msg),
					  created ? "; the check added by this "
					  "run is dropped again" : "");
				PQclear(res);
			} else {
				fin_fail(f, res, "validating the NOT NULL check");
			}
			if (created)
				drop_check(f, name, true);
			return NB_EXIT_FAILURE;
		}
		PQclear(res);
	}

	/* One implicit transaction: NOT NULL, and the check it replaces.
	 * A check not named by us is the user's: it stays. */
	sql = fin_sql(rollout_set_not_null(f->qt, f->qc));
	if (strcmp(name, f->chk) == 0) {
		char *drop = fin_sql(rollout_drop_check(f->qt, qn, false));
		char *both = sqlf("%s; %s", sql, drop);

		free(sql);
		free(drop);
		sql = both;
	}
	free(qn);
	res = ddl(f, sql, "setting NOT NULL", NULL, false);
	free(sql);
	if (!db_ok(res)) {
		int rc = fin_fail(f, res, "setting NOT NULL");

		if (created)
			drop_check(f, name, true);
		return rc;
	}
	PQclear(res);
	log_info("finalize: %s is NOT NULL", f->shown);
	return 0;
}

/* ---- UNIQUE ------------------------------------------------------------- */

/* Drops an index of ours a failed concurrent build left INVALID:
 * qfull quoted with its schema, shown as in messages. */
void fin_drop_invalid(struct fin *f, const char *qfull, const char *shown)
{
	char *sql = fin_sql(rollout_drop_index(qfull, true));
	PGresult *res = ddl(f, sql, "dropping the invalid index", NULL, true);
	char msg[512];

	if (!db_ok(res))
		log_error("could not drop the invalid index %s: %s; drop it by "
			  "hand (DROP INDEX CONCURRENTLY %s)", shown,
			  pgconn_error(f->conn, res, msg, sizeof msg), qfull);
	PQclear(res);
	free(sql);
}

static void drop_invalid_index(struct fin *f)
{
	char shown[PLAN_MAX_IDENT * 2 + 8];

	snprintf(shown, sizeof shown, "\"%s\".\"%s\"", f->t.schema, f->idx);
	fin_drop_invalid(f, f->qidx_full, shown);
}

__attribute__((format(printf, 4, 5)))
void fin_appendf(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n > 0)
		*o += (size_t)n;
}

/* One error line naming the duplicate values (up to five). */
void fin_report_duplicates(struct fin *f)
{
	const char *left = f->t.kind == 'p' ?
		"no invalid index was left behind (the indexes already built "
		"on other partitions stay)" : "no index was left behind";

	char *sql = sqlf("SELECT v, n, count(*) OVER () FROM"
			 " (SELECT %s::text AS v, count(*) AS n FROM %s"
			 "   WHERE %s IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d"
			 " ORDER BY n DESC, v LIMIT 5", f->qc, f->qt, f->qc);
	PGresult *res = fin_query(f, sql, 0, NULL, "listing the duplicate values");
	char list[1024] = "", shown[128];
	size_t o = 0;
	int rows;

	free(sql);
	if (res == NULL)
		return;
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++)
		fin_appendf(list, sizeof list, &o, "%s'%s' (%s rows)", i ? ", " : "",
			db_display(PQgetvalue(res, i, 0), shown, sizeof shown),
			PQgetvalue(res, i, 1));
	if (rows == 0)
		log_error("cannot make %s unique: the index build found a "
			  "duplicate value that is gone now; run finalize again",
			  f->shown);
	else
		log_error("cannot make %s unique: %s value%s occur%s more than "
			  "once: %s%s; %s. Give those rows new ids (`nanoid-backfill "
			  "verify` lists them), then run finalize again", f->shown,
			  PQgetvalue(res, 0, 2),
			  strcmp(PQgetvalue(res, 0, 2), "1") ? "s" : "",
			  strcmp(PQgetvalue(res, 0, 2), "1") ? "" : "s", list,
			  atol(PQgetvalue(res, 0, 2)) > rows ? ", ..." : "", left);
	PQclear(res);
}

/* A valid unique index on the column alone: the rollout's end state. */
const char fin_unique_index_sql[] =
	"SELECT i.indexrelid::regclass::text FROM pg_index i"
	" WHERE i.indrelid = $1::oid AND i.indisunique AND i.indisvalid"
	"   AND i.indnkeyatts = 1 AND i.indkey[0] = $2::int2"
	"   AND i.indpred IS NULL AND i.indexprs IS NULL"
	" ORDER BY 1 LIMIT 1";

/* 1 (and says so) if the column has one already, 0 if not, -1 on error. */
int fin_already_unique(struct fin *f)
{
	const char *v[2] = { f->t.oid, f->t.attnum };
	PGresult *res = fin_query(f, fin_unique_index_sql, 2, v, "looking for a unique index");

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		log_info("finalize: %s is already unique (index %s)", f->shown,
			 PQgetvalue(res, 0, 0));
		PQclear(res);
		return 1;
	}
	PQclear(res);
	return 0;
}

static int unique(struct fin *f)
{
	static const char name_sql[] =
		"SELECT c.relkind, i.indrelid = $3::oid, i.indisvalid"
		"  FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid"
		" WHERE c.relnamespace = $1::oid AND c.relname = $2::text";
	const char *v[3] = { f->t.oid, f->t.attnum, NULL };
	char *sql, *cleanup;
	PGresult *res;

	switch (fin_already_unique(f)) {
	case -1:
		return NB_EXIT_FAILURE;
	case 1:
		return 0;
	}

	v[0] = f->t.nspid;
	v[1] = f->idx;
	v[2] = f->t.oid;
	res = fin_query(f, name_sql, 3, v, "checking the index's name");
	if (res == NULL)
		return NB_EXIT_FAILURE;
	if (PQntuples(res) == 1) {
		bool leftover = PQgetvalue(res, 0, 0)[0] == 'i' &&
				PQgetvalue(res, 0, 1)[0] == 't' &&
				PQgetvalue(res, 0, 2)[0] == 'f';

		PQclear(res);
		if (!leftover)
			return index_name_taken(f);
		log_warn("finalize: dropping the invalid index \"%s\" an earlier "
			 "build left behind", f->idx);
		drop_invalid_index(f);
	} else {
		PQclear(res);
	}

	log_info("finalize: building the unique index \"%s\" concurrently "
		 "(reads and writes go on)", f->idx);
	sql = fin_sql(rollout_unique_index(f->qidx, f->qt, f->qc));
	cleanup = fin_sql(rollout_drop_index(f->qidx_full, true));
	res = ddl(f, sql, "building the unique index", cleanup, false);
	free(sql);
	free(cleanup);
	if (!db_ok(res)) {
		/* A failed concurrent build leaves its INVALID index behind. */
		drop_invalid_index(f);
		if (strcmp(pgconn_sqlstate(res), "23505") == 0 && !db_stopping()) {
			PQclear(res);
			fin_report_duplicates(f);
			return NB_EXIT_FAILURE;
		}
		return fin_fail(f, res, "building the unique index");
	}
	PQclear(res);
	log_info("finalize: %s is unique (index \"%s\")", f->shown, f->idx);
	return 0;
}

/* ---- the commands ------------------------------------------------------- */

/*
 * Before any DDL: the names the steps will create must be free (or be a
 * leftover of ours), so that a conflict is a configuration error with
 * nothing written, not a failure halfway.
 */
static int names_free(struct fin *f)
{
	/* Taken by something else, and no usable check under another name. */
#define IS_OUR_CHECK(k) \
	"(" k ".contype = 'c' AND regexp_replace(pg_get_constraintdef(" k ".oid)," \
	" ' NOT VALID$', '') = format('CHECK ((%s IS NOT NULL))', quote_ident($2::text)))"
	static const char check_sql[] =
		"SELECT 1 FROM pg_constraint k WHERE k.conrelid = $1::oid"
		"   AND k.conname = $3::text AND NOT " IS_OUR_CHECK("k")
		"   AND NOT EXISTS (SELECT 1 FROM pg_constraint m"
		"                    WHERE m.conrelid = $1::oid AND " IS_OUR_CHECK("m") ")";
#undef IS_OUR_CHECK
	/* Taken by something else than a leftover invalid index of ours or
	 * the unique index itself, and the column has no unique index yet. */
#define IS_UNIQUE_ON_COLUMN(i) \
	"(" i ".indrelid = $3::oid AND " i ".indisunique AND " i ".indnkeyatts = 1" \
	" AND " i ".indkey[0] = $4::int2 AND " i ".indpred IS NULL" \
	" AND " i ".indexprs IS NULL)"
	static const char index_sql[] =
		"SELECT 1 FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid"
		" WHERE c.relnamespace = $1::oid AND c.relname = $2::text"
		"   AND NOT (c.relkind = 'i' AND i.indrelid = $3::oid AND"
		"            (NOT i.indisvalid OR " IS_UNIQUE_ON_COLUMN("i") "))"
		"   AND NOT EXISTS (SELECT 1 FROM pg_index j WHERE j.indisvalid AND "
		IS_UNIQUE_ON_COLUMN("j") ")";
#undef IS_UNIQUE_ON_COLUMN
	const char *cv[3] = { f->t.oid, f->cfg->column, f->chk };
	const char *iv[4] = { f->t.nspid, f->idx, f->t.oid, f->t.attnum };

	if (!f->cfg->no_not_null && !f->t.notnull) {
		switch (fin_any_row(f, check_sql, 3, cv, "checking the check's name")) {
		case -1:
			return NB_EXIT_FAILURE;
		case 1:
			return check_name_taken(f);
		}
	}
	/* A partitioned table's names are checked once its tree is read:
	 * fin_partitions(). */
	if (!f->cfg->no_unique && f->t.kind != 'p') {
		switch (fin_any_row(f, index_sql, 4, iv, "checking the index's name")) {
		case -1:
			return NB_EXIT_FAILURE;
		case 1:
			return index_name_taken(f);
		}
	}
	return 0;
}

/* The NOT NULL and UNIQUE steps; resolves the target unless done. */
static int finish(struct fin *f)
{
	int rc = f->t.table != NULL ? 0 : fin_resolve(f, true);

	if (rc == 0)
		rc = names_free(f);
	if (rc == 0 && !f->cfg->no_unique && f->t.kind == 'p')
		rc = fin_partitions(f);
	if (rc == 0 && !f->cfg->no_not_null)
		rc = not_null(f);
	if (rc == 0 && !f->cfg->no_unique)
		rc = f->t.kind == 'p' ? fin_unique_partitioned(f) : unique(f);
	if (rc == 0)
		log_info("finalize: done: %s%s%s%s", f->shown,
			 f->cfg->no_not_null ? "" : " is NOT NULL",
			 f->cfg->no_unique ? "" :
			 f->cfg->no_not_null ? " is unique" : " and unique",
			 f->per_partition ? " within each partition (no value "
			 "in two partitions now; PostgreSQL does not enforce "
			 "that, `verify` checks it)" : "");
	return rc;
}

int finalize_run(const struct config *cfg)
{
	struct fin f;
	int rc;

	db_catch_signals();
	rc = fin_open(&f, cfg);
	if (rc == 0)
		rc = finish(&f);
	fin_free(&f);
	db_release_signals();
	return rc;
}

int finalize_after_backfill(const struct config *cfg)
{
	struct fin f;
	char *job = NULL, *qps = NULL, *sql = NULL;
	const char *v[1];
	PGresult *res;
	int rc;

	db_catch_signals();
	rc = fin_open(&f, cfg);
	if (rc == 0)
		rc = fin_resolve(&f, true);
	if (rc != 0)
		goto out;
	job = catalog_job_name(cfg->job, f.t.schema, f.t.table, cfg->column);
	qps = pgconn_quote(f.conn, cfg->progress_schema);
	if (job == NULL || qps == NULL) {
		log_error("out of memory");
		rc = NB_EXIT_FAILURE;
		goto out;
	}
	sql = sqlf("SELECT state FROM %s.jobs WHERE job = $1", qps);
	v[0] = job;
	res = fin_query(&f, sql, 1, v, "reading the job's state");
	if (res == NULL) {
		rc = NB_EXIT_FAILURE;
		goto out;
	}
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), progress_job_state_name(JOB_DONE)) != 0) {
		log_info("finalize: the backfill stopped before it was done; not "
			 "finalizing (run again to resume and finalize)");
		PQclear(res);
		goto out;
	}
	PQclear(res);
	rc = finish(&f);
out:
	free(sql);
	free(qps);
	free(job);
	fin_free(&f);
	db_release_signals();
	return rc;
}

int finalize_add_column(const struct config *cfg)
{
	struct fin f;
	struct catalog_params tp;
	struct target t;
	char err[1024];
	char *sql = NULL;
	PGresult *res = NULL;
	size_t id_len = strlen(cfg->prefix) + (size_t)cfg->size;
	int rc;

	db_catch_signals();
	rc = fin_open(&f, cfg);
	if (rc == 0)
		rc = fin_resolve(&f, false);
	if (rc != 0)
		goto out;
	if (f.t.has_column) {
		log_info("add-column: %s exists already", f.shown);
		goto out;
	}
	if (catalog_target_params(cfg, &tp, err, sizeof err) != 0) {
		log_error("%s", err);
		rc = NB_EXIT_CONFIG;
		goto out;
	}
	sql = fin_sql(rollout_add_column(f.qt, f.qc));
	/*
	 * Add the column and run the backfill's own target check in one
	 * transaction: a target the backfill would refuse (no key, say) gets
	 * no column either. The check reads only the catalog, so the ADD
	 * COLUMN's exclusive lock is held for milliseconds.
	 */
	for (int attempt = 1;; attempt++) {
		long delay;

		PQclear(db_exec(f.conn, "BEGIN", 0, NULL, false));
		res = db_exec(f.conn, sql, 0, NULL, true);
		if (db_ok(res)) {
			PQclear(res);
			res = db_exec_params(f.conn, catalog_target_sql(),
					     CATALOG_TARGET_NPARAMS, tp.types,
					     tp.values, tp.lengths, tp.formats,
					     true);
			if (!db_ok(res))
				break;
			if (target_check(&t, res, cfg, id_len, err, sizeof err) < 0) {
				PQclear(db_exec(f.conn, "ROLLBACK", 0, NULL, false));
				PQclear(res);
				log_error("%s", err);
				rc = NB_EXIT_CONFIG;
				goto out;
			}
			target_free(&t);
			PQclear(res);
			res = db_exec(f.conn, "COMMIT", 0, NULL, false);
			break;
		}
		PQclear(db_exec(f.conn, "ROLLBACK", 0, NULL, false));
		if (retry_action(RETRY_ONESHOT, pgconn_sqlstate(res)) != RETRY_AGAIN ||
		    attempt > cfg->ddl_retries || db_stopping())
			break;
		delay = retry_backoff_ms(RETRY_POLICY_DDL, attempt - 1, retry_jitter());
		log_warn("adding the column: %s (%s); retry %d of %ld in %.1f s",
			 pgconn_error(f.conn, res, err, sizeof err), pgconn_sqlstate(res),
			 attempt, cfg->ddl_retries, (double)delay / 1000.0);
		PQclear(res);
		res = NULL;
		db_sleep_ms(delay);
		if (db_stopping())
			break;
	}
	if (!db_ok(res)) {
		PQclear(db_exec(f.conn, "ROLLBACK", 0, NULL, false));
		rc = fin_fail(&f, res, "adding the column");
		goto out;
	}
	PQclear(res);
	log_info("add-column: added %s (text, nullable)", f.shown);
out:
	free(sql);
	fin_free(&f);
	db_release_signals();
	return rc;
}
