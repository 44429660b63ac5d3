/*
 * engine.c - the job's workers on the libev loop (see engine.h).
 *
 * Each worker is one connection. After connecting it walks:
 *
 *   SESSION -> (one worker, once per process: setup.c) -> PREPARE x4 ->
 *   the job protocol (job.c) takes a lease -> BATCH, BATCH, ... -> the
 *   protocol lets the lease go and takes the next ...
 *
 * This file carries out; it decides only what libpq's answers mean. The
 * job protocol decides where a worker goes next, the filling how large a
 * batch is, the retry table what an error calls for.
 *
 * Every statement commits on its own, and every lock is a session advisory
 * lock, so a worker may be dropped at any step boundary: its locks go with
 * its connection and the tables stay consistent. That is how stop, lost
 * connections and retries are handled: close, and (unless stopping) connect
 * again and acquire again.
 */
#include "engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exit_codes.h"
#include "log.h"
#include "notify.h"
#include "pgtext.h"
#include "pgconn.h"
#include "pooler.h"
#include "retry.h"
#include "setup.h"
#include "throttle_env.h"

static void run_batch(struct wk *w);
static void start_connect(struct wk *w);
static void after_session(struct wk *w);
static void wk_stop(struct wk *w);
static void send_session(struct wk *w, enum wk_step step);
static void carry_out(struct wk *w, struct job_action a);

/* Stopping, or done: no new statement but the stop's own. */
static bool halted(const struct backfill *bf)
{
	return bf->stopping || bf->job_done;
}

long long engine_rows(const struct backfill *bf)
{
	return bf->pass.rows_run;
}

/* ---- process-level ------------------------------------------------------ */

void engine_finish(struct backfill *bf, int code)
{
	if (bf->finished)
		return;
	bf->finished = true;
	bf->exit_code = code;
	for (int i = 0; i < bf->nworkers; i++) {
		struct wk *w = &bf->wk[i];

		ev_timer_stop(bf->loop, &w->wait);
		worker_close(&w->conn);
		w->closed = true;
	}
	if (bf->hooks.stopping)
		bf->hooks.stopping(bf);
	ev_break(bf->loop, EVBREAK_ALL);
}

static void fail(struct backfill *bf, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct backfill *bf, int code, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	if (bf->finished)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_error("%s", line);
	engine_finish(bf, code);
}

static int live_workers(const struct backfill *bf)
{
	int n = 0;

	for (int i = 0; i < bf->nworkers; i++)
		n += !bf->wk[i].closed;
	return n;
}

/* ---- a worker's life ---------------------------------------------------- */

static void wk_close(struct wk *w)
{
	struct backfill *bf = w->bf;

	ev_timer_stop(bf->loop, &w->wait);
	worker_close(&w->conn);
	w->closed = true;
	job_reset(&w->job);
	w->step = WK_NONE;
	if (live_workers(bf) == 0 && !bf->finished) {
		if (!bf->job_done)
			log_info("stopped: %lld rows filled by this run; run again to resume",
				 engine_rows(bf));
		engine_finish(bf, NB_EXIT_OK);
	}
}

/*
 * Stopping: drop this worker. The last one records the job as stopped
 * first, if it can. Nothing is lost by closing at a step boundary.
 */
static void wk_stop(struct wk *w)
{
	struct backfill *bf = w->bf;

	if (w->closed)
		return;
	if (live_workers(bf) == 1 && bf->setup == SETUP_DONE && !bf->job_done &&
	    w->conn.state == WORKER_IDLE && w->step != WK_STOPPED) {
		if (progress_send_stopped(&bf->prog, &w->conn) == 0) {
			w->step = WK_STOPPED;
			return;
		}
	}
	wk_close(w);
}

static void wait_then(struct wk *w, double seconds, enum wait_for what)
{
	w->step = WK_NONE;
	w->waiting_for = what;
	ev_timer_stop(w->bf->loop, &w->wait);
	ev_timer_set(&w->wait, seconds > 0 ? seconds : 0, 0);
	ev_timer_start(w->bf->loop, &w->wait);
}

/* Seconds before the next attempt: exponential, with jitter so that
 * workers and processes do not retry in lockstep. */
static double backoff(struct wk *w)
{
	return retry_backoff(RETRY_POLICY_ENGINE, w->attempt++, retry_jitter());
}

/* The connection is dropped: no lease, nothing prepared, setup again if
 * it was this worker's. */
static void forget_session(struct wk *w)
{
	struct backfill *bf = w->bf;

	worker_close(&w->conn);
	job_reset(&w->job);
	w->prepared = 0;
	w->nready = 0;
	if (bf->setup == SETUP_RUNNING && w->step == WK_SETUP)
		bf->setup = SETUP_NONE;
	w->step = WK_NONE;
}

static void connection_lost(struct wk *w, const char *why)
{
	struct backfill *bf = w->bf;
	ev_tstamp now = ev_now(bf->loop);
	double d;

	forget_session(w);
	if (halted(bf)) {
		wk_close(w);
		return;
	}
	if (w->lost_since == 0)
		w->lost_since = now;
	if (bf->cfg->until_done && bf->cfg->reconnect_timeout > 0 &&
	    now - w->lost_since > bf->cfg->reconnect_timeout) {
		fail(bf, NB_EXIT_FAILURE, "worker %d: no connection for %.0f s, giving up "
		     "(reconnect-timeout): %s", w->id, now - w->lost_since, why);
		return;
	}
	d = backoff(w);
	if (bf->cfg->until_done && bf->cfg->reconnect_timeout > 0) {
		/* Try once more right at the deadline, not a backoff past it. */
		double left = bf->cfg->reconnect_timeout - (now - w->lost_since);

		if (d > left)
			d = left > 0.05 ? left : 0.05;
	}
	log_warn("worker %d: connection lost (%s); reconnecting in %.1f s", w->id, why, d);
	wait_then(w, d, WAIT_CONNECT);
}

/* Records the step of a query just sent, or handles a send that failed. */
static void sent(struct wk *w, enum wk_step step, int rc)
{
	if (rc == 0) {
		w->step = step;
		return;
	}
	connection_lost(w, worker_error(&w->conn));
}

/* ---- errors ------------------------------------------------------------- */

/* What the worker was doing, for error lines. */
static const char *doing(const struct wk *w)
{
	switch (w->step) {
	case WK_SESSION:
	case WK_SESSION_AGAIN: return "setting up the session";
	case WK_SETUP: return setup_step_doing(w->setup_step);
	case WK_PREPARE:
	case WK_PREPARE_LEAF: return "preparing the batch statements";
	case WK_JOB: return job_step_doing(w->job.step);
	case WK_BATCH: return "running a batch";
	case WK_STOPPED: return "recording the stop";
	case WK_NONE:
	case WK_PARKED: break;
	}
	return "idle";
}

/*
 * A batch met a unique index. On the column, new ids cure it (fill.h says
 * how the batch shrinks and when the space counts as used up). On any
 * other index no id can cure it: stop, naming it.
 */
static void collision(struct wk *w, const PGresult *res, const char *msg)
{
	struct backfill *bf = w->bf;
	const char *index = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	const char *schema = PQresultErrorField(res, PG_DIAG_SCHEMA_NAME);
	const char *table = PQresultErrorField(res, PG_DIAG_TABLE_NAME);
	double d;

	if (!target_id_index(&bf->target, schema, table, index)) {
		fail(bf, NB_EXIT_FAILURE, "unique index \"%s\" on \"%s\".\"%s\" rejected a "
		     "batch, and it is not an index of column \"%s\": no new id can "
		     "cure that (another column's value, or a trigger, repeats): %s",
		     index ? index : "?", schema ? schema : "?", table ? table : "?",
		     bf->target.column, msg);
		return;
	}
	if (bf->stopping) {
		wk_stop(w);
		return;
	}
	bf->metrics.retries++;
	bf->collisions++;
	throttle_after_batch(&bf->thr, &w->lane, ev_now(bf->loop), 0,
			     ev_time() - w->sent_at);
	if (fill_collision(&w->fill, &bf->fillc, &d) == FILL_SPACE_USED_UP) {
		fail(bf, NB_EXIT_FAILURE, "unique index \"%s\" on \"%s\".\"%s\": %d new "
		     "ids in a row were taken already; the 10^%.1f distinct ids of "
		     "this format are used up: use a larger --size or --alphabet",
		     index, schema, table, w->fill.collisions, bf->log10_ids);
		return;
	}
	if (!bf->collision_logged) {
		bf->collision_logged = true;
		log_warn("worker %d: a new id is taken already in unique index \"%s\"; "
			 "retrying with new ids, with a smaller batch while it repeats "
			 "(the progress line counts them)", w->id, index);
	} else {
		log_debug("worker %d: unique violation %d in a row in \"%s\"; batch "
			  "%ld, retrying in %.2f s", w->id, w->fill.collisions, index,
			  w->fill.collide_cap ? w->fill.collide_cap : w->fill.sent, d);
	}
	wait_then(w, d, WAIT_BATCH);
}

/* A transient error: a batch waits and goes again; elsewhere a lock may
 * be held, so the connection goes and the worker starts over. */
static void retry_later(struct wk *w, const char *state, enum retry_class class,
			const char *msg)
{
	struct backfill *bf = w->bf;
	double d;

	if (bf->stopping) {
		wk_stop(w);
		return;
	}
	bf->metrics.retries++;
	d = backoff(w);
	log_warn("worker %d: %s: %s (SQLSTATE %s); retrying in %.1f s",
		 w->id, doing(w), msg, state, d);
	if (w->step == WK_BATCH) {
		throttle_after_batch(&bf->thr, &w->lane, ev_now(bf->loop), 0,
				     ev_time() - w->sent_at);
		/* Split a batch that keeps timing out. */
		if (class == RETRY_CLASS_LOCK_TIMEOUT || class == RETRY_CLASS_CANCELED)
			if (fill_timeout(&w->fill, &bf->fillc))
				w->b.limit = w->fill.limit;
		wait_then(w, d, WAIT_BATCH);
		return;
	}
	forget_session(w);
	wait_then(w, d, WAIT_CONNECT);
}

/*
 * Returns true if res is an error, after dealing with it: the retry table
 * says what the SQLSTATE calls for; a batch's constraint errors and a
 * dropped partition have policies of their own.
 */
static bool handle_error(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	ExecStatusType st = PQresultStatus(res);
	const char *state;
	enum retry_class class;
	enum retry_action action;
	char msg[1024];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return false;
	state = pgconn_sqlstate(res);
	class = retry_classify(state);
	action = retry_action(RETRY_ENGINE, state);
	pgconn_result_error(res, msg, sizeof msg);
	/* A connection that dies mid-query gives an error with no SQLSTATE. */
	if (action == RETRY_RECONNECT || PQstatus(w->conn.conn) == CONNECTION_BAD) {
		connection_lost(w, msg);
		return true;
	}
	if (w->step == WK_SETUP && w->setup_step == SETUP_TRY_ID)
		return false; /* the column's answer to a sample id: setup's */
	if (w->step == WK_BATCH && class == RETRY_CLASS_UNIQUE) {
		collision(w, res, msg);
		return true;
	}
	if (w->step == WK_BATCH && (class == RETRY_CLASS_CHECK ||
				    class == RETRY_CLASS_INTEGRITY)) {
		/* A check, foreign key, exclusion or not-null constraint: it
		 * rejects the row whatever the id, so no retry can help. */
		const char *con = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

		fail(bf, NB_EXIT_FAILURE, "a batch was rejected by constraint \"%s\" "
		     "(SQLSTATE %s), which no new id can satisfy: %s",
		     con ? con : "?", state, msg);
		return true;
	}
	if (action == RETRY_AGAIN) {
		retry_later(w, state, class, msg);
		return true;
	}
	if ((w->step == WK_BATCH || w->step == WK_PREPARE_LEAF) && !bf->sql.by_key &&
	    class == RETRY_CLASS_UNDEFINED_TABLE) {
		/* A partition dropped while we fill it: the rest of the tree goes on. */
		log_info("worker %d: lease %d: its table is gone (%s); dropping the lease",
			 w->id, w->b.lease, msg);
		carry_out(w, job_lease_gone(&w->job));
		return true;
	}
	if (action == RETRY_CONFIG) {
		fail(bf, NB_EXIT_CONFIG, "%s: %s", doing(w), msg);
		return true;
	}
	fail(bf, NB_EXIT_FAILURE, "%s: %s (SQLSTATE %s)", doing(w), msg, state);
	return true;
}

/* ---- leases ------------------------------------------------------------- */

static void start_lease(struct wk *w, int lease, char *const *cursor, char *const *hi)
{
	w->b.lease = lease;
	batch_set_cursor(&w->b, cursor);
	batch_set_hi(&w->b, hi);
}

/*
 * The physical batch statement for relation rel (schema.name), built the
 * first time a lease of it is taken. NULL (and the job fails) when out of
 * memory.
 */
static const char *leaf_statement(struct wk *w, Oid rel, const char *schema,
				  const char *name)
{
	struct backfill *bf = w->bf;
	char *sql;

	for (int i = 0; i < bf->nleaf; i++)
		if (bf->leaf[i].rel == rel)
			return bf->leaf[i].sql;
	if (bf->nleaf == bf->leaf_cap) {
		int cap = bf->leaf_cap ? 2 * bf->leaf_cap : 8;
		struct leaf_sql *p = realloc(bf->leaf, (size_t)cap * sizeof *p);

		if (!p)
			goto oom;
		bf->leaf = p;
		bf->leaf_cap = cap;
	}
	sql = batch_physical_stmt(w->conn.conn, schema, name, bf->target.column,
				  bf->prog.leases, bf->sql.guard);
	if (!sql)
		goto oom;
	bf->leaf[bf->nleaf].rel = rel;
	bf->leaf[bf->nleaf].sql = sql;
	return bf->leaf[bf->nleaf++].sql;
oom:
	fail(bf, NB_EXIT_FAILURE, "cannot build the batch statement of \"%s\".\"%s\"",
	     schema, name);
	return NULL;
}

/* Physical order: the next block range, from the frontier on. */
static int send_carve(struct wk *w)
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
	return worker_send(&w->conn, sql, n, types, values, NULL, NULL);
}

static int send_boundary(struct wk *w)
{
	struct backfill *bf = w->bf;
	const struct progress_job *j = &w->row;
	const Oid *types;
	int nparams;
	const char *sql = batch_boundary_params(&w->b, j->has_frontier ? j->frontier : NULL,
						bf->cfg->lease_size, bf->target.reltuples,
						&types, &nparams);

	return worker_send(&w->conn, sql, nparams, types, w->b.values, w->b.lengths,
			   w->b.formats);
}

static int send_probe(struct wk *w, const struct job_action *a)
{
	struct backfill *bf = w->bf;
	const char *values[1] = { a->from };

	if (a->sweep)
		return worker_send(&w->conn, bf->sql.probe_full, 0, NULL, NULL, NULL, NULL);
	return worker_send(&w->conn, bf->sql.probe_tail, 1, NULL, values, NULL, NULL);
}

static int send_new_lease(struct wk *w, const struct job_action *a)
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

/* Sends the statement of a job step. */
static void send_job(struct wk *w, const struct job_action *a)
{
	struct backfill *bf = w->bf;
	struct progress *p = &bf->prog;
	struct worker *c = &w->conn;
	int rc = -1;

	switch (a->step) {
	case JOB_LIST: rc = progress_send_list(p, c); break;
	case JOB_TRY_LOCK: rc = progress_send_try_lock(p, c, a->lease); break;
	case JOB_CARVE_LOCK: rc = progress_send_try_lock(p, c, 0); break;
	case JOB_TAKE: rc = progress_send_take(p, c, a->lease, w->owner); break;
	case JOB_READ_JOB: rc = progress_send_read_job(p, c); break;
	case JOB_START_PASS: rc = progress_send_start_pass(p, c, a->from, a->max); break;
	case JOB_PROBE: rc = send_probe(w, a); break;
	case JOB_STAY_IDLE: rc = progress_send_stay_idle(p, c, a->sweep, a->max); break;
	case JOB_BOUNDARY: rc = send_boundary(w); break;
	case JOB_CARVE: rc = send_carve(w); break;
	case JOB_FRONTIER_DONE: rc = progress_send_frontier_done(p, c); break;
	case JOB_NEW_LEASE: rc = send_new_lease(w, a); break;
	case JOB_LEASE_GONE: rc = progress_send_lease_gone(p, c, a->lease); break;
	/* These may scan the whole table: without statement_timeout (the
	 * session settings come back after them). */
	case JOB_REMAINING:
		rc = worker_send(c, bf->sql.remaining, 0, NULL, NULL, NULL, NULL);
		break;
	case JOB_UNFILLED:
		rc = worker_send(c, bf->sql.unfilled, 0, NULL, NULL, NULL, NULL);
		break;
	case JOB_PROBE_RESTORE:
	case JOB_RESTORE:
	case JOB_UNFILLED_RESTORE:
		send_session(w, WK_JOB);
		return;
	case JOB_PASS_END: rc = progress_send_pass_end(p, c, a->pass_state); break;
	case JOB_UNLOCK: rc = progress_send_unlock(p, c, a->lease); break;
	default:
		fail(bf, NB_EXIT_FAILURE, "internal error: no statement for %s",
		     job_step_name(a->step));
		return;
	}
	sent(w, WK_JOB, rc);
}

/* --until-done found no NULL: this worker goes, and the idle others. */
static void job_done(struct wk *w)
{
	struct backfill *bf = w->bf;
	double elapsed = ev_now(bf->loop) - bf->started;

	if (!bf->job_done) {
		bf->job_done = true;
		log_info("done: no NULL left in \"%s\".\"%s\".\"%s\"; %lld rows filled "
			 "by this run in %.1f s (%.0f rows/s), %lld in all",
			 bf->target.schema, bf->target.table, bf->target.column,
			 engine_rows(bf), elapsed,
			 elapsed > 0 ? (double)engine_rows(bf) / elapsed : 0.0,
			 bf->rows_before + engine_rows(bf));
		/* Workers that wait on a timer go now; busy ones after their query. */
		for (int i = 0; i < bf->nworkers; i++) {
			struct wk *o = &bf->wk[i];

			if (o != w && !o->closed && o->conn.state != WORKER_BUSY)
				wk_close(o);
		}
	}
	wk_close(w);
}

static void carry_out(struct wk *w, struct job_action a)
{
	switch (a.what) {
	case JOB_DO_SEND:
		send_job(w, &a);
		return;
	case JOB_DO_WAIT:
		wait_then(w, a.seconds, WAIT_ACQUIRE);
		return;
	case JOB_DO_WORK:
		run_batch(w);
		return;
	case JOB_DO_DONE:
		job_done(w);
		return;
	case JOB_DO_FAIL:
		fail(w->bf, a.code, "%s", a.message);
		return;
	}
}

static bool is_true(const PGresult *res)
{
	return PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
}

/* "Some row": anything but one row saying false. */
static bool not_false(const PGresult *res)
{
	return !(PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f');
}

/* TAKE: the lease, taken over with its bounds and cursor. */
static void answer_take(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	int lease = w->job.lease;
	struct progress_lease l;
	struct job_answer a = { .take = progress_read_take(&bf->prog, res, lease, &l) };
	struct job_action next;

	a.rel_gone = a.take > 0 && !bf->sql.by_key && !l.rel_name;
	next = job_answer(&w->job, &bf->pass, &bf->jobc, JOB_TAKE, &a, ev_now(bf->loop));
	if (next.what == JOB_DO_WORK) {
		if (!bf->sql.by_key) {
			if (!(w->leaf_sql = leaf_statement(w, l.rel, l.rel_schema, l.rel_name))) {
				progress_lease_free(&l);
				return;
			}
			w->lease_rel = l.rel;
		}
		if (l.has_cursor) {
			char cur[512];

			pgtext_join(cur, sizeof cur, l.cursor, target_width(&bf->target));
			if (bf->sql.by_key)
				log_info("worker %d: resuming lease %d after key (%s)", w->id,
					 lease, cur);
			else
				log_info("worker %d: resuming lease %d of \"%s\".\"%s\" after "
					 "ctid %s", w->id, lease, l.rel_schema, l.rel_name, cur);
		}
		start_lease(w, lease, l.has_cursor ? l.cursor : l.has_lo ? l.lo : NULL,
			    l.has_hi ? l.hi : NULL);
	}
	if (a.take > 0)
		progress_lease_free(&l);
	carry_out(w, next);
}

/* CARVE: a block range of some relation, or none left. */
static bool answer_carve(struct wk *w, PGresult *res, struct job_answer *a)
{
	char lo_t[48], hi_t[48];
	Oid rel;

	a->found = PQntuples(res) > 0;
	if (!a->found)
		return true;
	rel = (Oid)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	w->carved_lo = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	w->carved_hi = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	w->carved_end = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	if (!(w->leaf_sql = leaf_statement(w, rel, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2))))
		return false;
	w->lease_rel = rel;
	batch_format_tid(lo_t, sizeof lo_t, w->carved_lo, 0);
	batch_format_tid(hi_t, sizeof hi_t, w->carved_hi, 0);
	start_lease(w, w->row.next_lease, (char *const[]){ lo_t }, (char *const[]){ hi_t });
	log_debug("worker %d: lease %d: \"%s\".\"%s\" blocks %lld-%lld of %lld", w->id,
		  w->row.next_lease, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
		  w->carved_lo, w->carved_hi, w->carved_end);
	return true;
}

/* READ_JOB: the job row, and the protocol's view of it. */
static bool answer_read_job(struct wk *w, PGresult *res, struct job_row *r)
{
	struct backfill *bf = w->bf;
	struct progress_job *j = &w->row;

	if (w->have_row)
		progress_job_free(j);
	w->have_row = progress_read_job(&bf->prog, res, j) == 0;
	if (!w->have_row)
		return false;
	*r = (struct job_row){
		.state = j->state_id,
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

/* The answer to a job step: parsed, given to the protocol, carried out. */
static void answer_job(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	enum job_step step = w->job.step;
	struct job_answer a = { 0 };
	struct job_row row;
	int leases[JOB_MAX_CANDIDATES];

	switch (step) {
	case JOB_LIST:
		a.nleases = PQntuples(res) < JOB_MAX_CANDIDATES ? PQntuples(res) :
			    JOB_MAX_CANDIDATES;
		for (int i = 0; i < a.nleases; i++)
			leases[i] = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
		a.leases = leases;
		break;
	case JOB_TAKE:
		answer_take(w, res);
		return;
	case JOB_TRY_LOCK:
	case JOB_CARVE_LOCK:
	case JOB_NEW_LEASE:
		a.locked = is_true(res);
		break;
	case JOB_READ_JOB:
		a.row = answer_read_job(w, res, &row) ? &row : NULL;
		break;
	case JOB_PROBE:
		a.found = not_false(res);
		a.max = PQntuples(res) == 1 && PQnfields(res) == 2 && !PQgetisnull(res, 0, 1) ?
			PQgetvalue(res, 0, 1) : NULL;
		break;
	case JOB_BOUNDARY: {
		char *hi[CONFIG_MAX_KEYS];
		bool has_hi = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);

		for (int i = 0; has_hi && i < bf->target.nkeys; i++)
			hi[i] = PQgetvalue(res, 0, i);
		/* Keep the bounds: the lease starts once its row and lock exist. */
		start_lease(w, w->row.next_lease, w->row.has_frontier ? w->row.frontier : NULL,
			    has_hi ? hi : NULL);
		break;
	}
	case JOB_CARVE:
		if (!answer_carve(w, res, &a))
			return;
		break;
	case JOB_REMAINING:
		a.found = not_false(res);
		break;
	case JOB_UNFILLED:
		if (PQntuples(res) == 1 && PQnfields(res) == 2) {
			a.count = PQgetvalue(res, 0, 0);
			a.few = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
		}
		break;
	default:
		break;
	}
	carry_out(w, job_answer(&w->job, &bf->pass, &bf->jobc, step, &a, ev_now(bf->loop)));
}

/* ---- batches ------------------------------------------------------------ */

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

/* Logs one line when a pause starts or ends. */
static void log_throttle_change(struct backfill *bf)
{
	char line[THROTTLE_REASON_LEN + 64];

	if (throttle_take_change(&bf->thr, ev_now(bf->loop), line, sizeof line) != 0)
		log_info("%s", line);
}

/*
 * Asks the throttle whether this worker's next batch may start. Returns
 * true to go now; otherwise a timer asks again (or the job stops, when
 * max-runtime is over).
 */
static bool pace(struct wk *w)
{
	struct backfill *bf = w->bf;
	const char *why = NULL;
	struct throttle_env env;
	double wait;

	w->b.limit = fill_limit(&w->fill, &bf->fillc,
				throttle_max_batch(&bf->thr, ev_now(bf->loop)));
	throttle_env_read(&env, &bf->thr, ev_now(bf->loop), time(NULL));
	wait = throttle_wait(&bf->thr, &w->lane, ev_now(bf->loop), &env,
			     w->b.limit, &why);
	log_throttle_change(bf);
	if (wait == 0)
		return true;
	if (wait < 0) {
		engine_stop(bf, "max-runtime reached");
		return false;
	}
	wait_then(w, wait, WAIT_BATCH);
	return false;
}

/* Physical order: has this session prepared the lease relation's statement? */
static bool leaf_ready(const struct wk *w)
{
	for (int i = 0; i < w->nready; i++)
		if (w->ready[i] == w->lease_rel)
			return true;
	return false;
}

static void after_prepare_leaf(struct wk *w)
{
	if (w->nready == w->ready_cap) {
		int cap = w->ready_cap ? 2 * w->ready_cap : 8;
		Oid *p = realloc(w->ready, (size_t)cap * sizeof *p);

		if (!p) {
			fail(w->bf, NB_EXIT_FAILURE, "out of memory");
			return;
		}
		w->ready = p;
		w->ready_cap = cap;
	}
	w->ready[w->nready++] = w->lease_rel;
	run_batch(w);
}

/* Fresh ids every time: a retried batch never reuses them. With the guard
 * the space is small enough for a batch's own ids to meet. */
static int draw_ids(struct backfill *bf, long n)
{
	if (ensure_ids(bf, n) != 0) {
		fail(bf, NB_EXIT_FAILURE, "out of memory for a batch of %ld ids", n);
		return -1;
	}
	if (bf->sql.guard) {
		if (nanoid_generate_distinct(&bf->gen, (char *)bf->ids, (size_t)n) != 0) {
			fail(bf, NB_EXIT_FAILURE, "cannot draw %ld distinct ids for a batch", n);
			return -1;
		}
		return 0;
	}
	for (long i = 0; i < n; i++)
		nanoid_generate(&bf->gen, (char *)bf->ids + (size_t)i * bf->sql.id_len);
	return 0;
}

static void run_batch(struct wk *w)
{
	struct backfill *bf = w->bf;
	char name[64];
	int v;

	if (halted(bf)) {
		wk_stop(w);
		return;
	}
	if (w->session_stale) {
		w->session_stale = false;
		send_session(w, WK_SESSION_AGAIN);
		return;
	}
	if (!bf->sql.by_key && !leaf_ready(w)) {
		batch_physical_name(name, sizeof name, w->lease_rel);
		sent(w, WK_PREPARE_LEAF,
		     worker_send_prepare(&w->conn, name, w->leaf_sql, BATCH_PHYS_PARAMS,
					 bf->sql.phys_types));
		return;
	}
	if (!pace(w) || draw_ids(bf, w->b.limit) != 0)
		return;
	fill_sent(&w->fill);
	if (!bf->sql.by_key) {
		if (batch_physical_params(&w->b, bf->ids, bf->prog.job, w->fill.rate) != 0) {
			fail(bf, NB_EXIT_FAILURE, "lease %d has a malformed ctid in the "
			     "progress table", w->b.lease);
			return;
		}
		batch_physical_name(name, sizeof name, w->lease_rel);
		w->sent_at = ev_time();
		sent(w, WK_BATCH,
		     worker_send_prepared(&w->conn, name, BATCH_PHYS_PARAMS, w->b.values,
					  w->b.lengths, w->b.formats));
		return;
	}
	v = batch_params(&w->b, bf->ids, bf->prog.job, w->fill.rate);
	w->sent_at = ev_time();
	sent(w, WK_BATCH,
	     worker_send_prepared(&w->conn, batch_stmt_name(v), bf->sql.nparams,
				  w->b.values, w->b.lengths, w->b.formats));
}

static void after_batch(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	double took = ev_time() - w->sent_at;
	struct batch_counts c;
	bool lease_done;
	int rc;

	if (bf->sql.by_key) {
		rc = batch_read_result(&w->b, res, &c);
		lease_done = c.found < w->fill.sent;
	} else {
		rc = batch_read_physical(&w->b, res, w->fill.sent, &c, &lease_done);
	}
	if (rc != 0) {
		fail(bf, NB_EXIT_FAILURE, "unexpected answer to a batch");
		return;
	}
	job_pass_count(&bf->pass, c.found, c.filled, c.clashed, c.left_null);
	w->attempt = 0;
	fill_committed(&w->fill, c.filled, took);
	bf->metrics.batches++;
	throttle_after_batch(&bf->thr, &w->lane, ev_now(bf->loop), c.filled, took);
	log_debug("worker %d: lease %d: %ld rows found, %ld filled in %.1f ms",
		  w->id, w->b.lease, c.found, c.filled, took * 1000);
	if (lease_done) {
		/* The statement marked the lease done; let it go. */
		carry_out(w, job_lease_done(&w->job));
		return;
	}
	fill_adapt(&w->fill, &bf->fillc, c.found, took);
	run_batch(w);
}

/* ---- sessions ----------------------------------------------------------- */

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

/* Sends the session settings (again after a statement lifted the timeout). */
static void send_session(struct wk *w, enum wk_step step)
{
	char lock[32], stmt[32];
	const char *values[4] = { lock, stmt, w->bf->cfg->synchronous_commit ? "t" : "f",
				  !w->bf->have_sql || w->bf->sql.by_key ? "force_custom_plan" :
				  "force_generic_plan" };
	static const Oid types[4] = { 0, 0, 16 /* bool */, 0 };

	/* Read at each send: a reload may have changed them. */
	snprintf(lock, sizeof lock, "%ld", w->bf->cfg->lock_timeout);
	snprintf(stmt, sizeof stmt, "%ld", w->bf->cfg->statement_timeout);
	sent(w, step, worker_send(&w->conn, session_sql, 4, types, values, NULL, NULL));
}

/* The job is claimed: startup is over, the parked workers go on. */
static void claimed(struct backfill *bf, struct wk *w)
{
	/* The sessions were set up before the walk was known: its plan cache
	 * mode comes with the next session setup, before a first batch. */
	for (int i = 0; i < bf->nworkers; i++)
		bf->wk[i].session_stale = true;
	bf->ever_connected = true;
	if (bf->setup != SETUP_DONE) {
		bf->setup = SETUP_DONE;
		if (bf->hooks.claimed)
			bf->hooks.claimed(bf);
	}
	if (!bf->ready_sent) {
		/* Connected, target checked, job claimed: startup is over. */
		bf->ready_sent = true;
		notify_ready();
		notify_status("job \"%s\": started", bf->prog.job);
	}
	/* Wake the workers that waited for this one. */
	for (int i = 0; i < bf->nworkers; i++)
		if (&bf->wk[i] != w && bf->wk[i].step == WK_PARKED)
			after_session(&bf->wk[i]);
	after_session(w);
}

static void answer_setup(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	int code = NB_EXIT_FAILURE;

	switch (setup_answer(bf, w, res, &code)) {
	case SETUP_SENT:
		return;
	case SETUP_CLAIMED:
		claimed(bf, w);
		return;
	case SETUP_FAILED:
		fail(bf, code, "%s", bf->err);
		return;
	case SETUP_LOST:
		w->step = WK_SETUP; /* so that another worker takes the setup over */
		connection_lost(w, worker_error(&w->conn));
		return;
	}
}

/* Session ready: set up the job, wait for whoever does, or prepare. */
static void after_session(struct wk *w)
{
	struct backfill *bf = w->bf;

	w->step = WK_NONE;
	if (halted(bf)) {
		wk_stop(w);
		return;
	}
	switch (bf->setup) {
	case SETUP_NONE:
		bf->setup = SETUP_RUNNING;
		if (setup_begin(bf, w) == SETUP_LOST) {
			w->step = WK_SETUP;
			connection_lost(w, worker_error(&w->conn));
		}
		return;
	case SETUP_RUNNING:
		w->step = WK_PARKED;
		return;
	case SETUP_DONE:
		break;
	}
	if (bf->sql.by_key && w->prepared < BATCH_VARIANTS) {
		int v = w->prepared;

		sent(w, WK_PREPARE,
		     worker_send_prepare(&w->conn, batch_stmt_name(v), bf->sql.stmt[v],
					 bf->sql.nparams, bf->sql.types));
		return;
	}
	carry_out(w, job_acquire(&w->job));
}

/* ---- dispatch ----------------------------------------------------------- */

static void on_result(struct worker *conn, PGresult *res)
{
	struct wk *w = conn->data;
	struct backfill *bf = w->bf;
	enum wk_step step = w->step;

	if (bf->finished)
		return;
	if (!res) {
		connection_lost(w, worker_error(conn));
		return;
	}
	if (handle_error(w, res))
		return;
	w->step = WK_NONE;
	if (step == WK_STOPPED) {
		wk_close(w);
		return;
	}
	/* Stop at any boundary but the batch's own bookkeeping. */
	if (halted(bf) && step != WK_BATCH) {
		wk_stop(w);
		return;
	}
	switch (step) {
	case WK_SESSION: after_session(w); break;
	case WK_SETUP: answer_setup(w, res); break;
	case WK_PREPARE:
		w->prepared++;
		after_session(w);
		break;
	case WK_PREPARE_LEAF: after_prepare_leaf(w); break;
	case WK_JOB: answer_job(w, res); break;
	case WK_SESSION_AGAIN: run_batch(w); break;
	case WK_BATCH: after_batch(w, res); break;
	case WK_NONE:
	case WK_PARKED:
	case WK_STOPPED:
		break;
	}
}

static void on_connect(struct worker *conn, bool ok, const char *err)
{
	struct wk *w = conn->data;
	struct backfill *bf = w->bf;

	if (!ok) {
		if (!bf->ever_connected) {
			fail(bf, NB_EXIT_FAILURE, "cannot connect to the database: %s", err);
			return;
		}
		connection_lost(w, err);
		return;
	}
	w->prepared = 0;
	w->nready = 0;
	if (halted(bf)) {
		wk_close(w);
		return;
	}
	/* Once per process, before any session state exists: through a
	 * pooler in transaction mode, locks, prepared statements and
	 * settings would be lost or land in other clients' sessions. */
	if (!bf->pooler_ok) {
		switch (pooler_check(bf->cfg->dsn, bf->err, sizeof bf->err)) {
		case POOLER_SESSION:
			bf->pooler_ok = true;
			break;
		case POOLER_TRANSACTION:
			fail(bf, NB_EXIT_CONFIG, "%s", bf->err);
			return;
		case POOLER_UNKNOWN:
			connection_lost(w, bf->err);
			return;
		}
	}
	if (w->lost_since != 0)
		log_info("worker %d: reconnected", w->id);
	w->lost_since = 0;
	send_session(w, WK_SESSION);
}

static void start_connect(struct wk *w)
{
	struct backfill *bf = w->bf;
	char err[512];

	if (worker_connect(&w->conn, bf->cfg->dsn) == 0)
		return;
	/*
	 * libpq refused to start: a malformed conninfo, or an option value it
	 * rejects (sslmode=bogus), is configuration (78); an attempt that
	 * failed at once, say a socket that is not there, is a failure to
	 * connect (1), like any later one.
	 */
	switch (pgconn_classify_dsn(bf->cfg->dsn, err, sizeof err)) {
	case PGCONN_DSN_MALFORMED:
		fail(bf, NB_EXIT_CONFIG, "invalid --dsn: %s", err);
		return;
	case PGCONN_DSN_REJECTED:
		fail(bf, NB_EXIT_CONFIG, "invalid --dsn: %s", worker_error(&w->conn));
		return;
	case PGCONN_DSN_OK:
		break;
	}
	if (bf->ever_connected)
		connection_lost(w, worker_error(&w->conn));
	else
		fail(bf, NB_EXIT_FAILURE, "cannot connect to the database: %s",
		     worker_error(&w->conn));
}

static void wait_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct wk *w = t->data;

	(void)loop;
	(void)revents;
	if (halted(w->bf)) {
		if (w->conn.state == WORKER_IDLE)
			wk_stop(w);
		else
			wk_close(w);
		return;
	}
	switch (w->waiting_for) {
	case WAIT_CONNECT:
		start_connect(w);
		return;
	case WAIT_ACQUIRE:
		carry_out(w, job_acquire(&w->job));
		return;
	case WAIT_BATCH:
		run_batch(w);
		return;
	}
}

/* ---- what the daemon asks ----------------------------------------------- */

int engine_init(struct backfill *bf)
{
	char host[64] = "localhost";

	bf->wk = calloc((size_t)bf->nworkers, sizeof *bf->wk);
	if (!bf->wk)
		return -1;
	job_pass_init(&bf->pass, ev_now(bf->loop));
	setup_configure(bf);
	gethostname(host, sizeof host - 1);
	for (int i = 0; i < bf->nworkers; i++) {
		struct wk *w = &bf->wk[i];

		w->bf = bf;
		w->id = i + 1;
		worker_init(&w->conn, bf->loop, w->id, on_connect, on_result, w);
		ev_timer_init(&w->wait, wait_cb, 0, 0);
		w->wait.data = w;
		batch_init(&w->b, &bf->sql, bf->cfg->batch_size);
		fill_init(&w->fill, w->id, bf->cfg->batch_size);
		job_worker_init(&w->job, w->id);
		throttle_lane_init(&w->lane);
		snprintf(w->owner, sizeof w->owner, "%s:%ld/%d", host, (long)getpid(), w->id);
	}
	return 0;
}

void engine_free(struct backfill *bf)
{
	for (int i = 0; i < bf->nworkers; i++) {
		struct wk *w = &bf->wk[i];

		ev_timer_stop(bf->loop, &w->wait);
		worker_close(&w->conn);
		batch_free(&w->b);
		free(w->ready);
		if (w->have_row)
			progress_job_free(&w->row);
	}
	free(bf->wk);
	free(bf->ids);
	if (bf->have_sql)
		batch_sql_free(&bf->sql);
	for (int i = 0; i < bf->nleaf; i++)
		free(bf->leaf[i].sql);
	free(bf->leaf);
	if (bf->have_prog)
		progress_free(&bf->prog);
	if (bf->have_target)
		target_free(&bf->target);
}

void engine_start(struct backfill *bf)
{
	for (int i = 0; i < bf->nworkers && !bf->finished; i++)
		start_connect(&bf->wk[i]);
}

void engine_stop(struct backfill *bf, const char *why)
{
	if (bf->stopping)
		return;
	bf->stopping = true;
	notify_stopping();
	log_info("stopping (%s) after the batches in flight", why);
	if (bf->hooks.stopping)
		bf->hooks.stopping(bf);
	for (int i = 0; i < bf->nworkers; i++) {
		struct wk *w = &bf->wk[i];

		if (w->closed || w->conn.state == WORKER_BUSY)
			continue; /* a busy worker stops when its result is in */
		if (w->conn.state == WORKER_IDLE)
			wk_stop(w);
		else
			wk_close(w);
	}
}

void engine_reconfigure(struct backfill *bf)
{
	setup_configure(bf);
	for (int i = 0; i < bf->nworkers; i++) {
		fill_reconfigure(&bf->wk[i].fill, &bf->fillc);
		bf->wk[i].session_stale = true;  /* lock and statement timeouts */
	}
}

int engine_pids(const struct backfill *bf, int *pids, int max)
{
	int n = 0;

	for (int i = 0; i < bf->nworkers && n < max; i++)
		if (bf->wk[i].conn.conn && bf->wk[i].conn.state >= WORKER_IDLE)
			pids[n++] = PQbackendPID(bf->wk[i].conn.conn);
	return n;
}
