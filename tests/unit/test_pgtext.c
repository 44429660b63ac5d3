/*
 * test_pgtext.c - the binary text[] encoder, the text[] output parser
 * (cursors come back through it) and the one-line error flattening.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"
#include "pgconn.h"
#include "pgtext.h"

static void free_all(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
}

START_TEST(test_encode_layout)
{
	const char *items[2] = { "ab", "" };
	unsigned char buf[64];
	size_t n = pgbin_text_array(buf, items, 2);
	static const unsigned char want[] = {
		0, 0, 0, 1,   0, 0, 0, 0,   0, 0, 0, 25,   /* ndim, no nulls, text */
		0, 0, 0, 2,   0, 0, 0, 1,                  /* 2 elements from 1 */
		0, 0, 0, 2, 'a', 'b',
		0, 0, 0, 0,
	};

	ck_assert_uint_eq(n, sizeof want);
	ck_assert_uint_eq(pgbin_text_array_size(items, 2), sizeof want);
	ck_assert_mem_eq(buf, want, sizeof want);
}
END_TEST

START_TEST(test_parse_plain_and_quoted)
{
	char *v[4] = { 0 };
	/* What the server prints for {'42', 'a b', 'x"y\z', '{,}'} */
	int n = pgbin_parse_text_array("{42,\"a b\",\"x\\\"y\\\\z\",\"{,}\"}", v, 4);

	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(v[0], "42");
	ck_assert_str_eq(v[1], "a b");
	ck_assert_str_eq(v[2], "x\"y\\z");
	ck_assert_str_eq(v[3], "{,}");
	free_all(v, n);
}
END_TEST

START_TEST(test_parse_edges)
{
	char *v[2] = { 0 };

	ck_assert_int_eq(pgbin_parse_text_array("{}", v, 2), 0);
	ck_assert_int_eq(pgbin_parse_text_array("{a}", v, 2), 1);
	ck_assert_str_eq(v[0], "a");
	free_all(v, 1);
	memset(v, 0, sizeof v);
	/* More elements than room, and malformed input, are refused. */
	ck_assert_int_eq(pgbin_parse_text_array("{a,b,c}", v, 2), -1);
	free_all(v, 2);
	memset(v, 0, sizeof v);
	ck_assert_int_eq(pgbin_parse_text_array("a,b", v, 2), -1);
	ck_assert_int_eq(pgbin_parse_text_array("{\"open}", v, 2), -1);
	free_all(v, 2);
}
END_TEST

START_TEST(test_flatten)
{
	char s[] = "connection failed: No such file\n\tIs the server running?\n";
	char t[] = "  lead\r\nand  trail  ";

	pgconn_flatten(s);
	ck_assert_str_eq(s, "connection failed: No such file Is the server running?");
	pgconn_flatten(t);
	ck_assert_str_eq(t, "lead and trail");
}
END_TEST

START_TEST(test_printf)
{
	char *s = pgtext_printf("SELECT %s FROM %s", "\"a\"", "\"t\"");

	ck_assert_str_eq(s, "SELECT \"a\" FROM \"t\"");
	free(s);
	ck_assert_str_eq(pgconn_sqlstate(NULL), "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pgtext");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_encode_layout);
	tcase_add_test(tc, test_parse_plain_and_quoted);
	tcase_add_test(tc, test_parse_edges);
	tcase_add_test(tc, test_flatten);
	tcase_add_test(tc, test_printf);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
