/*
 * progress.h - the job's record in the target database.
 *
 * The table <progress-schema>.jobs holds one row per job: its target, the
 * cursor (text of the last key of the last committed batch; NULL at the
 * start of a pass), rows filled, batches, passes, state and timestamps.
 * The batch statement (batch.h) moves the cursor in the same transaction as
 * the rows it fills; this module creates the table, claims the job row at
 * start and records state changes.
 *
 * States: running (batches in progress), idle (service mode, between
 * passes), done (--until-done found no NULL left), stopped (by a signal,
 * resumable).
 */
#ifndef NB_PROGRESS_H
#define NB_PROGRESS_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "config.h"
#include "target.h"

struct worker;

struct progress {
	char *table;                 /* quoted "schema"."jobs" */
	char *sql_setup;             /* CREATE SCHEMA/TABLE IF NOT EXISTS */
	char *sql_claim;
	char *sql_state;
	char *job;                   /* the job name */
	const struct target *target;
};

/* Claim result: where the job stands. */
struct progress_claim {
	bool created;                /* a new job row */
	long long rows_done;
	bool has_cursor;
	char *cursor[CONFIG_MAX_KEYS];  /* owned; NULL when !has_cursor */
};

/*
 * Prepares the statements for the progress table in schema (quoted with
 * conn) and the job name (job, or "<schema>.<table>.<column>" of t when job
 * is NULL). Returns 0, or -1 with the reason in err.
 */
int progress_init(struct progress *p, PGconn *conn, const char *schema,
		  const char *job, const struct target *t, char *err,
		  size_t errlen);

/* Sends the CREATE SCHEMA/TABLE IF NOT EXISTS statements. */
int progress_send_setup(struct progress *p, struct worker *w);

/*
 * Sends the claim: insert the job row if missing, else mark it running if
 * it belongs to the same target.
 */
int progress_send_claim(struct progress *p, struct worker *w);

/*
 * Reads the claim result. Returns 0 with *claim filled; -1 with one line
 * in err if the job row belongs to another target (a configuration error)
 * or the result has an unexpected shape.
 */
int progress_read_claim(struct progress *p, const PGresult *res,
			struct progress_claim *claim, char *err,
			size_t errlen);
void progress_claim_free(struct progress_claim *claim);

/*
 * Records a state: "running", "idle", "done" or "stopped". pass_ended
 * also clears the cursor and counts a pass (and sets finished_at for done).
 */
int progress_send_state(struct progress *p, struct worker *w,
			const char *state, bool pass_ended);

void progress_free(struct progress *p);

#endif
