/*
 * throttle_env.h - what the throttle needs from the host, read at each
 * throttle_wait: the local time of day (for active hours) and the pause
 * file.
 *
 * The throttle decides on a clock and on arguments alone; this is where
 * those arguments meet the world: localtime_r() (the TZ environment) and
 * stat(). The throttle says when the pause file is due a look
 * (throttle_pause_file_due), so a look per batch of every worker is not
 * paid for.
 */
#ifndef NB_THROTTLE_ENV_H
#define NB_THROTTLE_ENV_H

#include <time.h>

#include "throttle.h"

/*
 * Fills *env for throttle_wait(t, ..., now, env, ...): the local time of
 * day at wall (time(NULL); minute_of_day -1 if it cannot be converted),
 * and, if throttle_pause_file_due(t, now), whether the pause file exists.
 * A file that cannot be checked (EACCES, ELOOP: anything but "not there")
 * is reported with its errno, and the throttle then pauses: the safe side.
 */
void throttle_env_read(struct throttle_env *env, const struct throttle *t,
		       double now, time_t wall);

#endif
