/*
 * setup.c - the run's one-time setup on one worker (see setup.h).
 */
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exit_codes.h"
#include "idspace.h"
#include "log.h"
#include "pgtext.h"

/* Expected collisions over the table from which batches skip a row whose
 * new id is taken (see batch.h), rather than fail on the unique index. */
#define GUARD_COLLISIONS 1.0

static enum setup_result sent(struct worker *w, enum setup_step step, int rc)
{
	if (rc != 0)
		return SETUP_LOST;
	w->step = WORKER_SETUP;
	w->setup_step = step;
	return SETUP_SENT;
}

static enum setup_result failed(struct backfill *bf, int *code, int c)
{
	(void)bf;
	*code = c;
	return SETUP_FAILED;
}

const char *setup_step_doing(enum setup_step s)
{
	switch (s) {
	case SETUP_TARGET:
	case SETUP_ESTIMATE:
	case SETUP_TRY_ID: return "checking the target";
	case SETUP_EXISTS:
	case SETUP_TABLES: return "creating the progress tables";
	case SETUP_CLAIM: return "claiming the job";
	}
	return "setting up";
}

enum setup_result setup_begin(struct backfill *bf, struct worker *w)
{
	if (bf->have_target)
		/* A second check after a lost connection: keep the first. */
		return sent(w, SETUP_EXISTS, progress_send_exists(&bf->prog, &w->conn));
	return sent(w, SETUP_TARGET, target_send(&w->conn, bf->cfg));
}

static void log_claim(struct backfill *bf, const struct progress_claim *claim)
{
	const struct target *t = &bf->target;
	char keys[512];
	char by[600];

	/* Both lines name the walk and why: a resumed job may walk otherwise
	 * than this run would have chosen (a pass in progress is followed). */
	pgtext_join(keys, sizeof keys, t->keys, t->nkeys);
	if (t->walk == WALK_KEY)
		snprintf(by, sizeof by, "by key (%s)", keys);
	else
		snprintf(by, sizeof by, "in physical order");
	if (claim->created || (claim->rows_done == 0 && claim->open_leases == 0)) {
		char about[400] = "";

		if (bf->estimate >= 1)
			snprintf(about, sizeof about, "; about %.0f rows to fill", bf->estimate);
		log_info("job \"%s\": filling \"%s\".\"%s\".\"%s\" %s (%s) in batches "
			 "of %ld with %ld worker%s%s", bf->prog.job, t->schema, t->table,
			 t->column, by, t->walk_reason, bf->cfg->batch_size,
			 bf->cfg->workers, bf->cfg->workers == 1 ? "" : "s", about);
		return;
	}
	log_info("job \"%s\": resuming %s (%s): %lld rows filled so far, %ld open "
		 "lease%s (%ld started)", bf->prog.job, by, t->walk_reason,
		 claim->rows_done, claim->open_leases,
		 claim->open_leases == 1 ? "" : "s", claim->leases_with_cursor);
}

void setup_configure(struct backfill *bf)
{
	const struct config *c = bf->cfg;
	const struct target *t = &bf->target;

	bf->jobc = (struct job_config){
		.until_done = c->until_done,
		.by_key = bf->have_sql && bf->sql.by_key,
		.own_by_key = bf->own_walk == WALK_KEY,
		.tree = t->tree,
		.probe_tail = bf->have_sql && bf->sql.probe_tail,
		.guard = bf->have_sql && bf->sql.guard,
		.has_keys = t->nkeys > 0,
		.idle_interval = c->idle_interval,
		.full_sweep_interval = c->full_sweep_interval,
		.log10_ids = bf->log10_ids,
		.job = bf->have_prog ? bf->prog.job : "",
		.schema = t->schema,
		.table = t->table,
		.triggers = t->triggers,
	};
	bf->fillc = (struct fill_config){
		.batch_size = c->batch_size,
		.min_batch = c->min_batch_size,
		.max_batch = c->max_batch_size,
		.batch_time = c->batch_time,
		.guard = bf->jobc.guard,
		.log10_ids = bf->log10_ids,
		.rows = bf->have_target ? target_rows(t) : 0,
	};
}

int setup_rebuild_sql(struct backfill *bf, PGconn *conn, bool guard)
{
	if (bf->have_sql)
		batch_sql_free(&bf->sql);
	if (batch_sql_build(&bf->sql, conn, &bf->target, bf->prog.leases,
			    nanoid_length(&bf->gen), guard, bf->err, sizeof bf->err) != 0) {
		bf->have_sql = false;
		return -1;
	}
	bf->have_sql = true;
	for (int i = 0; i < bf->nworkers; i++) {
		batch_free(&bf->workers[i].b);
		batch_init(&bf->workers[i].b, &bf->sql, bf->workers[i].fill.want);
	}
	setup_configure(bf);
	return 0;
}

/* The physical statements per relation: built again as leases need them. */
static void free_leaves(struct backfill *bf)
{
	for (int i = 0; i < bf->nleaf; i++) {
		for (int f = 0; f < BATCH_PHYS_FORMS; f++) {
			free(bf->leaf[i].sql[f]);
			bf->leaf[i].sql[f] = NULL;
		}
		free(bf->leaf[i].tally);
		bf->leaf[i].tally = NULL;
	}
	bf->nleaf = 0;
}

void setup_free(struct backfill *bf)
{
	if (bf->have_sql)
		batch_sql_free(&bf->sql);
	free_leaves(bf);
	free(bf->leaf);
	if (bf->have_prog)
		progress_free(&bf->prog);
	if (bf->have_target)
		target_free(&bf->target);
}

static enum setup_result after_target(struct backfill *bf, struct worker *w, PGresult *res,
				      int *code)
{
	struct config *c = bf->cfg;
	size_t id_len = nanoid_length(&bf->gen);

	if (target_check(&bf->target, res, c, id_len, bf->err, sizeof bf->err) != 0)
		return failed(bf, code, NB_EXIT_CONFIG);
	bf->have_target = true;
	bf->own_walk = bf->target.walk;
	snprintf(bf->own_reason, sizeof bf->own_reason, "%s", bf->target.walk_reason);
	bf->estimate = target_estimate(&bf->target);
	if (progress_init(&bf->prog, w->conn.conn, c->progress_schema, c->job,
			  &bf->target, bf->err, sizeof bf->err) != 0)
		return failed(bf, code, NB_EXIT_FAILURE);
	bf->have_prog = true;
	if (setup_rebuild_sql(bf, w->conn.conn, false) != 0)
		return failed(bf, code, NB_EXIT_FAILURE);
	return sent(w, SETUP_ESTIMATE, conn_send(&w->conn, bf->sql.estimate, 0, NULL,
						    NULL, NULL, NULL));
}

/*
 * The birthday bound for the ids over every row of the table (idspace.h),
 * before anything is written: refuse, warn, or go on; and where a unique
 * index will meet repeated ids often, batches that skip a taken id.
 */
static int judge_ids(struct backfill *bf, struct worker *w, int *code)
{
	const struct target *t = &bf->target;
	double rows = target_rows(t);

	bf->log10_ids = idspace_log10(bf->gen.alphabet_len, bf->cfg->size);
	switch (idspace_judge(bf->log10_ids, rows, t->unique_index,
			      bf->cfg->allow_duplicates, bf->err, sizeof bf->err)) {
	case IDSPACE_REFUSE:
		*code = NB_EXIT_CONFIG;
		return -1;
	case IDSPACE_WARN:
		log_warn("%s", bf->err);
		break;
	case IDSPACE_OK:
		break;
	}
	setup_configure(bf);
	if (t->unique_index && t->plain_text && rows > 0 &&
	    idspace_expected_collisions(bf->log10_ids, rows) >= GUARD_COLLISIONS) {
		log_info("batches skip a row whose new id is taken already; "
			 "the next pass gives it another");
		if (setup_rebuild_sql(bf, w->conn.conn, true) != 0) {
			*code = NB_EXIT_FAILURE;
			return -1;
		}
	}
	return 0;
}

/*
 * A sample id, sent as a parameter of the column's own type: the server
 * reads it with the type's input function, which checks a domain's
 * constraints at every level (SQLSTATE 23514) and its length, before
 * anything is written. Nothing is built into the SQL text.
 */
static enum setup_result send_try_id(struct backfill *bf, struct worker *w)
{
	size_t len = nanoid_length(&bf->gen);
	char id[NANOID_MAX_PREFIX + NANOID_MAX_SIZE + 1];
	const char *values[1] = { id };
	const Oid types[1] = { bf->target.col_type };

	nanoid_generate(&bf->gen, id);
	id[len] = '\0';
	return sent(w, SETUP_TRY_ID, conn_send(&w->conn, "SELECT $1::text", 1, types,
						  values, NULL, NULL));
}

/*
 * The planner's row count of the whole table: it exists without ANALYZE
 * (the planner scales by the relation's size then), where reltuples is -1.
 */
static enum setup_result after_estimate(struct backfill *bf, struct worker *w,
					PGresult *res, int *code)
{
	if (PQntuples(res) == 1) {
		const char *rows = strstr(PQgetvalue(res, 0, 0), "\"Plan Rows\":");

		if (rows)
			bf->target.planned_rows = strtod(rows + strlen("\"Plan Rows\":"), NULL);
	}
	bf->estimate = target_estimate(&bf->target);
	if (judge_ids(bf, w, code) != 0)
		return SETUP_FAILED;
	return send_try_id(bf, w);
}

static enum setup_result after_try_id(struct backfill *bf, struct worker *w,
				      PGresult *res, int *code)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];

		pgconn_result_error(res, msg, sizeof msg);
		snprintf(bf->err, sizeof bf->err, "column \"%s\" of \"%s\".\"%s\" does not "
			 "accept a generated id: %s (SQLSTATE %s)", bf->target.column,
			 bf->target.schema, bf->target.table, msg, pgconn_sqlstate(res));
		return failed(bf, code, NB_EXIT_CONFIG);
	}
	return sent(w, SETUP_EXISTS, progress_send_exists(&bf->prog, &w->conn));
}

int setup_switch_walk(struct backfill *bf, PGconn *conn, enum walk walk,
		      const char *reason, int *code)
{
	if (walk == bf->target.walk)
		return 0;
	if (walk == WALK_KEY && !bf->target.key_ok) {
		snprintf(bf->err, sizeof bf->err, "job \"%s\" is in the middle of a pass "
			 "by key, but the key cannot be walked now: %s", bf->prog.job,
			 bf->target.walk_reason);
		*code = NB_EXIT_CONFIG;
		return -1;
	}
	bf->target.walk = walk;
	snprintf(bf->target.walk_reason, sizeof bf->target.walk_reason, "%s", reason);
	free_leaves(bf);
	if (setup_rebuild_sql(bf, conn, bf->sql.guard) != 0) {
		*code = NB_EXIT_FAILURE;
		return -1;
	}
	return 0;
}

static enum setup_result send_claim(struct backfill *bf, struct worker *w)
{
	const struct progress_format f = { bf->cfg->size, bf->cfg->alphabet,
					   bf->cfg->prefix };

	return sent(w, SETUP_CLAIM,
		    progress_send_claim(&bf->prog, &w->conn, bf->estimate, &f));
}

static enum setup_result after_claim(struct backfill *bf, struct worker *w,
				     PGresult *res, int *code)
{
	struct progress_claim claim;

	if (progress_read_claim(&bf->prog, res, &claim, bf->err, sizeof bf->err) != 0)
		return failed(bf, code, NB_EXIT_CONFIG);
	if (setup_switch_walk(bf, w->conn.conn, claim.walk, "the job's pass in progress",
			      code) != 0)
		return SETUP_FAILED;
	if (bf->setup != SETUP_DONE && !bf->ever_connected) {
		bf->rows_before = claim.rows_done;
		log_claim(bf, &claim);
		/* Refusing would keep a restarted service down until the
		 * other run's pass ends; the order asked for comes next. */
		if (claim.walk != bf->own_walk && strcmp(bf->cfg->order, "auto") != 0)
			log_warn("job \"%s\": the pass in progress walks %s; --order %s "
				 "applies from the next pass this run starts", bf->prog.job,
				 claim.walk == WALK_KEY ? "by key" : "in physical order",
				 bf->cfg->order);
	}
	setup_configure(bf);
	return SETUP_CLAIMED;
}

enum setup_result setup_answer(struct backfill *bf, struct worker *w, PGresult *res,
			       int *code)
{
	switch (w->setup_step) {
	case SETUP_TARGET:
		return after_target(bf, w, res, code);
	case SETUP_ESTIMATE:
		return after_estimate(bf, w, res, code);
	case SETUP_TRY_ID:
		return after_try_id(bf, w, res, code);
	case SETUP_EXISTS:
		if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't')
			return send_claim(bf, w);
		return sent(w, SETUP_TABLES, progress_send_setup(&bf->prog, &w->conn));
	case SETUP_TABLES:
		return send_claim(bf, w);
	case SETUP_CLAIM:
		return after_claim(bf, w, res, code);
	}
	snprintf(bf->err, sizeof bf->err, "internal error: no setup step %d",
		 (int)w->setup_step);
	return failed(bf, code, NB_EXIT_FAILURE);
}
