/*
 * sbuf.h - a growable string for text built piece by piece (the plan's
 * migration files, lists of names).
 *
 * Start from struct sbuf b = { 0 }. Once an allocation fails, oom is set
 * and every later append does nothing, so a caller checks once at the
 * end; s is then whatever was built before, or NULL. The caller free()s s.
 */
#ifndef NB_SBUF_H
#define NB_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

/* Appends printf-formatted text to b. */
void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
