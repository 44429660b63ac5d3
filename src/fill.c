/*
 * fill.c - one worker's batch size and its retries (see fill.h).
 */
#include "fill.h"

#include <math.h>

#include "log.h"

/* Unique violations in a row, the batch down to one row, before the id
 * space counts as used up (at least: more where the space is nearly
 * full, see fill_collision_budget()). */
#define COLLISION_BUDGET 20
#define COLLISION_WAIT_FIRST 0.01
#define COLLISION_WAIT_MAX 0.1

void fill_init(struct fill *f, int worker, long batch_size)
{
	*f = (struct fill){ .worker = worker, .want = batch_size, .limit = batch_size };
}

long fill_limit(struct fill *f, const struct fill_config *c, long throttle_cap)
{
	/* Under a rate, small batches pace evenly; the cap goes when the rate
	 * does. */
	f->limit = f->want < throttle_cap ? f->want : throttle_cap;
	if (f->collide_cap > 0 && f->collide_cap < f->limit)
		f->limit = f->collide_cap;
	/* A batch's ids are distinct with the guard: no more than there are. */
	if (c->guard && c->log10_ids < log10((double)f->limit) + 1e-9)
		f->limit = lround(floor(pow(10, c->log10_ids) + 1e-6));
	return f->limit;
}

void fill_sent(struct fill *f)
{
	f->sent = f->limit;
}

void fill_committed(struct fill *f, long filled, double took)
{
	f->timeouts = 0;
	f->collisions = 0;
	if (f->collide_cap > 0) {
		/* Grow back: ids meet less often than the last misses said. */
		f->collide_cap *= 2;
		if (f->collide_cap >= f->want)
			f->collide_cap = 0;
	}
	if (took > 0) {
		double r = (double)filled / took;

		f->rate = f->rate > 0 ? 0.7 * f->rate + 0.3 * r : r;
	}
}

void fill_adapt(struct fill *f, const struct fill_config *c, long found, double took)
{
	double factor;
	long next;

	/* While collisions cap the batch, its size says nothing of its time. */
	if (c->batch_time <= 0 || found < f->sent || took <= 0 || f->collide_cap > 0)
		return;
	factor = c->batch_time / 1000.0 / took;
	/* At most double or halve per batch: one slow batch is not a trend. */
	if (factor > 2)
		factor = 2;
	if (factor < 0.5)
		factor = 0.5;
	next = lround((double)f->sent * factor);
	if (next < c->min_batch)
		next = c->min_batch;
	if (next > c->max_batch)
		next = c->max_batch;
	if (next != f->want)
		log_debug("worker %d: batch size %ld -> %ld (%.0f ms)", f->worker, f->want,
			  next, took * 1000);
	f->want = next;
}

/*
 * Where a fraction u of the space is taken, k misses in a row happen by
 * chance with probability u^k, kept below 1e-6 (20 at least, 100,000 at
 * most).
 */
int fill_collision_budget(double rows, double log10_ids)
{
	double used = log10_ids < 300 && rows > 0 ? rows / pow(10, log10_ids) : 0;
	double k;

	if (used <= 0)
		return COLLISION_BUDGET;
	if (used >= 0.99999)
		return 100000;
	k = ceil(log(1e-6) / log(used));
	return k < COLLISION_BUDGET ? COLLISION_BUDGET : k > 100000 ? 100000 : (int)k;
}

enum fill_verdict fill_collision(struct fill *f, const struct fill_config *c,
				 double *wait)
{
	f->collisions++;
	if (f->sent <= 1 && f->collisions > fill_collision_budget(c->rows, c->log10_ids))
		return FILL_SPACE_USED_UP;
	if (f->collisions >= 2)
		f->collide_cap = f->sent / 2 > 1 ? f->sent / 2 : 1;
	*wait = f->collisions < 2 ? 0 :
		fmin(COLLISION_WAIT_FIRST * pow(2, f->collisions - 2), COLLISION_WAIT_MAX);
	return FILL_RETRY;
}

bool fill_timeout(struct fill *f, const struct fill_config *c)
{
	if (++f->timeouts < 2 || f->limit <= c->min_batch)
		return false;
	f->want = f->limit / 2 > c->min_batch ? f->limit / 2 : c->min_batch;
	f->limit = f->want;
	log_warn("worker %d: batch split to %ld rows after %d timeouts", f->worker,
		 f->want, f->timeouts);
	return true;
}

void fill_reconfigure(struct fill *f, const struct fill_config *c)
{
	long limit = c->batch_time > 0 ? f->want : c->batch_size;

	if (c->batch_time > 0 && limit < c->min_batch)
		limit = c->min_batch;
	if (c->batch_time > 0 && limit > c->max_batch)
		limit = c->max_batch;
	f->want = limit;
}
