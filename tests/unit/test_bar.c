/*
 * test_bar.c - the progress bar's line: it fits every width from 20 to
 * 200 columns, says no percentage or ETA without a total, 0% and 100% as
 * they are, never 100% before done, and a long throttle reason cut with
 * "..."; and which mode --progress, a terminal, TERM and NO_COLOR choose.
 */
#include "bar.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#define LONG_NOTE "throttled: pace 812 rows/s: probe 3.41 ms > 1.5x its 1.20 ms " \
	"baseline while 14 sessions work; 3 sessions wait on WAL; replica lag 80.0 MB > 64.0 MB"

static char line[BAR_MAX_WIDTH + 64];

static const char *draw(const struct bar_view *v, int width)
{
	size_t n = bar_line(line, sizeof line, v, width);

	ck_assert_uint_eq(n, strlen(line));
	return line;
}

/* The columns between "[" and "]", and how many of them are '#'. */
static int bar_inner(const char *s, int *filled)
{
	const char *end;

	ck_assert_int_eq(s[0], '[');
	end = strchr(s, ']');
	ck_assert_ptr_nonnull(end);
	*filled = 0;
	for (const char *p = s + 1; p < end; p++) {
		ck_assert_msg(*p == '#' || *p == '.', "bar holds '%c': %s", *p, s);
		*filled += *p == '#';
	}
	return (int)(end - s - 1);
}

START_TEST(every_width_fits)
{
	const struct bar_view views[] = {
		{ .rows = 412000, .total = 1000000, .rate = 103250, .eta = 6 },
		{ .rows = 412000, .total = 1000000, .rate = 103250, .eta = 6, .note = LONG_NOTE },
		{ .rows = 412000, .total = -1, .rate = 103250, .eta = -1, .note = LONG_NOTE },
		{ .rows = 1000000, .total = 1000000, .rate = 104000, .done = true },
		{ .rows = 0, .total = 1e12, .rate = 0, .eta = -1, .note = "throttled: paused by SIGUSR1" },
		{ .rows = 9223372036854775807LL, .total = 1e300, .rate = 1e300, .eta = 1e300,
		  .note = LONG_NOTE },
	};

	for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
		for (int w = 20; w <= 200; w++) {
			const char *s = draw(&views[i], w);

			ck_assert_msg(strlen(s) <= (size_t)(w - 1), "view %zu width %d: %zu chars: %s",
				      i, w, strlen(s), s);
			ck_assert_msg(strlen(s) > 0, "view %zu width %d: empty", i, w);
			for (const char *p = s; *p; p++)
				ck_assert_msg(*p >= 0x20 && *p < 0x7f, "view %zu width %d: byte %d",
					      i, w, *p);
			/* From 60 columns on, the counts of a sane run are whole. */
			if (w >= 60 && i + 1 < sizeof views / sizeof views[0])
				ck_assert_msg(strstr(s, " rows/s") != NULL, "width %d: %s", w, s);
		}
	}
}
END_TEST

START_TEST(known_total)
{
	struct bar_view v = { .rows = 412000, .total = 1000000, .rate = 103250.4, .eta = 6.2 };
	const char *s = draw(&v, 100);
	int filled, inner = bar_inner(s, &filled);

	ck_assert_int_eq(inner, 99 / 4);
	ck_assert_int_eq(filled, (int)(0.412 * inner));
	ck_assert_ptr_nonnull(strstr(s, "]  41.2%  412000 rows  103250 rows/s  ETA 0:00:06"));
	ck_assert_uint_eq(strlen(s), 3 + (size_t)inner + strlen(" 41.2%  412000 rows  103250 rows/s  ETA 0:00:06"));

	/* The bar takes a quarter of the width, 10 to 40 columns. */
	ck_assert_int_eq(bar_inner(draw(&v, 200), &filled), 40);
	ck_assert_int_eq(bar_inner(draw(&v, 80), &filled), 19);
	ck_assert_int_eq(bar_inner(draw(&v, 70), &filled), 17);
	/* The counts come first: the bar narrows for them, then goes. */
	ck_assert_int_eq(bar_inner(draw(&v, 60), &filled), 59 - 3 - 47);
	ck_assert_str_eq(draw(&v, 45), " 41.2%  412000 rows  103250 rows/s  ETA 0:00");
	/* An ETA past the hour, and a long one. */
	v.eta = 3 * 3600 + 25 * 60 + 7;
	ck_assert_ptr_nonnull(strstr(draw(&v, 100), "ETA 3:25:07"));
	v.eta = 1e9;
	ck_assert_ptr_nonnull(strstr(draw(&v, 100), "ETA 999:59:59"));
}
END_TEST

START_TEST(unknown_total)
{
	struct bar_view v = { .rows = 412000, .total = -1, .rate = 103250, .eta = 6 };

	ck_assert_str_eq(draw(&v, 100), "412000 rows  103250 rows/s");
	v.total = 0;
	ck_assert_str_eq(draw(&v, 100), "412000 rows  103250 rows/s");
	/* An estimate the run has outgrown is no total either. */
	v.total = 400000;
	ck_assert_str_eq(draw(&v, 100), "412000 rows  103250 rows/s");
	v.total = 412000;
	ck_assert_str_eq(draw(&v, 100), "412000 rows  103250 rows/s");
	v.note = "throttled: max-rate";
	ck_assert_str_eq(draw(&v, 100), "412000 rows  103250 rows/s  throttled: max-rate");
	for (int w = 20; w <= 200; w++) {
		const char *s = draw(&v, w);

		ck_assert_msg(strchr(s, '%') == NULL && strstr(s, "ETA") == NULL &&
			      strchr(s, '[') == NULL, "width %d: %s", w, s);
	}
}
END_TEST

START_TEST(zero_percent)
{
	struct bar_view v = { .rows = 0, .total = 300000, .rate = 0, .eta = -1 };
	const char *s = draw(&v, 80);
	int filled, inner = bar_inner(s, &filled);

	ck_assert_int_eq(filled, 0);
	ck_assert_int_gt(inner, 0);
	ck_assert_ptr_nonnull(strstr(s, "]   0.0%  0 rows  0 rows/s"));
	ck_assert_ptr_null(strstr(s, "ETA"));     /* no rate yet: no ETA */
	ck_assert_ptr_null(strstr(s, "done"));
}
END_TEST

START_TEST(hundred_percent)
{
	struct bar_view v = { .rows = 300000, .total = 300000, .rate = 150000, .done = true };
	const char *s = draw(&v, 80);
	int filled, inner = bar_inner(s, &filled);

	ck_assert_int_eq(filled, inner);
	ck_assert_ptr_nonnull(strstr(s, "] 100.0%  300000 rows  150000 rows/s  done"));
	ck_assert_ptr_null(strstr(s, "ETA"));
	/* Done is 100% even where the total was never known or was outgrown. */
	v.total = -1;
	ck_assert_ptr_nonnull(strstr(draw(&v, 80), "100.0%"));
	v.total = 1000;
	ck_assert_ptr_nonnull(strstr(draw(&v, 80), "100.0%"));

	/* One row short is not done: 99.9%, and the bar not full. */
	v = (struct bar_view){ .rows = 999999, .total = 1000000, .rate = 1, .eta = 1 };
	s = draw(&v, 80);
	inner = bar_inner(s, &filled);
	ck_assert_int_lt(filled, inner);
	ck_assert_ptr_nonnull(strstr(s, " 99.9%"));
	ck_assert_ptr_null(strstr(s, "100.0%"));
}
END_TEST

START_TEST(note_truncated)
{
	struct bar_view v = { .rows = 412000, .total = 1000000, .rate = 812, .eta = 724,
			      .note = LONG_NOTE };
	const char *s = draw(&v, 100);
	const char *n = strstr(s, "  throttled: ");
	int filled;
	size_t kept;

	ck_assert_uint_eq(strlen(s), 99);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(s + strlen(s) - 3, "...");
	kept = strlen(n + 2) - 3;
	ck_assert_int_eq(strncmp(n + 2, LONG_NOTE, kept), 0);
	/* With a note the bar is an eighth of the width, 10 to 20. */
	ck_assert_int_eq(bar_inner(s, &filled), 99 / 8);

	/* Wide enough: the note whole. */
	s = draw(&v, 250);
	ck_assert_ptr_nonnull(strstr(s, "  " LONG_NOTE));
	ck_assert_int_eq(bar_inner(s, &filled), 20);
	ck_assert_str_eq(s + strlen(s) - strlen(LONG_NOTE), LONG_NOTE);

	/* The bar's size depends on the width and whether a note follows, not
	 * on the note's length or the counts' digits. */
	v.note = "throttled: max-rate";
	s = draw(&v, 90);
	ck_assert_ptr_nonnull(strstr(s, "ETA 0:12:04  throttled: max-rate"));
	ck_assert_int_eq(bar_inner(s, &filled), 11);
	v.rate = 1234567;
	ck_assert_int_eq(bar_inner(draw(&v, 90), &filled), 11);
	v.note = NULL;
	ck_assert_int_eq(bar_inner(draw(&v, 90), &filled), 22);
	v.rate = 812;
	v.note = "throttled: max-rate";
	ck_assert_str_eq(draw(&v, 70) + 13, " 41.2%  412000 rows  812 rows/s  ETA 0:12:04  throttl...");

	/* No room for even "x...": no note, rather than a stub. */
	v.note = LONG_NOTE;
	s = draw(&v, 20);
	ck_assert_ptr_null(strstr(s, "thr"));
}
END_TEST

START_TEST(note_bytes)
{
	struct bar_view v = { .rows = 1, .total = -1, .rate = 1,
			      .note = "pause file /tmp/a\nb\033[2J\xc3\xa9" };

	ck_assert_str_eq(draw(&v, 100), "1 rows  1 rows/s  pause file /tmp/a?b?[2J??");
	v.note = "";
	ck_assert_str_eq(draw(&v, 100), "1 rows  1 rows/s");
}
END_TEST

START_TEST(odd_widths_and_buffers)
{
	struct bar_view v = { .rows = 412000, .total = 1000000, .rate = 103250, .eta = 6,
			      .note = LONG_NOTE };
	char small[16];

	ck_assert_str_eq(draw(&v, 1), "");
	ck_assert_str_eq(draw(&v, 0), "");
	ck_assert_str_eq(draw(&v, -5), "");
	ck_assert_uint_eq(strlen(draw(&v, 10)), 9);
	ck_assert_str_eq(draw(&v, 10), " 41.2%  4");
	ck_assert_uint_le(strlen(draw(&v, 100000)), BAR_MAX_WIDTH - 1);
	/* A buffer shorter than the width: cut to the buffer. */
	ck_assert_uint_eq(bar_line(small, sizeof small, &v, 100), sizeof small - 1);
	ck_assert_uint_eq(strlen(small), sizeof small - 1);
	ck_assert_uint_eq(bar_line(small, 0, &v, 100), 0);
}
END_TEST

START_TEST(mode)
{
	ck_assert(bar_setting_valid("auto"));
	ck_assert(bar_setting_valid("bar"));
	ck_assert(bar_setting_valid("lines"));
	ck_assert(!bar_setting_valid("Bar"));
	ck_assert(!bar_setting_valid(""));
	ck_assert(!bar_setting_valid(NULL));

	/* Forced either way, whatever stderr is. */
	ck_assert_int_eq(bar_mode_choose("bar", false, NULL, "1"), BAR_BAR);
	ck_assert_int_eq(bar_mode_choose("lines", true, "xterm", NULL), BAR_LINES);
	/* auto: a terminal of a known type, NO_COLOR unset or empty. */
	ck_assert_int_eq(bar_mode_choose("auto", true, "xterm-256color", NULL), BAR_BAR);
	ck_assert_int_eq(bar_mode_choose("auto", true, "xterm", ""), BAR_BAR);
	ck_assert_int_eq(bar_mode_choose("auto", false, "xterm", NULL), BAR_LINES);
	ck_assert_int_eq(bar_mode_choose("auto", true, "dumb", NULL), BAR_LINES);
	ck_assert_int_eq(bar_mode_choose("auto", true, NULL, NULL), BAR_LINES);
	ck_assert_int_eq(bar_mode_choose("auto", true, "", NULL), BAR_LINES);
	ck_assert_int_eq(bar_mode_choose("auto", true, "xterm", "1"), BAR_LINES);
}
END_TEST

static Suite *bar_suite(void)
{
	Suite *s = suite_create("bar");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_width_fits);
	tcase_add_test(tc, known_total);
	tcase_add_test(tc, unknown_total);
	tcase_add_test(tc, zero_percent);
	tcase_add_test(tc, hundred_percent);
	tcase_add_test(tc, note_truncated);
	tcase_add_test(tc, note_bytes);
	tcase_add_test(tc, odd_widths_and_buffers);
	tcase_add_test(tc, mode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bar_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
