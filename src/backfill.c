/*
 * backfill.c - the job's workers and their state machine on the libev loop.
 *
 * Each worker is one connection. After connecting it walks:
 *
 *   SESSION -> (one worker, once per process: TARGET -> EXISTS [-> SETUP]
 *   -> CLAIM) -> PREPARE x4 -> acquire a lease -> BATCH, BATCH, ... ->
 *   UNLOCK -> acquire the next lease ...
 *
 * Acquiring a lease (see progress.h for the tables):
 *   LIST open leases -> TRY_LOCK each -> TAKE the first one locked (a lease
 *   whose worker died: its lock went with its connection);
 *   none -> CARVE_LOCK -> READ_JOB -> BOUNDARY (the key lease-size rows
 *   past the frontier) -> NEW_LEASE (insert + lock) -> UNLOCK carve;
 *   no frontier left and no open lease -> the pass is over: REMAINING (with
 *   --until-done) -> PASS_END -> UNLOCK carve.
 *
 * Every statement commits on its own, and every lock is a session advisory
 * lock, so a worker may be dropped at any step boundary: its locks go with
 * its connection and the tables stay consistent. That is how stop, lost
 * connections and retries are handled: close, and (unless stopping) connect
 * again and acquire again.
 */
#include "backfill.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "batch.h"
#include "exit_codes.h"
#include "health.h"
#include "idspace.h"
#include "log.h"
#include "metrics.h"
#include "nanoid.h"
#include "notify.h"
#include "pgtext.h"
#include "pooler.h"
#include "progress.h"
#include "target.h"
#include "throttle.h"
#include "throttle_env.h"
#include "worker.h"

_Static_assert(METRICS_MAX_REASONS > THROTTLE_NCAUSES,
	       "every throttle cause has a metrics label of its own");

enum step {
	STEP_NONE,
	STEP_PARKED,        /* connected, waiting for another worker's setup */
	STEP_SESSION,
	STEP_TARGET,
	STEP_ESTIMATE,
	STEP_TRY_ID,        /* a sample id through the column type's input */
	STEP_EXISTS,
	STEP_SETUP,
	STEP_CLAIM,
	STEP_PREPARE,
	STEP_PREPARE_LEAF,  /* physical: a relation's batch statement */
	STEP_LIST,
	STEP_TRY_LOCK,
	STEP_TAKE,
	STEP_CARVE_LOCK,
	STEP_READ_JOB,
	STEP_START_PASS,
	STEP_PROBE,         /* service: anything to do before a new pass? */
	STEP_PROBE_RESTORE, /* session settings again after a full probe */
	STEP_STAY_IDLE,
	STEP_BOUNDARY,
	STEP_CARVE,         /* physical order's BOUNDARY */
	STEP_FRONTIER_DONE,
	STEP_NEW_LEASE,
	STEP_LEASE_GONE,
	STEP_REMAINING,
	STEP_RESTORE,       /* session settings again after REMAINING */
	STEP_UNFILLED,      /* rows no pass could fill: how many, which */
	STEP_UNFILLED_RESTORE, /* session settings again after UNFILLED */
	STEP_SESSION_AGAIN, /* session settings again after a reload */
	STEP_PASS_END,
	STEP_UNLOCK,
	STEP_BATCH,
	STEP_STOPPED,
};

/* What a worker does once an advisory lock has been released. */
enum after_unlock {
	AFTER_WORK,           /* run batches in the lease just taken */
	AFTER_ACQUIRE,        /* look for work again now */
	AFTER_NEXT_CANDIDATE, /* try the next open lease */
	AFTER_WAIT,           /* look for work again after after_wait seconds */
	AFTER_JOB_DONE,       /* --until-done found no NULL: finish */
};

enum wait_for { WAIT_CONNECT, WAIT_ACQUIRE, WAIT_BATCH };

enum setup_state { SETUP_NONE, SETUP_RUNNING, SETUP_DONE };

#define BACKOFF_BASE 0.1         /* seconds, doubled per failed attempt */
#define BACKOFF_MAX 30.0
#define BUSY_POLL 0.5            /* all leases taken: look again after this */
#define MAX_CANDIDATES 64

/* Passes in a row that filled nothing while a trigger kept rows NULL,
 * before --until-done stops and a service says so and backs off. */
#define STALL_PASSES 3
#define STALL_WAIT_MAX 3600.0    /* seconds: the longest service backoff */
/* Passes in a row that filled nothing because every id drawn was taken:
 * each gives each row a fresh draw, so only many say the space is full
 * (and more in a small space, where the last free ids are found by
 * chance: see clash_passes_max()). */
#define CLASH_PASSES 50
/* After a pass that filled nothing, the next waits as long as that pass
 * took (within these bounds): rows another session keeps changing are
 * retried, but the table is re-read at most half of the time. */
#define EMPTY_PASS_WAIT_MIN 0.01
#define EMPTY_PASS_WAIT_MAX 1.0

/* Unique violations in a row, the batch down to one row, before the id
 * space counts as used up (at least: more where the space is nearly
 * full, see collision_budget()); the wait between retries doubles to a
 * cap (a new draw, not time, cures a collision: short waits). */
#define COLLISION_BUDGET 20
#define COLLISION_WAIT_FIRST 0.01
#define COLLISION_WAIT_MAX 0.1

/* Expected collisions over the table from which batches skip a row whose
 * new id is taken (see batch.h), rather than fail on the unique index. */
#define GUARD_COLLISIONS 1.0

struct backfill;

/* The physical batch statement of one relation of the target. */
struct leaf_sql {
	Oid rel;
	char *sql;
};

struct wk {
	struct worker conn;
	struct backfill *bf;
	int id;
	enum step step;
	bool closed;                 /* done for good */
	ev_timer wait;
	enum wait_for waiting_for;
	int attempt;                 /* failed attempts in a row, for backoff */
	ev_tstamp lost_since;        /* 0 while connected */
	int prepared;                /* batch statement variants prepared */

	struct batch b;
	const char *leaf_sql;        /* physical: the batch statement of the lease's relation */
	Oid lease_rel;               /* physical: that relation */
	Oid *ready;                  /* physical: relations whose statement this
				      * session has prepared */
	int nready, ready_cap;
	bool has_lease;
	int cand[MAX_CANDIDATES];
	int ncand, icand;
	int unlocking;               /* lease whose lock is being released */
	enum after_unlock after;
	double after_wait;
	struct progress_job job;     /* as read under the carve lock */
	bool remaining;              /* REMAINING found a NULL */
	bool probe_sweep;            /* the probe looks at the whole table */
	bool probe_found;            /* it found a NULL */
	bool probe_has_max;
	char probe_max[32];          /* the integer key's max it saw */
	bool session_stale;          /* a reload changed the timeouts */
	bool have_job;

	struct throttle_lane lane;   /* this worker's pacing */
	int timeouts;                /* lock/statement timeouts in a row */
	int collisions;              /* unique violations in a row */
	long collide_cap;            /* batch size those allow; 0: no cap */
	long want;                   /* batch size before the rate's cap: the
	                              * configured or adapted one */
	long sent_limit;             /* the batch in flight's size: a reload
				      * may change b.limit meanwhile */
	ev_tstamp sent_at;
	double rate;                 /* rows/s, smoothed */
	char owner[128];
};

struct backfill {
	struct ev_loop *loop;
	struct config *cfg;
	struct nanoid gen;
	unsigned char *ids;          /* one batch's ids; libpq copies them on send */
	size_t ids_cap;
	struct target target;
	struct progress prog;
	struct batch_sql sql;
	struct leaf_sql *leaf;       /* physical: batch statements by relation */
	int nleaf, leaf_cap;
	bool have_target, have_prog, have_sql;
	enum setup_state setup;

	struct wk *wk;
	int nworkers;
	ev_timer tick;
	ev_timer watchdog;           /* WATCHDOG=1 when systemd asks for it */
	ev_signal sig_term, sig_int, sig_hup;
	int argc;                    /* to parse again on reload */
	char **argv;
	struct metrics metrics;
	bool ready_sent;

	struct throttle thr;
	struct worker mon;           /* health queries, on a connection of their own */
	ev_timer health;
	ev_timer runtime;            /* --max-runtime */
	ev_signal sig_usr1, sig_usr2;

	bool stopping;
	bool job_done;
	bool ever_connected;
	bool pooler_ok;
	bool finished;
	int exit_code;

	/* Since the last pass ended, rows batches found and: */
	long long pass_skipped;      /* the UPDATE skipped (a trigger, or a
				      * concurrent change) */
	long long pass_left_null;    /* updated, NULL after (a trigger) */
	long long pass_clashed;      /* the id guard skipped */
	int empty_passes;            /* passes in a row that filled nothing */
	ev_tstamp pass_ended;        /* when this process saw the last pass end */
	int clash_passes;            /* of those, only for taken ids */
	bool stall_clashed;          /* stopped for taken ids */
	int stalled;                 /* passes in a row without progress */
	double stall_mult;           /* service: the idle interval's backoff */
	bool stall_logged;
	long long collisions;        /* unique violations retried */
	bool collision_logged;
	double log10_ids;            /* the id space, idspace.h */

	long long rows_before;       /* filled before this run, per the claim */
	long long rows_run;          /* filled by this process */
	long long rows_last_tick;
	double estimate;             /* rows to fill at start; < 0 unknown */
	ev_tstamp started, last_tick;
	char err[CONFIG_ERR_LEN];
};

static void acquire(struct wk *w);
static void run_batch(struct wk *w);
static void start_connect(struct wk *w);
static void after_session(struct wk *w);
static void wk_stop(struct wk *w);
static void send_session(struct wk *w, enum step step);
static const char *leaf_statement(struct wk *w, Oid rel, const char *schema,
				  const char *name);
static void after_probe_restored(struct wk *w);
static void after_try_id(struct wk *w, PGresult *res);
static bool stalled(struct backfill *bf, const struct progress_job *j);
static double idle_wait(const struct backfill *bf);
static void health_poll(struct backfill *bf);

/* ---- process-level ------------------------------------------------------ */

static void finish(struct backfill *bf, int code)
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
	ev_timer_stop(bf->loop, &bf->tick);
	ev_timer_stop(bf->loop, &bf->health);
	ev_timer_stop(bf->loop, &bf->runtime);
	worker_close(&bf->mon);
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
	finish(bf, code);
}

static int live_workers(const struct backfill *bf)
{
	int n = 0;

	for (int i = 0; i < bf->nworkers; i++)
		n += !bf->wk[i].closed;
	return n;
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

/* ---- a worker's life ---------------------------------------------------- */

static void wk_close(struct wk *w)
{
	struct backfill *bf = w->bf;

	ev_timer_stop(bf->loop, &w->wait);
	worker_close(&w->conn);
	w->closed = true;
	w->has_lease = false;
	w->step = STEP_NONE;
	if (live_workers(bf) == 0 && !bf->finished) {
		if (bf->job_done) {
			finish(bf, NB_EXIT_OK);
			return;
		}
		log_info("stopped: %lld rows filled by this run; run again to resume",
			 bf->rows_run);
		finish(bf, NB_EXIT_OK);
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
	    w->conn.state == WORKER_IDLE && w->step != STEP_STOPPED) {
		if (progress_send_stopped(&bf->prog, &w->conn) == 0) {
			w->step = STEP_STOPPED;
			return;
		}
	}
	wk_close(w);
}

static void wait_then(struct wk *w, double seconds, enum wait_for what)
{
	w->waiting_for = what;
	ev_timer_stop(w->bf->loop, &w->wait);
	ev_timer_set(&w->wait, seconds > 0 ? seconds : 0, 0);
	ev_timer_start(w->bf->loop, &w->wait);
}

/* Seconds before attempt number w->attempt: exponential, with jitter so
 * that workers and processes do not retry in lockstep. */
static double backoff(struct wk *w)
{
	double d = BACKOFF_BASE * pow(2.0, w->attempt < 20 ? w->attempt : 20);

	if (d > BACKOFF_MAX)
		d = BACKOFF_MAX;
	w->attempt++;
	return d / 2 + d / 2 * randombytes_uniform(1001) / 1000.0;
}

static void connection_lost(struct wk *w, const char *why)
{
	struct backfill *bf = w->bf;
	ev_tstamp now = ev_now(bf->loop);
	double d;

	worker_close(&w->conn);
	w->has_lease = false;
	w->prepared = 0;
	w->nready = 0;
	if (bf->setup == SETUP_RUNNING && w->step >= STEP_TARGET && w->step <= STEP_CLAIM)
		bf->setup = SETUP_NONE;
	w->step = STEP_NONE;
	if (bf->stopping || bf->job_done) {
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
static void sent(struct wk *w, enum step step, int rc)
{
	if (rc == 0) {
		w->step = step;
		return;
	}
	connection_lost(w, worker_error(&w->conn));
}

/*
 * Errors worth a retry: lock or statement timeout, serialization failure,
 * deadlock, and a unique violation outside a batch (a batch's has a
 * policy of its own: collision()).
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
 * Errors about the target or permissions: no retry can fix them. 42 is
 * syntax error or access rule violation (undefined table or column,
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
	case STEP_SESSION:
	case STEP_SESSION_AGAIN: return "setting up the session";
	case STEP_TARGET:
	case STEP_ESTIMATE:
	case STEP_TRY_ID: return "checking the target";
	case STEP_EXISTS:
	case STEP_SETUP: return "creating the progress tables";
	case STEP_CLAIM: return "claiming the job";
	case STEP_PREPARE:
	case STEP_PREPARE_LEAF: return "preparing the batch statements";
	case STEP_LIST:
	case STEP_TRY_LOCK:
	case STEP_TAKE:
	case STEP_UNLOCK: return "taking a lease";
	case STEP_PROBE:
	case STEP_PROBE_RESTORE:
	case STEP_STAY_IDLE: return "looking for NULLs before a pass";
	case STEP_CARVE_LOCK:
	case STEP_READ_JOB:
	case STEP_START_PASS:
	case STEP_BOUNDARY:
	case STEP_CARVE:
	case STEP_FRONTIER_DONE:
	case STEP_NEW_LEASE: return "carving a lease";
	case STEP_LEASE_GONE: return "taking a lease";
	case STEP_REMAINING:
	case STEP_RESTORE: return "checking for NULLs left";
	case STEP_UNFILLED:
	case STEP_UNFILLED_RESTORE: return "counting the rows left NULL";
	case STEP_PASS_END: return "ending the pass";
	case STEP_BATCH: return "running a batch";
	case STEP_STOPPED: return "recording the stop";
	default: return "idle";
	}
}

/*
 * Misses in a row, one id at a time, that say the space is used up: where
 * a fraction u of it is taken, k misses in a row happen by chance with
 * probability u^k, kept below 1e-6 (20 at least, 100,000 at most).
 */
static int collision_budget(const struct backfill *bf)
{
	const struct target *t = &bf->target;
	double rows = target_rows(t);
	double used = bf->log10_ids < 300 && rows > 0 ? rows / pow(10, bf->log10_ids) : 0;
	double k;

	if (used <= 0)
		return COLLISION_BUDGET;
	if (used >= 0.99999)
		return 100000;
	k = ceil(log(1e-6) / log(used));
	return k < COLLISION_BUDGET ? COLLISION_BUDGET : k > 100000 ? 100000 : (int)k;
}

/*
 * A batch met a unique index. On the column, new ids cure it: retry at
 * once, then with a doubling wait and a halving batch while it repeats;
 * at one row a batch, COLLISION_BUDGET misses in a row mean the id space
 * is used up. On any other index no id can cure it: stop, naming it.
 */
static int collision_budget(const struct backfill *bf);

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
	w->collisions++;
	if (w->sent_limit <= 1 && w->collisions > collision_budget(bf)) {
		fail(bf, NB_EXIT_FAILURE, "unique index \"%s\" on \"%s\".\"%s\": %d new "
		     "ids in a row were taken already; the 10^%.1f distinct ids of "
		     "this format are used up: use a larger --size or --alphabet",
		     index, schema, table, w->collisions, bf->log10_ids);
		return;
	}
	if (w->collisions >= 2)
		w->collide_cap = w->sent_limit / 2 > 1 ? w->sent_limit / 2 : 1;
	d = w->collisions < 2 ? 0 :
	    fmin(COLLISION_WAIT_FIRST * pow(2, w->collisions - 2), COLLISION_WAIT_MAX);
	if (!bf->collision_logged) {
		bf->collision_logged = true;
		log_warn("worker %d: a new id is taken already in unique index \"%s\"; "
			 "retrying with new ids, with a smaller batch while it repeats "
			 "(the progress line counts them)", w->id, index);
	} else {
		log_debug("worker %d: unique violation %d in a row in \"%s\"; batch "
			  "%ld, retrying in %.2f s", w->id, w->collisions, index,
			  w->collide_cap ? w->collide_cap : w->sent_limit, d);
	}
	w->step = STEP_NONE;
	wait_then(w, d, WAIT_BATCH);
}

/* Returns true if res is an error, after dealing with it. */
static bool handle_error(struct wk *w, enum step step, PGresult *res)
{
	struct backfill *bf = w->bf;
	ExecStatusType st = PQresultStatus(res);
	const char *state;
	char msg[1024];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return false;
	state = pgtext_sqlstate(res);
	pgtext_result_error(res, msg, sizeof msg);
	/* A connection that dies mid-query gives an error with no SQLSTATE. */
	if (disconnecting(state) || state[0] == '\0' ||
	    PQstatus(w->conn.conn) == CONNECTION_BAD) {
		connection_lost(w, msg);
		return true;
	}
	if (step == STEP_TRY_ID) {
		after_try_id(w, res);
		return true;
	}
	if (step == STEP_BATCH && strcmp(state, "23505") == 0) {
		collision(w, res, msg);
		return true;
	}
	if (step == STEP_BATCH && strncmp(state, "23", 2) == 0) {
		/* A check, foreign key, exclusion or not-null constraint: it
		 * rejects the row whatever the id, so no retry can help. */
		const char *con = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

		fail(bf, NB_EXIT_FAILURE, "a batch was rejected by constraint \"%s\" "
		     "(SQLSTATE %s), which no new id can satisfy: %s",
		     con ? con : "?", state, msg);
		return true;
	}
	if (transient(state)) {
		double d;

		if (bf->stopping) {
			wk_stop(w);
			return true;
		}
		bf->metrics.retries++;
		if (step == STEP_BATCH) {
			throttle_after_batch(&bf->thr, &w->lane, ev_now(bf->loop), 0,
					     ev_time() - w->sent_at);
			/* Back off, and split a batch that keeps timing out. */
			d = backoff(w);
			if (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0) {
				if (++w->timeouts >= 2 && w->b.limit > bf->cfg->min_batch_size) {
					w->want = w->b.limit / 2 > bf->cfg->min_batch_size ?
						  w->b.limit / 2 : bf->cfg->min_batch_size;
					w->b.limit = w->want;
					log_warn("worker %d: batch split to %ld rows after %d timeouts",
						 w->id, w->want, w->timeouts);
				}
			}
			log_warn("worker %d: %s: %s (SQLSTATE %s); retrying in %.1f s",
				 w->id, step_name(step), msg, state, d);
			w->step = STEP_NONE;
			wait_then(w, d, WAIT_BATCH);
			return true;
		}
		/* Elsewhere a lock may be held: drop the connection, start over. */
		d = backoff(w);
		log_warn("worker %d: %s: %s (SQLSTATE %s); retrying in %.1f s",
			 w->id, step_name(step), msg, state, d);
		worker_close(&w->conn);
		w->has_lease = false;
		w->prepared = 0;
		w->nready = 0;
		if (bf->setup == SETUP_RUNNING && step >= STEP_TARGET && step <= STEP_CLAIM)
			bf->setup = SETUP_NONE;
		w->step = STEP_NONE;
		wait_then(w, d, WAIT_CONNECT);
		return true;
	}
	if ((step == STEP_BATCH || step == STEP_PREPARE_LEAF) && !bf->sql.by_key &&
	    strcmp(state, "42P01") == 0) {
		/* A partition dropped while we fill it: the rest of the tree goes on. */
		log_info("worker %d: lease %d: its table is gone (%s); dropping the lease",
			 w->id, w->b.lease, msg);
		w->has_lease = false;
		sent(w, STEP_LEASE_GONE, progress_send_lease_gone(&bf->prog, &w->conn,
								  w->b.lease));
		return true;
	}
	if (configuration(state)) {
		fail(bf, NB_EXIT_CONFIG, "%s: %s", step_name(step), msg);
		return true;
	}
	fail(bf, NB_EXIT_FAILURE, "%s: %s (SQLSTATE %s)", step_name(step), msg, state);
	return true;
}

/* ---- progress line ------------------------------------------------------ */

/* Writes the metrics file, if one is configured. */
static void write_metrics(struct backfill *bf, double rate)
{
	struct metrics *m = &bf->metrics;

	if (!bf->cfg->metrics_file)
		return;
	m->up = !bf->finished;
	m->state = bf->job_done ? "done" : bf->stopping ? "stopping" :
		   bf->setup == SETUP_DONE ? "running" : "starting";
	m->rows_filled = bf->rows_run;
	m->rows_per_second = rate;
	m->rows_left = bf->estimate > 0 ? bf->estimate - (double)bf->rows_run : -1;
	if (m->rows_left < 0 && bf->estimate > 0)
		m->rows_left = 0;
	m->nthrottled = 0;
	for (int c = 0; c < THROTTLE_NCAUSES && m->nthrottled < METRICS_MAX_REASONS; c++) {
		double secs = throttle_seconds(&bf->thr, (enum throttle_cause)c);

		if (secs > 0)
			metrics_add_throttled(m, throttle_cause_name((enum throttle_cause)c), secs);
	}
	m->replica_lag_bytes = bf->thr.health.have && bf->thr.health.replicas > 0 ?
			       bf->thr.health.lag_bytes : -1;
	if (metrics_write_file(bf->cfg->metrics_file, m, bf->have_prog ? bf->prog.job : "") != 0)
		log_warn("cannot write the metrics file %s", bf->cfg->metrics_file);
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct backfill *bf = t->data;
	ev_tstamp now = ev_now(loop);
	double interval = now - bf->last_tick;
	double rate = interval > 0 ? (double)(bf->rows_run - bf->rows_last_tick) / interval : 0;
	double elapsed = now - bf->started;
	double avg = elapsed > 0 ? (double)bf->rows_run / elapsed : 0;
	char line[2048]; /* room for any double gcc can imagine */

	(void)revents;
	write_metrics(bf, rate);
	if (bf->rows_run == bf->rows_last_tick && bf->rows_run > 0 &&
	    !throttle_paused(&bf->thr)) {
		bf->last_tick = now;
		return; /* nothing new to say, e.g. between service passes */
	}
	bf->last_tick = now;
	bf->rows_last_tick = bf->rows_run;
	/* An estimate the run has outgrown (the planner's guess for a table
	 * never analyzed) says nothing any more: counts only then. */
	if (bf->estimate > 0 && (double)bf->rows_run < bf->estimate) {
		double left = bf->estimate - (double)bf->rows_run;
		double pct = 100.0 * (double)bf->rows_run / bf->estimate;
		char eta[64] = "";

		if (left < 0)
			left = 0;
		if (pct > 99.9)
			pct = 99.9;
		if (avg > 0) {
			long secs = lround(left / avg);

			snprintf(eta, sizeof eta, ", ETA %ld:%02ld:%02ld", secs / 3600,
				 secs / 60 % 60, secs % 60);
		}
		snprintf(line, sizeof line, "%lld rows filled (%.1f%% of ~%.0f), %.0f rows/s%s",
			 bf->rows_run, pct, bf->estimate, rate, eta);
	} else {
		snprintf(line, sizeof line, "%lld rows filled, %.0f rows/s", bf->rows_run, rate);
	}
	{
		const char *why = throttle_reason(&bf->thr, now);
		char taken[64] = "";

		if (bf->collisions > 0)
			snprintf(taken, sizeof taken, "; %lld batches retried for a taken id",
				 bf->collisions);
		log_info("progress: %s%s%s%s", line, taken, why ? "; throttled: " : "",
			 why ? why : "");
		notify_status("%s%s%s", line, why ? "; throttled: " : "", why ? why : "");
	}
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	/* Sent from the loop: a loop stuck anywhere stops the pings. */
	notify_watchdog();
}

/* ---- setup, once per process -------------------------------------------- */

static void log_claim(struct backfill *bf, const struct progress_claim *claim)
{
	const struct target *t = &bf->target;
	char keys[512];

	join(keys, sizeof keys, t->keys, t->nkeys);
	if (claim->created || (claim->rows_done == 0 && claim->open_leases == 0)) {
		char about[400] = "";
		char by[600];

		if (bf->estimate >= 1)
			snprintf(about, sizeof about, "; about %.0f rows to fill", bf->estimate);
		if (t->walk == WALK_KEY)
			snprintf(by, sizeof by, "by key (%s)", keys);
		else
			snprintf(by, sizeof by, "in physical order");
		log_info("job \"%s\": filling \"%s\".\"%s\".\"%s\" %s (%s) in batches "
			 "of %ld with %ld worker%s%s", bf->prog.job, t->schema, t->table,
			 t->column, by, t->walk_reason, bf->cfg->batch_size,
			 bf->cfg->workers, bf->cfg->workers == 1 ? "" : "s", about);
		return;
	}
	log_info("job \"%s\": resuming in %s order: %lld rows filled so far, %ld open "
		 "lease%s (%ld started)", bf->prog.job, target_walk_name(t->walk),
		 claim->rows_done, claim->open_leases,
		 claim->open_leases == 1 ? "" : "s", claim->leases_with_cursor);
}

static void after_target(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	struct config *c = bf->cfg;
	size_t id_len = nanoid_length(&bf->gen);

	if (bf->have_target) {
		/* A second check after a lost connection: keep the first. */
		sent(w, STEP_EXISTS, progress_send_exists(&bf->prog, &w->conn));
		return;
	}
	if (target_check(&bf->target, res, c, id_len, bf->err, sizeof bf->err) != 0) {
		fail(bf, NB_EXIT_CONFIG, "%s", bf->err);
		return;
	}
	bf->have_target = true;
	bf->estimate = target_estimate(&bf->target);
	if (progress_init(&bf->prog, w->conn.conn, c->progress_schema, c->job,
			  &bf->target, bf->err, sizeof bf->err) != 0) {
		fail(bf, NB_EXIT_FAILURE, "%s", bf->err);
		return;
	}
	bf->have_prog = true;
	if (batch_sql_build(&bf->sql, w->conn.conn, &bf->target, bf->prog.leases,
			    id_len, false, bf->err, sizeof bf->err) != 0) {
		fail(bf, NB_EXIT_FAILURE, "%s", bf->err);
		return;
	}
	bf->have_sql = true;
	sent(w, STEP_ESTIMATE, worker_send(&w->conn, bf->sql.estimate, 0, NULL, NULL,
					   NULL, NULL));
}

static int rebuild_sql(struct backfill *bf, struct wk *w, bool guard);
static void send_try_id(struct wk *w);

/*
 * The birthday bound for the ids over every row of the table (idspace.h),
 * before anything is written: refuse, warn, or go on; and where a unique
 * index will meet repeated ids often, batches that skip a taken id.
 */
static int judge_ids(struct backfill *bf, struct wk *w)
{
	const struct target *t = &bf->target;
	double rows = target_rows(t);
	char line[1024];

	bf->log10_ids = idspace_log10(bf->gen.alphabet_len, bf->cfg->size);
	switch (idspace_judge(bf->log10_ids, rows, t->unique_index,
			      bf->cfg->allow_duplicates, line, sizeof line)) {
	case IDSPACE_REFUSE:
		fail(bf, NB_EXIT_CONFIG, "%s", line);
		return -1;
	case IDSPACE_WARN:
		log_warn("%s", line);
		break;
	case IDSPACE_OK:
		break;
	}
	if (t->unique_index && t->plain_text && rows > 0 &&
	    idspace_expected_collisions(bf->log10_ids, rows) >= GUARD_COLLISIONS) {
		log_info("batches skip a row whose new id is taken already; "
			 "the next pass gives it another");
		return rebuild_sql(bf, w, true);
	}
	return 0;
}

/*
 * The planner's row count of the whole table: it exists without ANALYZE
 * (the planner scales by the relation's size then), where reltuples is -1.
 */
static void after_estimate(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;

	if (PQntuples(res) == 1) {
		const char *rows = strstr(PQgetvalue(res, 0, 0), "\"Plan Rows\":");

		if (rows)
			bf->target.planned_rows = strtod(rows + strlen("\"Plan Rows\":"), NULL);
	}
	bf->estimate = target_estimate(&bf->target);
	if (judge_ids(bf, w) != 0)
		return;
	send_try_id(w);
}

/*
 * A sample id, sent as a parameter of the column's own type: the server
 * reads it with the type's input function, which checks a domain's
 * constraints at every level (SQLSTATE 23514) and its length, before
 * anything is written. Nothing is built into the SQL text.
 */
static void send_try_id(struct wk *w)
{
	struct backfill *bf = w->bf;
	size_t len = nanoid_length(&bf->gen);
	char id[NANOID_MAX_PREFIX + NANOID_MAX_SIZE + 1];
	const char *values[1] = { id };
	const Oid types[1] = { bf->target.col_type };

	nanoid_generate(&bf->gen, id);
	id[len] = '\0';
	sent(w, STEP_TRY_ID, worker_send(&w->conn, "SELECT $1::text", 1, types, values,
					 NULL, NULL));
}

static void after_try_id(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];

		pgtext_result_error(res, msg, sizeof msg);
		fail(bf, NB_EXIT_CONFIG, "column \"%s\" of \"%s\".\"%s\" does not accept "
		     "a generated id: %s (SQLSTATE %s)", bf->target.column,
		     bf->target.schema, bf->target.table, msg, pgtext_sqlstate(res));
		return;
	}
	sent(w, STEP_EXISTS, progress_send_exists(&bf->prog, &w->conn));
}

/* Rebuilds the statements for the walk a job in mid-pass goes on with. */
static int adopt_walk(struct backfill *bf, struct wk *w, enum walk walk)
{
	if (walk == bf->target.walk)
		return 0;
	if (walk == WALK_KEY && !bf->target.key_ok) {
		fail(bf, NB_EXIT_CONFIG, "job \"%s\" is in the middle of a pass by key, "
		     "but the key cannot be walked now: %s", bf->prog.job,
		     bf->target.walk_reason);
		return -1;
	}
	bf->target.walk = walk;
	snprintf(bf->target.walk_reason, sizeof bf->target.walk_reason,
		 "the job's pass in progress");
	return rebuild_sql(bf, w, bf->sql.guard);
}

/* Builds the statements again, e.g. for another walk or with the id guard. */
static int rebuild_sql(struct backfill *bf, struct wk *w, bool guard)
{
	batch_sql_free(&bf->sql);
	if (batch_sql_build(&bf->sql, w->conn.conn, &bf->target, bf->prog.leases,
			    nanoid_length(&bf->gen), guard, bf->err, sizeof bf->err) != 0) {
		bf->have_sql = false;
		fail(bf, NB_EXIT_FAILURE, "%s", bf->err);
		return -1;
	}
	for (int i = 0; i < bf->nworkers; i++) {
		batch_free(&bf->wk[i].b);
		batch_init(&bf->wk[i].b, &bf->sql, bf->wk[i].want);
	}
	return 0;
}

static void send_claim(struct wk *w)
{
	struct backfill *bf = w->bf;
	const struct progress_format f = { bf->cfg->size, bf->cfg->alphabet,
					   bf->cfg->prefix };

	sent(w, STEP_CLAIM, progress_send_claim(&bf->prog, &w->conn, bf->estimate,
						strcmp(bf->cfg->order, "auto") == 0, &f));
}

static void after_claim(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	struct progress_claim claim;

	if (progress_read_claim(&bf->prog, res, &claim, bf->err, sizeof bf->err) != 0) {
		fail(bf, NB_EXIT_CONFIG, "%s", bf->err);
		return;
	}
	if (adopt_walk(bf, w, claim.walk) != 0)
		return;
	/* The sessions were set up before the walk was known: its plan cache
	 * mode comes with the next session setup, before a first batch. */
	for (int i = 0; i < bf->nworkers; i++)
		bf->wk[i].session_stale = true;
	if (bf->setup != SETUP_DONE && !bf->ever_connected) {
		bf->rows_before = claim.rows_done;
		log_claim(bf, &claim);
	}
	bf->ever_connected = true;
	if (bf->setup != SETUP_DONE) {
		bf->setup = SETUP_DONE;
		health_poll(bf);        /* connects the health connection now */
	}
	if (!bf->ready_sent) {
		/* Connected, target checked, job claimed: startup is over. */
		bf->ready_sent = true;
		notify_ready();
		notify_status("job \"%s\": started", bf->prog.job);
	}
	/* Wake the workers that waited for this one. */
	for (int i = 0; i < bf->nworkers; i++)
		if (&bf->wk[i] != w && bf->wk[i].step == STEP_PARKED)
			after_session(&bf->wk[i]);
	after_session(w);
}

/* Session ready: set up the job, wait for whoever does, or prepare. */
static void after_session(struct wk *w)
{
	struct backfill *bf = w->bf;

	w->step = STEP_NONE;
	if (bf->stopping || bf->job_done) {
		wk_stop(w);
		return;
	}
	switch (bf->setup) {
	case SETUP_NONE:
		bf->setup = SETUP_RUNNING;
		sent(w, STEP_TARGET, target_send(&w->conn, bf->cfg));
		return;
	case SETUP_RUNNING:
		w->step = STEP_PARKED;
		return;
	case SETUP_DONE:
		break;
	}
	if (bf->sql.by_key && w->prepared < BATCH_VARIANTS) {
		int v = w->prepared;

		sent(w, STEP_PREPARE,
		     worker_send_prepare(&w->conn, batch_stmt_name(v), bf->sql.stmt[v],
					 bf->sql.nparams, bf->sql.types));
		return;
	}
	acquire(w);
}

/* ---- leases ------------------------------------------------------------- */

static void unlock_then(struct wk *w, int lease, enum after_unlock after, double wait)
{
	w->after = after;
	w->after_wait = wait;
	w->unlocking = lease;
	sent(w, STEP_UNLOCK, progress_send_unlock(&w->bf->prog, &w->conn, lease));
}

static void acquire(struct wk *w)
{
	struct backfill *bf = w->bf;

	if (bf->stopping || bf->job_done) {
		wk_stop(w);
		return;
	}
	w->has_lease = false;
	sent(w, STEP_LIST, progress_send_list(&bf->prog, &w->conn));
}

static void next_candidate(struct wk *w)
{
	struct backfill *bf = w->bf;

	if (bf->stopping || bf->job_done) {
		wk_stop(w);
		return;
	}
	if (w->icand < w->ncand) {
		sent(w, STEP_TRY_LOCK,
		     progress_send_try_lock(&bf->prog, &w->conn, w->cand[w->icand++]));
		return;
	}
	sent(w, STEP_CARVE_LOCK, progress_send_try_lock(&bf->prog, &w->conn, 0));
}

static void after_list(struct wk *w, PGresult *res)
{
	w->ncand = PQntuples(res) < MAX_CANDIDATES ? PQntuples(res) : MAX_CANDIDATES;
	for (int i = 0; i < w->ncand; i++)
		w->cand[i] = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
	w->icand = 0;
	next_candidate(w);
}

static void after_try_lock(struct wk *w, PGresult *res)
{
	int lease = w->cand[w->icand - 1];

	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't') {
		sent(w, STEP_TAKE, progress_send_take(&w->bf->prog, &w->conn, lease, w->owner));
		return;
	}
	next_candidate(w);
}

static void start_lease(struct wk *w, int lease, char *const *cursor, char *const *hi)
{
	w->b.lease = lease;
	batch_set_cursor(&w->b, cursor);
	batch_set_hi(&w->b, hi);
	w->has_lease = true;
}

static void after_take(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	int lease = w->cand[w->icand - 1];
	struct progress_lease l;
	int r = progress_read_take(&bf->prog, res, lease, &l);

	if (r < 0) {
		fail(bf, NB_EXIT_FAILURE, "lease %d has a malformed key in the progress table", lease);
		return;
	}
	if (r == 0) {
		/* Done between the list and the lock. */
		unlock_then(w, lease, AFTER_NEXT_CANDIDATE, 0);
		return;
	}
	if (!bf->sql.by_key) {
		if (!l.rel_name) {
			log_info("worker %d: lease %d: its table is gone; dropping the lease",
				 w->id, lease);
			progress_lease_free(&l);
			w->b.lease = lease;
			sent(w, STEP_LEASE_GONE, progress_send_lease_gone(&bf->prog, &w->conn, lease));
			return;
		}
		if (!(w->leaf_sql = leaf_statement(w, l.rel, l.rel_schema, l.rel_name))) {
			progress_lease_free(&l);
			return;
		}
		w->lease_rel = l.rel;
	}
	if (l.has_cursor) {
		char cur[512];

		join(cur, sizeof cur, l.cursor, target_width(&bf->target));
		if (bf->sql.by_key)
			log_info("worker %d: resuming lease %d after key (%s)", w->id, lease, cur);
		else
			log_info("worker %d: resuming lease %d of \"%s\".\"%s\" after ctid %s",
				 w->id, lease, l.rel_schema, l.rel_name, cur);
	}
	start_lease(w, lease, l.has_cursor ? l.cursor : l.has_lo ? l.lo : NULL,
		    l.has_hi ? l.hi : NULL);
	progress_lease_free(&l);
	run_batch(w);
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
static void send_carve(struct wk *w)
{
	struct backfill *bf = w->bf;
	const struct progress_job *j = &w->job;
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
	sent(w, STEP_CARVE, worker_send(&w->conn, sql, n, types, values, NULL, NULL));
}

static void after_carve(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	char lo_t[48], hi_t[48];
	long long lo, hi, end;
	Oid rel;

	if (PQntuples(res) == 0) {
		/* Every relation is carved: the pass ends with its leases. */
		sent(w, STEP_FRONTIER_DONE, progress_send_frontier_done(&bf->prog, &w->conn));
		return;
	}
	rel = (Oid)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	lo = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	hi = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	end = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	if (!(w->leaf_sql = leaf_statement(w, rel, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2))))
		return;
	w->lease_rel = rel;
	batch_format_tid(lo_t, sizeof lo_t, lo, 0);
	batch_format_tid(hi_t, sizeof hi_t, hi, 0);
	start_lease(w, w->job.next_lease, (char *const[]){ lo_t }, (char *const[]){ hi_t });
	w->has_lease = false;
	log_debug("worker %d: lease %d: \"%s\".\"%s\" blocks %lld-%lld of %lld", w->id,
		  w->job.next_lease, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), lo,
		  hi, end);
	sent(w, STEP_NEW_LEASE,
	     progress_send_new_block_lease(&bf->prog, &w->conn, w->job.next_lease, rel,
					   lo, hi, end, w->owner));
}

/*
 * Service mode, before a new pass: is there anything to fill? With a
 * single integer key and a high-water mark, only past the mark (an index
 * range: next to nothing), and over the whole table every
 * --full-sweep-interval (a partial index on the NULL rows makes that
 * next to nothing as well).
 */
static void send_probe(struct wk *w)
{
	struct backfill *bf = w->bf;
	const struct progress_job *j = &w->job;
	const char *values[1] = { j->hwm };

	/* A tree gains partitions below any mark: it is probed whole. */
	w->probe_sweep = !bf->sql.probe_tail || bf->target.tree || !j->has_hwm ||
			 j->swept_ago < 0 || j->swept_ago >= bf->cfg->full_sweep_interval;
	if (w->probe_sweep)
		sent(w, STEP_PROBE, worker_send(&w->conn, bf->sql.probe_full, 0, NULL,
						NULL, NULL, NULL));
	else
		sent(w, STEP_PROBE, worker_send(&w->conn, bf->sql.probe_tail, 1, NULL,
						values, NULL, NULL));
}

static void after_probe(struct wk *w, PGresult *res)
{
	w->probe_found = !(PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f');
	w->probe_has_max = PQntuples(res) == 1 && PQnfields(res) == 2 &&
			   !PQgetisnull(res, 0, 1);
	snprintf(w->probe_max, sizeof w->probe_max, "%s",
		 w->probe_has_max ? PQgetvalue(res, 0, 1) : "");
	if (w->probe_sweep)
		send_session(w, STEP_PROBE_RESTORE); /* the probe lifted the timeout */
	else
		after_probe_restored(w);
}

static void after_probe_restored(struct wk *w)
{
	struct backfill *bf = w->bf;
	const char *max = w->probe_has_max ? w->probe_max : NULL;
	const char *from;

	log_debug("worker %d: %s probe: %s", w->id, w->probe_sweep ? "whole-table" :
		  "past the high-water mark", w->probe_found ? "NULLs found" : "nothing to fill");
	if (!w->probe_found) {
		sent(w, STEP_STAY_IDLE, progress_send_stay_idle(&bf->prog, &w->conn,
								w->probe_sweep, max));
		return;
	}
	/* By key, the pass walks from the mark; in physical order all of it. */
	from = !w->probe_sweep && bf->sql.by_key ? w->job.hwm : NULL;
	sent(w, STEP_START_PASS, progress_send_start_pass(&bf->prog, &w->conn, from,
							  max));
}

static void after_read_job(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	struct progress_job *j = &w->job;
	bool until_done = bf->cfg->until_done;

	if (w->have_job)
		progress_job_free(j);
	if (progress_read_job(&bf->prog, res, j) != 0) {
		fail(bf, NB_EXIT_FAILURE, "job \"%s\" is missing or malformed in the "
		     "progress table", bf->prog.job);
		return;
	}
	w->have_job = true;
	if (strcmp(j->state, "done") == 0 && until_done) {
		/* Another worker or process finished the job during this run. */
		unlock_then(w, 0, AFTER_JOB_DONE, 0);
		return;
	}
	if (strcmp(j->state, "idle") == 0 || strcmp(j->state, "done") == 0) {
		if (j->idle_for < idle_wait(bf) && !until_done) {
			unlock_then(w, 0, AFTER_WAIT, idle_wait(bf) - j->idle_for);
			return;
		}
		if (until_done) {
			sent(w, STEP_START_PASS, progress_send_start_pass(&bf->prog, &w->conn,
									  NULL, NULL));
			return;
		}
		send_probe(w);
		return;
	}
	if (j->frontier_done) {
		if (j->open_leases > 0) {
			/* The others are finishing their leases. */
			unlock_then(w, 0, AFTER_WAIT, BUSY_POLL);
			return;
		}
		if (until_done) {
			/* Rows behind the frontier may have been inserted with NULL
			 * during the pass: only a fresh look says we are done. It
			 * may scan the whole table: no statement_timeout for it
			 * (the worker keeps the last result: the EXISTS). */
			sent(w, STEP_REMAINING, worker_send(&w->conn, bf->sql.remaining,
							    0, NULL, NULL, NULL, NULL));
			return;
		}
		if (stalled(bf, j) && bf->stall_logged) {
			/* Said once already: no count of the table again, a longer wait. */
			if (bf->stall_mult < 1e6)
				bf->stall_mult = 2 * bf->stall_mult;
			sent(w, STEP_PASS_END, progress_send_pass_end(&bf->prog, &w->conn, "idle"));
			return;
		}
		if (bf->stalled >= STALL_PASSES || bf->stall_clashed) {
			sent(w, STEP_UNFILLED, worker_send(&w->conn, bf->sql.unfilled, 0,
							   NULL, NULL, NULL, NULL));
			return;
		}
		if (bf->stalled == 0 && !bf->stall_clashed && bf->stall_mult > 1) {
			bf->stall_mult = 1;
			if (bf->stall_logged)
				log_info("passes fill rows again; back to a pass every %g s",
					 bf->cfg->idle_interval);
			bf->stall_logged = false;
		}
		sent(w, STEP_PASS_END, progress_send_pass_end(&bf->prog, &w->conn, "idle"));
		return;
	}
	if (!bf->sql.by_key) {
		send_carve(w);
		return;
	}
	{
		const Oid *types;
		int nparams;
		const char *sql = batch_boundary_params(&w->b, j->has_frontier ? j->frontier : NULL,
							bf->cfg->lease_size,
							bf->target.reltuples, &types, &nparams);

		sent(w, STEP_BOUNDARY, worker_send(&w->conn, sql, nparams, types,
						   w->b.values, w->b.lengths, w->b.formats));
	}
}

static void after_boundary(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	struct progress_job *j = &w->job;
	char *hi[CONFIG_MAX_KEYS];
	bool has_hi = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);

	for (int i = 0; has_hi && i < bf->target.nkeys; i++)
		hi[i] = PQgetvalue(res, 0, i);
	/* Keep the bounds: the lease starts once its row and lock exist. */
	start_lease(w, j->next_lease, j->has_frontier ? j->frontier : NULL,
		    has_hi ? hi : NULL);
	w->has_lease = false;
	sent(w, STEP_NEW_LEASE,
	     progress_send_new_lease(&bf->prog, &w->conn, j->next_lease,
				     j->has_frontier ? j->frontier : NULL,
				     has_hi ? hi : NULL, w->owner));
}

static void after_new_lease(struct wk *w, PGresult *res)
{
	bool locked = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';

	w->has_lease = locked;
	log_debug("worker %d: carved lease %d", w->id, w->b.lease);
	unlock_then(w, 0, locked ? AFTER_WORK : AFTER_ACQUIRE, 0);
}

static void after_remaining(struct wk *w, PGresult *res)
{
	w->remaining = !(PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'f');
	send_session(w, STEP_RESTORE);
}

/* With one id left free in a space of S, a pass finds it with p ~ 1/S. */
static int clash_passes_max(const struct backfill *bf)
{
	double space = bf->log10_ids < 5 ? pow(10, bf->log10_ids) : 1e5;

	return CLASH_PASSES + (int)(10 * space < 1e5 ? 10 * space : 1e5);
}

/*
 * At the end of a pass that leaves NULL rows: is it stuck? A pass that
 * filled nothing while a trigger kept rows NULL (skipped them, or set them
 * back) is; STALL_PASSES of those in a row, or CLASH_PASSES that filled
 * nothing because every id was taken, and it is time to say so.
 */
static bool stalled(struct backfill *bf, const struct progress_job *j)
{
	bool empty = j->pass_rows == 0;
	/* A skipped row is a trigger's doing only where there is a trigger;
	 * without, another session changed it, and the next pass has it. */
	bool kept = bf->pass_left_null > 0 || (bf->target.triggers && bf->pass_skipped > 0);

	log_debug("pass: %lld rows filled; found and skipped %lld, left NULL %lld, "
		  "kept for a taken id %lld", j->pass_rows, bf->pass_skipped,
		  bf->pass_left_null, bf->pass_clashed);
	bf->stalled = empty && kept ? bf->stalled + 1 : 0;
	bf->clash_passes = empty && !kept && bf->pass_clashed > 0 ? bf->clash_passes + 1 : 0;
	bf->empty_passes = empty ? bf->empty_passes + 1 : 0;
	bf->pass_skipped = bf->pass_left_null = bf->pass_clashed = 0;
	bf->stall_clashed = bf->clash_passes >= clash_passes_max(bf);
	return bf->stalled >= STALL_PASSES || bf->stall_clashed;
}

/* The service's interval between passes, longer while passes stall. */
static double idle_wait(const struct backfill *bf)
{
	double d = bf->cfg->idle_interval * (bf->stall_mult > 1 ? bf->stall_mult : 1);
	double cap = fmax(bf->cfg->idle_interval, STALL_WAIT_MAX);

	return d > cap ? cap : d;
}

static void after_restore(struct wk *w)
{
	struct backfill *bf = w->bf;

	if (!w->remaining) {
		w->after = AFTER_JOB_DONE;
		sent(w, STEP_PASS_END, progress_send_pass_end(&bf->prog, &w->conn, "done"));
		return;
	}
	if (stalled(bf, &w->job)) {
		/* Say how many and which, then stop. */
		sent(w, STEP_UNFILLED, worker_send(&w->conn, bf->sql.unfilled, 0, NULL,
						   NULL, NULL, NULL));
		return;
	}
	w->after = AFTER_ACQUIRE;
	w->after_wait = 0;
	if (bf->empty_passes > 0 && bf->clash_passes == 0) {
		/* Not at full speed over rows that may not fill. */
		w->after = AFTER_WAIT;
		w->after_wait = fmax(EMPTY_PASS_WAIT_MIN,
				     fmin(ev_now(bf->loop) - bf->pass_ended, EMPTY_PASS_WAIT_MAX));
		log_info("the pass filled nothing; another pass in %.1f s", w->after_wait);
	} else if (bf->sql.guard) {
		/* Rows whose id was taken: many passes, each a few rows. */
		log_debug("rows with NULL remain behind the leases; starting another pass");
	} else {
		log_info("rows with NULL remain behind the leases; starting another pass");
	}
	sent(w, STEP_PASS_END, progress_send_pass_end(&bf->prog, &w->conn, "running"));
}

/*
 * The rows no pass could fill: how many, a few of them, and what
 * PostgreSQL lets us say about why. --until-done stops (exit 1); a
 * service says it once and backs off.
 */
static void after_unfilled(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	const struct target *t = &bf->target;
	bool ok = PQntuples(res) == 1 && PQnfields(res) == 2;
	const char *count = ok ? PQgetvalue(res, 0, 0) : "?";
	const char *few = ok && !PQgetisnull(res, 0, 1) ? PQgetvalue(res, 0, 1) : "";
	char line[1024], why[600];

	if (ok && strcmp(count, "0") == 0) {
		/* Filled meanwhile (by the application): not stuck after all. */
		bf->stalled = bf->clash_passes = 0;
		bf->stall_clashed = false;
		w->after = AFTER_ACQUIRE;
		w->after_wait = 0;
		send_session(w, STEP_UNFILLED_RESTORE);
		return;
	}
	if (bf->stall_clashed)
		snprintf(why, sizeof why, "every id drawn for them was taken already: "
			 "the 10^%.1f distinct ids of this format are nearly used up; "
			 "use a larger --size or --alphabet", bf->log10_ids);
	else if (t->triggers)
		snprintf(why, sizeof why, "BEFORE UPDATE triggers that can skip a row or "
			 "set it back to NULL: %s", t->triggers);
	else
		snprintf(why, sizeof why, "there is no BEFORE UPDATE trigger; another "
			 "session may be changing them");
	snprintf(line, sizeof line, "%s rows of \"%s\".\"%s\" stay NULL after %d "
		 "passes without progress (%s %s): the batches' UPDATE skipped them or "
		 "left them NULL; %s", count, t->schema, t->table,
		 bf->stall_clashed ? bf->clash_passes : bf->stalled,
		 t->nkeys > 0 ? "keys" : "ctids", few, why);
	if (bf->cfg->until_done) {
		fail(bf, NB_EXIT_FAILURE, "%s", line);
		return;
	}
	if (!bf->stall_logged) {
		bf->stall_logged = true;
		log_warn("%s; passes back off while this lasts", line);
	}
	bf->stall_mult = bf->stall_mult > 1 ? 2 * bf->stall_mult : 2;
	send_session(w, STEP_UNFILLED_RESTORE);
}

static void after_pass_end(struct wk *w)
{
	struct backfill *bf = w->bf;

	if (bf->cfg->until_done) {
		/* The next pass starts after the wait: its length is from then. */
		bf->pass_ended = ev_now(bf->loop) + w->after_wait;
		unlock_then(w, 0, w->after, w->after_wait);
		return;
	}
	log_info("pass finished: %lld rows filled by this run; next pass in %g s",
		 bf->rows_run, idle_wait(bf));
	unlock_then(w, 0, AFTER_WAIT, idle_wait(bf));
}

static void job_done(struct wk *w)
{
	struct backfill *bf = w->bf;
	double elapsed = ev_now(bf->loop) - bf->started;

	if (!bf->job_done) {
		bf->job_done = true;
		log_info("done: no NULL left in \"%s\".\"%s\".\"%s\"; %lld rows filled "
			 "by this run in %.1f s (%.0f rows/s), %lld in all",
			 bf->target.schema, bf->target.table, bf->target.column,
			 bf->rows_run, elapsed,
			 elapsed > 0 ? (double)bf->rows_run / elapsed : 0.0,
			 bf->rows_before + bf->rows_run);
		/* Workers that wait on a timer go now; busy ones after their query. */
		for (int i = 0; i < bf->nworkers; i++) {
			struct wk *o = &bf->wk[i];

			if (o != w && !o->closed && o->conn.state != WORKER_BUSY)
				wk_close(o);
		}
	}
	wk_close(w);
}

static void after_unlock(struct wk *w)
{
	switch (w->after) {
	case AFTER_WORK:
		run_batch(w);
		return;
	case AFTER_ACQUIRE:
		acquire(w);
		return;
	case AFTER_NEXT_CANDIDATE:
		next_candidate(w);
		return;
	case AFTER_WAIT:
		w->step = STEP_NONE;
		wait_then(w, w->after_wait, WAIT_ACQUIRE);
		return;
	case AFTER_JOB_DONE:
		job_done(w);
		return;
	}
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

static void stop_all(struct backfill *bf, const char *why);

/* Logs one line when a pause starts or ends. */
static void log_throttle_change(struct backfill *bf)
{
	char line[THROTTLE_REASON_LEN + 64];
	int change = throttle_take_change(&bf->thr, ev_now(bf->loop), line, sizeof line);

	if (change > 0)
		log_info("%s", line);
	else if (change < 0)
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
	long cap = throttle_max_batch(&bf->thr, ev_now(bf->loop));
	const char *why = NULL;
	struct throttle_env env;
	double wait;

	/* Under a rate, small batches pace evenly; the cap goes when the rate
	 * does (busy-max-rate ends). */
	w->b.limit = w->want < cap ? w->want : cap;
	if (w->collide_cap > 0 && w->collide_cap < w->b.limit)
		w->b.limit = w->collide_cap;
	/* A batch's ids are distinct with the guard: no more than there are. */
	if (bf->sql.guard && bf->log10_ids < log10((double)w->b.limit) + 1e-9)
		w->b.limit = lround(floor(pow(10, bf->log10_ids) + 1e-6));
	throttle_env_read(&env, &bf->thr, ev_now(bf->loop), time(NULL));
	wait = throttle_wait(&bf->thr, &w->lane, ev_now(bf->loop), &env,
			     w->b.limit, &why);
	log_throttle_change(bf);
	if (wait == 0)
		return true;
	if (wait < 0) {
		stop_all(bf, "max-runtime reached");
		return false;
	}
	w->step = STEP_NONE;
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

static void run_batch(struct wk *w)
{
	struct backfill *bf = w->bf;
	size_t id_len = bf->sql.id_len;
	int v;

	if (bf->stopping || bf->job_done) {
		wk_stop(w);
		return;
	}
	if (w->session_stale) {
		w->session_stale = false;
		send_session(w, STEP_SESSION_AGAIN);
		return;
	}
	if (!bf->sql.by_key && !leaf_ready(w)) {
		char name[64];

		batch_physical_name(name, sizeof name, w->lease_rel);
		sent(w, STEP_PREPARE_LEAF,
		     worker_send_prepare(&w->conn, name, w->leaf_sql, BATCH_PHYS_PARAMS,
					 bf->sql.phys_types));
		return;
	}
	if (!pace(w))
		return;
	if (ensure_ids(bf, w->b.limit) != 0) {
		fail(bf, NB_EXIT_FAILURE, "out of memory for a batch of %ld ids", w->b.limit);
		return;
	}
	/* Fresh ids every time: a retried batch never reuses them. With the
	 * guard the space is small enough for a batch's own ids to meet. */
	if (bf->sql.guard) {
		if (nanoid_generate_distinct(&bf->gen, (char *)bf->ids, (size_t)w->b.limit) != 0) {
			fail(bf, NB_EXIT_FAILURE, "cannot draw %ld distinct ids for a batch",
			     w->b.limit);
			return;
		}
	} else {
		for (long i = 0; i < w->b.limit; i++)
			nanoid_generate(&bf->gen, (char *)bf->ids + (size_t)i * id_len);
	}
	w->sent_limit = w->b.limit;
	if (!bf->sql.by_key) {
		char name[64];

		if (batch_physical_params(&w->b, bf->ids, bf->prog.job, w->rate) != 0) {
			fail(bf, NB_EXIT_FAILURE, "lease %d has a malformed ctid in the "
			     "progress table", w->b.lease);
			return;
		}
		batch_physical_name(name, sizeof name, w->lease_rel);
		w->sent_at = ev_time();
		sent(w, STEP_BATCH,
		     worker_send_prepared(&w->conn, name, BATCH_PHYS_PARAMS, w->b.values,
					  w->b.lengths, w->b.formats));
		return;
	}
	v = batch_params(&w->b, bf->ids, bf->prog.job, w->rate);
	w->sent_at = ev_time();
	sent(w, STEP_BATCH,
	     worker_send_prepared(&w->conn, batch_stmt_name(v), bf->sql.nparams,
				  w->b.values, w->b.lengths, w->b.formats));
}

/* With --batch-time: steer the batch size toward that duration. */
static void adapt(struct wk *w, long found, double took)
{
	const struct config *c = w->bf->cfg;
	double factor;
	long next;

	/* While collisions cap the batch, its size says nothing of its time. */
	if (c->batch_time <= 0 || found < w->sent_limit || took <= 0 || w->collide_cap > 0)
		return;
	factor = c->batch_time / 1000.0 / took;
	/* At most double or halve per batch: one slow batch is not a trend. */
	if (factor > 2)
		factor = 2;
	if (factor < 0.5)
		factor = 0.5;
	next = lround((double)w->sent_limit * factor);
	if (next < c->min_batch_size)
		next = c->min_batch_size;
	if (next > c->max_batch_size)
		next = c->max_batch_size;
	if (next != w->want)
		log_debug("worker %d: batch size %ld -> %ld (%.0f ms)", w->id, w->want,
			  next, took * 1000);
	w->want = next;
}

static void after_batch(struct wk *w, PGresult *res)
{
	struct backfill *bf = w->bf;
	double took = ev_time() - w->sent_at;
	struct batch_counts c;
	long found, filled;
	bool lease_done;
	int rc;

	if (bf->sql.by_key) {
		rc = batch_read_result(&w->b, res, &c);
		lease_done = c.found < w->sent_limit;
	} else {
		rc = batch_read_physical(&w->b, res, w->sent_limit, &c, &lease_done);
	}
	if (rc != 0) {
		fail(bf, NB_EXIT_FAILURE, "unexpected answer to a batch");
		return;
	}
	found = c.found;
	filled = c.filled;
	if (c.found - c.filled - c.clashed - c.left_null > 0)
		bf->pass_skipped += c.found - c.filled - c.clashed - c.left_null;
	bf->pass_left_null += c.left_null;
	bf->pass_clashed += c.clashed;
	w->attempt = 0;
	w->timeouts = 0;
	w->collisions = 0;
	if (w->collide_cap > 0) {
		/* Grow back: ids meet less often than the last misses said. */
		w->collide_cap *= 2;
		if (w->collide_cap >= w->want)
			w->collide_cap = 0;
	}
	bf->rows_run += filled;
	bf->metrics.batches++;
	throttle_after_batch(&bf->thr, &w->lane, ev_now(bf->loop), filled, took);
	if (took > 0) {
		double r = (double)filled / took;

		w->rate = w->rate > 0 ? 0.7 * w->rate + 0.3 * r : r;
	}
	log_debug("worker %d: lease %d: %ld rows found, %ld filled in %.1f ms",
		  w->id, w->b.lease, found, filled, took * 1000);
	if (lease_done) {
		/* The statement marked the lease done; let it go. */
		w->has_lease = false;
		unlock_then(w, w->b.lease, AFTER_ACQUIRE, 0);
		return;
	}
	adapt(w, found, took);
	run_batch(w);
}

/* ---- dispatch ----------------------------------------------------------- */

static void on_result(struct worker *conn, PGresult *res)
{
	struct wk *w = conn->data;
	struct backfill *bf = w->bf;
	enum step step = w->step;

	if (bf->finished)
		return;
	if (!res) {
		connection_lost(w, worker_error(conn));
		return;
	}
	if (handle_error(w, step, res))
		return;
	w->step = STEP_NONE;
	if (step == STEP_STOPPED) {
		wk_close(w);
		return;
	}
	/* Stop at any boundary but the batch's own bookkeeping. */
	if ((bf->stopping || bf->job_done) && step != STEP_BATCH) {
		wk_stop(w);
		return;
	}
	switch (step) {
	case STEP_SESSION: after_session(w); break;
	case STEP_TARGET: after_target(w, res); break;
	case STEP_ESTIMATE: after_estimate(w, res); break;
	case STEP_TRY_ID: after_try_id(w, res); break;
	case STEP_EXISTS:
		if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't')
			send_claim(w);
		else
			sent(w, STEP_SETUP, progress_send_setup(&bf->prog, conn));
		break;
	case STEP_SETUP:
		send_claim(w);
		break;
	case STEP_CLAIM: after_claim(w, res); break;
	case STEP_PREPARE:
		w->prepared++;
		after_session(w);
		break;
	case STEP_PREPARE_LEAF: after_prepare_leaf(w); break;
	case STEP_LIST: after_list(w, res); break;
	case STEP_TRY_LOCK: after_try_lock(w, res); break;
	case STEP_TAKE: after_take(w, res); break;
	case STEP_CARVE_LOCK:
		if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't') {
			sent(w, STEP_READ_JOB, progress_send_read_job(&bf->prog, conn));
			break;
		}
		/* Another worker carves, or ends the pass: look again soon. */
		wait_then(w, BUSY_POLL, WAIT_ACQUIRE);
		break;
	case STEP_READ_JOB: after_read_job(w, res); break;
	case STEP_PROBE: after_probe(w, res); break;
	case STEP_PROBE_RESTORE: after_probe_restored(w); break;
	case STEP_STAY_IDLE:
		unlock_then(w, 0, AFTER_WAIT, bf->cfg->idle_interval);
		break;
	case STEP_START_PASS:
		log_info("starting a new pass over \"%s\".\"%s\"", bf->target.schema,
			 bf->target.table);
		/* Still holding the carve lock: read the job again. */
		sent(w, STEP_READ_JOB, progress_send_read_job(&bf->prog, conn));
		break;
	case STEP_BOUNDARY: after_boundary(w, res); break;
	case STEP_CARVE: after_carve(w, res); break;
	case STEP_FRONTIER_DONE:
		sent(w, STEP_READ_JOB, progress_send_read_job(&bf->prog, conn));
		break;
	case STEP_LEASE_GONE:
		unlock_then(w, w->b.lease, AFTER_ACQUIRE, 0);
		break;
	case STEP_NEW_LEASE: after_new_lease(w, res); break;
	case STEP_REMAINING: after_remaining(w, res); break;
	case STEP_RESTORE: after_restore(w); break;
	case STEP_UNFILLED: after_unfilled(w, res); break;
	case STEP_UNFILLED_RESTORE:
		/* --until-done goes on at once (rows were filled meanwhile); a
		 * service's pass ends as any other. */
		sent(w, STEP_PASS_END, progress_send_pass_end(&bf->prog, conn,
							      bf->cfg->until_done ? "running" : "idle"));
		break;
	case STEP_SESSION_AGAIN: run_batch(w); break;
	case STEP_PASS_END: after_pass_end(w); break;
	case STEP_UNLOCK: after_unlock(w); break;
	case STEP_BATCH:
		after_batch(w, res);
		break;
	case STEP_NONE:
	case STEP_PARKED:
	case STEP_STOPPED:
		break;
	}
}

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

/* Sends the session settings (again after REMAINING lifted the timeout). */
static void send_session(struct wk *w, enum step step)
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
	if (bf->stopping || bf->job_done) {
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
	send_session(w, STEP_SESSION);
}

static void start_connect(struct wk *w)
{
	struct backfill *bf = w->bf;
	char *parse_err = NULL;
	PQconninfoOption *opts;

	if (worker_connect(&w->conn, bf->cfg->dsn) == 0)
		return;
	/*
	 * libpq refused to start: a malformed conninfo, or an option value it
	 * rejects (sslmode=bogus), is configuration (78); an attempt that
	 * failed at once, say a socket that is not there, is a failure to
	 * connect (1), like any later one.
	 */
	opts = bf->cfg->dsn ? PQconninfoParse(bf->cfg->dsn, &parse_err) : NULL;
	if (bf->cfg->dsn && !opts) {
		if (parse_err)
			pgtext_flatten(parse_err);
		fail(bf, NB_EXIT_CONFIG, "invalid --dsn: %s",
		     parse_err ? parse_err : "out of memory");
	} else if (worker_dsn_rejected(bf->cfg->dsn)) {
		fail(bf, NB_EXIT_CONFIG, "invalid --dsn: %s", worker_error(&w->conn));
	} else if (bf->ever_connected) {
		connection_lost(w, worker_error(&w->conn));
	} else {
		fail(bf, NB_EXIT_FAILURE, "cannot connect to the database: %s",
		     worker_error(&w->conn));
	}
	PQconninfoFree(opts);
	PQfreemem(parse_err);
}

static void wait_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct wk *w = t->data;

	(void)loop;
	(void)revents;
	if (w->bf->stopping || w->bf->job_done) {
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
		acquire(w);
		return;
	case WAIT_BATCH:
		run_batch(w);
		return;
	}
}

/*
 * Stop every worker after its statement in flight: SIGTERM, SIGINT and
 * max-runtime all come here.
 */
static void stop_all(struct backfill *bf, const char *why)
{
	if (bf->stopping)
		return;
	bf->stopping = true;
	notify_stopping();
	log_info("stopping (%s) after the batches in flight", why);
	ev_timer_stop(bf->loop, &bf->health);
	ev_timer_stop(bf->loop, &bf->runtime);
	worker_close(&bf->mon);
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

static void runtime_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct backfill *bf = t->data;
	double left = throttle_runtime_left(&bf->thr, ev_now(loop));

	(void)revents;
	if (left > 0) {
		/* Not yet (a reload moved the limit): look again then. */
		ev_timer_set(t, left, 0);
		ev_timer_start(loop, t);
		return;
	}
	stop_all(bf, "max-runtime reached; run again to resume");
}

static void arm_runtime(struct backfill *bf)
{
	double left = throttle_runtime_left(&bf->thr, ev_now(bf->loop));

	ev_timer_stop(bf->loop, &bf->runtime);
	if (isinf(left) || bf->stopping)
		return;
	ev_timer_set(&bf->runtime, left > 0 ? left : 0, 0);
	ev_timer_start(bf->loop, &bf->runtime);
}

/* ---- health, on the monitoring connection ------------------------------- */

static void mon_connect(struct worker *conn, bool ok, const char *err)
{
	struct backfill *bf = conn->data;

	if (!ok) {
		/* No sample: the throttle notices when none comes. */
		log_warn("health: cannot connect: %s", err);
		return;
	}
	/* The first sample at once: until it comes the server counts as
	 * busy (busy-max-rate), and an idle one should not wait for it. */
	health_poll(bf);
}

static void mon_result(struct worker *conn, PGresult *res)
{
	struct backfill *bf = conn->data;
	struct health_sample sample;
	char err[512] = "";

	if (res && PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];

		log_warn("health query failed: %s", pgtext_result_error(res, msg, sizeof msg));
		res = NULL;
	}
	if (health_from_result(&sample, res, err, sizeof err) != 0)
		log_debug("health: %s", err);
	else if (throttle_health_update(&bf->thr, &sample, ev_now(bf->loop), err,
					sizeof err) > 0)
		log_warn("health: %s", err);
	log_throttle_change(bf);
}

/* One health query, if the last has answered (connecting first). */
static void health_poll(struct backfill *bf)
{
	struct health_params p;
	int pids[HEALTH_MAX_PIDS], npids = 0;

	if (bf->setup != SETUP_DONE || !throttle_health_wanted(&bf->thr))
		return;
	if (bf->mon.state == WORKER_DISCONNECTED) {
		if (worker_connect(&bf->mon, bf->cfg->dsn) != 0)
			log_warn("health: cannot connect: %s", worker_error(&bf->mon));
		return;
	}
	if (bf->mon.state != WORKER_IDLE)
		return;
	for (int i = 0; i < bf->nworkers && npids < HEALTH_MAX_PIDS; i++)
		if (bf->wk[i].conn.conn && bf->wk[i].conn.state >= WORKER_IDLE)
			pids[npids++] = PQbackendPID(bf->wk[i].conn.conn);
	if (health_params(&p, pids, npids, bf->target.schema, bf->target.table) != 0)
		return;
	/* Not sent: no sample this time, as for a failed query. */
	if (worker_send(&bf->mon, health_sql(), HEALTH_NPARAMS, NULL,
			p.values, NULL, NULL) != 0)
		worker_close(&bf->mon);
}

/* Every health-interval. */
static void health_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	health_poll(t->data);
}

/* Applies the settings that a reload may have changed. */
static void apply_live(struct backfill *bf)
{
	struct config *c = bf->cfg;
	enum log_level level;

	if (log_level_parse(c->log_level, &level) == 0)
		log_set_level(level);
	ev_timer_set(&bf->tick, c->progress_interval, c->progress_interval);
	ev_timer_again(bf->loop, &bf->tick);
	if (throttle_reconfigure(&bf->thr, c, bf->err, sizeof bf->err) != 0)
		log_warn("reload: throttling unchanged: %s", bf->err);
	ev_timer_set(&bf->health, c->health_interval, c->health_interval);
	ev_timer_again(bf->loop, &bf->health);
	arm_runtime(bf);
	for (int i = 0; i < bf->nworkers; i++) {
		struct wk *w = &bf->wk[i];
		long limit = c->batch_time > 0 ? w->want : c->batch_size;

		if (c->batch_time > 0 && limit < c->min_batch_size)
			limit = c->min_batch_size;
		if (c->batch_time > 0 && limit > c->max_batch_size)
			limit = c->max_batch_size;
		w->want = limit;
		w->session_stale = true;  /* lock and statement timeouts */
	}
}

/*
 * SIGHUP: parse the command line and the job file again. A bad file keeps
 * the running configuration; only live keys change (config_apply_reload
 * logs each change, and each key that needs a restart).
 */
static void reload(struct backfill *bf)
{
	struct config next;
	char err[CONFIG_ERR_LEN] = "";
	enum config_result r;

	notify_reloading();
	r = config_parse_args(&next, bf->argc, bf->argv, err, sizeof err);
	if (r == CONFIG_OK)
		r = config_validate(&next, err, sizeof err);
	if (r != CONFIG_OK) {
		log_warn("reload refused, keeping the running configuration: %s", err);
	} else {
		int n = config_apply_reload(bf->cfg, &next);

		apply_live(bf);
		log_info("reload: %d setting%s changed", n, n == 1 ? "" : "s");
	}
	config_free(&next);
	notify_ready();
}

/*
 * Signals arrive here through ev_signal: libev catches them and runs this
 * callback from the loop, not in signal context, so it may do anything a
 * normal callback does.
 */
static void signal_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct backfill *bf = s->data;

	(void)loop;
	(void)revents;
	switch (s->signum) {
	case SIGHUP:
		reload(bf);
		return;
	case SIGUSR1:
		throttle_set_paused(&bf->thr, true, "SIGUSR1");
		log_info("paused by SIGUSR1; SIGUSR2 resumes");
		return;
	case SIGUSR2:
		throttle_set_paused(&bf->thr, false, NULL);
		log_info("resumed by SIGUSR2");
		return;
	default:
		stop_all(bf, s->signum == SIGINT ? "SIGINT" : "SIGTERM");
		return;
	}
}

int backfill_run(struct config *cfg, int argc, char **argv)
{
	struct backfill bf;
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	char host[64] = "localhost";

	memset(&bf, 0, sizeof bf);
	bf.loop = loop;
	bf.cfg = cfg;
	bf.estimate = -1;
	bf.exit_code = NB_EXIT_FAILURE;
	bf.nworkers = (int)cfg->workers;
	bf.argc = argc;
	bf.argv = argv;
	metrics_init(&bf.metrics);
	notify_init();
	if (throttle_init(&bf.thr, cfg, ev_now(loop), bf.err, sizeof bf.err) != 0) {
		log_error("%s", bf.err);
		nanoid_free(&bf.gen);
		return NB_EXIT_CONFIG;
	}
	if (nanoid_init(&bf.gen, cfg->alphabet, (size_t)cfg->size, cfg->prefix) != 0) {
		log_error("out of memory");
		return NB_EXIT_FAILURE;
	}
	bf.wk = calloc((size_t)bf.nworkers, sizeof *bf.wk);
	if (!bf.wk) {
		nanoid_free(&bf.gen);
		log_error("out of memory");
		return NB_EXIT_FAILURE;
	}
	gethostname(host, sizeof host - 1);
	for (int i = 0; i < bf.nworkers; i++) {
		struct wk *w = &bf.wk[i];

		w->bf = &bf;
		w->id = i + 1;
		worker_init(&w->conn, loop, w->id, on_connect, on_result, w);
		ev_timer_init(&w->wait, wait_cb, 0, 0);
		w->wait.data = w;
		batch_init(&w->b, &bf.sql, cfg->batch_size);
		w->want = cfg->batch_size;
		throttle_lane_init(&w->lane);
		snprintf(w->owner, sizeof w->owner, "%s:%ld/%d", host, (long)getpid(), w->id);
	}

	ev_timer_init(&bf.tick, tick_cb, cfg->progress_interval, cfg->progress_interval);
	bf.tick.data = &bf;
	ev_signal_init(&bf.sig_term, signal_cb, SIGTERM);
	bf.sig_term.data = &bf;
	ev_signal_init(&bf.sig_int, signal_cb, SIGINT);
	bf.sig_int.data = &bf;
	ev_signal_init(&bf.sig_hup, signal_cb, SIGHUP);
	bf.sig_hup.data = &bf;
	ev_signal_init(&bf.sig_usr1, signal_cb, SIGUSR1);
	bf.sig_usr1.data = &bf;
	ev_signal_init(&bf.sig_usr2, signal_cb, SIGUSR2);
	bf.sig_usr2.data = &bf;
	ev_signal_start(loop, &bf.sig_usr1);
	ev_signal_start(loop, &bf.sig_usr2);
	worker_init(&bf.mon, loop, 0, mon_connect, mon_result, &bf);
	ev_timer_init(&bf.health, health_cb, cfg->health_interval, cfg->health_interval);
	bf.health.data = &bf;
	ev_timer_start(loop, &bf.health);
	ev_timer_init(&bf.runtime, runtime_cb, 0, 0);
	bf.runtime.data = &bf;
	ev_signal_start(loop, &bf.sig_term);
	ev_signal_start(loop, &bf.sig_int);
	ev_signal_start(loop, &bf.sig_hup);
	ev_timer_init(&bf.watchdog, watchdog_cb, 0, 0);
	if (notify_watchdog_interval() > 0) {
		ev_timer_set(&bf.watchdog, notify_watchdog_interval(), notify_watchdog_interval());
		ev_timer_start(loop, &bf.watchdog);
	}
	/* libpq writes to sockets; a peer that went away must not kill us. */
	signal(SIGPIPE, SIG_IGN);

	bf.started = bf.last_tick = bf.pass_ended = ev_now(loop);
	ev_timer_start(loop, &bf.tick);
	arm_runtime(&bf);
	for (int i = 0; i < bf.nworkers && !bf.finished; i++)
		start_connect(&bf.wk[i]);
	if (!bf.finished)
		ev_run(loop, 0);

	write_metrics(&bf, 0);
	ev_signal_stop(loop, &bf.sig_term);
	ev_signal_stop(loop, &bf.sig_int);
	ev_signal_stop(loop, &bf.sig_hup);
	ev_signal_stop(loop, &bf.sig_usr1);
	ev_signal_stop(loop, &bf.sig_usr2);
	ev_timer_stop(loop, &bf.health);
	ev_timer_stop(loop, &bf.runtime);
	worker_close(&bf.mon);
	ev_timer_stop(loop, &bf.tick);
	ev_timer_stop(loop, &bf.watchdog);
	notify_close();
	for (int i = 0; i < bf.nworkers; i++) {
		struct wk *w = &bf.wk[i];

		ev_timer_stop(loop, &w->wait);
		worker_close(&w->conn);
		batch_free(&w->b);
		free(w->ready);
		if (w->have_job)
			progress_job_free(&w->job);
	}
	free(bf.wk);
	free(bf.ids);
	if (bf.have_sql)
		batch_sql_free(&bf.sql);
	for (int i = 0; i < bf.nleaf; i++)
		free(bf.leaf[i].sql);
	free(bf.leaf);
	if (bf.have_prog)
		progress_free(&bf.prog);
	if (bf.have_target)
		target_free(&bf.target);
	nanoid_free(&bf.gen);
	return bf.exit_code;
}
