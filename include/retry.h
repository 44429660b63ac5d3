/*
 * retry.h - what a failed statement's SQLSTATE says to do next, and how
 * long to wait before trying again.
 *
 * One table (retry.c) maps a SQLSTATE, exact or by its two-character
 * class, to a class and to an action for each kind of caller. Errors are
 * told apart by code only, never by message text: libpq and the server
 * word their messages differently across versions and translate them.
 *
 * Pure: no libpq, no libev, no clock. The caller passes the SQLSTATE text
 * (PG_DIAG_SQLSTATE; "" when libpq made the error itself, as for a
 * connection that died mid-query) and, to retry_backoff(), the jitter.
 * retry_jitter() is the one function here that is not deterministic.
 */
#ifndef NB_RETRY_H
#define NB_RETRY_H

/* What a SQLSTATE is, as far as what to do next goes. */
enum retry_class {
	RETRY_CLASS_OTHER,           /* in no row of the table */
	RETRY_CLASS_NO_SQLSTATE,     /* "": libpq's own error, the connection
	                              * is gone */
	RETRY_CLASS_LOCK_TIMEOUT,    /* 55P03: lock_timeout expired */
	RETRY_CLASS_CANCELED,        /* 57014: statement_timeout, or a cancel */
	RETRY_CLASS_SERIALIZATION,   /* 40001 */
	RETRY_CLASS_DEADLOCK,        /* 40P01 */
	RETRY_CLASS_UNIQUE,          /* 23505: a unique index refused a row */
	RETRY_CLASS_CHECK,           /* 23514: a check constraint refused one */
	RETRY_CLASS_INTEGRITY,       /* the rest of class 23: not null, foreign
	                              * key, exclusion */
	RETRY_CLASS_DISCONNECT,      /* class 08, 57P01-57P03: the connection
	                              * or the server is going away */
	RETRY_CLASS_UNDEFINED_TABLE, /* 42P01 */
	RETRY_CLASS_CONFIGURATION,   /* classes 42, 0A, 3F, 22: the target,
	                              * the permissions, a key that does not
	                              * convert */
	RETRY_NCLASSES
};

/* What to do after a failed statement. */
enum retry_action {
	RETRY_FAIL,             /* stop, exit 1: the server's trouble */
	RETRY_AGAIN,            /* send the statement again after
	                         * retry_backoff() */
	RETRY_RECONNECT,        /* the connection is going away: connect
	                         * again after retry_backoff() */
	RETRY_CONFIG,           /* stop, exit 78: no retry can fix it */
};

/* Who asks: the same SQLSTATE calls for different actions. */
enum retry_context {
	/*
	 * The run's statements. Each commits on its own and every lock is a
	 * session lock, so any timeout, serialization failure, deadlock or
	 * (outside a batch) unique violation may be retried.
	 */
	RETRY_ENGINE,
	/*
	 * The one-shot commands (finalize, --add-column, check-config):
	 * blocking, DDL among them. Only a lock not granted (55P03, 40P01)
	 * is retried; 57014 there is the command's own cancel after a
	 * signal. Only class 42 is configuration.
	 */
	RETRY_ONESHOT,
};

/* The class of sqlstate (NULL counts as ""). */
enum retry_class retry_classify(const char *sqlstate);

/* What ctx does after a statement failed with sqlstate (NULL: ""). */
enum retry_action retry_action(enum retry_context ctx, const char *sqlstate);

/*
 * Backoff: the first wait, doubled per retry up to max (seconds). The
 * engine's is short because its statements are small and a lock timeout
 * or a reconnect should cost little; the DDL's starts longer because a
 * lock_timeout already waited.
 */
struct retry_policy {
	double first;
	double max;
};

#define RETRY_POLICY_ENGINE ((struct retry_policy){ .first = 0.1, .max = 30.0 })
#define RETRY_POLICY_DDL ((struct retry_policy){ .first = 0.25, .max = 10.0 })

/*
 * Seconds to wait before a retry, when retries were made already (0
 * before the first): d = min(first * 2^retries, max), then a point in
 * [d/2, d] chosen by jitter in [0, 1] (clamped), so workers and processes
 * that failed together do not retry in step. Deterministic.
 */
double retry_backoff(struct retry_policy p, int retries, double jitter);

/* retry_backoff() in whole milliseconds, for a sleep in ms. */
long retry_backoff_ms(struct retry_policy p, int retries, double jitter);

/* A uniform random jitter in [0, 1], in steps of 1/1000 (libsodium). */
double retry_jitter(void);

#endif
