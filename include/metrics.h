/*
 * metrics.h - the job's metrics as a Prometheus text file.
 *
 * With `metrics-file = /var/lib/prometheus/node-exporter/orders.prom` the
 * daemon rewrites that file (every progress interval, and on exit) for
 * node_exporter's textfile collector, which serves it on its next scrape.
 * The file is replaced atomically: written to "<path>.tmp.<pid>" in the same
 * directory (the collector reads only *.prom, so it never sees the
 * temporary), fsync()ed, then rename()d over path. A reader sees the old
 * file or the new one, never half of one.
 *
 * Every sample carries the label backfill_job="<job name>". The label is not
 * called "job": Prometheus sets its own `job` label on every series it
 * scrapes (node_exporter's job), and a clash would rename ours to
 * exported_job. Series (all prefixed nanoid_backfill_):
 *
 *   up                             gauge    1 while the daemon runs, 0 in the
 *                                           last file written on exit
 *   state{state=...}               gauge    1 for the current state, 0 for
 *                                           the others (enum metrics_state);
 *                                           a state not in that table is
 *                                           shown with 1 as well
 *   rows_filled_total              counter  rows filled by this process
 *   batches_total                  counter  batches committed by this process
 *   retries_total                  counter  batches retried after an error
 *   throttled_seconds_total{reason=...}
 *                                  counter  seconds spent paused, by reason
 *   rows_per_second                gauge    current fill rate
 *   rows_left                      gauge    estimated NULL rows left
 *   replica_lag_bytes              gauge    replica lag last measured
 *   pace_rows_per_second           gauge    the rate the pace allows now;
 *                                           absent while nothing limits it
 *
 * Gauges that are unknown (negative in struct metrics) have their HELP and
 * TYPE lines but no sample, so an alert on them sees "absent", not 0.
 */
#ifndef NB_METRICS_H
#define NB_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define METRICS_MAX_REASONS 16     /* > THROTTLE_NCAUSES: all fit */

/*
 * The process's state as the file shows it. Every name appears in every
 * file (1 for the current one, 0 for the rest), so an alert can match a
 * state that is 0 now.
 */
enum metrics_state {
	METRICS_STARTING,           /* connecting, checking, setting up */
	METRICS_RUNNING,            /* filling */
	METRICS_IDLE,               /* service: the job is between passes */
	METRICS_THROTTLED,          /* a pause holds (lag, WAL, hours, ...) */
	METRICS_STOPPING,           /* a signal or --max-runtime: finishing
	                             * the batches in flight */
	METRICS_DONE,               /* --until-done: no NULL left */
	METRICS_STOPPED,            /* the last file after a clean stop */
	METRICS_NSTATES
};
extern const char *const metrics_state_names[METRICS_NSTATES];

/* The name of s; "starting" for a value outside the enum. */
const char *metrics_state_name(enum metrics_state s);

struct metrics_throttle {
	const char *reason;         /* not owned: a static string, e.g. "lag" */
	double seconds;             /* total paused for this reason */
};

struct metrics {
	bool up;
	const char *state;          /* not owned: metrics_state_name(), or any
	                             * other static string; NULL: "starting" */
	long long rows_filled;
	long long batches;
	long long retries;
	struct metrics_throttle throttled[METRICS_MAX_REASONS];
	int nthrottled;
	double rows_per_second;     /* < 0: unknown */
	double rows_left;           /* < 0: unknown */
	double replica_lag_bytes;   /* < 0: unknown (no replica measured) */
	double pace_rows_per_second; /* < 0: no limit in force */
};

/* Zeroes m: up, state "starting", counters 0, gauges unknown. */
void metrics_init(struct metrics *m);

/*
 * Adds seconds to the throttle counter for reason (a string that outlives
 * m; compared by content). At most METRICS_MAX_REASONS - 1 distinct
 * reasons are kept; the time of any further reason is added to "other"
 * and -1 is returned. Otherwise returns 0.
 */
int metrics_add_throttled(struct metrics *m, const char *reason,
			  double seconds);

/*
 * The exposition text for m and job (NULL: the label is left out). Returns
 * a malloc'd NUL-terminated string the caller frees, with its length in
 * *len if len is not NULL; NULL if out of memory.
 */
char *metrics_format(const struct metrics *m, const char *job, size_t *len);

/*
 * Writes metrics_format(m, job) to path atomically (see above), mode 0644.
 * Returns 0, or -1 with errno set (the temporary file is removed again and
 * path is left as it was).
 */
int metrics_write_file(const char *path, const struct metrics *m,
		       const char *job);

#endif
