/*
 * plan_format.c - the table of migration tools `plan --format` writes
 * for, and how each one names, pairs and wraps a step (see plan_format.h).
 * Each tool's rule is cited where it is not obvious; the texts of the
 * steps themselves come from plan_text.c and plan_null.c.
 */
#include "plan_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "sbuf.h"

/* ---- SQL statements, as PostgreSQL's lexer sees them -------------------- */

static bool ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

/* What one character inside a quoted part means to a line-based tool. */
static void note_quoted(const char *t, size_t i, struct plan_sql_stmt *st)
{
	if (t[i] == ';' || (t[i] == '-' && t[i + 1] == '-'))
		st->block = true;
	if (t[i] == '\n' && t[i + 1] == '-' && t[i + 2] == '-') {
		st->block = true;
		st->dashed_line = true;
	}
}

/* Past a '...' string (esc: an E'' string, with backslash escapes) or a
 * "..." name starting at i, just after its opening quote. */
static size_t skip_quoted(const char *t, size_t i, char q, bool esc,
			  struct plan_sql_stmt *st)
{
	while (t[i] != '\0') {
		if (esc && t[i] == '\\' && t[i + 1] != '\0') {
			note_quoted(t, i + 1, st);
			i += 2;
			continue;
		}
		if (t[i] == q) {
			if (t[i + 1] != q)
				return i + 1;
			i += 2;
			continue;
		}
		note_quoted(t, i, st);
		i++;
	}
	return i;
}

/* Past a dollar quote whose opening $tag$ is t[i..j] (j at its last '$');
 * 0 if t[i..j] is not one. */
static size_t skip_dollar(const char *t, size_t i, struct plan_sql_stmt *st)
{
	size_t j = i + 1, taglen;
	const char *end;

	if (t[j] >= '0' && t[j] <= '9')
		return 0;       /* $1: a parameter, not a quote */
	while (t[j] != '\0' && t[j] != '$' && ident_char((unsigned char)t[j]))
		j++;
	if (t[j] != '$')
		return 0;
	taglen = j - i + 1;
	for (end = t + j + 1; *end != '\0'; end++)
		if (strncmp(end, t + i, taglen) == 0)
			break;
	for (size_t k = j + 1; t + k < end; k++)
		note_quoted(t, k, st);
	return *end == '\0' ? (size_t)(end - t) : (size_t)(end - t) + taglen;
}

bool plan_sql_next(const char *t, size_t *pos, struct plan_sql_stmt *st)
{
	size_t i = *pos;
	bool started = false;

	memset(st, 0, sizeof *st);
	while (t[i] != '\0') {
		unsigned char c = (unsigned char)t[i];

		if (c == '-' && t[i + 1] == '-') {
			st->block = st->block || started;
			while (t[i] != '\0' && t[i] != '\n')
				i++;
			continue;
		}
		if (c == '/' && t[i + 1] == '*') {
			int depth = 1;

			st->block = st->block || started;
			for (i += 2; t[i] != '\0' && depth > 0;) {
				if (t[i] == '/' && t[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (t[i] == '*' && t[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			}
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
			i++;
			continue;
		}
		if (!started) {
			started = true;
			st->start = i;
			st->line = i;
			while (st->line > 0 && t[st->line - 1] != '\n')
				st->line--;
		}
		if (c == ';') {
			size_t j = i + 1;

			while (t[j] == ' ' || t[j] == '\t' || t[j] == '\r')
				j++;
			i = t[j] == '\n' ? j + 1 : (t[j] == '\0' ? j : i + 1);
			st->end = *pos = i;
			return true;
		}
		if (c == '\'') {
			bool esc = i > 0 && (t[i - 1] == 'E' || t[i - 1] == 'e') &&
				   (i < 2 || !ident_char((unsigned char)t[i - 2]));

			i = skip_quoted(t, i + 1, '\'', esc, st);
			continue;
		}
		if (c == '"') {
			i = skip_quoted(t, i + 1, '"', false, st);
			continue;
		}
		if (c == '$' && (i == 0 || !ident_char((unsigned char)t[i - 1]))) {
			size_t past = skip_dollar(t, i, st);

			if (past > 0) {
				i = past;
				continue;
			}
		}
		i++;
	}
	*pos = i;
	if (!started)
		return false;
	st->end = i;
	return true;
}

/* ---- writing ------------------------------------------------------------ */

/* out[*n] named name, holding b's text (taken over). -1: out of memory. */
__attribute__((format(printf, 4, 5)))
static int add_file(struct plan_file *out, int *n, struct sbuf *b,
		    const char *fmt, ...)
{
	struct plan_file *f = &out[*n];
	va_list ap;

	if (b->oom || b->s == NULL) {
		free(b->s);
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(f->name, sizeof f->name, fmt, ap);
	va_end(ap);
	f->text = b->s;
	(*n)++;
	return 0;
}

/* len bytes of s; with blank_bare, a line that is only "--" as an empty
 * line (sql-migrate: see write_sections). */
static void put_lines(struct sbuf *b, const char *s, size_t len, bool blank_bare)
{
	while (len > 0) {
		const char *nl = memchr(s, '\n', len);
		size_t l = nl ? (size_t)(nl - s) + 1 : len;

		if (blank_bare && l == 3 && strncmp(s, "--\n", 3) == 0)
			sb_printf(b, "\n");
		else
			sb_printf(b, "%.*s", (int)l, s);
		s += l;
		len -= l;
	}
}

/*
 * text into b for f: every statement that a tool splitting at ';' line
 * ends would cut goes between f's block lines. -2 (err) if a quoted part
 * has a line starting with "--", which the tool would read as its own.
 */
static int put_sql(struct sbuf *b, const struct plan_format *f, const char *text,
		   char *err, size_t errlen)
{
	struct plan_sql_stmt st;
	size_t pos = 0, done = 0;

	while (plan_sql_next(text, &pos, &st)) {
		if (st.dashed_line && f->up_mark != NULL) {
			snprintf(err, errlen, "--format %s: a name holds a line "
				 "break followed by \"--\", which %s would read as "
				 "its own annotation; plan with --format sqlx or "
				 "psql", f->name, f->tool);
			return -2;
		}
		if (!st.block || f->block_begin == NULL)
			continue;
		put_lines(b, text + done, st.line - done, f->blank_bare);
		sb_printf(b, "%s\n%.*s%s%s\n", f->block_begin,
			  (int)(st.end - st.line), text + st.line,
			  text[st.end - 1] == '\n' ? "" : "\n", f->block_end);
		done = st.end;
	}
	put_lines(b, text + done, strlen(text) - done, f->blank_bare);
	return 0;
}

/* sqlx and golang-migrate: an up and a down file. sqlx reads
 * "-- no-transaction" only as the very first line (sqlx-core
 * migrate/migration.rs); golang-migrate has no marker (see its table
 * row). */
static int write_pair(const struct plan_format *f,
		      const struct plan_format_step *s, struct plan_file *out,
		      int *n, char *err, size_t errlen)
{
	const char *mark = s->outside_tx && f->file_no_tx ? f->file_no_tx : NULL;
	struct sbuf up = { 0 }, down = { 0 };

	(void)err;
	(void)errlen;
	if (mark != NULL) {
		sb_printf(&up, "%s\n", mark);
		sb_printf(&down, "%s\n", mark);
	}
	sb_printf(&up, "%s", s->up);
	sb_printf(&down, "%s", s->down);
	if (add_file(out, n, &up, "%s_%s.up.sql", s->version, s->desc) < 0) {
		free(down.s);
		return -1;
	}
	return add_file(out, n, &down, "%s_%s.down.sql", s->version, s->desc);
}

/*
 * goose, dbmate, sql-migrate: one file, an up and a down section.
 * sql-migrate skips only comment lines starting "-- " (sqlparse.go,
 * ParseMigration): a bare "--" line would be kept as a statement's start,
 * and a section of comments only would then end "without a terminator";
 * those lines are left empty there.
 */
static int write_sections(const struct plan_format *f,
			  const struct plan_format_step *s,
			  struct plan_file *out, int *n, char *err, size_t errlen)
{
	const char *opt = s->outside_tx && f->no_tx_option ? f->no_tx_option : "";
	struct sbuf b = { 0 };
	int rc;

	if (s->outside_tx && f->file_no_tx != NULL)
		sb_printf(&b, "%s\n", f->file_no_tx);
	sb_printf(&b, "%s%s\n", f->up_mark, opt);
	rc = put_sql(&b, f, s->up, err, errlen);
	sb_printf(&b, "\n%s%s\n", f->down_mark, opt);
	if (rc == 0)
		rc = put_sql(&b, f, s->down, err, errlen);
	if (rc < 0) {
		free(b.s);
		return rc;
	}
	return add_file(out, n, &b, "%s_%s.sql", s->version, s->desc);
}

/*
 * sql as a JavaScript expression: one '...' literal per line, joined by
 * +. knex.raw() on PostgreSQL turns every '?' into a binding ($1, ...)
 * and "\?" into '?', dropping the backslashes before it either way
 * (knex lib/dialects/postgres/index.js, positionBindings), so each '?' is
 * written "\?" and a backslash right before one cannot be passed (-2).
 */
static int js_sql(struct sbuf *b, const char *sql, char *err, size_t errlen)
{
	const char *p;

	for (p = sql; *p; p++) {
		if (p[0] == '\\' && p[1] == '?') {
			snprintf(err, errlen, "--format knex: a name, the "
				 "alphabet or the prefix holds a backslash before "
				 "a '?', which knex.raw() cannot pass on; plan with "
				 "another --format");
			return -2;
		}
	}
	sb_printf(b, "    '");
	for (p = sql; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n') {
			sb_printf(b, "\\n'%s", p[1] ? " +\n    '" : "");
			continue;
		}
		if (c == '\\' || c == '\'')
			sb_printf(b, "\\%c", c);
		else if (c == '?')
			sb_printf(b, "\\\\?");
		else if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\x%02x", c);
		else
			sb_printf(b, "%c", c);
	}
	if (p == sql || p[-1] != '\n')
		sb_printf(b, "'");
	return 0;
}

/* knex: a .js migration per step; knex runs each migration in a
 * transaction unless its config.transaction is false (knex
 * lib/migrations/migrate/Migrator.js, _useTransaction). */
static int write_knex(const struct plan_format *f,
		      const struct plan_format_step *s, struct plan_file *out,
		      int *n, char *err, size_t errlen)
{
	struct sbuf b = { 0 };
	int rc;

	(void)f;
	sb_printf(&b,
		  "// nanoid-backfill plan, step %d of %d: %s, as a knex "
		  "migration.\n"
		  "// knex runs it in a transaction unless exports.config says "
		  "otherwise. The\n"
		  "// SQL goes to PostgreSQL through knex.raw() as one query "
		  "string; each '?'\n"
		  "// in it is written \\? so that knex does not read it as a "
		  "binding.\n"
		  "// Rollback: exports.down (knex migrate:down, one step; "
		  "migrate:rollback,\n"
		  "// the last batch).\n", s->step, s->nsteps, s->desc);
	if (s->outside_tx)
		sb_printf(&b, "exports.config = { transaction: false };\n");
	sb_printf(&b, "\nexports.up = function (knex) {\n  return knex.raw(\n");
	rc = js_sql(&b, s->up, err, errlen);
	sb_printf(&b, ");\n};\n\nexports.down = function (knex) {\n"
		  "  return knex.raw(\n");
	if (rc == 0)
		rc = js_sql(&b, s->down, err, errlen);
	sb_printf(&b, ");\n};\n");
	if (rc < 0) {
		free(b.s);
		return rc;
	}
	return add_file(out, n, &b, "%s_%s.js", s->version, s->desc);
}

/*
 * Flyway: V<version>__<desc>.sql, its undo U<version>__<desc>.sql (only
 * Flyway Teams and Enterprise run undo migrations), and for a
 * CONCURRENTLY step a script configuration file beside each,
 * <script>.conf holding executeInTransaction=false (Flyway docs, "Execute
 * In Transaction": settable from a script configuration file).
 */
static int write_flyway(const struct plan_format *f,
			const struct plan_format_step *s, struct plan_file *out,
			int *n, char *err, size_t errlen)
{
	struct sbuf v = { 0 }, u = { 0 };

	(void)f;
	(void)err;
	(void)errlen;
	sb_printf(&v, "%s", s->up);
	sb_printf(&u,
		  "-- Flyway undo migration of V%s__%s.sql. Only Flyway Teams "
		  "and\n"
		  "-- Enterprise run U files (`flyway undo`, newest first); with "
		  "Flyway\n"
		  "-- Community apply it yourself, newest step first:\n"
		  "--   psql -v ON_ERROR_STOP=1 -f U%s__%s.sql\n"
		  "-- and delete that version's row from flyway_schema_history.\n",
		  s->version, s->desc, s->version, s->desc);
	sb_printf(&u, "%s", s->down);
	if (add_file(out, n, &v, "V%s__%s.sql", s->version, s->desc) < 0) {
		free(u.s);
		return -1;
	}
	if (add_file(out, n, &u, "U%s__%s.sql", s->version, s->desc) < 0)
		return -1;
	if (s->outside_tx) {
		const char *kind = "VU";

		for (int i = 0; i < 2; i++) {
			struct sbuf c = { 0 };

			sb_printf(&c, "executeInTransaction=false\n");
			if (add_file(out, n, &c, "%c%s__%s.sql.conf", kind[i],
				     s->version, s->desc) < 0)
				return -1;
		}
	}
	return 0;
}

/* psql -f: one numbered script per step and its .down.sql. A step that
 * may run in a transaction gets BEGIN/COMMIT, so that under
 * ON_ERROR_STOP a failed statement leaves none of the step behind. */
static void psql_file(struct sbuf *b, const struct plan_format_step *s,
		      const char *text, bool down)
{
	struct plan_sql_stmt st;
	size_t pos = 0;
	bool any = plan_sql_next(text, &pos, &st);

	sb_printf(b, "-- Apply with: psql -v ON_ERROR_STOP=1 -f %s_%s%s\n",
		  s->version, s->desc, down ? ".down.sql" : ".sql");
	if (down)
		sb_printf(b, "-- The rollback of %s_%s.sql; roll back newest "
			  "step first.\n", s->version, s->desc);
	else
		sb_printf(b, "-- Rollback: %s_%s.down.sql (newest step first).\n",
			  s->version, s->desc);
	if (!any || s->outside_tx) {
		sb_printf(b, "%s", text);
		return;
	}
	sb_printf(b, "%.*sBEGIN;\n%sCOMMIT;\n", (int)st.line, text,
		  text + st.line);
}

static int write_psql(const struct plan_format *f,
		      const struct plan_format_step *s, struct plan_file *out,
		      int *n, char *err, size_t errlen)
{
	struct sbuf up = { 0 }, down = { 0 };

	(void)f;
	(void)err;
	(void)errlen;
	psql_file(&up, s, s->up, false);
	psql_file(&down, s, s->down, true);
	if (add_file(out, n, &up, "%s_%s.sql", s->version, s->desc) < 0) {
		free(down.s);
		return -1;
	}
	return add_file(out, n, &down, "%s_%s.down.sql", s->version, s->desc);
}

/* ---- the table ---------------------------------------------------------- */

static const struct plan_format formats[] = {
	{ .name = "sqlx", .tool = "sqlx", .prefix = "", .sep = "_",
	  .no_tx = { "the first line\n"
		     "-- tells sqlx to run this file without one (psql -f runs "
		     "it as it is)",
		     "the first\n"
		     "-- line tells sqlx to run this file without one (psql -f "
		     "runs it as it\n"
		     "-- is), and it is the only statement in the file," },
	  .unit = "file",
	  .rollback = "the .down.sql files (sqlx migrate revert)",
	  .write = write_pair, .file_no_tx = "-- no-transaction" },
	/* The postgres driver runs a file as one Exec, in no transaction
	 * unless x-use-transaction=true; several statements in one Exec
	 * are one implicit transaction (golang-migrate
	 * database/postgres/README.md, "Multi-statement mode"). */
	{ .name = "golang-migrate", .tool = "golang-migrate", .prefix = "",
	  .sep = "_",
	  .no_tx = { "golang-migrate's\n"
		     "-- postgres driver sends the file as one query string "
		     "outside a\n"
		     "-- transaction (do not set x-use-transaction=true for it)",
		     "golang-migrate's\n"
		     "-- postgres driver sends the file as one query string "
		     "outside a\n"
		     "-- transaction (not with x-use-transaction=true), and it "
		     "is the only\n"
		     "-- statement in the file," },
	  .unit = "file",
	  .rollback = "the .down.sql files (migrate down N)",
	  .write = write_pair },
	/* Annotations on lines of their own, no leading space; statements
	 * end at a line ending in ';' unless between StatementBegin and
	 * StatementEnd; NO TRANSACTION covers the whole file (goose
	 * internal/sqlparser/parser.go; pressly.github.io/goose, "SQL file
	 * annotations"). */
	{ .name = "goose", .tool = "goose", .prefix = "", .sep = "_",
	  .no_tx = { "the NO\n"
		     "-- TRANSACTION annotation tells goose to run this file "
		     "without one",
		     "the NO\n"
		     "-- TRANSACTION annotation tells goose to run this file "
		     "without one,\n"
		     "-- and it is the only statement in its section," },
	  .unit = "section",
	  .rollback = "each file's -- +goose Down section (goose down)",
	  .write = write_sections, .file_no_tx = "-- +goose NO TRANSACTION",
	  .up_mark = "-- +goose Up", .down_mark = "-- +goose Down",
	  .block_begin = "-- +goose StatementBegin",
	  .block_end = "-- +goose StatementEnd" },
	/* A section is sent whole, as one query string; options follow the
	 * directive on its line (dbmate pkg/dbmate/migration.go, upRegExp,
	 * downRegExp, parseMigrationOptions). */
	{ .name = "dbmate", .tool = "dbmate", .prefix = "", .sep = "_",
	  .no_tx = { "the\n"
		     "-- transaction:false option tells dbmate to run this "
		     "section without one",
		     "the\n"
		     "-- transaction:false option tells dbmate to run this "
		     "section without\n"
		     "-- one, and it is the only statement in the section," },
	  .unit = "section",
	  .rollback = "each file's -- migrate:down section (dbmate rollback)",
	  .write = write_sections, .up_mark = "-- migrate:up",
	  .down_mark = "-- migrate:down", .no_tx_option = " transaction:false" },
	/* "-- +migrate Up notransaction", statements split at ';' line ends
	 * unless between StatementBegin and StatementEnd (sql-migrate
	 * sqlparse/sqlparse.go). */
	{ .name = "sql-migrate", .tool = "sql-migrate", .prefix = "", .sep = "_",
	  .no_tx = { "the\n"
		     "-- notransaction option tells sql-migrate to run this "
		     "section without one",
		     "the\n"
		     "-- notransaction option tells sql-migrate to run this "
		     "section without\n"
		     "-- one, and it is the only statement in the section," },
	  .unit = "section",
	  .rollback = "each file's -- +migrate Down section (sql-migrate down)",
	  .write = write_sections, .up_mark = "-- +migrate Up",
	  .down_mark = "-- +migrate Down", .no_tx_option = " notransaction",
	  .block_begin = "-- +migrate StatementBegin",
	  .block_end = "-- +migrate StatementEnd", .blank_bare = true },
	{ .name = "knex", .tool = "knex", .prefix = "", .sep = "_",
	  .no_tx = { "exports.config\n"
		     "-- = { transaction: false } tells knex to run this "
		     "migration without one",
		     "exports.config\n"
		     "-- = { transaction: false } tells knex to run this "
		     "migration without\n"
		     "-- one, and it is the only statement in the string," },
	  .unit = "string",
	  .rollback = "each file's exports.down (knex migrate:down)",
	  .write = write_knex },
	{ .name = "flyway", .tool = "Flyway", .prefix = "VU", .sep = "__",
	  .no_tx = { "the\n"
		     "-- script configuration file beside it "
		     "(executeInTransaction=false)\n"
		     "-- tells Flyway to run this file without one",
		     "the\n"
		     "-- script configuration file beside it "
		     "(executeInTransaction=false)\n"
		     "-- tells Flyway to run this file without one, and it is "
		     "the only\n"
		     "-- statement in the file," },
	  .unit = "file",
	  .rollback = "the U files (flyway undo: Teams and Enterprise only; "
		      "else psql -f them, newest first)",
	  .write = write_flyway },
	{ .name = "psql", .tool = "psql", .sequence = true, .prefix = "",
	  .sep = "_",
	  .no_tx = { "psql -f runs\n"
		     "-- each statement on its own, and this file has no BEGIN",
		     "psql -f runs\n"
		     "-- each statement on its own, and this file has no BEGIN; "
		     "it is the only\n"
		     "-- statement in the file," },
	  .unit = "file",
	  .rollback = "the .down.sql files, newest first (psql -f)",
	  .write = write_psql },
};

#define NFORMATS (sizeof formats / sizeof formats[0])

const struct plan_format *plan_format_find(const char *name)
{
	if (name == NULL)
		return &formats[0];
	for (size_t i = 0; i < NFORMATS; i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	return NULL;
}

const char *plan_format_names(void)
{
	return "sqlx, golang-migrate, goose, dbmate, sql-migrate, knex, flyway, "
	       "psql";
}

int plan_format_version(const struct plan_format *f, time_t v, char *buf,
			size_t len)
{
	struct tm tm;

	if (f->sequence) {
		int w = snprintf(buf, len, "%02lld", (long long)v);

		return w > 0 && (size_t)w < len ? 0 : -1;
	}
	if (gmtime_r(&v, &tm) == NULL ||
	    strftime(buf, len, "%Y%m%d%H%M%S", &tm) != 14)
		return -1;
	return 0;
}

size_t plan_format_parse(const struct plan_format *f, const char *name,
			 const char **digits, const char **desc,
			 size_t *desc_len)
{
	static const char *const sql_ends[] = { ".up.sql", ".down.sql", ".sql" };
	static const char *const js_ends[] = { ".js" };
	bool js = f->write == write_knex;
	const char *const *ends = js ? js_ends : sql_ends;
	size_t nends = js ? 1 : 3, n, seplen = strlen(f->sep), len;
	const char *p = name, *rest;

	if (*p != '\0' && strchr(f->prefix, *p) != NULL)
		p++;
	n = strspn(p, "0123456789");
	if (n == 0 || strncmp(p + n, f->sep, seplen) != 0)
		return 0;
	rest = p + n + seplen;
	len = strlen(rest);
	for (size_t i = 0; i < nends; i++) {
		size_t e = strlen(ends[i]);

		if (len > e && strcmp(rest + len - e, ends[i]) == 0) {
			*digits = p;
			*desc = rest;
			*desc_len = len - e;
			return n;
		}
	}
	return 0;
}
