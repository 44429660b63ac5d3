/*
 * exit_codes.h - the process exit codes, one place for all of them.
 *
 * They follow sysexits(3) where one fits, and the systemd unit lists
 * EXIT_USAGE and EXIT_CONFIG in RestartPreventExitStatus=: restarting
 * cannot fix a bad command line or a bad target.
 */
#ifndef NB_EXIT_CODES_H
#define NB_EXIT_CODES_H

enum nb_exit {
	NB_EXIT_OK = 0,       /* done (--until-done) or stopped cleanly by a signal */
	NB_EXIT_FAILURE = 1,  /* runtime failure: lost server, unexpected SQL error */
	NB_EXIT_USAGE = 64,   /* bad command line: unknown option, missing argument */
	NB_EXIT_NOT_CLEAN = 65, /* verify found NULL, duplicate or malformed
	                         * values: EX_DATAERR, apart from 1 (could
	                         * not check at all) */
	NB_EXIT_CONFIG = 78,  /* bad configuration or target: nothing was written */
};

#endif
