/*
 * catalog.c - the catalog's queries, their parameters, the reading of
 * their rows and the refusals' lines (see catalog.h).
 */
#include "catalog.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"

/*
 * One row per key column (or one row with NULL key fields when there is no
 * key). The table is resolved like the server would: quote_ident keeps the
 * names exactly as given, so 'Order "Items"' is that name, not SQL.
 * to_regclass returns NULL instead of raising for a missing table.
 * Keys: the --key names ($4..) when given, else the primary key's key
 * columns (INCLUDE columns excluded) in index order.
 */
static const char target_sql[] =
	"WITH rel AS ("
	"  SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples"
	"    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	"   WHERE c.oid = " CATALOG_REGCLASS_SQL "),"
	/* the column's type through any depth of domains: the base type, and
	 * the tightest length any level sets (a domain's typmod or the column's) */
	" chain AS ("
	"  WITH RECURSIVE d(oid, typmod, depth) AS ("
	"   SELECT a.atttypid, a.atttypmod, 0 FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid"
	"    WHERE a.attname = $3::text AND a.attnum > 0 AND NOT a.attisdropped"
	"   UNION ALL SELECT ty.typbasetype, ty.typtypmod, d.depth + 1"
	"    FROM d JOIN pg_type ty ON ty.oid = d.oid WHERE ty.typtype = 'd' AND d.depth < 64)"
	"  SELECT (SELECT oid FROM d ORDER BY depth DESC LIMIT 1) AS base,"
	"         (SELECT min(typmod) FROM d WHERE typmod >= 0) AS typmod),"
	" col AS ("
	"  SELECT a.attnum, a.attgenerated, t.typname, t.typcategory,"
	"         COALESCE(chain.typmod, -1) AS atttypmod,"
	"         format_type(a.atttypid, a.atttypmod) AS typ, a.atttypid"
	"    FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid"
	"    CROSS JOIN chain JOIN pg_type t ON t.oid = chain.base"
	"   WHERE a.attname = $3::text AND a.attnum > 0 AND NOT a.attisdropped),"
	" pk AS ("
	"  SELECT k.ord, a.attname::text AS name"
	"    FROM rel JOIN pg_index i ON i.indrelid = rel.oid AND i.indisprimary,"
	"         unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, ord),"
	"         pg_attribute a"
	"   WHERE a.attrelid = rel.oid AND a.attnum = k.attnum),"
	" wanted AS ("
	"  SELECT ord, name FROM unnest($4::text[]) WITH ORDINALITY AS k(name, ord)"
	"   WHERE $4::text[] IS NOT NULL"
	"  UNION ALL SELECT ord, name FROM pk WHERE $4::text[] IS NULL),"
	" keys AS ("
	"  SELECT w.ord, w.name, a.attnum, a.atttypid, a.attnotnull"
	"    FROM rel CROSS JOIN wanted w"
	"    LEFT JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attname = w.name"
	"         AND a.attnum > 0 AND NOT a.attisdropped),"
	/* the relations of the tree, the table itself included; UNION: a
	 * child of two parents in the tree is one relation */
	" tree AS ("
	"  WITH RECURSIVE t(oid) AS ("
	"   SELECT oid FROM rel UNION SELECT i.inhrelid FROM pg_inherits i JOIN t ON i.inhparent = t.oid)"
	"  SELECT c.oid, c.relkind, c.relpersistence, n.nspname, c.relname, a.attnum AS colnum"
	"    FROM t JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace"
	"    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $3::text"
	"         AND a.attnum > 0 AND NOT a.attisdropped)"
	" SELECT rel.oid IS NOT NULL, rel.nspname, rel.relname, rel.relkind,"
	"        rel.reltuples,"
	"        col.attnum IS NOT NULL, col.typname, col.typcategory, col.atttypmod, col.typ,"
	"        col.atttypid,"
	"        keys.name, keys.attnum IS NOT NULL, keys.atttypid, keys.attnotnull,"
	"        EXISTS (SELECT 1 FROM pg_index i"
	"                 WHERE i.indrelid = rel.oid AND i.indisunique AND i.indisvalid"
	"                   AND i.indpred IS NULL AND i.indexprs IS NULL"
	"                   AND (i.indkey::int2[])[0:i.indnkeyatts - 1]"
	"                       <@ (SELECT array_agg(attnum) FROM keys)),"
	/* by attnum: NULL for a missing column, where a name would raise */
	"        current_user, has_schema_privilege(rel.nspname, 'USAGE'),"
	"        has_column_privilege(rel.oid, col.attnum, 'SELECT'),"
	"        has_column_privilege(rel.oid, col.attnum, 'UPDATE'),"
	"        has_column_privilege(rel.oid, keys.attnum, 'SELECT'),"
	/* a tree has an inherited row too, the one that covers all of it */
	"        COALESCE((SELECT s.null_frac FROM pg_stats s"
	"                   WHERE s.schemaname = rel.nspname AND s.tablename = rel.relname"
	"                     AND s.attname = $3::text ORDER BY s.inherited DESC LIMIT 1), 1),"
	"        rel.oid,"
	"        EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = rel.oid),"
	"        (SELECT count(*) FROM tree WHERE tree.relkind = 'r'),"
	"        (SELECT format('%I.%I', tree.nspname, tree.relname) FROM tree"
	"          WHERE tree.relkind NOT IN ('r', 'p') ORDER BY tree.oid LIMIT 1),"
	"        (SELECT format('%I.%I', tree.nspname, tree.relname) FROM tree"
	"          WHERE tree.relkind = 'r' AND tree.oid <> rel.oid AND col.attnum IS NOT NULL"
	"            AND NOT (has_column_privilege(tree.oid, $3::text, 'SELECT')"
	"                 AND has_column_privilege(tree.oid, $3::text, 'UPDATE'))"
	"          ORDER BY tree.oid LIMIT 1),"
	/* an index whose leading columns are the key's, in order, ascending,
	 * in the columns' own collations: it serves ORDER BY key and (key) > (...) */
	"        EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
	"                 JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'"
	"                 WHERE i.indrelid = rel.oid AND i.indisvalid AND i.indpred IS NULL"
	"                   AND (SELECT count(*) FROM keys) > 0 AND NOT EXISTS ("
	"                     SELECT 1 FROM keys k2 JOIN pg_attribute a2"
	"                       ON a2.attrelid = rel.oid AND a2.attnum = k2.attnum"
	"                      WHERE k2.ord > i.indnkeyatts"
	"                         OR (i.indkey::int2[])[k2.ord - 1] IS DISTINCT FROM k2.attnum"
	"                         OR (i.indoption::int2[])[k2.ord - 1] <> 0"
	"                         OR (i.indcollation::oid[])[k2.ord - 1] IS DISTINCT FROM a2.attcollation)),"
	"        (SELECT s.correlation FROM pg_stats s, keys k1"
	"          WHERE k1.ord = 1 AND s.schemaname = rel.nspname AND s.tablename = rel.relname"
	"            AND s.attname = k1.name AND NOT s.inherited),"
	/* what the batch cannot work on, or not honestly: each names where */
	"        col.attgenerated <> '',"
	"        (SELECT format('%I.%I is a temporary table', tree.nspname, tree.relname)"
	"                || CASE WHEN tree.oid = rel.oid THEN ''"
	"                   ELSE format(' in the tree of %I.%I', rel.nspname, rel.relname) END"
	"           FROM tree WHERE relpersistence = 't' ORDER BY tree.oid LIMIT 1),"
	"        (SELECT format('%I.%I', nspname, relname) FROM tree"
	"          WHERE row_security_active(tree.oid) ORDER BY oid LIMIT 1),"
	"        (SELECT format('rule %I on %I.%I', r.rulename, tree.nspname, tree.relname)"
	"           FROM tree JOIN pg_rewrite r ON r.ev_class = tree.oid"
	"          WHERE r.ev_type = '2' AND r.ev_enabled <> 'D' ORDER BY tree.oid, r.rulename LIMIT 1),"
	/* a partition key column depends internally on its table */
	"        (SELECT format('%I.%I', tree.nspname, tree.relname) FROM tree JOIN pg_depend d"
	"             ON d.classid = 'pg_class'::regclass AND d.objid = tree.oid"
	"            AND d.objsubid = tree.colnum AND d.refclassid = 'pg_class'::regclass"
	"            AND d.refobjid = tree.oid AND d.refobjsubid = 0 AND d.deptype = 'i'"
	"          WHERE tree.relkind = 'p' ORDER BY tree.oid LIMIT 1),"
	"        (SELECT format('%I on %I.%I', k.conname, tree.nspname, tree.relname)"
	"           FROM tree JOIN pg_constraint k ON k.conrelid = tree.oid"
	"          WHERE k.contype = 'f' AND tree.colnum = ANY (k.conkey) ORDER BY tree.oid LIMIT 1),"
	/* a unique index on the column alone, over the whole target */
	"        NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = rel.oid)"
	"        AND rel.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_index i"
	"                 WHERE i.indrelid = rel.oid AND i.indisunique AND i.indisvalid"
	"                   AND i.indnkeyatts = 1 AND i.indkey[0] = col.attnum"
	"                   AND i.indpred IS NULL AND i.indexprs IS NULL),"
	/* (schema, table, index) of every unique index a new id can satisfy:
	 * one that has the column among its keys or in its expressions */
	"        (SELECT array_agg(x ORDER BY o, p) FROM ("
	"          SELECT ic.oid AS o, v.p, v.x FROM tree JOIN pg_index i ON i.indrelid = tree.oid"
	"            JOIN pg_class ic ON ic.oid = i.indexrelid,"
	"            LATERAL (VALUES (1, tree.nspname::text), (2, tree.relname::text),"
	"                            (3, ic.relname::text)) AS v(p, x)"
	/* (an expression index: pg_depend does not tell the expressions'
	 * columns from the predicate's, so one with a predicate too counts
	 * only if the column is a plain key) */
	"           WHERE i.indisunique AND (tree.colnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])"
	"              OR i.indexprs IS NOT NULL AND i.indpred IS NULL"
	"             AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
	"                  AND d.objid = i.indexrelid AND d.refclassid = 'pg_class'::regclass"
	"                  AND d.refobjid = tree.oid AND d.refobjsubid = tree.colnum))) AS ids),"
	/* BEFORE UPDATE row triggers: what may keep a row from being filled */
	"        (SELECT string_agg(format('%I on %I.%I', g.tgname, tree.nspname, tree.relname),"
	"                           ', ' ORDER BY tree.oid, g.tgname)"
	"           FROM tree JOIN pg_trigger g ON g.tgrelid = tree.oid"
	"          WHERE NOT g.tgisinternal AND g.tgenabled <> 'D'"
	"            AND g.tgtype & 19 = 19),"
	/* whether every row an UPDATE of a leaf writes is one it fills, and
	 * the server counts them: no trigger fires on UPDATE (16), which
	 * could set the column back or write more rows of the leaf; the
	 * direct form then counts its rows from the session's statistics */
	"        NOT EXISTS (SELECT 1 FROM tree JOIN pg_trigger g ON g.tgrelid = tree.oid"
	"          WHERE NOT g.tgisinternal AND g.tgenabled <> 'D' AND g.tgtype & 16 = 16)"
	"        AND current_setting('track_counts')::bool"
	"   FROM (SELECT 1) AS one"
	"   LEFT JOIN rel ON true LEFT JOIN col ON true LEFT JOIN keys ON true"
	"  ORDER BY keys.ord";

enum {
	F_REL_FOUND, F_NSPNAME, F_RELNAME, F_RELKIND, F_RELTUPLES,
	F_COL_FOUND, F_TYPNAME, F_TYPCATEGORY, F_TYPMOD, F_TYP, F_COL_TYPE,
	F_KEY_NAME, F_KEY_FOUND, F_KEY_TYPE, F_KEY_NOTNULL,
	F_KEY_UNIQUE, F_ROLE, F_USAGE, F_COL_SELECT, F_COL_UPDATE, F_KEY_SELECT,
	F_NULL_FRAC, F_OID, F_TREE, F_LEAVES, F_BAD_LEAF, F_LEAF_NOPRIV,
	F_KEY_INDEXED, F_CORRELATION, F_GENERATED, F_TEMP, F_RLS, F_RULE,
	F_PARTKEY, F_FOREIGN_KEY, F_UNIQUE_COL, F_ID_INDEXES, F_TRIGGERS,
	F_PLAIN_UPDATE,
};

const char *catalog_target_sql(void)
{
	return target_sql;
}

int catalog_target_params(const struct config *c, struct catalog_params *p,
			  char *err, size_t errlen)
{
	const char *const *names = (const char *const *)c->key_columns;

	memset(p, 0, sizeof *p);
	for (int i = 0; i < 3; i++)
		p->types[i] = PGBIN_TEXTOID;
	p->types[3] = PGBIN_TEXTARRAYOID;
	p->values[0] = c->schema;
	p->values[1] = c->table;
	p->values[2] = c->column;
	p->formats[3] = 1;
	if (c->nkeys > 0) {
		if (pgbin_text_array_size(names, c->nkeys) > sizeof p->keys) {
			snprintf(err, errlen, "--key names are too long");
			return -1;
		}
		p->lengths[3] = (int)pgbin_text_array(p->keys, names, c->nkeys);
		p->values[3] = (const char *)p->keys;
	}
	return 0;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d) {
		fputs("nanoid-backfill: out of memory\n", stderr);
		abort();
	}
	return d;
}

static bool is_true(const PGresult *res, int row, int field)
{
	return !PQgetisnull(res, row, field) && PQgetvalue(res, row, field)[0] == 't';
}

/*
 * Types the column may have: the string category (text, varchar, citext,
 * domains over them), except name (63 bytes, not for data) and bpchar,
 * which pads with blanks and so would not store the id as generated.
 */
static bool text_type(const char *typname, const char *category)
{
	return category[0] == 'S' && strcmp(typname, "name") != 0 &&
	       strcmp(typname, "bpchar") != 0;
}

/* "schema"."table" as every message shows a table. */
static void shown_rel(char *buf, size_t len, const char *schema,
		      const char *table)
{
	snprintf(buf, len, "\"%s\".\"%s\"", schema, table);
}

/* Whether kind is no table the backfill can fill (err says so). */
static bool not_a_table(char kind, const char *rel, char *err, size_t errlen)
{
	if (kind == 'r' || kind == 'p')
		return false;
	snprintf(err, errlen, "%s is not a table", rel);
	return true;
}

/* Whether the column is missing from rel (err says so). */
static bool missing_column(bool found, const struct config *c,
			   const char *rel, char *err, size_t errlen)
{
	if (found)
		return false;
	snprintf(err, errlen, "column \"%s\" does not exist in table %s",
		 c->column, rel);
	return true;
}

/*
 * The key's fitness for walking by key. Returns 0 if it can be walked, -1
 * (err says why) if it names columns that cannot be a key at all, and 1
 * (err says why) if it exists but cannot serve key order: --order key
 * refuses then, auto walks physically (target_check decides).
 */
static int check_key(const PGresult *res, const struct config *c,
		     const char *rel, char *err, size_t errlen)
{
	int rows = PQntuples(res);

	if (PQgetisnull(res, 0, F_KEY_NAME)) {
		snprintf(err, errlen, "table %s has no primary key; name its key "
			 "columns with --key, or walk it with --order physical", rel);
		return 1;
	}
	for (int i = 0; i < rows; i++) {
		const char *name = PQgetvalue(res, i, F_KEY_NAME);

		if (!is_true(res, i, F_KEY_FOUND)) {
			snprintf(err, errlen, "key column \"%s\" does not exist in table %s",
				 name, rel);
			return -1;
		}
		if (strcmp(name, c->column) == 0) {
			snprintf(err, errlen, "key column \"%s\" is the column being "
				 "filled; the key must be other columns", name);
			return -1;
		}
	}
	for (int i = 0; i < rows; i++) {
		if (!is_true(res, i, F_KEY_NOTNULL)) {
			snprintf(err, errlen, "key column \"%s\" of %s is nullable; "
				 "a key column must be NOT NULL", PQgetvalue(res, i, F_KEY_NAME),
				 rel);
			return 1;
		}
	}
	if (!is_true(res, 0, F_KEY_UNIQUE)) {
		snprintf(err, errlen, "key (%s) of %s is not unique: no valid "
			 "unique index covers it", c->key ? c->key : "", rel);
		return 1;
	}
	if (!is_true(res, 0, F_KEY_INDEXED)) {
		snprintf(err, errlen, "no btree index of %s serves key (%s) in that "
			 "column order and collation, so every batch would scan and "
			 "sort the table; name the key columns as an index has them",
			 rel, c->key ? c->key : "");
		return 1;
	}
	return 0;
}


int catalog_target_read(struct target *t, const PGresult *res,
			const struct config *c, size_t id_len, char *err,
			size_t errlen)
{
	int rows = PQntuples(res), key;
	char rel[300];

	memset(t, 0, sizeof *t);
	if (rows < 1 || !is_true(res, 0, F_REL_FOUND)) {
		catalog_missing_table(c, err, errlen);
		return -1;
	}
	shown_rel(rel, sizeof rel, PQgetvalue(res, 0, F_NSPNAME),
		  PQgetvalue(res, 0, F_RELNAME));
	if (not_a_table(PQgetvalue(res, 0, F_RELKIND)[0], rel, err, errlen) ||
	    missing_column(is_true(res, 0, F_COL_FOUND), c, rel, err, errlen))
		return -1;
	if (is_true(res, 0, F_GENERATED)) {
		snprintf(err, errlen, "column \"%s\" of %s is a generated column; "
			 "its values are computed, not filled", c->column, rel);
		return -1;
	}
	if (!text_type(PQgetvalue(res, 0, F_TYPNAME),
		       PQgetvalue(res, 0, F_TYPCATEGORY))) {
		snprintf(err, errlen, "column \"%s\" of %s is of type %s; "
			 "it must be text or varchar", c->column, rel,
			 PQgetvalue(res, 0, F_TYP));
		return -1;
	}
	{
		/* varchar(n) stores n characters; atttypmod is n + 4, or -1. */
		long typmod = strtol(PQgetvalue(res, 0, F_TYPMOD), NULL, 10);

		if (strcmp(PQgetvalue(res, 0, F_TYPNAME), "varchar") == 0 &&
		    typmod >= 4 && (size_t)(typmod - 4) < id_len) {
			snprintf(err, errlen, "column \"%s\" of %s is %s, which holds "
				 "%ld characters: too short for ids of %zu (prefix %zu + "
				 "size %ld)", c->column, rel, PQgetvalue(res, 0, F_TYP),
				 typmod - 4, id_len, id_len - (size_t)c->size, c->size);
			return -1;
		}
	}
	{
		const char *leaf = PQgetisnull(res, 0, F_BAD_LEAF) ? NULL :
				   PQgetvalue(res, 0, F_BAD_LEAF);

		if (leaf) {
			snprintf(err, errlen, "%s has partition or child %s, which is not "
				 "a table (a foreign table?): it cannot be filled here",
				 rel, leaf);
			return -1;
		}
	}
	if (!PQgetisnull(res, 0, F_TEMP)) {
		/* The batches run in sessions of their own: another session's
		 * temporary table is invisible to them, ours would be too. */
		snprintf(err, errlen, "%s; another session cannot see its rows",
			 PQgetvalue(res, 0, F_TEMP));
		return -1;
	}
	if (!PQgetisnull(res, 0, F_PARTKEY)) {
		snprintf(err, errlen, "column \"%s\" is in the partition key of %s: "
			 "filling it would move rows between partitions",
			 c->column, PQgetvalue(res, 0, F_PARTKEY));
		return -1;
	}
	if (!PQgetisnull(res, 0, F_FOREIGN_KEY)) {
		snprintf(err, errlen, "column \"%s\" is in foreign key %s: "
			 "a generated id would not exist in the referenced table",
			 c->column, PQgetvalue(res, 0, F_FOREIGN_KEY));
		return -1;
	}
	if (!PQgetisnull(res, 0, F_RULE)) {
		/* A rule rewrites the batch's UPDATE: its row counts and the
		 * ctid match would no longer say what was filled. */
		snprintf(err, errlen, "%s rewrites UPDATE; the batches cannot "
			 "work through a rule (drop or disable it for the backfill)",
			 PQgetvalue(res, 0, F_RULE));
		return -1;
	}
	key = check_key(res, c, rel, t->key_problem, sizeof t->key_problem);
	if (key < 0) {
		snprintf(err, errlen, "%s", t->key_problem);
		return -1;
	}
	if (key == 0)
		t->key_problem[0] = '\0';
	/* What every batch does: read the key and the column, update the
	 * column. Checked here so that a missing grant writes nothing. */
	if (!is_true(res, 0, F_USAGE)) {
		snprintf(err, errlen, "role \"%s\" may not use schema \"%s\"",
			 PQgetvalue(res, 0, F_ROLE), PQgetvalue(res, 0, F_NSPNAME));
		return -1;
	}
	for (int i = 0; i < rows && !PQgetisnull(res, 0, F_KEY_NAME); i++) {
		if (!is_true(res, i, F_KEY_SELECT)) {
			snprintf(err, errlen, "role \"%s\" may not read column \"%s\" of %s",
				 PQgetvalue(res, 0, F_ROLE), PQgetvalue(res, i, F_KEY_NAME), rel);
			return -1;
		}
	}
	if (!is_true(res, 0, F_COL_SELECT) || !is_true(res, 0, F_COL_UPDATE)) {
		snprintf(err, errlen, "role \"%s\" may not %s column \"%s\" of %s",
			 PQgetvalue(res, 0, F_ROLE),
			 is_true(res, 0, F_COL_SELECT) ? "update" : "read", c->column, rel);
		return -1;
	}
	if (!PQgetisnull(res, 0, F_LEAF_NOPRIV)) {
		snprintf(err, errlen, "role \"%s\" may not read or update column \"%s\" "
			 "of %s, a partition or child of %s; each is filled on its own",
			 PQgetvalue(res, 0, F_ROLE), c->column,
			 PQgetvalue(res, 0, F_LEAF_NOPRIV), rel);
		return -1;
	}
	if (!PQgetisnull(res, 0, F_RLS)) {
		/* The batches and the final check would see, fill and count
		 * only the rows the policies show: "done" would be a lie. */
		catalog_rls_refusal(err, errlen, PQgetvalue(res, 0, F_ROLE),
				    PQgetvalue(res, 0, F_RLS), "the backfill");
		return -1;
	}
	if (rows > CONFIG_MAX_KEYS) {
		snprintf(err, errlen, "key of %s has %d columns; at most %d are supported",
			 rel, rows, CONFIG_MAX_KEYS);
		return -1;
	}

	t->schema = xstrdup(PQgetvalue(res, 0, F_NSPNAME));
	t->table = xstrdup(PQgetvalue(res, 0, F_RELNAME));
	t->column = xstrdup(c->column);
	t->oid = (Oid)strtoul(PQgetvalue(res, 0, F_OID), NULL, 10);
	/* A partitioned table with no partition yet is one all the same. */
	t->tree = is_true(res, 0, F_TREE) || PQgetvalue(res, 0, F_RELKIND)[0] == 'p';
	t->leaves = strtol(PQgetvalue(res, 0, F_LEAVES), NULL, 10);
	t->correlation = PQgetisnull(res, 0, F_CORRELATION) ? (double)NAN :
			 strtod(PQgetvalue(res, 0, F_CORRELATION), NULL);
	t->planned_rows = -1;
	t->nkeys = PQgetisnull(res, 0, F_KEY_NAME) ? 0 : rows;
	for (int i = 0; i < t->nkeys; i++) {
		t->keys[i] = xstrdup(PQgetvalue(res, i, F_KEY_NAME));
		t->key_types[i] = (Oid)strtoul(PQgetvalue(res, i, F_KEY_TYPE), NULL, 10);
	}
	t->col_type = (Oid)strtoul(PQgetvalue(res, 0, F_COL_TYPE), NULL, 10);
	t->unique_index = is_true(res, 0, F_UNIQUE_COL);
	t->plain_text = strcmp(PQgetvalue(res, 0, F_TYPNAME), "text") == 0 ||
			strcmp(PQgetvalue(res, 0, F_TYPNAME), "varchar") == 0;
	if (!PQgetisnull(res, 0, F_ID_INDEXES)) {
		const char *text = PQgetvalue(res, 0, F_ID_INDEXES);
		int max = 1;
		int n;

		for (const char *p = text; *p; p++)
			max += *p == ',';
		t->id_indexes = calloc((size_t)max + 1, sizeof *t->id_indexes);
		if (!t->id_indexes) {
			fputs("nanoid-backfill: out of memory\n", stderr);
			abort();
		}
		n = pgbin_parse_text_array(text, t->id_indexes, max);
		/* Malformed: none known, so every violation counts as incurable. */
		t->nid_indexes = n < 0 ? 0 : n / 3;
	}
	t->triggers = PQgetisnull(res, 0, F_TRIGGERS) ? NULL :
		      xstrdup(PQgetvalue(res, 0, F_TRIGGERS));
	t->plain_update = is_true(res, 0, F_PLAIN_UPDATE);
	t->reltuples = strtod(PQgetvalue(res, 0, F_RELTUPLES), NULL);
	t->null_frac = strtod(PQgetvalue(res, 0, F_NULL_FRAC), NULL);
	return 0;
}


/*
 * The table and the column in it, resolved as the run resolves them, and
 * what the one-shot commands need to know besides: NOT NULL, a valid
 * unique index on the column alone, and whether row-level security would
 * hide rows from this role (through the table, only its own policies
 * apply, not its children's).
 */
static const char table_sql[] =
	"SELECT c.oid, c.relnamespace, n.nspname, c.relname, c.relkind,"
	"       a.attnum, a.attnotnull,"
	"       (SELECT i.indexrelid::regclass::text FROM pg_index i"
	"         WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid"
	"           AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum"
	"           AND i.indpred IS NULL AND i.indexprs IS NULL"
	"         ORDER BY 1 LIMIT 1),"
	"       row_security_active(c.oid), current_user"
	"  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	"  LEFT JOIN pg_attribute a ON a.attrelid = c.oid"
	"       AND a.attname = $3::text AND a.attnum > 0 AND NOT a.attisdropped"
	" WHERE c.oid = " CATALOG_REGCLASS_SQL;

enum {
	T_OID, T_NSPID, T_NSPNAME, T_RELNAME, T_RELKIND, T_ATTNUM, T_NOTNULL,
	T_UNIQUE, T_RLS, T_ROLE,
};

const char *catalog_table_sql(void)
{
	return table_sql;
}

void catalog_table_params(const struct config *c,
			  const char *values[CATALOG_TABLE_NPARAMS])
{
	values[0] = c->schema;
	values[1] = c->table;
	values[2] = c->column;
}

int catalog_table_read(struct catalog_table *t, const PGresult *res,
		       const struct config *c, bool need_column, char *err,
		       size_t errlen)
{
	memset(t, 0, sizeof *t);
	if (PQntuples(res) != 1) {
		catalog_missing_table(c, err, errlen);
		return -1;
	}
	snprintf(t->oid, sizeof t->oid, "%s", PQgetvalue(res, 0, T_OID));
	snprintf(t->nspid, sizeof t->nspid, "%s", PQgetvalue(res, 0, T_NSPID));
	t->schema = strdup(PQgetvalue(res, 0, T_NSPNAME));
	t->table = strdup(PQgetvalue(res, 0, T_RELNAME));
	t->role = strdup(PQgetvalue(res, 0, T_ROLE));
	t->kind = PQgetvalue(res, 0, T_RELKIND)[0];
	t->has_column = !PQgetisnull(res, 0, T_ATTNUM);
	if (t->has_column) {
		snprintf(t->attnum, sizeof t->attnum, "%s",
			 PQgetvalue(res, 0, T_ATTNUM));
		t->notnull = is_true(res, 0, T_NOTNULL);
	}
	t->rls = is_true(res, 0, T_RLS);
	if (!PQgetisnull(res, 0, T_UNIQUE))
		t->unique_index = strdup(PQgetvalue(res, 0, T_UNIQUE));
	if (t->schema == NULL || t->table == NULL || t->role == NULL ||
	    (t->unique_index == NULL && !PQgetisnull(res, 0, T_UNIQUE))) {
		snprintf(err, errlen, "out of memory");
		return -2;
	}
	shown_rel(t->shown, sizeof t->shown, t->schema, t->table);
	if (not_a_table(t->kind, t->shown, err, errlen) ||
	    (need_column && missing_column(t->has_column, c, t->shown, err,
					   errlen)))
		return -1;
	return 0;
}

void catalog_table_free(struct catalog_table *t)
{
	free(t->schema);
	free(t->table);
	free(t->unique_index);
	free(t->role);
	memset(t, 0, sizeof *t);
}

char *catalog_job_name(const char *job, const char *schema, const char *table,
		       const char *column)
{
	char *name = NULL;

	if (job != NULL)
		return strdup(job);
	if (asprintf(&name, "%s.%s.%s", schema, table, column) < 0)
		return NULL;
	return name;
}

void catalog_missing_table(const struct config *c, char *err, size_t errlen)
{
	if (c->schema)
		snprintf(err, errlen, "table \"%s\".\"%s\" does not exist",
			 c->schema, c->table);
	else
		snprintf(err, errlen, "table \"%s\" does not exist "
			 "(looked up through search_path; use --schema)", c->table);
}

void catalog_rls_refusal(char *err, size_t errlen, const char *role,
			 const char *rel, const char *who)
{
	snprintf(err, errlen, "row-level security applies to role \"%s\" on %s: "
		 "%s would see only the rows its policies show; run it as the "
		 "table's owner (without FORCE ROW LEVEL SECURITY) or as a role "
		 "with BYPASSRLS", role, rel, who);
}
