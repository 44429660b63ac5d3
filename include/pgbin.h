/*
 * pgbin.h - PostgreSQL binary parameter encodings the daemon sends.
 *
 * Binary parameters skip quoting and parsing altogether: a name with
 * commas, quotes or braces travels as the bytes it is.
 */
#ifndef NB_PGBIN_H
#define NB_PGBIN_H

#include <stddef.h>
#include <stdint.h>

#define PGBIN_TEXTOID 25
#define PGBIN_TEXTARRAYOID 1009
#define PGBIN_INT4OID 23
#define PGBIN_BYTEAOID 17
#define PGBIN_BOOLOID 16
#define PGBIN_INT8OID 20
#define PGBIN_OIDOID 26
#define PGBIN_TIDOID 27
#define PGBIN_FLOAT8OID 701

/* Writes v big-endian (network order) to p. */
void pgbin_put_int32(unsigned char *p, int32_t v);

/*
 * Bytes needed for a one-dimensional text[] of items[0..n-1] in binary
 * array format.
 */
size_t pgbin_text_array_size(const char *const *items, int n);

/*
 * Encodes items[0..n-1] (NUL-terminated, none NULL) as a binary text[]
 * into buf, which has room for pgbin_text_array_size() bytes. Returns the
 * number of bytes written.
 */
size_t pgbin_text_array(unsigned char *buf, const char *const *items, int n);

/*
 * Splits the text form of a one-dimensional text[] as the server prints
 * it ({a,"b c","d\"e"}) into at most max malloc'ed strings in out.
 * Returns the number of elements, or -1 if s is malformed or has more than
 * max elements (then the strings stored so far are still in out, for the
 * caller to free). NULL elements are not expected and come back as "NULL".
 */
int pgbin_parse_text_array(const char *s, char **out, int max);

#endif
