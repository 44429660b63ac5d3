/*
 * job.h - the lease and pass protocol of one worker, as a transition
 * function.
 *
 * A worker takes a lease (an open one whose worker died, or a new one it
 * carves under the carve lock), fills it in batches, lets it go, and takes
 * the next; when the frontier is done and no lease is open, the pass ends:
 * --until-done looks for NULLs left and stops when there are none, a
 * service waits and probes before the next pass. See progress.h for the
 * tables behind each step.
 *
 * A pass walks by key or physically from its start to its end, whichever
 * process carves its leases: a worker that reads a running pass of the
 * other walk (an --until-done run and a service on one job, with auto
 * choosing differently) answers JOB_DO_SWITCH, and so does one that is
 * about to start a pass while its process still walks another's way. The
 * engine rebuilds its statements once none of its workers holds a lease.
 *
 * This module decides; it does no I/O. The engine asks it what to do
 * (job_acquire, job_lease_done, job_lease_gone), carries out the
 * struct job_action it gets back (send the statement of a step, wait,
 * work the lease, finish, fail), parses the answer to a statement into a
 * struct job_answer and gives it to job_answer(), which returns the next
 * action. No libpq, no libev, no clock of its own ("now" is an argument,
 * on a clock that does not jump): unit tests drive every transition with
 * fabricated answers.
 *
 * Steps that wait on a statement and what job_answer() needs of it:
 *
 *   LIST            open leases: leases[0..nleases)
 *   TRY_LOCK        locked (the lease's advisory lock)
 *   TAKE            take: 1 taken, 0 done meanwhile, -1 malformed;
 *                   rel_gone (physical: its relation was dropped)
 *   CARVE_LOCK      locked (the carve lock)
 *   READ_JOB        row (NULL: missing or malformed)
 *   START_PASS      -
 *   PROBE           found, max (the integer key's max it saw, or NULL)
 *   PROBE_RESTORE   - (the session settings sent again)
 *   STAY_IDLE       -
 *   BOUNDARY        - (the engine keeps the bounds for the new lease)
 *   CARVE           found (a block range was carved)
 *   FRONTIER_DONE   -
 *   NEW_LEASE       locked
 *   LEASE_GONE      -
 *   REMAINING       found (a NULL is left)
 *   RESTORE         - (session settings)
 *   UNFILLED        count, few (NULL count: no usable answer)
 *   UNFILLED_RESTORE - (session settings)
 *   PASS_END        -
 *   UNLOCK          -
 *
 * An answer for another step than the one the worker waits on is refused
 * (JOB_DO_FAIL): the engine and the protocol disagree, which is a bug.
 *
 * Every worker of a process shares one struct job_pass: what the batches
 * of the pass found (job_pass_count), and whether passes stall (a trigger
 * keeps rows NULL, or every id drawn was taken).
 */
#ifndef NB_JOB_H
#define NB_JOB_H

#include <stdbool.h>

/* The statement a worker waits on, or what it does instead. */
enum job_step {
	JOB_UNASKED,            /* nothing asked: job_acquire() */
	JOB_LIST,
	JOB_TRY_LOCK,
	JOB_TAKE,
	JOB_CARVE_LOCK,
	JOB_READ_JOB,
	JOB_START_PASS,
	JOB_PROBE,
	JOB_PROBE_RESTORE,
	JOB_STAY_IDLE,
	JOB_BOUNDARY,
	JOB_CARVE,
	JOB_FRONTIER_DONE,
	JOB_NEW_LEASE,
	JOB_LEASE_GONE,
	JOB_REMAINING,
	JOB_RESTORE,
	JOB_UNFILLED,
	JOB_UNFILLED_RESTORE,
	JOB_PASS_END,
	JOB_UNLOCK,
	JOB_WORKING,         /* holds a lease: the engine runs batches */
	JOB_WAITING,         /* a timer runs; then job_acquire() */
	JOB_FINISHED,        /* done or failed: nothing more */
	JOB_NSTEPS
};

/* What the engine is to do next. */
enum job_do {
	JOB_DO_SEND,         /* send the statement of action.step */
	JOB_DO_WAIT,         /* wait action.seconds, then job_acquire() */
	JOB_DO_WORK,         /* the lease action.lease is ours: run batches */
	JOB_DO_DONE,         /* --until-done: no NULL left; the job is done */
	JOB_DO_FAIL,         /* stop the process: exit action.code, action.message */
	JOB_DO_SWITCH,       /* walk as action.by_key from now on (the engine
	                      * rebuilds the statements once no worker of the
	                      * process holds a lease), then job_acquire() */
};

/*
 * jobs.state. Their names (progress_job_state_names in progress.h) are
 * what the column holds, what `status` prints and what scripts watching
 * the table compare against: part of the tables' schema, they never
 * change meaning.
 */
enum job_state {
	JOB_RUNNING,                 /* a pass is in progress */
	JOB_IDLE,                    /* between passes (a service waits for the
	                              * next); a claimed job between passes
	                              * starts here, so a service probes first */
	JOB_DONE,                    /* --until-done found no NULL left */
	JOB_STOPPED,                 /* stopped by a signal or --max-runtime;
	                              * the next run resumes it */
	JOB_NSTATES
};

#define JOB_MESSAGE_LEN 1024
#define JOB_MAX_CANDIDATES 64
/* All leases taken, or the carve lock held: look again after this. */
#define JOB_BUSY_POLL 0.5

struct job_action {
	enum job_do what;
	enum job_step step;          /* SEND: the statement */
	int lease;                   /* TRY_LOCK, TAKE, UNLOCK, LEASE_GONE; WORK */
	double seconds;              /* WAIT */
	enum job_state pass_state;   /* PASS_END: the job's state after it */
	bool sweep;                  /* PROBE, STAY_IDLE: the whole table */
	bool by_key;                 /* SWITCH: the walk to switch to; PASS_END
	                              * (pass_state RUNNING): the next pass's */
	const char *from;            /* START_PASS: the key to start after, or NULL */
	const char *max;             /* START_PASS, STAY_IDLE: the key's max seen */
	int code;                    /* FAIL: the exit code */
	char message[JOB_MESSAGE_LEN]; /* FAIL */
};

/* The job row, as far as the protocol decides on it. */
struct job_row {
	enum job_state state;        /* JOB_NSTATES: another */
	bool by_key;                 /* the pass's walk (between passes: the
	                              * last pass's) */
	bool frontier_done;          /* every lease of the pass is carved */
	bool has_frontier;
	int next_lease;
	double idle_for;             /* seconds since the job went idle */
	long open_leases;
	bool has_hwm;                /* an integer key's high-water mark */
	char hwm[32];
	double swept_ago;            /* seconds since a whole-table look; < 0 never */
	long long pass_rows;         /* rows the pass in progress filled so far */
};

struct job_answer {
	const int *leases;           /* LIST */
	int nleases;
	bool locked;                 /* TRY_LOCK, CARVE_LOCK, NEW_LEASE */
	int take;                    /* TAKE */
	bool rel_gone;               /* TAKE */
	const struct job_row *row;   /* READ_JOB */
	bool found;                  /* PROBE, CARVE, REMAINING */
	const char *max;             /* PROBE */
	const char *count, *few;     /* UNFILLED */
};

/* What the protocol needs to know of the run and the target. */
struct job_config {
	bool until_done;
	bool by_key;                 /* leases are key ranges, not block ranges */
	bool own_by_key;             /* the same for the passes this process
	                              * starts: a pass another process began in
	                              * the other walk is followed to its end */
	bool tree;                   /* the target has partitions or children */
	bool probe_tail;             /* a probe past the high-water mark exists */
	bool guard;                  /* batches skip a row whose id is taken */
	bool has_keys;               /* rows are named by key, else by ctid */
	double idle_interval;        /* seconds between a service's passes */
	double full_sweep_interval;  /* seconds between whole-table probes */
	double log10_ids;            /* the id space, idspace.h */
	const char *job;             /* names, for messages */
	const char *schema, *table;
	const char *triggers;        /* BEFORE UPDATE triggers, or NULL */
};

/* What follows a released lock. */
enum job_after {
	JOB_AFTER_WORK,              /* run batches in the lease just taken */
	JOB_AFTER_ACQUIRE,           /* look for work again now */
	JOB_AFTER_NEXT_CANDIDATE,    /* try the next open lease */
	JOB_AFTER_WAIT,              /* look for work after after_wait seconds */
	JOB_AFTER_DONE,              /* --until-done found no NULL: finish */
	JOB_AFTER_SWITCH,            /* change walks: JOB_DO_SWITCH */
};

/* Shared by the workers of a process. */
struct job_pass {
	/* Since the last pass ended, rows batches found and: */
	long long skipped;           /* the UPDATE skipped (a trigger, or a
				      * concurrent change) */
	long long left_null;         /* updated, NULL after (a trigger) */
	long long clashed;           /* the id guard skipped */
	int empty_passes;            /* passes in a row that filled nothing */
	double ended;                /* when this process saw the last pass end */
	int clash_passes;            /* of those, only for taken ids */
	bool stall_clashed;          /* stopped for taken ids */
	int stalled;                 /* passes in a row without progress */
	double stall_mult;           /* service: the idle interval's backoff */
	bool stall_logged;
	long long rows_run;          /* rows this process filled */
};

/* One worker's place in the protocol. */
struct job_worker {
	int id;                      /* for log lines */
	enum job_step step;
	int lease;                   /* held, being taken or carved */
	int unlocking;               /* UNLOCK: the lock let go (0: the carve lock) */
	int cand[JOB_MAX_CANDIDATES];
	int ncand, icand;
	enum job_after after;
	double after_wait;
	struct job_row row;          /* as read under the carve lock */
	bool remaining;              /* REMAINING found a NULL */
	bool probe_sweep;
	bool probe_found;
	bool probe_has_max;
	char probe_max[32];
	bool switch_by_key;          /* AFTER_SWITCH: the walk */
};

void job_pass_init(struct job_pass *p, double now);
void job_worker_init(struct job_worker *w, int id);

/* The next pass's first look for work: LIST. */
struct job_action job_acquire(struct job_worker *w);

/* The answer to the statement of step; returns what to do next. */
struct job_action job_answer(struct job_worker *w, struct job_pass *p,
			     const struct job_config *c, enum job_step step,
			     const struct job_answer *a, double now);

/* The batches marked the lease done: let it go, look for more. */
struct job_action job_lease_done(struct job_worker *w);

/* The lease's relation was dropped: mark the lease gone. */
struct job_action job_lease_gone(struct job_worker *w);

/* The connection went: no lease, no statement. */
void job_reset(struct job_worker *w);

/* One committed batch's counts, for the pass's end. */
void job_pass_count(struct job_pass *p, long long found, long long filled,
		    long long clashed, long long left_null);

/* A service's interval between passes: longer while passes stall. */
double job_idle_wait(const struct job_pass *p, const struct job_config *c);

/* The step's name ("take"), and what it is doing ("taking a lease"). */
const char *job_step_name(enum job_step s);
const char *job_step_doing(enum job_step s);

#endif
