/*
 * pace.c - the rate controller (see pace.h).
 */
#include "pace.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Smoothing of the load (per probe: a time constant of about 3 s) and of
 * the rows/s reached. */
#define LOAD_ALPHA 0.03
#define ACHIEVED_TAU 0.5
#define WINDOW_MASK ((1u << PACE_WINDOW) - 1)
#define QUIET_MASK ((1u << PACE_QUIET_HISTORY) - 1)
_Static_assert(PACE_WINDOW < 32 && PACE_QUIET_HISTORY < 32,
	       "the probe histories are bits of an unsigned");

/* A cut for a blocked session, and for the other harms. */
#define CUT_BLOCKED 0.25
#define CUT_HARM 0.5

void pace_init(struct pace *p, const struct pace_config *c, double now)
{
	memset(p, 0, sizeof *p);
	p->c = *c;
	p->rate = PACE_START;
	/* Until probes show otherwise, others may be at work: start slowly,
	 * and measure the baseline at the first probe. */
	p->why = c->max_increase > 0 ? PACE_MEASURE : PACE_OFF;
	snprintf(p->reason, sizeof p->reason, "learning the server's load");
	p->load = PACE_LOAD_MIN / 2 * 1.1;  /* free after a few idle probes */
	p->loaded = true;
	p->baseline = -1;
	p->baseline_at = now;
	p->window_min = -1;
	p->quiet_from = p->quiet_until = now;
	p->hold_until = now;
	p->rows_at = now;
	p->ssthresh = HUGE_VAL;
}

void pace_reconfigure(struct pace *p, const struct pace_config *c)
{
	p->c = *c;
	if (c->max_increase <= 0)
		p->why = PACE_OFF;
	else if (p->why == PACE_OFF)
		p->why = PACE_FREE;
}

void pace_rows(struct pace *p, long rows, double now)
{
	double dt = now - p->rows_at;

	p->rows += (double)rows;
	if (dt < 0.1)
		return;
	/* rows/s over the last tenth of a second or more, smoothed */
	p->achieved += (1 - exp(-dt / ACHIEVED_TAU)) * (p->rows / dt - p->achieved);
	p->rows = 0;
	p->rows_at = now;
}

static void cut(struct pace *p, double factor, double at)
{
	/* From what the batches reach: without a limit (nobody worked) the
	 * rate in force says nothing. */
	double from = p->why == PACE_FREE || (p->achieved > 0 && p->achieved < p->rate) ?
		      p->achieved : p->rate;

	if (from <= 0)
		from = p->rate;

	p->rate = fmax(p->c.min_rate, from * factor);
	/* Past here growth is additive: the harm lies above. */
	p->ssthresh = p->rate;
	p->why = PACE_HARM;
	p->hold_until = at + PACE_HOLD;
}

double pace_step(double ssthresh)
{
	return fmin(PACE_STEP, fmax(PACE_STEP_MIN, PACE_STEP_SHARE * ssthresh));
}

int pace_wal_harm_probes(int quiet_wal, int quiet_seen)
{
	double q = quiet_wal > 0 ? (double)quiet_wal / (quiet_seen + PACE_QUIET_PRIOR) : 0;
	/* P(X >= k) for X ~ B(PACE_WINDOW, q), from k = PACE_WINDOW down */
	double term = pow(q, PACE_WINDOW), tail = 0;
	int k, need = PACE_WINDOW;

	if (q <= 0)
		return PACE_HARM_PROBES;
	if (q >= 1)
		return PACE_WINDOW;
	for (k = PACE_WINDOW; k >= PACE_HARM_PROBES; k--) {
		tail += term;
		if (tail >= PACE_WAL_CHANCE)
			break;
		need = k;
		/* P(X = k-1) from P(X = k) */
		term *= (double)k / (PACE_WINDOW - k + 1) * (1 - q) / q;
	}
	return need;
}

/* One quiet probe into the WAL history: whether it saw a WAL wait. */
static void note_quiet_wal(struct pace *p, bool wal)
{
	p->quiet_wal_bits = (p->quiet_wal_bits << 1 | wal) & QUIET_MASK;
	if (p->quiet_seen < PACE_QUIET_HISTORY)
		p->quiet_seen++;
}

static void start_quiet(struct pace *p, double at)
{
	p->quiet_from = at;
	p->quiet_until = at + PACE_QUIET;
	p->window_min = -1;
	p->window_probes = 0;
}

/*
 * Others start working: a quiet window for a baseline, no rate of a last
 * harm (that was another load's), and, where the probe is sure (two
 * sessions at work at once, or one waiting on our locks), back to the
 * slow start at once, at most PACE_START, as TCP restarts after idle: the
 * full speed of an idle server says nothing of what a loaded one bears.
 * One session seen now and then may be a monitoring poller whose queries
 * happened to fall close together: the cut before (half) is all.
 */
static void restart(struct pace *p, bool sure, double at)
{
	if (sure)
		p->rate = fmax(p->c.min_rate, fmin(p->rate, PACE_START));
	p->ssthresh = HUGE_VAL;
	/* The WAL waits of an earlier load say nothing of this one's. */
	p->quiet_wal_bits = 0;
	p->quiet_seen = 0;
	start_quiet(p, at);
}

void pace_sample(struct pace *p, const struct pace_sample *s)
{
	double latency = s->at - s->sent;
	bool was_loaded = p->loaded, quiet;
	int quiet_wal;

	if (p->c.max_increase <= 0)
		return;
	if (p->samples++ == 0)
		start_quiet(p, s->sent);
	p->last_latency = latency;
	p->load += LOAD_ALPHA * ((s->active > 0 ? 1.0 : 0.0) - p->load);
	/* Nobody connected at the first probe: no slow start. Only then: a
	 * load whose sessions connect per request is "alone" between them,
	 * and its sightings must add up as any others do. */
	if (s->alone && p->samples == 1)
		p->load = 0;
	if (s->blocked > 0 && p->load < PACE_LOAD_MIN)
		p->load = PACE_LOAD_MIN;  /* someone waits on us: that is load */
	/* A workload that starts is met at once, before the smoothed load
	 * shows it: two sessions at work in one probe. (One session seen by
	 * two probes within a few seconds is load by the smoothing alone.) A
	 * poller is one session, seen once in a hundred probes. */
	if (!p->loaded && s->active >= 2 && p->load < PACE_LOAD_MIN)
		p->load = PACE_LOAD_MIN;
	/* Loaded from PACE_LOAD_MIN on, free again under half of it: a load
	 * hovering at the threshold does not flip every other second. */
	p->loaded = p->load >= (p->loaded ? PACE_LOAD_MIN / 2 : PACE_LOAD_MIN);
	quiet = s->quiet && s->sent >= p->quiet_from && s->sent < p->quiet_until;
	if (quiet) {
		if (p->window_min < 0 || latency < p->window_min)
			p->window_min = latency;
		/* WAL waits with no batch of ours running: the server's own -
		 * after the window's first quiet probe, whose commit flushed
		 * what our last batches' commits left unflushed. That one is
		 * held, and counted only if it stays the window's only one (a
		 * slow probe): a window that counted none would leave the
		 * history empty where it is needed most. */
		if (p->window_probes++ == 0)
			p->window_first_wal = s->wal_waits > 0;
		else
			note_quiet_wal(p, s->wal_waits > 0);
	}
	if (s->at >= p->quiet_until && p->window_min >= 0) {
		/* The quiet window is over: its fastest probe is the baseline. */
		if (p->window_probes == 1)
			note_quiet_wal(p, p->window_first_wal);
		p->baseline = p->window_min;
		p->baseline_at = s->at;
		p->window_min = -1;
	}

	if (s->blocked > 0) {
		cut(p, CUT_BLOCKED, s->at);
		if (!was_loaded)
			restart(p, true, s->at);
		snprintf(p->reason, sizeof p->reason, "%ld session%s wait%s on our locks",
			 s->blocked, s->blocked == 1 ? "" : "s", s->blocked == 1 ? "s" : "");
		return;
	}
	if (!p->loaded) {
		/* Nobody to harm: no limit, no baseline to keep. */
		p->why = PACE_FREE;
		p->slow_bits = p->wal_bits = 0;
		return;
	}
	if (!was_loaded) {
		cut(p, CUT_HARM, s->at);
		restart(p, s->active >= 2, s->at);
		p->why = PACE_MEASURE;
		snprintf(p->reason, sizeof p->reason, "other sessions started working");
		return;
	}
	if (s->at - p->baseline_at >= PACE_REPROBE && s->at >= p->quiet_until)
		start_quiet(p, s->at);
	if (s->at < p->quiet_until || quiet) {
		/* A quiet probe answered after its window is the window's, not
		 * one of the batches' probes below. */
		p->why = PACE_MEASURE;
		return;
	}

	/* The last PACE_WINDOW probes: the application's tail is what we
	 * protect, and a tail shows as a few slow probes, not as a slow
	 * median. */
	p->wal_bits = (p->wal_bits << 1 | (s->wal_waits > 0)) & WINDOW_MASK;
	/* A slow probe is harm only where another session was at work to
	 * suffer it: a latency that only our own batches raise (the load
	 * still counted from a poller's queries a moment ago) harms nobody. */
	p->slow_bits = (p->slow_bits << 1 |
			(s->active > 0 && p->baseline > 0 &&
			 latency > p->c.max_increase * p->baseline)) &
		       WINDOW_MASK;
	quiet_wal = __builtin_popcount(p->quiet_wal_bits);
	/* The cut comes on a probe that sees a wait: the bar may have
	 * dropped since the last one (a quiet window without waits). */
	if (s->wal_waits > 0 &&
	    __builtin_popcount(p->wal_bits) >= pace_wal_harm_probes(quiet_wal, p->quiet_seen)) {
		cut(p, CUT_HARM, s->at);
		snprintf(p->reason, sizeof p->reason,
			 "%ld session%s wait%s on WAL (in %d of %d probes; quiet: %d of %d)",
			 s->wal_waits, s->wal_waits == 1 ? "" : "s",
			 s->wal_waits == 1 ? "s" : "", __builtin_popcount(p->wal_bits),
			 PACE_WINDOW, quiet_wal, p->quiet_seen);
		p->wal_bits = p->slow_bits = 0;
		return;
	}
	if (__builtin_popcount(p->slow_bits) >= PACE_HARM_PROBES) {
		cut(p, CUT_HARM, s->at);
		snprintf(p->reason, sizeof p->reason, "probe %.3g ms > %.3gx its %.3g ms baseline",
			 latency * 1000, p->c.max_increase, p->baseline * 1000);
		p->wal_bits = p->slow_bits = 0;
		return;
	}
	if (s->at < p->hold_until)
		return;
	/* No harm: grow (by a quarter a probe up to where harm was last seen,
	 * by PACE_STEP_SHARE of it past it, at most PACE_STEP: a slow return
	 * to the rate that harmed), but not far past what the batches reach. */
	p->rate = p->rate < p->ssthresh ? p->rate * PACE_GROWTH :
		  p->rate + pace_step(p->ssthresh);
	p->rate = fmin(p->rate, fmax(2 * p->achieved, PACE_START));
	if (p->rate < p->c.min_rate)
		p->rate = p->c.min_rate;
	p->why = PACE_RAMP;
}

double pace_rate(const struct pace *p, double now)
{
	(void)now;
	if (p->why == PACE_OFF || p->why == PACE_FREE)
		return 0;
	return p->rate;
}

bool pace_quiet(const struct pace *p, double now)
{
	return p->why != PACE_OFF && p->loaded && now >= p->quiet_from &&
	       now < p->quiet_until;
}

const char *pace_reason(const struct pace *p, double now, char *buf, size_t len)
{
	if (pace_quiet(p, now)) {
		snprintf(buf, len, "measuring the probe's baseline (no batch for %.1f s)",
			 PACE_QUIET);
		return buf;
	}
	switch (p->why) {
	case PACE_OFF:
	case PACE_FREE:
		return NULL;
	case PACE_HARM:
		snprintf(buf, len, "%s", p->reason);
		return buf;
	case PACE_RAMP:
		snprintf(buf, len, "no harm seen, growing");
		return buf;
	case PACE_MEASURE:
		snprintf(buf, len, "%s", p->reason[0] ? p->reason :
			 "measuring the probe's baseline");
		return buf;
	}
	return NULL;
}
