/*
 * test_throttle.c - the throttle on a simulated clock: the max-rate bucket
 * over a minute at several rates and batch sizes (one and four workers),
 * sleep and nice-ratio, active hours, max-runtime, the pause file, the
 * manual pause, every health signal from a synthetic PGresult, the WAL
 * rate from LSN deltas, time accounting; and the throttling config keys.
 */
#include "config.h"
#include "health.h"
#include "hours.h"
#include "log.h"
#include "throttle.h"
#include "throttle_env.h"

#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MB (1024.0 * 1024.0)

/* A config with defaults and the given overrides ("key", "value", ...). */
static void make_config(struct config *c, ...)
{
	char err[CONFIG_ERR_LEN];
	const char *k, *v;
	va_list ap;

	config_init(c);
	va_start(ap, c);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		ck_assert_msg(config_set(c, k, v, err, sizeof(err)) == CONFIG_OK,
			      "%s = %s: %s", k, v, err);
	}
	va_end(ap);
}

static void make_throttle(struct throttle *t, double now, ...)
{
	struct config c;
	char err[CONFIG_ERR_LEN];
	const char *k, *v;
	va_list ap;

	config_init(&c);
	/* The pace off unless a test sets it: the other tests model a
	 * server of their own. */
	ck_assert(config_set(&c, "max-latency-increase", "0", err, sizeof(err)) ==
		  CONFIG_OK);
	va_start(ap, now);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		ck_assert_msg(config_set(&c, k, v, err, sizeof(err)) == CONFIG_OK,
			      "%s = %s: %s", k, v, err);
	}
	va_end(ap);
	ck_assert_msg(throttle_init(t, &c, now, err, sizeof(err)) == 0, "%s",
		      err);
	config_free(&c);
}

/* 2023-11-14 22:13:20 UTC, a Tuesday. */
#define WALL ((time_t)1700000000)

static void utc(void)
{
	setenv("TZ", "UTC0", 1);
	tzset();
}

/* throttle_wait as the engine calls it: with the host's view at wall. */
static double wait_at(struct throttle *t, struct throttle_lane *lane,
		      double now, time_t wall, long rows, const char **why)
{
	struct throttle_env env;

	throttle_env_read(&env, t, now, wall);
	return throttle_wait(t, lane, now, &env, rows, why);
}

/* ---- max-rate ---------------------------------------------------------- */

/* Model of one batch's duration: a round trip plus a per-row cost. */
static double batch_duration(long rows)
{
	return 0.002 + (double)rows * 2e-6;
}

/*
 * One worker against the bucket for `seconds` simulated seconds, the timer
 * firing `late` seconds after each wait. Returns rows filled per second.
 */
static double simulate_one(double rate, long batch, double seconds,
			   double late)
{
	struct throttle t;
	char rs[32];
	double now = 0, w, d;
	long rows, total = 0;

	snprintf(rs, sizeof(rs), "%g", rate);
	make_throttle(&t, now, "max-rate", rs, (char *)NULL);
	if (batch > throttle_max_batch(&t, 0.0))
		batch = throttle_max_batch(&t, 0.0);
	while (now < seconds) {
		w = wait_at(&t, NULL, now, WALL, batch, NULL);
		ck_assert(w >= 0);
		if (w > 0) {
			now += w + late;
			continue;
		}
		rows = batch;
		d = batch_duration(rows);
		now += d;
		throttle_after_batch(&t, NULL, now, rows, d);
		total += rows;
	}
	return (double)total / now;
}

START_TEST(test_rate_one_worker)
{
	static const double rates[] = { 50, 100, 1000, 5000, 20000, 100000 };
	static const long batches[] = { 1, 50, 500, 1000, 5000 };
	size_t i, j;
	double got, reachable;
	long b;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		for (j = 0; j < sizeof(batches) / sizeof(batches[0]); j++) {
			got = simulate_one(rates[i], batches[j], 60.0, 0.0005);
			b = batches[j];
			if (b > (long)ceil(rates[i] / 4))
				b = (long)ceil(rates[i] / 4);
			reachable = (double)b / batch_duration(b);
			if (reachable < rates[i] * 1.2) {
				/* The database is the limit, not the rate. */
				ck_assert_msg(got <= rates[i] * 1.1,
					      "rate %g batch %ld: %g rows/s",
					      rates[i], batches[j], got);
				continue;
			}
			ck_assert_msg(fabs(got - rates[i]) <= rates[i] * 0.10,
				      "rate %g batch %ld: %g rows/s",
				      rates[i], batches[j], got);
			/* In fact much closer than 10%. */
			ck_assert_msg(fabs(got - rates[i]) <= rates[i] * 0.03,
				      "rate %g batch %ld: %g rows/s",
				      rates[i], batches[j], got);
		}
	}
}
END_TEST

/* A late timer (5 ms every wait) does not lower the rate. */
START_TEST(test_rate_late_timer)
{
	double got = simulate_one(20000, 1000, 60.0, 0.005);

	ck_assert_msg(fabs(got - 20000) <= 20000 * 0.03, "%g", got);
}
END_TEST

/* Four workers share one bucket: events in time order. */
START_TEST(test_rate_four_workers)
{
	struct throttle t;
	struct throttle_lane lanes[4];
	double at[4], dur[4], now = 0, w;
	bool busy[4];
	long total = 0, batch = 1000;
	int i, k;

	make_throttle(&t, 0.0, "max-rate", "20000", (char *)NULL);
	for (i = 0; i < 4; i++) {
		throttle_lane_init(&lanes[i]);
		at[i] = 0.001 * i;
		busy[i] = false;
	}
	while (now < 60.0) {
		k = 0;
		for (i = 1; i < 4; i++)
			if (at[i] < at[k])
				k = i;
		now = at[k];
		if (busy[k]) {
			throttle_after_batch(&t, &lanes[k], now, batch, dur[k]);
			total += batch;
			busy[k] = false;
			continue;
		}
		w = wait_at(&t, &lanes[k], now, WALL, batch, NULL);
		ck_assert(w >= 0);
		if (w > 0) {
			at[k] = now + w;
		} else {
			/* Slow batches: one worker alone could not keep up. */
			dur[k] = 0.120;
			at[k] = now + dur[k];
			busy[k] = true;
		}
	}
	ck_assert_msg(fabs(total / now - 20000) <= 20000 * 0.05, "%g",
		      total / now);
}
END_TEST

/* After an idle hour, at most a batch and a half start at once. */
START_TEST(test_rate_burst)
{
	struct throttle t;
	double now = 0;
	int grants = 0;

	make_throttle(&t, 0.0, "max-rate", "1000", (char *)NULL);
	ck_assert(wait_at(&t, NULL, 0, WALL, 100, NULL) == 0);
	throttle_after_batch(&t, NULL, 0.001, 100, 0.001);
	for (now = 3600; now < 3600.1; now += 0.001) {
		if (wait_at(&t, NULL, now, WALL, 100, NULL) == 0) {
			grants++;
			throttle_after_batch(&t, NULL, now, 100, 0);
		}
	}
	/* 100 ms at 1000 rows/s is 100 rows: one batch, plus half of one of
	 * credit for the late timer. */
	ck_assert_int_le(grants, 2);
	ck_assert_int_ge(grants, 1);
}
END_TEST

/* Rows granted but not filled are given back. */
START_TEST(test_rate_refund)
{
	struct throttle t;
	const char *why;
	double w;

	make_throttle(&t, 0.0, "max-rate", "1000", (char *)NULL);
	ck_assert(wait_at(&t, NULL, 0, WALL, 250, &why) == 0);
	ck_assert_ptr_null(why);
	throttle_after_batch(&t, NULL, 0.01, 250, 0.01);
	w = wait_at(&t, NULL, 0.01, WALL, 250, &why);
	ck_assert_double_eq_tol(w, 0.25 - 0.01, 1e-9);
	ck_assert_str_eq(why, "max-rate 1000 rows/s");

	/* A batch that filled 10 of 250: only 10 are paid for. */
	ck_assert(wait_at(&t, NULL, 1.0, WALL, 250, NULL) == 0);
	throttle_after_batch(&t, NULL, 1.0, 10, 0);
	w = wait_at(&t, NULL, 1.0, WALL, 250, NULL);
	ck_assert_double_le(w, 0.0 + 1e-9 + 0.0);
	/* A failed batch: nothing paid. */
	throttle_after_batch(&t, NULL, 1.0, 0, 0);
	ck_assert(wait_at(&t, NULL, 1.0, WALL, 250, NULL) == 0);
}
END_TEST

START_TEST(test_max_batch)
{
	struct throttle t;

	make_throttle(&t, 0.0, (char *)NULL);
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), LONG_MAX);
	make_throttle(&t, 0.0, "max-rate", "20000", (char *)NULL);
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), 5000);
	make_throttle(&t, 0.0, "max-rate", "100", (char *)NULL);
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), 25);
	make_throttle(&t, 0.0, "max-rate", "0.5", (char *)NULL);
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), 1);

	/* Under the pace (others at work): PACE_BATCH_SECONDS' worth of
	 * rows, never more than PACE_BATCH_ROWS however fast it goes. */
	make_throttle(&t, 0.0, "max-latency-increase", "1.5", (char *)NULL);
	t.pace.why = PACE_RAMP;
	t.pace.rate = 2000;
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), 50);
	t.pace.rate = 40000;
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), PACE_BATCH_ROWS);
	/* A max-rate under the pace's rate: others are at work all the
	 * same, the batches as short. */
	make_throttle(&t, 0.0, "max-latency-increase", "1.5", "max-rate", "2000", (char *)NULL);
	t.pace.why = PACE_RAMP;
	t.pace.rate = 40000;
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), 50);
	make_throttle(&t, 0.0, "max-latency-increase", "1.5", "max-rate", "20000", (char *)NULL);
	t.pace.why = PACE_RAMP;
	t.pace.rate = 40000;
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), PACE_BATCH_ROWS);
	/* Nobody else at work (the pace free): max-rate's quarter second. */
	t.pace.why = PACE_FREE;
	ck_assert_int_eq(throttle_max_batch(&t, 0.0), 5000);
}
END_TEST

/* ---- sleep and nice-ratio ---------------------------------------------- */

START_TEST(test_sleep)
{
	struct throttle t;
	const char *why;

	make_throttle(&t, 0.0, "sleep", "100", (char *)NULL);
	ck_assert(wait_at(&t, NULL, 0, WALL, 1000, &why) == 0);
	throttle_after_batch(&t, NULL, 0.05, 1000, 0.05);
	ck_assert_double_eq_tol(wait_at(&t, NULL, 0.05, WALL, 1000, &why),
				0.1, 1e-9);
	ck_assert_str_eq(why, "sleep 100 ms");
	ck_assert_str_eq(throttle_reason(&t, 0.06), "sleep 100 ms");
	ck_assert_double_eq_tol(wait_at(&t, NULL, 0.1, WALL, 1000, NULL),
				0.05, 1e-9);
	ck_assert(wait_at(&t, NULL, 0.15, WALL, 1000, &why) == 0);
	/* The reason fades a second after the last pacing wait. */
	ck_assert_ptr_null(throttle_reason(&t, 5.0));
}
END_TEST

START_TEST(test_nice_ratio)
{
	struct throttle t;
	const char *why;

	make_throttle(&t, 0.0, "nice-ratio", "0.5", (char *)NULL);
	ck_assert(wait_at(&t, NULL, 0, WALL, 1000, NULL) == 0);
	throttle_after_batch(&t, NULL, 0.2, 1000, 0.2);
	ck_assert_double_eq_tol(wait_at(&t, NULL, 0.2, WALL, 1000, &why),
				0.1, 1e-9);
	ck_assert_str_eq(why, "nice-ratio 0.5");

	/* With both, the longer pause wins. */
	make_throttle(&t, 0.0, "nice-ratio", "2", "sleep", "50", (char *)NULL);
	throttle_after_batch(&t, NULL, 1.0, 1000, 0.01);      /* 20 ms nice */
	ck_assert_double_eq_tol(wait_at(&t, NULL, 1.0, WALL, 1, &why),
				0.05, 1e-9);
	ck_assert_str_eq(why, "sleep 50 ms");
	throttle_after_batch(&t, NULL, 2.0, 1000, 0.1);       /* 200 ms nice */
	ck_assert_double_eq_tol(wait_at(&t, NULL, 2.0, WALL, 1, &why),
				0.2, 1e-9);
	ck_assert_str_eq(why, "nice-ratio 2");
}
END_TEST

/* Sleep is per worker: another lane is not held by this lane's pause. */
START_TEST(test_sleep_per_lane)
{
	struct throttle t;
	struct throttle_lane a, b;

	make_throttle(&t, 0.0, "sleep", "500", (char *)NULL);
	throttle_lane_init(&a);
	throttle_lane_init(&b);
	ck_assert(wait_at(&t, &a, 0, WALL, 10, NULL) == 0);
	throttle_after_batch(&t, &a, 0.1, 10, 0.1);
	ck_assert(wait_at(&t, &a, 0.1, WALL, 10, NULL) > 0.4);
	ck_assert(wait_at(&t, &b, 0.1, WALL, 10, NULL) == 0);
}
END_TEST

/* ---- active hours ------------------------------------------------------ */

START_TEST(test_hours_parse)
{
	static const char *const bad[] = {
		"9:00-10:00", "24:00-01:00", "22:60-01:00", "22:00-06:00x",
		"22:00 06:00", "22:00-6:00", "2200-0600", "22:00-", "-06:00",
		" 22:00-06:00", "22:00-06:00 ", "aa:bb-cc:dd", "22:00-22:00",
		"00:00-00:00",
	};
	char err[256];
	int s, e;
	size_t i;

	ck_assert_int_eq(hours_parse("22:00-06:00", &s, &e, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(s, 22 * 60);
	ck_assert_int_eq(e, 6 * 60);
	ck_assert_int_eq(hours_parse("00:00-23:59", &s, &e, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(e, 23 * 60 + 59);
	ck_assert_int_eq(hours_parse(NULL, &s, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(s, -1);
	ck_assert_int_eq(hours_parse("", &s, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e, -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(hours_parse(bad[i], &s, &e, err,
						   sizeof(err)) == -1,
			      "'%s' accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, bad[i]));
	}
	hours_parse("22:00-22:00", &s, &e, err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "same time"));
}
END_TEST

START_TEST(test_hours_window)
{
	/* Same day: 08:00-17:00. */
	ck_assert_double_eq(hours_wait(480, 1020, 480, 0), 0);
	ck_assert_double_eq(hours_wait(480, 1020, 1019, 59), 0);
	ck_assert_double_eq(hours_wait(480, 1020, 1020, 0),
			    (1440 - 1020 + 480) * 60.0);
	ck_assert_double_eq(hours_wait(480, 1020, 479, 30), 30);
	ck_assert_double_eq(hours_wait(480, 1020, 0, 0), 480 * 60.0);
	/* Past midnight: 22:00-06:00. */
	ck_assert_double_eq(hours_wait(1320, 360, 1320, 0), 0);
	ck_assert_double_eq(hours_wait(1320, 360, 1439, 59), 0);
	ck_assert_double_eq(hours_wait(1320, 360, 0, 0), 0);
	ck_assert_double_eq(hours_wait(1320, 360, 359, 59), 0);
	ck_assert_double_eq(hours_wait(1320, 360, 360, 0),
			    (1320 - 360) * 60.0);
	ck_assert_double_eq(hours_wait(1320, 360, 1319, 0), 60);
	/* No window. */
	ck_assert_double_eq(hours_wait(-1, -1, 700, 0), 0);
}
END_TEST

START_TEST(test_hours_throttle)
{
	struct throttle t;
	const char *why;
	double w;

	utc();          /* WALL is 22:13:20 */
	make_throttle(&t, 0.0, "active-hours", "22:00-06:00", (char *)NULL);
	ck_assert(wait_at(&t, NULL, 0, WALL, 1, &why) == 0);

	make_throttle(&t, 0.0, "active-hours", "08:00-17:00", (char *)NULL);
	w = wait_at(&t, NULL, 0, WALL, 1, &why);
	ck_assert_double_eq(w, THROTTLE_POLL);
	ck_assert_str_eq(why, "outside active hours 08:00-17:00");
	ck_assert(throttle_paused(&t));
	ck_assert_str_eq(throttle_reason(&t, 0), why);

	/* Opens in 40 s (22:14:00): still polled every second. */
	make_throttle(&t, 0.0, "active-hours", "22:14-22:15", (char *)NULL);
	ck_assert_double_eq(wait_at(&t, NULL, 0, WALL, 1, NULL),
			    THROTTLE_POLL);
	ck_assert(wait_at(&t, NULL, 40, WALL + 40, 1, NULL) == 0);
	ck_assert(!throttle_paused(&t));
	/* And closes at 22:15. */
	ck_assert(wait_at(&t, NULL, 100, WALL + 100, 1, NULL) > 0);
}
END_TEST

/* The throttle on what the host says alone: no file, no time zone read. */
START_TEST(test_env_fabricated)
{
	struct throttle t;
	struct throttle_env env = { .minute_of_day = 22 * 60 + 13, .second = 20 };
	const char *why;

	make_throttle(&t, 0.0, "active-hours", "08:00-17:00", "pause-file",
		      "/nonexistent/nb-pause", (char *)NULL);
	ck_assert_double_eq(throttle_wait(&t, NULL, 0, &env, 1, &why),
			    THROTTLE_POLL);
	ck_assert_str_eq(why, "outside active hours 08:00-17:00");
	env.minute_of_day = 9 * 60;
	ck_assert(throttle_wait(&t, NULL, 1, &env, 1, NULL) == 0);

	/* The file is due a look; one that found it pauses, naming it. */
	ck_assert_str_eq(throttle_pause_file_due(&t, 2), "/nonexistent/nb-pause");
	env.file_looked = true;
	env.file_present = true;
	ck_assert_double_eq(throttle_wait(&t, NULL, 2, &env, 1, &why),
			    THROTTLE_POLL);
	ck_assert_str_eq(why, "pause file /nonexistent/nb-pause");
	/* Not due again within a quarter of a second; a call without a
	 * look keeps the last one. */
	ck_assert_ptr_null(throttle_pause_file_due(&t, 2.1));
	env.file_looked = false;
	env.file_present = false;
	ck_assert(throttle_wait(&t, NULL, 2.1, &env, 1, NULL) > 0);
	/* A look that could not tell pauses too. */
	env.file_looked = true;
	env.file_errno = EACCES;
	ck_assert(throttle_wait(&t, NULL, 3, &env, 1, &why) > 0);
	ck_assert_ptr_nonnull(strstr(why, "cannot check"));
	env.file_errno = 0;
	ck_assert(throttle_wait(&t, NULL, 4, &env, 1, NULL) == 0);
	/* A local time that could not be had does not hold. */
	env.minute_of_day = -1;
	ck_assert(throttle_wait(&t, NULL, 5, &env, 1, NULL) == 0);
}
END_TEST

/* ---- max-runtime ------------------------------------------------------- */

START_TEST(test_max_runtime)
{
	struct throttle t;
	const char *why;

	make_throttle(&t, 100.0, (char *)NULL);
	ck_assert(!throttle_runtime_over(&t, 1e9));
	ck_assert(isinf(throttle_runtime_left(&t, 100)));

	make_throttle(&t, 100.0, "max-runtime", "2s", "sleep", "5000",
		      (char *)NULL);
	ck_assert(!throttle_runtime_over(&t, 101.9));
	ck_assert_double_eq_tol(throttle_runtime_left(&t, 101), 1.0, 1e-9);
	ck_assert(wait_at(&t, NULL, 100, WALL, 1, NULL) == 0);
	throttle_after_batch(&t, NULL, 101, 1, 0.01);
	/* A 5 s sleep is cut at the end of the run... */
	ck_assert_double_eq_tol(wait_at(&t, NULL, 101, WALL, 1, NULL),
				1.0, 1e-9);
	/* ...where the answer is: stop. */
	ck_assert(throttle_runtime_over(&t, 102));
	ck_assert(wait_at(&t, NULL, 102, WALL, 1, &why) == THROTTLE_STOP);
	ck_assert_str_eq(why, "max-runtime reached");
	ck_assert_double_eq(throttle_runtime_left(&t, 500), 0);

	make_throttle(&t, 0.0, "max-runtime", "1h30m", (char *)NULL);
	ck_assert(!throttle_runtime_over(&t, 5399));
	ck_assert(throttle_runtime_over(&t, 5400));
}
END_TEST

/* ---- pause file, manual pause ------------------------------------------ */

START_TEST(test_pause_file)
{
	struct throttle t;
	char path[] = "/tmp/nb-test-pause-XXXXXX", want[64], buf[128];
	const char *why;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	make_throttle(&t, 0.0, "pause-file", path, (char *)NULL);
	ck_assert_double_eq(wait_at(&t, NULL, 0, WALL, 1, &why),
			    THROTTLE_POLL);
	snprintf(want, sizeof(want), "pause file %s", path);
	ck_assert_str_eq(why, want);
	ck_assert_int_eq(throttle_take_change(&t, 0, buf, sizeof(buf)), 1);
	snprintf(want, sizeof(want), "throttled: pause file %s", path);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(throttle_take_change(&t, 0.5, buf, sizeof(buf)), 0);

	unlink(path);
	/* The last stat() is reused for a quarter of a second. */
	ck_assert(wait_at(&t, NULL, 0.1, WALL, 1, NULL) > 0);
	ck_assert(wait_at(&t, NULL, 3.0, WALL, 1, &why) == 0);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(throttle_take_change(&t, 3.0, buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "resumed after 3.0 s (pause-file)");
	ck_assert_double_eq_tol(throttle_seconds(&t, THROTTLE_PAUSE_FILE), 3.0,
				1e-9);

	/* Absent from the start. */
	make_throttle(&t, 0.0, "pause-file", path, (char *)NULL);
	ck_assert(wait_at(&t, NULL, 0, WALL, 1, NULL) == 0);
	/* A path that cannot be checked pauses (the safe side). */
	make_throttle(&t, 0.0, "pause-file", "/proc/self/fd/0/x/y",
		      (char *)NULL);
	if (wait_at(&t, NULL, 0, WALL, 1, &why) > 0)
		ck_assert_ptr_nonnull(strstr(why, "cannot check"));
}
END_TEST

START_TEST(test_manual_pause)
{
	struct throttle t;
	const char *why;
	char buf[128];

	make_throttle(&t, 0.0, (char *)NULL);
	throttle_set_paused(&t, true, "SIGUSR1");
	ck_assert(throttle_paused(&t));
	ck_assert_double_eq(wait_at(&t, NULL, 0, WALL, 1, &why),
			    THROTTLE_POLL);
	ck_assert_str_eq(why, "paused by SIGUSR1");
	ck_assert_str_eq(throttle_reason(&t, 0), "paused by SIGUSR1");
	ck_assert_int_eq(throttle_take_change(&t, 0, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "throttled: paused by SIGUSR1");
	ck_assert(wait_at(&t, NULL, 1, WALL, 1, NULL) > 0);
	throttle_set_paused(&t, false, NULL);
	ck_assert(!throttle_paused(&t));
	ck_assert(wait_at(&t, NULL, 1.5, WALL, 1, NULL) == 0);
	ck_assert_int_eq(throttle_take_change(&t, 1.5, buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "resumed after 1.5 s (paused)");
	ck_assert_double_eq_tol(throttle_seconds(&t, THROTTLE_PAUSED), 1.5,
				1e-9);
	throttle_set_paused(&t, true, NULL);
	ck_assert_str_eq(throttle_reason(&t, 2), "paused by signal");
}
END_TEST

/* Two workers held together for a second count one second. */
START_TEST(test_seconds_union)
{
	struct throttle t;
	struct throttle_lane a, b;

	make_throttle(&t, 0.0, (char *)NULL);
	throttle_lane_init(&a);
	throttle_lane_init(&b);
	throttle_set_paused(&t, true, "test");
	ck_assert(wait_at(&t, &a, 0.0, WALL, 1, NULL) > 0);
	ck_assert(wait_at(&t, &b, 0.5, WALL, 1, NULL) > 0);
	ck_assert(wait_at(&t, &a, 1.0, WALL, 1, NULL) > 0);
	ck_assert(wait_at(&t, &b, 1.5, WALL, 1, NULL) > 0);
	throttle_set_paused(&t, false, NULL);
	ck_assert(wait_at(&t, &a, 2.0, WALL, 1, NULL) == 0);
	ck_assert(wait_at(&t, &b, 2.0, WALL, 1, NULL) == 0);
	ck_assert_double_eq_tol(throttle_seconds(&t, THROTTLE_PAUSED), 2.0,
				1e-9);
	ck_assert_double_eq(throttle_seconds(&t, THROTTLE_MAX_RATE), 0);
	ck_assert_str_eq(throttle_cause_name(THROTTLE_REPLICA_LAG),
			 "replica-lag");
	ck_assert_ptr_null(throttle_cause_name(THROTTLE_NCAUSES));
}
END_TEST

/* ---- health ------------------------------------------------------------ */

enum { H_LAG_BYTES, H_LAG_SECONDS, H_REPLICAS, H_REPLICAS_UNKNOWN,
       H_WAL_LSN, H_SLOT_BYTES, H_BLOCKED, H_AUTOVACUUM, H_OTHERS,
       H_OTHERS_IDLE_S, H_SEES_ALL, H_IN_RECOVERY, H_N };

static const char *const health_cols[H_N] = {
	"lag_bytes", "lag_seconds", "replicas", "replicas_unknown", "wal_lsn",
	"slot_bytes", "blocked", "autovacuum", "others", "others_idle_s",
	"sees_all", "in_recovery",
};

/* A quiet primary with no standby. */
static void quiet(const char *v[H_N])
{
	v[H_LAG_BYTES] = NULL;
	v[H_LAG_SECONDS] = NULL;
	v[H_REPLICAS] = "0";
	v[H_REPLICAS_UNKNOWN] = "0";
	v[H_WAL_LSN] = "1000000";
	v[H_SLOT_BYTES] = NULL;
	v[H_BLOCKED] = "0";
	v[H_AUTOVACUUM] = "0";
	v[H_OTHERS] = "0";
	v[H_OTHERS_IDLE_S] = NULL;
	v[H_SEES_ALL] = "t";
	v[H_IN_RECOVERY] = "f";
}

/* The health query's result as libpq would build it; ncols < H_N leaves
 * the last columns out. */
static PGresult *health_result(const char *const v[H_N], int ncols)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[H_N];
	int i;

	ck_assert_ptr_nonnull(r);
	memset(attrs, 0, sizeof(attrs));
	for (i = 0; i < ncols; i++) {
		attrs[i].name = (char *)health_cols[i];
		attrs[i].typid = 25;            /* text: all we read */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	ck_assert(PQsetResultAttrs(r, ncols, attrs));
	for (i = 0; i < ncols; i++) {
		if (v[i] == NULL)
			ck_assert(PQsetvalue(r, 0, i, NULL, -1));
		else
			ck_assert(PQsetvalue(r, 0, i, (char *)v[i],
					     (int)strlen(v[i])));
	}
	return r;
}

/* A health query's answer v at now, as the engine takes it: the sample
 * to the throttle, or -1 from the parse (nothing to the throttle). */
static int feed(struct throttle *t, const char *const v[H_N], double now,
		char *err)
{
	PGresult *r = health_result(v, H_N);
	struct health_sample s;
	int rc = health_from_result(&s, r, err, 256);

	if (rc == 0)
		rc = throttle_health_update(t, &s, now, err, 256);
	PQclear(r);
	return rc;
}

/* The pause reason after a health sample, or NULL. */
static const char *paused_by(struct throttle *t, double now)
{
	const char *why;
	double w = wait_at(t, NULL, now, WALL, 1, &why);

	if (w == 0)
		return NULL;
	ck_assert(w > 0);
	return why;
}

START_TEST(test_health_quiet)
{
	struct throttle t;
	const char *v[H_N];
	char err[256];

	make_throttle(&t, 0.0, (char *)NULL);
	ck_assert(throttle_health_wanted(&t));
	quiet(v);
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	ck_assert(t.health.have);
	ck_assert_double_eq(t.health.lag_bytes, 0);
	ck_assert_double_eq(t.health.wal_lsn, 1000000);
	ck_assert_double_lt(t.health.wal_rate, 0);    /* one sample: no rate */
	ck_assert_ptr_null(paused_by(&t, 0));

	make_throttle(&t, 0.0, "max-replica-lag-bytes", "0", "max-replica-lag",
		      "0", "pause-on-blocking", "off", (char *)NULL);
	ck_assert(!throttle_health_wanted(&t));
}
END_TEST

START_TEST(test_health_lag_bytes)
{
	struct throttle t;
	const char *v[H_N];
	char err[256], buf[128];

	make_throttle(&t, 0.0, (char *)NULL);  /* 64MB, 10 s */
	quiet(v);
	v[H_REPLICAS] = "1";
	v[H_LAG_BYTES] = "83886080";            /* 80 MB */
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	ck_assert(throttle_paused(&t));
	ck_assert_str_eq(paused_by(&t, 0), "replica lag 80.0 MB > 64.0 MB");
	ck_assert_int_eq(throttle_take_change(&t, 0, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "throttled: replica lag 80.0 MB > 64.0 MB");
	ck_assert_double_eq(t.health.lag_bytes, 80 * MB);

	/* Under the limit but above 80% of it: still paused. */
	v[H_LAG_BYTES] = "62914560";            /* 60 MB */
	ck_assert_int_eq(feed(&t, v, 1, err), 0);
	ck_assert_str_eq(paused_by(&t, 1),
			 "replica lag 60.0 MB, resuming below 51.2 MB");
	v[H_LAG_BYTES] = "52428800";            /* 50 MB */
	ck_assert_int_eq(feed(&t, v, 2, err), 0);
	ck_assert_ptr_null(paused_by(&t, 2));
	ck_assert_int_eq(throttle_take_change(&t, 2, buf, sizeof(buf)), -1);
	ck_assert_str_eq(buf, "resumed after 2.0 s (replica-lag)");
	/* Not paused again until over the limit itself. */
	v[H_LAG_BYTES] = "62914560";
	ck_assert_int_eq(feed(&t, v, 3, err), 0);
	ck_assert_ptr_null(paused_by(&t, 3));
	ck_assert_double_eq_tol(throttle_seconds(&t, THROTTLE_REPLICA_LAG), 2.0,
				1e-9);

	/* A reload that turns the limit off resumes at once. */
	v[H_LAG_BYTES] = "1073741824";
	ck_assert_int_eq(feed(&t, v, 4, err), 0);
	ck_assert(throttle_paused(&t));
	{
		struct config c;

		make_config(&c, "max-replica-lag-bytes", "0", (char *)NULL);
		ck_assert_int_eq(throttle_reconfigure(&t, &c, err, sizeof(err)),
				 0);
		config_free(&c);
	}
	ck_assert_ptr_null(paused_by(&t, 4));
}
END_TEST

START_TEST(test_health_lag_time)
{
	struct throttle t;
	const char *v[H_N];
	char err[256];

	make_throttle(&t, 0.0, "max-replica-lag", "5s", (char *)NULL);
	quiet(v);
	v[H_REPLICAS] = "2";
	v[H_LAG_BYTES] = "1000";
	v[H_LAG_SECONDS] = "12.25";
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	ck_assert_str_eq(paused_by(&t, 0), "replica lag 12.3 s > 5 s");
	v[H_LAG_SECONDS] = "4.5";
	ck_assert_int_eq(feed(&t, v, 1, err), 0);
	ck_assert_str_eq(paused_by(&t, 1), "replica lag 4.5 s, resuming below 4 s");
	v[H_LAG_SECONDS] = NULL;                /* caught up: NULL */
	ck_assert_int_eq(feed(&t, v, 2, err), 0);
	ck_assert_ptr_null(paused_by(&t, 2));
}
END_TEST

START_TEST(test_health_wal_rate)
{
	struct throttle t;
	const char *v[H_N];
	char err[256], lsn[320];
	double now, base = 5e9;
	int i;

	make_throttle(&t, 0.0, "max-wal-rate", "16MB", (char *)NULL);
	quiet(v);
	v[H_WAL_LSN] = lsn;
	/* 8 MB/s for 10 s: rate known from the second sample, no pause. */
	for (i = 0; i <= 10; i++) {
		snprintf(lsn, sizeof(lsn), "%.0f", base + i * 8 * MB);
		ck_assert_int_eq(feed(&t, v, i, err), 0);
		ck_assert_ptr_null(paused_by(&t, i));
	}
	ck_assert_double_eq_tol(t.health.wal_rate, 8 * MB, 1);
	/* Then 40 MB/s: the smoothed rate crosses 16 MB/s within seconds. */
	base += 10 * 8 * MB;
	for (i = 1; i <= 10 && !throttle_paused(&t); i++) {
		snprintf(lsn, sizeof(lsn), "%.0f", base + i * 40 * MB);
		ck_assert_int_eq(feed(&t, v, 10 + i, err), 0);
	}
	ck_assert(throttle_paused(&t));
	ck_assert_int_le(i, 3);
	ck_assert_ptr_nonnull(strstr(paused_by(&t, 10 + i), "WAL rate "));
	ck_assert_ptr_nonnull(strstr(paused_by(&t, 10 + i), "> 16.0 MB/s"));
	/* Paused: WAL stops; the rate decays and the pause ends. */
	base += i * 40 * MB;
	snprintf(lsn, sizeof(lsn), "%.0f", base);
	for (now = 11 + i; now < 40 && throttle_paused(&t); now += 1)
		ck_assert_int_eq(feed(&t, v, now, err), 0);
	ck_assert(!throttle_paused(&t));
	ck_assert_double_le(t.health.wal_rate, 16 * MB * THROTTLE_RESUME_FRACTION);

	/* The LSN going back (another server): the rate starts over. */
	snprintf(lsn, sizeof(lsn), "%.0f", 1000.0);
	ck_assert_int_eq(feed(&t, v, now + 1, err), 0);
	ck_assert_double_lt(t.health.wal_rate, 0);
	snprintf(lsn, sizeof(lsn), "%.0f", 1000.0 + 2 * MB);
	ck_assert_int_eq(feed(&t, v, now + 3, err), 0);
	ck_assert_double_eq_tol(t.health.wal_rate, 1 * MB, 1);
}
END_TEST

START_TEST(test_health_slot)
{
	struct throttle t;
	const char *v[H_N];
	char err[256];

	make_throttle(&t, 0.0, "max-slot-retained-wal", "1GB", (char *)NULL);
	quiet(v);
	v[H_SLOT_BYTES] = "2147483648";
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	ck_assert_str_eq(paused_by(&t, 0),
			 "slot retains 2.0 GB of WAL > 1.0 GB");
	v[H_SLOT_BYTES] = "104857600";
	ck_assert_int_eq(feed(&t, v, 1, err), 0);
	ck_assert_ptr_null(paused_by(&t, 1));
}
END_TEST

START_TEST(test_health_blocking)
{
	struct throttle t;
	const char *v[H_N];
	char err[256];

	make_throttle(&t, 0.0, (char *)NULL);  /* pause-on-blocking: on */
	quiet(v);
	v[H_BLOCKED] = "2";
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	ck_assert_str_eq(paused_by(&t, 0), "blocking 2 sessions");
	v[H_BLOCKED] = "1";
	ck_assert_int_eq(feed(&t, v, 1, err), 0);
	ck_assert_str_eq(paused_by(&t, 1), "blocking 1 session");
	v[H_BLOCKED] = "0";
	ck_assert_int_eq(feed(&t, v, 2, err), 0);
	ck_assert_ptr_null(paused_by(&t, 2));

	make_throttle(&t, 0.0, "pause-on-blocking", "off", (char *)NULL);
	v[H_BLOCKED] = "3";
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	ck_assert_ptr_null(paused_by(&t, 0));
	ck_assert_int_eq(t.health.blocked, 3);
}
END_TEST

START_TEST(test_health_autovacuum)
{
	struct throttle t;
	const char *v[H_N];
	char err[256];

	make_throttle(&t, 0.0, (char *)NULL);  /* pause-on-autovacuum: off */
	quiet(v);
	v[H_AUTOVACUUM] = "1";
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	ck_assert_ptr_null(paused_by(&t, 0));

	make_throttle(&t, 0.0, "pause-on-autovacuum", "on", (char *)NULL);
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	ck_assert_str_eq(paused_by(&t, 0), "autovacuum on the table");
	v[H_AUTOVACUUM] = "0";
	ck_assert_int_eq(feed(&t, v, 1, err), 0);
	ck_assert_ptr_null(paused_by(&t, 1));
}
END_TEST

/* A probe's answer at time at, sent 1 ms before, of the given load. */
static void probe(struct throttle *t, double at, long active, long wal, long blocked)
{
	struct pace_sample s = { .sent = at - 0.001, .at = at, .active = active,
				 .wal_waits = wal, .blocked = blocked };

	s.quiet = throttle_probe_quiet(t, s.sent, false);
	throttle_probe(t, &s);
}

/*
 * The pace in the throttle: no limit while nobody else works; others
 * start: half speed, a quiet window (batches held, named), then growth;
 * max-rate still wins when lower; --max-latency-increase 0: no pace.
 */
START_TEST(test_pace_rate)
{
	struct throttle t;
	const char *why;
	double now, w;

	make_throttle(&t, 0.0, "max-latency-increase", "1.5", "min-rate", "500",
		      (char *)NULL);
	ck_assert(throttle_probe_wanted(&t));
	/* Before the probes tell: a slow start. */
	ck_assert_double_eq(throttle_rate(&t, 0.0), PACE_START);
	/* Nobody else works: full speed within a few probes, nothing named. */
	for (now = 0.1; now < 0.75; now += 0.1)
		probe(&t, now, 0, 0, 0);
	ck_assert_double_eq(throttle_rate(&t, 0.8), 0);
	ck_assert(wait_at(&t, NULL, 0.8, WALL, 100000, NULL) == 0);
	throttle_after_batch(&t, NULL, 0.9, 100000, 0.1);
	probe(&t, 0.9, 0, 0, 0);

	/* Others work: the rate is cut, and a quiet window holds batches. */
	probe(&t, 1.0, 5, 0, 0);
	probe(&t, 1.1, 5, 0, 0);
	ck_assert(throttle_rate(&t, 1.1) > 0);
	w = wait_at(&t, NULL, 1.1, WALL, 1000, &why);
	ck_assert(w > 0);
	ck_assert_str_eq(why, "pace: measuring the probe's baseline (no batch for 0.3 s)");
	ck_assert(throttle_seconds(&t, THROTTLE_PACE) >= 0);
	/* After the window: a rate, and it is named. */
	for (now = 1.2; now < 1.75; now += 0.1)
		probe(&t, now, 5, 0, 0);
	ck_assert(!pace_quiet(&t.pace, 1.8));
	ck_assert(throttle_rate(&t, 1.8) >= 500);
	/* Paced batches are short: PACE_BATCH_SECONDS' worth of rows. */
	ck_assert_int_eq(throttle_max_batch(&t, 1.8),
			 (long)ceil(throttle_rate(&t, 1.8) * PACE_BATCH_SECONDS));
	ck_assert(wait_at(&t, NULL, 1.8, WALL, throttle_max_batch(&t, 1.8), NULL) == 0);
	w = wait_at(&t, NULL, 1.8, WALL, throttle_max_batch(&t, 1.8), &why);
	ck_assert(w > 0);
	ck_assert_msg(strncmp(why, "pace ", 5) == 0, "%s", why);

	/* A lower max-rate wins, and is named. */
	make_throttle(&t, 0.0, "max-latency-increase", "1.5", "max-rate", "300",
		      (char *)NULL);
	probe(&t, 0.1, 5, 0, 0);
	for (now = 0.2; now < 1.0; now += 0.1)
		probe(&t, now, 5, 0, 0);
	ck_assert_double_eq(throttle_rate(&t, 1.0), 300);
	ck_assert(wait_at(&t, NULL, 1.0, WALL, 75, NULL) == 0);
	ck_assert(wait_at(&t, NULL, 1.0, WALL, 75, &why) > 0);
	ck_assert_str_eq(why, "max-rate 300 rows/s");

	/* No pace: no probe wanted, no limit. */
	make_throttle(&t, 0.0, "max-latency-increase", "0", (char *)NULL);
	ck_assert(!throttle_probe_wanted(&t));
	probe(&t, 0.1, 9, 9, 9);
	ck_assert_double_eq(throttle_rate(&t, 0.1), 0);
}
END_TEST

/* No sample for a while after the first one: pause until one arrives. */
START_TEST(test_health_stale)
{
	struct throttle t;
	struct health_sample s;
	const char *v[H_N];
	char err[256];

	make_throttle(&t, 0.0, (char *)NULL);
	/* Before the first sample: not paused (nothing is known yet, and an
	 * engine without the health query must still work). */
	ck_assert_ptr_null(paused_by(&t, 100));
	quiet(v);
	ck_assert_int_eq(feed(&t, v, 100, err), 0);
	ck_assert_ptr_null(paused_by(&t, 109));
	/* A failed query at 109: no sample. */
	ck_assert_int_eq(health_from_result(&s, NULL, err, 256), -1);
	ck_assert_str_eq(paused_by(&t, 111),
			 "health unknown: no health sample for 11 s");
	ck_assert_int_eq(feed(&t, v, 112, err), 0);
	ck_assert_ptr_null(paused_by(&t, 112));
}
END_TEST

START_TEST(test_health_bad_results)
{
	struct throttle t;
	struct health_sample s;
	const char *v[H_N];
	char err[256];
	PGresult *r;

	make_throttle(&t, 0.0, (char *)NULL);
	quiet(v);
	ck_assert_int_eq(health_from_result(&s, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "health query failed");

	r = health_result(v, H_N - 1);
	ck_assert_int_eq(health_from_result(&s, r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "health query: no column in_recovery");
	PQclear(r);

	v[H_BLOCKED] = "many";
	ck_assert_int_eq(feed(&t, v, 0, err), -1);
	ck_assert_str_eq(err, "health query: blocked is not a number: 'many'");
	ck_assert(!t.health.have);

	r = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
	ck_assert_int_eq(health_from_result(&s, r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "expected one row"));
	PQclear(r);
}
END_TEST

START_TEST(test_health_warnings)
{
	struct throttle t;
	const char *v[H_N];
	char err[256];

	make_throttle(&t, 0.0, (char *)NULL);
	quiet(v);
	v[H_SEES_ALL] = "f";
	ck_assert_int_eq(feed(&t, v, 0, err), 1);
	ck_assert_ptr_nonnull(strstr(err, "pg_monitor"));
	ck_assert_int_eq(feed(&t, v, 1, err), 0);       /* once */

	v[H_SEES_ALL] = "t";
	v[H_REPLICAS] = "2";
	v[H_REPLICAS_UNKNOWN] = "1";
	ck_assert_int_eq(feed(&t, v, 2, err), 1);
	ck_assert_str_eq(err, "1 of 2 standbys report no replay position; "
			 "their lag is not checked");
	ck_assert_int_eq(feed(&t, v, 3, err), 0);

	/* A standby: no LSN, so no WAL rate. */
	quiet(v);
	v[H_IN_RECOVERY] = "t";
	v[H_WAL_LSN] = NULL;
	ck_assert_int_eq(feed(&t, v, 4, err), 1);
	ck_assert_ptr_nonnull(strstr(err, "standby"));
	ck_assert_double_lt(t.health.wal_lsn, 0);
	ck_assert_double_lt(t.health.wal_rate, 0);
}
END_TEST

START_TEST(test_health_params)
{
	struct health_params p;
	int pids[HEALTH_MAX_PIDS + 1], i;

	pids[0] = 1;
	pids[1] = 22;
	pids[2] = 4194304;
	ck_assert_int_eq(health_params(&p, pids, 3, "public", "t"), 0);
	ck_assert_str_eq(p.values[0], "{1,22,4194304}");
	ck_assert_str_eq(p.values[1], "public");
	ck_assert_str_eq(p.values[2], "t");
	ck_assert_int_eq(health_params(&p, pids, 0, "s", "t"), 0);
	ck_assert_str_eq(p.values[0], "{}");
	for (i = 0; i <= HEALTH_MAX_PIDS; i++)
		pids[i] = 2147483647;
	ck_assert_int_eq(health_params(&p, pids, HEALTH_MAX_PIDS,
						"s", "t"), 0);
	ck_assert_uint_eq(strlen(p.pids), HEALTH_MAX_PIDS * 11 + 1);
	ck_assert_int_eq(health_params(&p, pids,
						HEALTH_MAX_PIDS + 1, "s",
						"t"), -1);
	ck_assert_int_eq(health_params(&p, pids, -1, "s", "t"), -1);
	/* The query names what the parser reads, and casts its parameters. */
	for (i = 0; i < H_N; i++)
		ck_assert_msg(strstr(health_sql(), health_cols[i]) != NULL,
			      "%s", health_cols[i]);
	ck_assert_ptr_nonnull(strstr(health_sql(), "$1::int4[]"));
	ck_assert_ptr_nonnull(strstr(health_sql(), "$3::text"));
}
END_TEST

/* Pauses come before pacing; the manual pause before the others. */
START_TEST(test_priority)
{
	struct throttle t;
	const char *v[H_N];
	char err[256];

	make_throttle(&t, 0.0, "max-rate", "10", (char *)NULL);
	quiet(v);
	v[H_BLOCKED] = "1";
	ck_assert_int_eq(feed(&t, v, 0, err), 0);
	throttle_set_paused(&t, true, "SIGUSR1");
	ck_assert_str_eq(paused_by(&t, 0), "paused by SIGUSR1");
	throttle_set_paused(&t, false, NULL);
	ck_assert_str_eq(paused_by(&t, 0), "blocking 1 session");
	v[H_BLOCKED] = "0";
	ck_assert_int_eq(feed(&t, v, 0.5, err), 0);
	ck_assert(wait_at(&t, NULL, 0.5, WALL, 5, NULL) == 0);
	ck_assert_str_eq(paused_by(&t, 0.5), "max-rate 10 rows/s");
}
END_TEST

/* Reload keeps the bucket, the pause and the runtime clock. */
START_TEST(test_reconfigure)
{
	struct throttle t;
	struct config c;
	char err[256];

	make_throttle(&t, 10.0, "max-rate", "100", "max-runtime", "60",
		      (char *)NULL);
	ck_assert(wait_at(&t, NULL, 10, WALL, 25, NULL) == 0);
	throttle_set_paused(&t, true, "SIGUSR1");
	make_config(&c, "max-rate", "50", "max-runtime", "30", (char *)NULL);
	ck_assert_int_eq(throttle_reconfigure(&t, &c, err, sizeof(err)), 0);
	config_free(&c);
	ck_assert(throttle_paused(&t));
	ck_assert(throttle_runtime_over(&t, 40));
	throttle_set_paused(&t, false, NULL);
	ck_assert(wait_at(&t, NULL, 10.1, WALL, 25, NULL) > 0);

	/* A bad value (which validation refuses first) changes nothing. */
	make_config(&c, "max-rate", "7", (char *)NULL);
	free(c.active_hours);
	c.active_hours = strdup("25:00-01:00");
	ck_assert_int_eq(throttle_reconfigure(&t, &c, err, sizeof(err)), -1);
	ck_assert_double_eq(t.max_rate, 50);
	config_free(&c);
}
END_TEST

/* ---- config keys ------------------------------------------------------- */

START_TEST(test_config_defaults)
{
	struct config c;

	config_init(&c);
	ck_assert_double_eq(c.max_rate, 0);
	ck_assert_double_eq(c.max_latency_increase, 1.5);
	ck_assert_double_eq(c.min_rate, 500);
	ck_assert_int_eq(c.sleep_ms, 0);
	ck_assert_double_eq(c.nice_ratio, 0);
	ck_assert_int_eq(c.lock_timeout, 1000);
	ck_assert_int_eq(c.statement_timeout, 30000);
	ck_assert_double_eq(c.max_replica_lag_bytes, 64 * MB);
	ck_assert_double_eq(c.max_replica_lag, 10);
	ck_assert_double_eq(c.max_wal_rate, 0);
	ck_assert_double_eq(c.max_slot_retained_wal, 0);
	ck_assert(c.pause_on_blocking);
	ck_assert(!c.pause_on_autovacuum);
	ck_assert_double_eq(c.health_interval, 1);
	ck_assert_ptr_null(c.active_hours);
	ck_assert_double_eq(c.max_runtime, 0);
	ck_assert_ptr_null(c.pause_file);
	config_free(&c);
}
END_TEST

START_TEST(test_config_units)
{
	static const struct { const char *key, *value; double want; } good[] = {
		{ "max-wal-rate", "16MB", 16 * MB },
		{ "max-wal-rate", "16 MB", 16 * MB },
		{ "max-wal-rate", "16mb", 16 * MB },
		{ "max-wal-rate", "1.5GB", 1.5 * 1024 * MB },
		{ "max-wal-rate", "512kB", 512 * 1024.0 },
		{ "max-wal-rate", "2MiB", 2 * MB },
		{ "max-wal-rate", "1TB", 1024.0 * 1024 * MB },
		{ "max-wal-rate", "100", 100 },
		{ "max-wal-rate", "100B", 100 },
		{ "max-wal-rate", "0", 0 },
		{ "max-runtime", "90s", 90 },
		{ "max-runtime", "30m", 1800 },
		{ "max-runtime", "30min", 1800 },
		{ "max-runtime", "2h", 7200 },
		{ "max-runtime", "1h30m", 5400 },
		{ "max-runtime", "1d2h3m4s", 93784 },
		{ "max-runtime", "1.5h", 5400 },
		{ "max-runtime", "250ms", 0.25 },
		{ "max-runtime", "1m500ms", 60.5 },
		{ "max-runtime", "45", 45 },
		{ "max-runtime", "0", 0 },
		{ "max-runtime", "", 0 },
		{ "max-replica-lag", "2.5", 2.5 },
	};
	struct config c;
	char err[CONFIG_ERR_LEN];
	double got;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		config_init(&c);
		ck_assert_msg(config_set(&c, good[i].key, good[i].value, err,
					 sizeof(err)) == CONFIG_OK,
			      "%s = '%s': %s", good[i].key, good[i].value, err);
		got = strcmp(good[i].key, "max-wal-rate") == 0 ? c.max_wal_rate :
		      strcmp(good[i].key, "max-runtime") == 0 ? c.max_runtime :
		      c.max_replica_lag;
		ck_assert_msg(fabs(got - good[i].want) < 1e-9,
			      "%s = '%s': %g", good[i].key, good[i].value, got);
		config_free(&c);
	}
}
END_TEST

START_TEST(test_config_bad_values)
{
	static const struct { const char *key, *value, *err; } bad[] = {
		{ "max-wal-rate", "16XB", "max-wal-rate: '16XB' is not a size" },
		{ "max-wal-rate", "-1", "max-wal-rate: '-1' is not a size" },
		{ "max-wal-rate", "MB", "max-wal-rate: 'MB' is not a size" },
		{ "max-wal-rate", "0x10", "max-wal-rate: '0x10' is not a size" },
		{ "max-wal-rate", "1e3", "max-wal-rate: '1e3' is not a size" },
		{ "max-wal-rate", "", "max-wal-rate: '' is not a size" },
		{ "max-wal-rate", "16  MB", "max-wal-rate: '16  MB' is not a size" },
		{ "max-wal-rate", "9999TB", "max-wal-rate: 9999TB is out of range" },
		{ "max-replica-lag-bytes", "lots", "max-replica-lag-bytes: 'lots' is not a size" },
		{ "max-runtime", "30m1h", "max-runtime: '30m1h' is not a duration" },
		{ "max-runtime", "1h1h", "max-runtime: '1h1h' is not a duration" },
		{ "max-runtime", "1h 30m", "max-runtime: '1h 30m' is not a duration" },
		{ "max-runtime", "h", "max-runtime: 'h' is not a duration" },
		{ "max-runtime", "10x", "max-runtime: '10x' is not a duration" },
		{ "max-runtime", "-5s", "max-runtime: '-5s' is not a duration" },
		{ "max-runtime", "1hour", "max-runtime: '1hour' is not a duration" },
		{ "max-runtime", "2y", "max-runtime: '2y' is not a duration" },
		{ "max-runtime", "400d", "max-runtime: 400d is out of range" },
		{ "max-replica-lag", "", "max-replica-lag: '' is not a duration" },
		{ "max-replica-lag", "2d", "max-replica-lag: 2d is out of range" },
		{ "max-rate", "-1", "max-rate: -1 is out of range 0..1e+09" },
		{ "max-rate", "fast", "max-rate: 'fast' is not a number" },
		{ "sleep", "1.5", "sleep: '1.5' is not a number" },
		{ "nice-ratio", "-0.5", "nice-ratio: -0.5 is out of range 0..1000" },
		{ "lock-timeout", "0", "lock-timeout: 0 is out of range 1..3600000" },
		{ "statement-timeout", "-1", "statement-timeout: -1 is out of range 0..86400000" },
		{ "health-interval", "0", "health-interval: 0 is out of range 0.1..3600" },
		{ "pause-on-blocking", "maybe", "pause-on-blocking: 'maybe' is not true/false" },
	};
	struct config c;
	char err[CONFIG_ERR_LEN];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_init(&c);
		ck_assert_msg(config_set(&c, bad[i].key, bad[i].value, err,
					 sizeof(err)) == CONFIG_INVALID,
			      "%s = '%s' accepted", bad[i].key, bad[i].value);
		ck_assert_msg(strncmp(err, bad[i].err, strlen(bad[i].err)) == 0,
			      "%s = '%s': got '%s'", bad[i].key, bad[i].value,
			      err);
		config_free(&c);
	}
}
END_TEST

/* Through the parsers: the command line (switches take a value there),
 * and config_validate for active-hours. */
/* config_parse_args on a NULL-terminated argument list. */
static enum config_result parse_args(struct config *c, char *err, ...)
{
	char *argv[32];
	const char *a;
	int argc = 0, i;
	va_list ap;
	enum config_result r;

	argv[argc++] = strdup("nanoid-backfill");
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = strdup(a);
	va_end(ap);
	argv[argc] = NULL;
	r = config_parse_args(c, argc, argv, err, CONFIG_ERR_LEN);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return r;
}

START_TEST(test_config_command_line)
{
	struct config c;
	char err[CONFIG_ERR_LEN];

	ck_assert_int_eq(parse_args(&c, err, "--table", "t", "--column", "c",
				    "--pause-on-blocking", "off",
				    "--pause-on-autovacuum=on", "--max-runtime",
				    "1h30m", "--max-replica-lag-bytes", "1MB",
				    "--active-hours", "22:00-06:00",
				    (char *)NULL), CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_OK);
	ck_assert(!c.pause_on_blocking);
	ck_assert(c.pause_on_autovacuum);
	ck_assert_double_eq(c.max_runtime, 5400);
	ck_assert_double_eq(c.max_replica_lag_bytes, MB);
	ck_assert_str_eq(c.active_hours, "22:00-06:00");
	config_free(&c);

	ck_assert_int_eq(parse_args(&c, err, "--table", "t", "--column", "c",
				    "--active-hours", "22:00-30:00",
				    (char *)NULL), CONFIG_OK);
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), CONFIG_INVALID);
	ck_assert_str_eq(err, "--active-hours: '22:00-30:00' is not HH:MM-HH:MM "
			 "(24-hour local time, e.g. 22:00-06:00)");
	config_free(&c);

	ck_assert_int_eq(parse_args(&c, err, "--max-runtime", "soon",
				    (char *)NULL), CONFIG_INVALID);
	ck_assert_ptr_eq(strstr(err, "--max-runtime: 'soon' is not a duration"),
			 err);
	config_free(&c);

	ck_assert_int_eq(parse_args(&c, err, "--pause-on-blocking",
				    (char *)NULL), CONFIG_USAGE_ERROR);
	ck_assert_str_eq(err, "option '--pause-on-blocking' needs a value");
	config_free(&c);
}
END_TEST

/* Reload copies the new kinds of value whole (a size is a double, a
 * switch a bool). */
START_TEST(test_config_reload)
{
	struct config cur, next;

	log_set_level(LOG_ERROR);       /* the reload lines are not the test */
	make_config(&cur, (char *)NULL);
	make_config(&next, "max-wal-rate", "16MB", "pause-on-blocking", "off",
		    "max-runtime", "1h", "active-hours", "01:00-02:00",
		    "sleep", "20", (char *)NULL);
	ck_assert_int_eq(config_apply_reload(&cur, &next), 5);
	ck_assert_double_eq(cur.max_wal_rate, 16 * MB);
	ck_assert(!cur.pause_on_blocking);
	ck_assert(!cur.pause_on_autovacuum);
	ck_assert_double_eq(cur.max_runtime, 3600);
	ck_assert_str_eq(cur.active_hours, "01:00-02:00");
	ck_assert_int_eq(cur.sleep_ms, 20);
	ck_assert_int_eq(config_apply_reload(&cur, &next), 0);
	config_free(&cur);
	config_free(&next);
}
END_TEST

static Suite *throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *rate = tcase_create("rate");
	TCase *pace = tcase_create("pace");
	TCase *pause = tcase_create("pause");
	TCase *health = tcase_create("health");
	TCase *cfg = tcase_create("config");

	tcase_add_test(rate, test_rate_one_worker);
	tcase_add_test(rate, test_rate_late_timer);
	tcase_add_test(rate, test_rate_four_workers);
	tcase_add_test(rate, test_rate_burst);
	tcase_add_test(rate, test_rate_refund);
	tcase_add_test(rate, test_max_batch);
	tcase_set_timeout(rate, 60);
	suite_add_tcase(s, rate);

	tcase_add_test(pace, test_sleep);
	tcase_add_test(pace, test_nice_ratio);
	tcase_add_test(pace, test_sleep_per_lane);
	suite_add_tcase(s, pace);

	tcase_add_test(pause, test_hours_parse);
	tcase_add_test(pause, test_hours_window);
	tcase_add_test(pause, test_hours_throttle);
	tcase_add_test(pause, test_env_fabricated);
	tcase_add_test(pause, test_max_runtime);
	tcase_add_test(pause, test_pause_file);
	tcase_add_test(pause, test_manual_pause);
	tcase_add_test(pause, test_seconds_union);
	tcase_add_test(pause, test_priority);
	tcase_add_test(pause, test_reconfigure);
	suite_add_tcase(s, pause);

	tcase_add_test(health, test_health_quiet);
	tcase_add_test(health, test_health_lag_bytes);
	tcase_add_test(health, test_health_lag_time);
	tcase_add_test(health, test_health_wal_rate);
	tcase_add_test(health, test_health_slot);
	tcase_add_test(health, test_health_blocking);
	tcase_add_test(health, test_health_autovacuum);
	tcase_add_test(health, test_pace_rate);
	tcase_add_test(health, test_health_stale);
	tcase_add_test(health, test_health_bad_results);
	tcase_add_test(health, test_health_warnings);
	tcase_add_test(health, test_health_params);
	suite_add_tcase(s, health);

	tcase_add_test(cfg, test_config_defaults);
	tcase_add_test(cfg, test_config_units);
	tcase_add_test(cfg, test_config_bad_values);
	tcase_add_test(cfg, test_config_command_line);
	tcase_add_test(cfg, test_config_reload);
	suite_add_tcase(s, cfg);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(throttle_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
