/*
 * report.h - what a run says about itself while it runs: the progress
 * line (log and systemd STATUS=) every --progress-interval, and the
 * metrics file (--metrics-file) for a node exporter's textfile collector.
 *
 * Reads the run's state (engine.h), changes nothing but its own counters
 * (rows at the last tick).
 */
#ifndef NB_REPORT_H
#define NB_REPORT_H

#include "engine.h"

/* One progress line, unless nothing changed since the last one. */
void report_tick(struct backfill *bf, double now);

/* Logs one line when a pause starts or ends (throttle_take_change). */
void report_throttle_change(struct backfill *bf);

/* Writes the metrics file, if one is configured; rate in rows/s. */
void report_metrics(struct backfill *bf, double rate);

#endif
