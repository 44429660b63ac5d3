/*
 * pgbin.c - binary parameter encodings (array_send's format for text[]).
 */
#include "pgbin.h"

#include <stdlib.h>
#include <string.h>

void pgbin_put_int32(unsigned char *p, int32_t v)
{
	uint32_t u = (uint32_t)v;

	p[0] = (unsigned char)(u >> 24);
	p[1] = (unsigned char)(u >> 16);
	p[2] = (unsigned char)(u >> 8);
	p[3] = (unsigned char)u;
}

size_t pgbin_text_array_size(const char *const *items, int n)
{
	size_t size = 20; /* ndim, flags, element type, length, lower bound */

	for (int i = 0; i < n; i++)
		size += 4 + strlen(items[i]);
	return size;
}

size_t pgbin_text_array(unsigned char *buf, const char *const *items, int n)
{
	unsigned char *p = buf;

	pgbin_put_int32(p, 1);                      /* dimensions */
	pgbin_put_int32(p + 4, 0);                  /* no NULLs */
	pgbin_put_int32(p + 8, PGBIN_TEXTOID);      /* element type */
	pgbin_put_int32(p + 12, n);                 /* length of dimension 1 */
	pgbin_put_int32(p + 16, 1);                 /* lower bound */
	p += 20;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(items[i]);

		pgbin_put_int32(p, (int32_t)len);
		memcpy(p + 4, items[i], len);
		p += 4 + len;
	}
	return (size_t)(p - buf);
}

int pgbin_parse_text_array(const char *s, char **out, int max)
{
	int n = 0;

	if (*s++ != '{')
		return -1;
	if (*s == '}')
		return 0;
	for (;;) {
		size_t len = 0;
		char *e;

		if (n == max)
			return -1;
		e = malloc(strlen(s) + 1);
		if (!e)
			return -1;
		out[n++] = e;
		if (*s == '"') {
			/* Quoted: backslash escapes the next character. */
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				e[len++] = *s;
			}
			if (*s++ != '"')
				return -1;
		} else {
			while (*s && *s != ',' && *s != '}')
				e[len++] = *s++;
		}
		e[len] = '\0';
		if (*s == '}')
			return n;
		if (*s++ != ',')
			return -1;
	}
}
