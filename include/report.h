/*
 * report.h - what a run says about itself while it runs: the progress
 * line (log and systemd STATUS=) every --progress-interval, or on a
 * terminal the progress bar redrawn in place (--progress, bar.h), and the
 * metrics file (--metrics-file) for a node exporter's textfile collector.
 *
 * Reads the run's state (engine.h), changes nothing but its own counters
 * (rows at the last tick).
 */
#ifndef NB_REPORT_H
#define NB_REPORT_H

#include "engine.h"

/* The progress output for cfg's --progress, as stderr and the
 * environment (TERM, NO_COLOR) are now. */
enum bar_mode report_progress_mode(const struct config *cfg);

/* Every --progress-interval: the metrics and STATUS=, and in BAR_LINES
 * mode one progress line, unless nothing changed since the last one. */
void report_tick(struct backfill *bf, double now);

/* Every BAR_INTERVAL in BAR_BAR mode: the bar, from the moment the job is
 * claimed (log lines before it print as usual). */
void report_bar(struct backfill *bf, double now);

/* The run is over: a last bar, if one is shown, stays on the screen and the
 * cursor goes to a fresh line. Nothing without a bar. */
void report_bar_end(struct backfill *bf, double now);

/* Logs one line when a pause starts or ends (throttle_take_change). */
void report_throttle_change(struct backfill *bf);

/* Writes the metrics file, if one is configured; rate in rows/s. */
void report_metrics(struct backfill *bf, double rate);

#endif
