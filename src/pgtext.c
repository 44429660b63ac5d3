/*
 * pgtext.c - SQL text built from quoted identifiers.
 */
#include "pgtext.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *pgtext_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

void pgtext_join(char *buf, size_t len, char *const *items, int n)
{
	size_t used = 0;

	for (int i = 0; i < n; i++) {
		const char *parts[2] = { i ? ", " : "", items[i] };

		for (int j = 0; j < 2; j++)
			for (const char *p = parts[j]; *p && used + 1 < len; p++)
				buf[used++] = *p;
	}
	buf[used] = '\0';
}

void pgtext_dollar_tag(char *tag, size_t len, const char *body)
{
	for (int i = 0;; i++) {
		if (i == 0)
			snprintf(tag, len, "$nb$");
		else
			snprintf(tag, len, "$nb%d$", i);
		if (strstr(body, tag) == NULL)
			return;
	}
}
