/*
 * bar.h - the live progress bar on a terminal: whether a run draws one
 * (--progress), and the text of its line.
 *
 * Decides only; no I/O, no clock, no environment of its own: callers pass
 * what stderr is and what the environment says. report.c builds the view
 * from the run's counters and log.c draws the line (log_status, log.h).
 */
#ifndef NB_BAR_H
#define NB_BAR_H

#include <stdbool.h>
#include <stddef.h>

/* How a run shows its progress. */
enum bar_mode {
	BAR_LINES,      /* a log line every --progress-interval */
	BAR_BAR,        /* one line redrawn in place, BAR_INTERVAL apart */
};

/* Seconds between two redraws of the bar: often enough to look live, not
 * so often that a slow terminal or ssh link is kept busy. */
#define BAR_INTERVAL 0.25

/* Redraws whose span the bar's rows/s are measured over (2 s): one redraw
 * sees a batch or two, whose rate alone would jump at every redraw; a run
 * that stops filling shows 0 rows/s that long after. */
#define BAR_RATE_SAMPLES 8

/* Widths bar_line() accepts; a wider terminal gets a BAR_MAX_WIDTH line. */
#define BAR_MAX_WIDTH 512

/* Whether name is a --progress value: "auto", "bar" or "lines". */
bool bar_setting_valid(const char *name);

/*
 * The mode for the --progress setting (a valid one): "bar" and "lines" as
 * named; "auto" is the bar when stderr is a terminal (tty: a terminal,
 * not the journal), TERM is set and not "dumb", and NO_COLOR is unset or
 * empty; the lines otherwise. term and no_color are the variables' values,
 * NULL when unset.
 */
enum bar_mode bar_mode_choose(const char *setting, bool tty, const char *term,
			      const char *no_color);

/* What the bar shows. */
struct bar_view {
	long long rows;         /* rows filled by this run */
	double total;           /* rows to fill at the start; <= 0: unknown */
	double rate;            /* rows/s now */
	double eta;             /* seconds left; < 0: unknown */
	bool done;              /* no NULL left: 100%, "done" in place of the ETA */
	const char *note;       /* why the run is held back, or NULL */
};

/*
 * Writes the bar's line for v, for a terminal width columns wide, into buf
 * (len bytes, NUL-terminated), and returns its length. The line holds at
 * most width - 1 characters (the last column stays empty, so no terminal
 * wraps the line and "\r" still returns to its start), and only printable
 * ASCII: a byte of the note outside it becomes '?'.
 *
 * With a total the run has not outgrown (rows < total), the line is
 * "[####......]  41.2%  412000 rows  103250 rows/s  ETA 0:00:06", the
 * percentage at most 99.9 until done; without one (unknown, or outgrown
 * as a planner's guess can be) it is the counts alone, no bar, no
 * percentage, no ETA; done is a full bar at 100.0% and "done". The note
 * follows, cut short with "..." to what room is left. The bar takes a
 * quarter of the width (10 to 40 columns), an eighth (10 to 20) when a
 * note follows; it narrows only when the counts need the room, and goes
 * first when even they do not fit.
 * Widths below 2 give an empty line; above BAR_MAX_WIDTH count as it.
 */
size_t bar_line(char *buf, size_t len, const struct bar_view *v, int width);

#endif
