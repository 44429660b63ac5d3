/*
 * nanoid.c - unbiased nanoid generation from libsodium's CSPRNG.
 *
 * See include/nanoid.h for the contract. The generator draws from a pool of
 * random bytes refilled in 64 KiB chunks, so generating an id is a copy of
 * the prefix and a short mask-and-reject loop: no allocation and no CSPRNG
 * call per id.
 */
#include "nanoid.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Large enough that a refill is rare (about 3000 default ids per refill). */
#define NANOID_POOL_LEN ((size_t)64 * 1024)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Printable ASCII without space: an id never needs quoting or trimming. */
static int
is_symbol(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e;
}

/* Length of s, but stops counting at max + 1 so a huge input costs nothing. */
static size_t
bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n] != '\0')
		n++;
	return n;
}

int
nanoid_check_alphabet(const char *alphabet, char *err, size_t errlen)
{
	unsigned char seen[256] = { 0 };
	size_t len, i;

	len = alphabet == NULL ? 0 : bounded_len(alphabet, NANOID_MAX_ALPHABET);
	if (len < NANOID_MIN_ALPHABET) {
		set_err(err, errlen, "alphabet has %zu character%s; need %d to %d",
		    len, len == 1 ? "" : "s", NANOID_MIN_ALPHABET,
		    NANOID_MAX_ALPHABET);
		return -1;
	}
	if (len > NANOID_MAX_ALPHABET) {
		set_err(err, errlen,
		    "alphabet has more than %d characters; need %d to %d",
		    NANOID_MAX_ALPHABET, NANOID_MIN_ALPHABET,
		    NANOID_MAX_ALPHABET);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)alphabet[i];

		if (!is_symbol(c)) {
			set_err(err, errlen, "alphabet contains a non-printable "
			    "or space character at position %zu", i + 1);
			return -1;
		}
		if (seen[c]) {
			set_err(err, errlen, "alphabet repeats '%c'", (int)c);
			return -1;
		}
		seen[c] = 1;
	}
	return 0;
}

int
nanoid_check_size(long size, char *err, size_t errlen)
{
	if (size < NANOID_MIN_SIZE || size > NANOID_MAX_SIZE) {
		set_err(err, errlen, "size %ld is out of range %d..%d", size,
		    NANOID_MIN_SIZE, NANOID_MAX_SIZE);
		return -1;
	}
	return 0;
}

int
nanoid_check_prefix(const char *prefix, char *err, size_t errlen)
{
	size_t len, i;

	if (prefix == NULL)
		return 0;
	len = bounded_len(prefix, NANOID_MAX_PREFIX);
	if (len > NANOID_MAX_PREFIX) {
		set_err(err, errlen, "prefix is longer than %d characters",
		    NANOID_MAX_PREFIX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (!is_symbol((unsigned char)prefix[i])) {
			set_err(err, errlen, "prefix contains a non-printable "
			    "or space character at position %zu", i + 1);
			return -1;
		}
	}
	return 0;
}

/* Smallest 2^k - 1 that covers every index 0..len-1 (reference nanoid). */
static unsigned
mask_for(unsigned len)
{
	return (2u << (31 - __builtin_clz((len - 1) | 1))) - 1;
}

int
nanoid_init(struct nanoid *g, const char *alphabet, size_t size,
    const char *prefix)
{
	size_t alen;

	memset(g, 0, sizeof(*g));
	/* Cheap here, and turns a caller's broken precondition into -1, not
	 * an overflow of the fixed buffers below. */
	if (nanoid_check_alphabet(alphabet, NULL, 0) != 0 ||
	    size < NANOID_MIN_SIZE || size > NANOID_MAX_SIZE ||
	    nanoid_check_prefix(prefix, NULL, 0) != 0)
		return -1;

	alen = strlen(alphabet);
	memcpy(g->alphabet, alphabet, alen);
	g->alphabet_len = (unsigned)alen;
	g->mask = mask_for(g->alphabet_len);
	g->size = size;
	if (prefix != NULL) {
		g->prefix_len = strlen(prefix);
		memcpy(g->prefix, prefix, g->prefix_len);
	}
	g->prefix[g->prefix_len] = '\0';

	g->pool = malloc(NANOID_POOL_LEN);
	if (g->pool == NULL)
		return -1;
	g->pool_len = NANOID_POOL_LEN;
	g->pool_pos = g->pool_len;      /* empty: the first id refills */
	return 0;
}

void
nanoid_seed(struct nanoid *g, const unsigned char seed[32])
{
	memcpy(g->seed, seed, sizeof(g->seed));
	g->counter = 0;
	g->deterministic = 1;
	/* Drop what is left of the pool so the next byte is the seeded one. */
	g->pool_pos = g->pool_len;
}

static void
refill(struct nanoid *g)
{
	if (g->deterministic) {
		/* One key per refill, BLAKE2b(seed || counter): refills never
		 * repeat a stream, and the sequence depends only on the seed. */
		unsigned char key[randombytes_SEEDBYTES];
		unsigned char ctr[8];
		crypto_generichash_state st;
		int i;

		for (i = 0; i < 8; i++)
			ctr[i] = (unsigned char)(g->counter >> (8 * i));
		crypto_generichash_init(&st, NULL, 0, sizeof(key));
		crypto_generichash_update(&st, g->seed, sizeof(g->seed));
		crypto_generichash_update(&st, ctr, sizeof(ctr));
		crypto_generichash_final(&st, key, sizeof(key));
		randombytes_buf_deterministic(g->pool, g->pool_len, key);
		sodium_memzero(key, sizeof(key));
		sodium_memzero(&st, sizeof(st));
		g->counter++;
	} else {
		/* A fresh key from the system's CSPRNG, then its ChaCha20
		 * stream: one getrandom() a refill where randombytes_buf() of
		 * the whole pool makes one per 256 bytes (256 system calls
		 * for 64 KiB, some 80 a batch of 1000 ids, on the batch's
		 * critical path). As arc4random() does; the key is wiped. */
		unsigned char key[randombytes_SEEDBYTES];

		randombytes_buf(key, sizeof(key));
		randombytes_buf_deterministic(g->pool, g->pool_len, key);
		sodium_memzero(key, sizeof(key));
	}
	g->pool_pos = 0;
}

size_t
nanoid_length(const struct nanoid *g)
{
	return g->prefix_len + g->size;
}

void
nanoid_generate(struct nanoid *g, char *out)
{
	/* Locals, not g->...: stores through the char *out may alias g, and
	 * would force the compiler to reload every field on each symbol. */
	const unsigned char *pool = g->pool;
	const char *alphabet = g->alphabet;
	const unsigned mask = g->mask;
	const unsigned alen = g->alphabet_len;
	size_t pos = g->pool_pos;
	size_t end = g->pool_len;
	char *p, *stop;

	memcpy(out, g->prefix, g->prefix_len);
	p = out + g->prefix_len;
	stop = p + g->size;
	while (p < stop) {
		unsigned idx;

		if (pos == end) {
			refill(g);
			pos = 0;
		}
		/* Branch-free rejection: with 36 symbols a byte is kept 56% of
		 * the time, which a branch predictor cannot learn. A rejected
		 * symbol is written (alphabet[] has 256 slots, so idx is in
		 * bounds) and overwritten by the next one; p < stop throughout,
		 * so nothing lands past the id. */
		idx = pool[pos++] & mask;
		*p = alphabet[idx];
		p += idx < alen;
	}
	g->pool_pos = pos;
}

/* FNV-1a: ids are random already, any spreading hash will do. */
static uint64_t
id_hash(const char *id, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)id[i];
		h *= 1099511628211ULL;
	}
	return h;
}

int
nanoid_generate_distinct(struct nanoid *g, char *out, size_t n)
{
	size_t len = nanoid_length(g);
	size_t cap = 16;
	size_t *slot;

	/* size * log2(alphabet) bits: fewer ids than n and no draw can end.
	 * (A little slack: 3^5 is 243 exactly, its log2 not.) */
	if ((double)g->size * log2((double)g->alphabet_len) < log2((double)n) - 1e-9)
		return -1;
	while (cap < 2 * n)
		cap *= 2;
	slot = malloc(cap * sizeof(*slot));
	if (slot == NULL)
		return -1;
	for (size_t i = 0; i < cap; i++)
		slot[i] = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		char *id = out + i * len;
		size_t at;

		for (;;) {
			nanoid_generate(g, id);
			at = (size_t)id_hash(id, len) & (cap - 1);
			while (slot[at] != SIZE_MAX &&
			    memcmp(out + slot[at] * len, id, len) != 0)
				at = (at + 1) & (cap - 1);
			if (slot[at] == SIZE_MAX)
				break;
		}
		slot[at] = i;
	}
	free(slot);
	return 0;
}

void
nanoid_free(struct nanoid *g)
{
	if (g->pool != NULL) {
		sodium_memzero(g->pool, g->pool_len);
		free(g->pool);
	}
	/* Also wipes the seed; leaves pool NULL so a second free is harmless. */
	sodium_memzero(g, sizeof(*g));
}
