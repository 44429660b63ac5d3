/*
 * plan_steps.h - the steps of a plan between the files that make it: plan.c
 * chooses and numbers the steps and names every object once (struct
 * plan_names); plan_text.c and plan_null.c write each step's up and down
 * file from those names (plan_default.c the id default's). Internal to `plan` (plan.h is its contract).
 *
 * Every writer appends to an sbuf and leaves oom set if memory ran out;
 * the statements themselves come from rollout.h.
 */
#ifndef NB_PLAN_STEPS_H
#define NB_PLAN_STEPS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "plan.h"
#include "plan_format.h"
#include "sbuf.h"

enum plan_step_kind {
	STEP_ADD_COLUMN,
	STEP_DEFAULT,           /* the id function and the column's default */
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

struct plan_step {
	enum plan_step_kind kind;
	/* STEP_LEAF_INDEX, and the null-index steps on a partitioned table:
	 * the leaf, in the tree; -1: the table */
	int rel;
};

/* A table of the partition tree, quoted and escaped once. */
struct plan_rel_names {
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
struct plan_names {
	const struct config *cfg;
	const struct plan_format *fmt;  /* how the tool runs a step outside a
	                                 * transaction, for the comments */
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
	char *qfn;          /* "schema"."table_column_nanoid", the id function */
	char *fn_c;         /* qfn for comments */
	char *cmd_target;   /* --schema/--table/--column as shell words */
	char slug_t[25], slug_c[25];
	long lock_ms;
	int nsteps;
	/* NULL: the catalog was not read; nrels 0: a plain table */
	const struct plan_tree *tree;
	struct plan_rel_names *rels;     /* one per tree->rels; rels[0] the table */
	char *keys_c;               /* tree->partkeys for comments */
	int only_step, first_leaf_step, last_leaf_step, attach_step;
	int backfill_step, not_null_step;
	int default_step;   /* the id default's step; 0: --no-default */
	/* --null-index: its first and last build, first and last drop step
	 * (0: none); one each for a table, one per indexed leaf partitioned */
	int first_null_step, last_null_step, first_drop_step, last_drop_step;
	int null_leaves;    /* leaves a null index is built on (not foreign) */
};
static inline bool plan_partitioned(const struct plan_names *n)
{
	return n->tree != NULL && n->tree->nrels > 0;
}

/*
 * Whether st must run outside a transaction, its up and its down alike
 * (CREATE or DROP INDEX CONCURRENTLY): the format then marks its files
 * for the tool (plan_format.h), and its text says how, in the words of
 * n->fmt->no_tx.
 */
bool plan_outside_transaction(struct plan_step st);

/* The header every file starts with (after a format's marker): step
 * number of the plan's steps, dir "up" or "down", what it does. */
void plan_header(struct sbuf *b, const struct plan_names *n, int step,
		 const char *dir, const char *what);

/* The comment of a CREATE INDEX CONCURRENTLY planned without the catalog:
 * on a partitioned table it would fail. */
void plan_without_dsn_note(struct sbuf *b);

/* Appends one statement (rollout.h) and its ";\n"; frees it. NULL: out of
 * memory. */
void plan_sql(struct sbuf *b, char *stmt);

/* The up and the down file of step number step. id_opts: the options
 * that shape the ids, as a command line gives them (for the comments). */
void plan_up_text(struct sbuf *b, struct plan_step st,
		  const struct plan_names *n, int step, const char *id_opts);
void plan_down_text(struct sbuf *b, struct plan_step st,
		    const struct plan_names *n, int step);

/* --null-index: the up and down of the step that builds the partial index
 * and of the step that drops it again (plan_null.c). */
void plan_null_index_up(struct sbuf *b, struct plan_step st,
			const struct plan_names *n, int step);
void plan_null_index_down(struct sbuf *b, struct plan_step st,
			  const struct plan_names *n, int step);
void plan_drop_null_index_up(struct sbuf *b, struct plan_step st,
			     const struct plan_names *n, int step);
void plan_drop_null_index_down(struct sbuf *b, struct plan_step st,
			       const struct plan_names *n, int step);

/* The id default's up and down (plan_default.c). */
void plan_default_up(struct sbuf *b, const struct plan_names *n, int step);
void plan_default_down(struct sbuf *b, const struct plan_names *n, int step);

/*
 * The format's id space and, where the catalog gave the table's rows
 * (tree non-NULL), the birthday bound over them: one line for the
 * backfill step's comment and the log, and the verdict ("" if none).
 */
void plan_idspace_lines(const struct config *cfg, const struct plan_tree *tree,
			char *summary, size_t slen, char *verdict, size_t vlen);

#endif
