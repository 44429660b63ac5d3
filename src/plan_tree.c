/*
 * plan_tree.c - a partitioned table's tree as plan and finalize need it:
 * every partition at every level, and whether one unique index on the
 * column can span them (see plan.h, plan_tree_read).
 */
#include "plan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "sbuf.h"

void plan_tree_free(struct plan_tree *t)
{
	for (int i = 0; t->rels != NULL && i < t->nrels; i++) {
		free(t->rels[i].schema);
		free(t->rels[i].name);
	}
	free(t->rels);
	free(t->partkeys);
	memset(t, 0, sizeof *t);
}

const struct plan_rel *plan_tree_foreign(const struct plan_tree *t)
{
	for (int i = 0; i < t->nrels; i++)
		if (t->rels[i].kind == 'f')
			return &t->rels[i];
	return NULL;
}

int plan_tree_read(PGconn *conn, const char *root, const char *column,
		   struct plan_tree *t, char *err, size_t errlen)
{
	/*
	 * by_column: a partitioned table whose key is the column alone (no
	 * expression: attnum 0 differs from every column's). The column's
	 * attnum is looked up per table, since a partition attached from an
	 * existing table may number its columns differently.
	 */
	static const char sql[] =
		"SELECT t.relid::oid, n.nspname, c.relname, c.relkind, t.parentrelid::oid,"
		"       pg_get_partkeydef(t.relid),"
		"       p.partrelid IS NOT NULL AND NOT EXISTS"
		"        (SELECT 1 FROM unnest(p.partattrs::int2[]) k(attnum)"
		"          WHERE k.attnum IS DISTINCT FROM"
		"                (SELECT a.attnum FROM pg_attribute a"
		"                  WHERE a.attrelid = t.relid AND a.attname = $2::text"
		"                    AND NOT a.attisdropped)) AS by_column"
		"  FROM pg_partition_tree($1::oid::regclass) t"
		"  JOIN pg_class c ON c.oid = t.relid"
		"  JOIN pg_namespace n ON n.oid = c.relnamespace"
		"  LEFT JOIN pg_partitioned_table p ON p.partrelid = t.relid"
		" WHERE c.relkind IN ('p', 'r', 'f')"
		" ORDER BY t.level, n.nspname, c.relname";
	const char *v[2] = { root, column };
	struct sbuf keys = { 0 };
	PGresult *res;
	char msg[512];
	int rows;

	memset(t, 0, sizeof *t);
	res = db_exec(conn, sql, 2, v, false);
	if (!db_ok(res)) {
		snprintf(err, errlen, "cannot read the partitions: %s",
		     pgconn_error(conn, res, msg, sizeof msg));
		PQclear(res);
		return -1;
	}
	rows = PQntuples(res);
	/* Not partitioned: no rows, or the table alone. */
	if (rows == 0 || PQgetvalue(res, 0, 3)[0] != 'p') {
		PQclear(res);
		return 0;
	}
	t->rels = calloc((size_t)rows, sizeof *t->rels);
	if (t->rels == NULL)
		goto oom;
	t->global = true;
	for (int i = 0; i < rows; i++) {
		struct plan_rel *r = &t->rels[i];
		const char *parent = PQgetvalue(res, i, 4);

		snprintf(r->oid, sizeof r->oid, "%s", PQgetvalue(res, i, 0));
		r->schema = strdup(PQgetvalue(res, i, 1));
		r->name = strdup(PQgetvalue(res, i, 2));
		r->kind = PQgetvalue(res, i, 3)[0];
		r->parent = -1;
		t->nrels++;
		if (r->schema == NULL || r->name == NULL)
			goto oom;
		for (int j = 0; j < i && !PQgetisnull(res, i, 4); j++)
			if (strcmp(t->rels[j].oid, parent) == 0)
				r->parent = j;
		if (i > 0 && r->parent < 0) {
			snprintf(err, errlen, "cannot read the partitions: \"%s\".\"%s\" "
			     "comes before its parent", r->schema, r->name);
			PQclear(res);
			return -1;
		}
		if (r->kind != 'p') {
			t->nleaves++;
			continue;
		}
		t->global = t->global && PQgetvalue(res, i, 6)[0] == 't';
		/* Each distinct key once: "RANGE (day), HASH (id)". */
		if (keys.s == NULL || strstr(keys.s, PQgetvalue(res, i, 5)) == NULL)
			sb_printf(&keys, "%s%s", keys.s ? ", " : "",
				  PQgetvalue(res, i, 5));
	}
	PQclear(res);
	if (keys.oom)
		goto oom_cleared;
	t->partkeys = keys.s;
	return 0;
oom:
	PQclear(res);
oom_cleared:
	free(keys.s);
	snprintf(err, errlen, "out of memory");
	return -1;
}
