/*
 * test_nanoid.c - unit tests for src/nanoid.c (Check).
 *
 * Statistical tests run on a seeded generator, so they are reproducible and
 * never flaky; the mask-and-reject loop they exercise is the same one the
 * CSPRNG-backed generator runs.
 */
#include "nanoid.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define ALNUM36 "0123456789abcdefghijklmnopqrstuvwxyz"
#define PRINTABLE94 \
	"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
#define PREFIX64 "p0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
#define ID_BUF (NANOID_MAX_PREFIX + NANOID_MAX_SIZE + 16)

/* chi-square 0.999 quantiles: P(false alarm) = 1/1000 for an unbiased source. */
#define CHI2_999_DF63 103.442
#define CHI2_999_DF35 66.619

#define CHI_SYMBOLS 1000000

/*
 * Check records the location of every passing assertion (a write to the
 * runner under CK_FORK), so per-symbol loops count problems and assert once.
 */

static const unsigned char seed_a[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static const unsigned char seed_b[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1e,  /* last byte differs */
};

static void
init_ok(struct nanoid *g, const char *alphabet, size_t size,
    const char *prefix)
{
	ck_assert_int_eq(nanoid_init(g, alphabet, size, prefix), 0);
	ck_assert_ptr_nonnull(g->pool);
}

/* Pearson's statistic for counts against a uniform expectation. */
static double
chi_square(const unsigned long *counts, unsigned k, unsigned long total)
{
	double expected = (double)total / k;
	double stat = 0.0;
	unsigned i;

	for (i = 0; i < k; i++) {
		double d = (double)counts[i] - expected;

		stat += d * d / expected;
	}
	return stat;
}

/* Counts each alphabet symbol over CHI_SYMBOLS symbols of seeded ids. */
static double
generator_chi_square(const char *alphabet, const unsigned char seed[32])
{
	struct nanoid g;
	unsigned long counts[NANOID_MAX_ALPHABET] = { 0 };
	unsigned long total = 0, strays = 0;
	char id[ID_BUF];
	unsigned k = (unsigned)strlen(alphabet);
	int i;

	init_ok(&g, alphabet, 250, "");
	nanoid_seed(&g, seed);
	for (i = 0; i < CHI_SYMBOLS / 250; i++) {
		size_t j;

		nanoid_generate(&g, id);
		for (j = 0; j < 250; j++) {
			const char *at = memchr(alphabet, id[j], k);

			if (at == NULL) {
				strays++;
				continue;
			}
			counts[at - alphabet]++;
			total++;
		}
	}
	nanoid_free(&g);
	ck_assert_uint_eq(strays, 0);
	ck_assert_uint_eq(total, CHI_SYMBOLS);
	return chi_square(counts, k, total);
}

static int
cmp_id21(const void *a, const void *b)
{
	return memcmp(a, b, 21);
}

/* Number of adjacent equal ids after sorting n ids of 21 bytes. */
static size_t
count_duplicates(struct nanoid *g, size_t n)
{
	char *ids = malloc(n * 21);
	size_t i, dups = 0;

	ck_assert_ptr_nonnull(ids);
	for (i = 0; i < n; i++)
		nanoid_generate(g, ids + i * 21);
	qsort(ids, n, 21, cmp_id21);
	for (i = 1; i < n; i++)
		if (memcmp(ids + (i - 1) * 21, ids + i * 21, 21) == 0)
			dups++;
	free(ids);
	return dups;
}

/* Asserts a rejection with a one-line reason that names what was wrong. */
static void
assert_reason(int rc, const char *err, const char *word)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(err[0] != '\0', "empty reason");
	ck_assert_msg(strstr(err, word) != NULL, "reason '%s' lacks '%s'",
	    err, word);
	ck_assert_msg(strchr(err, '\n') == NULL, "reason '%s' has a newline",
	    err);
}

static void
reject_alphabet(const char *alphabet)
{
	char err[256];

	memset(err, 0, sizeof(err));
	assert_reason(nanoid_check_alphabet(alphabet, err, sizeof(err)), err,
	    "alphabet");
}

static void
reject_size(long size)
{
	char err[256];

	memset(err, 0, sizeof(err));
	assert_reason(nanoid_check_size(size, err, sizeof(err)), err, "size");
}

static void
reject_prefix(const char *prefix)
{
	char err[256];

	memset(err, 0, sizeof(err));
	assert_reason(nanoid_check_prefix(prefix, err, sizeof(err)), err,
	    "prefix");
}

START_TEST(test_default_alphabet)
{
	const char *a = NANOID_DEFAULT_ALPHABET;
	unsigned char seen[256] = { 0 };
	size_t i;

	ck_assert_str_eq(a,
	    "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict");
	ck_assert_uint_eq(strlen(a), 64);
	for (i = 0; i < 64; i++) {
		ck_assert_msg(!seen[(unsigned char)a[i]], "'%c' repeats", a[i]);
		seen[(unsigned char)a[i]] = 1;
	}
	ck_assert_int_eq(NANOID_DEFAULT_SIZE, 21);
	ck_assert_int_eq(nanoid_check_alphabet(a, NULL, 0), 0);
}
END_TEST

START_TEST(test_mask)
{
	static const struct {
		const char *alphabet;
		unsigned mask;
	} cases[] = {
		{ "01", 1 },
		{ "012", 3 },
		{ "0123", 3 },
		{ "01234", 7 },
		{ ALNUM36, 63 },
		{ NANOID_DEFAULT_ALPHABET, 63 },
		{ NANOID_DEFAULT_ALPHABET "!", 127 },
		{ PRINTABLE94, 127 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nanoid g;

		init_ok(&g, cases[i].alphabet, 21, NULL);
		ck_assert_uint_eq(g.alphabet_len, strlen(cases[i].alphabet));
		ck_assert_uint_eq(g.mask, cases[i].mask);
		nanoid_free(&g);
	}
}
END_TEST

/* Length, verbatim prefix, only alphabet symbols, no write past the end. */
START_TEST(test_length_prefix_symbols)
{
	static const size_t sizes[] = { 1, 2, 21, 100, 255 };
	static const char *const prefixes[] = { NULL, "", "u_", "usr-", PREFIX64 };
	static const char *const alphabets[] = {
		NANOID_DEFAULT_ALPHABET, ALNUM36, "01", PRINTABLE94,
	};
	size_t s, p, a;

	for (a = 0; a < sizeof(alphabets) / sizeof(alphabets[0]); a++)
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	for (p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
		struct nanoid g;
		const char *pre = prefixes[p] ? prefixes[p] : "";
		size_t plen = strlen(pre);
		char id[ID_BUF];
		size_t bad_prefix = 0, bad_symbol = 0, overrun = 0;
		int n;

		init_ok(&g, alphabets[a], sizes[s], prefixes[p]);
		ck_assert_uint_eq(nanoid_length(&g), plen + sizes[s]);
		for (n = 0; n < 50; n++) {
			size_t j;

			memset(id, 0x01, sizeof(id));
			nanoid_generate(&g, id);
			if (memcmp(id, pre, plen) != 0)
				bad_prefix++;
			for (j = plen; j < plen + sizes[s]; j++)
				if (id[j] == '\0' ||
				    strchr(alphabets[a], id[j]) == NULL)
					bad_symbol++;
			for (j = plen + sizes[s]; j < sizeof(id); j++)
				if (id[j] != 0x01)
					overrun++;
		}
		ck_assert_msg(bad_prefix == 0, "prefix '%s' not verbatim", pre);
		ck_assert_msg(bad_symbol == 0, "%zu symbols not in %s",
		    bad_symbol, alphabets[a]);
		ck_assert_msg(overrun == 0, "%zu bytes written past the id",
		    overrun);
		nanoid_free(&g);
	}
}
END_TEST

/* Every symbol is reachable: a too-small mask would leave some out. */
START_TEST(test_every_symbol_appears)
{
	static const char *const alphabets[] = {
		"01", "012", ALNUM36, NANOID_DEFAULT_ALPHABET, PRINTABLE94,
	};
	size_t a;

	for (a = 0; a < sizeof(alphabets) / sizeof(alphabets[0]); a++) {
		struct nanoid g;
		unsigned char seen[256] = { 0 };
		char id[ID_BUF];
		size_t i, j;

		init_ok(&g, alphabets[a], 255, NULL);
		for (i = 0; i < 100; i++) {
			nanoid_generate(&g, id);
			for (j = 0; j < 255; j++)
				seen[(unsigned char)id[j]] = 1;
		}
		for (j = 0; alphabets[a][j] != '\0'; j++)
			ck_assert_msg(seen[(unsigned char)alphabets[a][j]],
			    "'%c' never drawn from %s", alphabets[a][j],
			    alphabets[a]);
		nanoid_free(&g);
	}
}
END_TEST

START_TEST(test_chi_square_64)
{
	double stat = generator_chi_square(NANOID_DEFAULT_ALPHABET, seed_a);

	ck_assert_msg(stat < CHI2_999_DF63, "chi2 %.2f >= %.2f (df 63)", stat,
	    CHI2_999_DF63);
}
END_TEST

START_TEST(test_chi_square_36)
{
	double stat = generator_chi_square(ALNUM36, seed_a);

	ck_assert_msg(stat < CHI2_999_DF35, "chi2 %.2f >= %.2f (df 35)", stat,
	    CHI2_999_DF35);
}
END_TEST

/*
 * The test above has power: byte % 36 over the same amount of random
 * bytes is biased (256 = 7 * 36 + 4 favours the first 4 symbols) and the
 * same statistic rejects it by a wide margin (expected about 1950).
 */
START_TEST(test_chi_square_detects_modulo_bias)
{
	unsigned long counts[36] = { 0 };
	unsigned char *buf = malloc(CHI_SYMBOLS);
	double stat;
	size_t i;

	ck_assert_ptr_nonnull(buf);
	randombytes_buf_deterministic(buf, CHI_SYMBOLS, seed_a);
	for (i = 0; i < CHI_SYMBOLS; i++)
		counts[buf[i] % 36]++;
	free(buf);
	stat = chi_square(counts, 36, CHI_SYMBOLS);
	ck_assert_msg(stat > CHI2_999_DF35, "modulo chi2 %.2f not rejected",
	    stat);
}
END_TEST

/*
 * Pinned once from seed_a, and cross-checked against an independent Python
 * model (ctypes libsodium: key = BLAKE2b-256(seed || le64 counter) per
 * 64 KiB refill, then mask and reject). A change here means every seeded
 * stream changed.
 */
START_TEST(test_seed_pinned_output)
{
	static const char *const want_default[] = {
		"KNP7oQEoDzxh2j5NEJnjs",
		"De_qr4AZstN0BzYo-cYsF",
		"56ZEZUYV2a0Zu31P-mOS0",
	};
	static const char *const want_alnum[] = {
		"usr_ryik6t6zn9ly",
		"usr_to41z2gp1yhv",
		"usr_68v1latvs93h",
	};
	struct nanoid g;
	char id[ID_BUF];
	size_t i;

	init_ok(&g, NANOID_DEFAULT_ALPHABET, NANOID_DEFAULT_SIZE, NULL);
	nanoid_seed(&g, seed_a);
	for (i = 0; i < 3; i++) {
		nanoid_generate(&g, id);
		id[nanoid_length(&g)] = '\0';
		ck_assert_str_eq(id, want_default[i]);
	}
	/* Ids 3120 (straddles the first refill: 3120 * 21 + 21 > 65536) and
	 * 3121, which pin the refill key derivation too. */
	for (; i < 3122; i++) {
		nanoid_generate(&g, id);
		id[nanoid_length(&g)] = '\0';
		if (i == 3120)
			ck_assert_str_eq(id, "m5_Mp-fSPCtq21WqbcDRm");
	}
	ck_assert_str_eq(id, "0YdDGQpJ_yiex-vQACNZU");
	ck_assert_uint_eq(g.counter, 2);
	/* Reseeding drops the rest of the pool and restarts the stream. */
	nanoid_seed(&g, seed_a);
	nanoid_generate(&g, id);
	id[nanoid_length(&g)] = '\0';
	ck_assert_str_eq(id, want_default[0]);
	nanoid_free(&g);

	init_ok(&g, ALNUM36, 12, "usr_");
	nanoid_seed(&g, seed_a);
	for (i = 0; i < 3; i++) {
		nanoid_generate(&g, id);
		id[nanoid_length(&g)] = '\0';
		ck_assert_str_eq(id, want_alnum[i]);
	}
	nanoid_free(&g);
}
END_TEST

/* Same seed, same stream, across several pool refills; other seed differs. */
START_TEST(test_seed_reproducible)
{
	struct nanoid g1, g2, g3;
	char a[ID_BUF], b[ID_BUF], c[ID_BUF];
	size_t i, same = 0, differ = 0, n;

	init_ok(&g1, NANOID_DEFAULT_ALPHABET, 21, "x");
	init_ok(&g2, NANOID_DEFAULT_ALPHABET, 21, "x");
	init_ok(&g3, NANOID_DEFAULT_ALPHABET, 21, "x");
	nanoid_seed(&g1, seed_a);
	nanoid_seed(&g2, seed_a);
	nanoid_seed(&g3, seed_b);
	n = 4 * g1.pool_len / 21;
	for (i = 0; i < n; i++) {
		nanoid_generate(&g1, a);
		nanoid_generate(&g2, b);
		nanoid_generate(&g3, c);
		if (memcmp(a, b, 22) == 0)
			same++;
		if (memcmp(a, c, 22) != 0)
			differ++;
	}
	ck_assert_uint_eq(same, n);
	ck_assert_uint_ge(g1.counter, 4);
	ck_assert_uint_eq(differ, n);
	nanoid_free(&g1);
	nanoid_free(&g2);
	nanoid_free(&g3);
}
END_TEST

/*
 * Each seeded refill must be a new stream, not the first pool again. The
 * default alphabet accepts every byte, so 16-symbol ids use exactly 16
 * bytes and the second pool's ids start at id pool_len / 16.
 */
START_TEST(test_seed_refills_differ)
{
	struct nanoid g;
	size_t per_pool, i;
	char *ids;

	init_ok(&g, NANOID_DEFAULT_ALPHABET, 16, NULL);
	nanoid_seed(&g, seed_a);
	ck_assert_uint_eq(g.pool_len % 16, 0);
	per_pool = g.pool_len / 16;
	ids = malloc(2 * g.pool_len);
	ck_assert_ptr_nonnull(ids);
	for (i = 0; i < 2 * per_pool; i++)
		nanoid_generate(&g, ids + i * 16);
	ck_assert_uint_eq(g.counter, 2);
	ck_assert_msg(memcmp(ids, ids + g.pool_len, 16) != 0,
	    "second pool repeats the first");
	ck_assert_msg(memcmp(ids, ids + g.pool_len, g.pool_len) != 0,
	    "second pool repeats the first");
	free(ids);
	nanoid_free(&g);
}
END_TEST

START_TEST(test_distinct_random)
{
	struct nanoid g;

	init_ok(&g, NANOID_DEFAULT_ALPHABET, 21, NULL);
	ck_assert_uint_eq(count_duplicates(&g, 100000), 0);
	nanoid_free(&g);
}
END_TEST

START_TEST(test_distinct_seeded)
{
	struct nanoid g;

	init_ok(&g, NANOID_DEFAULT_ALPHABET, 21, NULL);
	nanoid_seed(&g, seed_a);
	ck_assert_uint_eq(count_duplicates(&g, 100000), 0);
	nanoid_free(&g);
}
END_TEST

/* Two unseeded generators draw from the CSPRNG, not from a fixed stream. */
START_TEST(test_random_generators_differ)
{
	struct nanoid g1, g2;
	char a[ID_BUF], b[ID_BUF];

	init_ok(&g1, NANOID_DEFAULT_ALPHABET, 21, NULL);
	init_ok(&g2, NANOID_DEFAULT_ALPHABET, 21, NULL);
	nanoid_generate(&g1, a);
	nanoid_generate(&g2, b);
	ck_assert_msg(memcmp(a, b, 21) != 0, "two fresh generators agree");
	ck_assert_int_eq(g1.deterministic, 0);
	nanoid_free(&g1);
	nanoid_free(&g2);
}
END_TEST

START_TEST(test_check_alphabet)
{
	char long257[258];
	char err[256];
	size_t i;

	reject_alphabet(NULL);
	reject_alphabet("");
	reject_alphabet("a");
	reject_alphabet("abca");
	reject_alphabet("ab cd");
	reject_alphabet("ab\tcd");
	reject_alphabet("ab\x7f" "cd");
	reject_alphabet("ab\xc3\xa9");
	for (i = 0; i < 257; i++)
		long257[i] = PRINTABLE94[i % 94];
	long257[257] = '\0';
	reject_alphabet(long257);
	/* 257 printable characters must repeat one; the length is named first. */
	nanoid_check_alphabet(long257, err, sizeof(err));
	ck_assert_msg(strstr(err, "more than 256") != NULL, "reason '%s'", err);

	ck_assert_int_eq(nanoid_check_alphabet("ab", err, sizeof(err)), 0);
	ck_assert_int_eq(nanoid_check_alphabet(ALNUM36, err, sizeof(err)), 0);
	ck_assert_int_eq(nanoid_check_alphabet(PRINTABLE94, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(strlen(PRINTABLE94), 94);

	/* The reason points at the culprit. */
	nanoid_check_alphabet("a", err, sizeof(err));
	ck_assert_str_eq(err, "alphabet has 1 character; need 2 to 256");
	nanoid_check_alphabet("abca", err, sizeof(err));
	ck_assert_str_eq(err, "alphabet repeats 'a'");
	nanoid_check_alphabet("ab c", err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "position 3"));
}
END_TEST

START_TEST(test_check_size)
{
	char err[256];

	reject_size(0);
	reject_size(-1);
	reject_size(256);
	reject_size(-2147483647L);
	ck_assert_int_eq(nanoid_check_size(1, err, sizeof(err)), 0);
	ck_assert_int_eq(nanoid_check_size(21, err, sizeof(err)), 0);
	ck_assert_int_eq(nanoid_check_size(255, err, sizeof(err)), 0);
	nanoid_check_size(0, err, sizeof(err));
	ck_assert_str_eq(err, "size 0 is out of range 1..255");
}
END_TEST

START_TEST(test_check_prefix)
{
	char err[256];

	reject_prefix(PREFIX64 "z");
	reject_prefix("usr _");
	reject_prefix("usr\t");
	reject_prefix(" ");
	reject_prefix("\xc3\xa9");
	ck_assert_uint_eq(strlen(PREFIX64), 64);
	ck_assert_int_eq(nanoid_check_prefix(PREFIX64, err, sizeof(err)), 0);
	ck_assert_int_eq(nanoid_check_prefix("", err, sizeof(err)), 0);
	ck_assert_int_eq(nanoid_check_prefix(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(nanoid_check_prefix("usr_", err, sizeof(err)), 0);
	nanoid_check_prefix("ab c", err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "position 3"));
}
END_TEST

/* err is always NUL-terminated, even when too short; NULL err is allowed. */
START_TEST(test_check_err_buffer)
{
	char err[8];

	memset(err, 'X', sizeof(err));
	ck_assert_int_eq(nanoid_check_size(0, err, sizeof(err)), -1);
	ck_assert_uint_lt(strnlen(err, sizeof(err)), sizeof(err));
	ck_assert_int_eq(nanoid_check_size(0, NULL, 0), -1);
	ck_assert_int_eq(nanoid_check_alphabet("a", NULL, 0), -1);
	ck_assert_int_eq(nanoid_check_prefix(" ", NULL, 0), -1);
	memset(err, 'X', sizeof(err));
	ck_assert_int_eq(nanoid_check_alphabet("a", err, 1), -1);
	ck_assert_int_eq(err[0], '\0');
	ck_assert_int_eq(err[1], 'X');
}
END_TEST

/* A caller that skipped the checks gets -1, not a buffer overflow. */
START_TEST(test_init_rejects_bad_arguments)
{
	struct nanoid g;

	ck_assert_int_eq(nanoid_init(&g, "a", 21, NULL), -1);
	ck_assert_ptr_null(g.pool);
	ck_assert_int_eq(nanoid_init(&g, NANOID_DEFAULT_ALPHABET, 0, NULL), -1);
	ck_assert_int_eq(nanoid_init(&g, NANOID_DEFAULT_ALPHABET, 256, NULL),
	    -1);
	ck_assert_int_eq(nanoid_init(&g, NANOID_DEFAULT_ALPHABET, 21,
	    PREFIX64 "z"), -1);
	nanoid_free(&g);        /* harmless after a failed init */
}
END_TEST

START_TEST(test_free_and_reinit)
{
	struct nanoid g;
	char id[ID_BUF];

	init_ok(&g, NANOID_DEFAULT_ALPHABET, 21, "a_");
	nanoid_seed(&g, seed_a);
	nanoid_generate(&g, id);
	nanoid_free(&g);
	ck_assert_ptr_null(g.pool);
	ck_assert_uint_eq(g.pool_len, 0);
	ck_assert_int_eq(g.deterministic, 0);
	ck_assert_int_eq(sodium_is_zero(g.seed, sizeof(g.seed)), 1);
	nanoid_free(&g);        /* second free is harmless */

	init_ok(&g, ALNUM36, 5, NULL);
	ck_assert_uint_eq(nanoid_length(&g), 5);
	nanoid_generate(&g, id);
	nanoid_free(&g);
}
END_TEST

static Suite *
nanoid_suite(void)
{
	Suite *s = suite_create("nanoid");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_default_alphabet);
	tcase_add_test(tc, test_mask);
	tcase_add_test(tc, test_length_prefix_symbols);
	tcase_add_test(tc, test_every_symbol_appears);
	tcase_add_test(tc, test_chi_square_64);
	tcase_add_test(tc, test_chi_square_36);
	tcase_add_test(tc, test_chi_square_detects_modulo_bias);
	tcase_add_test(tc, test_seed_pinned_output);
	tcase_add_test(tc, test_seed_reproducible);
	tcase_add_test(tc, test_seed_refills_differ);
	tcase_add_test(tc, test_distinct_random);
	tcase_add_test(tc, test_distinct_seeded);
	tcase_add_test(tc, test_random_generators_differ);
	tcase_add_test(tc, test_check_alphabet);
	tcase_add_test(tc, test_check_size);
	tcase_add_test(tc, test_check_prefix);
	tcase_add_test(tc, test_check_err_buffer);
	tcase_add_test(tc, test_init_rejects_bad_arguments);
	tcase_add_test(tc, test_free_and_reinit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(nanoid_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
