/*
 * test_pgconn.c - the libpq layer without a server: connect parameters,
 * a dsn told malformed, rejected or fine by libpq's codes (whatever the
 * language of its messages), the error texts and identifier quoting.
 */
#include "pgconn.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_params)
{
	struct pgconn_params p;

	pgconn_params(&p, "host=/tmp dbname=x", NULL);
	ck_assert_str_eq(p.keywords[0], "dbname");
	ck_assert_str_eq(p.values[0], "host=/tmp dbname=x");
	ck_assert_str_eq(p.keywords[1], "fallback_application_name");
	ck_assert_str_eq(p.values[1], PGCONN_APPLICATION_NAME);
	ck_assert_ptr_null(p.keywords[2]);

	/* A forced name, and "" as the environment. */
	pgconn_params(&p, "", "nanoid-backfill-check");
	ck_assert_ptr_null(p.values[0]);
	ck_assert_str_eq(p.keywords[1], "application_name");
	ck_assert_str_eq(p.values[1], "nanoid-backfill-check");
	pgconn_params(&p, NULL, NULL);
	ck_assert_ptr_null(p.values[0]);
}
END_TEST

START_TEST(test_parse_dsn)
{
	char err[256] = "untouched";

	ck_assert_int_eq(pgconn_parse_dsn(NULL, err, sizeof err), 0);
	ck_assert_int_eq(pgconn_parse_dsn("mydb", err, sizeof err), 0);
	ck_assert_int_eq(pgconn_parse_dsn("host=/tmp dbname=x", err, sizeof err), 0);
	ck_assert_int_eq(pgconn_parse_dsn("postgresql:///x?host=/tmp", err, sizeof err), 0);
	ck_assert_str_eq(err, "untouched");
	ck_assert_int_eq(pgconn_parse_dsn("host=a port", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strchr(err, '"'));
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_int_eq(pgconn_parse_dsn("colour=blue", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "colour"));
}
END_TEST

/* By codes, so a translated libpq gives the same answers. */
static void classify_all(void)
{
	char err[256];

	ck_assert_int_eq(pgconn_classify_dsn("host=a port", err, sizeof err),
			 PGCONN_DSN_MALFORMED);
	ck_assert_int_eq(pgconn_classify_dsn("sslmode=bogus", err, sizeof err),
			 PGCONN_DSN_REJECTED);
	ck_assert_int_eq(pgconn_classify_dsn("host=/nonexistent/nb port=abc",
					     err, sizeof err),
			 PGCONN_DSN_REJECTED);
	ck_assert_int_eq(pgconn_classify_dsn("postgresql://h:notaport/db", err,
					     sizeof err),
			 PGCONN_DSN_REJECTED);
	ck_assert_int_eq(pgconn_classify_dsn("host=/nonexistent/nb", err,
					     sizeof err),
			 PGCONN_DSN_OK);
}

START_TEST(test_classify)
{
	classify_all();
}
END_TEST

START_TEST(test_classify_german)
{
	/* Without a German catalog installed libpq speaks English, and the
	 * answers must be the same either way. */
	setenv("LANGUAGE", "de", 1);
	setenv("LC_ALL", "de_DE.UTF-8", 1);
	setenv("LC_MESSAGES", "de_DE.UTF-8", 1);
	classify_all();
}
END_TEST

START_TEST(test_errors)
{
	char buf[128];
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);

	ck_assert_str_eq(pgconn_error(NULL, NULL, buf, sizeof buf), "no connection");
	ck_assert_str_eq(pgconn_conn_error(NULL, buf, sizeof buf), "");
	ck_assert_str_eq(pgconn_sqlstate(NULL), "");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(pgconn_sqlstate(r), "");
	pgconn_error(NULL, r, buf, sizeof buf);         /* the result's, even empty */
	ck_assert_ptr_null(strchr(buf, '\n'));
	PQclear(r);
	strcpy(buf, "ERROR:  x\n\tHINT:  y \n");
	pgconn_flatten(buf);
	ck_assert_str_eq(buf, "ERROR: x HINT: y");
}
END_TEST

START_TEST(test_quote_ident)
{
	char *q = pgconn_quote_ident("a\"b");

	ck_assert_str_eq(q, "\"a\"\"b\"");
	free(q);
	q = pgconn_quote_ident("");
	ck_assert_str_eq(q, "\"\"");
	free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pgconn");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_parse_dsn);
	tcase_add_test(tc, test_classify);
	tcase_add_test(tc, test_classify_german);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_quote_ident);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
