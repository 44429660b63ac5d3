/*
 * throttle.c - pacing, pauses and health signals; see throttle.h.
 *
 * max-rate is a token bucket kept as one number, the "theoretical arrival
 * time" of GCRA: tat is when the rows granted so far are paid for at the
 * rate. A batch may start once tat is not in the future; granting n rows
 * moves tat n/rate ahead, from at most half a batch in the past. That
 * credit absorbs the timer's lateness, so lateness does not pile up into a
 * lower rate, while an idle job cannot save up more than half a batch.
 */
#include "throttle.h"
#include "pace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hours.h"

#define EPSILON 1e-6            /* waits shorter than this are a grant */
#define STALE_MIN 10.0          /* seconds without a health sample */
#define PACE_SHOWN 1.0          /* pacing shows in throttle_reason this long */

enum {
	WARN_SEES_ALL = 1 << 0,
	WARN_UNKNOWN_REPLICA = 1 << 1,
	WARN_RECOVERY = 1 << 2,
};

static const char *const cause_names[THROTTLE_NCAUSES] = {
	[THROTTLE_PAUSED] = "paused",
	[THROTTLE_PAUSE_FILE] = "pause-file",
	[THROTTLE_ACTIVE_HOURS] = "active-hours",
	[THROTTLE_HEALTH_STALE] = "health-unknown",
	[THROTTLE_REPLICA_LAG] = "replica-lag",
	[THROTTLE_WAL_RATE] = "wal-rate",
	[THROTTLE_SLOT_WAL] = "slot-wal",
	[THROTTLE_BLOCKING] = "blocking",
	[THROTTLE_AUTOVACUUM] = "autovacuum",
	[THROTTLE_PACE] = "pace",
	[THROTTLE_MAX_RATE] = "max-rate",
	[THROTTLE_SLEEP] = "sleep",
	[THROTTLE_NICE_RATIO] = "nice-ratio",
};

const char *throttle_cause_name(enum throttle_cause cause)
{
	if ((int)cause < 0 || cause >= THROTTLE_NCAUSES)
		return NULL;
	return cause_names[cause];
}

/*
 * d >= 0 with one decimal. Through integers, capped: the text has a known
 * bound (a double's %f does not), and reasons are cut from fixed buffers.
 */
static const char *fmt_tenths(double d, char *buf, size_t len)
{
	long long tenths;

	if (!(d >= 0))
		d = 0;
	if (d > 1e15)
		d = 1e15;
	tenths = llround(d * 10.0);
	snprintf(buf, len, "%lld.%lld", tenths / 10, tenths % 10);
	return buf;
}

/* "80.0 MB": PostgreSQL's units (1024-based), one decimal. */
static const char *fmt_bytes(double b, char *buf, size_t len)
{
	static const char *const units[] = { "kB", "MB", "GB", "TB" };
	char num[24];
	int i = -1;

	while (b >= 1024.0 && i < 3) {
		b /= 1024.0;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%lld B", (long long)(b >= 0 ? b : 0));
	else
		snprintf(buf, len, "%s %s", fmt_tenths(b, num, sizeof(num)),
			 units[i]);
	return buf;
}

/* ---- setup ------------------------------------------------------------- */

void throttle_lane_init(struct throttle_lane *lane)
{
	memset(lane, 0, sizeof(*lane));
	lane->not_before = -HUGE_VAL;
	lane->not_before_cause = THROTTLE_SLEEP;
	lane->held = -1;
}

static void apply_health(struct throttle *t);

int throttle_reconfigure(struct throttle *t, const struct config *cfg,
			 char *err, size_t errlen)
{
	int start, end;
	const char *file = cfg->pause_file != NULL ? cfg->pause_file : "";

	if (hours_parse(cfg->active_hours, &start, &end, err, errlen) < 0)
		return -1;
	if (strlen(file) >= sizeof(t->pause_file)) {
		snprintf(err, errlen, "pause-file: longer than %zu bytes",
			 sizeof(t->pause_file) - 1);
		return -1;
	}
	t->max_rate = cfg->max_rate > 0 ? cfg->max_rate : 0.0;
	t->pace_config = (struct pace_config){ cfg->max_latency_increase, cfg->min_rate };
	pace_reconfigure(&t->pace, &t->pace_config);
	t->sleep_ms = cfg->sleep_ms;
	t->sleep_s = cfg->sleep_ms / 1000.0;
	t->nice_ratio = cfg->nice_ratio;
	t->max_lag_bytes = cfg->max_replica_lag_bytes;
	t->max_lag_s = cfg->max_replica_lag;
	t->max_wal_rate = cfg->max_wal_rate;
	t->max_slot_bytes = cfg->max_slot_retained_wal;
	t->pause_on_blocking = cfg->pause_on_blocking;
	t->pause_on_autovacuum = cfg->pause_on_autovacuum;
	t->health_interval = cfg->health_interval > 0 ? cfg->health_interval : 1.0;
	t->window = start >= 0;
	t->window_start = start;
	t->window_end = end;
	t->max_runtime = cfg->max_runtime;
	if (strcmp(t->pause_file, file) != 0) {
		snprintf(t->pause_file, sizeof(t->pause_file), "%s", file);
		t->file_checked = -1.0;         /* look at the new path at once */
		t->file_present = false;
		t->file_errno = 0;
	}
	apply_health(t);
	return 0;
}

int throttle_init(struct throttle *t, const struct config *cfg, double now,
		  char *err, size_t errlen)
{
	int i;

	memset(t, 0, sizeof(*t));
	t->started = now;
	t->tat = now;
	throttle_lane_init(&t->lane);
	t->file_checked = -1.0;
	t->health.wal_lsn = -1.0;
	t->health.wal_rate = -1.0;
	t->health.sees_all = true;
	t->pause_cause = -1;
	t->pace_cause = -1;
	t->reported_cause = -1;
	for (i = 0; i < THROTTLE_NCAUSES; i++)
		t->covered[i] = -HUGE_VAL;
	t->pace_config = (struct pace_config){ cfg->max_latency_increase, cfg->min_rate };
	pace_init(&t->pace, &t->pace_config, now);
	return throttle_reconfigure(t, cfg, err, errlen);
}

/* ---- time accounting --------------------------------------------------- */

/*
 * Closes the lane's current hold at now. Calls come in time order, so the
 * holds of all lanes end in order too, and counting only the part after
 * covered[c] yields the union of the held intervals: two workers held
 * together for one second count one second.
 */
static void account(struct throttle *t, struct throttle_lane *lane,
		    double now)
{
	int c = lane->held;
	double from;

	if (c < 0 || c >= THROTTLE_NCAUSES)
		return;
	from = lane->held_since > t->covered[c] ? lane->held_since :
						   t->covered[c];
	if (now > from)
		t->seconds[c] += now - from;
	if (now > t->covered[c])
		t->covered[c] = now;
	lane->held = -1;
}

static void hold(struct throttle_lane *lane, int cause, double now)
{
	lane->held = cause;
	lane->held_since = now;
}

double throttle_seconds(const struct throttle *t, enum throttle_cause cause)
{
	if ((int)cause < 0 || cause >= THROTTLE_NCAUSES)
		return 0.0;
	return t->seconds[cause];
}

/* ---- pauses ------------------------------------------------------------ */

bool throttle_health_wanted(const struct throttle *t)
{
	return t->max_lag_bytes > 0 || t->max_lag_s > 0 ||
	       t->max_wal_rate > 0 || t->max_slot_bytes > 0 ||
	       t->pause_on_blocking || t->pause_on_autovacuum;
}

static double stale_after(const struct throttle *t)
{
	double s = 3.0 * t->health_interval;

	return s > STALE_MIN ? s : STALE_MIN;
}

/*
 * A level signal with hysteresis: over the limit starts holding; holding
 * stops once the value is back at THROTTLE_RESUME_FRACTION of the limit.
 */
static bool level_hold(bool holding, double value, double limit)
{
	if (limit <= 0)
		return false;
	if (value > limit)
		return true;
	return holding && value > limit * THROTTLE_RESUME_FRACTION;
}

/* Recomputes the health holds from the last sample and the limits. */
static void apply_health(struct throttle *t)
{
	const struct throttle_health *h = &t->health;
	bool by_bytes, by_time;

	if (!h->have) {
		t->hold_lag = t->hold_wal = t->hold_slot = false;
		return;
	}
	by_bytes = level_hold(t->hold_lag, h->lag_bytes, t->max_lag_bytes);
	by_time = level_hold(t->hold_lag, h->lag_seconds, t->max_lag_s);
	/* Either over its limit pauses; resuming needs both under their
	 * margin. */
	t->hold_lag = by_bytes || by_time;
	t->hold_wal = h->wal_rate >= 0 &&
		      level_hold(t->hold_wal, h->wal_rate, t->max_wal_rate);
	t->hold_slot = level_hold(t->hold_slot, h->slot_bytes,
				  t->max_slot_bytes);
}

static void lag_reason(const struct throttle *t, char *buf, size_t len)
{
	const struct throttle_health *h = &t->health;
	char a[32], b[32];

	if (t->max_lag_bytes > 0 && h->lag_bytes > t->max_lag_bytes)
		snprintf(buf, len, "replica lag %s > %s",
			 fmt_bytes(h->lag_bytes, a, sizeof(a)),
			 fmt_bytes(t->max_lag_bytes, b, sizeof(b)));
	else if (t->max_lag_s > 0 && h->lag_seconds > t->max_lag_s)
		snprintf(buf, len, "replica lag %s s > %g s",
			 fmt_tenths(h->lag_seconds, a, sizeof(a)), t->max_lag_s);
	else if (t->max_lag_bytes > 0 &&
		 h->lag_bytes > t->max_lag_bytes * THROTTLE_RESUME_FRACTION)
		snprintf(buf, len, "replica lag %s, resuming below %s",
			 fmt_bytes(h->lag_bytes, a, sizeof(a)),
			 fmt_bytes(t->max_lag_bytes * THROTTLE_RESUME_FRACTION,
				   b, sizeof(b)));
	else
		snprintf(buf, len, "replica lag %s s, resuming below %g s",
			 fmt_tenths(h->lag_seconds, a, sizeof(a)),
			 t->max_lag_s * THROTTLE_RESUME_FRACTION);
}

/*
 * A level signal's reason, sizes in bytes: "<what> VALUE<vunit> > LIMIT<lunit>",
 * or while held between 80% of the limit and the limit "<what> VALUE<vunit>
 * resuming below 80%-OF-LIMIT<lunit>".
 */
static void level_reason(char *buf, size_t len, const char *what, double value,
			 const char *vunit, double limit, const char *lunit)
{
	char a[32], b[32];
	bool over = value > limit;

	snprintf(buf, len, "%s %s%s %s %s%s", what, fmt_bytes(value, a, sizeof(a)),
		 vunit, over ? ">" : "resuming below",
		 fmt_bytes(over ? limit : limit * THROTTLE_RESUME_FRACTION, b, sizeof(b)),
		 lunit);
}

/* Sets pause_cause and pause_reason from the current state. */
static void update_pause(struct throttle *t, double now)
{
	const struct throttle_health *h = &t->health;
	char *r = t->pause_reason;
	size_t len = sizeof(t->pause_reason);
	int c = -1;

	if (t->manual) {
		c = THROTTLE_PAUSED;
		snprintf(r, len, "paused by %s", t->manual_by);
	} else if (t->pause_file[0] != '\0' &&
		   (t->file_present || t->file_errno != 0)) {
		c = THROTTLE_PAUSE_FILE;
		if (t->file_present)
			snprintf(r, len, "pause file %.200s", t->pause_file);
		else
			snprintf(r, len, "pause file %.200s: cannot check it "
				 "(%.40s)", t->pause_file,
				 strerror(t->file_errno));
	} else if (t->window && t->outside_window) {
		c = THROTTLE_ACTIVE_HOURS;
		snprintf(r, len, "outside active hours %02d:%02d-%02d:%02d",
			 t->window_start / 60, t->window_start % 60,
			 t->window_end / 60, t->window_end % 60);
	} else if (h->have && throttle_health_wanted(t) &&
		   now - h->at > stale_after(t)) {
		c = THROTTLE_HEALTH_STALE;
		snprintf(r, len, "health unknown: no health sample for %lld s",
			 (long long)(now - h->at));
	} else if (t->hold_lag) {
		c = THROTTLE_REPLICA_LAG;
		lag_reason(t, r, len);
	} else if (t->hold_wal) {
		c = THROTTLE_WAL_RATE;
		level_reason(r, len, "WAL rate", h->wal_rate, "/s", t->max_wal_rate, "/s");
	} else if (t->hold_slot) {
		c = THROTTLE_SLOT_WAL;
		level_reason(r, len, "slot retains", h->slot_bytes, " of WAL",
			     t->max_slot_bytes, "");
	} else if (t->pause_on_blocking && h->have && h->blocked > 0) {
		c = THROTTLE_BLOCKING;
		snprintf(r, len, "blocking %ld session%s", h->blocked,
			 h->blocked == 1 ? "" : "s");
	} else if (t->pause_on_autovacuum && h->have && h->autovacuum > 0) {
		c = THROTTLE_AUTOVACUUM;
		snprintf(r, len, "autovacuum on the table");
	}
	t->pause_cause = c;
	if (c < 0)
		r[0] = '\0';
}

const char *throttle_pause_file_due(const struct throttle *t, double now)
{
	if (t->pause_file[0] == '\0')
		return NULL;
	if (t->file_checked >= 0 && now - t->file_checked < THROTTLE_POLL / 4)
		return NULL;
	return t->pause_file;
}

/* Takes the host's look at the pause file, if it looked. */
static void take_file(struct throttle *t, const struct throttle_env *env,
		      double now)
{
	if (t->pause_file[0] == '\0') {
		t->file_present = false;
		t->file_errno = 0;
		return;
	}
	if (!env->file_looked)
		return;
	t->file_checked = now;
	t->file_present = env->file_present;
	t->file_errno = env->file_present ? 0 : env->file_errno;
}

/* Seconds until the active-hours window opens; 0 inside it. */
static double window_wait(struct throttle *t, const struct throttle_env *env)
{
	double w;

	t->outside_window = false;
	if (!t->window || env->minute_of_day < 0)
		return 0.0;
	w = hours_wait(t->window_start, t->window_end, env->minute_of_day,
		       env->second > 59 ? 59 : env->second);
	t->outside_window = w > 0;
	return w;
}

void throttle_set_paused(struct throttle *t, bool paused, const char *by)
{
	t->manual = paused;
	snprintf(t->manual_by, sizeof(t->manual_by), "%s",
		 by != NULL ? by : "signal");
	if (!paused && t->pause_cause == THROTTLE_PAUSED)
		t->pause_cause = -1;    /* recomputed by the next wait */
	else if (paused) {
		t->pause_cause = THROTTLE_PAUSED;
		snprintf(t->pause_reason, sizeof(t->pause_reason),
			 "paused by %s", t->manual_by);
	}
}

bool throttle_paused(const struct throttle *t)
{
	return t->pause_cause >= 0;
}

/* ---- runtime ----------------------------------------------------------- */

bool throttle_runtime_over(const struct throttle *t, double now)
{
	return t->max_runtime > 0 && now - t->started >= t->max_runtime;
}

double throttle_runtime_left(const struct throttle *t, double now)
{
	double left;

	if (t->max_runtime <= 0)
		return HUGE_VAL;
	left = t->started + t->max_runtime - now;
	return left > 0 ? left : 0.0;
}

/* ---- the decision ------------------------------------------------------ */

/* "pace 3200 rows/s: <why>" for the log and the progress line. */
static void pace_reason_line(struct throttle *t, double now)
{
	char why[PACE_REASON_LEN];
	const char *r = pace_reason(&t->pace, now, why, sizeof why);

	if (pace_quiet(&t->pace, now))
		snprintf(t->pace_reason, sizeof(t->pace_reason), "pace: %s", r);
	else
		snprintf(t->pace_reason, sizeof(t->pace_reason), "pace %ld rows/s: %s",
			 (long)(throttle_rate(t, now) + 0.5), r ? r : "no harm seen");
}

bool throttle_probe_wanted(const struct throttle *t)
{
	return t->pace_config.max_increase > 0;
}

bool throttle_probe_quiet(const struct throttle *t, double now, bool batch_running)
{
	/* No batch running, and the last one ended a moment ago: its WAL
	 * flush and its locks are gone. */
	return pace_quiet(&t->pace, now) && !batch_running &&
	       now - t->last_batch_end >= 0.02;
}

bool throttle_probe_commits(const struct throttle *t)
{
	return t->pace.loaded;
}

void throttle_probe(struct throttle *t, const struct pace_sample *s)
{
	pace_sample(&t->pace, s);
}

double throttle_wait(struct throttle *t, struct throttle_lane *lane,
		     double now, const struct throttle_env *env,
		     long rows_next, const char **reason)
{
	double w, left, w_lane, w_rate, slack, rate;
	int cause;

	if (lane == NULL)
		lane = &t->lane;
	if (reason != NULL)
		*reason = NULL;
	account(t, lane, now);

	if (throttle_runtime_over(t, now)) {
		if (reason != NULL)
			*reason = "max-runtime reached";
		return THROTTLE_STOP;
	}
	left = throttle_runtime_left(t, now);

	/* Pauses hold every worker. */
	take_file(t, env, now);
	w = window_wait(t, env);
	update_pause(t, now);
	if (t->pause_cause >= 0) {
		if (t->pause_cause != THROTTLE_ACTIVE_HOURS || w > THROTTLE_POLL)
			w = THROTTLE_POLL;
		if (w > left)
			w = left;
		if (w < EPSILON)
			w = EPSILON;
		hold(lane, t->pause_cause, now);
		if (reason != NULL)
			*reason = t->pause_reason;
		return w;
	}

	/* A quiet window: no batch while the probe measures its baseline. */
	if (pace_quiet(&t->pace, now)) {
		w = t->pace.quiet_until - now;
		if (w > left)
			w = left;
		if (w < EPSILON)
			w = EPSILON;
		t->pace_cause = THROTTLE_PACE;
		pace_reason_line(t, now);
		if (now + w > t->pace_until)
			t->pace_until = now + w;
		hold(lane, THROTTLE_PACE, now);
		if (reason != NULL)
			*reason = t->pace_reason;
		return w;
	}

	/* Pacing: this lane's sleep / nice-ratio, then the shared bucket. */
	rate = throttle_rate(t, now);
	w_lane = lane->not_before - now;
	w_rate = rate > 0 ? t->tat - now : 0.0;
	if (w_lane > EPSILON || w_rate > EPSILON) {
		if (w_rate >= w_lane) {
			w = w_rate;
			if (rate < t->max_rate || t->max_rate <= 0) {
				cause = THROTTLE_PACE;
				pace_reason_line(t, now);
			} else {
				cause = THROTTLE_MAX_RATE;
				snprintf(t->pace_reason, sizeof(t->pace_reason),
					 "max-rate %g rows/s", rate);
			}
		} else {
			w = w_lane;
			cause = lane->not_before_cause;
			if (cause == THROTTLE_NICE_RATIO)
				snprintf(t->pace_reason, sizeof(t->pace_reason),
					 "nice-ratio %g", t->nice_ratio);
			else
				snprintf(t->pace_reason, sizeof(t->pace_reason),
					 "sleep %ld ms", t->sleep_ms);
		}
		if (w > left)
			w = left;
		t->pace_cause = cause;
		if (now + w > t->pace_until)
			t->pace_until = now + w;
		hold(lane, cause, now);
		if (reason != NULL)
			*reason = t->pace_reason;
		return w;
	}

	/* A grant: take the rows from the bucket. */
	if (rate > 0 && rows_next > 0) {
		slack = 0.5 * (double)rows_next / rate;
		if (t->tat < now - slack)
			t->tat = now - slack;
		t->tat += (double)rows_next / rate;
		lane->granted = rows_next;
		lane->granted_rate = rate;
	} else {
		lane->granted = 0;
	}
	return 0.0;
}

void throttle_after_batch(struct throttle *t, struct throttle_lane *lane,
			  double now, long rows, double duration)
{
	double s, n;

	if (lane == NULL)
		lane = &t->lane;
	/* Rows granted but not filled go back to the bucket (a short last
	 * batch, a failed one), so the rate counts filled rows. */
	if (lane->granted > 0 && rows != lane->granted)
		t->tat -= (double)(lane->granted - rows) / lane->granted_rate;
	lane->granted = 0;
	t->last_batch_end = now;
	pace_rows(&t->pace, rows, now);

	if (duration < 0)
		duration = 0;
	s = t->sleep_s;
	n = t->nice_ratio * duration;
	lane->not_before = now + (s > n ? s : n);
	lane->not_before_cause = n > s ? THROTTLE_NICE_RATIO : THROTTLE_SLEEP;
}

double throttle_rate(const struct throttle *t, double now)
{
	double r = t->max_rate;
	double p = pace_rate(&t->pace, now);

	if (p > 0 && (r <= 0 || p < r))
		r = p;
	return r;
}

long throttle_max_batch(const struct throttle *t, double now)
{
	double r = throttle_rate(t, now);
	double p = pace_rate(&t->pace, now);

	if (r <= 0)
		return LONG_MAX;
	/* Under the pace, others are at work: a batch's locks and WAL last
	 * PACE_BATCH_SECONDS' worth of rows, and at most PACE_BATCH_ROWS (a
	 * millisecond or two) however fast the pace has grown, also where a
	 * lower max-rate is the rate in force: what a transaction arriving
	 * meanwhile waits for is one batch (the README has the light-load
	 * runs). Under max-rate alone a quarter second's worth paces
	 * evenly. */
	if (p > 0)
		r = fmin(ceil(r * PACE_BATCH_SECONDS), PACE_BATCH_ROWS);
	else
		r = ceil(r * 0.25);
	if (r < 1)
		return 1;
	if (r >= (double)LONG_MAX)
		return LONG_MAX;
	return (long)r;
}

const char *throttle_reason(const struct throttle *t, double now)
{
	if (t->pause_cause >= 0)
		return t->pause_reason;
	if (t->pace_cause >= 0 && now <= t->pace_until + PACE_SHOWN)
		return t->pace_reason;
	return NULL;
}

int throttle_take_change(struct throttle *t, double now, char *buf,
			 size_t len)
{
	int cur = t->pause_cause;
	char num[24];

	if (cur == t->reported_cause)
		return 0;
	if (cur >= 0) {
		if (t->reported_cause < 0)
			t->reported_since = now;
		t->reported_cause = cur;
		snprintf(buf, len, "throttled: %s", t->pause_reason);
		return 1;
	}
	snprintf(buf, len, "resumed after %s s (%s)",
		 fmt_tenths(now - t->reported_since, num, sizeof(num)),
		 throttle_cause_name((enum throttle_cause)t->reported_cause));
	t->reported_cause = -1;
	return -1;
}

/* ---- health ------------------------------------------------------------ */

int throttle_health_update(struct throttle *t, const struct health_sample *s,
			   double now, char *err, size_t errlen)
{
	struct throttle_health h;
	double dt, inst, alpha;
	int warn;

	h = t->health;
	h.have = true;
	h.lag_bytes = s->lag_bytes;
	h.lag_seconds = s->lag_seconds;
	h.replicas = s->replicas;
	h.replicas_unknown = s->replicas_unknown;
	h.slot_bytes = s->slot_bytes;
	h.blocked = s->blocked;
	h.autovacuum = s->autovacuum;
	h.others = s->others;
	h.others_idle_s = s->others_idle_s;
	h.sees_all = s->sees_all;
	h.in_recovery = s->in_recovery;

	/* WAL rate from the LSN delta, smoothed over THROTTLE_WAL_TAU so one
	 * checkpoint's burst of full-page images does not pause alone. */
	dt = now - t->health.at;
	if (s->wal_lsn < 0) {
		h.wal_lsn = -1.0;
		h.wal_rate = -1.0;
	} else if (t->health.have && t->health.wal_lsn >= 0 && dt > 0 &&
		   s->wal_lsn >= t->health.wal_lsn) {
		inst = (s->wal_lsn - t->health.wal_lsn) / dt;
		if (t->health.wal_rate < 0) {
			h.wal_rate = inst;
		} else {
			alpha = 1.0 - exp(-dt / THROTTLE_WAL_TAU);
			h.wal_rate = t->health.wal_rate +
				     alpha * (inst - t->health.wal_rate);
		}
		h.wal_lsn = s->wal_lsn;
	} else {
		/* First sample, or the position went back (a new server
		 * behind the same address): start over. */
		h.wal_lsn = s->wal_lsn;
		h.wal_rate = -1.0;
	}
	h.at = now;
	t->health = h;
	apply_health(t);
	update_pause(t, now);

	warn = 0;
	if (!h.sees_all && !(t->warned & WARN_SEES_ALL)) {
		warn = WARN_SEES_ALL;
		snprintf(err, errlen, "the role cannot see other roles' "
			 "sessions (grant it pg_monitor): sessions blocked by "
			 "the backfill, autovacuum and standby lag may go "
			 "unnoticed, and the pace cannot see what their "
			 "sessions wait on");
	} else if (h.replicas_unknown > 0 &&
		   (t->max_lag_bytes > 0 || t->max_lag_s > 0) &&
		   !(t->warned & WARN_UNKNOWN_REPLICA)) {
		warn = WARN_UNKNOWN_REPLICA;
		snprintf(err, errlen, "%ld of %ld standbys report no replay "
			 "position; their lag is not checked",
			 h.replicas_unknown, h.replicas);
	} else if (h.in_recovery && !(t->warned & WARN_RECOVERY)) {
		warn = WARN_RECOVERY;
		snprintf(err, errlen, "the server is a standby: WAL rate and "
			 "slots are not checked");
	}
	t->warned |= warn;
	return warn != 0 ? 1 : 0;
}
