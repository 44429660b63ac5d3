/*
 * statements.h - every statement a worker sends, built from the run's
 * state, and the reading of the job protocol's answers.
 *
 * The engine decides when (engine.c), the job protocol what (job.h); this
 * module knows how: which progress.h or batch.h statement, with which
 * parameters, and what a result's rows mean as a struct job_answer. It
 * calls nothing back: each send returns 0 (sent; the answer comes to the
 * engine) or -1 (libpq refused it: the connection is lost); a failure of
 * its own (out of memory, a malformed row) is -2 with the line in bf->err.
 */
#ifndef NB_STATEMENTS_H
#define NB_STATEMENTS_H

#include <libpq-fe.h>

#include "engine.h"

#define STATEMENTS_FAILED (-2)

/* A job step's answer, as the protocol takes it (pointers into itself). */
struct statements_answer {
	struct job_answer a;
	struct job_row row;
	int leases[JOB_MAX_CANDIDATES];
};

/* The session settings, with the timeouts as configured now. */
int statements_session(struct worker *w);

/* The statement of a job step (action->what == JOB_DO_SEND). */
int statements_job(struct worker *w, const struct job_action *action);

/* Reads the answer to the job step the worker waits on (not TAKE). */
int statements_read(struct worker *w, PGresult *res, struct statements_answer *out);

/*
 * TAKE: the lease taken over. take is 1 (taken: *l holds it, free it
 * with progress_lease_free), 0 (done meanwhile) or -1 (malformed).
 */
int statements_read_take(struct worker *w, PGresult *res, struct progress_lease *l);

/* The worker starts on lease l (taken over): its relation, bounds, cursor. */
int statements_start_taken(struct worker *w, const struct progress_lease *l);

/* Physical order: prepares the lease relation's batch statement in the
 * form of w's next batch (batch_form_of). */
int statements_prepare_leaf(struct worker *w);

/* Physical order: creates the session's row counter of the direct form
 * (BATCH_COUNTER_SQL), if it has none yet. */
int statements_counter(struct worker *w);

/* By key: prepares batch statement variant v. */
int statements_prepare(struct worker *w, int variant);

/* Draws the batch's fresh ids (batch_ids) and sends it. */
int statements_batch(struct worker *w);

#endif
