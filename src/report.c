/*
 * report.c - the progress line and the metrics file (see report.h).
 */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "notify.h"

_Static_assert(METRICS_MAX_REASONS > THROTTLE_NCAUSES,
	       "every throttle cause has a metrics label of its own");

void report_throttle_change(struct backfill *bf)
{
	char line[THROTTLE_REASON_LEN + 64];

	if (throttle_take_change(&bf->thr, ev_now(bf->loop), line, sizeof line) != 0)
		log_info("%s", line);
}

void report_metrics(struct backfill *bf, double rate)
{
	struct metrics *m = &bf->metrics;

	if (!bf->cfg->metrics_file)
		return;
	m->up = !bf->finished;
	m->state = metrics_state_name(bf->job_done ? METRICS_DONE :
				      bf->stopping ? (bf->finished ? METRICS_STOPPED :
						      METRICS_STOPPING) :
				      bf->setup != SETUP_DONE ? METRICS_STARTING :
				      throttle_paused(&bf->thr) ? METRICS_THROTTLED :
				      bf->prog.state == JOB_IDLE ? METRICS_IDLE :
				      METRICS_RUNNING);
	m->rows_filled = engine_rows(bf);
	m->rows_per_second = rate;
	m->rows_left = bf->estimate > 0 ? bf->estimate - (double)engine_rows(bf) : -1;
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
	{
		double pace = pace_rate(&bf->thr.pace, bf->last_tick);

		m->pace_rows_per_second = pace > 0 ? pace : -1;
	}
	if (metrics_write_file(bf->cfg->metrics_file, m, bf->have_prog ? bf->prog.job : "") != 0)
		log_warn("cannot write the metrics file %s", bf->cfg->metrics_file);
}

enum bar_mode report_progress_mode(const struct config *cfg)
{
	return bar_mode_choose(cfg->progress, log_stderr_is_terminal(), getenv("TERM"),
			       getenv("NO_COLOR"));
}

void report_tick(struct backfill *bf, double now)
{
	long long rows = engine_rows(bf);
	double interval = now - bf->last_tick;
	double rate = interval > 0 ? (double)(rows - bf->rows_last_tick) / interval : 0;
	double elapsed = now - bf->started;
	double avg = elapsed > 0 ? (double)rows / elapsed : 0;
	char line[2048]; /* room for any double gcc can imagine */
	const char *why;
	char taken[64] = "", busy[96] = "";

	report_metrics(bf, rate);
	if (rows == bf->rows_last_tick && rows > 0 && !throttle_paused(&bf->thr)) {
		bf->last_tick = now;
		return; /* nothing new to say, e.g. between service passes */
	}
	bf->last_tick = now;
	bf->rows_last_tick = rows;
	/* An estimate the run has outgrown (the planner's guess for a table
	 * never analyzed) says nothing any more: counts only then. */
	if (bf->estimate > 0 && (double)rows < bf->estimate) {
		double left = bf->estimate - (double)rows;
		double pct = 100.0 * (double)rows / bf->estimate;
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
			 rows, pct, bf->estimate, rate, eta);
	} else {
		snprintf(line, sizeof line, "%lld rows filled, %.0f rows/s", rows, rate);
	}
	why = throttle_reason(&bf->thr, now);
	if (bf->collisions > 0)
		snprintf(taken, sizeof taken, "; %lld batches retried for a taken id",
			 bf->collisions);
	if (bf->busy > 0)
		snprintf(busy, sizeof busy, "; %lld rows locked by others, skipped for "
			 "a later look", bf->busy);
	if (bf->progress_mode == BAR_LINES)
		log_info("progress: %s%s%s%s%s", line, taken, busy,
			 why ? "; throttled: " : "", why ? why : "");
	notify_status("%s%s%s", line, why ? "; throttled: " : "", why ? why : "");
}

void report_bar(struct backfill *bf, double now)
{
	long long rows = engine_rows(bf);
	double elapsed = now - bf->started;
	double avg = elapsed > 0 ? (double)rows / elapsed : 0;
	const char *why;
	char note[THROTTLE_REASON_LEN + 16] = "", line[BAR_MAX_WIDTH];
	struct bar_view v = { .rows = rows, .total = bf->estimate, .eta = -1,
			      .done = bf->job_done };

	if (bf->progress_mode != BAR_BAR || bf->setup != SETUP_DONE)
		return;
	/* The rate over the samples' span, the oldest replaced by now's: it
	 * starts with the first bar, not with the seconds connecting and
	 * checking took before it. */
	if (bf->bar_n > 0) {
		int oldest = bf->bar_n < BAR_RATE_SAMPLES ? 0 : bf->bar_next;
		double span = now - bf->bar_at[oldest];

		if (span > 0)
			v.rate = (double)(rows - bf->bar_rows[oldest]) / span;
	}
	bf->bar_rows[bf->bar_next] = rows;
	bf->bar_at[bf->bar_next] = now;
	bf->bar_next = (bf->bar_next + 1) % BAR_RATE_SAMPLES;
	if (bf->bar_n < BAR_RATE_SAMPLES)
		bf->bar_n++;
	/* Done: the run's rate, as the "done:" line says it. */
	if (bf->job_done)
		v.rate = avg;
	if (bf->estimate > 0 && avg > 0)
		v.eta = (bf->estimate - (double)rows) / avg;  /* as the lines' ETA */
	why = throttle_reason(&bf->thr, now);
	/* Done: what held the run back is over, and says nothing now. */
	if (bf->job_done)
		note[0] = '\0';
	else if (bf->stopping)
		snprintf(note, sizeof note, "stopping");
	else if (why != NULL)
		snprintf(note, sizeof note, "throttled: %s", why);
	else if (bf->prog.state == JOB_IDLE)
		snprintf(note, sizeof note, "idle until the next pass");
	v.note = note;
	bar_line(line, sizeof line, &v, log_stderr_columns());
	log_status(line);
}

void report_bar_end(struct backfill *bf, double now)
{
	report_bar(bf, now);
	log_status_end();
}
