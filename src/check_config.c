/*
 * check_config.c - `--check-config`: connect, check, write nothing.
 */
#include "check_config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "catalog.h"
#include "db.h"
#include "exit_codes.h"
#include "idspace.h"
#include "log.h"
#include "pgconn.h"
#include "pooler.h"
#include "retry.h"
#include "target.h"

#define LINE 1024
#define NAME 256

struct check {
	const struct config *cfg;
	PGconn *conn;
	struct target t;
	char user[NAME];        /* current_user, for the messages */
	char shown[3 * NAME];   /* "schema"."table", displayable */
};

bool check_config_dsn(const char *dsn, char *err, size_t errlen)
{
	char why[LINE];

	if (pgconn_parse_dsn(dsn, why, sizeof why) == 0)
		return true;
	snprintf(err, errlen, "--dsn: %s", why);
	return false;
}

/* Exit code for a failed statement: configuration as the retry table says
 * for the one-shot commands (class 42: undefined object, privilege,
 * syntax), the rest is the server's trouble. */
static int fail_res(struct check *c, const PGresult *res, const char *what)
{
	char buf[LINE];
	const char *state = pgconn_sqlstate(res);

	log_error("%s: %s", what, pgconn_error(c->conn, res, buf, sizeof buf));
	return retry_action(RETRY_ONESHOT, state) == RETRY_CONFIG ? NB_EXIT_CONFIG :
								   NB_EXIT_FAILURE;
}

static bool is_t(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* Appends s to the string in buf (len bytes), cutting what does not fit. */
static void append(char *buf, size_t len, const char *s)
{
	size_t used = strlen(buf), n = strlen(s);

	if (used + 1 >= len)
		return;
	if (n > len - used - 1)
		n = len - used - 1;
	memcpy(buf + used, s, n);
	buf[used + n] = '\0';
}

/* "a, b": names displayable, as the run's log lines show a key. */
static void join_key(char *buf, size_t len, int i, const char *name)
{
	char one[NAME];

	if (i == 0)
		buf[0] = '\0';
	else
		append(buf, len, ", ");
	append(buf, len, db_display(name, one, sizeof one));
}

static void join_keys(char *buf, size_t len, char *const *keys, int n)
{
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		join_key(buf, len, i, keys[i]);
}

/*
 * The run's target check, which covers the role's privileges on the key
 * and the column as well; with --add-column, a missing column is fine.
 */
static int check_target(struct check *c, bool *column_missing)
{
	const struct config *cfg = c->cfg;
	struct catalog_params tp;
	struct catalog_table table;
	char err[LINE], other[LINE];
	size_t id_len = strlen(cfg->prefix) + (size_t)cfg->size;
	PGresult *res;
	const char *vals[CATALOG_TABLE_NPARAMS];
	int rc;

	*column_missing = false;
	if (catalog_target_params(cfg, &tp, err, sizeof err) != 0) {
		log_error("%s", err);
		return NB_EXIT_CONFIG;
	}
	res = db_exec_params(c->conn, catalog_target_sql(), CATALOG_TARGET_NPARAMS,
			     tp.types, tp.values, tp.lengths, tp.formats, true);
	if (!db_ok(res)) {
		rc = fail_res(c, res, "checking the target");
		PQclear(res);
		return rc;
	}
	rc = target_check(&c->t, res, cfg, id_len, err, sizeof err);
	PQclear(res);
	if (rc == 0)
		return NB_EXIT_OK;
	if (!cfg->add_column) {
		log_error("%s", err);
		return NB_EXIT_CONFIG;
	}

	/* --add-column: is it the column that is missing from a table? */
	catalog_table_params(cfg, vals);
	res = db_exec(c->conn, catalog_table_sql(), CATALOG_TABLE_NPARAMS, vals,
		      true);
	if (!db_ok(res)) {
		rc = fail_res(c, res, "checking the target");
		PQclear(res);
		return rc;
	}
	rc = catalog_table_read(&table, res, cfg, false, other, sizeof other);
	PQclear(res);
	if (rc == -2) {
		log_error("%s", other);
		catalog_table_free(&table);
		return NB_EXIT_FAILURE;
	}
	if (rc != 0 || table.has_column) {
		log_error("%s", err);
		catalog_table_free(&table);
		return NB_EXIT_CONFIG;
	}
	*column_missing = true;
	c->t.schema = table.schema;
	c->t.table = table.table;
	table.schema = table.table = NULL;
	catalog_table_free(&table);
	c->t.column = strdup(cfg->column);
	if (c->t.column == NULL) {
		log_error("out of memory");
		return NB_EXIT_FAILURE;
	}
	return NB_EXIT_OK;
}

/*
 * The progress tables: creatable if missing, writable if there; and the
 * job name free or ours. Read through the catalog (not to_regclass), which
 * needs no privilege on the schema.
 */
static int check_progress(struct check *c, const char *job)
{
	static const char sql[] =
		"WITH n AS (SELECT oid FROM pg_namespace WHERE nspname = $1),"
		" j AS (SELECT c.oid FROM pg_class c JOIN n ON c.relnamespace = n.oid"
		"        WHERE c.relname = 'jobs'),"
		" l AS (SELECT c.oid FROM pg_class c JOIN n ON c.relnamespace = n.oid"
		"        WHERE c.relname = 'leases')"
		" SELECT EXISTS (SELECT 1 FROM n),"
		"  has_database_privilege(current_database(), 'CREATE'),"
		"  (SELECT has_schema_privilege(oid, 'CREATE') FROM n),"
		"  (SELECT has_schema_privilege(oid, 'USAGE') FROM n),"
		"  EXISTS (SELECT 1 FROM j),"
		"  (SELECT has_table_privilege(oid, 'SELECT') AND"
		"          has_table_privilege(oid, 'INSERT') AND"
		"          has_table_privilege(oid, 'UPDATE') FROM j),"
		"  EXISTS (SELECT 1 FROM l),"
		"  (SELECT has_table_privilege(oid, 'SELECT') AND"
		"          has_table_privilege(oid, 'INSERT') AND"
		"          has_table_privilege(oid, 'UPDATE') AND"
		"          has_table_privilege(oid, 'DELETE') FROM l),"
		"  current_database()";
	const char *schema = c->cfg->progress_schema;
	const char *vals[1] = { schema };
	char s_shown[NAME], db[NAME], theirs[LINE];
	char *q = NULL, *q_sql = NULL;
	PGresult *res;
	bool jobs_exist, leases_exist;
	int rc = NB_EXIT_OK, rows;

	db_display(schema, s_shown, sizeof s_shown);
	res = db_exec(c->conn, sql, 1, vals, true);
	if (!db_ok(res) || PQntuples(res) != 1) {
		rc = fail_res(c, res, "checking the progress table");
		PQclear(res);
		return rc;
	}
	db_display(PQgetvalue(res, 0, 8), db, sizeof db);
	jobs_exist = is_t(res, 0, 4);
	leases_exist = is_t(res, 0, 6);
	if (!is_t(res, 0, 0)) {
		if (!is_t(res, 0, 1)) {
			log_error("role \"%s\" may not create the progress schema "
				  "\"%s\" in database \"%s\"; create it for the "
				  "role or grant CREATE on the database",
				  c->user, s_shown, db);
			rc = NB_EXIT_CONFIG;
		}
		PQclear(res);
		return rc;
	}
	if (!is_t(res, 0, 3)) {
		log_error("role \"%s\" may not use the progress schema \"%s\"",
			  c->user, s_shown);
		rc = NB_EXIT_CONFIG;
	} else if ((!jobs_exist || !leases_exist) && !is_t(res, 0, 2)) {
		log_error("role \"%s\" may not create the progress tables in "
			  "schema \"%s\"", c->user, s_shown);
		rc = NB_EXIT_CONFIG;
	} else if ((jobs_exist && !is_t(res, 0, 5)) ||
		   (leases_exist && !is_t(res, 0, 7))) {
		log_error("role \"%s\" may not write the progress tables in "
			  "schema \"%s\"", c->user, s_shown);
		rc = NB_EXIT_CONFIG;
	}
	PQclear(res);
	if (rc != NB_EXIT_OK || !jobs_exist)
		return rc;

	/* The job row, if any, must be this target's. */
	q = pgconn_quote(c->conn, schema);
	if (q == NULL || asprintf(&q_sql,
		"SELECT j.schema_name, j.table_name, j.column_name, k.name"
		" FROM %s.jobs j LEFT JOIN LATERAL unnest(j.key_columns)"
		"  WITH ORDINALITY AS k(name, n) ON true"
		" WHERE j.job = $1 ORDER BY k.n", q) < 0) {
		free(q);
		log_error("out of memory");
		return NB_EXIT_FAILURE;
	}
	free(q);
	vals[0] = job;
	res = db_exec(c->conn, q_sql, 1, vals, true);
	free(q_sql);
	if (!db_ok(res)) {
		rc = fail_res(c, res, "reading the progress table");
		PQclear(res);
		return rc;
	}
	rows = PQntuples(res);
	if (rows > 0) {
		bool same = strcmp(PQgetvalue(res, 0, 0), c->t.schema) == 0 &&
			    strcmp(PQgetvalue(res, 0, 1), c->t.table) == 0 &&
			    strcmp(PQgetvalue(res, 0, 2), c->t.column) == 0 &&
			    (rows == c->t.nkeys || c->t.nkeys == 0);
		theirs[0] = '\0';
		for (int i = 0; i < rows; i++) {
			const char *k = PQgetvalue(res, i, 3);

			if (i < c->t.nkeys && strcmp(k, c->t.keys[i]) != 0)
				same = false;
			join_key(theirs, sizeof theirs, i, k);
		}
		if (!same) {
			char s[NAME], t[NAME], col[NAME], j[NAME];

			log_error("job \"%s\" already exists for \"%s\".\"%s\".\"%s\" "
				  "with key (%s); choose another --job",
				  db_display(job, j, sizeof j),
				  db_display(PQgetvalue(res, 0, 0), s, sizeof s),
				  db_display(PQgetvalue(res, 0, 1), t, sizeof t),
				  db_display(PQgetvalue(res, 0, 2), col, sizeof col),
				  theirs);
			rc = NB_EXIT_CONFIG;
		}
	}
	PQclear(res);
	return rc;
}

/*
 * The table's rows for the birthday bound: the planner's count of the
 * whole table (every partition and child; the run's own estimate), else
 * reltuples; -1 if neither is known.
 */
static double table_rows(struct check *c, bool column_missing)
{
	double rows = db_planned_rows(c->conn, c->t.schema, c->t.table);

	if (rows < 0 && !column_missing && c->t.reltuples >= 0)
		rows = c->t.reltuples;
	return rows;
}

/*
 * Whether a unique index rejects a repeated id anywhere in the target: a
 * valid, unique, non-partial index on exactly the column, on a table
 * without children or on a partitioned table (whose index then spans
 * every partition). An inheritance parent's index covers its own rows
 * only, and a unique index on each partition does not see the others.
 * Returns NB_EXIT_OK with *unique set, or the exit code after logging.
 */
static int unique_index(struct check *c, bool *unique)
{
	static const char sql[] =
		"SELECT EXISTS (SELECT 1 FROM pg_index i"
		"         WHERE i.indrelid = r.oid AND i.indisunique AND i.indisvalid"
		"           AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum"
		"           AND i.indpred IS NULL AND i.indexprs IS NULL)"
		"   AND (r.relkind = 'p' OR NOT EXISTS (SELECT 1 FROM pg_inherits h"
		"                                       WHERE h.inhparent = r.oid))"
		" FROM pg_class r JOIN pg_attribute a ON a.attrelid = r.oid"
		" WHERE r.oid = $1::oid AND a.attname = $2::text AND a.attnum > 0"
		"   AND NOT a.attisdropped";
	char oid[16];
	const char *vals[2] = { oid, c->t.column };
	PGresult *res;
	int rc;

	snprintf(oid, sizeof oid, "%u", (unsigned)c->t.oid);
	res = db_exec(c->conn, sql, 2, vals, true);
	if (!db_ok(res)) {
		rc = fail_res(c, res, "looking for a unique index on the column");
		PQclear(res);
		return rc;
	}
	*unique = PQntuples(res) == 1 && is_t(res, 0, 0);
	PQclear(res);
	return NB_EXIT_OK;
}

/*
 * The id space of the configured format, in line (for stdout), and the
 * birthday bound's verdict for the table's rows (idspace_judge): a
 * refusal is logged and is a configuration error, a warning is logged
 * and passes.
 */
static int check_idspace(struct check *c, bool column_missing, char *line,
			 size_t len)
{
	const struct config *cfg = c->cfg;
	unsigned alphabet_len = (unsigned)strlen(cfg->alphabet);
	double l = idspace_log10(alphabet_len, cfg->size);
	double rows = table_rows(c, column_missing);
	char summary[LINE / 2], verdict[LINE];
	bool unique = false;
	int rc = column_missing ? NB_EXIT_OK : unique_index(c, &unique);

	if (rc != NB_EXIT_OK)
		return rc;
	idspace_summary(summary, sizeof summary, alphabet_len, cfg->size, rows);
	snprintf(line, len, "ids: %s", summary);
	switch (idspace_judge(l, rows, unique, cfg->allow_duplicates,
			      verdict, sizeof verdict)) {
	case IDSPACE_OK:
		break;
	case IDSPACE_WARN:
		log_warn("%s", verdict);
		break;
	case IDSPACE_REFUSE:
		log_error("%s", verdict);
		return NB_EXIT_CONFIG;
	}
	return NB_EXIT_OK;
}

int check_config_run(const struct config *cfg)
{
	struct check c;
	char err[LINE], keys[LINE], s[NAME], t[NAME], col[NAME], j[NAME];
	char ids[LINE];
	char *job = NULL;
	bool column_missing = false;
	PGresult *res;
	int rc;

	memset(&c, 0, sizeof c);
	c.cfg = cfg;
	if (!check_config_dsn(cfg->dsn, err, sizeof err)) {
		log_error("%s", err);
		return NB_EXIT_CONFIG;
	}
	db_catch_signals();
	c.conn = db_connect(cfg->dsn, err, sizeof err);
	if (c.conn == NULL) {
		log_error("%s", err);
		db_release_signals();
		return NB_EXIT_FAILURE;
	}

	/* What a run would refuse first, at its first connection. */
	switch (pooler_check(cfg->dsn, err, sizeof err)) {
	case POOLER_SESSION:
		break;
	case POOLER_TRANSACTION:
		log_error("%s", err);
		rc = NB_EXIT_CONFIG;
		goto out;
	case POOLER_UNKNOWN:
		log_error("%s", err);
		rc = NB_EXIT_FAILURE;
		goto out;
	}

	/* Belt and braces: whatever follows, this session cannot write. */
	res = db_exec(c.conn, "SET default_transaction_read_only = on;"
		      " SELECT current_user", 0, NULL, true);
	if (!db_ok(res) || PQntuples(res) != 1) {
		rc = fail_res(&c, res, "setting up the session");
		PQclear(res);
		goto out;
	}
	db_display(PQgetvalue(res, 0, 0), c.user, sizeof c.user);
	PQclear(res);

	rc = check_target(&c, &column_missing);
	if (rc != NB_EXIT_OK)
		goto out;
	snprintf(c.shown, sizeof c.shown, "\"%s\".\"%s\"",
		 db_display(c.t.schema, s, sizeof s),
		 db_display(c.t.table, t, sizeof t));

	/* The job name a run would use. */
	job = catalog_job_name(cfg->job, c.t.schema, c.t.table, c.t.column);
	if (job == NULL) {
		log_error("out of memory");
		rc = NB_EXIT_FAILURE;
		goto out;
	}
	rc = check_progress(&c, job);
	if (rc != NB_EXIT_OK)
		goto out;
	rc = check_idspace(&c, column_missing, ids, sizeof ids);
	if (rc != NB_EXIT_OK)
		goto out;

	join_keys(keys, sizeof keys, c.t.keys, c.t.nkeys);
	if (column_missing)
		printf("configuration OK: %s.\"%s\" will be added (text, "
		       "nullable) by --add-column; job \"%s\"\n", c.shown,
		       db_display(c.t.column, col, sizeof col),
		       db_display(job, j, sizeof j));
	else if (c.t.walk == WALK_KEY)
		printf("configuration OK: %s.\"%s\" by key (%s); job \"%s\"\n",
		       c.shown, db_display(c.t.column, col, sizeof col), keys,
		       db_display(job, j, sizeof j));
	else
		printf("configuration OK: %s.\"%s\" in physical order (%s); job \"%s\"\n",
		       c.shown, db_display(c.t.column, col, sizeof col),
		       c.t.walk_reason, db_display(job, j, sizeof j));
	printf("%s\n", ids);
	fflush(stdout);
out:
	free(job);
	target_free(&c.t);
	PQfinish(c.conn);
	db_release_signals();
	return rc;
}
