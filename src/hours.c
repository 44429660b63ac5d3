/*
 * hours.c - active hours: parse "HH:MM-HH:MM", match a local time of day.
 */
#include "hours.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* "HH:MM" at s, two digits each; returns minutes after midnight or -1. */
static int parse_hhmm(const char *s)
{
	int h, m;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[2] != ':' || s[3] < '0' || s[3] > '9' || s[4] < '0' ||
	    s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	return h * 60 + m;
}

int hours_parse(const char *text, int *start, int *end, char *err,
		size_t errlen)
{
	int a, b;

	*start = *end = -1;
	if (text == NULL || *text == '\0')
		return 0;
	if (strlen(text) != 11 || text[5] != '-' ||
	    (a = parse_hhmm(text)) < 0 || (b = parse_hhmm(text + 6)) < 0) {
		snprintf(err, errlen, "'%s' is not HH:MM-HH:MM (24-hour local "
			 "time, e.g. 22:00-06:00)", text);
		return -1;
	}
	if (a == b) {
		snprintf(err, errlen, "'%s' starts and ends at the same time; "
			 "leave active-hours unset to work at any time", text);
		return -1;
	}
	*start = a;
	*end = b;
	return 0;
}

double hours_wait(int start, int end, int minute_of_day, int second)
{
	bool inside;
	int minutes;

	if (start < 0 || end < 0)
		return 0.0;
	if (start < end)
		inside = minute_of_day >= start && minute_of_day < end;
	else
		inside = minute_of_day >= start || minute_of_day < end;
	if (inside)
		return 0.0;
	minutes = (start - minute_of_day + HOURS_PER_DAY_MIN) % HOURS_PER_DAY_MIN;
	return minutes * 60.0 - second;
}
