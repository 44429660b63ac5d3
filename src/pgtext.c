/*
 * pgtext.c - SQL text built from quoted identifiers.
 */
#include "pgtext.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
