/*
 * plan.c - the rollout as migration files (see plan.h): which steps, in
 * which order, with which object names, and the command itself. Each
 * step's text is written by plan_text.c and plan_null.c, named and
 * wrapped for the tool by plan_format.c, the directory by plan_files.c,
 * the partition tree read by plan_tree.c.
 */
#include "plan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "db.h"
#include "exit_codes.h"
#include "log.h"
#include "nanoid.h"
#include "plan_format.h"
#include "plan_steps.h"
#include "sbuf.h"

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

static void names_free(struct plan_names *n)
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
	free(n->qfn);
	free(n->fn_c);
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
static int rel_names_init(struct plan_names *n)
{
	const struct plan_tree *tree = n->tree;

	n->keys_c = comment_safe(tree->partkeys ? tree->partkeys : "");
	n->rels = calloc((size_t)tree->nrels, sizeof *n->rels);
	if (n->keys_c == NULL || n->rels == NULL)
		return -1;
	for (int i = 0; i < tree->nrels; i++) {
		const struct plan_rel *r = &tree->rels[i];
		struct plan_rel_names *rn = &n->rels[i];
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
			qs = pgconn_quote_ident(r->schema);
			qn = pgconn_quote_ident(r->name);
			rn->qidx = pgconn_quote_ident(idx);
			rn->qt = joined(qs, ".", qn);
			rn->qidx_full = joined(qs, ".", rn->qidx);
			rn->qnull = pgconn_quote_ident(nul);
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

static int names_init(struct plan_names *n, const struct config *cfg,
		      const struct plan_tree *tree)
{
	char chk[PLAN_MAX_IDENT + 1], idx[PLAN_MAX_IDENT + 1];
	char nul[PLAN_MAX_IDENT + 1], fn[PLAN_MAX_IDENT + 1];
	char *qs = NULL, *qtab = NULL, *t = NULL, *s = NULL, *c = NULL;
	struct sbuf cmd = { 0 }, cols = { 0 };
	int rc = -1;

	memset(n, 0, sizeof *n);
	n->cfg = cfg;
	n->lock_ms = cfg->ddl_lock_timeout;
	plan_object_name(cfg->table, cfg->column, PLAN_CHECK_LABEL, chk);
	plan_object_name(cfg->table, cfg->column, PLAN_INDEX_LABEL, idx);
	plan_object_name(cfg->table, cfg->column, PLAN_NULL_INDEX_LABEL, nul);
	plan_object_name(cfg->table, cfg->column, PLAN_DEFAULT_LABEL, fn);
	plan_slug(cfg->table, n->slug_t, sizeof n->slug_t);
	plan_slug(cfg->column, n->slug_c, sizeof n->slug_c);

	qtab = pgconn_quote_ident(cfg->table);
	n->qc = pgconn_quote_ident(cfg->column);
	n->qchk = pgconn_quote_ident(chk);
	n->qidx = pgconn_quote_ident(idx);
	n->qnull = pgconn_quote_ident(nul);
	n->qfn = pgconn_quote_ident(fn);
	if (cfg->schema != NULL) {
		qs = pgconn_quote_ident(cfg->schema);
		n->qt = joined(qs, ".", qtab);
		n->qidx_full = joined(qs, ".", n->qidx);
		n->qnull_full = joined(qs, ".", n->qnull);
		/* The function lives in the table's schema, as its indexes do. */
		{
			char *full = joined(qs, ".", n->qfn);

			free(n->qfn);
			n->qfn = full;
		}
	} else {
		n->qt = qtab ? strdup(qtab) : NULL;
		n->qidx_full = n->qidx ? strdup(n->qidx) : NULL;
		n->qnull_full = n->qnull ? strdup(n->qnull) : NULL;
	}
	if (!n->qt || !n->qc || !n->qchk || !n->qidx || !n->qidx_full ||
	    !n->qnull || !n->qnull_full || !n->qfn)
		goto out;
	/* The null index's columns: --key's (config_validate split them),
	 * else the column itself (see up_text, STEP_NULL_INDEX). */
	for (int i = 0; i < cfg->nkeys; i++) {
		char *q = pgconn_quote_ident(cfg->key_columns[i]);

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
	n->fn_c = comment_safe(n->qfn);
	if (!n->target || !n->qt_c || !n->col_c || !n->chk_c || !n->idx_c ||
	    !n->null_c || !n->null_cols_c || !n->fn_c)
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
	if (plan_partitioned(n) && rel_names_init(n) < 0)
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

/* A step's description, as file names carry it. */
#define PLAN_DESC_LEN (PLAN_NAME_LEN - 40)

static const char *description(struct plan_step st, const struct plan_names *n,
			       char *buf, size_t len)
{
	const char *c = n->slug_c, *t = n->slug_t;

	switch (st.kind) {
	case STEP_ADD_COLUMN:
		snprintf(buf, len, "add_%s_to_%s", c, t);
		break;
	case STEP_DEFAULT:
		snprintf(buf, len, "set_%s_default_on_%s", c, t);
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

/*
 * The null index's steps of one kind at st[k]: one for a plain table, one
 * per leaf partition that is a table (PostgreSQL builds no index on a
 * foreign table). Records the first and last step number; returns the
 * new k.
 */
static int null_steps(const struct plan_names *n, enum plan_step_kind kind,
		      struct plan_step *st, int k, int *first, int *last)
{
	if (!plan_partitioned(n)) {
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
static int steps_of(const struct config *cfg, struct plan_names *n,
		    struct plan_step **out)
{
	const struct plan_tree *tree = n->tree;
	int max = 9 + (plan_partitioned(n) ? 3 * tree->nrels + 2 : 0), k = 0;
	struct plan_step *st = calloc((size_t)max, sizeof *st);

	if (st == NULL)
		return -1;
	for (int i = 0; i < max; i++)
		st[i].rel = -1;
	st[k++].kind = STEP_ADD_COLUMN;
	/* Right after the column: from then on no insert leaves a NULL for
	 * the backfill, and code that does not know the column keeps working
	 * through NOT NULL. */
	if (!cfg->no_default) {
		st[k].kind = STEP_DEFAULT;
		n->default_step = ++k;
	}
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
	if (!cfg->no_unique && !plan_partitioned(n)) {
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
 * desc, made different from the descriptions of the nd steps before it
 * (have): two partitions' names can give the same slug ("Events_1",
 * "events 1").
 */
static void distinct_desc(char *desc, size_t len, char (*have)[PLAN_DESC_LEN],
			  int nd)
{
	char base[PLAN_DESC_LEN];
	int n = 1;
	bool clash;

	snprintf(base, sizeof base, "%s", desc);
	do {
		clash = false;
		for (int i = 0; i < nd && !clash; i++)
			clash = strcmp(have[i], desc) == 0;
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
	const struct plan_format *fmt = plan_format_find(cfg->format);
	struct plan_step *steps = NULL;
	struct plan_names n;
	char (*descs)[PLAN_DESC_LEN] = NULL;
	char version[24];
	char *id_opts = NULL;
	int rc = -1;

	memset(p, 0, sizeof *p);
	if (fmt == NULL) {
		snprintf(err, errlen, "--format: '%s' is not one of %s",
			 cfg->format, plan_format_names());
		return -2;
	}
	p->format = fmt;
	if (names_init(&n, cfg, tree) < 0 || (id_opts = id_options(cfg)) == NULL ||
	    (p->nsteps = steps_of(cfg, &n, &steps)) < 0 ||
	    (descs = calloc((size_t)p->nsteps + 1, sizeof *descs)) == NULL ||
	    (p->files = calloc(PLAN_FORMAT_MAX_FILES * (size_t)p->nsteps,
			       sizeof *p->files)) == NULL) {
		names_free(&n);
		free(id_opts);
		free(steps);
		free(descs);
		p->nsteps = 0;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n.nsteps = p->nsteps;
	n.fmt = fmt;
	for (int i = 0; i < p->nsteps; i++) {
		struct sbuf up = { 0 }, down = { 0 };
		struct plan_format_step fs;
		int added = 0, w;

		if (plan_format_version(fmt, first + i, version, sizeof version) < 0) {
			snprintf(err, errlen, "cannot format the version of step %d",
				 i + 1);
			goto out;
		}
		description(steps[i], &n, descs[i], sizeof descs[i]);
		distinct_desc(descs[i], sizeof descs[i], descs, i);
		plan_up_text(&up, steps[i], &n, i + 1, id_opts);
		plan_down_text(&down, steps[i], &n, i + 1);
		if (up.oom || down.oom) {
			free(up.s);
			free(down.s);
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		fs.version = version;
		fs.desc = descs[i];
		fs.up = up.s;
		fs.down = down.s;
		fs.outside_tx = plan_outside_transaction(steps[i]);
		fs.step = i + 1;
		fs.nsteps = p->nsteps;
		w = fmt->write(fmt, &fs, &p->files[p->nfiles], &added, err, errlen);
		p->nfiles += added;
		free(up.s);
		free(down.s);
		if (w == -1)
			snprintf(err, errlen, "out of memory");
		if (w < 0) {
			rc = w;
			goto out;
		}
	}
	rc = 0;
out:
	free(steps);
	free(descs);
	free(id_opts);
	names_free(&n);
	if (rc < 0)
		plan_free(p);
	return rc;
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
			  pgconn_error(conn, res, err, sizeof err));
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
	if (plan_format_find(cfg->format) == NULL) {
		/* config_validate refuses it first; plan_build relies on it */
		log_error("--format: '%s' is not one of %s", cfg->format,
			  plan_format_names());
		return NB_EXIT_CONFIG;
	}
	if (plan_first_version(cfg->out, plan_format_find(cfg->format),
			       time(NULL), &first, err, sizeof err) < 0) {
		log_error("%s", err);
		return NB_EXIT_CONFIG;
	}
	if (cfg->dsn != NULL && (rc = read_catalog(cfg, &tree)) != 0) {
		plan_tree_free(&tree);
		return rc;
	}
	rc = plan_build(&p, cfg, cfg->dsn ? &tree : NULL, first, err, sizeof err);
	if (rc < 0) {
		log_error("%s", err);
		plan_tree_free(&tree);
		return rc == -2 ? NB_EXIT_CONFIG : NB_EXIT_FAILURE;
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
	log_info("plan: %d steps for %s; the rollback: %s", p.nsteps,
		 p.format->tool, p.format->rollback);
	{
		char summary[512], verdict[512];

		plan_idspace_lines(cfg, cfg->dsn ? &tree : NULL, summary, sizeof summary,
			      verdict, sizeof verdict);
		log_info("plan: ids: %s", summary);
		if (verdict[0] != '\0')
			log_warn("plan: %s", verdict);
	}
	plan_free(&p);
	plan_tree_free(&tree);
	return NB_EXIT_OK;
}
