/*
 * pace.h - how fast may the backfill go: a feedback controller that
 * raises the rate while the application shows no harm, and cuts it
 * within one or two probes when it does.
 *
 * The signal is measured on the server, by a small probe query on the
 * health connection every PACE_PROBE_INTERVAL seconds (health.h builds
 * it): its round-trip latency, and what it sees of the other client
 * sessions (not ours, not another nanoid-backfill's). Harm is:
 *   - a session waiting on a lock our backends hold (blocked): the rate
 *     is cut hard at once;
 *   - sessions waiting on WAL (WALWrite, WALInsert, WALSync: the commits
 *     of the application queue behind our WAL), in PACE_HARM_PROBES of
 *     the last PACE_WINDOW probes - or more, where the quiet windows'
 *     probes see such waits too (a disk whose flushes are slow by
 *     themselves): as many as would come by chance at the quiet share
 *     less than PACE_WAL_CHANCE of the time (pace_wal_harm_probes()),
 *     and the probe that cuts sees one itself. A window's first quiet
 *     probe does not count among the quiet ones unless it is the
 *     window's only one: the WAL of our last batches may not be flushed
 *     yet (synchronous_commit off), so a commit waiting then may wait on
 *     ours; the probe's own commit flushes it;
 *   - the probe slower than --max-latency-increase times its baseline,
 *     in PACE_HARM_PROBES of the last PACE_WINDOW probes, each of which
 *     saw another session at work (a latency that only our own load
 *     raises harms nobody). A tail, not the median: the application's p99 is what
 *     the pace protects, and a tail shows as a few slow probes.
 * The baseline is the probe's latency with no batch running: the
 * controller asks for a short quiet window (PACE_QUIET seconds without
 * batches, pace_quiet()) when other sessions start working, and again
 * every PACE_REPROBE seconds while they do, as BBR re-measures its
 * minimum round trip. Idle sessions and a monitoring poller (a query
 * now and then) are not work: the load is the share of probes that saw
 * another session active, smoothed over about 3 s (a poller's 1 ms a
 * second is seen once in a hundred probes; a workload of 100 short
 * transactions a second, in one probe of five), and under PACE_LOAD_MIN
 * nothing is measured and nothing held back.
 *
 * Until the first probes tell, the server counts as loaded: batches
 * start at PACE_START rows/s, the first probe opens a quiet window, and
 * without other sessions at work the limit goes a few probes later - at
 * once, where the first probe finds no other client session connected at
 * all (and none it cannot see into): with nobody there, there is nobody
 * to harm, and the slow start would only cost an idle server's backfill
 * its first half second. The
 * rate starts at PACE_START rows/s, grows while nothing is harmed - by
 * PACE_GROWTH a probe up to the rate of the last cut, by PACE_STEP_SHARE
 * of that rate a probe past it, at most PACE_STEP rows/s (a cut to half
 * of up to 20,000 rows/s is made good in about ten seconds: the harm lies
 * above, and each return to it is a tail the application sees), as TCP's
 * slow start and congestion avoidance - but to
 * at most twice what the batches reach, so that a cut bites at once; it
 * halves on harm (never under --min-rate), and after a cut holds for
 * PACE_HOLD seconds. When other
 * sessions start working (the smoothed load, which two probes seeing a
 * session within a few seconds raise to PACE_LOAD_MIN, or at once: two
 * at work in one probe, or one waiting on our locks), the rate is halved
 * at once - for those two sure signs it goes back to at most the slow
 * start's PACE_START, since one session seen now and then may be a
 * poller - forgets the rate of the last harm (another load's), and a
 * quiet window takes a baseline: a workload that arrives while the
 * backfill runs at full speed is met within one or two probes, and finds
 * the backfill slow, not at the idle server's full speed.
 *
 * Pure logic: no clock, no I/O; every time is an argument, on one clock
 * that never goes back. The throttle (throttle.h) owns one and asks it
 * for the rate in force; unit tests drive it on a simulated clock.
 */
#ifndef NB_PACE_H
#define NB_PACE_H

#include <stdbool.h>
#include <stddef.h>

#define PACE_PROBE_INTERVAL 0.1   /* seconds between probes */
#define PACE_START 2000.0         /* rows/s at the start */
#define PACE_GROWTH 1.25          /* a probe's growth without harm, */
#define PACE_STEP_SHARE 0.01      /* and past the rate of the last cut, this */
#define PACE_STEP_MIN 10.0        /* share of it, at least PACE_STEP_MIN and */
#define PACE_STEP 100.0           /* at most PACE_STEP rows/s (pace_step()) */
#define PACE_HOLD 0.5             /* seconds without growth after a cut */
#define PACE_QUIET 0.3            /* seconds of a quiet window */
#define PACE_REPROBE 10.0         /* seconds between quiet windows under load */
#define PACE_LOAD_MIN 0.04        /* share of probes seeing others at work */
#define PACE_BATCH_SECONDS 0.025  /* a paced batch: this many seconds' rows, */
#define PACE_BATCH_ROWS 100       /* at most this many (a millisecond or two of
				   * locks and WAL: under light load the tail
				   * follows the batch, more than the rate) */
#define PACE_WINDOW 10            /* probes a harm is counted over, */
#define PACE_HARM_PROBES 2        /* and how many of them make one */
#define PACE_QUIET_HISTORY 30     /* quiet probes the WAL waits without us are
				   * counted over (about 10 quiet windows), */
#define PACE_QUIET_PRIOR 4        /* as if this many more had seen none, */
#define PACE_WAL_CHANCE 0.02      /* and the chance a count of WAL waits may have
				   * of coming from them alone */
#define PACE_REASON_LEN 160

struct pace_config {
	double max_increase;    /* --max-latency-increase; 0: no controller */
	double min_rate;        /* --min-rate: never slower, rows/s */
};

/* One probe's answer. */
struct pace_sample {
	double sent, at;        /* when it was sent and answered */
	bool quiet;             /* sent in a quiet window, no batch running */
	long active;            /* other client sessions at work */
	long wal_waits;         /* of them, waiting on WAL */
	long blocked;           /* other sessions waiting on our locks */
	bool alone;             /* no other client session connected at all,
				 * and none the role cannot see into */
};

/* Why the rate is what it is. */
enum pace_why {
	PACE_OFF,               /* no controller: unpaced */
	PACE_FREE,              /* nobody else works: no limit */
	PACE_RAMP,              /* others work, no harm seen: growing */
	PACE_HARM,              /* cut: harm seen */
	PACE_MEASURE,           /* a quiet window: measuring the baseline */
};

struct pace {
	struct pace_config c;
	double rate;            /* rows/s in force; 0: none */
	enum pace_why why;
	char reason[PACE_REASON_LEN];
	double baseline;        /* the probe's latency alone, seconds; < 0: none */
	double baseline_at;
	double window_min;      /* of the quiet window in progress; < 0: none */
	double quiet_from, quiet_until;
	double load;            /* share of probes seeing others at work */
	bool loaded;            /* load >= PACE_LOAD_MIN at the last sample */
	double hold_until;
	double ssthresh;        /* the rate after the last cut: growth slows there */
	unsigned slow_bits, wal_bits; /* the last PACE_WINDOW probes: slow, WAL waits */
	unsigned quiet_wal_bits;  /* the last quiet probes: WAL waits, */
	int quiet_seen;           /* of at most PACE_QUIET_HISTORY */
	int window_probes;        /* quiet probes of the window in progress */
	bool window_first_wal;    /* its first one's WAL waits, held */
	double achieved;        /* rows/s the batches reached, smoothed */
	double rows_at;         /* when rows were last counted */
	double rows;            /* counted since then */
	double last_latency;
	long samples;
};

void pace_init(struct pace *p, const struct pace_config *c, double now);

/* A reload: new knobs, the state kept. */
void pace_reconfigure(struct pace *p, const struct pace_config *c);

/* A probe answered. */
void pace_sample(struct pace *p, const struct pace_sample *s);

/* Batches filled rows rows; now is when. Bounds the growth. */
void pace_rows(struct pace *p, long rows, double now);

/* How much the rate grows a probe past the rate of the last cut,
 * ssthresh, rows/s. */
double pace_step(double ssthresh);

/* How many of the last PACE_WINDOW probes must see sessions waiting on
 * WAL to make a harm: PACE_HARM_PROBES, or more where the quiet windows'
 * probes saw waits (quiet_wal of quiet_seen): the fewest that a share of
 * quiet_wal / (quiet_seen + PACE_QUIET_PRIOR) would reach by chance less
 * than PACE_WAL_CHANCE of the time (binomially), at most PACE_WINDOW. */
int pace_wal_harm_probes(int quiet_wal, int quiet_seen);

/* The rate in force at now, rows/s; 0: none. */
double pace_rate(const struct pace *p, double now);

/* Whether batches should hold now: a quiet window to measure the
 * baseline. */
bool pace_quiet(const struct pace *p, double now);

/* Why the rate is held, in buf ("probe 2.1 ms > 1.5x its 1.2 ms
 * baseline"), or NULL when nothing holds it. */
const char *pace_reason(const struct pace *p, double now, char *buf, size_t len);

#endif
