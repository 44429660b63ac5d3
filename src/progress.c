/*
 * progress.c - the job's progress record in the target database.
 */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "pgbin.h"
#include "worker.h"

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

int progress_init(struct progress *p, PGconn *conn, const char *schema,
		  const char *job, const struct target *t, char *err,
		  size_t errlen)
{
	char *qs = batch_quote(conn, schema);

	memset(p, 0, sizeof *p);
	p->target = t;
	if (job)
		p->job = strdup(job);
	else
		p->job = xasprintf("%s.%s.%s", t->schema, t->table, t->column);
	if (!qs || !p->job)
		goto fail;
	p->table = xasprintf("%s.jobs", qs);
	/*
	 * IF NOT EXISTS keeps a second process (or a restart) from failing;
	 * the check on key_columns keeps a cursor meaningful only for its key.
	 */
	p->sql_setup = xasprintf(
		"CREATE SCHEMA IF NOT EXISTS %s;"
		"CREATE TABLE IF NOT EXISTS %s.jobs ("
		" job text PRIMARY KEY,"
		" schema_name text NOT NULL,"
		" table_name text NOT NULL,"
		" column_name text NOT NULL,"
		" key_columns text[] NOT NULL,"
		" cursor text[],"
		" rows_done bigint NOT NULL DEFAULT 0,"
		" batches bigint NOT NULL DEFAULT 0,"
		" passes bigint NOT NULL DEFAULT 0,"
		" state text NOT NULL,"
		" started_at timestamptz NOT NULL DEFAULT now(),"
		" updated_at timestamptz NOT NULL DEFAULT now(),"
		" finished_at timestamptz)",
		qs, qs);
	/*
	 * Insert the job, or take it over if it has the same target. The
	 * second branch reads the row as it was before this statement, so it
	 * only answers when the first changed nothing: another target owns
	 * the name.
	 */
	p->sql_claim = xasprintf(
		"WITH up AS ("
		" INSERT INTO %s AS j (job, schema_name, table_name, column_name,"
		"  key_columns, state) VALUES ($1, $2, $3, $4, $5, 'running')"
		" ON CONFLICT (job) DO UPDATE SET state = 'running', updated_at = now(),"
		"  finished_at = NULL"
		"  WHERE (j.schema_name, j.table_name, j.column_name, j.key_columns)"
		"   = (EXCLUDED.schema_name, EXCLUDED.table_name, EXCLUDED.column_name,"
		"      EXCLUDED.key_columns)"
		" RETURNING (xmax = 0) AS created, rows_done, cursor,"
		"  schema_name, table_name, column_name, key_columns)"
		" SELECT true, created, rows_done, cursor, schema_name, table_name,"
		"  column_name, array_to_string(key_columns, ', ') FROM up"
		" UNION ALL SELECT false, false, rows_done, cursor, schema_name,"
		"  table_name, column_name, array_to_string(key_columns, ', ')"
		"  FROM %s WHERE job = $1 AND NOT EXISTS (SELECT 1 FROM up)",
		p->table, p->table);
	p->sql_state = xasprintf(
		"UPDATE %s SET state = $2, updated_at = now(),"
		" passes = passes + CASE WHEN $3 THEN 1 ELSE 0 END,"
		" cursor = CASE WHEN $3 THEN NULL ELSE cursor END,"
		" finished_at = CASE WHEN $2 = 'done' THEN now() ELSE finished_at END"
		" WHERE job = $1",
		p->table);
	free(qs);
	if (p->table && p->sql_setup && p->sql_claim && p->sql_state)
		return 0;
	qs = NULL;
fail:
	free(qs);
	snprintf(err, errlen, "cannot build the progress statements: %s",
		 PQerrorMessage(conn)[0] ? PQerrorMessage(conn) : "out of memory");
	progress_free(p);
	return -1;
}

int progress_send_setup(struct progress *p, struct worker *w)
{
	return worker_send(w, p->sql_setup, 0, NULL, NULL, NULL, NULL);
}

int progress_send_claim(struct progress *p, struct worker *w)
{
	static const Oid types[5] = { PGBIN_TEXTOID, PGBIN_TEXTOID, PGBIN_TEXTOID,
				      PGBIN_TEXTOID, PGBIN_TEXTARRAYOID };
	const struct target *t = p->target;
	unsigned char keys[8192];
	const char *values[5] = { p->job, t->schema, t->table, t->column,
				  (const char *)keys };
	int lengths[5] = { 0, 0, 0, 0, 0 };
	int formats[5] = { 0, 0, 0, 0, 1 };
	const char *const *names = (const char *const *)t->keys;

	if (pgbin_text_array_size(names, t->nkeys) > sizeof keys) {
		snprintf(w->errbuf, sizeof w->errbuf, "key names are too long");
		return -1;
	}
	lengths[4] = (int)pgbin_text_array(keys, names, t->nkeys);
	return worker_send(w, p->sql_claim, 5, types, values, lengths, formats);
}

/*
 * Splits the text form of a one-dimensional text[] as the server prints
 * it: {a,"b c","d\"e"}. Elements are quoted when they contain special
 * characters; backslash escapes the next character.
 */
static int parse_text_array(const char *s, char **out, int max)
{
	int n = 0;

	if (*s++ != '{')
		return -1;
	if (*s == '}')
		return 0;
	for (;;) {
		size_t cap = strlen(s) + 1, len = 0;
		char *e;

		if (n == max)
			return -1;
		e = malloc(cap);
		if (!e)
			return -1;
		out[n++] = e;
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				e[len++] = *s;
			}
			if (*s++ != '"')
				return -1;
		} else {
			while (*s && *s != ',' && *s != '}')
				e[len++] = *s++;
		}
		e[len] = '\0';
		if (*s == '}')
			return n;
		if (*s++ != ',')
			return -1;
	}
}

int progress_read_claim(struct progress *p, const PGresult *res,
			struct progress_claim *claim, char *err,
			size_t errlen)
{
	const struct target *t = p->target;

	memset(claim, 0, sizeof *claim);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != 8) {
		snprintf(err, errlen, "unexpected answer claiming job \"%s\"", p->job);
		return -1;
	}
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		snprintf(err, errlen, "job \"%s\" already exists for \"%s\".\"%s\".\"%s\" "
			 "by key (%s); choose another --job", p->job,
			 PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
			 PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7));
		return -1;
	}
	claim->created = PQgetvalue(res, 0, 1)[0] == 't';
	claim->rows_done = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	if (!PQgetisnull(res, 0, 3)) {
		int n = parse_text_array(PQgetvalue(res, 0, 3), claim->cursor,
					 CONFIG_MAX_KEYS);

		if (n != t->nkeys) {
			progress_claim_free(claim);
			snprintf(err, errlen, "job \"%s\" has a malformed cursor %s",
				 p->job, PQgetvalue(res, 0, 3));
			return -1;
		}
		claim->has_cursor = true;
	}
	return 0;
}

void progress_claim_free(struct progress_claim *claim)
{
	for (int i = 0; i < CONFIG_MAX_KEYS; i++) {
		free(claim->cursor[i]);
		claim->cursor[i] = NULL;
	}
	claim->has_cursor = false;
}

int progress_send_state(struct progress *p, struct worker *w,
			const char *state, bool pass_ended)
{
	static const Oid types[3] = { PGBIN_TEXTOID, PGBIN_TEXTOID, 16 /* bool */ };
	const char *values[3] = { p->job, state, pass_ended ? "t" : "f" };

	return worker_send(w, p->sql_state, 3, types, values, NULL, NULL);
}

void progress_free(struct progress *p)
{
	free(p->table);
	free(p->sql_setup);
	free(p->sql_claim);
	free(p->sql_state);
	free(p->job);
	memset(p, 0, sizeof *p);
}
