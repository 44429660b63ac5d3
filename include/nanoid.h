/*
 * nanoid.h - unbiased nanoid generation from libsodium's CSPRNG.
 *
 * The reference algorithm (github.com/ai/nanoid, customRandom): draw random
 * bytes, mask each with (next power of two >= alphabet length) - 1 and
 * reject indices >= the alphabet length. Rejection instead of a modulo
 * keeps every symbol exactly equally likely.
 *
 * A generator owns a pool of random bytes that it refills in large chunks,
 * each the ChaCha20 stream of a fresh key from randombytes_buf() (one
 * system call a refill), so a batch of ids costs a handful of CSPRNG calls,
 * not one per id. sodium_init() must have succeeded before any call here.
 */
#ifndef NB_NANOID_H
#define NB_NANOID_H

#include <stddef.h>
#include <stdint.h>

#define NANOID_DEFAULT_SIZE 21
#define NANOID_DEFAULT_ALPHABET \
	"useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"
#define NANOID_MIN_SIZE 1
#define NANOID_MAX_SIZE 255
#define NANOID_MIN_ALPHABET 2
#define NANOID_MAX_ALPHABET 256
#define NANOID_MAX_PREFIX 64

struct nanoid {
	char alphabet[NANOID_MAX_ALPHABET];
	unsigned alphabet_len;
	unsigned mask;          /* next power of two minus one */
	size_t size;            /* random symbols per id, prefix excluded */
	char prefix[NANOID_MAX_PREFIX + 1];
	size_t prefix_len;
	unsigned char *pool;    /* random bytes not yet used */
	size_t pool_len;        /* capacity of pool */
	size_t pool_pos;        /* next unused byte */
	int deterministic;      /* refill from seed + counter, for tests */
	unsigned char seed[32];
	uint64_t counter;
};

/*
 * Checks an alphabet: 2..256 characters, each printable ASCII (0x21..0x7e,
 * no space), no character twice. Returns 0 if valid; otherwise -1 with a
 * one-line reason written to err (always NUL-terminated).
 */
int nanoid_check_alphabet(const char *alphabet, char *err, size_t errlen);

/* Checks a size: 1..255. Same return convention. */
int nanoid_check_size(long size, char *err, size_t errlen);

/*
 * Checks a prefix: 0..64 printable ASCII characters (0x21..0x7e, so no
 * space either, and an id never needs quoting); NULL counts as empty.
 * Same return convention.
 */
int nanoid_check_prefix(const char *prefix, char *err, size_t errlen);

/*
 * Initialises g for ids of prefix + size symbols from alphabet. The
 * arguments must have passed the checks above. Returns 0, or -1 if the
 * pool could not be allocated (or an argument fails its check). Free with
 * nanoid_free().
 */
int nanoid_init(struct nanoid *g, const char *alphabet, size_t size,
		const char *prefix);

/*
 * Makes g deterministic: the pool is refilled with
 * randombytes_buf_deterministic() from seed and a refill counter, so the
 * same seed yields the same ids. For tests only.
 */
void nanoid_seed(struct nanoid *g, const unsigned char seed[32]);

/* Length in bytes of every id g makes: prefix_len + size. */
size_t nanoid_length(const struct nanoid *g);

/*
 * Writes one id (prefix, then size symbols) to out, which must have room
 * for nanoid_length(g) bytes. No NUL is written.
 */
void nanoid_generate(struct nanoid *g, char *out);

/*
 * Writes n ids to out (n * nanoid_length(g) bytes) no two of which are
 * equal, drawing again for a repeat: for small id spaces, where one
 * batch's own ids would otherwise meet on a unique index. Returns 0, or
 * -1 if out of memory or the space holds fewer than n ids.
 */
int nanoid_generate_distinct(struct nanoid *g, char *out, size_t n);

/* Releases the pool (wiped first); g may be initialised again. */
void nanoid_free(struct nanoid *g);

#endif
