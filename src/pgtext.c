/*
 * pgtext.c - text around libpq.
 */
#include "pgtext.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

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

void pgtext_flatten(char *s)
{
	char *out = s;

	/* libpq's messages are lines, often "...\n\tHINT": one blank each. */
	for (const char *p = s; *p; p++) {
		bool blank = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';

		if (blank && (out == s || out[-1] == ' '))
			continue;
		*out++ = blank ? ' ' : *p;
	}
	if (out > s && out[-1] == ' ')
		out--;
	*out = '\0';
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

const char *pgtext_result_error(const PGresult *res, char *buf, size_t len)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

	if (!primary)
		primary = PQresultErrorMessage(res);
	if (detail)
		snprintf(buf, len, "%s; %s", primary, detail);
	else
		snprintf(buf, len, "%s", primary);
	pgtext_flatten(buf);
	return buf;
}

const char *pgtext_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

void pgtext_log_notice(void *arg, const char *message)
{
	char line[512];

	(void)arg;
	snprintf(line, sizeof line, "%s", message);
	pgtext_flatten(line);
	log_debug("server: %s", line);
}
