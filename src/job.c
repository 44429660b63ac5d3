/*
 * job.c - the lease and pass protocol as one transition function (see
 * job.h). Each answer is handled by the function named for its step; each
 * returns the next action.
 */
#include "job.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "exit_codes.h"
#include "log.h"

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

static const char *const step_names[JOB_NSTEPS] = {
	[JOB_UNASKED] = "unasked",
	[JOB_LIST] = "list",
	[JOB_TRY_LOCK] = "try_lock",
	[JOB_TAKE] = "take",
	[JOB_CARVE_LOCK] = "carve_lock",
	[JOB_READ_JOB] = "read_job",
	[JOB_START_PASS] = "start_pass",
	[JOB_PROBE] = "probe",
	[JOB_PROBE_RESTORE] = "probe_restore",
	[JOB_STAY_IDLE] = "stay_idle",
	[JOB_BOUNDARY] = "boundary",
	[JOB_CARVE] = "carve",
	[JOB_FRONTIER_DONE] = "frontier_done",
	[JOB_NEW_LEASE] = "new_lease",
	[JOB_LEASE_GONE] = "lease_gone",
	[JOB_REMAINING] = "remaining",
	[JOB_RESTORE] = "restore",
	[JOB_UNFILLED] = "unfilled",
	[JOB_UNFILLED_RESTORE] = "unfilled_restore",
	[JOB_PASS_END] = "pass_end",
	[JOB_UNLOCK] = "unlock",
	[JOB_WORKING] = "working",
	[JOB_WAITING] = "waiting",
	[JOB_FINISHED] = "finished",
};

const char *job_step_name(enum job_step s)
{
	return s >= 0 && s < JOB_NSTEPS && step_names[s] ? step_names[s] : "?";
}

const char *job_step_doing(enum job_step s)
{
	switch (s) {
	case JOB_LIST:
	case JOB_TRY_LOCK:
	case JOB_TAKE:
	case JOB_UNLOCK:
	case JOB_LEASE_GONE: return "taking a lease";
	case JOB_PROBE:
	case JOB_PROBE_RESTORE:
	case JOB_STAY_IDLE: return "looking for NULLs before a pass";
	case JOB_CARVE_LOCK:
	case JOB_READ_JOB:
	case JOB_START_PASS:
	case JOB_BOUNDARY:
	case JOB_CARVE:
	case JOB_FRONTIER_DONE:
	case JOB_NEW_LEASE: return "carving a lease";
	case JOB_REMAINING:
	case JOB_RESTORE: return "checking for NULLs left";
	case JOB_UNFILLED:
	case JOB_UNFILLED_RESTORE: return "counting the rows left NULL";
	case JOB_PASS_END: return "ending the pass";
	default: return "idle";
	}
}

void job_pass_init(struct job_pass *p, double now)
{
	memset(p, 0, sizeof *p);
	p->ended = now;
}

void job_worker_init(struct job_worker *w, int id)
{
	memset(w, 0, sizeof *w);
	w->id = id;
	w->step = JOB_UNASKED;
}

/* ---- actions ------------------------------------------------------------ */

static struct job_action send(struct job_worker *w, enum job_step step)
{
	struct job_action a = { .what = JOB_DO_SEND, .step = step,
				.lease = step == JOB_UNLOCK ? w->unlocking : w->lease };

	w->step = step;
	return a;
}

static struct job_action wait_for(struct job_worker *w, double seconds)
{
	struct job_action a = { .what = JOB_DO_WAIT, .seconds = seconds };

	w->step = JOB_WAITING;
	return a;
}

static struct job_action fail(struct job_worker *w, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct job_action fail(struct job_worker *w, int code, const char *fmt, ...)
{
	struct job_action a = { .what = JOB_DO_FAIL, .code = code };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a.message, sizeof a.message, fmt, ap);
	va_end(ap);
	w->step = JOB_FINISHED;
	return a;
}

static struct job_action unlock_then(struct job_worker *w, int lease,
				     enum job_after after, double wait)
{
	w->after = after;
	w->after_wait = wait;
	w->unlocking = lease;
	return send(w, JOB_UNLOCK);
}

/* A pass that ends running starts the next at once, in this process's
 * own walk: a pass it followed in another's walk is over. */
static struct job_action pass_end(struct job_worker *w, const struct job_config *c,
				  enum job_state state)
{
	struct job_action a = send(w, JOB_PASS_END);

	a.pass_state = state;
	a.by_key = c->own_by_key;
	return a;
}

static struct job_action work(struct job_worker *w)
{
	struct job_action a = { .what = JOB_DO_WORK, .lease = w->lease };

	w->step = JOB_WORKING;
	return a;
}

/* ---- pass accounting ---------------------------------------------------- */

void job_pass_count(struct job_pass *p, long long found, long long filled,
		    long long clashed, long long left_null)
{
	if (found - filled - clashed - left_null > 0)
		p->skipped += found - filled - clashed - left_null;
	p->left_null += left_null;
	p->clashed += clashed;
	p->rows_run += filled;
}

/* With one id left free in a space of S, a pass finds it with p ~ 1/S. */
static int clash_passes_max(const struct job_config *c)
{
	double space = c->log10_ids < 5 ? pow(10, c->log10_ids) : 1e5;

	return CLASH_PASSES + (int)(10 * space < 1e5 ? 10 * space : 1e5);
}

/*
 * At the end of a pass that leaves NULL rows: is it stuck? A pass that
 * filled nothing while a trigger kept rows NULL (skipped them, or set them
 * back) is; STALL_PASSES of those in a row, or CLASH_PASSES that filled
 * nothing because every id was taken, and it is time to say so.
 */
static bool stalled(struct job_pass *p, const struct job_config *c,
		    const struct job_row *j)
{
	bool empty = j->pass_rows == 0;
	/* A skipped row is a trigger's doing only where there is a trigger;
	 * without, another session changed it, and the next pass has it. */
	bool kept = p->left_null > 0 || (c->triggers && p->skipped > 0);

	log_debug("pass: %lld rows filled; found and skipped %lld, left NULL %lld, "
		  "kept for a taken id %lld", j->pass_rows, p->skipped,
		  p->left_null, p->clashed);
	p->stalled = empty && kept ? p->stalled + 1 : 0;
	p->clash_passes = empty && !kept && p->clashed > 0 ? p->clash_passes + 1 : 0;
	p->empty_passes = empty ? p->empty_passes + 1 : 0;
	p->skipped = p->left_null = p->clashed = 0;
	p->stall_clashed = p->clash_passes >= clash_passes_max(c);
	return p->stalled >= STALL_PASSES || p->stall_clashed;
}

double job_idle_wait(const struct job_pass *p, const struct job_config *c)
{
	double d = c->idle_interval * (p->stall_mult > 1 ? p->stall_mult : 1);
	double cap = fmax(c->idle_interval, STALL_WAIT_MAX);

	return d > cap ? cap : d;
}

/* ---- taking a lease ----------------------------------------------------- */

struct job_action job_acquire(struct job_worker *w)
{
	return send(w, JOB_LIST);
}

static struct job_action next_candidate(struct job_worker *w)
{
	if (w->icand < w->ncand) {
		w->lease = w->cand[w->icand++];
		return send(w, JOB_TRY_LOCK);
	}
	w->lease = 0;
	return send(w, JOB_CARVE_LOCK);
}

static struct job_action on_list(struct job_worker *w, const struct job_answer *a)
{
	w->ncand = a->nleases < JOB_MAX_CANDIDATES ? a->nleases : JOB_MAX_CANDIDATES;
	for (int i = 0; i < w->ncand; i++)
		w->cand[i] = a->leases[i];
	w->icand = 0;
	return next_candidate(w);
}

static struct job_action on_take(struct job_worker *w, const struct job_config *c,
				 const struct job_answer *a)
{
	if (a->take < 0)
		return fail(w, NB_EXIT_FAILURE, "lease %d has a malformed key in the "
			    "progress table", w->lease);
	if (a->take == 0)
		/* Done between the list and the lock. */
		return unlock_then(w, w->lease, JOB_AFTER_NEXT_CANDIDATE, 0);
	if (!c->by_key && a->rel_gone) {
		log_info("worker %d: lease %d: its table is gone; dropping the lease",
			 w->id, w->lease);
		return send(w, JOB_LEASE_GONE);
	}
	return work(w);
}

struct job_action job_lease_done(struct job_worker *w)
{
	return unlock_then(w, w->lease, JOB_AFTER_ACQUIRE, 0);
}

struct job_action job_lease_gone(struct job_worker *w)
{
	return send(w, JOB_LEASE_GONE);
}

void job_reset(struct job_worker *w)
{
	w->step = JOB_UNASKED;
}

/* ---- carving and passes, under the carve lock --------------------------- */

static struct job_action probe(struct job_worker *w, const struct job_config *c)
{
	const struct job_row *j = &w->row;
	struct job_action a;

	/* A tree gains partitions below any mark: it is probed whole. */
	w->probe_sweep = !c->probe_tail || c->tree || !j->has_hwm ||
			 j->swept_ago < 0 || j->swept_ago >= c->full_sweep_interval;
	a = send(w, JOB_PROBE);
	a.sweep = w->probe_sweep;
	a.from = w->probe_sweep ? NULL : j->hwm;
	return a;
}

/* Let the carve lock go, then change walks (JOB_DO_SWITCH). */
static struct job_action switch_walk(struct job_worker *w, bool by_key)
{
	w->switch_by_key = by_key;
	return unlock_then(w, 0, JOB_AFTER_SWITCH, 0);
}

static struct job_action on_read_job(struct job_worker *w, struct job_pass *p,
				     const struct job_config *c,
				     const struct job_answer *a)
{
	const struct job_row *j = a->row;
	bool until_done = c->until_done;

	if (!j)
		return fail(w, NB_EXIT_FAILURE, "job \"%s\" is missing or malformed in "
			    "the progress table", c->job);
	w->row = *j;
	if (j->state != JOB_IDLE && j->state != JOB_DONE && j->by_key != c->by_key)
		/* A pass in progress goes on in its walk: its leases and
		 * frontier are in that walk's terms. */
		return switch_walk(w, j->by_key);
	if (j->state == JOB_DONE && until_done)
		/* Another worker or process finished the job during this run. */
		return unlock_then(w, 0, JOB_AFTER_DONE, 0);
	if (j->state == JOB_IDLE || j->state == JOB_DONE) {
		if (j->idle_for < job_idle_wait(p, c) && !until_done)
			return unlock_then(w, 0, JOB_AFTER_WAIT,
					   job_idle_wait(p, c) - j->idle_for);
		if (c->by_key != c->own_by_key)
			/* The passes this process starts walk its own way. */
			return switch_walk(w, c->own_by_key);
		if (until_done)
			return send(w, JOB_START_PASS);
		return probe(w, c);
	}
	if (j->frontier_done) {
		if (j->open_leases > 0)
			/* The others are finishing their leases. */
			return unlock_then(w, 0, JOB_AFTER_WAIT, JOB_BUSY_POLL);
		if (until_done)
			/* Rows behind the frontier may have been inserted with
			 * NULL during the pass: only a fresh look says we are
			 * done. */
			return send(w, JOB_REMAINING);
		if (stalled(p, c, j) && p->stall_logged) {
			/* Said once already: no count of the table again, a
			 * longer wait. */
			if (p->stall_mult < 1e6)
				p->stall_mult = 2 * p->stall_mult;
			return pass_end(w, c, JOB_IDLE);
		}
		if (p->stalled >= STALL_PASSES || p->stall_clashed)
			return send(w, JOB_UNFILLED);
		if (p->stalled == 0 && !p->stall_clashed && p->stall_mult > 1) {
			p->stall_mult = 1;
			if (p->stall_logged)
				log_info("passes fill rows again; back to a pass every %g s",
					 c->idle_interval);
			p->stall_logged = false;
		}
		return pass_end(w, c, JOB_IDLE);
	}
	return send(w, c->by_key ? JOB_BOUNDARY : JOB_CARVE);
}

static struct job_action on_probe_restored(struct job_worker *w, const struct job_config *c)
{
	struct job_action a;

	log_debug("worker %d: %s probe: %s", w->id, w->probe_sweep ? "whole-table" :
		  "past the high-water mark", w->probe_found ? "NULLs found" : "nothing to fill");
	if (!w->probe_found) {
		a = send(w, JOB_STAY_IDLE);
		a.sweep = w->probe_sweep;
		a.max = w->probe_has_max ? w->probe_max : NULL;
		return a;
	}
	/* By key, the pass walks from the mark; in physical order all of it. */
	a = send(w, JOB_START_PASS);
	a.from = !w->probe_sweep && c->by_key ? w->row.hwm : NULL;
	a.max = w->probe_has_max ? w->probe_max : NULL;
	return a;
}

static struct job_action on_probe(struct job_worker *w, const struct job_config *c,
				  const struct job_answer *a)
{
	w->probe_found = a->found;
	w->probe_has_max = a->max != NULL;
	snprintf(w->probe_max, sizeof w->probe_max, "%s", a->max ? a->max : "");
	if (w->probe_sweep)
		return send(w, JOB_PROBE_RESTORE); /* the probe lifted the timeout */
	return on_probe_restored(w, c);
}

static struct job_action on_restore(struct job_worker *w, struct job_pass *p,
				    const struct job_config *c, double now)
{
	if (!w->remaining) {
		w->after = JOB_AFTER_DONE;
		return pass_end(w, c, JOB_DONE);
	}
	if (stalled(p, c, &w->row))
		/* Say how many and which, then stop. */
		return send(w, JOB_UNFILLED);
	w->after = JOB_AFTER_ACQUIRE;
	w->after_wait = 0;
	if (p->empty_passes > 0 && p->clash_passes == 0) {
		/* Not at full speed over rows that may not fill. */
		w->after = JOB_AFTER_WAIT;
		w->after_wait = fmax(EMPTY_PASS_WAIT_MIN,
				     fmin(now - p->ended, EMPTY_PASS_WAIT_MAX));
		log_info("the pass filled nothing; another pass in %.1f s", w->after_wait);
	} else if (c->guard) {
		/* Rows whose id was taken: many passes, each a few rows. */
		log_debug("rows with NULL remain behind the leases; starting another pass");
	} else {
		log_info("rows with NULL remain behind the leases; starting another pass");
	}
	return pass_end(w, c, JOB_RUNNING);
}

/*
 * The rows no pass could fill: how many, a few of them, and what
 * PostgreSQL lets us say about why. --until-done stops (exit 1); a
 * service says it once and backs off.
 */
static struct job_action on_unfilled(struct job_worker *w, struct job_pass *p,
				     const struct job_config *c,
				     const struct job_answer *a)
{
	const char *count = a->count ? a->count : "?";
	const char *few = a->count && a->few ? a->few : "";
	char line[JOB_MESSAGE_LEN], why[600];

	if (a->count && strcmp(count, "0") == 0) {
		/* Filled meanwhile (by the application): not stuck after all. */
		p->stalled = p->clash_passes = 0;
		p->stall_clashed = false;
		w->after = JOB_AFTER_ACQUIRE;
		w->after_wait = 0;
		return send(w, JOB_UNFILLED_RESTORE);
	}
	if (p->stall_clashed)
		snprintf(why, sizeof why, "every id drawn for them was taken already: "
			 "the 10^%.1f distinct ids of this format are nearly used up; "
			 "use a larger --size or --alphabet", c->log10_ids);
	else if (c->triggers)
		snprintf(why, sizeof why, "BEFORE UPDATE triggers that can skip a row or "
			 "set it back to NULL: %s", c->triggers);
	else
		snprintf(why, sizeof why, "there is no BEFORE UPDATE trigger; another "
			 "session may be changing them");
	snprintf(line, sizeof line, "%s rows of \"%s\".\"%s\" stay NULL after %d "
		 "passes without progress (%s %s): the batches' UPDATE skipped them or "
		 "left them NULL; %s", count, c->schema, c->table,
		 p->stall_clashed ? p->clash_passes : p->stalled,
		 c->has_keys ? "keys" : "ctids", few, why);
	if (c->until_done)
		return fail(w, NB_EXIT_FAILURE, "%s", line);
	if (!p->stall_logged) {
		p->stall_logged = true;
		log_warn("%s; passes back off while this lasts", line);
	}
	p->stall_mult = p->stall_mult > 1 ? 2 * p->stall_mult : 2;
	return send(w, JOB_UNFILLED_RESTORE);
}

static struct job_action on_pass_end(struct job_worker *w, struct job_pass *p,
				     const struct job_config *c, double now)
{
	if (c->until_done) {
		/* The next pass starts after the wait: its length is from then. */
		p->ended = now + w->after_wait;
		return unlock_then(w, 0, w->after, w->after_wait);
	}
	log_info("pass finished: %lld rows filled by this run; next pass in %g s",
		 p->rows_run, job_idle_wait(p, c));
	return unlock_then(w, 0, JOB_AFTER_WAIT, job_idle_wait(p, c));
}

static struct job_action on_unlock(struct job_worker *w)
{
	switch (w->after) {
	case JOB_AFTER_SWITCH:
		w->step = JOB_UNASKED;
		return (struct job_action){ .what = JOB_DO_SWITCH, .by_key = w->switch_by_key };
	case JOB_AFTER_WORK:
		return work(w);
	case JOB_AFTER_ACQUIRE:
		return job_acquire(w);
	case JOB_AFTER_NEXT_CANDIDATE:
		return next_candidate(w);
	case JOB_AFTER_WAIT:
		return wait_for(w, w->after_wait);
	case JOB_AFTER_DONE:
		break;
	}
	w->step = JOB_FINISHED;
	return (struct job_action){ .what = JOB_DO_DONE };
}

struct job_action job_answer(struct job_worker *w, struct job_pass *p,
			     const struct job_config *c, enum job_step step,
			     const struct job_answer *a, double now)
{
	if (step != w->step || step == JOB_UNASKED || step >= JOB_WORKING)
		return fail(w, NB_EXIT_FAILURE, "internal error: worker %d waits on %s, "
			    "not on an answer to %s", w->id, job_step_name(w->step),
			    job_step_name(step));
	switch (step) {
	case JOB_LIST:
		return on_list(w, a);
	case JOB_TRY_LOCK:
		if (a->locked)
			return send(w, JOB_TAKE);
		return next_candidate(w);
	case JOB_TAKE:
		return on_take(w, c, a);
	case JOB_CARVE_LOCK:
		if (a->locked)
			return send(w, JOB_READ_JOB);
		/* Another worker carves, or ends the pass: look again soon. */
		return wait_for(w, JOB_BUSY_POLL);
	case JOB_READ_JOB:
		return on_read_job(w, p, c, a);
	case JOB_START_PASS:
		log_info("starting a new pass over \"%s\".\"%s\"", c->schema, c->table);
		/* Still holding the carve lock: read the job again. */
		return send(w, JOB_READ_JOB);
	case JOB_PROBE:
		return on_probe(w, c, a);
	case JOB_PROBE_RESTORE:
		return on_probe_restored(w, c);
	case JOB_STAY_IDLE:
		return unlock_then(w, 0, JOB_AFTER_WAIT, c->idle_interval);
	case JOB_BOUNDARY:
		/* The bounds are the engine's; the lease is the next number. */
		w->lease = w->row.next_lease;
		return send(w, JOB_NEW_LEASE);
	case JOB_CARVE:
		if (!a->found)
			/* Every relation is carved: the pass ends with its leases. */
			return send(w, JOB_FRONTIER_DONE);
		w->lease = w->row.next_lease;
		return send(w, JOB_NEW_LEASE);
	case JOB_FRONTIER_DONE:
		return send(w, JOB_READ_JOB);
	case JOB_NEW_LEASE:
		log_debug("worker %d: carved lease %d", w->id, w->lease);
		/* The carve lock goes; the lease carved stays. */
		return unlock_then(w, 0, a->locked ? JOB_AFTER_WORK : JOB_AFTER_ACQUIRE, 0);
	case JOB_LEASE_GONE:
		return unlock_then(w, w->lease, JOB_AFTER_ACQUIRE, 0);
	case JOB_REMAINING:
		w->remaining = a->found;
		return send(w, JOB_RESTORE);
	case JOB_RESTORE:
		return on_restore(w, p, c, now);
	case JOB_UNFILLED:
		return on_unfilled(w, p, c, a);
	case JOB_UNFILLED_RESTORE:
		/* --until-done goes on at once (rows were filled meanwhile); a
		 * service's pass ends as any other. */
		return pass_end(w, c, c->until_done ? JOB_RUNNING : JOB_IDLE);
	case JOB_PASS_END:
		return on_pass_end(w, p, c, now);
	case JOB_UNLOCK:
		return on_unlock(w);
	default:
		break;
	}
	return fail(w, NB_EXIT_FAILURE, "internal error: no answer expected to %s",
		    job_step_name(step));
}
