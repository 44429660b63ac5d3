/*
 * test_batch.c - physical order's batch geometry without a server: ctid
 * text, the window a batch reads, and how a batch's answer moves the
 * cursor, finishes the lease and teaches the density. The answers are
 * fabricated PGresults (PQmakeEmptyPGresult + PQsetvalue), shaped as the
 * physical batch statement returns them: found, filled, clashed, left
 * NULL, busy, last ctid (and in the direct form whether the ids ran out).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "batch.h"

/* A one-row answer of n text columns; a NULL value is SQL NULL. */
static PGresult *make_answer(int n, const char *const *values)
{
	PGresAttDesc cols[8];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	memset(cols, 0, sizeof cols);
	for (int i = 0; i < n; i++) {
		cols[i].name = (char *)"c";
		cols[i].typlen = -1;
		cols[i].atttypmod = -1;
	}
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(PQsetResultAttrs(res, n, cols), 1);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(PQsetvalue(res, 0, i, (char *)values[i],
					    values[i] ? (int)strlen(values[i]) : -1), 1);
	return res;
}

/* A physical batch's answer: found, filled, clashed and left NULL (0
 * here), busy, last; last NULL for SQL NULL. */
static PGresult *answer_busy(const char *found, const char *filled, const char *busy,
			     const char *last)
{
	return make_answer(6, (const char *const[]){ found, filled, "0", "0", busy, last });
}

static PGresult *answer(const char *found, const char *filled, const char *last)
{
	return answer_busy(found, filled, "0", last);
}

/* The direct form's answer: the same six, then whether the ids ran out
 * and the counter's value. */
static PGresult *answer_direct(const char *found, const char *filled, const char *last,
			       const char *out, const char *counter)
{
	return make_answer(8, (const char *const[]){ found, filled, "0", "0", "0", last, out,
						     counter });
}

/* A batch over lease [lo, hi) blocks, cursor at its start. */
static void lease(struct batch *b, struct batch_sql *sql, long limit, long long lo,
		  long long hi)
{
	char clo[48], chi[48];

	memset(sql, 0, sizeof *sql);
	sql->width = 1;
	sql->id_len = 21;
	batch_init(b, sql, limit);
	batch_format_tid(clo, sizeof clo, lo, 0);
	batch_format_tid(chi, sizeof chi, hi, 0);
	batch_set_cursor(b, (char *const[]){ clo });
	batch_set_hi(b, (char *const[]){ chi });
}

START_TEST(test_tid_text)
{
	long long blk;
	long off;
	char buf[48];

	ck_assert_int_eq(batch_parse_tid("(0,0)", &blk, &off), 0);
	ck_assert_int_eq(blk, 0);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(batch_parse_tid("(4294967294,291)", &blk, &off), 0);
	ck_assert(blk == 4294967294LL);
	ck_assert_int_eq(off, 291);
	ck_assert_int_eq(batch_parse_tid("(1,2) ", &blk, &off), -1);
	ck_assert_int_eq(batch_parse_tid("(1;2)", &blk, &off), -1);
	ck_assert_int_eq(batch_parse_tid("(-1,2)", &blk, &off), -1);
	ck_assert_int_eq(batch_parse_tid("1,2", &blk, &off), -1);
	ck_assert_int_eq(batch_parse_tid("", &blk, &off), -1);
	ck_assert_int_eq(batch_parse_tid(NULL, &blk, &off), -1);
	batch_format_tid(buf, sizeof buf, 12345, 7);
	ck_assert_str_eq(buf, "(12345,7)");
}
END_TEST

START_TEST(test_window_follows_density)
{
	struct batch_sql sql;
	struct batch b;

	lease(&b, &sql, 1000, 0, 100000);
	/* Nothing known yet: the largest window, which a first batch samples. */
	ck_assert_int_eq(batch_window(&b), BATCH_MAX_WINDOW);
	b.density = 100;
	ck_assert_int_eq(batch_window(&b), 10);
	b.density = 3;
	ck_assert_int_eq(batch_window(&b), 334);
	b.density = 0.001;
	ck_assert_int_eq(batch_window(&b), BATCH_MAX_WINDOW);
	b.density = 5000;  /* more than a page holds: still one block */
	ck_assert_int_eq(batch_window(&b), 1);
	batch_free(&b);
}
END_TEST

START_TEST(test_params_clip_to_the_lease)
{
	struct batch_sql sql;
	struct batch b;
	unsigned char ids[21 * 1000];

	lease(&b, &sql, 1000, 90, 100);
	b.density = 10;  /* 100 blocks wanted, 10 left in the lease */
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS], "(90,0)");
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 1], "(100,0)");
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 2], "t");
	batch_free(&b);

	lease(&b, &sql, 1000, 0, 100);
	b.density = 100;  /* 10 blocks of 100 */
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 1], "(10,0)");
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 2], "f");
	batch_free(&b);
}
END_TEST

START_TEST(test_full_batch_moves_to_its_last_row)
{
	struct batch_sql sql;
	struct batch b;
	unsigned char ids[21 * 1000];
	PGresult *res;
	struct batch_counts n;
	bool done;

	lease(&b, &sql, 1000, 0, 100);
	b.density = 100;
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	/* The window held more than 1000 NULL rows: 1000 in blocks 0-4. */
	res = answer("1000", "998", "(4,17)");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), 0);
	ck_assert_int_eq(n.found, 1000);
	ck_assert_int_eq(n.filled, 998);
	ck_assert_int_eq(n.clashed, 0);
	ck_assert(!done);
	ck_assert_str_eq(b.cursor[0], "(4,17)");
	ck_assert(b.density > 100);  /* 200 a block seen: the next window shrinks */
	PQclear(res);
	batch_free(&b);
}
END_TEST

START_TEST(test_busy_rows_are_counted)
{
	struct batch_sql sql;
	struct batch b;
	unsigned char ids[21 * 1000];
	PGresult *res;
	struct batch_counts n;
	bool done;

	lease(&b, &sql, 1000, 0, 100);
	b.density = 100;
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	/* 1000 candidates, 30 of them locked by another session: the cursor
	 * still moves past them (the lease is walked again later). */
	res = answer_busy("1000", "970", "30", "(4,17)");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), 0);
	ck_assert_int_eq(n.found, 1000);
	ck_assert_int_eq(n.filled, 970);
	ck_assert_int_eq(n.busy, 30);
	ck_assert(!done);
	ck_assert_str_eq(b.cursor[0], "(4,17)");
	PQclear(res);
	batch_free(&b);
}
END_TEST

START_TEST(test_short_window_moves_to_its_end)
{
	struct batch_sql sql;
	struct batch b;
	unsigned char ids[21 * 1000];
	PGresult *res;
	struct batch_counts n;
	bool done;

	lease(&b, &sql, 1000, 0, 100);
	b.density = 100;
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	res = answer("40", "40", "(9,3)");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), 0);
	ck_assert(!done);  /* blocks 10-99 are left */
	ck_assert_str_eq(b.cursor[0], "(10,0)");
	ck_assert(b.density < 100);
	PQclear(res);

	/* Density 52 now ((100 + 40/10) / 2): the next window is 20 blocks. */
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 1], "(30,0)");
	/* The last window of the lease, short: the lease is done. */
	b.density = 1;
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS], "(10,0)");
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 1], "(100,0)");
	res = answer("0", "0", NULL);
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), 0);
	ck_assert(done);
	ck_assert_str_eq(b.cursor[0], "(100,0)");
	PQclear(res);
	batch_free(&b);
}
END_TEST

START_TEST(test_malformed_answers)
{
	struct batch_sql sql;
	struct batch b;
	unsigned char ids[21 * 1000];
	PGresult *res;
	struct batch_counts n;
	bool done;

	lease(&b, &sql, 1000, 0, 100);
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	/* A full batch must name its last row. */
	res = answer("1000", "1000", NULL);
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), -1);
	PQclear(res);
	res = answer("1000", "1000", "4,17");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), -1);
	PQclear(res);
	res = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), -1);
	PQclear(res);
	/* A cursor that is no ctid cannot make a window. */
	{
		char bad[] = "42";

		batch_set_cursor(&b, (char *const[]){ bad });
	}
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), -1);
	batch_free(&b);
}
END_TEST

START_TEST(test_direct_params)
{
	struct batch_sql sql;
	struct batch b;
	unsigned char ids[21 * (1000 + 1000 / BATCH_SLACK + BATCH_SPARE_IDS)];

	lease(&b, &sql, 1000, 0, 100);
	/* No density yet: no direct form, whose window is all its bound. */
	ck_assert(!batch_may_direct(&b));
	b.density = 30;
	ck_assert(batch_may_direct(&b));
	ck_assert_int_eq(batch_ids(&b), 1000);
	ck_assert_int_eq(batch_window(&b), 34);  /* at least 1000 rows */
	ck_assert_int_eq(batch_form_of(&b), BATCH_PHYS_FAST);
	b.direct = true;
	ck_assert_int_eq(batch_form_of(&b), BATCH_PHYS_DIRECT);
	ck_assert_int_eq(batch_window(&b), 33);  /* at most 1000 rows */
	ck_assert_int_eq(batch_ids(&b), 1000 + 1000 / BATCH_SLACK + BATCH_SPARE_IDS);
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	/* $1 is the rows wanted; the ids are more. */
	ck_assert_int_eq(b.lengths[0], 4);
	ck_assert_int_eq(((const unsigned char *)b.values[0])[2], 1000 >> 8);
	ck_assert_int_eq(((const unsigned char *)b.values[0])[3], 1000 & 0xff);
	ck_assert_int_eq(b.lengths[1], 21 * batch_ids(&b));
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 1], "(33,0)");
	ck_assert(b.win_whole);
	/* A window of about 1000 rows is whole for the size's adaptation,
	 * one of under 500 (the density fell) is not, nor a fast one. */
	ck_assert(batch_whole_window(&b, 990, 1000));
	ck_assert(!batch_whole_window(&b, 499, 1000));
	b.direct = false;
	ck_assert(!batch_whole_window(&b, 990, 1000));
	b.direct = true;
	/* A window over BATCH_DIRECT_MAX_WINDOW blocks (few NULL rows a
	 * block) or under one (more than the batch in a block): fast. */
	b.density = 1000.0 / (BATCH_DIRECT_MAX_WINDOW + 1);
	ck_assert(!batch_may_direct(&b));
	b.density = 1000.0 / BATCH_DIRECT_MAX_WINDOW;
	ck_assert(batch_may_direct(&b));
	b.density = 1001;
	ck_assert(!batch_may_direct(&b));
	b.density = 30;
	b.careful = true;  /* a lease that met a locked row stays careful */
	ck_assert_int_eq(batch_form_of(&b), BATCH_PHYS_CAREFUL);
	batch_free(&b);
}
END_TEST

START_TEST(test_direct_answers)
{
	struct batch_sql sql;
	struct batch b;
	unsigned char ids[21 * (1000 + 1000 / BATCH_SLACK + BATCH_SPARE_IDS)];
	PGresult *res;
	struct batch_counts n;
	bool done;

	lease(&b, &sql, 1000, 0, 100);
	b.density = 100;
	b.direct = true;
	ck_assert(batch_may_direct(&b));
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	/* The window's 1000 NULL rows filled (three drew again on a newer
	 * version): on from its end. */
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 3], "0");  /* the base */
	res = answer_direct("1003", "1000", NULL, "f", "1003");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), 0);
	ck_assert(!done);
	ck_assert_str_eq(b.cursor[0], "(10,0)");
	ck_assert(batch_may_direct(&b));
	ck_assert(b.base == 1003);  /* three numbers went to rows redrawn */
	PQclear(res);

	/* The ids ran out: the cursor stays, and the next batch is fast. */
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 3], "1003");
	res = answer_direct("1141", "1141", NULL, "t", "3000");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), 0);
	ck_assert(!done);
	ck_assert_str_eq(b.cursor[0], "(10,0)");
	ck_assert_int_eq(n.filled, 1141);
	ck_assert(!batch_may_direct(&b));
	/* The counter drew 1997 numbers in the window's 9 blocks: that is
	 * the density now, unsmoothed (the estimate proved too low). */
	ck_assert(b.density > 221.8 && b.density < 221.9);
	PQclear(res);

	/* A fast batch passes them; direct again after it. What it found a
	 * block (1000 in the 5 blocks from the cursor, past the 1141 rows
	 * filled already) teaches nothing: the next direct window (4 blocks,
	 * about 888 rows) holds what its ids can fill. */
	b.direct = false;
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 1], "(15,0)");
	res = answer("1000", "1000", "(14,2)");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), 0);
	ck_assert_str_eq(b.cursor[0], "(14,2)");
	ck_assert(b.base == 3000);
	ck_assert(b.density > 221.8 && b.density < 221.9);
	ck_assert(batch_may_direct(&b));
	b.direct = true;  /* the next batch */
	ck_assert_int_eq(batch_window(&b), 4);
	PQclear(res);
	b.overflowed = false;  /* as the engine's next read of a direct answer */

	/* The last window, short: the lease is done. */
	b.direct = true;
	b.density = 1;
	ck_assert_int_eq(batch_physical_params(&b, ids, "job", 0), 0);
	res = answer_direct("7", "7", NULL, "f", "3007");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), 0);
	ck_assert(done);
	ck_assert_str_eq(b.cursor[0], "(100,0)");
	PQclear(res);

	/* A direct answer has eight columns, and a counter past 0. */
	res = answer("7", "7", "(99,1)");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), -1);
	PQclear(res);
	res = answer_direct("7", "7", "(99,1)", "f", "0");
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), -1);
	PQclear(res);
	res = answer_direct("7", "7", "(99,1)", "f", NULL);
	ck_assert_int_eq(batch_read_physical(&b, res, 1000, &n, &done), -1);
	PQclear(res);
	batch_free(&b);
}
END_TEST

START_TEST(test_key_direct)
{
	struct batch_sql sql;
	struct batch b;
	unsigned char ids[21 * (1000 + BATCH_SPARE_IDS)];
	char lo[] = "100", hi[] = "5000";
	struct batch_counts c;
	PGresult *res;

	memset(&sql, 0, sizeof sql);
	sql.width = sql.nkeys = 1;
	sql.id_len = 21;
	sql.by_key = true;
	batch_init(&b, &sql, 1000);
	batch_set_cursor(&b, (char *const[]){ lo });
	batch_set_hi(&b, (char *const[]){ hi });
	ck_assert_int_eq(batch_params(&b, ids, "job", 0), BATCH_LOWER | BATCH_UPPER);
	b.direct = true;
	ck_assert_int_eq(batch_params(&b, ids, "job", 0), BATCH_LOWER | BATCH_UPPER | BATCH_DIRECT);
	ck_assert_str_eq(batch_stmt_name(BATCH_LOWER | BATCH_UPPER | BATCH_DIRECT),
			 "nanoid_backfill_direct_lo_hi");
	b.careful = true;  /* careful wins: never both */
	ck_assert_int_eq(batch_params(&b, ids, "job", 0), BATCH_LOWER | BATCH_UPPER | BATCH_CAREFUL);
	b.careful = false;

	/* Found and filled: on from the last key. */
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 2], "0");  /* the base */
	res = make_answer(8, (const char *const[]){ "1000", "1000", "0", "0", "0", "1100", "f",
						    "1000" });
	ck_assert_int_eq(batch_read_result(&b, res, &c), 0);
	ck_assert_str_eq(b.cursor[0], "1100");
	ck_assert(!b.overflowed);
	ck_assert(b.base == 1000);
	PQclear(res);
	ck_assert_int_eq(batch_params(&b, ids, "job", 0), BATCH_LOWER | BATCH_UPPER | BATCH_DIRECT);
	ck_assert_str_eq(b.values[BATCH_FIXED_PARAMS + 2], "1000");
	ck_assert_int_eq(b.lengths[1], 21 * (1000 + BATCH_SPARE_IDS));
	/* The ids ran out: the cursor stays, and the next batch is fast. */
	res = make_answer(8, (const char *const[]){ "1000", "980", "0", "0", "0", "2100", "t",
						    "2020" });
	ck_assert_int_eq(batch_read_result(&b, res, &c), 0);
	ck_assert_str_eq(b.cursor[0], "1100");
	ck_assert(b.overflowed);
	ck_assert(!batch_may_direct(&b));
	PQclear(res);
	ck_assert(b.base == 2020);
	/* Six columns are a fast answer, not a direct one. */
	res = make_answer(6, (const char *const[]){ "1000", "980", "0", "0", "0", "2100" });
	ck_assert_int_eq(batch_read_result(&b, res, &c), -1);
	PQclear(res);
	/* The session's counter, as its setup answers. */
	res = make_answer(1, (const char *const[]){ "1" });
	ck_assert_int_eq(batch_read_counter(&b, res), 0);
	ck_assert(b.base == 1);
	PQclear(res);
	res = make_answer(1, (const char *const[]){ "x" });
	ck_assert_int_eq(batch_read_counter(&b, res), -1);
	PQclear(res);
	batch_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("physical");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_tid_text);
	tcase_add_test(tc, test_busy_rows_are_counted);
	tcase_add_test(tc, test_window_follows_density);
	tcase_add_test(tc, test_params_clip_to_the_lease);
	tcase_add_test(tc, test_full_batch_moves_to_its_last_row);
	tcase_add_test(tc, test_short_window_moves_to_its_end);
	tcase_add_test(tc, test_malformed_answers);
	tcase_add_test(tc, test_direct_params);
	tcase_add_test(tc, test_direct_answers);
	tcase_add_test(tc, test_key_direct);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
