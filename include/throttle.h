/*
 * throttle.h - when may the next batch start: pacing, pauses for health
 * signals, time windows and a manual pause.
 *
 * Decisions only. No clock of its own (every time is an argument, so the
 * unit tests drive it on a simulated clock), no libpq, no file system, no
 * time zone, no logging, no allocation. What it decides on comes in as
 * arguments: health samples (health.h turns PostgreSQL's answers into
 * them), and what the host says at each throttle_wait (struct
 * throttle_env, which throttle_env.h reads: the local time of day and the
 * pause file). The engine feeds it and asks it; wiring is:
 *
 *   start     throttle_init(&t, cfg, now)
 *   SIGHUP    throttle_reconfigure(&t, cfg) after config_apply_reload()
 *   batch     throttle_env_read(&env, &t, now, time(NULL));
 *             w = throttle_wait(&t, lane, now, &env, rows, &why):
 *               w == 0: a grant, start the batch now;
 *               w > 0:  arm a timer for w seconds, then ask again;
 *               w < 0:  THROTTLE_STOP, max-runtime is over: stop as on
 *                       SIGTERM (state "stopped", exit 0; a rerun resumes)
 *             after it (committed or failed): throttle_after_batch()
 *   health    every cfg->health_interval seconds, if
 *             throttle_health_wanted(): run the health query (health.h);
 *             a sample goes to throttle_health_update(), a failed query
 *             nowhere (a lack of samples is itself a signal)
 *   signals   SIGUSR1 -> throttle_set_paused(&t, true, "SIGUSR1"),
 *             SIGUSR2 -> throttle_set_paused(&t, false, NULL) (handled in
 *             the loop, like SIGTERM; a waiting worker then asks again)
 *   runtime   a timer of throttle_runtime_left() seconds (an idle service
 *             never calls throttle_wait), then throttle_runtime_over()
 *   log       throttle_reason() for the progress line "throttled: <reason>";
 *             throttle_take_change() for one line when a pause starts or
 *             ends; throttle_seconds() per cause, named by
 *             throttle_cause_name(), for the metrics
 *
 * "now" is seconds on a clock that does not jump (CLOCK_MONOTONIC, or
 * ev_now() of the loop); every call on one throttle uses the same clock
 * and never goes back in time. Active hours are matched against the local
 * time of day in struct throttle_env, never against "now".
 *
 * Pauses and pacing:
 *   - a pause holds every worker: a manual pause (signal), the pause file
 *     exists, outside active-hours, a health signal over its limit, or no
 *     health sample for a while (see throttle_health_update). While paused,
 *     throttle_wait returns at most THROTTLE_POLL seconds, so a removed
 *     pause file or a resume is seen within that time;
 *   - pacing spaces one worker's batches (sleep, nice-ratio: from the end
 *     of that worker's last batch) or all of them together (max-rate: one
 *     token bucket for the process);
 *   - pace: the bucket's rate is at most what the pace controller
 *     (pace.h) allows: no limit while nobody else works, a rate that
 *     grows while the application shows no harm and is cut when it does,
 *     and short quiet windows (no batch) in which its probe measures its
 *     baseline. The probe runs on the health connection every
 *     PACE_PROBE_INTERVAL seconds while throttle_probe_wanted(): the
 *     daemon sends it, asks throttle_probe_quiet() as it does, and gives
 *     the answer to throttle_probe().
 *
 * Several workers: each has its own struct throttle_lane (sleep and
 * nice-ratio are per worker; the rows a grant reserved are refunded to the
 * shared bucket by that worker's throttle_after_batch). A single worker may
 * pass lane NULL: the throttle's own lane is used.
 */
#ifndef NB_THROTTLE_H
#define NB_THROTTLE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "health.h"
#include "pace.h"

#define THROTTLE_STOP (-1.0)          /* throttle_wait: max-runtime is over */
#define THROTTLE_POLL 1.0             /* longest wait while paused, seconds */
#define THROTTLE_REASON_LEN 320

/*
 * A resumed level signal (lag, WAL rate, slot) must fall to this fraction
 * of its limit: without the margin a lag hovering at the limit would pause
 * and resume at every health sample.
 */
#define THROTTLE_RESUME_FRACTION 0.8

/* Time constant of the smoothed WAL rate, seconds. */
#define THROTTLE_WAL_TAU 5.0

/* Why a batch waits. The names (throttle_cause_name, one table in
 * throttle.c) are stable: the resume log line, the metrics labels and the
 * docs use them. */
enum throttle_cause {
	THROTTLE_PAUSED,        /* throttle_set_paused: "paused" */
	THROTTLE_PAUSE_FILE,    /* "pause-file" */
	THROTTLE_ACTIVE_HOURS,  /* "active-hours" */
	THROTTLE_HEALTH_STALE,  /* "health-unknown": no recent health sample */
	THROTTLE_REPLICA_LAG,   /* "replica-lag": bytes or time */
	THROTTLE_WAL_RATE,      /* "wal-rate" */
	THROTTLE_SLOT_WAL,      /* "slot-wal": WAL retained by a slot */
	THROTTLE_BLOCKING,      /* "blocking": our backends block others */
	THROTTLE_AUTOVACUUM,    /* "autovacuum": on the target table */
	THROTTLE_PACE,          /* "pace": the rate the pace controller sets */
	THROTTLE_MAX_RATE,      /* "max-rate" */
	THROTTLE_SLEEP,         /* "sleep" */
	THROTTLE_NICE_RATIO,    /* "nice-ratio" */
	THROTTLE_NCAUSES
};

/* One worker's pacing state; zero it with throttle_lane_init. */
struct throttle_lane {
	double not_before;      /* sleep/nice-ratio: next batch not before */
	enum throttle_cause not_before_cause;
	long granted;           /* rows reserved by the last grant */
	double granted_rate;    /* at this rate (rows/s) */
	int held;               /* cause of the last wait, or -1 */
	double held_since;
};

/*
 * The last health sample as the throttle keeps it (read-only for the
 * caller): the sample's values, when it came, and the WAL rate derived
 * from the WAL positions of successive samples.
 */
struct throttle_health {
	bool have;              /* a sample was taken */
	double at;              /* when, on the "now" clock */
	double lag_bytes;       /* max replay lag over standbys; 0 if none */
	double lag_seconds;     /* max replay_lag; 0 if none or caught up */
	long replicas;          /* rows of pg_stat_replication */
	long replicas_unknown;  /* of which without a replay position */
	double wal_lsn;         /* current WAL position, bytes; < 0 unknown */
	double wal_rate;        /* smoothed bytes/s; < 0 until two samples */
	double slot_bytes;      /* max WAL retained by a slot; 0 if none */
	long blocked;           /* other sessions waiting on our backends */
	long autovacuum;        /* autovacuum workers on the table */
	long others;            /* other client sessions not idle, or unseen */
	double others_idle_s;   /* since the last of the idle ones worked;
	                         * < 0: none */
	bool sees_all;          /* the role may read all sessions' stats */
	bool in_recovery;       /* the server is a standby */
};

/*
 * What the host says at one throttle_wait, read by throttle_env_read()
 * (throttle_env.h), or made up by a test.
 */
struct throttle_env {
	int minute_of_day;      /* local time of day: 0..1439; < 0 unknown
	                         * (then active hours do not hold) */
	int second;             /* and its second, 0..59 */
	bool file_looked;       /* the pause file was looked at for this call
	                         * (throttle_pause_file_due said to); if not,
	                         * the last look stands */
	bool file_present;      /* it exists */
	int file_errno;         /* != 0: it could not be checked (an errno
	                         * other than "not there") */
};

/*
 * The whole state. Embed it; the fields are private to throttle.c but for
 * `health`, which the caller may read (e.g. the replica lag gauge).
 */
struct throttle {
	/* limits, from the config (throttle_reconfigure) */
	double max_rate;                /* rows/s; 0: none */
	struct pace_config pace_config;
	long sleep_ms;
	double sleep_s;
	double nice_ratio;
	double max_lag_bytes, max_lag_s, max_wal_rate, max_slot_bytes;
	bool pause_on_blocking, pause_on_autovacuum;
	double health_interval;
	bool window;                    /* active-hours set */
	int window_start, window_end;   /* minutes after local midnight */
	double max_runtime;             /* seconds; 0: none */
	char pause_file[PATH_MAX];      /* "": none */

	double started;                 /* throttle_init's now */
	double tat;                     /* token bucket: theoretical arrival */
	struct pace pace;               /* the rate by measured harm (pace.h) */
	double last_batch_end;          /* when a batch last ended */
	struct throttle_lane lane;      /* for lane == NULL */

	bool manual;                    /* throttle_set_paused */
	char manual_by[32];
	bool file_present;              /* at the last look */
	double file_checked;            /* when; < 0: never */
	int file_errno;                 /* the last look could not tell */
	bool outside_window;            /* at the last throttle_wait */

	struct throttle_health health;
	bool hold_lag, hold_wal, hold_slot; /* level signals with hysteresis */
	int warned;                     /* health warnings already returned */

	int pause_cause;                /* current pause, or -1 */
	char pause_reason[THROTTLE_REASON_LEN];
	int pace_cause;                 /* last pacing wait, or -1 */
	double pace_until;
	char pace_reason[THROTTLE_REASON_LEN];

	int reported_cause;             /* throttle_take_change: or -1 */
	double reported_since;

	double seconds[THROTTLE_NCAUSES];   /* seconds held, per cause */
	double covered[THROTTLE_NCAUSES];   /* end of time already counted */
};

/*
 * Sets t up from cfg (validated by config_validate) at time now, which
 * also starts the max-runtime clock. No pause, empty bucket debt, no
 * health sample. Returns 0, or -1 with one line in err if a value cannot
 * be used (active-hours malformed, pause-file path too long): config
 * validation already refuses those. Holds no resources: nothing to free.
 */
int throttle_init(struct throttle *t, const struct config *cfg, double now,
		  char *err, size_t errlen);

/*
 * Takes the reloadable limits of cfg (all the throttling keys); keeps the
 * bucket, the lanes, the health samples, the manual pause, the counters and
 * the max-runtime start. Same return as throttle_init; on -1 t is unchanged.
 */
int throttle_reconfigure(struct throttle *t, const struct config *cfg,
			 char *err, size_t errlen);

/* A worker's lane, before its first throttle_wait. */
void throttle_lane_init(struct throttle_lane *lane);

/*
 * Seconds to wait before the next batch of up to rows_next rows may start
 * on lane (NULL: the throttle's own), env being what the host says at now
 * (see struct throttle_env), with *reason (if reason is not NULL)
 * set to a short text for the log: "max-rate 20000 rows/s", "sleep 100
 * ms", "replica lag 80.0 MB > 64.0 MB", "pause file /run/x", "outside
 * active hours 22:00-06:00", "paused by SIGUSR1", ...; valid until the next
 * call on t. *reason is NULL when the result is 0.
 *
 * 0 is a grant: rows_next rows are taken from the max-rate bucket, and the
 * caller must start the batch now (or give them back with
 * throttle_after_batch(..., 0, ...)). The bucket lets at most about one
 * batch start early, so over a run the rate stays at max-rate.
 * Returns THROTTLE_STOP (negative) once max-runtime is over, before any
 * other check. Pauses are checked before pacing; a pause answers at most
 * THROTTLE_POLL seconds (less if active hours begin sooner). No wait runs
 * past the end of max-runtime.
 *
 */
double throttle_wait(struct throttle *t, struct throttle_lane *lane,
		     double now, const struct throttle_env *env,
		     long rows_next, const char **reason);

/*
 * The pause file to look at for a throttle_wait at now, or NULL when none
 * is configured or the last look is recent enough (THROTTLE_POLL / 4
 * seconds; at once after the path changed): a look per batch of every
 * worker would be wasted.
 */
const char *throttle_pause_file_due(const struct throttle *t, double now);

/*
 * A batch on lane ended at now after duration seconds, having filled rows
 * rows (0 if it failed: a lock or statement timeout, a lost connection).
 * Refunds the bucket for rows granted but not filled, and starts the
 * lane's sleep / nice-ratio pause from now.
 */
void throttle_after_batch(struct throttle *t, struct throttle_lane *lane,
			  double now, long rows, double duration);

/*
 * Largest batch worth sending under the rate in force at now (max-rate,
 * or the pace): a quarter of a second's worth of rows (at
 * least 1), LONG_MAX without a rate. A bigger batch still keeps the rate
 * but in bursts (1000 rows at 100 rows/s: one batch, then 10 s of
 * nothing). The engine takes min(its batch size, this).
 */
long throttle_max_batch(const struct throttle *t, double now);

/* The rows/s limit in force at now (max-rate, the pace); 0: none. */
double throttle_rate(const struct throttle *t, double now);

/*
 * Manual pause. by names who paused (e.g. "SIGUSR1"; NULL: "signal") for
 * the reason "paused by SIGUSR1". The lead maps SIGUSR1 to
 * throttle_set_paused(t, true, "SIGUSR1") and SIGUSR2 to
 * throttle_set_paused(t, false, NULL).
 */
void throttle_set_paused(struct throttle *t, bool paused, const char *by);

/* Whether max-runtime (> 0) has passed since throttle_init's now. */
bool throttle_runtime_over(const struct throttle *t, double now);

/* Seconds left of max-runtime (0 once over); HUGE_VAL without a limit. */
double throttle_runtime_left(const struct throttle *t, double now);

/*
 * Current reason for the progress line: the pause if one holds (as of the
 * last throttle_wait or health update), else the pacing reason if a
 * worker was held back by pacing within the last second, else NULL.
 * Valid until the next call on t.
 */
const char *throttle_reason(const struct throttle *t, double now);

/* Whether a pause (not pacing) holds, as of the last throttle_wait or
 * health update. */
bool throttle_paused(const struct throttle *t);

/*
 * For one log line per pause: returns 1 when a pause started (or its
 * cause changed) since the last call, with "throttled: <reason>" in buf;
 * -1 when the pause ended, with "resumed after 12.3 s (replica-lag)" in
 * buf; 0 when nothing changed (buf untouched). Pacing never reports.
 */
int throttle_take_change(struct throttle *t, double now, char *buf,
			 size_t len);

/*
 * Wall-clock seconds during which at least one worker was held for cause
 * (overlapping waits of several workers count once). Counted up to each
 * worker's latest throttle_wait.
 */
double throttle_seconds(const struct throttle *t, enum throttle_cause cause);

/* Whether the pace controller runs (--max-latency-increase > 0): then the
 * daemon sends the probe every PACE_PROBE_INTERVAL seconds. */
bool throttle_probe_wanted(const struct throttle *t);

/* Whether a probe sent now measures the baseline: a quiet window, no
 * batch running (the engine knows: batch_running), none just ended. */
bool throttle_probe_quiet(const struct throttle *t, double now, bool batch_running);

/* Whether the probe should commit a transaction id (pace.h: while others
 * work, its latency is then their commits'). */
bool throttle_probe_commits(const struct throttle *t);

/* A probe's answer, for the pace. */
void throttle_probe(struct throttle *t, const struct pace_sample *s);

/* Stable short name of a cause ("replica-lag"), NULL if out of range. */
const char *throttle_cause_name(enum throttle_cause cause);

/* ---- health ------------------------------------------------------------ */

/*
 * Whether any health signal is enabled (lag, WAL rate, slot, blocking,
 * autovacuum): if not, the engine need not run the health
 * query at all.
 */
bool throttle_health_wanted(const struct throttle *t);

/*
 * Takes the health sample s (health.h) at now. Updates the pause state
 * (lag, WAL rate from the WAL position's change since the previous
 * sample, slot, blocking, autovacuum). Once a first
 * sample was taken, a health signal is enabled and no sample arrives for
 * max(3 * health-interval, 10 s), the throttle pauses ("health unknown"):
 * flying blind is not online-safe. So a failed query is simply not given.
 * Returns 0; 1 when the caller should log one warning, written to err
 * (the role cannot see other sessions, a standby without replay position,
 * the server is a standby) - each kind is returned once per process.
 */
int throttle_health_update(struct throttle *t, const struct health_sample *s,
			   double now, char *err, size_t errlen);

#endif
