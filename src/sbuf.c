/*
 * sbuf.c - a growable string (see sbuf.h).
 */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *grown;
	size_t cap;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0,
		      fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (b->s != NULL && b->len + (size_t)n < b->cap) {
		b->len += (size_t)n;
		return;
	}
	cap = b->cap ? b->cap : 1024;
	while (cap <= b->len + (size_t)n)
		cap *= 2;
	grown = realloc(b->s, cap);
	if (grown == NULL) {
		b->oom = true;
		return;
	}
	b->s = grown;
	b->cap = cap;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
