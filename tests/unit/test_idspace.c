/*
 * test_idspace.c - unit tests for src/idspace.c (Check).
 *
 * Every value is checked against a computation of its own, done here
 * another way: the defining product and harmonic sums, compensated, for
 * tiny spaces (64 and 64^3 ids, every n) and a few middle ones, the leading terms of the series
 * in an exact power of two for the default format (64^21 = 2^126), and a
 * logarithm for a space past a double's range. Then the shape (monotone,
 * no jump where the code switches between sums and expansions), counts
 * beyond the space, and one case per branch of the verdict rule.
 */
#include "idspace.h"
#include "nanoid.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE 512

/* |got - want| <= rel * |want|, with the numbers in the message. */
#define assert_rel(got, want, rel)                                          \
	do {                                                                \
		double g_ = (got), w_ = (want);                             \
		ck_assert_msg(fabs(g_ - w_) <= (rel) * fabs(w_),            \
			      "%s = %.17g, want %.17g (rel %.3g)", #got, g_,  \
			      w_, fabs(g_ - w_) / fabs(w_));                \
	} while (0)

/*
 * The references sum many terms of one sign: compensated (Kahan), so
 * they stay exact to a few ulps even where long double is only a double
 * (valgrind runs these tests too).
 */
struct sum {
	long double s, c;
};

static void add(struct sum *a, long double x)
{
	long double y = x - a->c, t = a->s + y;

	a->c = (t - a->s) - y;
	a->s = t;
}

/* 1 - prod_{i<n} (1 - i/S), the product taken as a sum of logarithms
 * (1 - a product near 1 would lose the digits of a small p). */
static double exact_p(double s, long n)
{
	struct sum lq = { 0, 0 };

	for (long i = 1; i < n; i++)
		add(&lq, log1pl(-(long double)i / (long double)s));
	return (double)-expm1l(lq.s);
}

/* S (H(S) - H(S-n)) - n = sum_{S-n < k <= S} (S/k - 1), each term taken
 * as (S-k)/k: an exact integer over k, so nothing cancels. */
static double exact_rejections(double s, long n)
{
	struct sum e = { 0, 0 };

	for (long k = (long)s - n + 1; k <= (long)s; k++)
		add(&e, (long double)((long)s - k) / (long double)k);
	return (double)e.s;
}

START_TEST(test_log10_and_space)
{
	char buf[64];

	assert_rel(idspace_log10(64, 21), 21 * log10(64.0), 1e-15);
	assert_rel(idspace_log10(2, 1), log10(2.0), 1e-15);
	assert_rel(idspace_log10(256, 255), 255 * log10(256.0), 1e-15);
	assert_rel(idspace_log10((unsigned)strlen(NANOID_DEFAULT_ALPHABET),
				 NANOID_DEFAULT_SIZE), 37.929779453661631, 1e-15);

	idspace_space(buf, sizeof buf, idspace_log10(64, 1));
	ck_assert_str_eq(buf, "64");
	idspace_space(buf, sizeof buf, idspace_log10(64, 3));
	ck_assert_str_eq(buf, "262,144");
	idspace_space(buf, sizeof buf, idspace_log10(64, 6));
	ck_assert_str_eq(buf, "68,719,476,736");
	idspace_space(buf, sizeof buf, idspace_log10(2, 1));
	ck_assert_str_eq(buf, "2");
	idspace_space(buf, sizeof buf, idspace_log10(64, 21));
	ck_assert_str_eq(buf, "10^37.9");
	idspace_space(buf, sizeof buf, idspace_log10(256, 255));
	ck_assert_str_eq(buf, "10^614.1");
	idspace_space(buf, 4, idspace_log10(64, 3));
	ck_assert_str_eq(buf, "262");          /* cut, terminated */
}
END_TEST

/* 64 ids: every n from 0 to 64, against the product and the sums. */
START_TEST(test_tiny_space_exact)
{
	double l = idspace_log10(64, 1);

	for (long n = 2; n <= 64; n++) {
		assert_rel(idspace_p_collision(l, (double)n), exact_p(64, n), 1e-13);
		assert_rel(idspace_expected_collisions(l, (double)n),
			   exact_rejections(64, n), 1e-13);
	}
	/* By hand: two ids, one in 64 that the second is the first. */
	assert_rel(idspace_p_collision(l, 2), 1.0 / 64, 1e-15);
	assert_rel(idspace_expected_collisions(l, 2), 1.0 / 63, 1e-15);
	/* The case: 10 rows. */
	assert_rel(idspace_p_collision(l, 10), 0.52324074125780129, 1e-14);
	/* Every id used: 64 H(64) - 64. */
	assert_rel(idspace_expected_collisions(l, 64), 239.60901783716922, 1e-14);
}
END_TEST

/* 64^3: across the switch from sums to expansions (4096 ids) and up to
 * the whole space, where only the last 100 are summed again. */
START_TEST(test_small_space_exact)
{
	static const long ns[] = {
		2, 3, 100, 1000, 4095, 4096, 4097, 4098, 5000, 20000, 100000,
		200000, 262043, 262044, 262045, 262100, 262143, 262144,
	};
	double l = idspace_log10(64, 3);

	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		double e = exact_rejections(262144, ns[i]);

		assert_rel(idspace_expected_collisions(l, (double)ns[i]), e, 1e-12);
		if (ns[i] <= 5000)
			assert_rel(idspace_p_collision(l, (double)ns[i]),
				   exact_p(262144, ns[i]), 1e-12);
	}
	/* 100,000 rows: about 26,000 rejected draws (n^2/2S would say 19,073:
	 * the first-order term is far off at n/S = 0.38). */
	assert_rel(idspace_expected_collisions(l, 100000), 25936.065701547541, 1e-12);
	ck_assert(idspace_p_collision(l, 100000) == 1.0);
}
END_TEST

/* 64^4 and 64^6: p between 0 and 1 past 4096 ids, where it is computed
 * from Stirling's series; checked against the product. */
START_TEST(test_middle_spaces)
{
	static const struct { unsigned a; long size; long n; } cases[] = {
		{ 64, 4, 4097 }, { 64, 4, 5000 }, { 64, 4, 10000 },
		{ 64, 4, 30000 }, { 64, 6, 5000 }, { 64, 6, 100000 },
		{ 64, 6, 1000000 }, { 2, 40, 2000000 }, { 36, 10, 3000000 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double l = idspace_log10(cases[i].a, cases[i].size);
		double s = pow((double)cases[i].a, (double)cases[i].size);

		assert_rel(idspace_p_collision(l, (double)cases[i].n),
			   exact_p(s, cases[i].n), 1e-12);
	}
}
END_TEST

/* The default format: 64^21 = 2^126 ids. For n << S the exact values
 * differ from n(n-1)/2S by a relative n/S (and p by x/2 more): below
 * 1e-14 for every n here. */
START_TEST(test_default_format)
{
	double l = idspace_log10(64, 21);
	long double s = ldexpl(1.0L, 126);
	static const double ns[] = { 2, 100, 4096, 4097, 1e6, 1e9, 1e12 };
	char buf[LINE];

	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		long double n = ns[i];
		long double x = n * (n - 1) / (2 * s);

		assert_rel(idspace_p_collision(l, ns[i]), (double)(x - x * x / 2), 1e-13);
		assert_rel(idspace_expected_collisions(l, ns[i]), (double)x, 1e-13);
	}
	assert_rel(idspace_p_collision(l, 1e9), 5.8774717482339658e-21, 1e-13);
	idspace_describe(buf, sizeof buf, l, 1e9);
	ck_assert_str_eq(buf, "1e+09 ids: p(collision) ~ 5.9e-21");
	idspace_describe(buf, sizeof buf, l, 1e12);
	ck_assert_str_eq(buf, "1e+12 ids: p(collision) ~ 5.9e-15");
	idspace_describe(buf, sizeof buf, idspace_log10(64, 3), 100000);
	ck_assert_str_eq(buf, "100,000 ids: p(collision) ~ 1");
	idspace_describe(buf, sizeof buf, idspace_log10(64, 1), 10);
	ck_assert_str_eq(buf, "10 ids: p(collision) ~ 0.52");
	idspace_describe(buf, sizeof buf, idspace_log10(64, 6), 1000);
	ck_assert_str_eq(buf, "1,000 ids: p(collision) ~ 7.3e-06");

	/* The one-line summary, without and with the table's rows. */
	idspace_summary(buf, sizeof buf, 64, 21, -1);
	ck_assert_str_eq(buf, "21 symbols of 64 (10^37.9 distinct ids); "
			 "1e+09 ids: p(collision) ~ 5.9e-21");
	idspace_summary(buf, sizeof buf, 64, 21, 1);
	ck_assert_str_eq(buf, "21 symbols of 64 (10^37.9 distinct ids); "
			 "1e+09 ids: p(collision) ~ 5.9e-21");
	idspace_summary(buf, sizeof buf, 64, 3, 100000);
	ck_assert_str_eq(buf, "3 symbols of 64 (262,144 distinct ids); "
			 "1e+09 ids: p(collision) = 1; for the table's rows, "
			 "100,000 ids: p(collision) ~ 1");
}
END_TEST

/* 256^255 = 10^614: p underflows a double, the description does not. */
START_TEST(test_huge_space)
{
	double l = idspace_log10(256, 255);
	char buf[LINE];
	double p = idspace_p_collision(l, 1e12);

	ck_assert(p >= 0.0 && p < 1e-300);
	ck_assert(!signbit(p));
	ck_assert(idspace_expected_collisions(l, 1e12) >= 0.0);
	/* log10(1e12 (1e12 - 1) / 2) - 614.1012 = -590.402: 3.96e-591 */
	idspace_describe(buf, sizeof buf, l, 1e12);
	ck_assert_str_eq(buf, "1e+12 ids: p(collision) ~ 4e-591");
	idspace_describe(buf, sizeof buf, l, 2);
	ck_assert_str_eq(buf, "2 ids: p(collision) ~ 7.9e-615");
}
END_TEST

/* Walks n upwards in one space: p and the rejections never go down. */
struct walk {
	double l, pp, pe;
	int bad;
};

static void step(struct walk *w, double n)
{
	double p = idspace_p_collision(w->l, n);
	double e = idspace_expected_collisions(w->l, n);

	if (!(p >= w->pp && p <= 1.0 && e >= w->pe && isfinite(e)))
		w->bad++;
	/* Each id past the first can be rejected: the rejections strictly
	 * grow, where they are not lost in underflow. */
	if (e > 1e-290 && !(e > w->pe))
		w->bad++;
	w->pp = p;
	w->pe = e;
}

START_TEST(test_monotone)
{
	static const struct { unsigned a; long size; } spaces[] = {
		{ 2, 1 }, { 64, 1 }, { 64, 3 }, { 64, 4 }, { 64, 6 }, { 2, 40 },
		{ 64, 10 }, { 64, 21 }, { 256, 255 },
	};

	for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
		struct walk w = { idspace_log10(spaces[i].a, spaces[i].size), 0, 0, 0 };
		double s = pow(10.0, w.l), top = fmin(s, 1e13), n;

		/* Every n up to 5000 (the sums end at 4096), then 1% steps,
		 * then every n of the last 200 (the last 100 are summed). */
		for (n = 2; n <= 5000 && n <= top; n++)
			step(&w, n);
		for (; n <= top - 200; n = floor(n * 1.01))
			step(&w, n);
		for (n = fmax(n, top - 200); n <= top; n++)
			step(&w, n);
		ck_assert_msg(w.bad == 0, "%u^%ld: %d non-monotone steps",
			      spaces[i].a, spaces[i].size, w.bad);
	}
	/* A larger format never makes a collision likelier. */
	for (long size = 1; size < 30; size++)
		ck_assert(idspace_p_collision(idspace_log10(64, size + 1), 1e5) <=
			  idspace_p_collision(idspace_log10(64, size), 1e5));
}
END_TEST

START_TEST(test_counts_outside)
{
	double l1 = idspace_log10(64, 1), l21 = idspace_log10(64, 21);
	char buf[LINE];

	/* More ids than the space: certain, and no amount of retrying. */
	ck_assert(idspace_p_collision(l1, 65) == 1.0);
	ck_assert(isinf(idspace_expected_collisions(l1, 65)));
	ck_assert(idspace_p_collision(l1, 1e12) == 1.0);
	ck_assert(isinf(idspace_expected_collisions(idspace_log10(64, 3), 262145)));
	ck_assert(isfinite(idspace_expected_collisions(idspace_log10(64, 3), 262144)));
	idspace_describe(buf, sizeof buf, l1, 100);
	ck_assert_str_eq(buf, "100 ids: p(collision) = 1");
	/* Nothing to collide with. */
	for (double n = -5; n < 2; n += 0.5) {
		ck_assert(idspace_p_collision(l1, n) == 0.0);
		ck_assert(idspace_expected_collisions(l1, n) == 0.0);
	}
	idspace_describe(buf, sizeof buf, l21, 1);
	ck_assert_str_eq(buf, "1 id: p(collision) = 0");
	/* A row estimate's fraction is dropped. */
	ck_assert(idspace_p_collision(l1, 10.9) == idspace_p_collision(l1, 10));
	ck_assert(idspace_expected_collisions(l21, 1e9 + 0.5) ==
		  idspace_expected_collisions(l21, 1e9));
	/* Cut to the buffer, terminated. */
	idspace_describe(buf, 8, l21, 1e9);
	ck_assert_str_eq(buf, "1e+09 i");
}
END_TEST

START_TEST(test_verdicts)
{
	double l1 = idspace_log10(64, 1), l3 = idspace_log10(64, 3);
	double l6 = idspace_log10(64, 6), l21 = idspace_log10(64, 21);
	char line[LINE];
	double n;

	/* Not known, or nothing to collide: ok, whatever the space. */
	for (int u = 0; u < 2; u++) {
		for (int d = 0; d < 2; d++) {
			static const double rows[] = { -1, 0, 1, 1.5 };

			for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
				strcpy(line, "x");
				ck_assert_int_eq(idspace_judge(l1, rows[i], u, d, line,
							       sizeof line), IDSPACE_OK);
				ck_assert_str_eq(line, "");
			}
			/* The default format at 1e9 rows. */
			ck_assert_int_eq(idspace_judge(l21, 1e9, u, d, line, sizeof line),
					 IDSPACE_OK);
			ck_assert_str_eq(line, "");
			/* More rows than ids: refused even with an index. */
			ck_assert_int_eq(idspace_judge(l1, 100, u, d, line, sizeof line),
					 IDSPACE_REFUSE);
			ck_assert_str_eq(line, "64 distinct ids cannot give 100 rows "
					 "unique ids; use a larger --size or --alphabet");
		}
	}

	/* 64^3, 100,000 rows. */
	ck_assert_int_eq(idspace_judge(l3, 100000, true, false, line, sizeof line),
			 IDSPACE_WARN);
	ck_assert_str_eq(line, "a unique index will reject about 26,000 generated "
			 "ids over 100,000 rows (262,144 distinct ids); each one "
			 "makes its batch start again with new ids");
	ck_assert_int_eq(idspace_judge(l3, 100000, false, false, line, sizeof line),
			 IDSPACE_REFUSE);
	ck_assert_str_eq(line, "duplicates are likely: p(collision) ~ 1 over "
			 "100,000 rows with 262,144 distinct ids and no unique index "
			 "on the column; use a larger --size, create the unique index "
			 "first, or pass --allow-duplicates");
	ck_assert_int_eq(idspace_judge(l3, 100000, false, true, line, sizeof line),
			 IDSPACE_WARN);
	ck_assert_str_eq(line, "duplicates are likely: p(collision) ~ 1 over "
			 "100,000 rows with 262,144 distinct ids and no unique index "
			 "on the column; filling anyway (--allow-duplicates)");
	/* Both: the index is what keeps the ids unique. */
	ck_assert_int_eq(idspace_judge(l3, 100000, true, true, line, sizeof line),
			 IDSPACE_WARN);
	ck_assert_ptr_nonnull(strstr(line, "a unique index will reject"));

	/* Below one expected rejection: said as a probability. */
	ck_assert_int_eq(idspace_judge(l6, 1000, true, false, line, sizeof line),
			 IDSPACE_WARN);
	ck_assert_str_eq(line, "a unique index may reject a generated id: "
			 "p(collision) ~ 7.3e-06 over 1,000 rows (68,719,476,736 "
			 "distinct ids); its batch then starts again with new ids");
	ck_assert_int_eq(idspace_judge(l6, 1000, false, false, line, sizeof line),
			 IDSPACE_REFUSE);
	ck_assert_ptr_nonnull(strstr(line, "duplicates are possible: p(collision) "
				     "~ 7.3e-06 over 1,000 rows"));
	/* One expected rejection: singular. */
	ck_assert_int_eq(idspace_judge(idspace_log10(2, 1), 2, true, false, line,
				       sizeof line), IDSPACE_WARN);
	ck_assert_ptr_nonnull(strstr(line, "about 1 generated id over 2 rows"));

	/* The threshold: the first count with p >= 1e-6 in 64^6 (~371). */
	for (n = 2; idspace_p_collision(l6, n) < IDSPACE_P_LIKELY; n++)
		;
	ck_assert(n > 300 && n < 400);
	ck_assert_int_eq(idspace_judge(l6, n - 1, false, false, line, sizeof line),
			 IDSPACE_OK);
	ck_assert_int_eq(idspace_judge(l6, n, false, false, line, sizeof line),
			 IDSPACE_REFUSE);
	ck_assert_int_eq(idspace_judge(l6, n, true, false, line, sizeof line),
			 IDSPACE_WARN);

	/* Cut to the buffer, terminated; nothing written with no room. */
	ck_assert_int_eq(idspace_judge(l1, 100, false, false, line, 10),
			 IDSPACE_REFUSE);
	ck_assert_str_eq(line, "64 distin");
	strcpy(line, "kept");
	ck_assert_int_eq(idspace_judge(l1, 100, false, false, line, 0),
			 IDSPACE_REFUSE);
	ck_assert_str_eq(line, "kept");
}
END_TEST

static Suite *idspace_suite(void)
{
	Suite *s = suite_create("idspace");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_log10_and_space);
	tcase_add_test(tc, test_tiny_space_exact);
	tcase_add_test(tc, test_small_space_exact);
	tcase_add_test(tc, test_middle_spaces);
	tcase_add_test(tc, test_default_format);
	tcase_add_test(tc, test_huge_space);
	tcase_add_test(tc, test_monotone);
	tcase_add_test(tc, test_counts_outside);
	tcase_add_test(tc, test_verdicts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(idspace_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
