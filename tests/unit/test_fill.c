/*
 * test_fill.c - a worker's batch size (fill.h): the caps, --batch-time
 * adaptation, the unique-violation policy down to "the id space is used
 * up", timeouts that split a batch, and a reload's new sizes.
 */
#include "fill.h"
#include "log.h"

#include <check.h>
#include <limits.h>
#include <stdlib.h>

static struct fill f;
static struct fill_config c;

static void setup(void)
{
	log_set_level(LOG_ERROR);
	c = (struct fill_config){ .batch_size = 1000, .min_batch = 100,
				  .max_batch = 20000, .log10_ids = 30, .rows = 1e6 };
	fill_init(&f, 1, 1000);
}

START_TEST(test_limit_caps)
{
	ck_assert_int_eq(fill_limit(&f, &c, LONG_MAX), 1000);
	ck_assert_int_eq(fill_limit(&f, &c, 250), 250);   /* the throttle's rate */
	f.collide_cap = 50;
	ck_assert_int_eq(fill_limit(&f, &c, LONG_MAX), 50);
	f.collide_cap = 0;
	/* With the guard a batch's ids are distinct: no more than there are. */
	c.guard = true;
	c.log10_ids = 2;
	ck_assert_int_eq(fill_limit(&f, &c, LONG_MAX), 100);
	c.log10_ids = 4;
	ck_assert_int_eq(fill_limit(&f, &c, LONG_MAX), 1000);
}
END_TEST

START_TEST(test_adapt)
{
	c.batch_time = 100;   /* ms */
	fill_limit(&f, &c, LONG_MAX);
	fill_sent(&f);
	fill_adapt(&f, &c, 1000, 0.010);   /* 10x too fast: at most double */
	ck_assert_int_eq(f.want, 2000);
	f.limit = f.want;
	fill_sent(&f);
	fill_adapt(&f, &c, 2000, 1.0);     /* 10x too slow: at most halve */
	ck_assert_int_eq(f.want, 1000);
	f.limit = f.want;
	fill_sent(&f);
	fill_adapt(&f, &c, 1000, 0.125);
	ck_assert_int_eq(f.want, 800);
	/* A short batch (the lease's end) says nothing of the size. */
	f.limit = 800;
	fill_sent(&f);
	fill_adapt(&f, &c, 10, 0.001);
	ck_assert_int_eq(f.want, 800);
	/* Within min and max. */
	f.limit = 150;
	fill_sent(&f);
	fill_adapt(&f, &c, 150, 10);
	ck_assert_int_eq(f.want, 100);
	f.limit = 15000;
	fill_sent(&f);
	fill_adapt(&f, &c, 15000, 0.001);
	ck_assert_int_eq(f.want, 20000);
	/* Fixed size without --batch-time. */
	c.batch_time = 0;
	fill_adapt(&f, &c, 15000, 100);
	ck_assert_int_eq(f.want, 20000);
}
END_TEST

START_TEST(test_collisions)
{
	double wait = -1;
	const double waits[] = { 0, 0.01, 0.02, 0.04, 0.08, 0.1, 0.1 };
	const long caps[] = { 0, 500, 250, 125, 62, 31, 15 };

	fill_limit(&f, &c, LONG_MAX);
	for (int i = 0; i < 7; i++) {
		fill_sent(&f);
		ck_assert_int_eq(fill_collision(&f, &c, &wait), FILL_RETRY);
		ck_assert_double_eq_tol(wait, waits[i], 1e-12);
		ck_assert_int_eq(f.collide_cap, caps[i]);
		fill_limit(&f, &c, LONG_MAX);
	}
	/* The batch size allowed during collisions: no adapting. */
	c.batch_time = 100;
	fill_sent(&f);
	fill_adapt(&f, &c, f.sent, 0.001);
	ck_assert_int_eq(f.want, 1000);
	/* A success grows the cap back, doubling, until it goes. */
	fill_committed(&f, 15, 0.01);
	ck_assert_int_eq(f.collisions, 0);
	ck_assert_int_eq(f.collide_cap, 30);
	for (int i = 0; i < 6; i++)
		fill_committed(&f, 1, 0.01);
	ck_assert_int_eq(f.collide_cap, 0);
}
END_TEST

START_TEST(test_space_used_up)
{
	double wait;
	int n = 0;

	f.want = 1;
	fill_limit(&f, &c, LONG_MAX);
	fill_sent(&f);
	while (fill_collision(&f, &c, &wait) == FILL_RETRY && n < 1000)
		n++;
	ck_assert_int_eq(n, 20);   /* a space nearly empty: 20 misses in a row */
	ck_assert_int_eq(fill_collision_budget(0, 30), 20);
	/* Nearly full: more misses are chance. 0.9^k < 1e-6 from k = 132. */
	ck_assert_int_eq(fill_collision_budget(90, 2), 132);
	ck_assert_int_eq(fill_collision_budget(100, 2), 100000);
}
END_TEST

START_TEST(test_timeouts_split)
{
	fill_limit(&f, &c, LONG_MAX);
	ck_assert(!fill_timeout(&f, &c));   /* one is chance */
	ck_assert(fill_timeout(&f, &c));
	ck_assert_int_eq(f.want, 500);
	ck_assert_int_eq(f.limit, 500);
	f.limit = 150;
	ck_assert(fill_timeout(&f, &c));
	ck_assert_int_eq(f.want, 100);
	ck_assert(!fill_timeout(&f, &c));   /* at the minimum */
	fill_committed(&f, 100, 0.1);
	ck_assert_int_eq(f.timeouts, 0);
}
END_TEST

START_TEST(test_rate)
{
	fill_committed(&f, 1000, 0.1);
	ck_assert_double_eq_tol(f.rate, 10000, 1e-6);
	fill_committed(&f, 1000, 0.05);
	ck_assert_double_eq_tol(f.rate, 0.7 * 10000 + 0.3 * 20000, 1e-6);
}
END_TEST

START_TEST(test_reconfigure)
{
	f.want = 5000;
	fill_reconfigure(&f, &c);             /* fixed size: the new --batch-size */
	ck_assert_int_eq(f.want, 1000);
	c.batch_time = 100;
	f.want = 50;
	fill_reconfigure(&f, &c);             /* adapted: kept within the bounds */
	ck_assert_int_eq(f.want, 100);
	f.want = 30000;
	fill_reconfigure(&f, &c);
	ck_assert_int_eq(f.want, 20000);
}
END_TEST

static Suite *fill_suite(void)
{
	Suite *s = suite_create("fill");
	TCase *t = tcase_create("batch size");

	tcase_add_checked_fixture(t, setup, NULL);
	tcase_add_test(t, test_limit_caps);
	tcase_add_test(t, test_adapt);
	tcase_add_test(t, test_collisions);
	tcase_add_test(t, test_space_used_up);
	tcase_add_test(t, test_timeouts_split);
	tcase_add_test(t, test_rate);
	tcase_add_test(t, test_reconfigure);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(fill_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
