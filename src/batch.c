/*
 * batch.c - build and run-time state of the batch statement.
 */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"

/* A growable string for building SQL text out of quoted identifiers. */
struct sb {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sb *b, const char *s)
{
	size_t n = strlen(s);

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/* Appends "pfx k1 sfx, pfx k2 sfx, ..." for the quoted keys. */
static void sb_keys(struct sb *b, char *const *qk, int n, const char *pfx,
		    const char *sfx)
{
	for (int i = 0; i < n; i++) {
		if (i > 0)
			sb_add(b, ", ");
		sb_add(b, pfx);
		sb_add(b, qk[i]);
		sb_add(b, sfx);
	}
}

char *batch_quote(PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	char *copy;

	if (!q)
		return NULL;
	copy = strdup(q);
	PQfreemem(q);
	return copy;
}

/*
 * The statement; see batch.h for what it does. Notes on the less obvious:
 *   - row comparison (k1, k2) > ($5, $6) is what a btree index on (k1, k2)
 *     can scan from directly, so a composite key pages like a single one;
 *   - `AND c IS NULL` is checked again by the UPDATE under READ COMMITTED:
 *     if the application updated the row after our snapshot, PostgreSQL
 *     re-evaluates the condition on the newest version and skips the row
 *     if it now has a value (and still fills it if only other columns
 *     changed, because the join is on the key, not on ctid);
 *   - the ids arrive as one bytea, cut with substring: O(1) per row, where
 *     subscripting a text[] walks the array from its start every time.
 */
static char *build(char *const *qk, int n, const char *qt, const char *qc,
		   const char *progress, bool with_cursor)
{
	struct sb b = { 0 };
	char num[32];

	sb_add(&b, "WITH batch AS (SELECT ");
	sb_keys(&b, qk, n, "", "");
	sb_add(&b, " FROM ");
	sb_add(&b, qt);
	sb_add(&b, " WHERE ");
	if (with_cursor) {
		sb_add(&b, "(");
		sb_keys(&b, qk, n, "", "");
		sb_add(&b, ") > (");
		for (int i = 0; i < n; i++) {
			snprintf(num, sizeof num, "%s$%d", i ? ", " : "",
				 BATCH_FIXED_PARAMS + 1 + i);
			sb_add(&b, num);
		}
		sb_add(&b, ") AND ");
	}
	sb_add(&b, qc);
	sb_add(&b, " IS NULL ORDER BY ");
	sb_keys(&b, qk, n, "", "");
	sb_add(&b, " LIMIT $1), numbered AS (SELECT ");
	sb_keys(&b, qk, n, "", "");
	sb_add(&b, ", row_number() OVER (ORDER BY ");
	sb_keys(&b, qk, n, "", "");
	sb_add(&b, ") AS nanoid_backfill_n FROM batch), upd AS (UPDATE ");
	sb_add(&b, qt);
	sb_add(&b, " AS nanoid_backfill_t SET ");
	sb_add(&b, qc);
	sb_add(&b, " = convert_from(substring($2 FROM ((numbered.nanoid_backfill_n - 1) * $3 + 1)::int"
		   " FOR $3), 'UTF8') FROM numbered WHERE (");
	sb_keys(&b, qk, n, "nanoid_backfill_t.", "");
	sb_add(&b, ") = (");
	sb_keys(&b, qk, n, "numbered.", "");
	sb_add(&b, ") AND nanoid_backfill_t.");
	sb_add(&b, qc);
	sb_add(&b, " IS NULL RETURNING 1), last AS (SELECT ");
	sb_keys(&b, qk, n, "", "");
	sb_add(&b, " FROM numbered ORDER BY nanoid_backfill_n DESC LIMIT 1), progress AS (UPDATE ");
	sb_add(&b, progress);
	sb_add(&b, " SET cursor = (SELECT ARRAY[");
	sb_keys(&b, qk, n, "", "::text");
	sb_add(&b, "] FROM last), rows_done = rows_done + (SELECT count(*) FROM upd),"
		   " batches = batches + 1, state = 'running', updated_at = now()"
		   " WHERE job = $4) SELECT (SELECT count(*) FROM numbered),"
		   " (SELECT count(*) FROM upd), ");
	sb_keys(&b, qk, n, "last.", "::text");
	sb_add(&b, " FROM (SELECT 1) AS one LEFT JOIN last ON true");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static char *build_remaining(const char *qt, const char *qc)
{
	struct sb b = { 0 };

	sb_add(&b, "SELECT EXISTS (SELECT 1 FROM ");
	sb_add(&b, qt);
	sb_add(&b, " WHERE ");
	sb_add(&b, qc);
	sb_add(&b, " IS NULL)");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

int batch_build(struct batch *b, PGconn *conn, const struct target *t,
		const char *progress_table, const char *job, size_t id_len,
		char *err, size_t errlen)
{
	char *qk[CONFIG_MAX_KEYS] = { 0 };
	char *qs = batch_quote(conn, t->schema);
	char *qtab = batch_quote(conn, t->table);
	char *qc = batch_quote(conn, t->column);
	char *qt = NULL;
	int rc = -1;

	memset(b, 0, sizeof *b);
	b->nkeys = t->nkeys;
	b->job = job;
	b->id_len = id_len;
	for (int i = 0; i < t->nkeys; i++)
		qk[i] = batch_quote(conn, t->keys[i]);
	if (!qs || !qtab || !qc)
		goto out;
	for (int i = 0; i < t->nkeys; i++)
		if (!qk[i])
			goto out;
	qt = malloc(strlen(qs) + strlen(qtab) + 2);
	if (!qt)
		goto out;
	sprintf(qt, "%s.%s", qs, qtab);

	b->sql_first = build(qk, t->nkeys, qt, qc, progress_table, false);
	b->sql_next = build(qk, t->nkeys, qt, qc, progress_table, true);
	b->sql_remaining = build_remaining(qt, qc);
	if (!b->sql_first || !b->sql_next || !b->sql_remaining)
		goto out;

	b->types[0] = PGBIN_INT4OID;
	b->types[1] = PGBIN_BYTEAOID;
	b->types[2] = PGBIN_INT4OID;
	b->types[3] = PGBIN_TEXTOID;
	for (int i = 0; i < t->nkeys; i++)
		b->types[BATCH_FIXED_PARAMS + i] = t->key_types[i];
	rc = 0;
out:
	if (rc != 0) {
		snprintf(err, errlen, "cannot build the batch statement: %s",
			 PQerrorMessage(conn)[0] ? PQerrorMessage(conn) : "out of memory");
		batch_free(b);
	}
	for (int i = 0; i < t->nkeys; i++)
		free(qk[i]);
	free(qs);
	free(qtab);
	free(qc);
	free(qt);
	return rc;
}

int batch_set_limit(struct batch *b, long limit)
{
	size_t need = (size_t)limit * b->id_len;

	if (need > b->ids_cap) {
		unsigned char *p = realloc(b->ids, need);

		if (!p)
			return -1;
		b->ids = p;
		b->ids_cap = need;
	}
	b->limit = limit;
	return 0;
}

void batch_set_cursor(struct batch *b, char *const *values)
{
	for (int i = 0; i < b->nkeys; i++) {
		free(b->cursor[i]);
		b->cursor[i] = NULL;
	}
	b->has_cursor = values != NULL;
	if (!values)
		return;
	for (int i = 0; i < b->nkeys; i++) {
		b->cursor[i] = strdup(values[i]);
		if (!b->cursor[i]) {
			fputs("nanoid-backfill: out of memory\n", stderr);
			abort();
		}
	}
}

const char *batch_prepare_params(struct batch *b, struct nanoid *gen,
				 int *nparams)
{
	for (long i = 0; i < b->limit; i++)
		nanoid_generate(gen, (char *)b->ids + (size_t)i * b->id_len);

	pgbin_put_int32(b->limit_be, (int32_t)b->limit);
	pgbin_put_int32(b->id_len_be, (int32_t)b->id_len);
	b->values[0] = (const char *)b->limit_be;
	b->lengths[0] = 4;
	b->formats[0] = 1;
	b->values[1] = (const char *)b->ids;
	b->lengths[1] = (int)((size_t)b->limit * b->id_len);
	b->formats[1] = 1;
	b->values[2] = (const char *)b->id_len_be;
	b->lengths[2] = 4;
	b->formats[2] = 1;
	b->values[3] = b->job;
	b->lengths[3] = 0;
	b->formats[3] = 0;
	if (!b->has_cursor) {
		*nparams = BATCH_FIXED_PARAMS;
		return BATCH_STMT_FIRST;
	}
	for (int i = 0; i < b->nkeys; i++) {
		b->values[BATCH_FIXED_PARAMS + i] = b->cursor[i];
		b->lengths[BATCH_FIXED_PARAMS + i] = 0;
		b->formats[BATCH_FIXED_PARAMS + i] = 0;
	}
	*nparams = BATCH_FIXED_PARAMS + b->nkeys;
	return BATCH_STMT_NEXT;
}

int batch_read_result(struct batch *b, const PGresult *res, long *found,
		      long *filled)
{
	char *last[CONFIG_MAX_KEYS];

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != 2 + b->nkeys)
		return -1;
	*found = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	*filled = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	if (*found == 0)
		return 0; /* the cursor stays; the caller ends the pass */
	for (int i = 0; i < b->nkeys; i++) {
		if (PQgetisnull(res, 0, 2 + i))
			return -1;
		last[i] = PQgetvalue(res, 0, 2 + i);
	}
	batch_set_cursor(b, last);
	return 0;
}

void batch_free(struct batch *b)
{
	batch_set_cursor(b, NULL);
	free(b->sql_first);
	free(b->sql_next);
	free(b->sql_remaining);
	free(b->ids);
	memset(b, 0, sizeof *b);
}
