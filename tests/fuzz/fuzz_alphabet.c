/*
 * fuzz_alphabet.c - libFuzzer target for the id format checks and the
 * generator.
 *
 * Input: byte 0 is --size (0..255), byte 1 the prefix length, then the
 * prefix, then the alphabet (both cut at a NUL). The three checks must
 * agree with their documented rules (an oracle written out here); when all
 * three accept, ids are generated and every one must be the prefix followed
 * by size symbols of the alphabet. A fixed seed keeps runs reproducible.
 *
 * Built and run by scripts/fuzz.sh; seeds in tests/fuzz/corpus/alphabet.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "nanoid.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_alphabet: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	REQUIRE(sodium_init() >= 0);
	return 0;
}

static bool printable(unsigned char ch)
{
	return ch >= 0x21 && ch <= 0x7e;
}

/* The documented rules, independent of nanoid.c. */
static bool alphabet_ok(const char *a)
{
	bool seen[256] = { false };
	size_t n = strlen(a);

	if (n < NANOID_MIN_ALPHABET || n > NANOID_MAX_ALPHABET)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)a[i];

		if (!printable(ch) || seen[ch])
			return false;
		seen[ch] = true;
	}
	return true;
}

static bool prefix_ok(const char *p)
{
	size_t n = strlen(p);

	if (n > NANOID_MAX_PREFIX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!printable((unsigned char)p[i]))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char seed[32] = { 7 };
	char err[256];
	char *prefix, *alphabet;
	size_t plen;
	long idsize;
	bool ok_size, ok_alpha, ok_prefix;
	struct nanoid g;

	if (size < 2)
		return 0;
	idsize = data[0];
	plen = data[1] < size - 2 ? data[1] : size - 2;
	prefix = calloc(plen + 1, 1);
	alphabet = calloc(size - 2 - plen + 1, 1);
	if (!prefix || !alphabet) {
		free(prefix);
		free(alphabet);
		return 0;
	}
	memcpy(prefix, data + 2, plen);
	memcpy(alphabet, data + 2 + plen, size - 2 - plen);

	err[0] = '\0';
	ok_size = nanoid_check_size(idsize, err, sizeof err) == 0;
	REQUIRE(ok_size == (idsize >= NANOID_MIN_SIZE && idsize <= NANOID_MAX_SIZE));
	REQUIRE(ok_size || err[0] != '\0');
	err[0] = '\0';
	ok_alpha = nanoid_check_alphabet(alphabet, err, sizeof err) == 0;
	REQUIRE(ok_alpha == alphabet_ok(alphabet));
	REQUIRE(ok_alpha || err[0] != '\0');
	err[0] = '\0';
	ok_prefix = nanoid_check_prefix(prefix, err, sizeof err) == 0;
	REQUIRE(ok_prefix == prefix_ok(prefix));
	REQUIRE(ok_prefix || err[0] != '\0');

	if (ok_size && ok_alpha && ok_prefix) {
		bool in[256] = { false };
		size_t len, pl = strlen(prefix);
		char *id;

		REQUIRE(nanoid_init(&g, alphabet, (size_t)idsize, prefix) == 0);
		nanoid_seed(&g, seed);
		len = nanoid_length(&g);
		REQUIRE(len == pl + (size_t)idsize);
		for (const char *a = alphabet; *a; a++)
			in[(unsigned char)*a] = true;
		id = malloc(len);
		REQUIRE(id != NULL);
		for (int k = 0; k < 8; k++) {
			nanoid_generate(&g, id);
			REQUIRE(memcmp(id, prefix, pl) == 0);
			for (size_t i = pl; i < len; i++)
				REQUIRE(in[(unsigned char)id[i]]);
		}
		free(id);
		nanoid_free(&g);
	}
	free(prefix);
	free(alphabet);
	return 0;
}
