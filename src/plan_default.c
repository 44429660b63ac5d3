/*
 * plan_default.c - the step right after the column is added: an
 * in-database nanoid function of the job's format and the column's
 * default that calls it (see plan_steps.h and plan.h). Rows inserted from
 * then on get an id at insert, so code that does not know the column
 * keeps working through the whole rollout, NOT NULL included.
 */
#include "plan_steps.h"

#include <stdio.h>

#include "rollout.h"

/* The step locks the table once, for SET DEFAULT or DROP DEFAULT. */
static void default_lock_note(struct sbuf *b, const struct plan_names *n)
{
	sb_printf(b,
		  "--\n"
		  "-- ALTER COLUMN's ACCESS EXCLUSIVE lock is held only briefly "
		  "(a catalog\n"
		  "-- change: no rewrite, no scan), but while it waits for a "
		  "long transaction\n"
		  "-- every query on the table queues behind it; lock_timeout "
		  "makes it give\n"
		  "-- up instead. If it does (\"canceling statement due to lock "
		  "timeout\"),\n"
		  "-- apply the file again: every statement in it can run twice.\n");
	if (plan_partitioned(n))
		sb_printf(b, "-- On a partitioned table it is taken on the table "
			  "and on every\n"
			  "-- partition, each of which gets the default too.\n");
}

void plan_default_up(struct sbuf *b, const struct plan_names *n, int step)
{
	const struct config *cfg = n->cfg;

	plan_header(b, n, step, "up",
		    "ids at insert: a nanoid function as the column's default.");
	sb_printf(b,
		  "--\n"
		  "-- %s() draws an id of the backfill's format:\n"
		  "-- %s%s%s%ld symbols from \"%s\".\n"
		  "-- As the default of %s\n"
		  "-- it gives every row inserted from now on without %s an "
		  "id at insert:\n"
		  "-- those rows never wait for the backfill, and\n"
		  "-- code that does not know the column keeps working through "
		  "the whole\n"
		  "-- rollout, NOT NULL included. The rows already there stay "
		  "NULL until\n"
		  "-- the backfill (step %d) fills them.\n"
		  "--\n"
		  "-- Its randomness is gen_random_uuid()'s: core since "
		  "PostgreSQL 13, from\n"
		  "-- the same CSPRNG as pgcrypto's gen_random_bytes(), with no "
		  "extension to\n"
		  "-- install. Of each uuid it reads the 14 bytes that are all "
		  "random (not\n"
		  "-- the version's and the variant's), masks each to the next "
		  "power of two\n"
		  "-- and rejects what is no index of the alphabet, as the "
		  "backfill does:\n"
		  "-- every symbol equally likely.\n",
		  n->fn_c, cfg->prefix[0] ? "the prefix \"" : "", cfg->prefix,
		  cfg->prefix[0] ? "\" and " : "", cfg->size, cfg->alphabet,
		  n->target, n->col_c, n->backfill_step);
	if (plan_partitioned(n))
		sb_printf(b, "-- Every partition gets the default, and so does "
			  "one created later with\n"
			  "-- PARTITION OF; a table attached later does not "
			  "(rows inserted through\n"
			  "-- the table still get an id; set it there too for "
			  "rows inserted into\n"
			  "-- that partition itself).\n");
	default_lock_note(b, n);
	plan_sql(b, rollout_id_function(n->qfn, cfg->alphabet, cfg->size,
					cfg->prefix));
	sb_printf(b, "SET lock_timeout = '%ldms';\n", n->lock_ms);
	plan_sql(b, rollout_set_default(n->qt, n->qc, n->qfn));
	sb_printf(b, "RESET lock_timeout;\n");
}

void plan_default_down(struct sbuf *b, const struct plan_names *n, int step)
{
	plan_header(b, n, step, "down",
		    "drop the default and its function. No data is lost.");
	sb_printf(b,
		  "--\n"
		  "-- The ids the default gave stay in %s. From now on a row "
		  "inserted\n"
		  "-- without %s gets NULL again, for the backfill to fill%s.\n",
		  n->col_c, n->col_c,
		  n->not_null_step ? " (and\n-- fails once the NOT NULL check "
		  "is in place)" : "");
	default_lock_note(b, n);
	sb_printf(b, "SET lock_timeout = '%ldms';\n", n->lock_ms);
	plan_sql(b, rollout_drop_default(n->qt, n->qc));
	sb_printf(b, "RESET lock_timeout;\n");
	/* After the default: the default depends on the function. */
	plan_sql(b, rollout_drop_id_function(n->qfn));
}
