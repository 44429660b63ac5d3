/*
 * backfill.h - the job: connect, check the target, claim the progress row,
 * run batches pass after pass, stop cleanly.
 *
 * Everything runs on one libev loop: the worker's socket, timers (progress
 * line, idle interval between service passes, retry backoff) and signals.
 * SIGTERM/SIGINT stop after the batches in flight have committed; SIGHUP
 * reloads. With NOTIFY_SOCKET set it speaks systemd's sd_notify protocol.
 */
#ifndef NB_BACKFILL_H
#define NB_BACKFILL_H

#include "config.h"

/*
 * Runs the job described by cfg (validated with config_validate) until it
 * is done (--until-done), stopped by a signal, or fails. Returns the
 * process exit code (exit_codes.h). sodium_init() must have succeeded.
 * argc/argv are the command line cfg came from: SIGHUP parses them (and
 * the job file they name) again.
 */
int backfill_run(struct config *cfg, int argc, char **argv);

#endif
