/*
 * throttle_env.c - the host's side of throttle_wait; see throttle_env.h.
 */
#include "throttle_env.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

void throttle_env_read(struct throttle_env *env, const struct throttle *t,
		       double now, time_t wall)
{
	const char *path = throttle_pause_file_due(t, now);
	struct stat st;
	struct tm tm;

	memset(env, 0, sizeof(*env));
	if (localtime_r(&wall, &tm) != NULL) {
		env->minute_of_day = tm.tm_hour * 60 + tm.tm_min;
		env->second = tm.tm_sec;        /* 60 in a leap second */
	} else {
		env->minute_of_day = -1;
	}
	if (path == NULL)
		return;
	env->file_looked = true;
	if (stat(path, &st) == 0) {
		env->file_present = true;
		return;
	}
	/* Absent is the normal case; anything else means we cannot tell. */
	env->file_errno = errno == ENOENT || errno == ENOTDIR ? 0 : errno;
}
