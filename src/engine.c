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
#include "report.h"
#include "retry.h"
#include "setup.h"
#include "statements.h"
#include "throttle_env.h"

static void run_batch(struct worker *w);
static void after_session(struct worker *w);
static void after_counter(struct worker *w);
static void worker_stop(struct worker *w);
static void send_session(struct worker *w, enum worker_step step);
static void carry_out(struct worker *w, struct job_action a);
static void answer_setup(struct worker *w, PGresult *res);
static void start_connect(struct worker *w);
static void try_switch(struct backfill *bf);

/* Stopping, or done: no new statement but the stop's own. */
static bool halted(const struct backfill *bf)
{
	return bf->stopping || bf->job_done;
}

int engine_batches(const struct backfill *bf)
{
	int n = 0;

	for (int i = 0; i < bf->nworkers; i++)
		n += bf->workers[i].step == WORKER_BATCH;
	return n;
}

bool engine_filling(const struct backfill *bf)
{
	for (int i = 0; i < bf->nworkers; i++)
		if (bf->workers[i].job.step == JOB_WORKING)
			return true;
	return false;
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
		struct worker *w = &bf->workers[i];

		ev_timer_stop(bf->loop, &w->wait);
		conn_close(&w->conn);
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
		n += !bf->workers[i].closed;
	return n;
}

/* ---- a worker's life ---------------------------------------------------- */

static void worker_close(struct worker *w)
{
	struct backfill *bf = w->bf;

	ev_timer_stop(bf->loop, &w->wait);
	conn_close(&w->conn);
	w->closed = true;
	job_reset(&w->job);
	w->step = WORKER_NONE;
	if (live_workers(bf) == 0 && !bf->finished) {
		if (!bf->job_done)
			log_info("stopped: %lld rows filled by this run; run again to resume",
				 engine_rows(bf));
		engine_finish(bf, NB_EXIT_OK);
		return;
	}
	try_switch(bf);
}

/*
 * Stopping: drop this worker. The last one records the job as stopped
 * first, if it can. Nothing is lost by closing at a step boundary.
 */
static void worker_stop(struct worker *w)
{
	struct backfill *bf = w->bf;

	if (w->closed)
		return;
	if (live_workers(bf) == 1 && bf->setup == SETUP_DONE && !bf->job_done &&
	    w->conn.state == CONN_IDLE && w->step != WORKER_STOPPED) {
		if (progress_send_stopped(&bf->prog, &w->conn) == 0) {
			w->step = WORKER_STOPPED;
			return;
		}
	}
	worker_close(w);
}

static void wait_then(struct worker *w, double seconds, enum wait_for what)
{
	w->step = WORKER_NONE;
	w->waiting_for = what;
	ev_timer_stop(w->bf->loop, &w->wait);
	ev_timer_set(&w->wait, seconds > 0 ? seconds : 0, 0);
	ev_timer_start(w->bf->loop, &w->wait);
	if (what != WAIT_BATCH)
		try_switch(w->bf);  /* no lease: the switch need not wait for it */
}

/* Seconds before the next attempt: exponential, with jitter so that
 * workers and processes do not retry in lockstep. */
static double backoff(struct worker *w)
{
	return retry_backoff(RETRY_POLICY_ENGINE, w->attempt++, retry_jitter());
}

/* The connection is dropped: no lease, nothing prepared, setup again if
 * it was this worker's. */
static void forget_session(struct worker *w)
{
	struct backfill *bf = w->bf;

	conn_close(&w->conn);
	job_reset(&w->job);
	w->prepared = 0;
	w->nready = 0;
	w->counter = false;
	if (bf->setup == SETUP_RUNNING && w->step == WORKER_SETUP)
		bf->setup = SETUP_NONE;
	w->step = WORKER_NONE;
}

static void connection_lost(struct worker *w, const char *why)
{
	struct backfill *bf = w->bf;
	ev_tstamp now = ev_now(bf->loop);
	double d;

	forget_session(w);
	if (halted(bf)) {
		worker_close(w);
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

/* Records the step of a statement just sent, or handles a send that
 * failed: libpq's refusal (-1) is a lost connection; statements.h's own
 * failure (STATEMENTS_FAILED) stops the run with its line. */
static void sent(struct worker *w, enum worker_step step, int rc)
{
	if (rc == 0) {
		w->step = step;
		return;
	}
	if (rc == STATEMENTS_FAILED) {
		fail(w->bf, NB_EXIT_FAILURE, "%s", w->bf->err);
		return;
	}
	connection_lost(w, conn_error(&w->conn));
}

/* ---- errors ------------------------------------------------------------- */

/* What the worker was doing, for error lines. */
static const char *doing(const struct worker *w)
{
	switch (w->step) {
	case WORKER_SESSION:
	case WORKER_SESSION_AGAIN: return "setting up the session";
	case WORKER_SETUP: return setup_step_doing(w->setup_step);
	case WORKER_PREPARE:
	case WORKER_PREPARE_LEAF: return "preparing the batch statements";
	case WORKER_COUNTER: return "creating the batches' row counter";
	case WORKER_JOB: return job_step_doing(w->job.step);
	case WORKER_BATCH: return "running a batch";
	case WORKER_STOPPED: return "recording the stop";
	case WORKER_SWITCHING: return "changing walks";
	case WORKER_NONE:
	case WORKER_PARKED: break;
	}
	return "idle";
}

/* The batch in flight failed: its rows go back to the throttle's bucket. */
static void batch_failed(struct worker *w)
{
	throttle_after_batch(&w->bf->thr, &w->lane, ev_now(w->bf->loop), 0,
			     ev_time() - w->sent_at);
}

/*
 * A batch met a unique index. On the column, new ids cure it (fill.h says
 * how the batch shrinks and when the space counts as used up). On any
 * other index no id can cure it: stop, naming it.
 */
static void collision(struct worker *w, const PGresult *res, const char *msg)
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
		worker_stop(w);
		return;
	}
	bf->metrics.retries++;
	bf->collisions++;
	batch_failed(w);
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
static void retry_later(struct worker *w, const char *state, enum retry_class class,
			const char *msg)
{
	struct backfill *bf = w->bf;
	double d;

	if (bf->stopping) {
		worker_stop(w);
		return;
	}
	bf->metrics.retries++;
	if (w->step == WORKER_BATCH && class == RETRY_CLASS_LOCK_TIMEOUT && !w->b.careful) {
		/* A row the application holds (the fast form waits 50 ms for
		 * one): the rest of the lease steps around such rows, at once. */
		batch_failed(w);
		w->b.careful = true;
		if (!bf->careful_logged)
			log_info("worker %d: lease %d: a row is locked by another session; "
				 "the lease's batches skip locked rows and come back for "
				 "them (the progress line counts them)", w->id, w->b.lease);
		else
			log_debug("worker %d: lease %d: a locked row; skipping locked rows",
				  w->id, w->b.lease);
		bf->careful_logged = true;
		wait_then(w, 0, WAIT_BATCH);
		return;
	}
	d = backoff(w);
	log_warn("worker %d: %s: %s (SQLSTATE %s); retrying in %.1f s",
		 w->id, doing(w), msg, state, d);
	if (w->step == WORKER_BATCH) {
		batch_failed(w);
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
static bool handle_error(struct worker *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	ExecStatusType st = PQresultStatus(res);
	const char *state;
	enum retry_class class;
	enum retry_action action;
	char msg[1024];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return false;
	/* A failed batch drew numbers its answer never told: the counter is
	 * read again before the next direct one (after_counter). */
	if (w->step == WORKER_BATCH && w->b.direct)
		w->counter = false;
	state = pgconn_sqlstate(res);
	class = retry_classify(state);
	action = retry_action(RETRY_ENGINE, state);
	pgconn_result_error(res, msg, sizeof msg);
	/* A connection that dies mid-query gives an error with no SQLSTATE. */
	if (action == RETRY_RECONNECT || PQstatus(w->conn.conn) == CONNECTION_BAD) {
		connection_lost(w, msg);
		return true;
	}
	if (w->step == WORKER_SETUP && w->setup_step == SETUP_TRY_ID) {
		/* The column refused the sample id: setup says so (78), stopping
		 * or not. */
		answer_setup(w, res);
		return true;
	}
	if (w->step == WORKER_COUNTER && action != RETRY_AGAIN) {
		/* No temporary objects for this role (42501), or some other
		 * refusal: the fast form does the same, a little slower. */
		if (!bf->no_counter)
			log_warn("worker %d: %s: %s (SQLSTATE %s); batches find their rows "
				 "before they update them instead", w->id, doing(w), msg, state);
		bf->no_counter = true;
		w->step = WORKER_NONE;
		after_counter(w);
		return true;
	}
	if (w->step == WORKER_BATCH && class == RETRY_CLASS_UNIQUE) {
		collision(w, res, msg);
		return true;
	}
	if (w->step == WORKER_BATCH && (class == RETRY_CLASS_CHECK ||
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
	if ((w->step == WORKER_BATCH || w->step == WORKER_PREPARE_LEAF) && !bf->sql.by_key &&
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

/* --until-done found no NULL: this worker goes, and the idle others. */
static void job_done(struct worker *w)
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
			struct worker *o = &bf->workers[i];

			if (o != w && !o->closed && o->conn.state != CONN_BUSY)
				worker_close(o);
		}
	}
	worker_close(w);
}

/* ---- a change of walks ------------------------------------------------- */

/* Whether w has nothing of the walk in force: no lease, no statement in
 * flight (closed, parked for the switch, or on a timer to look for work
 * or to reconnect). */
static bool switch_ready(const struct worker *w)
{
	if (w->closed || w->step == WORKER_SWITCHING)
		return true;
	return w->step == WORKER_NONE && w->conn.state != CONN_BUSY &&
	       w->job.step != JOB_WORKING && ev_is_active(&w->wait) &&
	       w->waiting_for != WAIT_BATCH;
}

/*
 * Once every worker is ready: the statements of the new walk, and fresh
 * sessions for the workers that had any (their prepared statements, row
 * counter and plan cache mode were the old walk's); each looks for work
 * again from its new session. A worker on its way to reconnect gets its
 * fresh session anyway.
 */
static void try_switch(struct backfill *bf)
{
	struct worker *by = NULL;
	int code = NB_EXIT_FAILURE;

	/* A stop closes the workers one by one: none may reconnect. */
	if (!bf->switch_pending || bf->finished || halted(bf))
		return;
	for (int i = 0; i < bf->nworkers; i++) {
		if (!switch_ready(&bf->workers[i]))
			return;
		if (bf->workers[i].step == WORKER_SWITCHING)
			by = &bf->workers[i];
	}
	if (!by)
		return;
	bf->switch_pending = false;
	if (bf->switch_to != bf->target.walk) {
		bool own = bf->switch_to == bf->own_walk;

		if (setup_switch_walk(bf, by->conn.conn, bf->switch_to,
				      own ? bf->own_reason : "the job's pass in progress",
				      &code) != 0) {
			fail(bf, code, "%s", bf->err);
			return;
		}
		if (own)
			log_info("job \"%s\": passes walk %s again (%s)", bf->prog.job,
				 bf->own_walk == WALK_KEY ? "by key" : "in physical order",
				 bf->own_reason);
		else
			log_info("job \"%s\": the pass in progress walks %s, as another "
				 "run began it; this run follows it to its end", bf->prog.job,
				 bf->switch_to == WALK_KEY ? "by key" : "in physical order");
	}
	for (int i = 0; i < bf->nworkers; i++) {
		struct worker *o = &bf->workers[i];

		if (o->closed || (o->step != WORKER_SWITCHING && o->waiting_for == WAIT_CONNECT))
			continue;
		ev_timer_stop(bf->loop, &o->wait);
		forget_session(o);
		start_connect(o);
	}
}

/* A worker asks for another walk, or would look for work while one is
 * asked for: it waits, without a lease, for the others. */
static void park_for_switch(struct worker *w)
{
	job_reset(&w->job);
	w->step = WORKER_SWITCHING;
	try_switch(w->bf);
}

static void carry_out(struct worker *w, struct job_action a)
{
	switch (a.what) {
	case JOB_DO_SEND:
		if (a.step == JOB_LIST && w->bf->switch_pending) {
			park_for_switch(w);
			return;
		}
		sent(w, WORKER_JOB, statements_job(w, &a));
		return;
	case JOB_DO_SWITCH:
		w->bf->switch_pending = true;
		w->bf->switch_to = a.by_key ? WALK_KEY : WALK_PHYSICAL;
		park_for_switch(w);
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

/* TAKE: the lease, taken over with its bounds and cursor. */
static void answer_take(struct worker *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	struct progress_lease l;
	struct job_answer a = { .take = statements_read_take(w, res, &l) };
	struct job_action next;

	a.rel_gone = a.take > 0 && !bf->sql.by_key && !l.rel_name;
	next = job_answer(&w->job, &bf->pass, &bf->jobc, JOB_TAKE, &a, ev_now(bf->loop));
	if (next.what == JOB_DO_WORK && statements_start_taken(w, &l) != 0) {
		progress_lease_free(&l);
		fail(bf, NB_EXIT_FAILURE, "%s", bf->err);
		return;
	}
	if (a.take > 0)
		progress_lease_free(&l);
	carry_out(w, next);
}

/* The answer to a job step: parsed, given to the protocol, carried out. */
static void answer_job(struct worker *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	enum job_step step = w->job.step;
	struct statements_answer sa;

	if (step == JOB_TAKE) {
		answer_take(w, res);
		return;
	}
	if (statements_read(w, res, &sa) != 0) {
		fail(bf, NB_EXIT_FAILURE, "%s", bf->err);
		return;
	}
	carry_out(w, job_answer(&w->job, &bf->pass, &bf->jobc, step, &sa.a, ev_now(bf->loop)));
}

/* ---- batches ------------------------------------------------------------ */

/*
 * Asks the throttle whether this worker's next batch may start. Returns
 * true to go now; otherwise a timer asks again (or the job stops, when
 * max-runtime is over).
 */
static bool pace(struct worker *w)
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
	report_throttle_change(bf);
	if (wait == 0)
		return true;
	if (wait < 0) {
		engine_stop(bf, "max-runtime reached");
		return false;
	}
	wait_then(w, wait, WAIT_BATCH);
	return false;
}

/* Whether batches may take the direct form (batch.h): not with the id
 * guard, not where a session could not create its counter. */
static bool use_direct(const struct backfill *bf)
{
	return !bf->sql.guard && !bf->no_counter;
}

/* The counter is made, or read again after a failed batch (or cannot be
 * made): by key at the session's start, on with the statements to
 * prepare; else on with the batch. */
static void after_counter(struct worker *w)
{
	if (w->bf->sql.by_key && w->prepared < BATCH_VARIANTS)
		after_session(w);
	else
		run_batch(w);
}

/* Physical order: the lease relation and the next batch's form, as one key. */
static long long leaf_key(const struct worker *w)
{
	return BATCH_PHYS_FORMS * (long long)w->lease_rel + batch_form_of(&w->b);
}

/* Has this session prepared the lease relation's statement in that form? */
static bool leaf_ready(const struct worker *w)
{
	for (int i = 0; i < w->nready; i++)
		if (w->ready[i] == leaf_key(w))
			return true;
	return false;
}

static void after_prepare_leaf(struct worker *w)
{
	if (w->nready == w->ready_cap) {
		int cap = w->ready_cap ? 2 * w->ready_cap : 8;
		long long *p = realloc(w->ready, (size_t)cap * sizeof *p);

		if (!p) {
			fail(w->bf, NB_EXIT_FAILURE, "out of memory");
			return;
		}
		w->ready = p;
		w->ready_cap = cap;
	}
	w->ready[w->nready++] = leaf_key(w);
	run_batch(w);
}

static void run_batch(struct worker *w)
{
	struct backfill *bf = w->bf;

	if (halted(bf)) {
		worker_stop(w);
		return;
	}
	if (w->session_stale) {
		w->session_stale = false;
		send_session(w, WORKER_SESSION_AGAIN);
		return;
	}
	/* The direct form where it can be (batch.h), once the session has
	 * its counter (by key made in after_session, before the statements
	 * were prepared; read again here after a failed batch). */
	w->b.direct = use_direct(bf) && !w->b.careful && batch_may_direct(&w->b);
	if (w->b.direct && !w->counter) {
		sent(w, WORKER_COUNTER, statements_counter(w));
		return;
	}
	if (!bf->sql.by_key && !leaf_ready(w)) {
		sent(w, WORKER_PREPARE_LEAF, statements_prepare_leaf(w));
		return;
	}
	if (!pace(w))
		return;
	fill_sent(&w->fill);
	sent(w, WORKER_BATCH, statements_batch(w));
}

static void after_batch(struct worker *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	double took = ev_time() - w->sent_at;
	struct batch_counts c;
	bool lease_done;
	int rc;

	if (bf->sql.by_key) {
		rc = batch_read_result(&w->b, res, &c);
		lease_done = c.found < w->fill.sent && !w->b.overflowed;
	} else {
		rc = batch_read_physical(&w->b, res, w->fill.sent, &c, &lease_done);
	}
	if (rc != 0) {
		fail(bf, NB_EXIT_FAILURE, "unexpected answer to a batch");
		return;
	}
	/* Busy rows are neither filled nor skipped by the UPDATE: their
	 * lease is walked again (batch.h). */
	job_pass_count(&bf->pass, c.found - c.busy, c.filled, c.clashed, c.left_null);
	bf->busy += c.busy;
	w->attempt = 0;
	fill_committed(&w->fill, c.filled, took);
	bf->metrics.batches++;
	throttle_after_batch(&bf->thr, &w->lane, ev_now(bf->loop), c.filled, took);
	log_debug("worker %d: lease %d: %ld rows found, %ld filled, %ld busy in %.1f ms%s",
		  w->id, w->b.lease, c.found, c.filled, c.busy, took * 1000,
		  !w->b.direct ? (w->b.careful ? " (careful)" : " (fast)") :
		  !bf->sql.by_key && bf->leaf[w->leaf].tally ? " (direct, counted)" : " (direct)");
	if (lease_done) {
		/* The statement marked the lease done; let it go. */
		carry_out(w, job_lease_done(&w->job));
		return;
	}
	/* A direct window holds about the batch's rows, a few less or more:
	 * whole all the same. */
	fill_adapt(&w->fill, &bf->fillc,
		   batch_whole_window(&w->b, c.found, w->fill.sent) ? w->fill.sent : c.found,
		   took);
	run_batch(w);
}

/* ---- sessions ----------------------------------------------------------- */

/* Sends the session settings (again after a reload). */
static void send_session(struct worker *w, enum worker_step step)
{
	sent(w, step, statements_session(w));
}

/* The job is claimed: startup is over, the parked workers go on. */
static void claimed(struct backfill *bf, struct worker *w)
{
	/* The sessions were set up before the walk was known: its plan cache
	 * mode comes with the next session setup, before a first batch. */
	for (int i = 0; i < bf->nworkers; i++)
		bf->workers[i].session_stale = true;
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
		if (&bf->workers[i] != w && bf->workers[i].step == WORKER_PARKED)
			after_session(&bf->workers[i]);
	after_session(w);
}

static void answer_setup(struct worker *w, PGresult *res)
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
		w->step = WORKER_SETUP; /* so that another worker takes the setup over */
		connection_lost(w, conn_error(&w->conn));
		return;
	}
}

/* Session ready: set up the job, wait for whoever does, or prepare. */
static void after_session(struct worker *w)
{
	struct backfill *bf = w->bf;

	w->step = WORKER_NONE;
	if (halted(bf)) {
		worker_stop(w);
		return;
	}
	switch (bf->setup) {
	case SETUP_NONE:
		bf->setup = SETUP_RUNNING;
		if (setup_begin(bf, w) == SETUP_LOST) {
			w->step = WORKER_SETUP;
			connection_lost(w, conn_error(&w->conn));
		}
		return;
	case SETUP_RUNNING:
		w->step = WORKER_PARKED;
		return;
	case SETUP_DONE:
		break;
	}
	if (bf->sql.by_key) {
		/* The direct variants need the counter to exist when prepared. */
		if (use_direct(bf) && !w->counter) {
			sent(w, WORKER_COUNTER, statements_counter(w));
			return;
		}
		while (w->prepared < BATCH_VARIANTS && (w->prepared & BATCH_DIRECT) &&
		       !use_direct(bf))
			w->prepared++;
		if (w->prepared < BATCH_VARIANTS) {
			sent(w, WORKER_PREPARE, statements_prepare(w, w->prepared));
			return;
		}
	}
	carry_out(w, job_acquire(&w->job));
}

/* ---- dispatch ----------------------------------------------------------- */

static void on_result(struct conn *conn, PGresult *res)
{
	struct worker *w = conn->data;
	struct backfill *bf = w->bf;
	enum worker_step step = w->step;

	if (bf->finished)
		return;
	if (!res) {
		connection_lost(w, conn_error(conn));
		return;
	}
	if (handle_error(w, res))
		return;
	w->step = WORKER_NONE;
	if (step == WORKER_STOPPED) {
		worker_close(w);
		return;
	}
	/* Stop at any boundary but the batch's own bookkeeping. */
	if (halted(bf) && step != WORKER_BATCH) {
		worker_stop(w);
		return;
	}
	switch (step) {
	case WORKER_SESSION: after_session(w); break;
	case WORKER_SETUP: answer_setup(w, res); break;
	case WORKER_PREPARE:
		w->prepared++;
		after_session(w);
		break;
	case WORKER_PREPARE_LEAF: after_prepare_leaf(w); break;
	case WORKER_COUNTER:
		if (batch_read_counter(&w->b, res) != 0) {
			fail(bf, NB_EXIT_FAILURE, "unexpected answer to the counter's setup");
			return;
		}
		w->counter = true;
		after_counter(w);
		break;
	case WORKER_JOB: answer_job(w, res); break;
	case WORKER_SESSION_AGAIN: run_batch(w); break;
	case WORKER_BATCH: after_batch(w, res); break;
	case WORKER_NONE:
	case WORKER_PARKED:
	case WORKER_STOPPED:
	case WORKER_SWITCHING:
		break;
	}
}

static void on_connect(struct conn *conn, bool ok, const char *err)
{
	struct worker *w = conn->data;
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
		worker_close(w);
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
	send_session(w, WORKER_SESSION);
}

static void start_connect(struct worker *w)
{
	struct backfill *bf = w->bf;
	char err[512];

	if (conn_connect(&w->conn, bf->cfg->dsn) == 0)
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
		fail(bf, NB_EXIT_CONFIG, "invalid --dsn: %s", conn_error(&w->conn));
		return;
	case PGCONN_DSN_OK:
		break;
	}
	if (bf->ever_connected)
		connection_lost(w, conn_error(&w->conn));
	else
		fail(bf, NB_EXIT_FAILURE, "cannot connect to the database: %s",
		     conn_error(&w->conn));
}

static void wait_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)loop;
	(void)revents;
	if (halted(w->bf)) {
		if (w->conn.state == CONN_IDLE)
			worker_stop(w);
		else
			worker_close(w);
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

	bf->workers = calloc((size_t)bf->nworkers, sizeof *bf->workers);
	if (!bf->workers)
		return -1;
	job_pass_init(&bf->pass, ev_now(bf->loop));
	setup_configure(bf);
	gethostname(host, sizeof host - 1);
	for (int i = 0; i < bf->nworkers; i++) {
		struct worker *w = &bf->workers[i];

		w->bf = bf;
		w->id = i + 1;
		conn_init(&w->conn, bf->loop, w->id, on_connect, on_result, w);
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
		struct worker *w = &bf->workers[i];

		ev_timer_stop(bf->loop, &w->wait);
		conn_close(&w->conn);
		batch_free(&w->b);
		free(w->ready);
		if (w->have_row)
			progress_job_free(&w->row);
	}
	free(bf->workers);
	free(bf->ids);
	setup_free(bf);
}

void engine_start(struct backfill *bf)
{
	for (int i = 0; i < bf->nworkers && !bf->finished; i++)
		start_connect(&bf->workers[i]);
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
		struct worker *w = &bf->workers[i];

		if (w->closed || w->conn.state == CONN_BUSY)
			continue; /* a busy worker stops when its result is in */
		if (w->conn.state == CONN_IDLE)
			worker_stop(w);
		else
			worker_close(w);
	}
}

void engine_reconfigure(struct backfill *bf)
{
	setup_configure(bf);
	for (int i = 0; i < bf->nworkers; i++) {
		fill_reconfigure(&bf->workers[i].fill, &bf->fillc);
		bf->workers[i].session_stale = true;  /* lock and statement timeouts */
	}
}

int engine_pids(const struct backfill *bf, int *pids, int max)
{
	int n = 0;

	for (int i = 0; i < bf->nworkers && n < max; i++)
		if (bf->workers[i].conn.conn && bf->workers[i].conn.state >= CONN_IDLE)
			pids[n++] = PQbackendPID(bf->workers[i].conn.conn);
	return n;
}
