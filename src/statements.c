/*
 * statements.c - what a worker sends, and what the answers say (see
 * statements.h).
 */
#include "statements.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgtext.h"

static int failed(struct backfill *bf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int failed(struct backfill *bf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(bf->err, sizeof bf->err, fmt, ap);
	va_end(ap);
	return STATEMENTS_FAILED;
}

/* ---- the session -------------------------------------------------------- */

/*
 * Session settings (these sessions run only our statements):
 *   - by key, custom plans: the batch's best plan depends on its size and
 *     bounds; in physical order the plan is always the same TID range, so
 *     one generic plan saves planning every batch;
 *   - no hash or merge joins: from about 20,000 rows a batch, the planner
 *     would rather hash the batch and scan the whole table than look each
 *     row up by its ctid, which is one page read per row. Per batch, that
 *     is the difference between O(batch) and O(table);
 *   - no sequential or bitmap scans: a batch is an index range or a TID
 *     range, whether or not the table has statistics. Without them the
 *     planner guesses `column IS NULL` rare and would rather scan and sort
 *     the whole table than walk the key's index: 20x slower per batch
 *     until autovacuum happens to analyze the table (the NULL check turns
 *     sequential scans back on for itself);
 *   - no JIT: a batch is milliseconds of work, and a plan that costs a
 *     disabled scan (the 1e10 penalty) would otherwise spend half a
 *     second compiling itself, every batch;
 *   - fixed date, interval and float output, so key values print the same
 *     way in every session and read back the same (cursors are text).
 */
static const char session_sql[] =
	"SELECT set_config('plan_cache_mode', $4, false),"
	" set_config('enable_hashjoin', 'off', false),"
	" set_config('enable_mergejoin', 'off', false),"
	" set_config('enable_seqscan', 'off', false),"
	" set_config('enable_bitmapscan', 'off', false),"
	" set_config('jit', 'off', false),"
	" set_config('DateStyle', 'ISO, YMD', false),"
	" set_config('IntervalStyle', 'postgres', false),"
	" set_config('extra_float_digits', '3', false),"
	" set_config('lock_timeout', $1, false),"
	" set_config('statement_timeout', $2, false),"
	/* A batch's lease cursor commits with its rows: after a crash the last
	 * batches are gone with their progress and are done again. So they
	 * need not wait for a WAL flush each (--synchronous-commit). */
	" CASE WHEN $3 THEN current_setting('synchronous_commit')"
	"  ELSE set_config('synchronous_commit', 'off', false) END";

int statements_session(struct worker *w)
{
	const struct backfill *bf = w->bf;
	char lock[32], stmt[32];
	const char *values[4] = { lock, stmt, bf->cfg->synchronous_commit ? "t" : "f",
				  !bf->have_sql || bf->sql.by_key ? "force_custom_plan" :
				  "force_generic_plan" };
	static const Oid types[4] = { 0, 0, 16 /* bool */, 0 };

	/* Read at each send: a reload may have changed them. */
	snprintf(lock, sizeof lock, "%ld", bf->cfg->lock_timeout);
	snprintf(stmt, sizeof stmt, "%ld", bf->cfg->statement_timeout);
	return conn_send(&w->conn, session_sql, 4, types, values, NULL, NULL);
}

/* ---- the job protocol's statements --------------------------------------- */

static void start_lease(struct worker *w, int lease, char *const *cursor, char *const *hi)
{
	w->b.lease = lease;
	w->b.careful = false;   /* until a batch meets a locked row */
	w->b.overflowed = false; /* another window's: this lease's first batch
				  * may be direct, and teaches the density */
	batch_set_cursor(&w->b, cursor);
	batch_set_hi(&w->b, hi);
}

/*
 * The physical batch statements for relation rel (schema.name), built the
 * first time a lease of it is taken: their index in bf->leaf, -1 when out
 * of memory.
 */
static int leaf_statement(struct worker *w, Oid rel, const char *schema,
			  const char *name)
{
	struct backfill *bf = w->bf;
	struct leaf_sql *l;

	for (int i = 0; i < bf->nleaf; i++)
		if (bf->leaf[i].rel == rel)
			return i;
	if (bf->nleaf == bf->leaf_cap) {
		int cap = bf->leaf_cap ? 2 * bf->leaf_cap : 8;
		struct leaf_sql *p = realloc(bf->leaf, (size_t)cap * sizeof *p);

		if (!p)
			return -1;
		bf->leaf = p;
		bf->leaf_cap = cap;
	}
	l = &bf->leaf[bf->nleaf];
	memset(l->sql, 0, sizeof l->sql);
	l->tally = NULL;
	for (int f = 0; f < BATCH_PHYS_FORMS; f++) {
		/* With the guard, ids may be taken: only the forms that count
		 * and skip such rows (batch.h). */
		if (f == BATCH_PHYS_DIRECT && bf->sql.guard)
			continue;
		if (f == BATCH_PHYS_DIRECT && bf->target.plain_update) {
			if (batch_counted_stmts(w->conn.conn, schema, name,
						bf->target.column, bf->prog.leases,
						&l->sql[f], &l->tally) != 0) {
				for (int i = 0; i < f; i++)
					free(l->sql[i]);
				return -1;
			}
			continue;
		}
		l->sql[f] = batch_physical_stmt(w->conn.conn, schema, name,
						bf->target.column, bf->prog.leases,
						bf->sql.guard, (enum batch_form)f,
						bf->sql.key_update);
		if (!l->sql[f]) {
			for (int i = 0; i < f; i++)
				free(l->sql[i]);
			return -1;
		}
	}
	l->rel = rel;
	return bf->nleaf++;
}

/* The lease's relation and its statement: physical order. */
static int use_leaf(struct worker *w, Oid rel, const char *schema, const char *name)
{
	if ((w->leaf = leaf_statement(w, rel, schema, name)) < 0)
		return failed(w->bf, "cannot build the batch statement of \"%s\".\"%s\"",
			      schema, name);
	w->lease_rel = rel;
	return 0;
}

/* Physical order: the next block range, from the frontier on. */
static int send_carve(struct worker *w)
{
	struct backfill *bf = w->bf;
	const struct progress_job *j = &w->row;
	char root[16], rel[16], blk[24], end[24], size[24];
	const char *values[5] = { root, j->frontier_rel ? rel : NULL, blk, end, size };
	const Oid *types;
	int n;
	const char *sql = batch_carve_sql(&types, &n);

	snprintf(root, sizeof root, "%u", bf->target.oid);
	snprintf(rel, sizeof rel, "%u", j->frontier_rel);
	snprintf(blk, sizeof blk, "%lld", j->frontier_blk);
	snprintf(end, sizeof end, "%lld", j->frontier_end);
	snprintf(size, sizeof size, "%ld", bf->cfg->lease_size);
	return conn_send(&w->conn, sql, n, types, values, NULL, NULL);
}

/* By key: the key lease-size rows past the frontier. */
static int send_boundary(struct worker *w)
{
	struct backfill *bf = w->bf;
	const struct progress_job *j = &w->row;
	const Oid *types;
	int nparams;
	const char *sql = batch_boundary_params(&w->b, j->has_frontier ? j->frontier : NULL,
						bf->cfg->lease_size, bf->target.reltuples,
						&types, &nparams);

	return conn_send(&w->conn, sql, nparams, types, w->b.values, w->b.lengths,
			   w->b.formats);
}

static int send_probe(struct worker *w, const struct job_action *a)
{
	struct backfill *bf = w->bf;
	const char *values[1] = { a->from };

	if (a->sweep)
		return conn_send(&w->conn, bf->sql.probe_full, 0, NULL, NULL, NULL, NULL);
	return conn_send(&w->conn, bf->sql.probe_tail, 1, NULL, values, NULL, NULL);
}

static int send_new_lease(struct worker *w, const struct job_action *a)
{
	struct backfill *bf = w->bf;
	const struct progress_job *j = &w->row;

	if (!bf->sql.by_key)
		return progress_send_new_block_lease(&bf->prog, &w->conn, a->lease,
						     w->lease_rel, w->carved_lo,
						     w->carved_hi, w->carved_end, w->owner);
	return progress_send_new_lease(&bf->prog, &w->conn, a->lease,
				       j->has_frontier ? j->frontier : NULL,
				       w->b.has_hi ? w->b.hi : NULL, w->owner);
}

int statements_job(struct worker *w, const struct job_action *a)
{
	struct backfill *bf = w->bf;
	struct progress *p = &bf->prog;
	struct conn *c = &w->conn;

	switch (a->step) {
	case JOB_LIST: return progress_send_list(p, c);
	case JOB_TRY_LOCK: return progress_send_try_lock(p, c, a->lease);
	case JOB_CARVE_LOCK: return progress_send_try_lock(p, c, 0);
	case JOB_TAKE: return progress_send_take(p, c, a->lease, w->owner);
	case JOB_READ_JOB: return progress_send_read_job(p, c);
	case JOB_START_PASS: return progress_send_start_pass(p, c, a->from, a->max);
	case JOB_PROBE: return send_probe(w, a);
	case JOB_STAY_IDLE: return progress_send_stay_idle(p, c, a->sweep, a->max);
	case JOB_BOUNDARY: return send_boundary(w);
	case JOB_CARVE: return send_carve(w);
	case JOB_FRONTIER_DONE: return progress_send_frontier_done(p, c);
	case JOB_NEW_LEASE: return send_new_lease(w, a);
	case JOB_LEASE_GONE: return progress_send_lease_gone(p, c, a->lease);
	/* These may scan the whole table: without statement_timeout (the
	 * session settings come back after them). */
	case JOB_REMAINING:
		return conn_send(c, bf->sql.remaining, 0, NULL, NULL, NULL, NULL);
	case JOB_UNFILLED:
		return conn_send(c, bf->sql.unfilled, 0, NULL, NULL, NULL, NULL);
	case JOB_PROBE_RESTORE:
	case JOB_RESTORE:
	case JOB_UNFILLED_RESTORE:
		return statements_session(w);
	case JOB_PASS_END: return progress_send_pass_end(p, c, a->pass_state,
							  a->by_key ? WALK_KEY : WALK_PHYSICAL);
	case JOB_UNLOCK: return progress_send_unlock(p, c, a->lease);
	default:
		break;
	}
	return failed(bf, "internal error: no statement for %s", job_step_name(a->step));
}

/* ---- the answers -------------------------------------------------------- */

static bool is_true(const PGresult *res)
{
	return PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
}

/* "Some row": anything but one row saying false. */
static bool not_false(const PGresult *res)
{
	return !(PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f');
}

int statements_read_take(struct worker *w, PGresult *res, struct progress_lease *l)
{
	return progress_read_take(&w->bf->prog, res, w->job.lease, l);
}

int statements_start_taken(struct worker *w, const struct progress_lease *l)
{
	struct backfill *bf = w->bf;

	if (!bf->sql.by_key && use_leaf(w, l->rel, l->rel_schema, l->rel_name) != 0)
		return STATEMENTS_FAILED;
	if (l->has_cursor) {
		char cur[512];

		pgtext_join(cur, sizeof cur, l->cursor, target_width(&bf->target));
		if (bf->sql.by_key)
			log_info("worker %d: resuming lease %d after key (%s)", w->id,
				 l->lease, cur);
		else
			log_info("worker %d: resuming lease %d of \"%s\".\"%s\" after "
				 "ctid %s", w->id, l->lease, l->rel_schema, l->rel_name, cur);
	}
	start_lease(w, w->job.lease, l->has_cursor ? l->cursor : l->has_lo ? l->lo : NULL,
		    l->has_hi ? l->hi : NULL);
	return 0;
}

/* CARVE: a block range of some relation, or none left. */
static int read_carve(struct worker *w, PGresult *res, struct job_answer *a)
{
	char lo_t[48], hi_t[48];

	a->found = PQntuples(res) > 0;
	if (!a->found)
		return 0;
	w->carved_lo = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	w->carved_hi = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	w->carved_end = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	if (use_leaf(w, (Oid)strtoul(PQgetvalue(res, 0, 0), NULL, 10),
		     PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)) != 0)
		return STATEMENTS_FAILED;
	batch_format_tid(lo_t, sizeof lo_t, w->carved_lo, 0);
	batch_format_tid(hi_t, sizeof hi_t, w->carved_hi, 0);
	start_lease(w, w->row.next_lease, (char *const[]){ lo_t }, (char *const[]){ hi_t });
	log_debug("worker %d: lease %d: \"%s\".\"%s\" blocks %lld-%lld of %lld", w->id,
		  w->row.next_lease, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
		  w->carved_lo, w->carved_hi, w->carved_end);
	return 0;
}

/* READ_JOB: the job row, and the protocol's view of it. */
static bool read_job(struct worker *w, PGresult *res, struct job_row *r)
{
	struct progress_job *j = &w->row;

	if (w->have_row)
		progress_job_free(j);
	w->have_row = progress_read_job(&w->bf->prog, res, j) == 0;
	if (!w->have_row)
		return false;
	*r = (struct job_row){
		.state = j->state_id,
		.by_key = j->walk == WALK_KEY,
		.frontier_done = j->frontier_done,
		.has_frontier = j->has_frontier,
		.next_lease = j->next_lease,
		.idle_for = j->idle_for,
		.open_leases = j->open_leases,
		.has_hwm = j->has_hwm,
		.swept_ago = j->swept_ago,
		.pass_rows = j->pass_rows,
	};
	snprintf(r->hwm, sizeof r->hwm, "%s", j->hwm);
	return true;
}

int statements_read(struct worker *w, PGresult *res, struct statements_answer *out)
{
	struct job_answer *a = &out->a;

	*a = (struct job_answer){ 0 };
	switch (w->job.step) {
	case JOB_LIST:
		a->nleases = PQntuples(res) < JOB_MAX_CANDIDATES ? PQntuples(res) :
			     JOB_MAX_CANDIDATES;
		for (int i = 0; i < a->nleases; i++)
			out->leases[i] = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
		a->leases = out->leases;
		return 0;
	case JOB_TRY_LOCK:
	case JOB_CARVE_LOCK:
	case JOB_NEW_LEASE:
		a->locked = is_true(res);
		return 0;
	case JOB_READ_JOB:
		a->row = read_job(w, res, &out->row) ? &out->row : NULL;
		return 0;
	case JOB_PROBE:
		a->found = not_false(res);
		a->max = PQntuples(res) == 1 && PQnfields(res) == 2 &&
			 !PQgetisnull(res, 0, 1) ? PQgetvalue(res, 0, 1) : NULL;
		return 0;
	case JOB_BOUNDARY: {
		char *hi[CONFIG_MAX_KEYS];
		bool has_hi = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);

		for (int i = 0; has_hi && i < w->bf->target.nkeys; i++)
			hi[i] = PQgetvalue(res, 0, i);
		/* Keep the bounds: the lease starts once its row and lock exist. */
		start_lease(w, w->row.next_lease, w->row.has_frontier ? w->row.frontier : NULL,
			    has_hi ? hi : NULL);
		return 0;
	}
	case JOB_CARVE:
		return read_carve(w, res, a);
	case JOB_REMAINING:
		a->found = not_false(res);
		return 0;
	case JOB_UNFILLED:
		if (PQntuples(res) == 1 && PQnfields(res) == 2) {
			a->count = PQgetvalue(res, 0, 0);
			a->few = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
		}
		return 0;
	default:
		return 0;
	}
}

/* ---- batches ------------------------------------------------------------ */

int statements_prepare(struct worker *w, int v)
{
	const struct batch_sql *sql = &w->bf->sql;

	return conn_send_prepare(&w->conn, batch_stmt_name(v), sql->stmt[v],
				   sql->nparams, sql->types);
}

int statements_prepare_leaf(struct worker *w)
{
	char name[64];

	enum batch_form f = batch_form_of(&w->b);

	const struct leaf_sql *l = &w->bf->leaf[w->leaf];
	char tally[64];

	batch_physical_name(name, sizeof name, w->lease_rel, f);
	if (f == BATCH_PHYS_DIRECT && l->tally) {
		struct conn_query q[2] = {
			{ .prepare = true, .name = name, .sql = l->sql[f],
			  .nparams = BATCH_PHYS_PARAMS, .types = w->bf->sql.phys_types },
			{ .prepare = true, .name = tally, .sql = l->tally,
			  .nparams = BATCH_PHYS_PARAMS, .types = w->bf->sql.phys_types },
		};

		batch_counted_tally_name(tally, sizeof tally, w->lease_rel);
		return conn_send_chain(&w->conn, q, 2);
	}
	return conn_send_prepare(&w->conn, name, l->sql[f],
				 BATCH_PHYS_PARAMS, w->bf->sql.phys_types);
}

int statements_counter(struct worker *w)
{
	return conn_send(&w->conn, BATCH_COUNTER_SQL, 0, NULL, NULL, NULL, NULL);
}

static int ensure_ids(struct backfill *bf, long limit)
{
	size_t need = (size_t)limit * bf->sql.id_len;

	if (need > bf->ids_cap) {
		unsigned char *p = realloc(bf->ids, need);

		if (!p)
			return -1;
		bf->ids = p;
		bf->ids_cap = need;
	}
	return 0;
}

/* Fresh ids every time: a retried batch never reuses them. With the guard
 * the space is small enough for a batch's own ids to meet. */
static int draw_ids(struct backfill *bf, long n)
{
	if (ensure_ids(bf, n) != 0)
		return failed(bf, "out of memory for a batch of %ld ids", n);
	if (bf->sql.guard) {
		if (nanoid_generate_distinct(&bf->gen, (char *)bf->ids, (size_t)n) != 0)
			return failed(bf, "cannot draw %ld distinct ids for a batch", n);
		return 0;
	}
	for (long i = 0; i < n; i++)
		nanoid_generate(&bf->gen, (char *)bf->ids + (size_t)i * bf->sql.id_len);
	return 0;
}

int statements_batch(struct worker *w)
{
	struct backfill *bf = w->bf;
	char name[64];
	enum batch_form f;
	int v;

	if (draw_ids(bf, batch_ids(&w->b)) != 0)
		return STATEMENTS_FAILED;
	if (!bf->sql.by_key) {
		if (batch_physical_params(&w->b, bf->ids, bf->prog.job, w->fill.rate) != 0)
			return failed(bf, "lease %d has a malformed ctid in the progress "
				      "table", w->b.lease);
		f = batch_form_of(&w->b);
		batch_physical_name(name, sizeof name, w->lease_rel, f);
		w->sent_at = ev_time();
		if (f == BATCH_PHYS_DIRECT && bf->leaf[w->leaf].tally) {
			char tally[64], lock[32];
			const char *lock_value[1] = { lock };
			struct conn_query q[3] = {
				{ .name = name, .nparams = BATCH_PHYS_PARAMS,
				  .values = w->b.values, .lengths = w->b.lengths,
				  .formats = w->b.formats },
				/* The UPDATE left the row lock wait (50 ms) in
				 * force for the transaction; the tally locks the
				 * progress table before it runs, with the
				 * session's --lock-timeout, as the one-statement
				 * form did. */
				{ .sql = BATCH_LOCK_TIMEOUT_SQL, .nparams = 1, .values = lock_value },
				{ .name = tally, .nparams = BATCH_PHYS_PARAMS,
				  .values = w->b.tally_values, .lengths = w->b.tally_lengths,
				  .formats = w->b.tally_formats },
			};

			batch_counted_tally_name(tally, sizeof tally, w->lease_rel);
			batch_counted_params(&w->b);
			snprintf(lock, sizeof lock, "%ld", bf->cfg->lock_timeout);
			return conn_send_chain(&w->conn, q, 3);
		}
		return conn_send_prepared(&w->conn, name, BATCH_PHYS_PARAMS, w->b.values,
					    w->b.lengths, w->b.formats);
	}
	v = batch_params(&w->b, bf->ids, bf->prog.job, w->fill.rate);
	w->sent_at = ev_time();
	return conn_send_prepared(&w->conn, batch_stmt_name(v), bf->sql.nparams,
				    w->b.values, w->b.lengths, w->b.formats);
}
