/*
 * test_pace.c - the pace controller (pace.h) on a simulated clock: free
 * while nobody works (at the first probe when nobody is connected at
 * all), a monitoring poller is not load, a step in load is
 * met at the first probe that sees two sessions at work and restarts the
 * slow start (also when it waits on our locks, and forgetting an old
 * load's harm), one session's work seen twice in four probes is load at
 * half speed (a poller's queries may fall so close), growth without harm, cuts on latency, WAL waits
 * (more of them where the quiet windows see them too, not counting a
 * window's first probe unless it is its only one; the cut on a probe
 * that sees one) and blocked
 * sessions (one noisy probe is not harm), the floor, the
 * quiet windows that measure the baseline (a probe sent in one and
 * answered after it counts there only), and the controller off.
 */
#include "pace.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

static struct pace p;
static const struct pace_config on = { .max_increase = 1.5, .min_rate = 500 };
static double now;

/* The baseline latency of the simulated server's probe, seconds. */
#define BASE 0.001

static void setup(void)
{
	pace_init(&p, &on, 0);
	now = 0;
}

/* One probe at now + PACE_PROBE_INTERVAL with this answer and latency. */
static void tick(long active, long wal, long blocked, double latency)
{
	struct pace_sample s;

	now += PACE_PROBE_INTERVAL;
	s = (struct pace_sample){ .sent = now - latency, .at = now, .active = active,
				  .wal_waits = wal, .blocked = blocked };
	s.quiet = pace_quiet(&p, s.sent);
	pace_sample(&p, &s);
}

/* Batches that fill at the rate in force (or at `free` rows/s with none). */
static void fill(double free)
{
	double r = pace_rate(&p, now);

	pace_rows(&p, (long)((r > 0 ? r : free) * PACE_PROBE_INTERVAL), now);
}

/* n probes with nobody else at work, the batches at full speed. */
static void idle(int n)
{
	for (int i = 0; i < n; i++) {
		tick(0, 0, 0, BASE);
		fill(100000);
	}
}

/* n probes of a light load without harm: one in three sees a session at
 * work, the batches at the rate in force. */
static void light(int n)
{
	for (int i = 0; i < n; i++) {
		tick(i % 3 == 0, 0, 0, BASE);
		fill(0);
	}
}

/* Under load, past the quiet window: a baseline and a rate. */
static void loaded(void)
{
	for (int i = 0; i < 20; i++) {
		tick(3, 0, 0, BASE);
		fill(100000);
	}
	ck_assert(p.loaded);
	ck_assert(p.baseline > 0);
	ck_assert(!pace_quiet(&p, now));
}

START_TEST(test_free_when_idle)
{
	char why[PACE_REASON_LEN];

	/* Loaded until shown otherwise: a slow start, a quiet window at the
	 * first probe; then free within half a second. */
	ck_assert_double_eq(pace_rate(&p, now), PACE_START);
	tick(0, 0, 0, BASE);
	ck_assert(pace_quiet(&p, now));
	idle(5);
	for (int i = 0; i < 100; i++) {
		tick(0, 0, 0, BASE);
		fill(100000);
		ck_assert(!pace_quiet(&p, now));
	}
	ck_assert_double_eq(pace_rate(&p, now), 0);
	ck_assert_ptr_null(pace_reason(&p, now, why, sizeof why));
}
END_TEST

/* One probe that finds no other client session connected at all. */
static void alone(void)
{
	struct pace_sample s;

	now += PACE_PROBE_INTERVAL;
	s = (struct pace_sample){ .sent = now - BASE, .at = now, .alone = true };
	s.quiet = pace_quiet(&p, s.sent);
	pace_sample(&p, &s);
}

START_TEST(test_alone_is_free_at_once)
{
	/* Nobody connected: no slow start, no quiet window, from the first
	 * probe on. */
	ck_assert_double_eq(pace_rate(&p, now), PACE_START);
	alone();
	ck_assert_double_eq(pace_rate(&p, now), 0);
	ck_assert(!pace_quiet(&p, now));
	for (int i = 0; i < 50; i++) {
		alone();
		fill(100000);
		ck_assert(!pace_quiet(&p, now));
		ck_assert_double_eq(pace_rate(&p, now), 0);
	}
	/* A workload connects: met at its first probe that sees two of its
	 * sessions at work, at most the slow start's rate. */
	tick(0, 0, 0, BASE);
	ck_assert_double_eq(pace_rate(&p, now), 0);
	tick(2, 0, 0, BASE);
	ck_assert(pace_rate(&p, now) > 0);
	ck_assert(pace_rate(&p, now) <= PACE_START);
	ck_assert(pace_quiet(&p, now));
}
END_TEST

START_TEST(test_alone_only_at_start)
{
	/* An application that connects per request is "alone" between its
	 * requests: after the first probe that forgets nothing, and its
	 * session seen twice within a few probes is load as any other. */
	alone();
	ck_assert_double_eq(pace_rate(&p, now), 0);
	tick(1, 0, 0, BASE);
	alone();
	ck_assert_double_eq(pace_rate(&p, now), 0);
	tick(1, 0, 0, BASE);
	ck_assert_msg(pace_rate(&p, now) > 0, "load %g", p.load);
}
END_TEST

START_TEST(test_poller_is_not_load)
{
	/* A 1 Hz poller's query of a few ms, seen by one probe in a hundred. */
	for (int i = 0; i < 6; i++)
		tick(0, 0, 0, BASE);
	for (int i = 1; i <= 600; i++) {
		tick(i % 100 == 0 ? 1 : 0, 0, 0, BASE);
		fill(100000);
		ck_assert_msg(!pace_quiet(&p, now), "quiet at probe %d", i);
		ck_assert_msg(pace_rate(&p, now) == 0, "paced at probe %d", i);
	}
}
END_TEST

START_TEST(test_load_step)
{
	double before;
	char why[PACE_REASON_LEN];

	idle(50);
	before = p.achieved;
	ck_assert(before > 90000);
	/* Load arrives: at the first probe that sees it the rate is back at
	 * the slow start's, not half of an idle server's full speed, and a
	 * quiet window holds the batches. */
	tick(4, 0, 0, 3 * BASE);
	ck_assert(pace_rate(&p, now) > 0);
	ck_assert(pace_rate(&p, now) <= PACE_START);
	ck_assert(pace_quiet(&p, now));
	ck_assert_str_eq(pace_reason(&p, now, why, sizeof why),
			 "measuring the probe's baseline (no batch for 0.3 s)");
}
END_TEST

START_TEST(test_onset_one_session)
{
	/* Long idle (the smoothed load near 0): one session at work, seen by
	 * two of four probes, is load (by the smoothing alone): a quiet window
	 * and half speed, not the slow start, since a poller's queries may
	 * fall so close together now and then. */
	idle(300);
	ck_assert(p.load < 0.001);
	tick(1, 0, 0, BASE);
	ck_assert_double_eq(pace_rate(&p, now), 0);
	tick(0, 0, 0, BASE);
	tick(1, 0, 0, BASE);
	ck_assert(p.loaded);
	ck_assert(pace_rate(&p, now) > PACE_START);
	ck_assert(pace_rate(&p, now) <= p.achieved / 2 + 1);
	ck_assert(pace_quiet(&p, now));
}
END_TEST

START_TEST(test_own_latency_is_no_harm)
{
	double r;

	/* Loaded by a poller's two queries close together, then our own
	 * batches slow the probe while nobody else is at work: no cut. */
	idle(300);
	tick(1, 0, 0, BASE);
	tick(1, 0, 0, BASE);
	ck_assert(p.loaded);
	for (int i = 0; i < 4; i++) {
		tick(0, 0, 0, BASE);
		fill(0);
	}
	r = pace_rate(&p, now);
	for (int i = 0; i < 10; i++) {
		tick(0, 0, 0, 3 * BASE);
		fill(0);
		ck_assert_msg(pace_rate(&p, now) >= r, "cut at probe %d", i);
	}
	/* The same slow probes with someone at work are harm. */
	r = pace_rate(&p, now);
	tick(1, 0, 0, 3 * BASE);
	tick(1, 0, 0, 3 * BASE);
	ck_assert(pace_rate(&p, now) < r);
}
END_TEST

START_TEST(test_onset_blocked)
{
	char why[PACE_REASON_LEN];

	/* A workload whose first statement waits on our row locks: the
	 * onset's slow start and quiet window, not only a quarter of the
	 * idle server's full speed. */
	idle(50);
	tick(3, 0, 1, BASE);
	ck_assert(pace_rate(&p, now) > 0);
	ck_assert(pace_rate(&p, now) <= PACE_START);
	ck_assert(pace_quiet(&p, now));
	tick(3, 0, 0, BASE);
	ck_assert(pace_quiet(&p, now));
	ck_assert_str_eq(pace_reason(&p, now, why, sizeof why),
			 "measuring the probe's baseline (no batch for 0.3 s)");
}
END_TEST

START_TEST(test_onset_forgets_old_harm)
{
	double r;

	/* A load harmed at 1,000 rows/s, then a long free spell: the next
	 * load's slow start grows fast again, not by the old cut's step. */
	loaded();
	p.rate = p.ssthresh = 1000;
	p.achieved = 1000;
	tick(3, 0, 0, 3 * BASE);
	tick(3, 0, 0, 3 * BASE);
	ck_assert(pace_rate(&p, now) <= 1000);
	idle(300);
	ck_assert_double_eq(pace_rate(&p, now), 0);
	tick(2, 0, 0, BASE);
	light(19);
	r = pace_rate(&p, now);
	ck_assert_msg(r >= 10 * PACE_START, "%g rows/s 2 s after the onset", r);
}
END_TEST

START_TEST(test_ramp_after_onset)
{
	double r;

	/* After an idle start, a light load without harm: past the quiet
	 * window the slow start grows the rate tenfold within 1.5 s (no
	 * harm was seen, so nothing caps the fast growth). */
	idle(50);
	tick(2, 0, 0, BASE);
	ck_assert_double_eq(pace_rate(&p, now), PACE_START);
	for (int i = 0; i < 4; i++) {
		tick(1, 0, 0, BASE);
		fill(0);
	}
	ck_assert(!pace_quiet(&p, now));
	light(15);
	r = pace_rate(&p, now);
	ck_assert_msg(r >= 10 * PACE_START, "%g rows/s after 1.5 s", r);
}
END_TEST

START_TEST(test_growth_without_harm)
{
	double r0;

	loaded();
	r0 = pace_rate(&p, now);
	for (int i = 0; i < 20; i++) {   /* 2 s, the latency as the baseline */
		tick(3, 0, 0, BASE * 1.2);
		fill(0);
	}
	ck_assert_msg(pace_rate(&p, now) > 10 * r0, "%g -> %g", r0, pace_rate(&p, now));
	/* Never far past what the batches reach: a cut bites at once. */
	ck_assert(pace_rate(&p, now) <= 2.5 * p.achieved + PACE_START);
}
END_TEST

START_TEST(test_latency_harm)
{
	double r;
	char why[PACE_REASON_LEN];

	loaded();
	for (int i = 0; i < 20; i++) {
		tick(3, 0, 0, BASE);
		fill(0);
	}
	r = pace_rate(&p, now);
	/* One slow probe is noise. */
	tick(3, 0, 0, 3 * BASE);
	ck_assert(pace_rate(&p, now) >= r);
	tick(3, 0, 0, BASE);
	/* Two in a row are harm: half of what the batches reached. */
	r = pace_rate(&p, now);
	tick(3, 0, 0, 3 * BASE);
	tick(3, 0, 0, 3 * BASE);
	ck_assert(pace_rate(&p, now) <= r / 2 + 1);
	ck_assert_str_eq(pace_reason(&p, now, why, sizeof why),
			 "probe 3 ms > 1.5x its 1 ms baseline");
	/* No growth for PACE_HOLD after a cut. */
	r = pace_rate(&p, now);
	tick(3, 0, 0, BASE);
	ck_assert_double_eq(pace_rate(&p, now), r);
	for (int i = 0; i < 5; i++) {
		tick(3, 0, 0, BASE);
		fill(0);
	}
	/* Then growth is additive: PACE_STEP_SHARE of the cut's rate a probe,
	 * the harm lies above. */
	r = pace_rate(&p, now);
	for (int i = 0; i < 10; i++) {
		tick(3, 0, 0, BASE);
		fill(0);
	}
	ck_assert_double_eq_tol(pace_rate(&p, now),
				r + 10 * pace_step(p.ssthresh), 1e-6);
}
END_TEST

START_TEST(test_return_to_harm)
{
	/* A cut to half of a few thousand or of 20,000 rows/s is made good in
	 * about ten seconds: one return to the harm every ten seconds, not
	 * every one; past that the growth is PACE_STEP a probe. */
	static const double cut_to[] = { 1000, 4000, 10000 };

	ck_assert_double_eq(pace_step(100), PACE_STEP_MIN);
	ck_assert_double_eq(pace_step(5000), 50);
	ck_assert_double_eq(pace_step(50000), PACE_STEP);
	for (size_t k = 0; k < sizeof cut_to / sizeof cut_to[0]; k++) {
		int probes = 0;

		setup();
		loaded();
		/* Just cut: at the rate of the cut, which ends the fast growth;
		 * the batches keep up with it. */
		p.rate = p.ssthresh = cut_to[k];
		p.achieved = cut_to[k];
		while (pace_rate(&p, now) < 2 * cut_to[k] && probes < 1000) {
			tick(3, 0, 0, BASE);
			fill(0);
			probes++;
		}
		ck_assert_msg(probes >= 90 && probes <= 110, "from %g rows/s: %d probes",
			      cut_to[k], probes);
	}
}
END_TEST

START_TEST(test_wal_waits_and_blocked)
{
	double r;
	char why[PACE_REASON_LEN];

	loaded();
	r = pace_rate(&p, now);
	tick(3, 1, 0, BASE);
	ck_assert(pace_rate(&p, now) >= r);
	tick(3, 2, 0, BASE);
	ck_assert(pace_rate(&p, now) <= r / 2 + 1);
	ck_assert_str_eq(pace_reason(&p, now, why, sizeof why),
			 "2 sessions wait on WAL (in 2 of 10 probes; quiet: 0 of 1)");
	/* A session waiting on our locks: a quarter, at once (unloaded, see
	 * test_onset_blocked). */
	setup();
	loaded();
	for (int i = 0; i < 10; i++) {
		tick(3, 0, 0, BASE);
		fill(0);
	}
	r = p.achieved;
	tick(3, 0, 1, BASE);
	ck_assert(pace_rate(&p, now) > 0);
	ck_assert(pace_rate(&p, now) <= r / 4 + 1);
	ck_assert_str_eq(pace_reason(&p, now, why, sizeof why), "1 session waits on our locks");
}
END_TEST

/* How many WAL waits in PACE_WINDOW probes make a harm, from what the
 * quiet probes saw. */
START_TEST(test_wal_harm_probes)
{
	ck_assert_int_eq(pace_wal_harm_probes(0, 0), PACE_HARM_PROBES);
	ck_assert_int_eq(pace_wal_harm_probes(0, 30), PACE_HARM_PROBES);
	ck_assert_int_eq(pace_wal_harm_probes(1, 30), 3);
	ck_assert_int_eq(pace_wal_harm_probes(1, 8), 4);
	ck_assert_int_eq(pace_wal_harm_probes(1, 3), 5);
	ck_assert_int_eq(pace_wal_harm_probes(9, 30), 7);
	ck_assert_int_eq(pace_wal_harm_probes(3, 3), 8);
	ck_assert_int_eq(pace_wal_harm_probes(30, 30), PACE_WINDOW);
	/* more quiet waits never lower the bar */
	for (int n = 1; n <= PACE_QUIET_HISTORY; n++)
		for (int k = 1; k <= n; k++)
			ck_assert_int_ge(pace_wal_harm_probes(k, n), pace_wal_harm_probes(k - 1, n));
}
END_TEST

/* A disk whose flushes are slow by themselves: the quiet windows' probes
 * see the application wait on WAL too. As many waits beside the batches
 * are no harm; many more are. */
START_TEST(test_wal_waits_quiet_too)
{
	double r;
	char why[PACE_REASON_LEN];
	int i;

	/* every probe of the first quiet window sees a WAL wait: the
	 * window's first (our WAL may be unflushed then) is not counted */
	for (i = 0; i < 20; i++) {
		bool q = pace_quiet(&p, now + PACE_PROBE_INTERVAL - BASE);

		tick(3, q, 0, BASE);
		fill(100000);
	}
	ck_assert_int_eq(p.quiet_seen, 1);
	ck_assert_int_eq(__builtin_popcount(p.quiet_wal_bits), 1);
	r = pace_rate(&p, now);
	/* waits in 3 of every 10 probes beside the batches: no cut */
	for (i = 0; i < 40; i++) {
		tick(3, i % 10 < 3, 0, BASE);
		fill(0);
		ck_assert_msg(p.why != PACE_HARM, "cut at probe %d: %s", i, p.reason);
	}
	ck_assert(pace_rate(&p, now) > r);
	/* in every probe: a cut */
	for (i = 0; i < 10 && p.why != PACE_HARM; i++) {
		r = pace_rate(&p, now);
		tick(3, 1, 0, BASE);
		fill(0);
	}
	ck_assert(p.why == PACE_HARM);
	ck_assert(pace_rate(&p, now) <= r / 2 + 1);
	ck_assert_str_eq(pace_reason(&p, now, why, sizeof why),
			 "1 session waits on WAL (in 6 of 10 probes; quiet: 1 of 1)");
	/* A new load forgets them: its first waits count from two again. */
	idle(300);
	ck_assert(!p.loaded);
	tick(3, 0, 0, BASE);
	ck_assert_int_eq(p.quiet_seen, 0);
}
END_TEST

/* Probes until the next one is sent in a quiet window. */
static void until_quiet(void)
{
	while (!pace_quiet(&p, now + PACE_PROBE_INTERVAL - BASE)) {
		tick(3, 0, 0, BASE);
		fill(0);
	}
}

START_TEST(test_quiet_probe_answered_late)
{
	struct pace_sample s;

	/* A probe sent at the end of a quiet window and answered after it
	 * is the window's: its WAL wait and its latency are not counted
	 * again among the batches' probes, nor can it cut. */
	loaded();
	until_quiet();
	ck_assert_uint_eq(p.wal_bits, 0);
	ck_assert_uint_eq(p.slow_bits, 0);
	s = (struct pace_sample){ .sent = p.quiet_until - 0.001, .at = p.quiet_until + 0.05,
				  .quiet = true, .active = 3, .wal_waits = 1 };
	now = s.at;
	pace_sample(&p, &s);
	ck_assert_uint_eq(p.wal_bits, 0);
	ck_assert_uint_eq(p.slow_bits, 0);
	ck_assert(p.why != PACE_HARM);
}
END_TEST

START_TEST(test_quiet_window_of_one_probe)
{
	struct pace_sample s;
	int seen;

	/* A slow probe: the window holds one quiet answer only. It is the
	 * window's first, and counted all the same: a window that counted
	 * none would leave the history empty on a slow server. */
	loaded();
	until_quiet();
	seen = p.quiet_seen;
	s = (struct pace_sample){ .sent = p.quiet_from + 0.01, .at = p.quiet_from + 0.2,
				  .quiet = true, .active = 3, .wal_waits = 1 };
	now = s.at;
	pace_sample(&p, &s);
	ck_assert_int_eq(p.quiet_seen, seen);
	s = (struct pace_sample){ .sent = p.quiet_until + 0.01, .at = p.quiet_until + 0.2,
				  .quiet = false, .active = 3 };
	now = s.at;
	pace_sample(&p, &s);
	ck_assert_int_eq(p.quiet_seen, seen + 1);
	ck_assert_uint_eq(p.quiet_wal_bits & 1, 1);
}
END_TEST

START_TEST(test_wal_cut_needs_a_wait)
{
	char why[PACE_REASON_LEN];

	/* Quiet probes saw a wait in 1 of 12 (the bar: 4 of 10); the
	 * batches' probes see 3. Then the bar drops to 3 (1 of 13): the
	 * probe that sees no wait does not cut on the 3 before it, the next
	 * one that sees one does. */
	loaded();
	p.quiet_wal_bits = 1;
	p.quiet_seen = 12;
	ck_assert_int_eq(pace_wal_harm_probes(1, 12), 4);
	ck_assert_int_eq(pace_wal_harm_probes(1, 13), 3);
	for (int i = 0; i < 3; i++) {
		tick(3, 1, 0, BASE);
		ck_assert(p.why != PACE_HARM);
	}
	p.quiet_seen = 13;
	tick(3, 0, 0, BASE);
	ck_assert_msg(p.why != PACE_HARM, "cut on a probe without waits: %s", p.reason);
	tick(3, 1, 0, BASE);
	ck_assert(p.why == PACE_HARM);
	ck_assert_str_eq(pace_reason(&p, now, why, sizeof why),
			 "1 session waits on WAL (in 4 of 10 probes; quiet: 1 of 13)");
}
END_TEST

START_TEST(test_hysteresis)
{
	/* A load hovering near the threshold (others seen every 20th probe:
	 * between 3.5% and 6.5%) stays load: no flip to free and back. */
	loaded();
	for (int i = 1; i <= 300; i++) {
		tick(i % 20 == 0 ? 1 : 0, 0, 0, BASE);
		fill(0);
		ck_assert_msg(p.loaded, "free at probe %d (load %.3f)", i, p.load);
	}
	/* Nobody at all: free again. */
	for (int i = 0; i < 100; i++)
		tick(0, 0, 0, BASE);
	ck_assert(!p.loaded);
	ck_assert_double_eq(pace_rate(&p, now), 0);
}
END_TEST

START_TEST(test_floor)
{
	loaded();
	for (int i = 0; i < 100; i++)
		tick(3, 0, 1, 10 * BASE);
	ck_assert_double_eq(pace_rate(&p, now), on.min_rate);
}
END_TEST

START_TEST(test_baseline_windows)
{
	double b;

	loaded();
	b = p.baseline;
	ck_assert_double_eq_tol(b, BASE, 1e-9);
	/* Slow probes outside the quiet windows do not move the baseline. */
	for (int i = 0; i < 50; i++)
		tick(3, 0, 0, 1.4 * BASE);
	ck_assert_double_eq_tol(p.baseline, b, 1e-9);
	/* Every PACE_REPROBE seconds under load, a quiet window; the load
	 * itself got slower: the new baseline is the new quiet latency. */
	for (int i = 0; i < 120 && !pace_quiet(&p, now); i++)
		tick(3, 0, 0, 2 * BASE);
	ck_assert(pace_quiet(&p, now));
	for (int i = 0; i < 5; i++)
		tick(3, 0, 0, 2 * BASE);
	ck_assert(!pace_quiet(&p, now));
	ck_assert_double_eq_tol(p.baseline, 2 * BASE, 1e-9);
}
END_TEST

START_TEST(test_off)
{
	const struct pace_config off = { .max_increase = 0, .min_rate = 500 };

	pace_init(&p, &off, 0);
	for (int i = 0; i < 50; i++)
		tick(5, 5, 5, 10 * BASE);
	ck_assert_double_eq(pace_rate(&p, now), 0);
	ck_assert(!pace_quiet(&p, now));
	/* A reload turns it on. */
	pace_reconfigure(&p, &on);
	tick(5, 0, 1, BASE);
	ck_assert(pace_rate(&p, now) > 0);
}
END_TEST

static Suite *pace_suite(void)
{
	Suite *s = suite_create("pace");
	TCase *t = tcase_create("controller");

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, test_free_when_idle);
	tcase_add_test(t, test_alone_is_free_at_once);
	tcase_add_test(t, test_alone_only_at_start);
	tcase_add_test(t, test_poller_is_not_load);
	tcase_add_test(t, test_load_step);
	tcase_add_test(t, test_onset_one_session);
	tcase_add_test(t, test_ramp_after_onset);
	tcase_add_test(t, test_onset_blocked);
	tcase_add_test(t, test_own_latency_is_no_harm);
	tcase_add_test(t, test_onset_forgets_old_harm);
	tcase_add_test(t, test_growth_without_harm);
	tcase_add_test(t, test_latency_harm);
	tcase_add_test(t, test_return_to_harm);
	tcase_add_test(t, test_wal_waits_and_blocked);
	tcase_add_test(t, test_wal_harm_probes);
	tcase_add_test(t, test_wal_waits_quiet_too);
	tcase_add_test(t, test_quiet_probe_answered_late);
	tcase_add_test(t, test_wal_cut_needs_a_wait);
	tcase_add_test(t, test_quiet_window_of_one_probe);
	tcase_add_test(t, test_hysteresis);
	tcase_add_test(t, test_floor);
	tcase_add_test(t, test_baseline_windows);
	tcase_add_test(t, test_off);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(pace_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
