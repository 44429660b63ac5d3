/*
 * fill.h - one worker's batch size, and what a batch's outcome does to it.
 *
 * The size of the next batch is the configured one (or the one
 * --batch-time adapted to), capped by the throttle's rate, by a run of
 * unique violations on the column, and, where batches skip a taken id,
 * by the number of ids there are. A committed batch steers it toward
 * --batch-time; a unique violation on the column halves it while it
 * repeats (and, at one row a batch, says when the id space is used up);
 * timeouts in a row split it.
 *
 * Pure logic: no I/O, no clock (durations are arguments), no logging
 * except log_debug/log_warn lines about its own decisions. The engine
 * calls, per batch:
 *
 *   f.limit = fill_limit(&f, &c, throttle_cap)   before drawing the ids
 *   fill_sent(&f)                                 the batch goes out
 *   fill_committed(&f, filled, took) and fill_adapt(...)   it committed
 *   fill_collision(&f, &c, &wait)                 23505 on the column
 *   fill_timeout(&f, &c)                          lock or statement timeout
 */
#ifndef NB_FILL_H
#define NB_FILL_H

#include <stdbool.h>

struct fill_config {
	long batch_size;             /* --batch-size */
	long min_batch, max_batch;   /* --min/--max-batch-size */
	double batch_time;           /* --batch-time, ms; <= 0: fixed size */
	bool guard;                  /* batches skip a taken id (distinct ids) */
	double log10_ids;            /* the id space, idspace.h */
	double rows;                 /* rows of the table, target_rows() */
};

struct fill {
	int worker;                  /* for log lines */
	long want;                   /* before the caps: configured or adapted */
	long limit;                  /* the next batch's size */
	long sent;                   /* the batch in flight's size */
	long collide_cap;            /* what unique violations allow; 0: no cap */
	int collisions;              /* unique violations in a row */
	int timeouts;                /* lock or statement timeouts in a row */
	double rate;                 /* rows/s of this worker's batches, smoothed */
};

enum fill_verdict { FILL_RETRY, FILL_SPACE_USED_UP };

void fill_init(struct fill *f, int worker, long batch_size);

/* The next batch's size under throttle_cap (rows; LONG_MAX: none). */
long fill_limit(struct fill *f, const struct fill_config *c, long throttle_cap);

/* The batch of f->limit rows is sent. */
void fill_sent(struct fill *f);

/* It committed, having filled filled rows in took seconds. */
void fill_committed(struct fill *f, long filled, double took);

/* With --batch-time: steer want toward that duration. */
void fill_adapt(struct fill *f, const struct fill_config *c, long found, double took);

/*
 * A unique index on the column rejected the batch. Returns FILL_RETRY with
 * the wait before the next batch in *wait (a new draw, not time, cures a
 * collision: the first retry is at once, then 10 ms doubling to 0.1 s,
 * the batch halved), or FILL_SPACE_USED_UP after more misses in a row at
 * one row a batch than chance allows (fill_collision_budget).
 */
enum fill_verdict fill_collision(struct fill *f, const struct fill_config *c,
				 double *wait);

/* Misses in a row, one id at a time, that say the space is used up. */
int fill_collision_budget(double rows, double log10_ids);

/* A timeout: true when the batch was split (the second in a row). */
bool fill_timeout(struct fill *f, const struct fill_config *c);

/* A reload changed the sizes: keep an adapted size within them. */
void fill_reconfigure(struct fill *f, const struct fill_config *c);

#endif
