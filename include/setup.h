/*
 * setup.h - once per process, on the first worker connected: check the
 * target, judge the id space, try a sample id, create the progress tables
 * if missing, claim the job.
 *
 *   TARGET -> ESTIMATE -> TRY_ID -> EXISTS [-> TABLES] -> CLAIM
 *
 * Nothing is written to the table before CLAIM, and a refusal (exit 78)
 * comes before anything is written at all, but the progress tables.
 * setup_begin() sends the first statement on a worker; the engine gives
 * each answer to setup_answer(), which sends the next statement itself
 * and says what it concluded. A worker that reconnects after the target
 * was checked starts again at EXISTS (the first check stands).
 *
 * setup_configure() derives the job protocol's and the filling's view of
 * the run (bf->jobc, bf->fillc) from the configuration and the target:
 * after setup and after every reload.
 */
#ifndef NB_SETUP_H
#define NB_SETUP_H

#include <libpq-fe.h>

#include "engine.h"

enum setup_result {
	SETUP_SENT,          /* the next statement is in flight */
	SETUP_CLAIMED,       /* the job is ours: workers may start */
	SETUP_FAILED,        /* stop: *code, the reason in bf->err */
	SETUP_LOST,          /* a send failed: the connection is gone */
};

enum setup_result setup_begin(struct backfill *bf, struct worker *w);

/* res may be an error only for TRY_ID (the column refused the sample). */
enum setup_result setup_answer(struct backfill *bf, struct worker *w, PGresult *res,
			       int *code);

/* Builds the batch statements again, e.g. with the id guard. 0 or -1. */
int setup_rebuild_sql(struct backfill *bf, PGconn *conn, bool guard);

void setup_configure(struct backfill *bf);

/*
 * Walks as walk from now on, reason saying why: the target's walk and its
 * batch statements (built again with conn), the physical ones per
 * relation dropped. Only while no worker holds a lease or has a statement
 * in flight. 0, or -1 with the reason in bf->err and *code (78: the key
 * cannot be walked now).
 */
int setup_switch_walk(struct backfill *bf, PGconn *conn, enum walk walk,
		      const char *reason, int *code);

/* Frees what setup built: the target, the progress statements, the batch
 * statements (and the physical ones per relation). */
void setup_free(struct backfill *bf);

/* What the step is doing, for error lines. */
const char *setup_step_doing(enum setup_step s);

#endif
