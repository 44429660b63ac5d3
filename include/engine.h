/*
 * engine.h - the state a run shares between its parts, and what the
 * daemon asks of the engine.
 *
 * The parts, and who calls whom (never the other way):
 *
 *   daemon.c   the loop: timers, signals, reload, stop, the health
 *              connection; calls the engine and report
 *   engine.c   the workers: connecting, the session, each answer parsed
 *              and given to the job protocol or to the filling, each
 *              action carried out on the worker's connection; calls
 *              setup, job, fill, retry, batch, progress
 *   setup.c    once per process, on one worker: target check, id space,
 *              progress tables, claim; sends its own statements and
 *              returns what it concluded
 *   job.c      the lease and pass protocol (decides; no I/O)
 *   fill.c     the batch size and its retries (decides; no I/O)
 *   report.c   the progress line, the metrics file, STATUS=
 *
 * The engine tells the daemon of two moments through hooks: the job is
 * claimed (the health connection may start) and the run stops (its timers
 * go). Nothing here is for other modules: backfill.h is the run's contract.
 */
#ifndef NB_ENGINE_H
#define NB_ENGINE_H

#include <stdbool.h>
#include <ev.h>

#include "bar.h"
#include "batch.h"
#include "config.h"
#include "fill.h"
#include "job.h"
#include "metrics.h"
#include "nanoid.h"
#include "progress.h"
#include "target.h"
#include "throttle.h"
#include "conn.h"

/* The statement a worker's connection has in flight, or why it has none. */
enum worker_step {
	WORKER_NONE,
	WORKER_PARKED,          /* connected, waiting for another worker's setup */
	WORKER_SESSION,         /* the session settings */
	WORKER_SETUP,           /* a statement of setup.c (w->setup_step) */
	WORKER_PREPARE,         /* by key: a batch statement variant */
	WORKER_PREPARE_LEAF,    /* physical: a relation's batch statement */
	WORKER_COUNTER,         /* physical: the direct form's row counter */
	WORKER_JOB,             /* a statement of the job protocol (w->job.step) */
	WORKER_SESSION_AGAIN,   /* session settings again after a reload */
	WORKER_BATCH,
	WORKER_STOPPED,         /* recording the stop */
	WORKER_SWITCHING,       /* connected, no lease: waits for the other
	                         * workers to leave theirs before the walk
	                         * changes (bf->switch_to) */
};

/* What a worker's timer is for. */
enum wait_for { WAIT_CONNECT, WAIT_ACQUIRE, WAIT_BATCH };

/* setup.c's statements, in order. */
enum setup_step {
	SETUP_TARGET,
	SETUP_ESTIMATE,
	SETUP_TRY_ID,       /* a sample id through the column type's input */
	SETUP_EXISTS,
	SETUP_TABLES,
	SETUP_CLAIM,
};

enum setup_state { SETUP_NONE, SETUP_RUNNING, SETUP_DONE };

struct backfill;

/* The physical batch statements of one relation of the target, by
 * enum batch_form (batch.h); no direct form with the id guard. */
struct leaf_sql {
	Oid rel;
	char *sql[BATCH_PHYS_FORMS];  /* by form; the direct one's is the
				       * counted form's UPDATE where tally is set */
	char *tally;                  /* the counted direct form's tally
				       * (batch.h); NULL: the direct form is
				       * one statement */
};

struct worker {
	struct conn conn;
	struct backfill *bf;
	int id;
	enum worker_step step;
	enum setup_step setup_step;
	bool closed;                 /* done for good */
	ev_timer wait;
	enum wait_for waiting_for;
	int attempt;                 /* failed attempts in a row, for backoff */
	ev_tstamp lost_since;        /* 0 while connected */
	int prepared;                /* batch statement variants prepared */
	bool session_stale;          /* a reload changed the timeouts */

	struct job_worker job;       /* its place in the lease protocol */
	struct progress_job row;     /* the job row as last read */
	bool have_row;

	struct batch b;
	struct fill fill;
	int leaf;                    /* physical: the lease relation's statements,
				      * bf->leaf[leaf] (an index: the array grows) */
	Oid lease_rel;               /* physical: that relation */
	long long carved_lo, carved_hi, carved_end; /* physical: the blocks just
						     * carved, and the relation's end */
	long long *ready;            /* physical: relation and form
				      * (BATCH_PHYS_FORMS * oid + form) whose
				      * statement this session has prepared */
	bool counter;                /* physical: the session has its row
				      * counter (BATCH_COUNTER) */
	int nready, ready_cap;

	struct throttle_lane lane;   /* this worker's pacing */
	ev_tstamp sent_at;
	char owner[128];
};

struct engine_hooks {
	void (*claimed)(struct backfill *bf);   /* the job is claimed */
	void (*stopping)(struct backfill *bf);  /* the run begins to stop */
};

struct backfill {
	struct ev_loop *loop;
	struct config *cfg;
	struct engine_hooks hooks;
	struct nanoid gen;
	unsigned char *ids;          /* one batch's ids; libpq copies them on send */
	size_t ids_cap;
	struct target target;
	struct progress prog;
	struct batch_sql sql;
	struct leaf_sql *leaf;       /* physical: batch statements by relation */
	int nleaf, leaf_cap;
	bool have_target, have_prog, have_sql;
	enum setup_state setup;
	struct job_config jobc;      /* the protocol's view of the run */
	struct job_pass pass;
	struct fill_config fillc;

	struct worker *workers;
	int nworkers;
	ev_timer tick;
	enum bar_mode progress_mode; /* lines every tick, or the bar (bar.h) */
	ev_timer bar;                /* the bar's redraws, BAR_INTERVAL apart */
	/* rows and time at the last BAR_RATE_SAMPLES redraws, a ring from
	 * bar_next: the bar's rows/s are over their span */
	long long bar_rows[BAR_RATE_SAMPLES];
	ev_tstamp bar_at[BAR_RATE_SAMPLES];
	int bar_n, bar_next;
	ev_timer watchdog;           /* WATCHDOG=1 when systemd asks for it */
	ev_signal sig_term, sig_int, sig_hup, sig_usr1, sig_usr2;
	int argc;                    /* to parse again on reload */
	char **argv;
	struct metrics metrics;
	bool ready_sent;

	struct throttle thr;
	struct conn mon;             /* health queries and the pace's probe, on
				      * a connection of their own */
	enum mon_query { MON_NONE, MON_HEALTH, MON_PROBE } mon_query;
	bool health_due;             /* a health query waits for the probe */
	double probe_sent;           /* the probe in flight: when, and */
	bool probe_quiet;            /* whether it measures the baseline */
	double mon_tried;            /* the probe's last connection attempt */
	bool probe_commits;          /* the probe in flight takes an xid */
	bool probe_read_only;        /* the server refused that: never again */
	bool probed;                 /* a probe was sent: the timer's from now on */
	bool careful_logged;         /* said once that leases skip locked rows */
	bool no_counter;             /* a session could not create its row
				      * counter: no direct form (batch.h) */
	ev_timer health;
	ev_timer probe;              /* the pace's, every PACE_PROBE_INTERVAL */
	ev_timer runtime;            /* --max-runtime */

	/* The walk this process chose for the passes it starts, and why; a pass
	 * another process began in the other walk is followed in that one
	 * (job.h): bf->target.walk is the walk in force. */
	enum walk own_walk;
	char own_reason[sizeof ((struct target *)0)->walk_reason];
	bool switch_pending;         /* a worker asked for switch_to */
	enum walk switch_to;

	bool stopping;
	bool job_done;
	bool ever_connected;
	bool pooler_ok;
	bool finished;
	int exit_code;

	long long collisions;        /* unique violations retried */
	long long busy;              /* rows skipped, locked by another session */
	bool collision_logged;
	double log10_ids;            /* the id space, idspace.h */

	long long rows_before;       /* filled before this run, per the claim */
	long long rows_last_tick;
	double estimate;             /* rows to fill at start; < 0 unknown */
	ev_tstamp started, last_tick;
	char err[2048];              /* why setup or a check failed */
};

/* Sets up bf's workers (not connected yet). Returns 0, or -1 out of memory. */
int engine_init(struct backfill *bf);
void engine_free(struct backfill *bf);

/* Connects every worker: the run begins. */
void engine_start(struct backfill *bf);

/* Stops every worker after its statement in flight (SIGTERM, max-runtime). */
void engine_stop(struct backfill *bf, const char *why);

/* A reload changed the configuration: batch sizes, session settings. */
void engine_reconfigure(struct backfill *bf);

/* Ends the run with exit code code, at once. */
void engine_finish(struct backfill *bf, int code);

/* The backend pids of the connected workers (for the health query). */
int engine_pids(const struct backfill *bf, int *pids, int max);

/* Batches in flight now. */
int engine_batches(const struct backfill *bf);

/* Whether a worker holds a lease now (batches run, or will). */
bool engine_filling(const struct backfill *bf);

/* Rows this process has filled. */
long long engine_rows(const struct backfill *bf);

#endif
