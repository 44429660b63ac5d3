/*
 * test_health.c - the health query's answer as a sample: every column
 * from its text (NULLs, numbers, booleans, text that is no number), the
 * same through a fabricated PGresult found by column name, results that
 * are not the query's answer, and the query naming every column.
 */
#include "health.h"

#include <check.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

/* A quiet primary with no standby, as the server prints it. */
static void quiet(const char *v[HEALTH_NCOLUMNS])
{
	for (int i = 0; i < HEALTH_NCOLUMNS; i++)
		v[i] = NULL;
	v[HEALTH_REPLICAS] = "0";
	v[HEALTH_REPLICAS_UNKNOWN] = "0";
	v[HEALTH_WAL_LSN] = "1000000";
	v[HEALTH_BLOCKED] = "0";
	v[HEALTH_AUTOVACUUM] = "0";
	v[HEALTH_OTHERS] = "0";
	v[HEALTH_SEES_ALL] = "t";
	v[HEALTH_IN_RECOVERY] = "f";
}

START_TEST(test_columns)
{
	for (int i = 0; i < HEALTH_NCOLUMNS; i++) {
		const char *name = health_column_name((enum health_column)i);

		ck_assert_ptr_nonnull(name);
		ck_assert_msg(strstr(health_sql(), name) != NULL, "%s", name);
	}
	ck_assert_str_eq(health_column_name(HEALTH_LAG_BYTES), "lag_bytes");
	ck_assert_str_eq(health_column_name(HEALTH_IN_RECOVERY), "in_recovery");
	ck_assert_ptr_null(health_column_name(HEALTH_NCOLUMNS));
	ck_assert_ptr_null(health_column_name((enum health_column)-1));
}
END_TEST

START_TEST(test_parse_quiet)
{
	const char *v[HEALTH_NCOLUMNS];
	struct health_sample s;
	char err[256];

	quiet(v);
	ck_assert_int_eq(health_parse(&s, v, err, sizeof err), 0);
	ck_assert_double_eq(s.lag_bytes, 0);
	ck_assert_double_eq(s.lag_seconds, 0);
	ck_assert_int_eq(s.replicas, 0);
	ck_assert_int_eq(s.replicas_unknown, 0);
	ck_assert_double_eq(s.wal_lsn, 1000000);
	ck_assert_double_eq(s.slot_bytes, 0);
	ck_assert_int_eq(s.blocked, 0);
	ck_assert_int_eq(s.autovacuum, 0);
	ck_assert_int_eq(s.others, 0);
	ck_assert_double_lt(s.others_idle_s, 0);        /* NULL: none idle */
	ck_assert(s.sees_all);
	ck_assert(!s.in_recovery);
}
END_TEST

START_TEST(test_parse_values)
{
	const char *v[HEALTH_NCOLUMNS];
	struct health_sample s;
	char err[256];

	quiet(v);
	v[HEALTH_LAG_BYTES] = "83886080";
	v[HEALTH_LAG_SECONDS] = "12.25";
	v[HEALTH_REPLICAS] = "3";
	v[HEALTH_REPLICAS_UNKNOWN] = "1";
	v[HEALTH_WAL_LSN] = "5000000000";
	v[HEALTH_SLOT_BYTES] = "2147483648";
	v[HEALTH_BLOCKED] = "2";
	v[HEALTH_AUTOVACUUM] = "1";
	v[HEALTH_OTHERS] = "7";
	v[HEALTH_OTHERS_IDLE_S] = "0.5";
	v[HEALTH_SEES_ALL] = "f";
	v[HEALTH_IN_RECOVERY] = "t";
	ck_assert_int_eq(health_parse(&s, v, err, sizeof err), 0);
	ck_assert_double_eq(s.lag_bytes, 83886080);
	ck_assert_double_eq(s.lag_seconds, 12.25);
	ck_assert_int_eq(s.replicas, 3);
	ck_assert_int_eq(s.replicas_unknown, 1);
	ck_assert_double_eq(s.wal_lsn, 5e9);
	ck_assert_double_eq(s.slot_bytes, 2147483648.0);
	ck_assert_int_eq(s.blocked, 2);
	ck_assert_int_eq(s.autovacuum, 1);
	ck_assert_int_eq(s.others, 7);
	ck_assert_double_eq(s.others_idle_s, 0.5);
	ck_assert(!s.sees_all);
	ck_assert(s.in_recovery);

	/* Negative lag (a standby ahead of our read of the position) is no
	 * lag; a standby has no WAL position; sees_all unknown is no cause
	 * for a warning. */
	v[HEALTH_LAG_BYTES] = "-4096";
	v[HEALTH_LAG_SECONDS] = "-1";
	v[HEALTH_SLOT_BYTES] = "-1";
	v[HEALTH_WAL_LSN] = NULL;
	v[HEALTH_SEES_ALL] = NULL;
	v[HEALTH_IN_RECOVERY] = NULL;
	v[HEALTH_OTHERS_IDLE_S] = "0";
	ck_assert_int_eq(health_parse(&s, v, err, sizeof err), 0);
	ck_assert_double_eq(s.lag_bytes, 0);
	ck_assert_double_eq(s.lag_seconds, 0);
	ck_assert_double_eq(s.slot_bytes, 0);
	ck_assert_double_lt(s.wal_lsn, 0);
	ck_assert(s.sees_all);
	ck_assert(!s.in_recovery);
	ck_assert_double_eq(s.others_idle_s, 0);
}
END_TEST

START_TEST(test_parse_not_numbers)
{
	static const char *const bad[] = { "many", "", "12x", "1 ", "nan",
					   "inf", "1e999" };
	const char *v[HEALTH_NCOLUMNS];
	struct health_sample s;
	char err[256], want[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		quiet(v);
		v[HEALTH_BLOCKED] = bad[i];
		ck_assert_msg(health_parse(&s, v, err, sizeof err) == -1,
			      "'%s' accepted", bad[i]);
		snprintf(want, sizeof want,
			 "health query: blocked is not a number: '%s'", bad[i]);
		ck_assert_str_eq(err, want);
	}
	/* Every number column is checked, the booleans are not numbers. */
	for (int c = 0; c < HEALTH_NCOLUMNS; c++) {
		quiet(v);
		v[c] = "x";
		if (c == HEALTH_SEES_ALL || c == HEALTH_IN_RECOVERY) {
			ck_assert_int_eq(health_parse(&s, v, err, sizeof err), 0);
			continue;
		}
		ck_assert_int_eq(health_parse(&s, v, err, sizeof err), -1);
		ck_assert_ptr_nonnull(strstr(err, health_column_name((enum health_column)c)));
	}
}
END_TEST

/* The answer as libpq would build it, columns in reverse order (the
 * adapter finds them by name), ncols of them from the last. */
static PGresult *result(const char *const v[HEALTH_NCOLUMNS], int ncols,
			int rows)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[HEALTH_NCOLUMNS];

	ck_assert_ptr_nonnull(r);
	memset(attrs, 0, sizeof attrs);
	for (int i = 0; i < ncols; i++) {
		attrs[i].name = (char *)health_column_name(
			(enum health_column)(HEALTH_NCOLUMNS - 1 - i));
		attrs[i].typid = 25;            /* text: all the adapter reads */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	ck_assert(PQsetResultAttrs(r, ncols, attrs));
	for (int row = 0; row < rows; row++)
		for (int i = 0; i < ncols; i++) {
			const char *s = v[HEALTH_NCOLUMNS - 1 - i];

			ck_assert(PQsetvalue(r, row, i, (char *)s,
					     s ? (int)strlen(s) : -1));
		}
	return r;
}

START_TEST(test_from_result)
{
	const char *v[HEALTH_NCOLUMNS];
	struct health_sample s;
	char err[256];
	PGresult *r;

	quiet(v);
	v[HEALTH_LAG_SECONDS] = "3.5";
	v[HEALTH_OTHERS] = "4";
	r = result(v, HEALTH_NCOLUMNS, 1);
	ck_assert_int_eq(health_from_result(&s, r, err, sizeof err), 0);
	PQclear(r);
	ck_assert_double_eq(s.lag_seconds, 3.5);
	ck_assert_int_eq(s.others, 4);
	ck_assert_double_eq(s.lag_bytes, 0);            /* NULL */
	ck_assert_double_eq(s.wal_lsn, 1000000);
	ck_assert(s.sees_all);
	ck_assert(!s.in_recovery);

	/* The first column of the query (lag_bytes) is the last here. */
	r = result(v, HEALTH_NCOLUMNS - 1, 1);
	ck_assert_int_eq(health_from_result(&s, r, err, sizeof err), -1);
	ck_assert_str_eq(err, "health query: no column lag_bytes");
	PQclear(r);

	r = result(v, HEALTH_NCOLUMNS, 2);
	ck_assert_int_eq(health_from_result(&s, r, err, sizeof err), -1);
	ck_assert_str_eq(err, "health query: expected one row, got another count");
	PQclear(r);

	r = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
	ck_assert_int_eq(health_from_result(&s, r, err, sizeof err), -1);
	ck_assert_str_eq(err, "health query: expected one row, got PGRES_COMMAND_OK");
	PQclear(r);

	ck_assert_int_eq(health_from_result(&s, NULL, err, sizeof err), -1);
	ck_assert_str_eq(err, "health query failed");
}
END_TEST

START_TEST(test_params)
{
	struct health_params p;
	int pids[2] = { 7, 2147483647 };

	ck_assert_int_eq(health_params(&p, pids, 2, "public", "t"), 0);
	ck_assert_str_eq(p.values[0], "{7,2147483647}");
	ck_assert_str_eq(p.values[1], "public");
	ck_assert_str_eq(p.values[2], "t");
	ck_assert_int_eq(health_params(&p, pids, -1, "s", "t"), -1);
	ck_assert_int_eq(health_params(&p, pids, HEALTH_MAX_PIDS + 1, "s", "t"), -1);
	/* Values travel as parameters, cast in the query. */
	ck_assert_ptr_nonnull(strstr(health_sql(), "$2::text"));
	ck_assert_ptr_nonnull(strstr(health_sql(), "$3::text"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_columns);
	tcase_add_test(tc, test_parse_quiet);
	tcase_add_test(tc, test_parse_values);
	tcase_add_test(tc, test_parse_not_numbers);
	tcase_add_test(tc, test_from_result);
	tcase_add_test(tc, test_params);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
