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

#endif
