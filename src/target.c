/*
 * target.c - resolve and check the backfill target from the catalog.
 */
#include "target.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"
#include "worker.h"

/*
 * One row per key column (or one row with NULL key fields when there is no
 * key). The table is resolved like the server would: quote_ident keeps the
 * names exactly as given, so 'Order "Items"' is that name, not SQL.
 * to_regclass returns NULL instead of raising for a missing table.
 * Keys: the --key names ($4..) when given, else the primary key's key
 * columns (INCLUDE columns excluded) in index order.
 */
static const char query[] =
	"WITH rel AS ("
	"  SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples"
	"    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	"   WHERE c.oid = " TARGET_REGCLASS_SQL "),"
	" col AS ("
	"  SELECT a.attnum, t.typname, t.typcategory,"
	"         CASE d.typtype WHEN 'd' THEN d.typtypmod ELSE a.atttypmod END AS atttypmod,"
	"         format_type(a.atttypid, a.atttypmod) AS typ"
	"    FROM rel JOIN pg_attribute a ON a.attrelid = rel.oid"
	"    JOIN pg_type d ON d.oid = a.atttypid"
	"    JOIN pg_type t ON t.oid = CASE d.typtype WHEN 'd' THEN d.typbasetype ELSE d.oid END"
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
	"         AND a.attnum > 0 AND NOT a.attisdropped)"
	" SELECT rel.oid IS NOT NULL, rel.nspname, rel.relname, rel.relkind,"
	"        rel.reltuples,"
	"        col.attnum IS NOT NULL, col.typname, col.typcategory, col.atttypmod, col.typ,"
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
	"        COALESCE((SELECT s.null_frac FROM pg_stats s"
	"                   WHERE s.schemaname = rel.nspname AND s.tablename = rel.relname"
	"                     AND s.attname = $3::text), 1)"
	"   FROM (SELECT 1) AS one"
	"   LEFT JOIN rel ON true LEFT JOIN col ON true LEFT JOIN keys ON true"
	"  ORDER BY keys.ord";

enum {
	F_REL_FOUND, F_NSPNAME, F_RELNAME, F_RELKIND, F_RELTUPLES,
	F_COL_FOUND, F_TYPNAME, F_TYPCATEGORY, F_TYPMOD, F_TYP,
	F_KEY_NAME, F_KEY_FOUND, F_KEY_TYPE, F_KEY_NOTNULL,
	F_KEY_UNIQUE, F_ROLE, F_USAGE, F_COL_SELECT, F_COL_UPDATE, F_KEY_SELECT,
	F_NULL_FRAC,
};

const char *target_query(void)
{
	return query;
}

int target_params(const struct config *c, struct target_params *p)
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
		if (pgbin_text_array_size(names, c->nkeys) > sizeof p->keys)
			return -1;
		p->lengths[3] = (int)pgbin_text_array(p->keys, names, c->nkeys);
		p->values[3] = (const char *)p->keys;
	}
	return 0;
}

int target_send(struct worker *w, const struct config *c)
{
	struct target_params p;  /* libpq copies the values while sending */

	if (target_params(c, &p) != 0) {
		snprintf(w->errbuf, sizeof w->errbuf, "--key names are too long");
		return -1;
	}
	return worker_send(w, query, 4, p.types, p.values, p.lengths, p.formats);
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

int target_check(struct target *t, const PGresult *res,
		 const struct config *c, size_t id_len, char *err,
		 size_t errlen)
{
	int rows = PQntuples(res);
	char rel[300];

	memset(t, 0, sizeof *t);
	if (rows < 1 || !is_true(res, 0, F_REL_FOUND)) {
		target_missing(c, err, errlen);
		return -1;
	}
	snprintf(rel, sizeof rel, "\"%s\".\"%s\"", PQgetvalue(res, 0, F_NSPNAME),
		 PQgetvalue(res, 0, F_RELNAME));
	{
		const char kind = PQgetvalue(res, 0, F_RELKIND)[0];

		if (kind != 'r' && kind != 'p') {
			snprintf(err, errlen, "%s is not a table", rel);
			return -1;
		}
	}
	if (!is_true(res, 0, F_COL_FOUND)) {
		snprintf(err, errlen, "column \"%s\" does not exist in table %s",
			 c->column, rel);
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
			snprintf(err, errlen, "column \"%s\" of %s is %s, too short "
				 "for ids of %zu characters (prefix %zu + size %ld)",
				 c->column, rel, PQgetvalue(res, 0, F_TYP), id_len,
				 id_len - (size_t)c->size, c->size);
			return -1;
		}
	}
	if (PQgetisnull(res, 0, F_KEY_NAME)) {
		snprintf(err, errlen, "table %s has no primary key; "
			 "name its key columns with --key", rel);
		return -1;
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
		if (!is_true(res, i, F_KEY_NOTNULL)) {
			snprintf(err, errlen, "key column \"%s\" of %s is nullable; "
				 "a key column must be NOT NULL", name, rel);
			return -1;
		}
	}
	if (!is_true(res, 0, F_KEY_UNIQUE)) {
		snprintf(err, errlen, "key (%s) of %s is not unique: no valid "
			 "unique index covers it", c->key ? c->key : "", rel);
		return -1;
	}
	/* What every batch does: read the key and the column, update the
	 * column. Checked here so that a missing grant writes nothing. */
	if (!is_true(res, 0, F_USAGE)) {
		snprintf(err, errlen, "role \"%s\" may not use schema \"%s\"",
			 PQgetvalue(res, 0, F_ROLE), PQgetvalue(res, 0, F_NSPNAME));
		return -1;
	}
	for (int i = 0; i < rows; i++) {
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
	if (rows > CONFIG_MAX_KEYS) {
		snprintf(err, errlen, "key of %s has %d columns; at most %d are supported",
			 rel, rows, CONFIG_MAX_KEYS);
		return -1;
	}

	t->schema = xstrdup(PQgetvalue(res, 0, F_NSPNAME));
	t->table = xstrdup(PQgetvalue(res, 0, F_RELNAME));
	t->column = xstrdup(c->column);
	t->nkeys = rows;
	for (int i = 0; i < rows; i++) {
		t->keys[i] = xstrdup(PQgetvalue(res, i, F_KEY_NAME));
		t->key_types[i] = (Oid)strtoul(PQgetvalue(res, i, F_KEY_TYPE), NULL, 10);
	}
	t->reltuples = strtod(PQgetvalue(res, 0, F_RELTUPLES), NULL);
	t->null_frac = strtod(PQgetvalue(res, 0, F_NULL_FRAC), NULL);
	return 0;
}

void target_missing(const struct config *c, char *err, size_t errlen)
{
	if (c->schema)
		snprintf(err, errlen, "table \"%s\".\"%s\" does not exist",
			 c->schema, c->table);
	else
		snprintf(err, errlen, "table \"%s\" does not exist "
			 "(looked up through search_path; use --schema)", c->table);
}

double target_estimate(const struct target *t)
{
	if (t->reltuples < 0)
		return -1;
	return t->reltuples * t->null_frac;
}

void target_free(struct target *t)
{
	free(t->schema);
	free(t->table);
	free(t->column);
	for (int i = 0; i < t->nkeys; i++)
		free(t->keys[i]);
	memset(t, 0, sizeof *t);
}
