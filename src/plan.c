/*
 * plan.c - the rollout as sqlx migration files (see plan.h).
 */
#include "plan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "db.h"
#include "exit_codes.h"
#include "idspace.h"
#include "log.h"
#include "nanoid.h"
#include "rollout.h"

/* One line into err (vsnprintf: truncating a long path is fine here). */
__attribute__((format(printf, 3, 4)))
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- a growable string ------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *grown;
	size_t cap;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0,
		      fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (b->s != NULL && b->len + (size_t)n < b->cap) {
		b->len += (size_t)n;
		return;
	}
	cap = b->cap ? b->cap : 1024;
	while (cap <= b->len + (size_t)n)
		cap *= 2;
	grown = realloc(b->s, cap);
	if (grown == NULL) {
		b->oom = true;
		return;
	}
	b->s = grown;
	b->cap = cap;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Appends one statement (rollout.h) and its ";\n"; frees it. */
static void sb_sql(struct sbuf *b, char *stmt)
{
	if (stmt == NULL)
		b->oom = true;
	else
		sb_printf(b, "%s;\n", stmt);
	free(stmt);
}

/* ---- names ------------------------------------------------------------- */

/* Bytes of s that fit in n without cutting a UTF-8 character. */
static size_t utf8_clip(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

void plan_object_name(const char *name1, const char *name2, const char *label,
		      char out[PLAN_MAX_IDENT + 1])
{
	size_t n1 = strlen(name1), n2 = strlen(name2);
	size_t avail = PLAN_MAX_IDENT - (strlen(label) + 1) - 1;

	/* As makeObjectName(): shorten the longer name first. */
	while (n1 + n2 > avail) {
		if (n1 > n2)
			n1--;
		else
			n2--;
	}
	n1 = utf8_clip(name1, n1);
	n2 = utf8_clip(name2, n2);
	memcpy(out, name1, n1);
	out[n1] = '_';
	memcpy(out + n1 + 1, name2, n2);
	out[n1 + 1 + n2] = '_';
	/* label fits: avail left room for it */
	memcpy(out + n1 + n2 + 2, label, strlen(label) + 1);
}

void plan_slug(const char *name, char *out, size_t len)
{
	size_t o = 0;
	bool gap = false;

	for (const char *p = name; *p && o + 1 < len; p++) {
		char ch = *p;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
			if (gap && o > 0 && o + 2 < len)
				out[o++] = '_';
			gap = false;
			out[o++] = ch;
		} else {
			gap = true;
		}
	}
	if (o == 0 && len > 1)
		out[o++] = 'x';
	out[o] = '\0';
}

/*
 * Text for a "--" comment: a name (already quoted) with control
 * characters as \xHH, so that no name can end the comment line and turn
 * the rest of it into SQL.
 */
static char *comment_safe(const char *s)
{
	struct sbuf b = { 0 };

	sb_printf(&b, "%s", "");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f)
			sb_printf(&b, "\\x%02x", ch);
		else
			sb_printf(&b, "%c", ch);
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/*
 * A shell word for a command line shown in a comment: '...' when the
 * value is printable, else bash's $'...' with escapes, so the command
 * stays on one line and can be pasted as it is.
 */
static char *shell_quote(const char *s)
{
	struct sbuf b = { 0 };
	bool plain = true;

	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch == 0x7f)
			plain = false;
	}
	if (plain) {
		sb_printf(&b, "'");
		for (; *s; s++) {
			if (*s == '\'')
				sb_printf(&b, "'\\''");
			else
				sb_printf(&b, "%c", *s);
		}
		sb_printf(&b, "'");
	} else {
		sb_printf(&b, "$'");
		for (; *s; s++) {
			unsigned char ch = (unsigned char)*s;

			if (ch == '\\' || ch == '\'')
				sb_printf(&b, "\\%c", ch);
			else if (ch == '\n')
				sb_printf(&b, "\\n");
			else if (ch == '\t')
				sb_printf(&b, "\\t");
			else if (ch < 0x20 || ch == 0x7f)
				sb_printf(&b, "\\x%02x", ch);
			else
				sb_printf(&b, "%c", ch);
		}
		sb_printf(&b, "'");
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* ---- the steps ---------------------------------------------------------- */

enum step_kind {
	STEP_ADD_COLUMN,
	STEP_BACKFILL,
	STEP_ADD_CHECK,
	STEP_VALIDATE,
	STEP_SET_NOT_NULL,
	STEP_UNIQUE_INDEX,      /* a plain table */
	STEP_INDEX_ONLY,        /* partitioned by the column: ON ONLY indexes */
	STEP_LEAF_INDEX,        /* partitioned: one leaf's concurrent build */
	STEP_ATTACH,            /* partitioned by the column: attach the leaves' */
	STEP_NULL_INDEX,        /* --null-index: the partial index WHERE c IS NULL */
	STEP_DROP_NULL_INDEX,   /* --null-index, at the end: drop it again */
};

struct step {
	enum step_kind kind;
	/* STEP_LEAF_INDEX, and the null-index steps on a partitioned table:
	 * the leaf, in the tree; -1: the table */
	int rel;
};

/* A table of the partition tree, quoted and escaped once. */
struct rel_names {
	char *qt;           /* "schema"."table" */
	char *qidx;         /* "table_column_key" */
	char *qidx_full;    /* "schema"."table_column_key" */
	char *t_c;          /* qt for comments */
	char *idx_c;        /* qidx_full for comments */
	char *qnull;        /* "table_column_null_idx" */
	char *qnull_full;   /* "schema"."table_column_null_idx" */
	char *null_c;       /* qnull_full for comments */
	char slug[41];
};

/* Everything a step's text needs, quoted and escaped once. */
struct names {
	const struct config *cfg;
	char *qt;           /* "schema"."table" or "table" */
	char *qc;           /* "column" */
	char *qchk;         /* "table_column_not_null_check" */
	char *qidx;         /* "table_column_key" */
	char *qidx_full;    /* with the schema, for DROP INDEX */
	char *target;       /* qt.qc for comments */
	char *chk_c;        /* qchk for comments */
	char *idx_c;        /* qidx for comments */
	char *col_c;        /* qc for comments */
	char *qt_c;         /* qt for comments */
	char *qnull;        /* "table_column_null_idx" */
	char *qnull_full;   /* with the schema, for DROP INDEX */
	char *null_c;       /* qnull_full for comments */
	char *null_cols;    /* the null index's columns: --key's, else qc */
	char *null_cols_c;  /* null_cols for comments */
	char *cmd_target;   /* --schema/--table/--column as shell words */
	char slug_t[25], slug_c[25];
	long lock_ms;
	int nsteps;
	/* NULL: the catalog was not read; nrels 0: a plain table */
	const struct plan_tree *tree;
	struct rel_names *rels;     /* one per tree->rels; rels[0] the table */
	char *keys_c;               /* tree->partkeys for comments */
	int only_step, first_leaf_step, last_leaf_step, attach_step;
	int backfill_step, not_null_step;
	/* --null-index: its first and last build, first and last drop step
	 * (0: none); one each for a table, one per indexed leaf partitioned */
	int first_null_step, last_null_step, first_drop_step, last_drop_step;
	int null_leaves;    /* leaves a null index is built on (not foreign) */
};

static bool partitioned(const struct names *n)
{
	return n->tree != NULL && n->tree->nrels > 0;
}

static void names_free(struct names *n)
{
	free(n->qt);
	free(n->qc);
	free(n->qchk);
	free(n->qidx);
	free(n->qidx_full);
	free(n->target);
	free(n->chk_c);
	free(n->idx_c);
	free(n->col_c);
	free(n->qt_c);
	free(n->qnull);
	free(n->qnull_full);
	free(n->null_c);
	free(n->null_cols);
	free(n->null_cols_c);
	free(n->cmd_target);
	free(n->keys_c);
	for (int i = 0; n->rels != NULL && i < n->tree->nrels; i++) {
		free(n->rels[i].qt);
		free(n->rels[i].qidx);
		free(n->rels[i].qidx_full);
		free(n->rels[i].t_c);
		free(n->rels[i].idx_c);
		free(n->rels[i].qnull);
		free(n->rels[i].qnull_full);
		free(n->rels[i].null_c);
	}
	free(n->rels);
}

static char *joined(const char *a, const char *sep, const char *b)
{
	char *s = NULL;

	if (a == NULL || b == NULL)
		return NULL;
	if (asprintf(&s, "%s%s%s", a, sep, b) < 0)
		return NULL;
	return s;
}

/* The partition tree's names; rels[0] is named as the table is. */
static int rel_names_init(struct names *n)
{
	const struct plan_tree *tree = n->tree;

	n->keys_c = comment_safe(tree->partkeys ? tree->partkeys : "");
	n->rels = calloc((size_t)tree->nrels, sizeof *n->rels);
	if (n->keys_c == NULL || n->rels == NULL)
		return -1;
	for (int i = 0; i < tree->nrels; i++) {
		const struct plan_rel *r = &tree->rels[i];
		struct rel_names *rn = &n->rels[i];
		char idx[PLAN_MAX_IDENT + 1], nul[PLAN_MAX_IDENT + 1];
		char *qs, *qn;

		plan_object_name(r->name, n->cfg->column, PLAN_INDEX_LABEL, idx);
		plan_object_name(r->name, n->cfg->column, PLAN_NULL_INDEX_LABEL,
				 nul);
		plan_slug(r->name, rn->slug, sizeof rn->slug);
		if (i == 0) {
			rn->qt = strdup(n->qt);
			rn->qidx = strdup(n->qidx);
			rn->qidx_full = strdup(n->qidx_full);
			rn->qnull = strdup(n->qnull);
			rn->qnull_full = strdup(n->qnull_full);
		} else {
			qs = db_quote_ident(r->schema);
			qn = db_quote_ident(r->name);
			rn->qidx = db_quote_ident(idx);
			rn->qt = joined(qs, ".", qn);
			rn->qidx_full = joined(qs, ".", rn->qidx);
			rn->qnull = db_quote_ident(nul);
			rn->qnull_full = joined(qs, ".", rn->qnull);
			free(qs);
			free(qn);
		}
		if (rn->qt == NULL || rn->qidx == NULL || rn->qidx_full == NULL ||
		    rn->qnull == NULL || rn->qnull_full == NULL)
			return -1;
		rn->t_c = comment_safe(rn->qt);
		rn->idx_c = comment_safe(rn->qidx_full);
		rn->null_c = comment_safe(rn->qnull_full);
		if (rn->t_c == NULL || rn->idx_c == NULL || rn->null_c == NULL)
			return -1;
		n->null_leaves += r->kind == 'r';
	}
	return 0;
}

static int names_init(struct names *n, const struct config *cfg,
		      const struct plan_tree *tree)
{
	char chk[PLAN_MAX_IDENT + 1], idx[PLAN_MAX_IDENT + 1];
	char nul[PLAN_MAX_IDENT + 1];
	char *qs = NULL, *qtab = NULL, *t = NULL, *s = NULL, *c = NULL;
	struct sbuf cmd = { 0 }, cols = { 0 };
	int rc = -1;

	memset(n, 0, sizeof *n);
	n->cfg = cfg;
	n->lock_ms = cfg->ddl_lock_timeout;
	plan_object_name(cfg->table, cfg->column, PLAN_CHECK_LABEL, chk);
	plan_object_name(cfg->table, cfg->column, PLAN_INDEX_LABEL, idx);
	plan_object_name(cfg->table, cfg->column, PLAN_NULL_INDEX_LABEL, nul);
	plan_slug(cfg->table, n->slug_t, sizeof n->slug_t);
	plan_slug(cfg->column, n->slug_c, sizeof n->slug_c);

	qtab = db_quote_ident(cfg->table);
	n->qc = db_quote_ident(cfg->column);
	n->qchk = db_quote_ident(chk);
	n->qidx = db_quote_ident(idx);
	n->qnull = db_quote_ident(nul);
	if (cfg->schema != NULL) {
		qs = db_quote_ident(cfg->schema);
		n->qt = joined(qs, ".", qtab);
		n->qidx_full = joined(qs, ".", n->qidx);
		n->qnull_full = joined(qs, ".", n->qnull);
	} else {
		n->qt = qtab ? strdup(qtab) : NULL;
		n->qidx_full = n->qidx ? strdup(n->qidx) : NULL;
		n->qnull_full = n->qnull ? strdup(n->qnull) : NULL;
	}
	if (!n->qt || !n->qc || !n->qchk || !n->qidx || !n->qidx_full ||
	    !n->qnull || !n->qnull_full)
		goto out;
	/* The null index's columns: --key's (config_validate split them),
	 * else the column itself (see up_text, STEP_NULL_INDEX). */
	for (int i = 0; i < cfg->nkeys; i++) {
		char *q = db_quote_ident(cfg->key_columns[i]);

		sb_printf(&cols, "%s%s", i ? ", " : "", q ? q : "");
		cols.oom = cols.oom || q == NULL;
		free(q);
	}
	if (cfg->nkeys == 0)
		sb_printf(&cols, "%s", n->qc);
	if (cols.oom)
		goto out;
	n->null_cols = cols.s;
	cols.s = NULL;
	n->target = comment_safe(n->qt);
	n->qt_c = comment_safe(n->qt);
	n->col_c = comment_safe(n->qc);
	n->chk_c = comment_safe(n->qchk);
	n->idx_c = comment_safe(n->qidx);
	n->null_c = comment_safe(n->qnull_full);
	n->null_cols_c = comment_safe(n->null_cols);
	if (!n->target || !n->qt_c || !n->col_c || !n->chk_c || !n->idx_c ||
	    !n->null_c || !n->null_cols_c)
		goto out;
	{
		char *full = joined(n->target, ".", n->col_c);

		free(n->target);
		n->target = full;
		if (full == NULL)
			goto out;
	}

	t = shell_quote(cfg->table);
	c = shell_quote(cfg->column);
	s = cfg->schema ? shell_quote(cfg->schema) : NULL;
	if (!t || !c || (cfg->schema && !s))
		goto out;
	if (s != NULL)
		sb_printf(&cmd, "--schema %s ", s);
	sb_printf(&cmd, "--table %s --column %s", t, c);
	if (cmd.oom)
		goto out;
	n->cmd_target = cmd.s;
	cmd.s = NULL;
	n->tree = tree;
	if (partitioned(n) && rel_names_init(n) < 0)
		goto out;
	rc = 0;
out:
	free(cmd.s);
	free(cols.s);
	free(qs);
	free(qtab);
	free(t);
	free(c);
	free(s);
	return rc;
}

/* The options that shape the ids, as they would be given on a command
 * line: only those that differ from the defaults. */
static char *id_options(const struct config *cfg)
{
	struct sbuf b = { 0 };
	char *q;

	sb_printf(&b, "%s", "");
	if (cfg->size != NANOID_DEFAULT_SIZE)
		sb_printf(&b, " --size %ld", cfg->size);
	if (strcmp(cfg->alphabet, NANOID_DEFAULT_ALPHABET) != 0) {
		q = shell_quote(cfg->alphabet);
		sb_printf(&b, " --alphabet %s", q ? q : "?");
		b.oom = b.oom || q == NULL;
		free(q);
	}
	if (cfg->prefix[0] != '\0') {
		q = shell_quote(cfg->prefix);
		sb_printf(&b, " --prefix %s", q ? q : "?");
		b.oom = b.oom || q == NULL;
		free(q);
	}
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static const char *description(struct step st, const struct names *n,
			       char *buf, size_t len)
{
	const char *c = n->slug_c, *t = n->slug_t;

	switch (st.kind) {
	case STEP_ADD_COLUMN:
		snprintf(buf, len, "add_%s_to_%s", c, t);
		break;
	case STEP_BACKFILL:
		snprintf(buf, len, "backfill_%s_in_%s", c, t);
		break;
	case STEP_ADD_CHECK:
		snprintf(buf, len, "add_%s_not_null_check_to_%s", c, t);
		break;
	case STEP_VALIDATE:
		snprintf(buf, len, "validate_%s_not_null_check_on_%s", c, t);
		break;
	case STEP_SET_NOT_NULL:
		snprintf(buf, len, "set_%s_not_null_on_%s", c, t);
		break;
	case STEP_UNIQUE_INDEX:
		snprintf(buf, len, "create_%s_unique_index_on_%s", c, t);
		break;
	case STEP_INDEX_ONLY:
		snprintf(buf, len, "create_%s_unique_index_on_only_%s", c, t);
		break;
	case STEP_LEAF_INDEX:
		snprintf(buf, len, "create_%s_unique_index_on_%s", c,
			 n->rels[st.rel].slug);
		break;
	case STEP_ATTACH:
		snprintf(buf, len, "attach_%s_unique_indexes_on_%s", c, t);
		break;
	case STEP_NULL_INDEX:
	case STEP_DROP_NULL_INDEX:
		snprintf(buf, len, "%s_%s_null_index_on_%s",
			 st.kind == STEP_NULL_INDEX ? "create" : "drop", c,
			 st.rel >= 0 ? n->rels[st.rel].slug : t);
		break;
	}
	return buf;
}

static void header(struct sbuf *b, const struct names *n, int step,
		   const char *dir, const char *what)
{
	sb_printf(b, "-- nanoid-backfill plan, step %d of %d (%s): %s\n"
		  "-- Target: %s\n"
		  "-- Generated by `nanoid-backfill plan`; apply the steps in "
		  "file-name order.\n", step, n->nsteps, dir, what, n->target);
	if (partitioned(n))
		sb_printf(b, "-- Partitioned: %s; %d partition%s holding rows "
			  "when planned\n"
			  "-- (`plan --dsn` read them from the catalog).\n",
			  n->keys_c, n->tree->nleaves,
			  n->tree->nleaves == 1 ? "" : "s");
}

static void set_lock(struct sbuf *b, const struct names *n)
{
	sb_printf(b, "SET lock_timeout = '%ldms';\n", n->lock_ms);
}

/* every_partition: on a partitioned table the statement locks each
 * partition as well. */
static void lock_note(struct sbuf *b, const struct names *n, const char *lock,
		      bool every_partition)
{
	sb_printf(b,
		  "--\n"
		  "-- %s is held only briefly, but while it\n"
		  "-- waits for a long transaction every query on the table "
		  "queues\n"
		  "-- behind it; lock_timeout makes it give up instead. If it "
		  "does\n"
		  "-- (\"canceling statement due to lock timeout\"), nothing "
		  "changed:\n"
		  "-- apply it again.\n",
		  lock);
	if (partitioned(n) && every_partition)
		sb_printf(b, "-- On a partitioned table it is taken on the table "
			  "and on every\n"
			  "-- partition, each of which can make it wait.\n");
}

/*
 * A string literal that means s whatever standard_conforming_strings is:
 * E'...' with every quote and backslash doubled.
 */
static void sb_literal(struct sbuf *b, const char *s)
{
	sb_printf(b, "E'");
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			sb_printf(b, "%c", *s);
		sb_printf(b, "%c", *s);
	}
	sb_printf(b, "'");
}

/*
 * A DO block that raises unless every leaf's index is valid. An INVALID
 * index (a failed concurrent build) can be attached, but PostgreSQL then
 * never marks the partitioned index valid (not even after a REINDEX), and
 * an attached index cannot be dropped on its own: only dropping the whole
 * index undoes that. The index names are literals in the block's body,
 * which is dollar-quoted with a tag that occurs in none of them.
 */
static void attach_guard(struct sbuf *b, const struct names *n)
{
	const struct plan_tree *tree = n->tree;
	struct sbuf body = { 0 };
	char tag[32];
	bool first = true;

	sb_printf(&body, "\nDECLARE\n"
		  "  invalid text;\n"
		  "BEGIN\n"
		  "  SELECT string_agg(indexrelid::regclass::text, ', ') INTO invalid\n"
		  "    FROM pg_index\n"
		  "   WHERE NOT indisvalid AND indexrelid IN (");
	for (int i = 0; i < tree->nrels; i++) {
		if (tree->rels[i].kind == 'p')
			continue;
		sb_printf(&body, "%s\n      ", first ? "" : ",");
		sb_literal(&body, n->rels[i].qidx_full);
		sb_printf(&body, "::regclass");
		first = false;
	}
	sb_printf(&body, ");\n"
		  "  IF invalid IS NOT NULL THEN\n"
		  "    RAISE EXCEPTION 'not attaching INVALID indexes (their "
		  "concurrent build failed): %%', invalid\n"
		  "      USING HINT = 'Apply the down of the step that built "
		  "each one, fix the cause (nanoid-backfill verify lists "
		  "duplicates), apply that step again, then this one.';\n"
		  "  END IF;\n"
		  "END\n");
	if (body.oom) {
		b->oom = true;
		free(body.s);
		return;
	}
	for (int i = 0;; i++) {
		if (i == 0)
			snprintf(tag, sizeof tag, "$nb$");
		else
			snprintf(tag, sizeof tag, "$nb%d$", i);
		if (strstr(body.s, tag) == NULL)
			break;
	}
	sb_printf(b, "DO %s%s%s;\n", tag, body.s, tag);
	free(body.s);
}

/* What a unique index can enforce on this partitioned table, said plainly. */
static void enforced_note(struct sbuf *b, const struct names *n)
{
	if (n->tree->global)
		sb_printf(b,
			  "-- Every level of the table is partitioned by %s "
			  "alone, so one\n"
			  "-- unique index can span every partition: %s becomes "
			  "unique across\n"
			  "-- the whole table, as on a plain table.\n",
			  n->col_c, n->col_c);
	else
		sb_printf(b,
			  "-- PostgreSQL cannot make %s unique across the "
			  "partitions: a\n"
			  "-- unique index on a partitioned table must include "
			  "the partition key\n"
			  "-- (%s), and an index on (%s, key) would\n"
			  "-- let the same id through with another key. So this "
			  "step makes %s\n"
			  "-- unique within one partition (an index of its own, "
			  "not attached to\n"
			  "-- any index of the table); one value in two "
			  "partitions is not\n"
			  "-- rejected. `nanoid-backfill verify` still checks "
			  "duplicates over\n"
			  "-- the whole table. A partition created later gets no "
			  "such index:\n"
			  "-- build one there too (or run `nanoid-backfill "
			  "finalize`, which builds\n"
			  "-- the missing ones).\n",
			  n->col_c, n->keys_c, n->col_c, n->col_c);
}

/* ---- the partial index WHERE column IS NULL (--null-index) -------------- */

/* The table a null-index step builds or drops its index on, and its
 * index's names: the table itself, or one leaf partition. */
struct null_on {
	const char *qt, *t_c;       /* the table */
	const char *qidx;           /* "table_column_null_idx" */
	const char *qidx_full;      /* with the schema */
	const char *idx_c;          /* qidx_full for comments */
};

static struct null_on null_on(struct step st, const struct names *n)
{
	struct null_on o;

	if (st.rel >= 0) {
		const struct rel_names *r = &n->rels[st.rel];

		o.qt = r->qt;
		o.t_c = r->t_c;
		o.qidx = r->qnull;
		o.qidx_full = r->qnull_full;
		o.idx_c = r->null_c;
	} else {
		o.qt = n->qt;
		o.t_c = n->qt_c;
		o.qidx = n->qnull;
		o.qidx_full = n->qnull_full;
		o.idx_c = n->null_c;
	}
	return o;
}

/* "-- Partition i of n: ..." on a partitioned table; the partner step
 * (the drop of a build, the build of a drop) into *other, 0 if none. */
static void null_partition(struct sbuf *b, struct step st,
			   const struct names *n, int step, int *other)
{
	int i = st.kind == STEP_NULL_INDEX ? step - n->first_null_step
					   : step - n->first_drop_step;

	if (st.kind == STEP_NULL_INDEX)
		*other = n->first_drop_step ? n->first_drop_step + i : 0;
	else
		*other = n->first_null_step + i;
	if (st.rel >= 0) {
		int leaf = 1;   /* counted as the unique index steps count */

		for (int r = 0; r < st.rel; r++)
			leaf += n->tree->rels[r].kind != 'p';
		sb_printf(b, "-- Partition %d of %d: %s\n", leaf,
			  n->tree->nleaves, n->rels[st.rel].t_c);
	}
}

static void null_create_sql(struct sbuf *b, const struct names *n,
			    const struct null_on *o)
{
	sb_sql(b, rollout_null_index(o->qidx, o->qt, n->null_cols, n->qc));
}

static void null_no_transaction(struct sbuf *b, const char *what)
{
	sb_printf(b,
		  "--\n"
		  "-- %s cannot run in a transaction: the first\n"
		  "-- line tells sqlx to run this file without one (psql -f "
		  "runs it as it\n"
		  "-- is), and it is the only statement in the file, since "
		  "PostgreSQL runs\n"
		  "-- a query string of several statements as one transaction. "
		  "No\n"
		  "-- lock_timeout, and none needed: its SHARE UPDATE EXCLUSIVE "
		  "lock blocks\n"
		  "-- neither reads nor writes.\n", what);
}

static void null_index_up(struct sbuf *b, struct step st,
			  const struct names *n, int step)
{
	const struct config *cfg = n->cfg;
	struct null_on o = null_on(st, n);
	int drop;

	sb_printf(b, "-- no-transaction\n");
	header(b, n, step, "up",
	       "a partial index on the rows where the column is NULL.");
	null_partition(b, st, n, step, &drop);
	sb_printf(b,
		  "--\n"
		  "-- %s: only the rows whose %s is NULL.\n"
		  "-- What it is for: cheap idle service passes. A service "
		  "(nanoid-backfill\n"
		  "-- without --until-done) probes the table for NULLs before "
		  "each pass,\n"
		  "--   SELECT EXISTS (SELECT 1 FROM %s WHERE %s IS NULL)\n"
		  "-- over the whole table (every pass, or with a single integer "
		  "key every\n"
		  "-- --full-sweep-interval). On a filled table such a probe "
		  "reads the whole\n"
		  "-- heap; with this index it reads the index instead, a few "
		  "pages, since\n"
		  "-- the index holds only the rows still NULL. The batches of a "
		  "pass that\n"
		  "-- finds some can read it as well.\n",
		  o.idx_c, n->col_c, n->qt_c, n->col_c);
	sb_printf(b,
		  "-- Its cost: one more index maintained on inserts and on the "
		  "backfill's\n");
	if (drop > 0)
		sb_printf(b, "-- updates, until step %d drops it (by then the "
			  "column is NOT NULL and\n"
			  "-- the index empty).\n", drop);
	else
		sb_printf(b, "-- updates, until you drop it: with --no-not-null "
			  "no step does, since\n"
			  "-- the column stays nullable and the probes keep "
			  "needing it.\n");
	sb_printf(b,
		  "-- It names the column, so no update of the column is HOT "
		  "while it\n"
		  "-- exists: each one adds an entry to every index of the "
		  "table, not\n"
		  "-- only this one. That is why it comes after the backfill: "
		  "built now it\n"
		  "-- holds only the rows still NULL, and the backfill's own "
		  "updates stayed\n"
		  "-- HOT where they could. Its build reads the table once.\n"
		  "--\n");
	/*
	 * Which columns. The probes (EXISTS ... WHERE c IS NULL) and the
	 * batches need only the index's predicate to match their WHERE, so
	 * any indexed column serves them. plan reads no catalog and does not
	 * know the primary key, so without --key it indexes the column itself:
	 * every entry NULL (btree deduplication keeps it no larger than an
	 * index on the key), and never a column that might not exist. With
	 * --key the key columns, which key-ordered batches can walk in order.
	 */
	if (cfg->nkeys > 0)
		sb_printf(b,
			  "-- On the --key columns (%s): key-ordered batches "
			  "walk it in key\n"
			  "-- order, over the NULL rows only; the probes need "
			  "only the predicate.\n", n->null_cols_c);
	else
		sb_printf(b,
			  "-- On %s itself: the probes and the batches need only "
			  "the predicate\n"
			  "-- (WHERE %s IS NULL) to match, so any indexed column "
			  "serves them, and\n"
			  "-- plan, which reads no catalog, knows this one exists. "
			  "(With --key it\n"
			  "-- indexes the key columns, which key-ordered batches "
			  "walk in order.)\n",
			  n->col_c, n->col_c);
	null_no_transaction(b, "CREATE INDEX CONCURRENTLY");
	sb_printf(b,
		  "-- IF NOT EXISTS keeps an index of that name that is already "
		  "there as it\n"
		  "-- is, also an INVALID one a failed build (a cancel) left "
		  "behind: after a\n"
		  "-- failure apply this step's down, then this step again.\n");
	if (n->tree == NULL)
		sb_printf(b,
			  "-- Planned without --dsn, for a plain table: on "
			  "a partitioned table\n"
			  "-- this statement fails (CREATE INDEX "
			  "CONCURRENTLY cannot build an\n"
			  "-- index on one). Plan with --dsn to get a step "
			  "per partition.\n");
	if (st.rel >= 0) {
		sb_printf(b,
			  "-- CREATE INDEX CONCURRENTLY cannot build an index on "
			  "a partitioned\n"
			  "-- table, and the probes need none there: each "
			  "partition's part of a\n"
			  "-- probe reads that partition's index. A partition "
			  "created later gets\n"
			  "-- none: build one there too.\n");
		if (n->null_leaves < n->tree->nleaves)
			sb_printf(b, "-- Foreign-table partitions get none "
				  "(PostgreSQL builds no index on\n"
				  "-- one): the probes read them as they are.\n");
	}
	null_create_sql(b, n, &o);
}

static void null_index_down(struct sbuf *b, struct step st,
			    const struct names *n, int step)
{
	struct null_on o = null_on(st, n);
	int drop;

	sb_printf(b, "-- no-transaction\n");
	header(b, n, step, "down",
	       "drop the partial index concurrently. No data is lost.");
	null_partition(b, st, n, step, &drop);
	sb_printf(b,
		  "--\n"
		  "-- One statement outside a transaction, for the same reasons "
		  "as the up:\n"
		  "-- DROP INDEX CONCURRENTLY blocks neither reads nor writes. "
		  "The service's\n"
		  "-- probes read the table again.\n");
	sb_sql(b, rollout_drop_index(o.qidx_full, true));
}

static void drop_null_index_up(struct sbuf *b, struct step st,
			       const struct names *n, int step)
{
	struct null_on o = null_on(st, n);
	int built;

	sb_printf(b, "-- no-transaction\n");
	header(b, n, step, "up",
	       "drop the partial index on the NULL rows concurrently.");
	null_partition(b, st, n, step, &built);
	sb_printf(b,
		  "--\n"
		  "-- Step %d built %s for the service's\n"
		  "-- probes. Since step %d made %s NOT NULL the index is empty "
		  "and no\n"
		  "-- query needs it any more, yet it still keeps updates of the "
		  "column\n"
		  "-- from being HOT, and every insert evaluates its predicate.\n",
		  built, o.idx_c, n->not_null_step, n->col_c);
	null_no_transaction(b, "DROP INDEX CONCURRENTLY");
	sb_sql(b, rollout_drop_index(o.qidx_full, true));
}

static void drop_null_index_down(struct sbuf *b, struct step st,
				 const struct names *n, int step)
{
	struct null_on o = null_on(st, n);
	int built;

	sb_printf(b, "-- no-transaction\n");
	header(b, n, step, "down",
	       "build the partial index again. No data is lost.");
	null_partition(b, st, n, step, &built);
	sb_printf(b,
		  "--\n"
		  "-- The same index as step %d's up, built concurrently "
		  "again (it reads\n"
		  "-- the table; on a NOT NULL column it comes out empty). Once "
		  "step %d's\n"
		  "-- down allows NULL again, the service's probes read it.\n",
		  built, n->not_null_step);
	null_no_transaction(b, "CREATE INDEX CONCURRENTLY");
	sb_printf(b,
		  "-- IF NOT EXISTS keeps an index of that name that is already "
		  "there.\n");
	null_create_sql(b, n, &o);
}

/*
 * The format's id space and, where the catalog gave the table's rows, the
 * birthday bound over them. The unique index comes after the backfill
 * (its last step), so a repeat drawn meanwhile is not rejected: it fails
 * that step instead. One line for step 2's comment, one for the log.
 */
static void idspace_lines(const struct config *cfg, const struct plan_tree *tree,
			  char *summary, size_t slen, char *verdict, size_t vlen)
{
	unsigned alen = (unsigned)strlen(cfg->alphabet);
	double rows = tree != NULL && tree->rows > 0 ? tree->rows : -1;

	idspace_summary(summary, slen, alen, cfg->size, rows);
	if (idspace_judge(idspace_log10(alen, cfg->size), rows, false,
			  cfg->allow_duplicates, verdict, vlen) == IDSPACE_OK &&
	    vlen > 0)
		verdict[0] = '\0';
}

static void up_text(struct sbuf *b, struct step st, const struct names *n,
		    int step, const char *id_opts)
{
	const struct config *cfg = n->cfg;
	const struct plan_tree *tree = n->tree;

	switch (st.kind) {
	case STEP_ADD_COLUMN:
		header(b, n, step, "up", "add the column, nullable.");
		sb_printf(b,
			  "--\n"
			  "-- A nullable column without a default changes only the "
			  "catalog:\n"
			  "-- no table rewrite, no scan. IF NOT EXISTS makes it a no-op "
			  "where\n"
			  "-- the column is already there.\n");
		if (partitioned(n))
			sb_printf(b, "-- Every partition gets the column as "
				  "well.\n");
		lock_note(b, n, "Its ACCESS EXCLUSIVE lock", true);
		set_lock(b, n);
		sb_sql(b, rollout_add_column(n->qt, n->qc));
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_BACKFILL:
		header(b, n, step, "up",
		       "backfill the column. Nothing to run here.");
		sb_printf(b,
			  "--\n"
			  "-- This step is data, not schema: fill every NULL in %s "
			  "with a\n"
			  "-- nanoid, in short keyset batches, online, resumably:\n"
			  "--\n"
			  "--   nanoid-backfill --dsn \"$DATABASE_URL\" %s%s "
			  "--until-done\n"
			  "--\n"
			  "-- Ids: %s%s%s%ld symbols from \"%s\".\n",
			  n->col_c, n->cmd_target, id_opts,
			  cfg->prefix[0] ? "the prefix \"" : "",
			  cfg->prefix, cfg->prefix[0] ? "\" and " : "",
			  cfg->size, cfg->alphabet);
		{
			char summary[512], verdict[512];

			idspace_lines(cfg, tree, summary, sizeof summary, verdict,
				      sizeof verdict);
			sb_printf(b, "-- Id space: %s.\n", summary);
			if (verdict[0] != '\0')
				sb_printf(b, "-- Warning: %s.\n", verdict);
		}
		if (!cfg->no_not_null)
			sb_printf(b,
				  "-- Run it after step %d and before step %d. "
				  "From step %d on,\n"
				  "-- the application must write %s on every "
				  "INSERT: deploy that\n"
				  "-- code first (until then, `nanoid-backfill` "
				  "without --until-done\n"
				  "-- runs as a service and fills the rows older "
				  "code inserts with NULL).\n",
				  step - 1, n->not_null_step - 2,
				  n->not_null_step - 2, n->col_c);
		sb_printf(b,
			  "-- Then check that every row holds a well-formed, "
			  "distinct id:\n"
			  "--\n"
			  "--   nanoid-backfill verify --dsn \"$DATABASE_URL\" "
			  "%s%s\n", n->cmd_target, id_opts);
		break;

	case STEP_ADD_CHECK:
		header(b, n, step, "up",
		       "reject new NULLs with a NOT VALID check.");
		sb_printf(b,
			  "--\n"
			  "-- NOT VALID: the check applies to rows inserted or "
			  "updated from now\n"
			  "-- on, without scanning the existing rows (step %d "
			  "does that).\n"
			  "-- Deploy with: application code that writes %s on "
			  "every INSERT;\n"
			  "-- from here on a NULL is an error.\n",
			  step + 1, n->col_c);
		if (partitioned(n))
			sb_printf(b, "-- Every partition inherits the check.\n");
		lock_note(b, n, "Its ACCESS EXCLUSIVE lock", true);
		set_lock(b, n);
		sb_sql(b, rollout_add_check(n->qt, n->qchk, n->qc));
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_VALIDATE:
		header(b, n, step, "up",
		       "validate the check against the existing rows.");
		sb_printf(b,
			  "--\n"
			  "-- VALIDATE scans the table under a SHARE UPDATE "
			  "EXCLUSIVE lock, which\n"
			  "-- blocks neither reads nor writes. If a NULL is left "
			  "it fails and\n"
			  "-- changes nothing: run the backfill (step %d) to the "
			  "end, apply again.\n", n->backfill_step);
		sb_printf(b,
			  "-- lock_timeout keeps it from waiting long behind other "
			  "DDL or a\n"
			  "-- VACUUM; if it gives up, nothing changed: apply it "
			  "again.\n");
		if (partitioned(n))
			sb_printf(b, "-- On the partitioned table it validates "
				  "the check of every partition:\n"
				  "-- one scan each, all in this one transaction "
				  "(the same reading as a\n"
				  "-- plain table of that size).\n");
		set_lock(b, n);
		sb_sql(b, rollout_validate_check(n->qt, n->qchk));
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_SET_NOT_NULL:
		header(b, n, step, "up", "SET NOT NULL, then drop the check.");
		sb_printf(b,
			  "--\n"
			  "-- With the validated check in place, PostgreSQL 12 "
			  "and later know the\n"
			  "-- column holds no NULL and skip the scan: SET NOT NULL "
			  "holds its ACCESS\n"
			  "-- EXCLUSIVE lock only briefly. The check is then "
			  "redundant.\n"
			  "-- The VALIDATE is a no-op after step %d; it is here "
			  "because this step's\n"
			  "-- down restores the check NOT VALID, and applying this "
			  "step again must\n"
			  "-- not scan the table under the exclusive lock.\n",
			  step - 1);
		if (partitioned(n))
			sb_printf(b, "-- On the partitioned table SET NOT NULL "
				  "applies to every partition,\n"
				  "-- and each one skips its scan the same way: each "
				  "inherited the\n"
				  "-- validated check (so found on PostgreSQL 15).\n");
		lock_note(b, n, "Its ACCESS EXCLUSIVE lock", true);
		set_lock(b, n);
		sb_sql(b, rollout_validate_check(n->qt, n->qchk));
		sb_sql(b, rollout_set_not_null(n->qt, n->qc));
		sb_sql(b, rollout_drop_check(n->qt, n->qchk, false));
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_UNIQUE_INDEX:
		/* sqlx reads the marker only as the very first line. */
		sb_printf(b, "-- no-transaction\n");
		header(b, n, step, "up", "build the unique index concurrently.");
		sb_printf(b,
			  "--\n"
			  "-- CREATE INDEX CONCURRENTLY cannot run in a "
			  "transaction: the first line\n"
			  "-- tells sqlx to run this file without one (psql -f "
			  "runs it as it is).\n"
			  "-- It is the only statement in the file because "
			  "PostgreSQL runs a query\n"
			  "-- string of several statements as one transaction. So "
			  "no lock_timeout\n"
			  "-- here, and none is needed: its SHARE UPDATE EXCLUSIVE "
			  "lock blocks\n"
			  "-- neither reads nor writes, and while it waits for "
			  "older transactions\n"
			  "-- nobody waits for it.\n"
			  "-- If it fails (a duplicate value, a cancel), "
			  "PostgreSQL leaves an\n"
			  "-- INVALID index %s behind: apply this step's down to "
			  "drop it,\n"
			  "-- fix the cause (`nanoid-backfill verify` lists "
			  "duplicates), apply again.\n",
			  n->idx_c);
		if (tree == NULL)
			sb_printf(b,
				  "-- Planned without --dsn, for a plain table: on "
				  "a partitioned table\n"
				  "-- this statement fails (CREATE INDEX "
				  "CONCURRENTLY cannot build an\n"
				  "-- index on one). Plan with --dsn to get a step "
				  "per partition.\n");
		sb_sql(b, rollout_unique_index(n->qidx, n->qt, n->qc));
		break;

	case STEP_INDEX_ONLY:
		header(b, n, step, "up",
		       "the unique index ON ONLY the partitioned tables.");
		sb_printf(b,
			  "--\n"
			  "-- CREATE INDEX CONCURRENTLY cannot build an index on a "
			  "partitioned\n"
			  "-- table. The online way: an index ON ONLY each "
			  "partitioned table here\n"
			  "-- (no build; INVALID until every partition's index is "
			  "attached), one\n"
			  "-- concurrent build per partition (steps %d to %d), and "
			  "step %d attaches\n"
			  "-- them: then the index %s is valid.\n",
			  n->first_leaf_step, n->last_leaf_step, n->attach_step,
			  n->idx_c);
		enforced_note(b, n);
		sb_printf(b,
			  "-- Each CREATE INDEX ... ON ONLY holds a SHARE lock on "
			  "its table for a\n"
			  "-- moment (writes wait; nothing is scanned).\n");
		lock_note(b, n, "Each SHARE lock", false);
		set_lock(b, n);
		for (int i = 0; i < tree->nrels; i++) {
			const struct plan_rel *r = &tree->rels[i];

			if (r->kind != 'p')
				continue;
			sb_sql(b, rollout_unique_index_only(n->rels[i].qidx,
							    n->rels[i].qt, n->qc));
			if (r->parent >= 0)
				sb_sql(b, rollout_attach_index(
					       n->rels[r->parent].qidx_full,
					       n->rels[i].qidx_full));
		}
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_LEAF_INDEX:
		sb_printf(b, "-- no-transaction\n");
		header(b, n, step, "up",
		       "build a partition's unique index concurrently.");
		sb_printf(b,
			  "-- Partition %d of %d: %s\n"
			  "--\n"
			  "-- CREATE INDEX CONCURRENTLY cannot run in a "
			  "transaction: the first line\n"
			  "-- tells sqlx to run this file without one (psql -f "
			  "runs it as it is),\n"
			  "-- and it is the only statement in the file. No "
			  "lock_timeout, and none\n"
			  "-- needed: its SHARE UPDATE EXCLUSIVE lock on the "
			  "partition blocks\n"
			  "-- neither reads nor writes.\n"
			  "-- If it fails (a duplicate value, a cancel), "
			  "PostgreSQL leaves an\n"
			  "-- INVALID index %s behind: apply this step's down to "
			  "drop it,\n"
			  "-- fix the cause (`nanoid-backfill verify` lists "
			  "duplicates), apply again.\n",
			  step - n->first_leaf_step + 1, tree->nleaves,
			  n->rels[st.rel].t_c, n->rels[st.rel].idx_c);
		if (tree->global)
			sb_printf(b, "-- Step %d attaches it to the index of %s.\n",
				  n->attach_step,
				  n->rels[tree->rels[st.rel].parent].t_c);
		else
			enforced_note(b, n);
		sb_sql(b, rollout_unique_index(n->rels[st.rel].qidx,
					       n->rels[st.rel].qt, n->qc));
		break;

	case STEP_ATTACH:
		header(b, n, step, "up",
		       "attach the partitions' unique indexes.");
		sb_printf(b,
			  "--\n"
			  "-- ATTACH PARTITION scans nothing. Once the last "
			  "partition's index is\n"
			  "-- attached, PostgreSQL marks the index %s valid: %s is\n"
			  "-- unique across the whole table.\n"
			  "-- The DO block first makes sure each index to attach "
			  "was built: an\n"
			  "-- INVALID one could be attached, but the index of the "
			  "table would then\n"
			  "-- never become valid, and only dropping it all would "
			  "undo that.\n",
			  n->idx_c, n->col_c);
		lock_note(b, n, "Each attached index's lock", false);
		set_lock(b, n);
		attach_guard(b, n);
		for (int i = 0; i < tree->nrels; i++) {
			const struct plan_rel *r = &tree->rels[i];

			if (r->kind == 'p')
				continue;
			sb_sql(b, rollout_attach_index(n->rels[r->parent].qidx_full,
						       n->rels[i].qidx_full));
		}
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_NULL_INDEX:
		null_index_up(b, st, n, step);
		break;

	case STEP_DROP_NULL_INDEX:
		drop_null_index_up(b, st, n, step);
		break;
	}
}

static void down_text(struct sbuf *b, struct step st, const struct names *n,
		      int step)
{
	const struct plan_tree *tree = n->tree;
	struct sbuf list = { 0 };
	bool first = true;

	switch (st.kind) {
	case STEP_ADD_COLUMN:
		header(b, n, step, "down", "drop the column.");
		sb_printf(b,
			  "--\n"
			  "-- WARNING: THIS DOWN LOSES DATA. It drops %s and every "
			  "value in it:\n"
			  "-- the ids the backfill wrote and any the application "
			  "wrote. Applying\n"
			  "-- the up again brings back an empty column, not the "
			  "ids (a new\n"
			  "-- backfill draws new ones). It also drops a column "
			  "that existed before\n"
			  "-- step %d (whose up was then a no-op).\n",
			  n->col_c, step);
		if (partitioned(n) && n->tree->global)
			sb_printf(b, "-- Here it fails: the table is partitioned "
				  "by %s, and PostgreSQL\n"
				  "-- drops no column of a partition key.\n",
				  n->col_c);
		lock_note(b, n, "Its ACCESS EXCLUSIVE lock", true);
		set_lock(b, n);
		sb_sql(b, rollout_drop_column(n->qt, n->qc));
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_BACKFILL:
		header(b, n, step, "down", "nothing to undo. No data is lost.");
		sb_printf(b,
			  "--\n"
			  "-- The backfill only wrote ids; they stay in %s until "
			  "step %d's down\n"
			  "-- drops the column (that down loses them).\n",
			  n->col_c, 1);
		break;

	case STEP_ADD_CHECK:
		header(b, n, step, "down", "drop the check. No data is lost.");
		lock_note(b, n, "Its ACCESS EXCLUSIVE lock", true);
		set_lock(b, n);
		sb_sql(b, rollout_drop_check(n->qt, n->qchk, true));
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_VALIDATE:
		header(b, n, step, "down", "nothing to undo. No data is lost.");
		sb_printf(b,
			  "--\n"
			  "-- Validating changed neither data nor definitions; "
			  "the check itself is\n"
			  "-- dropped by step %d's down.\n", step - 1);
		break;

	case STEP_SET_NOT_NULL:
		header(b, n, step, "down",
		       "allow NULL again and restore the check. No data is lost.");
		sb_printf(b,
			  "--\n"
			  "-- The check comes back NOT VALID: validating it here "
			  "would scan the\n"
			  "-- table while ADD CONSTRAINT's exclusive lock is held. "
			  "This step's up\n"
			  "-- validates it first (without blocking) if it is "
			  "applied again; step\n"
			  "-- %d's down drops it.\n", step - 2);
		lock_note(b, n, "Its ACCESS EXCLUSIVE lock", true);
		set_lock(b, n);
		sb_sql(b, rollout_drop_not_null(n->qt, n->qc));
		sb_sql(b, rollout_add_check(n->qt, n->qchk, n->qc));
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_UNIQUE_INDEX:
		sb_printf(b, "-- no-transaction\n");
		header(b, n, step, "down",
		       "drop the unique index concurrently. No data is lost.");
		sb_printf(b,
			  "--\n"
			  "-- One statement outside a transaction, for the same "
			  "reasons as the up:\n"
			  "-- DROP INDEX CONCURRENTLY blocks neither reads nor "
			  "writes.\n");
		sb_sql(b, rollout_drop_index(n->qidx_full, true));
		break;

	case STEP_INDEX_ONLY:
		header(b, n, step, "down",
		       "drop the indexes ON ONLY the partitioned tables. No data "
		       "is lost.");
		sb_printf(b,
			  "--\n"
			  "-- PostgreSQL cannot drop the index of a partitioned "
			  "table concurrently;\n"
			  "-- there is nothing to scan, so its ACCESS EXCLUSIVE "
			  "locks are brief.\n"
			  "-- If step %d's down ran, these indexes are gone "
			  "already.\n", n->attach_step);
		lock_note(b, n, "Its ACCESS EXCLUSIVE lock", true);
		set_lock(b, n);
		for (int i = 0; i < tree->nrels; i++) {
			if (tree->rels[i].kind != 'p')
				continue;
			sb_printf(&list, "%s%s", first ? "" : ", ",
				  n->rels[i].qidx_full);
			first = false;
		}
		if (list.oom)
			b->oom = true;
		else
			sb_sql(b, rollout_drop_index(list.s, false));
		free(list.s);
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_LEAF_INDEX:
		sb_printf(b, "-- no-transaction\n");
		header(b, n, step, "down",
		       "drop a partition's unique index concurrently. No data is "
		       "lost.");
		sb_printf(b,
			  "-- Partition %d of %d: %s\n"
			  "--\n"
			  "-- One statement outside a transaction, for the same "
			  "reasons as the up:\n"
			  "-- DROP INDEX CONCURRENTLY blocks neither reads nor "
			  "writes.\n",
			  step - n->first_leaf_step + 1, tree->nleaves,
			  n->rels[st.rel].t_c);
		if (tree->global)
			sb_printf(b, "-- Once attached (step %d) it cannot be "
				  "dropped on its own: step %d's\n"
				  "-- down drops it with the index of the "
				  "table.\n", n->attach_step, n->attach_step);
		sb_sql(b, rollout_drop_index(n->rels[st.rel].qidx_full, true));
		break;

	case STEP_ATTACH:
		header(b, n, step, "down",
		       "drop the table's unique index with every partition's. "
		       "No data is lost.");
		sb_printf(b,
			  "--\n"
			  "-- An attached index can be neither detached nor "
			  "dropped on its own:\n"
			  "-- dropping the index %s drops every partition's with\n"
			  "-- it. Not CONCURRENTLY (PostgreSQL cannot drop a "
			  "partitioned index\n"
			  "-- concurrently), but nothing is scanned. The downs of "
			  "steps %d to %d\n"
			  "-- then find nothing left to drop; to apply this step "
			  "again, apply\n"
			  "-- steps %d to %d again first.\n",
			  n->idx_c, n->only_step, n->last_leaf_step,
			  n->only_step, n->last_leaf_step);
		lock_note(b, n, "Its ACCESS EXCLUSIVE lock", true);
		set_lock(b, n);
		sb_sql(b, rollout_drop_index(n->qidx_full, false));
		sb_printf(b, "RESET lock_timeout;\n");
		break;

	case STEP_NULL_INDEX:
		null_index_down(b, st, n, step);
		break;

	case STEP_DROP_NULL_INDEX:
		drop_null_index_down(b, st, n, step);
		break;
	}
}

/*
 * The null index's steps of one kind at st[k]: one for a plain table, one
 * per leaf partition that is a table (PostgreSQL builds no index on a
 * foreign table). Records the first and last step number; returns the
 * new k.
 */
static int null_steps(const struct names *n, enum step_kind kind,
		      struct step *st, int k, int *first, int *last)
{
	if (!partitioned(n)) {
		st[k].kind = kind;
		*first = *last = ++k;
		return k;
	}
	for (int i = 0; i < n->tree->nrels; i++) {
		if (n->tree->rels[i].kind != 'r')
			continue;
		st[k].kind = kind;
		st[k].rel = i;
		if (*first == 0)
			*first = k + 1;
		*last = ++k;
	}
	return k;
}

/* The steps for cfg and tree, in order, into a new array; -1 if out of
 * memory. Records the index steps' numbers in n. */
static int steps_of(const struct config *cfg, struct names *n,
		    struct step **out)
{
	const struct plan_tree *tree = n->tree;
	int max = 8 + (partitioned(n) ? 3 * tree->nrels + 2 : 0), k = 0;
	struct step *st = calloc((size_t)max, sizeof *st);

	if (st == NULL)
		return -1;
	for (int i = 0; i < max; i++)
		st[i].rel = -1;
	st[k++].kind = STEP_ADD_COLUMN;
	st[k].kind = STEP_BACKFILL;
	n->backfill_step = ++k;
	/* After the backfill, not before: an index that names the column
	 * makes every update of it a non-HOT one, an entry in every index. */
	if (cfg->null_index)
		k = null_steps(n, STEP_NULL_INDEX, st, k, &n->first_null_step,
			       &n->last_null_step);
	if (!cfg->no_not_null) {
		st[k++].kind = STEP_ADD_CHECK;
		st[k++].kind = STEP_VALIDATE;
		st[k].kind = STEP_SET_NOT_NULL;
		n->not_null_step = ++k;
	}
	if (!cfg->no_unique && !partitioned(n)) {
		st[k++].kind = STEP_UNIQUE_INDEX;
	} else if (!cfg->no_unique) {
		if (tree->global) {
			st[k].kind = STEP_INDEX_ONLY;
			n->only_step = ++k;
		}
		for (int i = 0; i < tree->nrels; i++) {
			if (tree->rels[i].kind == 'p')
				continue;
			st[k].kind = STEP_LEAF_INDEX;
			st[k].rel = i;
			if (n->first_leaf_step == 0)
				n->first_leaf_step = k + 1;
			n->last_leaf_step = ++k;
		}
		if (tree->global && tree->nleaves > 0) {
			st[k].kind = STEP_ATTACH;
			n->attach_step = ++k;
		}
	}
	/* Once the column is NOT NULL the index is empty: drop it. */
	if (cfg->null_index && !cfg->no_not_null)
		k = null_steps(n, STEP_DROP_NULL_INDEX, st, k, &n->first_drop_step,
			       &n->last_drop_step);
	*out = st;
	return k;
}

void plan_free(struct plan *p)
{
	for (int i = 0; i < p->nfiles; i++)
		free(p->files[i].text);
	free(p->files);
	memset(p, 0, sizeof *p);
}

/*
 * desc, made different from the descriptions of the steps before it:
 * two partitions' names can give the same slug ("Events_1", "events 1").
 */
static void distinct_desc(char *desc, size_t len, const struct plan *p)
{
	char base[PLAN_NAME_LEN];
	const char *have;
	int n = 1;
	bool clash;

	snprintf(base, sizeof base, "%s", desc);
	do {
		clash = false;
		for (int i = 0; i < p->nfiles && !clash; i += 2) {
			size_t nh = strlen(p->files[i].name) - 15 - 7;

			have = p->files[i].name + 15;
			clash = nh == strlen(desc) && strncmp(have, desc, nh) == 0;
		}
		if (clash) {
			char suffix[16];
			size_t keep = strlen(base), ns;

			snprintf(suffix, sizeof suffix, "_%d", ++n);
			ns = strlen(suffix);
			if (keep > len - 1 - ns)
				keep = len - 1 - ns;
			memcpy(desc, base, keep);
			memcpy(desc + keep, suffix, ns + 1);
		}
	} while (clash);
}

int plan_build(struct plan *p, const struct config *cfg,
	       const struct plan_tree *tree, time_t first, char *err,
	       size_t errlen)
{
	struct step *steps = NULL;
	struct names n;
	char desc[PLAN_NAME_LEN - 40], version[16];
	char *id_opts = NULL;
	int rc = -1;

	memset(p, 0, sizeof *p);
	if (names_init(&n, cfg, tree) < 0 || (id_opts = id_options(cfg)) == NULL ||
	    (p->nsteps = steps_of(cfg, &n, &steps)) < 0 ||
	    (p->files = calloc(2 * (size_t)p->nsteps, sizeof *p->files)) == NULL) {
		names_free(&n);
		free(id_opts);
		free(steps);
		p->nsteps = 0;
		errf(err, errlen, "out of memory");
		return -1;
	}
	n.nsteps = p->nsteps;
	for (int i = 0; i < p->nsteps; i++) {
		time_t t = first + i;
		struct tm tm;

		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(version, sizeof version, "%Y%m%d%H%M%S", &tm) != 14) {
			errf(err, errlen, "cannot format the version of step %d",
				 i + 1);
			goto out;
		}
		description(steps[i], &n, desc, sizeof desc);
		distinct_desc(desc, sizeof desc, p);
		for (int dir = 0; dir < 2; dir++) {
			struct plan_file *f = &p->files[p->nfiles];
			struct sbuf b = { 0 };

			snprintf(f->name, sizeof f->name, "%s_%s.%s.sql", version,
				 desc, dir == 0 ? "up" : "down");
			if (dir == 0)
				up_text(&b, steps[i], &n, i + 1, id_opts);
			else
				down_text(&b, steps[i], &n, i + 1);
			if (b.oom) {
				free(b.s);
				errf(err, errlen, "out of memory");
				goto out;
			}
			f->text = b.s;
			p->nfiles++;
		}
	}
	rc = 0;
out:
	free(steps);
	free(id_opts);
	names_free(&n);
	if (rc < 0)
		plan_free(p);
	return rc;
}

/* ---- versions already in the directory ---------------------------------- */

/* Parses a 14-digit YYYYMMDDHHMMSS version; -1 if it is no real time. */
static int parse_version(const char *digits, time_t *out)
{
	struct tm tm;
	char back[16];
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (sscanf(digits, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(back, sizeof back, "%Y%m%d%H%M%S", &tm) != 14 ||
	    strncmp(back, digits, 14) != 0)
		return -1;
	*out = t;
	return 0;
}

/* Length of the version prefix of a migration file name ("123_x.sql"),
 * 0 if the name is not one. */
static size_t version_len(const char *name)
{
	size_t n = strspn(name, "0123456789"), len = strlen(name);

	if (n == 0 || name[n] != '_' || len < 4 ||
	    strcmp(name + len - 4, ".sql") != 0)
		return 0;
	return n;
}

int plan_first_version(const char *dir, time_t now, time_t *first,
		       char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char now_v[16];
	struct tm tm;

	*first = now;
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		errf(err, errlen, "--out: cannot read directory '%s': %s",
			 dir, strerror(errno));
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(now_v, sizeof now_v, "%Y%m%d%H%M%S", &tm);
	while ((e = readdir(d)) != NULL) {
		size_t n = version_len(e->d_name);
		time_t t;

		if (n == 0)
			continue;
		if (n == 14 && parse_version(e->d_name, &t) == 0) {
			if (t >= *first)
				*first = t + 1;
			continue;
		}
		/* sqlx versions are any integer; ours must sort after it. */
		if (n > 14 || (n == 14 && strncmp(e->d_name, now_v, 14) > 0)) {
			errf(err, errlen, "--out: '%s' in '%s' has version "
				 "%.*s, later than any timestamp a new step "
				 "could have", e->d_name, dir, (int)n, e->d_name);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

/* The description part of a migration file name: after the version and
 * '_', before ".up.sql", ".down.sql" or ".sql". */
static size_t desc_of(const char *name, const char **desc)
{
	size_t v = version_len(name), len = strlen(name);
	static const char *const ends[] = { ".up.sql", ".down.sql", ".sql" };

	if (v == 0)
		return 0;
	*desc = name + v + 1;
	len -= v + 1;
	for (size_t i = 0; i < 3; i++) {
		size_t e = strlen(ends[i]);

		if (len >= e && strcmp(*desc + len - e, ends[i]) == 0)
			return len - e;
	}
	return 0;
}

static int already_planned(const struct plan *p, const char *dir, char *err,
			   size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		const char *have, *want;
		size_t nh, nw;

		nh = desc_of(e->d_name, &have);
		if (nh == 0)
			continue;
		for (int i = 0; i < p->nfiles; i++) {
			nw = desc_of(p->files[i].name, &want);
			if (nw == nh && strncmp(have, want, nh) == 0) {
				errf(err, errlen, "--out: '%s' already has "
					 "step '%.*s' (%s); remove the earlier "
					 "plan or choose another directory",
					 dir, (int)nw, want, e->d_name);
				closedir(d);
				return -1;
			}
		}
	}
	closedir(d);
	return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int plan_write(const struct plan *p, const char *dir, int *config_error,
	       char *err, size_t errlen)
{
	struct stat st;
	char path[4096];
	int written = 0, fd = -1;

	*config_error = 1;
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || mkdir(dir, 0777) < 0) {
			errf(err, errlen, "--out: cannot create directory "
				 "'%s': %s", dir, strerror(errno));
			return -1;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		errf(err, errlen, "--out: '%s' is not a directory", dir);
		return -1;
	}
	if (already_planned(p, dir, err, errlen) < 0)
		return -1;

	*config_error = 0;
	for (written = 0; written < p->nfiles; written++) {
		const struct plan_file *f = &p->files[written];

		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, f->name) >=
		    sizeof path) {
			errf(err, errlen, "--out: path too long: '%s'", dir);
			*config_error = 1;
			goto undo;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0) {
			errf(err, errlen, "cannot create '%s': %s", path,
				 strerror(errno));
			goto undo;
		}
		if (write_all(fd, f->text, strlen(f->text)) < 0 || fsync(fd) < 0) {
			errf(err, errlen, "cannot write '%s': %s", path,
				 strerror(errno));
			close(fd);
			unlink(path);
			goto undo;
		}
		if (close(fd) < 0) {
			errf(err, errlen, "cannot write '%s': %s", path,
				 strerror(errno));
			unlink(path);
			goto undo;
		}
	}
	return 0;
undo:
	while (written-- > 0) {
		snprintf(path, sizeof path, "%s/%s", dir, p->files[written].name);
		unlink(path);
	}
	return -1;
}

/* ---- the catalog ------------------------------------------------------- */

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
		errf(err, errlen, "cannot read the partitions: %s",
		     db_error(conn, res, msg, sizeof msg));
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
			errf(err, errlen, "cannot read the partitions: \"%s\".\"%s\" "
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
	errf(err, errlen, "out of memory");
	return -1;
}

/*
 * With --dsn: the table's partition tree into tree. Returns 0, or an exit
 * code after one error line.
 */
static int read_catalog(const struct config *cfg, struct plan_tree *tree)
{
	const char *v[CATALOG_TABLE_NPARAMS];
	char err[CONFIG_ERR_LEN + 512];
	struct catalog_table t;
	const struct plan_rel *foreign;
	PGresult *res;
	PGconn *conn;
	double rows;
	int rc;

	memset(tree, 0, sizeof *tree);
	conn = db_connect(cfg->dsn, err, sizeof err);
	if (conn == NULL) {
		log_error("%s", err);
		return NB_EXIT_FAILURE;
	}
	catalog_table_params(cfg, v);
	res = db_exec(conn, catalog_table_sql(), CATALOG_TABLE_NPARAMS, v, false);
	if (!db_ok(res)) {
		log_error("cannot look up the table: %s",
			  db_error(conn, res, err, sizeof err));
		PQclear(res);
		PQfinish(conn);
		return NB_EXIT_FAILURE;
	}
	/* The column need not exist yet: step 1 adds it. */
	rc = catalog_table_read(&t, res, cfg, false, err, sizeof err);
	PQclear(res);
	if (rc != 0) {
		log_error("%s", err);
		catalog_table_free(&t);
		PQfinish(conn);
		return rc == -1 ? NB_EXIT_CONFIG : NB_EXIT_FAILURE;
	}
	rows = db_planned_rows(conn, t.schema, t.table);
	rc = plan_tree_read(conn, t.oid, cfg->column, tree, err, sizeof err);
	catalog_table_free(&t);
	if (rc < 0) {
		log_error("%s", err);
		PQfinish(conn);
		return NB_EXIT_FAILURE;
	}
	tree->rows = rows;
	PQfinish(conn);
	foreign = plan_tree_foreign(tree);
	if (foreign != NULL && !cfg->no_unique) {
		log_error("partition \"%s\".\"%s\" is a foreign table: PostgreSQL "
			  "builds no index on it, so %s cannot be made unique; "
			  "use --no-unique", foreign->schema, foreign->name,
			  cfg->column);
		return NB_EXIT_CONFIG;
	}
	return 0;
}

/* One line on what the plan does with the table's partitions. */
static void say_partitions(const struct config *cfg,
			   const struct plan_tree *tree)
{
	if (tree == NULL) {
		log_info("plan: planned for a plain table, without reading the "
			 "catalog; for a partitioned table plan with --dsn (a "
			 "unique index step per partition)");
		return;
	}
	if (tree->nrels == 0 || cfg->no_unique)
		return;
	if (tree->global)
		log_info("plan: \"%s\".\"%s\" is partitioned by \"%s\" alone "
			 "(%s; %d partitions): one unique index over every "
			 "partition, built partition by partition",
			 tree->rels[0].schema, tree->rels[0].name, cfg->column,
			 tree->partkeys, tree->nleaves);
	else
		log_info("plan: \"%s\".\"%s\" is partitioned (%s; %d "
			 "partitions): \"%s\" is made unique within each partition "
			 "only, since a unique index on a partitioned table must "
			 "include the partition key; `verify` checks the whole table",
			 tree->rels[0].schema, tree->rels[0].name, tree->partkeys,
			 tree->nleaves, cfg->column);
}

int plan_run(const struct config *cfg)
{
	struct plan p;
	struct plan_tree tree;
	char err[CONFIG_ERR_LEN + 512];
	time_t first;
	int config_error, rc;

	memset(&tree, 0, sizeof tree);
	if (cfg->out == NULL) {
		log_error("plan needs --out DIR, the migrations directory "
			  "(see --help)");
		return NB_EXIT_USAGE;
	}
	if (plan_first_version(cfg->out, time(NULL), &first, err, sizeof err) < 0) {
		log_error("%s", err);
		return NB_EXIT_CONFIG;
	}
	if (cfg->dsn != NULL && (rc = read_catalog(cfg, &tree)) != 0) {
		plan_tree_free(&tree);
		return rc;
	}
	if (plan_build(&p, cfg, cfg->dsn ? &tree : NULL, first, err,
		       sizeof err) < 0) {
		log_error("%s", err);
		plan_tree_free(&tree);
		return NB_EXIT_FAILURE;
	}
	if (plan_write(&p, cfg->out, &config_error, err, sizeof err) < 0) {
		log_error("%s", err);
		plan_free(&p);
		plan_tree_free(&tree);
		return config_error ? NB_EXIT_CONFIG : NB_EXIT_FAILURE;
	}
	for (int i = 0; i < p.nfiles; i++)
		printf("%s/%s\n", cfg->out, p.files[i].name);
	fflush(stdout);
	say_partitions(cfg, cfg->dsn ? &tree : NULL);
	{
		char summary[512], verdict[512];

		idspace_lines(cfg, cfg->dsn ? &tree : NULL, summary, sizeof summary,
			      verdict, sizeof verdict);
		log_info("plan: ids: %s", summary);
		if (verdict[0] != '\0')
			log_warn("plan: %s", verdict);
	}
	plan_free(&p);
	plan_tree_free(&tree);
	return NB_EXIT_OK;
}
