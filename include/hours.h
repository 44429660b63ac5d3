/*
 * hours.h - active hours: a daily window of local time, "HH:MM-HH:MM".
 *
 * Pure: no clock and no time zone of its own. The caller converts its
 * clock to a local time of day (throttle_env.h does) and asks how long
 * until the window opens. config_validate parses with it, the throttle
 * matches with it; neither depends on the other for that.
 */
#ifndef NB_HOURS_H
#define NB_HOURS_H

#include <stddef.h>

#define HOURS_PER_DAY_MIN 1440  /* minutes in a day */

/*
 * Parses active hours "HH:MM-HH:MM" (two digits each, 00:00..23:59, local
 * time): the window starts at the first time and ends before the second;
 * a second time earlier than the first wraps past midnight (22:00-06:00).
 * Equal times are refused (an empty or a full day: ambiguous; leave the key
 * unset to run at any time). NULL or "" is "no window": *start = *end = -1.
 * Returns 0 with *start and *end in minutes after midnight, or -1 with the
 * reason in err.
 */
int hours_parse(const char *text, int *start, int *end, char *err,
		size_t errlen);

/*
 * Seconds from local time minute_of_day:second (0..1439, 0..59) until the
 * window [start, end) opens; 0 if inside it, or if start or end is < 0
 * (no window).
 */
double hours_wait(int start, int end, int minute_of_day, int second);

#endif
