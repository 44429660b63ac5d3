/*
 * test_retry.c - the SQLSTATE table, row by row and against the rules it
 * replaced (the engine's transient/disconnecting/configuration, the DDL's
 * lock failure, check-config's class 42), and the backoff's bounds.
 */
#include "retry.h"

#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Every row of the table, and codes that fall to a class row or none. */
static const struct {
	const char *code;
	enum retry_class cls;
	enum retry_action engine, oneshot;
} rows[] = {
	{ "",      RETRY_CLASS_NO_SQLSTATE,     RETRY_RECONNECT, RETRY_FAIL },
	{ "55P03", RETRY_CLASS_LOCK_TIMEOUT,    RETRY_AGAIN,     RETRY_AGAIN },
	{ "40P01", RETRY_CLASS_DEADLOCK,        RETRY_AGAIN,     RETRY_AGAIN },
	{ "57014", RETRY_CLASS_CANCELED,        RETRY_AGAIN,     RETRY_FAIL },
	{ "40001", RETRY_CLASS_SERIALIZATION,   RETRY_AGAIN,     RETRY_FAIL },
	{ "23505", RETRY_CLASS_UNIQUE,          RETRY_AGAIN,     RETRY_FAIL },
	{ "23514", RETRY_CLASS_CHECK,           RETRY_FAIL,      RETRY_FAIL },
	{ "23502", RETRY_CLASS_INTEGRITY,       RETRY_FAIL,      RETRY_FAIL },
	{ "23503", RETRY_CLASS_INTEGRITY,       RETRY_FAIL,      RETRY_FAIL },
	{ "23P01", RETRY_CLASS_INTEGRITY,       RETRY_FAIL,      RETRY_FAIL },
	{ "57P01", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "57P02", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "57P03", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "08000", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "08006", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "08P01", RETRY_CLASS_DISCONNECT,      RETRY_RECONNECT, RETRY_FAIL },
	{ "42P01", RETRY_CLASS_UNDEFINED_TABLE, RETRY_CONFIG,    RETRY_CONFIG },
	{ "42501", RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_CONFIG },
	{ "42703", RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_CONFIG },
	{ "42601", RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_CONFIG },
	{ "0A000", RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_FAIL },
	{ "3F000", RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_FAIL },
	{ "22P02", RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_FAIL },
	{ "22003", RETRY_CLASS_CONFIGURATION,   RETRY_CONFIG,    RETRY_FAIL },
	{ "XX000", RETRY_CLASS_OTHER,           RETRY_FAIL,      RETRY_FAIL },
	{ "53100", RETRY_CLASS_OTHER,           RETRY_FAIL,      RETRY_FAIL },
	{ "57P04", RETRY_CLASS_OTHER,           RETRY_FAIL,      RETRY_FAIL },
	{ "55000", RETRY_CLASS_OTHER,           RETRY_FAIL,      RETRY_FAIL },
	{ "25P02", RETRY_CLASS_OTHER,           RETRY_FAIL,      RETRY_FAIL },
};

START_TEST(test_rows)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const char *c = rows[i].code;

		ck_assert_msg(retry_classify(c) == rows[i].cls, "%s: class %d",
			      c, retry_classify(c));
		ck_assert_msg(retry_action(RETRY_ENGINE, c) == rows[i].engine,
			      "%s: engine %d", c, retry_action(RETRY_ENGINE, c));
		ck_assert_msg(retry_action(RETRY_ONESHOT, c) == rows[i].oneshot,
			      "%s: one-shot %d", c, retry_action(RETRY_ONESHOT, c));
	}
	ck_assert_int_eq(retry_classify(NULL), RETRY_CLASS_NO_SQLSTATE);
	ck_assert_int_eq(retry_action(RETRY_ENGINE, NULL), RETRY_RECONNECT);
	ck_assert_int_eq(retry_action(RETRY_ONESHOT, NULL), RETRY_FAIL);
}
END_TEST

/* The rules the table replaced, as they were written. */
static bool old_transient(const char *s)
{
	return strcmp(s, "55P03") == 0 || strcmp(s, "57014") == 0 ||
	       strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
	       strcmp(s, "23505") == 0;
}

static bool old_disconnecting(const char *s)
{
	return strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 ||
	       strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0;
}

static bool old_configuration(const char *s)
{
	return strncmp(s, "42", 2) == 0 || strncmp(s, "0A", 2) == 0 ||
	       strncmp(s, "3F", 2) == 0 || strncmp(s, "22", 2) == 0;
}

static bool old_lock_failure(const char *s)
{
	return strcmp(s, "55P03") == 0 || strcmp(s, "40P01") == 0;
}

/* Every SQLSTATE class PostgreSQL has, a few codes each. */
static const char *const codes[] = {
	"", "00000", "01000", "02000", "03000", "08000", "08001", "08003",
	"08004", "08006", "08007", "08P01", "09000", "0A000", "0B000",
	"0F000", "0L000", "0LP01", "0P000", "0Z000", "20000", "21000",
	"22000", "22001", "22003", "22007", "22012", "22P02", "22P05",
	"23000", "23001", "23502", "23503", "23505", "23514", "23P01",
	"24000", "25000", "25001", "25006", "25P02", "26000", "27000",
	"28000", "28P01", "2B000", "2D000", "2F000", "34000", "38000",
	"39000", "3B000", "3D000", "3F000", "40000", "40001", "40002",
	"40003", "40P01", "42000", "42501", "42601", "42703", "42704",
	"42P01", "42P07", "44000", "53000", "53100", "53200", "53300",
	"54000", "55000", "55006", "55P02", "55P03", "57000", "57014",
	"57P01", "57P02", "57P03", "57P04", "57P05", "58000", "58030",
	"72000", "F0000", "HV000", "P0000", "P0001", "XX000", "XX001",
};

START_TEST(test_same_as_before)
{
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		const char *c = codes[i];
		enum retry_action e = retry_action(RETRY_ENGINE, c);
		enum retry_action o = retry_action(RETRY_ONESHOT, c);

		/* The engine checked a lost connection (or no SQLSTATE)
		 * first, then transient, then configuration. */
		if (old_disconnecting(c) || c[0] == '\0')
			ck_assert_msg(e == RETRY_RECONNECT, "%s", c);
		else if (old_transient(c))
			ck_assert_msg(e == RETRY_AGAIN, "%s", c);
		else if (old_configuration(c))
			ck_assert_msg(e == RETRY_CONFIG, "%s", c);
		else
			ck_assert_msg(e == RETRY_FAIL, "%s", c);
		/* The batch split after timeouts, and collisions. */
		ck_assert_msg((strcmp(c, "55P03") == 0 || strcmp(c, "57014") == 0) ==
			      (retry_classify(c) == RETRY_CLASS_LOCK_TIMEOUT ||
			       retry_classify(c) == RETRY_CLASS_CANCELED), "%s", c);
		ck_assert_msg((strcmp(c, "23505") == 0) ==
			      (retry_classify(c) == RETRY_CLASS_UNIQUE), "%s", c);
		ck_assert_msg((strncmp(c, "23", 2) == 0) ==
			      (retry_classify(c) == RETRY_CLASS_UNIQUE ||
			       retry_classify(c) == RETRY_CLASS_CHECK ||
			       retry_classify(c) == RETRY_CLASS_INTEGRITY), "%s", c);
		/* The one-shot commands: DDL retried on a lock failure only;
		 * check-config's class 42 is configuration. */
		if (old_lock_failure(c))
			ck_assert_msg(o == RETRY_AGAIN, "%s", c);
		else if (strncmp(c, "42", 2) == 0)
			ck_assert_msg(o == RETRY_CONFIG, "%s", c);
		else
			ck_assert_msg(o == RETRY_FAIL, "%s", c);
	}
}
END_TEST

START_TEST(test_backoff_engine)
{
	struct retry_policy p = RETRY_POLICY_ENGINE;
	double d = 0.1;

	/* As the engine had it: 0.1 s doubled per attempt, at most 30 s,
	 * then a point in the upper half. */
	for (int n = 0; n < 40; n++) {
		double full = d < 30.0 ? d : 30.0;

		ck_assert_double_eq_tol(retry_backoff(p, n, 0.0), full / 2, 1e-12);
		ck_assert_double_eq_tol(retry_backoff(p, n, 1.0), full, 1e-12);
		ck_assert_double_eq_tol(retry_backoff(p, n, 0.5), full * 0.75, 1e-12);
		d *= 2;
	}
	ck_assert_double_eq(retry_backoff(p, 0, 1.0), 0.1);
	ck_assert_double_eq(retry_backoff(p, 8, 1.0), 25.6);
	ck_assert_double_eq(retry_backoff(p, 9, 1.0), 30.0);
	ck_assert_double_eq(retry_backoff(p, INT_MAX, 1.0), 30.0);
	ck_assert_double_eq(retry_backoff(p, -1, 1.0), 0.1);
	/* Jitter out of range is clamped. */
	ck_assert_double_eq(retry_backoff(p, 0, -3.0), 0.05);
	ck_assert_double_eq(retry_backoff(p, 0, 7.0), 0.1);
}
END_TEST

START_TEST(test_backoff_ddl)
{
	struct retry_policy p = RETRY_POLICY_DDL;

	/* As the DDL had it, retry number attempt = retries + 1: 250 ms
	 * doubled, at most 10 s, in the upper half. */
	ck_assert_int_eq(retry_backoff_ms(p, 0, 0.0), 125);
	ck_assert_int_eq(retry_backoff_ms(p, 0, 1.0), 250);
	ck_assert_int_eq(retry_backoff_ms(p, 1, 1.0), 500);
	ck_assert_int_eq(retry_backoff_ms(p, 4, 0.0), 2000);
	ck_assert_int_eq(retry_backoff_ms(p, 5, 1.0), 8000);
	ck_assert_int_eq(retry_backoff_ms(p, 6, 0.0), 5000);
	ck_assert_int_eq(retry_backoff_ms(p, 6, 1.0), 10000);
	ck_assert_int_eq(retry_backoff_ms(p, 1000, 1.0), 10000);
}
END_TEST

START_TEST(test_jitter)
{
	double lo = 1, hi = 0;

	for (int i = 0; i < 10000; i++) {
		double j = retry_jitter();

		ck_assert(j >= 0 && j <= 1);
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
		/* Steps of 1/1000. */
		ck_assert_double_eq_tol(j * 1000, (double)(long)(j * 1000 + 0.5), 1e-6);
	}
	ck_assert(lo < 0.05 && hi > 0.95);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_rows);
	tcase_add_test(tc, test_same_as_before);
	tcase_add_test(tc, test_backoff_engine);
	tcase_add_test(tc, test_backoff_ddl);
	tcase_add_test(tc, test_jitter);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
