/*
 * plan_null.c - --null-index: the texts of the steps that build the
 * partial index WHERE column IS NULL after the backfill and drop it once
 * the column is NOT NULL, one pair per leaf partition on a partitioned
 * table (see plan_steps.h and plan.h).
 */
#include "plan_steps.h"

#include <stdbool.h>
#include <stdio.h>

#include "rollout.h"

/* The table a null-index step builds or drops its index on, and its
 * index's names: the table itself, or one leaf partition. */
struct null_on {
	const char *qt, *t_c;       /* the table */
	const char *qidx;           /* "table_column_null_idx" */
	const char *qidx_full;      /* with the schema */
	const char *idx_c;          /* qidx_full for comments */
};

static struct null_on null_on(struct plan_step st, const struct plan_names *n)
{
	struct null_on o;

	if (st.rel >= 0) {
		const struct plan_rel_names *r = &n->rels[st.rel];

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
static void null_partition(struct sbuf *b, struct plan_step st,
			   const struct plan_names *n, int step, int *other)
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

static void null_create_sql(struct sbuf *b, const struct plan_names *n,
			    const struct null_on *o)
{
	plan_sql(b, rollout_null_index(o->qidx, o->qt, n->null_cols, n->qc));
}

static void null_no_transaction(struct sbuf *b, const struct plan_names *n,
				const char *what)
{
	sb_printf(b,
		  "--\n"
		  "-- %s cannot run in a transaction: %s since "
		  "PostgreSQL runs\n"
		  "-- a query string of several statements as one transaction. "
		  "No\n"
		  "-- lock_timeout, and none needed: its SHARE UPDATE EXCLUSIVE "
		  "lock blocks\n"
		  "-- neither reads nor writes.\n", what, n->fmt->no_tx[1]);
}

void plan_null_index_up(struct sbuf *b, struct plan_step st,
			const struct plan_names *n, int step)
{
	const struct config *cfg = n->cfg;
	struct null_on o = null_on(st, n);
	int drop;

	plan_header(b, n, step, "up",
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
	null_no_transaction(b, n, "CREATE INDEX CONCURRENTLY");
	sb_printf(b,
		  "-- IF NOT EXISTS keeps an index of that name that is already "
		  "there as it\n"
		  "-- is, also an INVALID one a failed build (a cancel) left "
		  "behind: after a\n"
		  "-- failure apply this step's down, then this step again.\n");
	if (n->tree == NULL)
		plan_without_dsn_note(b);
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

void plan_null_index_down(struct sbuf *b, struct plan_step st,
			  const struct plan_names *n, int step)
{
	struct null_on o = null_on(st, n);
	int drop;

	plan_header(b, n, step, "down",
		    "drop the partial index concurrently. No data is lost.");
	null_partition(b, st, n, step, &drop);
	sb_printf(b,
		  "--\n"
		  "-- One statement outside a transaction, for the same reasons "
		  "as the up:\n"
		  "-- DROP INDEX CONCURRENTLY blocks neither reads nor writes. "
		  "The service's\n"
		  "-- probes read the table again.\n");
	plan_sql(b, rollout_drop_index(o.qidx_full, true));
}

void plan_drop_null_index_up(struct sbuf *b, struct plan_step st,
			     const struct plan_names *n, int step)
{
	struct null_on o = null_on(st, n);
	int built;

	plan_header(b, n, step, "up",
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
	null_no_transaction(b, n, "DROP INDEX CONCURRENTLY");
	plan_sql(b, rollout_drop_index(o.qidx_full, true));
}

void plan_drop_null_index_down(struct sbuf *b, struct plan_step st,
			       const struct plan_names *n, int step)
{
	struct null_on o = null_on(st, n);
	int built;

	plan_header(b, n, step, "down",
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
	null_no_transaction(b, n, "CREATE INDEX CONCURRENTLY");
	sb_printf(b,
		  "-- IF NOT EXISTS keeps an index of that name that is already "
		  "there.\n");
	null_create_sql(b, n, &o);
}
