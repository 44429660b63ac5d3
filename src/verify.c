/*
 * verify.c - count NULL, duplicate and malformed ids (see verify.h).
 */
#include "verify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "exit_codes.h"
#include "log.h"
#include "pgtext.h"
#include "target.h"

#define SAMPLES 5

/*
 * The table as the backfill finds it (quote_ident keeps names exactly as
 * given; to_regclass gives NULL instead of an error), the column, and two
 * facts for the summary: NOT NULL, and a valid unique index on the column
 * alone. Then whether row-level security would hide rows from this role
 * (through the table, only its own policies apply, not its children's).
 */
static const char resolve_sql[] =
	"SELECT n.nspname, c.relname, c.relkind, a.attnum IS NOT NULL,"
	"       a.attnotnull,"
	"       (SELECT i.indexrelid::regclass::text FROM pg_index i"
	"         WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid"
	"           AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum"
	"           AND i.indpred IS NULL AND i.indexprs IS NULL"
	"         ORDER BY 1 LIMIT 1),"
	"       c.oid, row_security_active(c.oid), current_user"
	"  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	"  LEFT JOIN pg_attribute a ON a.attrelid = c.oid"
	"       AND a.attname = $3::text AND a.attnum > 0 AND NOT a.attisdropped"
	" WHERE c.oid = " TARGET_REGCLASS_SQL;

/*
 * A partitioned table ($1): its leaf partitions, and how many of them
 * have a valid unique index on exactly the column ($2) of their own. With
 * no index over the whole table (the partition key must be part of one),
 * that is what keeps the column unique, within each partition only.
 */
static const char partitions_sql[] =
	"SELECT count(*),"
	"       count(*) FILTER (WHERE EXISTS"
	"        (SELECT 1 FROM pg_index i JOIN pg_attribute a"
	"             ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
	"          WHERE i.indrelid = t.relid AND i.indisunique AND i.indisvalid"
	"            AND i.indnkeyatts = 1 AND i.indpred IS NULL"
	"            AND i.indexprs IS NULL AND a.attname = $2::text))"
	"  FROM pg_partition_tree($1::oid::regclass) t"
	"  JOIN pg_class c ON c.oid = t.relid"
	" WHERE c.relkind IN ('r', 'f')";

/*
 * Well formed: the prefix ($1), then only alphabet symbols ($2), length
 * $3 in characters. ltrim(s, chars) strips every leading character found
 * in chars, so nothing is left exactly when s uses the alphabet only: no
 * regular expression to escape the alphabet into.
 */
#define WELL_FORMED(v) \
	"(length(" v ") = $3::int AND left(" v ", length($1::text)) = $1::text" \
	" AND ltrim(substr(" v ", length($1::text) + 1), $2::text) = '')"


struct counts {
	long long rows, nulls, dup_values, dup_rows, malformed;
};

static PGresult *run(PGconn *conn, const char *sql, int n,
		     const char *const *v, const char *what)
{
	char msg[512];
	PGresult *res;

	if (sql == NULL) {
		log_error("out of memory");
		return NULL;
	}
	res = db_exec(conn, sql, n, v, true);
	if (db_ok(res))
		return res;
	if (db_stopping())
		log_error("verify: stopped by a signal while %s", what);
	else
		log_error("verify: %s: %s", what, db_error(conn, res, msg, sizeof msg));
	PQclear(res);
	return NULL;
}

static void print_samples(const PGresult *res, bool counted)
{
	char shown[160];

	for (int i = 0; i < PQntuples(res); i++) {
		printf("%s'%s'", i ? ", " : ": ",
		       db_display(PQgetvalue(res, i, 0), shown, sizeof shown));
		if (counted)
			printf(" (%s rows)", PQgetvalue(res, i, 1));
	}
}

static const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int verify_run(const struct config *cfg)
{
	const char *rv[3] = { cfg->schema, cfg->table, cfg->column };
	char err[1024], len[24], shown_alpha[300];
	const char *fv[3] = { cfg->prefix, cfg->alphabet, len };
	char *qt = NULL, *qc = NULL, *qs = NULL, *qr = NULL, *sql = NULL;
	char *nsp = NULL, *rel = NULL, *unique_index = NULL;
	char oid[16];
	long long leaves = -1, unique_leaves = 0;
	bool notnull = false;
	struct counts n;
	PGresult *res = NULL;
	PGconn *conn;
	int rc = NB_EXIT_FAILURE;

	db_catch_signals();
	conn = db_connect(cfg->dsn, err, sizeof err);
	if (conn == NULL) {
		log_error("%s", err);
		db_release_signals();
		return NB_EXIT_FAILURE;
	}
	res = run(conn, resolve_sql, 3, rv, "looking up the table");
	if (res == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		target_missing(cfg, err, sizeof err);
		log_error("%s", err);
		rc = NB_EXIT_CONFIG;
		goto out;
	}
	nsp = strdup(PQgetvalue(res, 0, 0));
	rel = strdup(PQgetvalue(res, 0, 1));
	if (nsp == NULL || rel == NULL) {
		log_error("out of memory");
		goto out;
	}
	if (PQgetvalue(res, 0, 2)[0] != 'r' && PQgetvalue(res, 0, 2)[0] != 'p') {
		log_error("\"%s\".\"%s\" is not a table", nsp, rel);
		rc = NB_EXIT_CONFIG;
		goto out;
	}
	if (PQgetvalue(res, 0, 3)[0] != 't') {
		log_error("column \"%s\" does not exist in table \"%s\".\"%s\"",
			  cfg->column, nsp, rel);
		rc = NB_EXIT_CONFIG;
		goto out;
	}
	if (PQgetvalue(res, 0, 7)[0] == 't') {
		/* Counts over the rows the policies show would say nothing. */
		char shown[300];

		snprintf(shown, sizeof shown, "\"%s\".\"%s\"", nsp, rel);
		target_rls_refusal(err, sizeof err, PQgetvalue(res, 0, 8), shown, "verify");
		log_error("%s", err);
		rc = NB_EXIT_CONFIG;
		goto out;
	}
	notnull = PQgetvalue(res, 0, 4)[0] == 't';
	if (!PQgetisnull(res, 0, 5) && (unique_index = strdup(PQgetvalue(res, 0, 5))) == NULL) {
		log_error("out of memory");
		goto out;
	}
	snprintf(oid, sizeof oid, "%s", PQgetvalue(res, 0, 6));
	if (PQgetvalue(res, 0, 2)[0] == 'p') {
		const char *pv[2] = { oid, cfg->column };

		PQclear(res);
		res = run(conn, partitions_sql, 2, pv, "counting the partitions");
		if (res == NULL)
			goto out;
		leaves = atoll(PQgetvalue(res, 0, 0));
		unique_leaves = atoll(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	res = NULL;

	qs = db_quote(conn, nsp);
	qr = db_quote(conn, rel);
	qc = db_quote(conn, cfg->column);
	if (qs == NULL || qr == NULL || qc == NULL ||
	    (qt = pgtext_printf("%s.%s", qs, qr)) == NULL) {
		log_error("cannot quote the names: %s", PQerrorMessage(conn));
		goto out;
	}
	snprintf(len, sizeof len, "%zu", strlen(cfg->prefix) + (size_t)cfg->size);

	/* One snapshot for the counts and the samples. */
	res = run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
		  NULL, "starting a read-only transaction");
	if (res == NULL)
		goto out;
	PQclear(res);

	/* COLLATE "C": ids compare byte by byte, whatever the column's collation. */
	sql = pgtext_printf("WITH g AS (SELECT %s::text COLLATE \"C\" AS v, count(*) AS n"
		   "             FROM %s GROUP BY 1)"
		   " SELECT coalesce(sum(n), 0),"
		   "        coalesce(sum(n) FILTER (WHERE v IS NULL), 0),"
		   "        count(*) FILTER (WHERE v IS NOT NULL AND n > 1),"
		   "        coalesce(sum(n) FILTER (WHERE v IS NOT NULL AND n > 1), 0),"
		   "        coalesce(sum(n) FILTER (WHERE v IS NOT NULL AND NOT "
		   WELL_FORMED("v") "), 0)"
		   "   FROM g", qc, qt);
	res = run(conn, sql, 3, fv, "counting");
	free(sql);
	sql = NULL;
	if (res == NULL)
		goto out;
	n.rows = atoll(PQgetvalue(res, 0, 0));
	n.nulls = atoll(PQgetvalue(res, 0, 1));
	n.dup_values = atoll(PQgetvalue(res, 0, 2));
	n.dup_rows = atoll(PQgetvalue(res, 0, 3));
	n.malformed = atoll(PQgetvalue(res, 0, 4));
	PQclear(res);
	res = NULL;

	printf("verify \"%s\".\"%s\".\"%s\": %lld %s\n", nsp, rel, cfg->column,
	       n.rows, plural(n.rows, "row", "rows"));
	printf("  NULL:         %lld\n", n.nulls);
	printf("  duplicates:   %lld %s (%lld rows)", n.dup_values,
	       plural(n.dup_values, "value", "values"), n.dup_rows);
	if (n.dup_values > 0) {
		sql = pgtext_printf("SELECT %s::text COLLATE \"C\", count(*) FROM %s"
			   " WHERE %s IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
			   " ORDER BY 2 DESC, 1 LIMIT %d", qc, qt, qc, SAMPLES);
		res = run(conn, sql, 0, NULL, "listing duplicates");
		if (res == NULL)
			goto out;
		print_samples(res, true);
		if (n.dup_values > SAMPLES)
			printf(", ...");
		PQclear(res);
		res = NULL;
		free(sql);
		sql = NULL;
	}
	printf("\n  malformed:    %lld", n.malformed);
	if (n.malformed > 0) {
		sql = pgtext_printf("SELECT v FROM (SELECT %s::text COLLATE \"C\" AS v FROM %s"
			   " WHERE %s IS NOT NULL) s WHERE NOT " WELL_FORMED("v")
			   " ORDER BY 1 LIMIT %d", qc, qt, qc, SAMPLES);
		res = run(conn, sql, 3, fv, "listing malformed values");
		if (res == NULL)
			goto out;
		print_samples(res, false);
		if (n.malformed > SAMPLES)
			printf(", ...");
		PQclear(res);
		res = NULL;
		free(sql);
		sql = NULL;
	}
	printf("\n  expected:     %s%s%s%ld symbols of \"%s\"\n",
	       cfg->prefix[0] ? "\"" : "", cfg->prefix,
	       cfg->prefix[0] ? "\" then " : "", cfg->size,
	       db_display(cfg->alphabet, shown_alpha, sizeof shown_alpha));
	printf("  NOT NULL:     %s\n", notnull ? "yes" : "no");
	if (leaves >= 0)
		printf("  partitions:   %lld\n", leaves);
	if (unique_index != NULL || leaves < 0 || unique_leaves == 0)
		printf("  unique index: %s\n", unique_index ? unique_index : "none");
	else
		printf("  unique index: per partition only, on %lld of %lld "
		       "(none across partitions)\n", unique_leaves, leaves);
	if (n.nulls == 0 && n.dup_values == 0 && n.malformed == 0) {
		printf("clean\n");
		rc = NB_EXIT_OK;
	} else {
		printf("not clean: %lld NULL, %lld duplicate %s, %lld malformed\n",
		       n.nulls, n.dup_values,
		       plural(n.dup_values, "value", "values"), n.malformed);
		rc = NB_EXIT_NOT_CLEAN;
	}
	fflush(stdout);
out:
	PQclear(res);
	free(sql);
	free(qt);
	free(qc);
	free(qs);
	free(qr);
	free(nsp);
	free(rel);
	free(unique_index);
	PQfinish(conn);
	db_release_signals();
	return rc;
}
