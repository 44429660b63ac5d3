/*
 * backfill.c - the job's state machine on the libev loop.
 *
 * A connection walks these steps, each one query:
 *   SESSION -> TARGET -> SETUP -> CLAIM -> PREPARE_FIRST -> PREPARE_NEXT
 *   -> BATCH, BATCH, ... -> (end of pass) REMAINING? -> STATE
 * After a lost connection the walk starts again from SESSION: the target is
 * checked again and the cursor comes back from the progress table, where
 * the last committed batch left it.
 */
#include "backfill.h"

#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "batch.h"
#include "exit_codes.h"
#include "log.h"
#include "nanoid.h"
#include "progress.h"
#include "target.h"
#include "worker.h"

enum step {
	STEP_NONE,
	STEP_SESSION,
	STEP_TARGET,
	STEP_SETUP,
	STEP_CLAIM,
	STEP_PREPARE_FIRST,
	STEP_PREPARE_NEXT,
	STEP_BATCH,
	STEP_REMAINING,
	STEP_STATE,
};

/* What the wait timer leads to. */
enum wait_for { WAIT_RECONNECT, WAIT_BATCH };

/* What to do once a state write has committed. */
enum after_state { AFTER_EXIT, AFTER_IDLE };

#define BACKOFF_BASE 0.1         /* seconds, doubled per failed attempt */
#define BACKOFF_MAX 30.0

struct backfill {
	struct ev_loop *loop;
	struct config *cfg;
	struct worker w;
	struct nanoid gen;
	struct target target;
	struct progress prog;
	struct batch batch;
	bool have_target, have_prog, have_batch;

	enum step step;
	enum after_state after_state;
	ev_timer wait;               /* idle interval, backoff */
	enum wait_for waiting_for;
	bool idle;                   /* between service passes */
	ev_timer tick;               /* progress line */
	ev_signal sig_term, sig_int;

	bool stopping;
	const char *stop_reason;
	int exit_code;
	bool ever_connected;
	bool claimed;                /* the job row says running */
	int attempt;                 /* failed attempts in a row, for backoff */

	/* counters for the progress line */
	long long rows_total;        /* rows_done in the progress table */
	long long rows_run;          /* filled by this process */
	long long rows_last_tick;
	long long batches_run;
	double estimate;             /* rows to fill at start; < 0 unknown */
	ev_tstamp started, last_tick;

	char err[CONFIG_ERR_LEN];
};

static void start_connect(struct backfill *bf);
static void run_batch(struct backfill *bf);

static void finish(struct backfill *bf, int code)
{
	bf->exit_code = code;
	ev_timer_stop(bf->loop, &bf->wait);
	ev_timer_stop(bf->loop, &bf->tick);
	worker_close(&bf->w);
	ev_break(bf->loop, EVBREAK_ALL);
}

static void fail(struct backfill *bf, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct backfill *bf, int code, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_error("%s", line);
	finish(bf, code);
}

static void send_or_lost(struct backfill *bf, enum step step, int rc);

/* Seconds to wait before attempt number bf->attempt: exponential, with
 * jitter so that several workers or processes do not retry in lockstep. */
static double backoff(struct backfill *bf)
{
	double d = BACKOFF_BASE * pow(2.0, bf->attempt < 20 ? bf->attempt : 20);

	if (d > BACKOFF_MAX)
		d = BACKOFF_MAX;
	bf->attempt++;
	/* Uniform in [d/2, d]. */
	return d / 2 + d / 2 * randombytes_uniform(1001) / 1000.0;
}

static void wait_then(struct backfill *bf, double seconds, enum wait_for what)
{
	bf->waiting_for = what;
	ev_timer_stop(bf->loop, &bf->wait);
	ev_timer_set(&bf->wait, seconds, 0);
	ev_timer_start(bf->loop, &bf->wait);
}

static void stop_now(struct backfill *bf)
{
	if (bf->claimed && bf->w.state == WORKER_IDLE) {
		bf->after_state = AFTER_EXIT;
		send_or_lost(bf, STEP_STATE,
			     progress_send_state(&bf->prog, &bf->w, "stopped", false));
		return;
	}
	log_info("stopped: %lld rows filled by this run; run again to resume",
		 bf->rows_run);
	finish(bf, NB_EXIT_OK);
}

static void connection_lost(struct backfill *bf, const char *why)
{
	worker_close(&bf->w);
	bf->claimed = false;
	if (bf->stopping) {
		stop_now(bf);
		return;
	}
	{
		double d = backoff(bf);

		log_warn("connection lost (%s); reconnecting in %.1f s", why, d);
		wait_then(bf, d, WAIT_RECONNECT);
	}
}

/* A query could not be sent: the connection is gone. */
static void send_or_lost(struct backfill *bf, enum step step, int rc)
{
	if (rc == 0) {
		bf->step = step;
		return;
	}
	connection_lost(bf, worker_error(&bf->w));
}

/*
 * Errors that are worth a retry of the same batch: lock or statement
 * timeout, serialization failure, deadlock, and a unique violation (a
 * generated id met an existing one: the retry draws new ids).
 */
static bool transient(const char *state)
{
	return strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0 ||
	       strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	       strcmp(state, "23505") == 0;
}

/* Errors that mean the server or the connection is going away. */
static bool disconnecting(const char *state)
{
	return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	       strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

/*
 * Errors about the target or its permissions: no retry can fix them.
 * 42 is syntax error or access rule violation (undefined table or column,
 * insufficient privilege), 0A feature not supported, 3F invalid schema,
 * 22 data exception (a key value that does not convert).
 */
static bool configuration(const char *state)
{
	return strncmp(state, "42", 2) == 0 || strncmp(state, "0A", 2) == 0 ||
	       strncmp(state, "3F", 2) == 0 || strncmp(state, "22", 2) == 0;
}

static const char *step_name(enum step s)
{
	switch (s) {
	case STEP_SESSION: return "setting up the session";
	case STEP_TARGET: return "checking the target";
	case STEP_SETUP: return "creating the progress table";
	case STEP_CLAIM: return "claiming the job";
	case STEP_PREPARE_FIRST:
	case STEP_PREPARE_NEXT: return "preparing the batch statement";
	case STEP_BATCH: return "running a batch";
	case STEP_REMAINING: return "checking for NULLs left";
	case STEP_STATE: return "recording the job state";
	default: return "idle";
	}
}

/* Returns true if the result is an error, after dealing with it. */
static bool handle_error(struct backfill *bf, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state;
	char msg[1024];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return false;
	state = worker_sqlstate(res);
	worker_result_error(res, msg, sizeof msg);
	if (disconnecting(state)) {
		connection_lost(bf, msg);
		return true;
	}
	if (transient(state) && !bf->stopping) {
		double d = strcmp(state, "23505") == 0 ? 0 : backoff(bf);

		log_warn("%s: %s (SQLSTATE %s); retrying in %.1f s",
			 step_name(bf->step), msg, state, d);
		if (bf->step == STEP_BATCH) {
			wait_then(bf, d, WAIT_BATCH);
		} else {
			worker_close(&bf->w);
			bf->claimed = false;
			wait_then(bf, d, WAIT_RECONNECT);
		}
		return true;
	}
	if (configuration(state)) {
		fail(bf, NB_EXIT_CONFIG, "%s: %s", step_name(bf->step), msg);
		return true;
	}
	if (bf->stopping && transient(state)) {
		stop_now(bf);
		return true;
	}
	fail(bf, NB_EXIT_FAILURE, "%s: %s (SQLSTATE %s)", step_name(bf->step),
	     msg, state);
	return true;
}

/* Writes "a, b, c" to buf, cut short if it does not fit. */
static void join(char *buf, size_t len, char *const *items, int n)
{
	size_t used = 0;

	for (int i = 0; i < n; i++) {
		const char *parts[2] = { i ? ", " : "", items[i] };

		for (int j = 0; j < 2; j++)
			for (const char *p = parts[j]; *p && used + 1 < len; p++)
				buf[used++] = *p;
	}
	buf[used] = '\0';
}

static void log_start(struct backfill *bf, const struct progress_claim *claim)
{
	const struct target *t = &bf->target;
	char keys[512], cur[512];

	join(keys, sizeof keys, t->keys, t->nkeys);
	join(cur, sizeof cur, claim->cursor, claim->has_cursor ? t->nkeys : 0);
	if (claim->created || claim->rows_done == 0) {
		if (bf->estimate >= 0)
			log_info("job \"%s\": filling \"%s\".\"%s\".\"%s\" by key (%s) in "
				 "batches of %ld; about %.0f rows to fill",
				 bf->prog.job, t->schema, t->table, t->column, keys,
				 bf->cfg->batch_size, bf->estimate);
		else
			log_info("job \"%s\": filling \"%s\".\"%s\".\"%s\" by key (%s) in "
				 "batches of %ld", bf->prog.job, t->schema, t->table,
				 t->column, keys, bf->cfg->batch_size);
	} else if (claim->has_cursor) {
		log_info("job \"%s\": resuming after key (%s); %lld rows filled so far",
			 bf->prog.job, cur, claim->rows_done);
	} else {
		log_info("job \"%s\": resuming with a new pass; %lld rows filled so far",
			 bf->prog.job, claim->rows_done);
	}
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct backfill *bf = t->data;
	ev_tstamp now = ev_now(loop);
	double interval = now - bf->last_tick;
	double rate = interval > 0 ? (double)(bf->rows_run - bf->rows_last_tick) / interval : 0;
	double elapsed = now - bf->started;
	double avg = elapsed > 0 ? (double)bf->rows_run / elapsed : 0;

	(void)revents;
	if (bf->idle && bf->rows_run == bf->rows_last_tick) {
		bf->last_tick = now;
		return; /* nothing to say between service passes */
	}
	bf->last_tick = now;
	bf->rows_last_tick = bf->rows_run;
	if (bf->estimate > 0) {
		double left = bf->estimate - (double)bf->rows_run;
		double pct = 100.0 * (double)bf->rows_run / bf->estimate;

		if (left < 0)
			left = 0;
		if (pct > 99.9)
			pct = 99.9;
		if (avg > 0) {
			long eta = lround(left / avg);

			log_info("progress: %lld rows filled (%.1f%% of ~%.0f), %.0f rows/s, "
				 "ETA %ld:%02ld:%02ld", bf->rows_run, pct, bf->estimate,
				 rate, eta / 3600, eta / 60 % 60, eta % 60);
			return;
		}
		log_info("progress: %lld rows filled (%.1f%% of ~%.0f), %.0f rows/s",
			 bf->rows_run, pct, bf->estimate, rate);
		return;
	}
	log_info("progress: %lld rows filled, %.0f rows/s", bf->rows_run, rate);
}

static void end_pass(struct backfill *bf)
{
	if (bf->cfg->until_done) {
		/* Rows behind the cursor may have been set to NULL, or inserted
		 * with NULL, during the pass: only a fresh look says we are done. */
		send_or_lost(bf, STEP_REMAINING,
			     worker_send(&bf->w, bf->batch.sql_remaining, 0, NULL,
					 NULL, NULL, NULL));
		return;
	}
	bf->after_state = AFTER_IDLE;
	send_or_lost(bf, STEP_STATE,
		     progress_send_state(&bf->prog, &bf->w, "idle", true));
}

static void run_batch(struct backfill *bf)
{
	int nparams;
	const char *stmt;

	if (bf->stopping) {
		stop_now(bf);
		return;
	}
	stmt = batch_prepare_params(&bf->batch, &bf->gen, &nparams);
	send_or_lost(bf, STEP_BATCH,
		     worker_send_prepared(&bf->w, stmt, nparams, bf->batch.values,
					  bf->batch.lengths, bf->batch.formats));
}

static void wait_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct backfill *bf = t->data;

	(void)loop;
	(void)revents;
	if (bf->stopping) {
		stop_now(bf);
		return;
	}
	bf->idle = false;
	if (bf->waiting_for == WAIT_RECONNECT || bf->w.state != WORKER_IDLE)
		start_connect(bf);
	else
		run_batch(bf);
}

static void after_claim(struct backfill *bf, PGresult *res)
{
	struct progress_claim claim;

	if (progress_read_claim(&bf->prog, res, &claim, bf->err, sizeof bf->err) != 0) {
		fail(bf, NB_EXIT_CONFIG, "%s", bf->err);
		return;
	}
	bf->claimed = true;
	bf->rows_total = claim.rows_done;
	batch_set_cursor(&bf->batch, claim.has_cursor ? claim.cursor : NULL);
	log_start(bf, &claim);
	progress_claim_free(&claim);
	send_or_lost(bf, STEP_PREPARE_FIRST,
		     worker_send_prepare(&bf->w, BATCH_STMT_FIRST, bf->batch.sql_first,
					 BATCH_FIXED_PARAMS, bf->batch.types));
}

static void after_target(struct backfill *bf, PGresult *res)
{
	struct config *c = bf->cfg;
	size_t id_len = nanoid_length(&bf->gen);

	if (bf->have_target) {
		target_free(&bf->target);
		bf->have_target = false;
	}
	if (target_check(&bf->target, res, c, id_len, bf->err, sizeof bf->err) != 0) {
		fail(bf, NB_EXIT_CONFIG, "%s", bf->err);
		return;
	}
	bf->have_target = true;
	if (bf->estimate < 0 && !bf->ever_connected)
		bf->estimate = target_estimate(&bf->target);
	bf->ever_connected = true;
	if (bf->have_prog)
		progress_free(&bf->prog);
	if (bf->have_batch)
		batch_free(&bf->batch);
	bf->have_prog = bf->have_batch = false;
	if (progress_init(&bf->prog, bf->w.conn, c->progress_schema, c->job,
			  &bf->target, bf->err, sizeof bf->err) != 0) {
		fail(bf, NB_EXIT_FAILURE, "%s", bf->err);
		return;
	}
	bf->have_prog = true;
	if (batch_build(&bf->batch, bf->w.conn, &bf->target, bf->prog.table,
			bf->prog.job, id_len, bf->err, sizeof bf->err) != 0 ||
	    batch_set_limit(&bf->batch, c->batch_size) != 0) {
		fail(bf, NB_EXIT_FAILURE, "%s", bf->err[0] ? bf->err : "out of memory");
		return;
	}
	bf->have_batch = true;
	send_or_lost(bf, STEP_SETUP, progress_send_setup(&bf->prog, &bf->w));
}

static void after_batch(struct backfill *bf, PGresult *res)
{
	long found, filled;

	if (batch_read_result(&bf->batch, res, &found, &filled) != 0) {
		fail(bf, NB_EXIT_FAILURE, "unexpected answer to a batch");
		return;
	}
	bf->attempt = 0;
	bf->rows_run += filled;
	bf->rows_total += filled;
	bf->batches_run++;
	log_debug("batch: %ld rows found, %ld filled", found, filled);
	if (found < bf->batch.limit) {
		batch_set_cursor(&bf->batch, NULL);
		if (bf->stopping) {
			stop_now(bf);
			return;
		}
		end_pass(bf);
		return;
	}
	run_batch(bf);
}

static void after_remaining(struct backfill *bf, PGresult *res)
{
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f') {
		bf->after_state = AFTER_EXIT;
		send_or_lost(bf, STEP_STATE,
			     progress_send_state(&bf->prog, &bf->w, "done", true));
		return;
	}
	log_info("rows with NULL remain behind the cursor; starting another pass");
	run_batch(bf);
}

static void after_state(struct backfill *bf)
{
	const struct target *t = &bf->target;
	double elapsed = ev_now(bf->loop) - bf->started;

	if (bf->after_state == AFTER_IDLE && !bf->stopping) {
		log_info("pass finished: %lld rows filled by this run; next pass in %g s",
			 bf->rows_run, bf->cfg->idle_interval);
		bf->idle = true;
		wait_then(bf, bf->cfg->idle_interval, WAIT_BATCH);
		return;
	}
	if (bf->stopping) {
		log_info("stopped: %lld rows filled by this run; run again to resume",
			 bf->rows_run);
	} else {
		log_info("done: no NULL left in \"%s\".\"%s\".\"%s\"; %lld rows filled "
			 "by this run in %.1f s (%.0f rows/s), %lld in all",
			 t->schema, t->table, t->column, bf->rows_run, elapsed,
			 elapsed > 0 ? (double)bf->rows_run / elapsed : 0.0,
			 bf->rows_total);
	}
	finish(bf, NB_EXIT_OK);
}

static void on_result(struct worker *w, PGresult *res)
{
	struct backfill *bf = w->data;
	enum step step = bf->step;

	bf->step = STEP_NONE;
	if (!res) {
		bf->step = step;
		connection_lost(bf, worker_error(w));
		return;
	}
	bf->step = step;
	if (handle_error(bf, res))
		return;
	bf->step = STEP_NONE;

	switch (step) {
	case STEP_SESSION:
		send_or_lost(bf, STEP_TARGET, target_send(&bf->w, bf->cfg));
		break;
	case STEP_TARGET:
		after_target(bf, res);
		break;
	case STEP_SETUP:
		send_or_lost(bf, STEP_CLAIM, progress_send_claim(&bf->prog, &bf->w));
		break;
	case STEP_CLAIM:
		after_claim(bf, res);
		break;
	case STEP_PREPARE_FIRST:
		send_or_lost(bf, STEP_PREPARE_NEXT,
			     worker_send_prepare(&bf->w, BATCH_STMT_NEXT, bf->batch.sql_next,
						 BATCH_FIXED_PARAMS + bf->batch.nkeys,
						 bf->batch.types));
		break;
	case STEP_PREPARE_NEXT:
		run_batch(bf);
		break;
	case STEP_BATCH:
		after_batch(bf, res);
		break;
	case STEP_REMAINING:
		after_remaining(bf, res);
		break;
	case STEP_STATE:
		after_state(bf);
		break;
	case STEP_NONE:
		break;
	}
}

/*
 * Session settings, as parameters. Custom plans: the batch statement's
 * best plan depends on the batch size and the cursor; a generic plan
 * could trade the key index for a sequential scan.
 */
static const char session_sql[] =
	"SELECT set_config('plan_cache_mode', 'force_custom_plan', false)";

static void on_connect(struct worker *w, bool ok, const char *err)
{
	struct backfill *bf = w->data;

	if (!ok) {
		if (!bf->ever_connected) {
			fail(bf, NB_EXIT_FAILURE, "cannot connect to the database: %s", err);
			return;
		}
		connection_lost(bf, err);
		return;
	}
	if (bf->ever_connected)
		log_info("reconnected to the database");
	if (bf->stopping) {
		stop_now(bf);
		return;
	}
	send_or_lost(bf, STEP_SESSION,
		     worker_send(&bf->w, session_sql, 0, NULL, NULL, NULL, NULL));
}

static void start_connect(struct backfill *bf)
{
	if (worker_connect(&bf->w, bf->cfg->dsn) != 0) {
		fail(bf, bf->ever_connected ? NB_EXIT_FAILURE : NB_EXIT_CONFIG,
		     "cannot connect to the database: %s", worker_error(&bf->w));
		return;
	}
}

/*
 * Signals arrive here through ev_signal: libev catches them and runs this
 * callback from the loop, so it may do anything a normal callback does.
 */
static void signal_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct backfill *bf = s->data;

	(void)loop;
	(void)revents;
	if (bf->stopping)
		return;
	bf->stopping = true;
	bf->stop_reason = s->signum == SIGINT ? "SIGINT" : "SIGTERM";
	log_info("stopping on %s after the batch in flight", bf->stop_reason);
	if (bf->w.state == WORKER_BUSY)
		return; /* the result handler sees stopping */
	ev_timer_stop(bf->loop, &bf->wait);
	stop_now(bf);
}

int backfill_run(struct config *cfg)
{
	struct backfill bf;
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);

	memset(&bf, 0, sizeof bf);
	bf.loop = loop;
	bf.cfg = cfg;
	bf.estimate = -1;
	bf.exit_code = NB_EXIT_FAILURE;
	if (nanoid_init(&bf.gen, cfg->alphabet, (size_t)cfg->size, cfg->prefix) != 0) {
		log_error("out of memory");
		return NB_EXIT_FAILURE;
	}
	worker_init(&bf.w, loop, 1, on_connect, on_result, &bf);

	ev_timer_init(&bf.wait, wait_cb, 0, 0);
	bf.wait.data = &bf;
	ev_timer_init(&bf.tick, tick_cb, cfg->progress_interval, cfg->progress_interval);
	bf.tick.data = &bf;
	ev_signal_init(&bf.sig_term, signal_cb, SIGTERM);
	bf.sig_term.data = &bf;
	ev_signal_init(&bf.sig_int, signal_cb, SIGINT);
	bf.sig_int.data = &bf;
	ev_signal_start(loop, &bf.sig_term);
	ev_signal_start(loop, &bf.sig_int);
	/* libpq writes to sockets; a peer that went away must not kill us. */
	signal(SIGPIPE, SIG_IGN);

	bf.started = bf.last_tick = ev_now(loop);
	ev_timer_start(loop, &bf.tick);
	start_connect(&bf);
	if (bf.w.state == WORKER_CONNECTING)
		ev_run(loop, 0);

	ev_signal_stop(loop, &bf.sig_term);
	ev_signal_stop(loop, &bf.sig_int);
	ev_timer_stop(loop, &bf.tick);
	ev_timer_stop(loop, &bf.wait);
	worker_close(&bf.w);
	if (bf.have_batch)
		batch_free(&bf.batch);
	if (bf.have_prog)
		progress_free(&bf.prog);
	if (bf.have_target)
		target_free(&bf.target);
	nanoid_free(&bf.gen);
	return bf.exit_code;
}
