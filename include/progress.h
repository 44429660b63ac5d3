/*
 * progress.h - the job's record in the target database.
 *
 * Two tables in <progress-schema> (default nanoid_backfill), created if
 * missing after the target has been checked, and a view:
 *
 * jobs: one row per job.
 *   job text PRIMARY KEY          the job name (--job, default schema.table.column)
 *   schema_name, table_name, column_name text, key_columns text[]
 *                                 the target; a name cannot be reused for another
 *   state text                    running | idle | done | stopped
 *   pass bigint                   the pass in progress (1, 2, ...)
 *   frontier text[]               upper key of the last lease carved in this pass;
 *                                 NULL: none carved yet
 *   frontier_done boolean         the last lease of this pass reaches the table's end
 *   next_lease integer            number of the next lease to carve
 *   rows_done bigint              rows filled by leases of finished passes
 *   batches bigint                batches of finished passes
 *   passes bigint                 passes finished
 *   rows_estimate double precision  NULL rows estimated when the pass started
 *   started_at, updated_at, finished_at, idle_since timestamptz
 *
 * leases: the key ranges of the pass in progress, (lo, hi], one row each.
 *   job text, lease integer       PRIMARY KEY (job, lease)
 *   lo text[], hi text[]          bounds as text of the key columns; NULL lo is
 *                                 the start of the table, NULL hi its end
 *   cursor text[]                 last key of the last committed batch in the lease
 *   state text                    open | done
 *   rows_done bigint, batches bigint   this lease's counters
 *   rate double precision         rows/s of the worker that ran the last batch
 *   owner text                    host:pid/worker of that worker (informational)
 *   updated_at timestamptz
 *   A worker owns a lease while its session holds the advisory lock
 *   (hashtext('nanoid_backfill:' || job), lease): a killed process's locks
 *   vanish with its connection, so its open leases are taken over at once.
 *   The batch statement moves a lease's cursor and counters in the same
 *   transaction as the rows it fills. At the end of a pass the leases are
 *   folded into jobs (rows_done, batches) and deleted.
 *
 * job_progress (view): per job, the jobs columns plus rows_done including
 * the open pass's leases, rows_left (estimate), rate (sum over leases
 * updated in the last 30 s), open and done lease counts.
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
