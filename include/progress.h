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
 *   state text                    running | idle | done | stopped; a job between
 *                                 passes is claimed idle, so a service probes first
 *   walk text                     key | physical: how the pass in progress walks
 *                                 (target.h), written by the pass's start and by
 *                                 every lease carved; a pass ends in the walk it
 *                                 began in, and a process of the other walk
 *                                 switches to it before it carves or takes a
 *                                 lease of that pass
 *   pass bigint                   the pass in progress (1, 2, ...)
 *   frontier text[]               key order: upper key of the last lease carved in
 *                                 this pass; NULL: none carved yet (a service pass
 *                                 past the high-water mark starts at the mark)
 *   frontier_rel oid, frontier_blk bigint, frontier_end bigint
 *                                 physical order: the relation being carved, its
 *                                 next block, and its end as of its first lease
 *   frontier_done boolean         the last lease of this pass reaches the table's end
 *                                 (physical: of its last relation)
 *   hwm, hwm_next bigint          a single integer key: every key <= hwm was looked
 *                                 at by a probe that found nothing, and the max the
 *                                 last probe saw; service passes probe past hwm
 *   swept_at timestamptz          the last whole-table probe that found nothing
 *   id_size integer, id_alphabet text, id_prefix text
 *                                 the ids' format; a resume with another is refused
 *   next_lease integer            number of the next lease to carve
 *   rows_done bigint              rows filled by leases of finished passes
 *   batches bigint                batches of finished passes
 *   passes bigint                 passes finished
 *   rows_estimate double precision  NULL rows estimated when the pass started
 *   started_at, updated_at, finished_at, idle_since timestamptz
 *
 * leases: the ranges of the pass in progress, one row each: key order
 * (lo, hi] of keys; physical order [lo, hi) of one relation's blocks.
 *   job text, lease integer       PRIMARY KEY (job, lease)
 *   rel oid                       physical: the relation (a table, a partition, a
 *                                 child); NULL by key
 *   lo text[], hi text[]          bounds as text of the key columns (NULL lo is
 *                                 the start of the table, NULL hi its end), or
 *                                 one ctid '(block,0)' each
 *   cursor text[]                 last key, or last ctid, of the last committed
 *                                 batch in the lease (physical: or the end of a
 *                                 window that came up short)
 *   state text                    open | done
 *   rows_done bigint, batches bigint   this lease's counters
 *   rate double precision         rows/s of the worker that ran the last batch
 *   owner text                    host:pid/worker of that worker (informational)
 *   updated_at timestamptz
 *   busy bigint                   rows its batches skipped because another
 *                                 session held them locked, since the lease
 *                                 (re)started (schema version 2)
 *   retries integer, retry_at timestamptz   a lease whose walk ended with busy
 *                                 rows starts again from lo, not before
 *                                 retry_at (0.2 s doubling per retry, at most
 *                                 5 s): LIST leaves it out until then, and the
 *                                 pass does not end while it is open
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
 *
 * The schema version of these tables is the comment on jobs,
 * "nanoid-backfill progress tables, schema version N": a comment, because
 * any role can read one (a run needs no SELECT on a version table, and no
 * CREATE to learn it) and the role that runs setup owns jobs already.
 * Tables without it (made before versions, or a comment someone replaced)
 * are version 1. Setup, under its lock and in one transaction: refuses
 * tables of a newer version than PROGRESS_SCHEMA_VERSION (SQLSTATE 0A000,
 * exit 78, nothing written), creates what is missing (version 1), runs
 * each migration step past the recorded version (2: the leases' busy,
 * retries and retry_at; 3: a pass in progress records the walk its leases
 * have), and records
 * PROGRESS_SCHEMA_VERSION. A run skips setup when the tables are of this
 * version, or have no version and the role could not run setup anyway
 * (no CREATE on the database, or not their owner): such a role goes on
 * with tables a DBA made, and the next privileged run writes the version.
 */
#define PROGRESS_SCHEMA_VERSION 3
#ifndef NB_PROGRESS_H
#define NB_PROGRESS_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "config.h"
#include "job.h"
#include "target.h"

struct conn;

/* enum job_state (jobs.state): job.h, the protocol that moves it. */
extern const char *const progress_job_state_names[JOB_NSTATES];

/* leases.state: open while its range may hold rows to fill, done once a
 * batch came up short (or its relation is gone). */
enum lease_state {
	LEASE_OPEN,
	LEASE_DONE,
	LEASE_NSTATES
};
extern const char *const progress_lease_state_names[LEASE_NSTATES];

/* The name of s; "?" for a value outside the enum. */
const char *progress_job_state_name(enum job_state s);
const char *progress_lease_state_name(enum lease_state s);

/* The state called name: 0 with *s set, or -1 for a name not in the table
 * (a newer version's state, or a row written by hand). */
int progress_job_state_parse(const char *name, enum job_state *s);

/* The ids a job makes: recorded with the job, a resume must match. */
struct progress_format {
	long size;
	const char *alphabet;
	const char *prefix;
};

/* The statements on the progress tables, built once per process. */
struct progress {
	char *schema_q;              /* quoted progress schema */
	char *jobs;                  /* quoted "schema".jobs */
	char *leases;                /* quoted "schema".leases */
	char *job;                   /* the job name */
	const struct target *target;
	char *sql_exists, *sql_setup, *sql_claim, *sql_state;
	char *sql_list, *sql_try_lock, *sql_take, *sql_unlock;
	char *sql_read_job, *sql_start_pass;
	char *sql_new_lease, *sql_pass_end;
	char *sql_lease_gone, *sql_frontier_done, *sql_new_block_lease;
	char *sql_stay_idle;
	struct progress_format format;   /* as the claim sent it */
	enum job_state state;        /* the job's state as this process last
	                              * sent or read it (for the metrics) */
};

/* Where the job stands when this process joins it. */
struct progress_claim {
	bool created;                /* a new job row */
	long long rows_done;         /* folded passes + open leases */
	long open_leases;
	long leases_with_cursor;     /* leases a worker had started */
	enum walk walk;              /* the job's walk as it stands now */
};

/* A lease as a worker takes it over. Strings are owned. */
struct progress_lease {
	int lease;
	char *lo[CONFIG_MAX_KEYS];   /* all NULL: from the start of the table */
	char *hi[CONFIG_MAX_KEYS];   /* all NULL: to the end of the table */
	char *cursor[CONFIG_MAX_KEYS];
	bool has_lo, has_hi, has_cursor;
	long long rows_done;
	Oid rel;                     /* physical: the relation; 0 for key leases */
	char *rel_schema, *rel_name; /* NULL: the relation is gone */
};

/* The job row as the lease carver reads it, under the carve lock. */
struct progress_job {
	char state[16];              /* as the row has it */
	enum job_state state_id;     /* the same, parsed; JOB_NSTATES for a
	                              * name this version does not know */
	bool has_frontier;
	char *frontier[CONFIG_MAX_KEYS];
	bool frontier_done;
	int next_lease;
	double idle_for;             /* seconds since the job went idle */
	long open_leases;
	Oid frontier_rel;            /* physical: relation being carved; 0 none */
	long long frontier_blk;      /* its next block to carve */
	long long frontier_end;      /* its end, frozen at its first lease */
	bool has_hwm;                /* an integer key: every key <= hwm was filled */
	char hwm[32];
	double swept_ago;            /* seconds since a whole-table look; -1 never */
	long long pass_rows;         /* rows the pass in progress filled so far */
	enum walk walk;              /* the pass's walk (a job between passes:
	                              * its last pass's) */
};

/*
 * Builds every statement for the progress tables in schema (quoted with
 * conn), for job name job (NULL: "<schema>.<table>.<column>" of t). t must
 * outlive p. Returns 0, or -1 with the reason in err.
 */
int progress_init(struct progress *p, PGconn *conn, const char *schema,
		  const char *job, const struct target *t, char *err,
		  size_t errlen);
void progress_free(struct progress *p);

/* Do the tables and the view exist already? One row: true or false. */
int progress_send_exists(struct progress *p, struct conn *w);

/*
 * Creates the schema, tables and view if missing, under a transaction-level
 * advisory lock so that processes starting together do not collide.
 */
int progress_send_setup(struct progress *p, struct conn *w);

/*
 * Inserts the job row, or marks it running if it has the same target and
 * id format. A job in the middle of a pass keeps its walk, whatever the
 * target's: the claim's answer tells the walk to go on with.
 */
int progress_send_claim(struct progress *p, struct conn *w, double estimate,
			const struct progress_format *f);

/*
 * Reads the claim's result. Returns 0; or -1 with one line in err if the
 * job name belongs to another target, the job makes ids of another
 * format, a pass in progress walks otherwise (configuration errors), or
 * the result is malformed.
 */
int progress_read_claim(struct progress *p, const PGresult *res,
			struct progress_claim *claim, char *err, size_t errlen);

/* "21 symbols of "abc..." after prefix "usr_"", control bytes shown safely. */
void progress_format_describe(char *buf, size_t len, long size,
			      const char *alphabet, const char *prefix);

/* Records JOB_STOPPED (unless the job is done). */
int progress_send_stopped(struct progress *p, struct conn *w);

/* Lists the open leases' numbers (at most 64), lowest first: those of
 * the target's walk only. */
int progress_send_list(struct progress *p, struct conn *w);

/*
 * Tries the lease's advisory lock; the answer is one boolean. Lease 0 is
 * the carve lock, which makes carving leases and ending a pass one
 * worker at a time; it is tried, never waited for, so that a worker
 * checking for NULLs under it does not make others hit lock_timeout.
 */
int progress_send_try_lock(struct progress *p, struct conn *w, int lease);

/*
 * With the lease's lock held: records the owner and reads the lease if it
 * is still open (no row if it is done).
 */
int progress_send_take(struct progress *p, struct conn *w, int lease,
		       const char *owner);
/* Returns 1 with l filled, 0 if the lease is done, -1 if malformed. */
int progress_read_take(const struct progress *p, const PGresult *res,
		       int lease, struct progress_lease *l);
void progress_lease_free(struct progress_lease *l);

/* Releases a lease's advisory lock (lease 0: the carve lock). */
int progress_send_unlock(struct progress *p, struct conn *w, int lease);

/* Reads the job row (under the carve lock). */
int progress_send_read_job(struct progress *p, struct conn *w);
int progress_read_job(struct progress *p, const PGresult *res,
		      struct progress_job *j);
void progress_job_free(struct progress_job *j);

/*
 * Marks an idle job running again for a new pass in the target's walk,
 * which starts past the key from (a single key; NULL: the start); max_key
 * (NULL: unknown) is the key's max before it.
 */
int progress_send_start_pass(struct progress *p, struct conn *w,
			     const char *from, const char *max_key);

/*
 * A service pass's probe found no NULL: the job stays idle for another
 * interval. sweep: it looked at the whole table; max_key as above. The
 * high-water mark moves up one probe late, so that a row whose key was
 * drawn before the probe but committed after it is still past it.
 */
int progress_send_stay_idle(struct progress *p, struct conn *w, bool sweep,
			    const char *max_key);

/*
 * Inserts lease number lease over (lo, hi] (NULL arrays: open ends), moves
 * the frontier to hi, and takes the lease's advisory lock; the answer's
 * first column says whether the lock was taken.
 */
int progress_send_new_lease(struct progress *p, struct conn *w, int lease,
			    char *const *lo, char *const *hi, const char *owner);

/*
 * Ends the pass: folds the leases' counters into the job row, deletes them,
 * resets the frontier and sets state (JOB_IDLE, JOB_DONE, or JOB_RUNNING
 * for an immediate new pass, which walks as next says).
 */
int progress_send_pass_end(struct progress *p, struct conn *w,
			   enum job_state state, enum walk next);

/*
 * Physical order: inserts lease number lease over blocks [lo, hi) of
 * relation rel, moves the frontier to (rel, hi) with the relation's
 * frozen end, and takes the lease's lock (the answer as for new_lease).
 */
int progress_send_new_block_lease(struct progress *p, struct conn *w, int lease,
				  Oid rel, long long lo, long long hi,
				  long long end, const char *owner);

/* Physical order: every relation is carved; the pass ends when its leases do. */
int progress_send_frontier_done(struct progress *p, struct conn *w);

/* Marks a lease done whose relation is gone (dropped or detached and dropped). */
int progress_send_lease_gone(struct progress *p, struct conn *w, int lease);

#endif
