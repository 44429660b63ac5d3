/*
 * finalize_partitioned.c - UNIQUE on a partitioned table, partition by
 * partition (CREATE INDEX CONCURRENTLY cannot build an index on a
 * partitioned table): one index over the whole tree where every level is
 * partitioned by the column alone, else a unique index on each leaf and a
 * read for values in two partitions. See finalize.h for the steps and
 * finalize_steps.h for what this file shares with finalize.c.
 */
#include "finalize_steps.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "exit_codes.h"
#include "log.h"
#include "pgtext.h"
#include "plan.h"
#include "rollout.h"

/* A table of the partition tree and the index of ours on it. */
struct prel {
	const struct plan_rel *r;
	char idx[PLAN_MAX_IDENT + 1];       /* plan_object_name(table, column) */
	char *qt;                           /* "schema"."table" */
	char *qidx;                         /* "index" */
	char *qidx_full;                    /* "schema"."index" */
	char shown[2 * PLAN_MAX_IDENT + 8]; /* "schema"."table" for messages */
	/* 'p', the tree partitioned by the column: the index its partitions'
	 * indexes attach to (ours, or one attached already) */
	char att_oid[16];
	char *att_q;                        /* its name, quoted with the schema */
};

static void prels_free(struct prel *p, int n)
{
	for (int i = 0; p != NULL && i < n; i++) {
		free(p[i].qt);
		free(p[i].qidx);
		free(p[i].qidx_full);
		free(p[i].att_q);
	}
	free(p);
}

/* The tree's tables with their names, quoted for f->conn; NULL after one
 * error line. */
static struct prel *prels_new(struct fin *f)
{
	struct prel *p = calloc((size_t)f->tree.nrels, sizeof *p);

	if (p == NULL) {
		log_error("out of memory");
		return NULL;
	}
	for (int i = 0; i < f->tree.nrels; i++) {
		const struct plan_rel *r = &f->tree.rels[i];
		char *qs = pgconn_quote(f->conn, r->schema);
		char *qn = pgconn_quote(f->conn, r->name);

		p[i].r = r;
		plan_object_name(r->name, f->cfg->column, PLAN_INDEX_LABEL, p[i].idx);
		p[i].qidx = pgconn_quote(f->conn, p[i].idx);
		if (qs != NULL && qn != NULL)
			p[i].qt = pgtext_printf("%s.%s", qs, qn);
		if (qs != NULL && p[i].qidx != NULL)
			p[i].qidx_full = pgtext_printf("%s.%s", qs, p[i].qidx);
		snprintf(p[i].shown, sizeof p[i].shown, "\"%s\".\"%s\"", r->schema,
			 r->name);
		free(qs);
		free(qn);
		if (p[i].qt == NULL || p[i].qidx_full == NULL) {
			log_error("cannot quote the names: %s",
				  PQerrorMessage(f->conn));
			prels_free(p, f->tree.nrels);
			return NULL;
		}
	}
	return p;
}

/*
 * The unique indexes on exactly (column) of one table of the tree, ours
 * first, valid ones next: oid, name, valid, the index it is attached to
 * ("" if none), and whether it has no INCLUDE columns.
 */
static PGresult *rel_indexes(struct fin *f, const struct prel *p)
{
	static const char sql[] =
		"SELECT i.indexrelid, ic.relname, i.indisvalid,"
		"       coalesce(inh.inhparent::text, ''), i.indnatts = 1"
		"  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
		"  JOIN pg_attribute a ON a.attrelid = i.indrelid"
		"       AND a.attnum = i.indkey[0]"
		"  LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid"
		" WHERE i.indrelid = $1::oid AND i.indisunique AND i.indnkeyatts = 1"
		"   AND i.indpred IS NULL AND i.indexprs IS NULL"
		"   AND a.attname = $2::text"
		" ORDER BY ic.relname = $3::text DESC, i.indisvalid DESC, ic.relname";
	const char *v[3] = { p->r->oid, f->cfg->column, p->idx };

	return fin_query(f, sql, 3, v, "looking for the partitions' unique indexes");
}

/* The first row of rel_indexes() named name (NULL: any name) and
 * attached to parent ("": to none; NULL: either way); -1 if none. */
static int find_index(const PGresult *res, const char *name, const char *parent)
{
	for (int i = 0; i < PQntuples(res); i++) {
		if (name != NULL && strcmp(PQgetvalue(res, i, 1), name) != 0)
			continue;
		if (parent != NULL && strcmp(PQgetvalue(res, i, 3), parent) != 0)
			continue;
		return i;
	}
	return -1;
}

/*
 * Before any DDL: on every table of the tree that still needs the index
 * of ours, its name is free, or an index of ours (any unique index on
 * exactly the column, or an INVALID leftover of a build). any_valid: a
 * valid unique index on the column under another name will do instead.
 */
static int partition_names_free(struct fin *f, const struct prel *p,
				bool any_valid)
{
	static const char sql[] =
		"SELECT 1 FROM pg_class c"
		" WHERE c.relnamespace = (SELECT relnamespace FROM pg_class"
		"                          WHERE oid = $1::oid)"
		"   AND c.relname = $2::text"
		"   AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a"
		"                       ON a.attrelid = i.indrelid"
		"                      AND a.attnum = i.indkey[0]"
		"        WHERE i.indexrelid = c.oid AND i.indrelid = $1::oid"
		"          AND (c.relkind = 'i' AND NOT i.indisvalid"
		"               OR i.indisunique AND i.indnkeyatts = 1"
		"                  AND i.indpred IS NULL AND i.indexprs IS NULL"
		"                  AND a.attname = $3::text))"
		"   AND NOT ($4::bool AND EXISTS"
		"        (SELECT 1 FROM pg_index j JOIN pg_attribute b"
		"             ON b.attrelid = j.indrelid AND b.attnum = j.indkey[0]"
		"          WHERE j.indrelid = $1::oid AND j.indisvalid"
		"            AND j.indisunique AND j.indnkeyatts = 1"
		"            AND j.indpred IS NULL AND j.indexprs IS NULL"
		"            AND b.attname = $3::text))";
	const char *v[4] = { NULL, NULL, f->cfg->column, any_valid ? "t" : "f" };
	int taken;

	for (int i = 0; i < f->tree.nrels; i++) {
		if (!f->tree.global && p[i].r->kind == 'p')
			continue;
		v[0] = p[i].r->oid;
		v[1] = p[i].idx;
		taken = fin_any_row(f, sql, 4, v, "checking the indexes' names");
		if (taken < 0)
			return NB_EXIT_FAILURE;
		if (taken) {
			log_error("\"%s\".\"%s\" already exists and is not a unique "
				  "index on %s alone of %s; drop or rename it, or "
				  "use --no-unique", p[i].r->schema, p[i].idx, f->qc,
				  p[i].shown);
			return NB_EXIT_CONFIG;
		}
	}
	return 0;
}

/*
 * Builds the index of ours on one leaf concurrently. A failed build's
 * INVALID index is dropped again; duplicates are named. Returns 0 or an
 * exit code after one error line.
 */
static int build_leaf(struct fin *f, const struct prel *p, int nth)
{
	char *sql, *cleanup;
	PGresult *res;

	log_info("finalize: building the unique index \"%s\" on partition %s "
		 "concurrently (%d of %d; reads and writes go on)", p->idx,
		 p->shown, nth, f->tree.nleaves);
	sql = fin_sql(rollout_unique_index(p->qidx, p->qt, f->qc));
	cleanup = fin_sql(rollout_drop_index(p->qidx_full, true));
	res = fin_ddl(f, sql, "building a partition's unique index", cleanup, false);
	free(sql);
	free(cleanup);
	if (db_ok(res)) {
		PQclear(res);
		return 0;
	}
	/* A failed concurrent build leaves its INVALID index behind. */
	{
		char shown[2 * PLAN_MAX_IDENT + 8];

		snprintf(shown, sizeof shown, "\"%s\".\"%s\"", p->r->schema, p->idx);
		fin_drop_invalid(f, p->qidx_full, shown);
	}
	if (strcmp(pgconn_sqlstate(res), "23505") == 0 && !db_stopping()) {
		PQclear(res);
		fin_report_duplicates(f);
		return NB_EXIT_FAILURE;
	}
	return fin_fail(f, res, "building a partition's unique index");
}

/* Drops the INVALID index of ours a failed build left on a leaf. */
static void drop_leftover(struct fin *f, const struct prel *p)
{
	char shown[2 * PLAN_MAX_IDENT + 8];

	snprintf(shown, sizeof shown, "\"%s\".\"%s\"", p->r->schema, p->idx);
	log_warn("finalize: dropping the invalid index %s an earlier build "
		 "left behind", shown);
	fin_drop_invalid(f, p->qidx_full, shown);
}

static int attach(struct fin *f, const struct prel *parent,
		  const struct prel *p, const char *qchild, const char *child)
{
	char *sql = fin_sql(rollout_attach_index(parent->att_q, qchild));
	PGresult *res = fin_ddl(f, sql, "attaching a partition's index", NULL, false);

	free(sql);
	if (!db_ok(res))
		return fin_fail(f, res, "attaching a partition's index");
	PQclear(res);
	log_info("finalize: attached \"%s\" of %s to the index of %s", child,
		 p->shown, parent->shown);
	return 0;
}

/* The index of a partitioned table of the tree: found or created ON
 * ONLY, attached to its parent's. Fills p->att_oid and p->att_q. */
static int tree_index(struct fin *f, struct prel *all, int i)
{
	struct prel *p = &all[i], *parent = i > 0 ? &all[p->r->parent] : NULL;
	PGresult *res = rel_indexes(f, p);
	char *qs, *qn, *sql;
	int row = -1;

	if (res == NULL)
		return NB_EXIT_FAILURE;
	if (parent != NULL)
		row = find_index(res, NULL, parent->att_oid);
	if (row < 0)
		row = find_index(res, p->idx, NULL);
	if (row < 0) {
		PQclear(res);
		log_info("finalize: creating the unique index \"%s\" ON ONLY %s "
			 "(no build; valid once every partition's index is "
			 "attached)", p->idx, p->shown);
		sql = fin_sql(rollout_unique_index_only(p->qidx, p->qt,
							    f->qc));
		res = fin_ddl(f, sql, "creating the index ON ONLY", NULL, false);
		free(sql);
		if (!db_ok(res))
			return fin_fail(f, res, "creating the index ON ONLY");
		PQclear(res);
		if ((res = rel_indexes(f, p)) == NULL)
			return NB_EXIT_FAILURE;
		row = find_index(res, p->idx, NULL);
		if (row < 0) {
			PQclear(res);
			log_error("the index \"%s\" on %s is gone right after it "
				  "was created; run finalize again", p->idx, p->shown);
			return NB_EXIT_FAILURE;
		}
	}
	snprintf(p->att_oid, sizeof p->att_oid, "%s", PQgetvalue(res, row, 0));
	qs = pgconn_quote(f->conn, p->r->schema);
	qn = pgconn_quote(f->conn, PQgetvalue(res, row, 1));
	if (qs != NULL && qn != NULL)
		p->att_q = pgtext_printf("%s.%s", qs, qn);
	free(qs);
	free(qn);
	if (p->att_q == NULL) {
		PQclear(res);
		log_error("cannot quote the names: %s", PQerrorMessage(f->conn));
		return NB_EXIT_FAILURE;
	}
	if (parent != NULL && strcmp(PQgetvalue(res, row, 3), parent->att_oid) != 0) {
		char name[PLAN_MAX_IDENT + 1];
		int rc;

		snprintf(name, sizeof name, "%s", PQgetvalue(res, row, 1));
		PQclear(res);
		rc = attach(f, parent, p, p->att_q, name);
		return rc;
	}
	PQclear(res);
	return 0;
}

/*
 * One leaf of the tree partitioned by the column: its index attached to
 * the parent's. *built counts the leaves done by this run.
 */
static int tree_leaf(struct fin *f, struct prel *all, int i, int nth,
		     int *built)
{
	struct prel *p = &all[i], *parent = &all[p->r->parent];
	PGresult *res = rel_indexes(f, p);
	int row, rc;

	if (res == NULL)
		return NB_EXIT_FAILURE;
	row = find_index(res, NULL, parent->att_oid);
	if (row >= 0) {
		if (PQgetvalue(res, row, 2)[0] != 't') {
			log_error("the index \"%s\" of partition %s is attached to "
				  "the index of %s but INVALID (attached after its "
				  "build failed): PostgreSQL will never mark the "
				  "table's index valid. Drop the index of %s "
				  "(DROP INDEX, which drops its partitions' with it), "
				  "then run finalize again", PQgetvalue(res, row, 1),
				  p->shown, parent->shown, all[0].shown);
			PQclear(res);
			return NB_EXIT_FAILURE;
		}
		log_debug("finalize: partition %s: index \"%s\" attached already",
			  p->shown, PQgetvalue(res, row, 1));
		PQclear(res);
		return 0;
	}
	row = find_index(res, p->idx, "");
	if (row >= 0 && PQgetvalue(res, row, 2)[0] != 't') {
		PQclear(res);
		drop_leftover(f, p);
		row = -1;
	} else if (row >= 0 && PQgetvalue(res, row, 4)[0] != 't') {
		/* Ours by name, but with INCLUDE columns: it cannot attach. */
		PQclear(res);
		log_error("the index \"%s\" of partition %s has INCLUDE columns, "
			  "so it cannot be attached to the index of %s; drop or "
			  "rename it, then run finalize again", p->idx, p->shown,
			  parent->shown);
		return NB_EXIT_CONFIG;
	} else {
		PQclear(res);
	}
	if (row < 0) {
		if ((rc = build_leaf(f, p, nth)) != 0)
			return rc;
		(*built)++;
	}
	return attach(f, parent, p, p->qidx_full, p->idx);
}

/* The tree is partitioned by the column alone: one index over it all. */
static int unique_tree(struct fin *f, struct prel *p)
{
	static const char valid_sql[] =
		"SELECT indisvalid FROM pg_index WHERE indexrelid = $1::oid";
	const char *v[1];
	int built = 0, nth = 0, rc;
	PGresult *res;

	for (int i = 0; i < f->tree.nrels; i++) {
		if (db_stopping())
			return fin_fail(f, NULL, "building the unique indexes");
		if (p[i].r->kind == 'p')
			rc = tree_index(f, p, i);
		else
			rc = tree_leaf(f, p, i, ++nth, &built);
		if (rc != 0)
			return rc;
	}
	v[0] = p[0].att_oid;
	res = fin_query(f, valid_sql, 1, v, "checking the table's index");
	if (res == NULL)
		return NB_EXIT_FAILURE;
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't') {
		PQclear(res);
		log_error("the index of %s is not valid yet although every "
			  "partition's index is attached: a partition was added "
			  "meanwhile? run finalize again", f->shown);
		return NB_EXIT_FAILURE;
	}
	PQclear(res);
	log_info("finalize: %s is unique (index %s over %d partitions, %d "
		 "built by this run)", f->shown, p[0].att_q, f->tree.nleaves,
		 built);
	return 0;
}

/*
 * After a unique index on every leaf: one value in two partitions is all
 * that can be left, and nothing in PostgreSQL rejects it. One read of the
 * whole table names such values (up to five). Returns 0 if there are
 * none, else an exit code after one error line.
 */
static int cross_partition_duplicates(struct fin *f)
{
	char *sql = sqlf("SELECT v, n, parts, count(*) OVER () FROM"
			 " (SELECT %s::text AS v, count(*) AS n,"
			 "         string_agg(DISTINCT tableoid::regclass::text, ', ')"
			 "           AS parts"
			 "    FROM %s WHERE %s IS NOT NULL GROUP BY 1"
			 "  HAVING count(*) > 1) d"
			 " ORDER BY n DESC, v LIMIT 5", f->qc, f->qt, f->qc);
	char list[1024] = "", shown[128], parts[256];
	PGresult *res;
	size_t o = 0;
	int rows;

	log_info("finalize: looking for values of %s in more than one partition "
		 "(one read of the whole table; PostgreSQL cannot reject them)",
		 f->qc);
	res = fin_query(f, sql, 0, NULL, "looking for values in two partitions");
	free(sql);
	if (res == NULL)
		return NB_EXIT_FAILURE;
	rows = PQntuples(res);
	if (rows == 0) {
		PQclear(res);
		return 0;
	}
	for (int i = 0; i < rows; i++)
		fin_appendf(list, sizeof list, &o, "%s'%s' (%s rows, in %s)",
			i ? ", " : "",
			db_display(PQgetvalue(res, i, 0), shown, sizeof shown),
			PQgetvalue(res, i, 1),
			db_display(PQgetvalue(res, i, 2), parts, sizeof parts));
	log_error("cannot make %s unique across partitions: %s value%s occur%s "
		  "in more than one partition: %s%s. Each partition has its "
		  "unique index, but PostgreSQL cannot enforce uniqueness across "
		  "partitions (a unique index on a partitioned table must include "
		  "the partition key: %s). Give those rows new ids "
		  "(`nanoid-backfill verify` lists them), then run finalize again",
		  f->shown, PQgetvalue(res, 0, 3),
		  strcmp(PQgetvalue(res, 0, 3), "1") ? "s" : "",
		  strcmp(PQgetvalue(res, 0, 3), "1") ? "" : "s", list,
		  atol(PQgetvalue(res, 0, 3)) > rows ? ", ..." : "",
		  f->tree.partkeys);
	PQclear(res);
	return NB_EXIT_FAILURE;
}

/* Any other partition key: a unique index of its own on every leaf. */
static int unique_leaves(struct fin *f, struct prel *p)
{
	int built = 0, had = 0, nth = 0, row, rc;
	PGresult *res;

	log_warn("finalize: PostgreSQL cannot make %s unique across the "
		 "partitions of \"%s\".\"%s\": a unique index on a partitioned "
		 "table must include the partition key (%s). Making it unique "
		 "within each partition instead; `verify` checks the whole table",
		 f->qc, f->t.schema, f->t.table, f->tree.partkeys);
	f->per_partition = true;
	for (int i = 0; i < f->tree.nrels; i++) {
		if (p[i].r->kind == 'p')
			continue;
		nth++;
		if (db_stopping())
			return fin_fail(f, NULL, "building the unique indexes");
		if ((res = rel_indexes(f, &p[i])) == NULL)
			return NB_EXIT_FAILURE;
		for (row = 0; row < PQntuples(res); row++)
			if (PQgetvalue(res, row, 2)[0] == 't')
				break;
		if (row < PQntuples(res)) {
			log_debug("finalize: partition %s is unique already "
				  "(index \"%s\")", p[i].shown,
				  PQgetvalue(res, row, 1));
			PQclear(res);
			had++;
			continue;
		}
		row = find_index(res, p[i].idx, NULL);
		PQclear(res);
		if (row >= 0)
			drop_leftover(f, &p[i]);
		if ((rc = build_leaf(f, &p[i], nth)) != 0)
			return rc;
		built++;
	}
	log_info("finalize: %s is unique within each of its %d partitions (%d "
		 "indexes built by this run, %d there already)", f->shown,
		 f->tree.nleaves, built, had);
	return cross_partition_duplicates(f);
}

int fin_unique_partitioned(struct fin *f)
{
	struct prel *p;
	int rc;

	switch (fin_already_unique(f)) {
	case -1:
		return NB_EXIT_FAILURE;
	case 1:
		return 0;
	}
	if ((p = prels_new(f)) == NULL)
		return NB_EXIT_FAILURE;
	rc = f->tree.global ? unique_tree(f, p) : unique_leaves(f, p);
	prels_free(p, f->tree.nrels);
	return rc;
}

/*
 * Reads the partition tree, refuses a foreign-table partition (no index
 * can be built on it), and checks the indexes' names. Returns 0 or an
 * exit code after one error line.
 */
int fin_partitions(struct fin *f)
{
	const char *v[2] = { f->t.oid, f->t.attnum };
	char err[1024];
	const struct plan_rel *foreign;
	struct prel *p;
	int rc;

	if (plan_tree_read(f->conn, f->t.oid, f->cfg->column, &f->tree, err,
			   sizeof err) < 0) {
		log_error("%s", err);
		return NB_EXIT_FAILURE;
	}
	switch (fin_any_row(f, fin_unique_index_sql, 2, v,
			    "looking for a unique index")) {
	case -1:
		return NB_EXIT_FAILURE;
	case 1:
		return 0;
	}
	foreign = plan_tree_foreign(&f->tree);
	if (foreign != NULL) {
		log_error("partition \"%s\".\"%s\" is a foreign table: PostgreSQL "
			  "builds no index on it, so %s cannot be made unique; "
			  "use --no-unique", foreign->schema, foreign->name,
			  f->shown);
		return NB_EXIT_CONFIG;
	}
	if ((p = prels_new(f)) == NULL)
		return NB_EXIT_FAILURE;
	rc = partition_names_free(f, p, !f->tree.global);
	prels_free(p, f->tree.nrels);
	return rc;
}
