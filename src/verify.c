/*
 * verify.c - count NULL, duplicate and malformed ids (see verify.h).
 */
#include "verify.h"

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

#define SAMPLES 5

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
		log_error("verify: %s: %s", what, pgconn_error(conn, res, msg, sizeof msg));
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
	const char *rv[CATALOG_TABLE_NPARAMS];
	char err[1024], len[24], shown_alpha[300];
	const char *fv[3] = { cfg->prefix, cfg->alphabet, len };
	char *qt = NULL, *qc = NULL, *qs = NULL, *qr = NULL, *sql = NULL;
	const char *nsp, *rel, *unique_index;
	struct catalog_table tab = { .kind = 0 };
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
	catalog_table_params(cfg, rv);
	res = run(conn, catalog_table_sql(), CATALOG_TABLE_NPARAMS, rv,
		  "looking up the table");
	if (res == NULL)
		goto out;
	switch (catalog_table_read(&tab, res, cfg, true, err, sizeof err)) {
	case 0:
		break;
	case -1:
		rc = NB_EXIT_CONFIG;
		/* fall through */
	default:
		log_error("%s", err);
		goto out;
	}
	nsp = tab.schema;
	rel = tab.table;
	if (tab.rls) {
		/* Counts over the rows the policies show would say nothing. */
		catalog_rls_refusal(err, sizeof err, tab.role, tab.shown, "verify");
		log_error("%s", err);
		rc = NB_EXIT_CONFIG;
		goto out;
	}
	notnull = tab.notnull;
	unique_index = tab.unique_index;
	if (tab.kind == 'p') {
		const char *pv[2] = { tab.oid, cfg->column };

		PQclear(res);
		res = run(conn, partitions_sql, 2, pv, "counting the partitions");
		if (res == NULL)
			goto out;
		leaves = atoll(PQgetvalue(res, 0, 0));
		unique_leaves = atoll(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	res = NULL;

	qs = pgconn_quote(conn, nsp);
	qr = pgconn_quote(conn, rel);
	qc = pgconn_quote(conn, cfg->column);
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
	catalog_table_free(&tab);
	PQfinish(conn);
	db_release_signals();
	return rc;
}
