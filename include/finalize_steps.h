/*
 * finalize_steps.h - what the two halves of `finalize` share: the target
 * as resolved (struct fin) and the helpers every step runs its SQL
 * through. finalize.c holds the commands, NOT NULL and UNIQUE on a table;
 * finalize_partitioned.c UNIQUE on a partitioned table. Internal to
 * finalize (finalize.h is its contract).
 *
 * Every helper that fails logs one error line; those returning an int
 * return 0 or the exit code.
 */
#ifndef NB_FINALIZE_STEPS_H
#define NB_FINALIZE_STEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "catalog.h"
#include "config.h"
#include "pgtext.h"
#include "plan.h"

struct fin {
	const struct config *cfg;
	PGconn *conn;
	struct catalog_table t;     /* the target, resolved */
	/* kind 'p': the partitions (read before the unique steps) */
	struct plan_tree tree;
	bool per_partition;         /* unique within each partition only */
	char shown[1024];           /* "schema"."table"."column" for messages */
	/* quoted with PQescapeIdentifier */
	char *qt, *qc;
	char chk[PLAN_MAX_IDENT + 1], idx[PLAN_MAX_IDENT + 1];
	char *qidx;                 /* "index" */
	char *qidx_full;            /* "schema"."index" */
};

/*
 * Runs one DDL statement (or several, atomically), tried again with
 * backoff while its lock times out, up to --ddl-retries times. cleanup,
 * if given, runs before each retry. Returns the last result, which the
 * caller checks and clears. cleaning: this is itself cleanup, so it is
 * not cancelled by a signal.
 */
PGresult *fin_ddl(struct fin *f, const char *sql, const char *what,
		  const char *cleanup, bool cleaning);

/* One error line for a failed step what; clears res. Returns exit code 1. */
int fin_fail(struct fin *f, PGresult *res, const char *what);

/* Runs a read-only query; NULL (after one error line) on failure. */
PGresult *fin_query(struct fin *f, const char *sql, int n,
		    const char *const *v, const char *what);

/* Whether a read-only query has any row: 1, 0, or -1 after one error line. */
int fin_any_row(struct fin *f, const char *sql, int n, const char *const *v,
		const char *what);

/* s, or (NULL: out of memory) one error line and exit 1: a one-shot
 * command has nothing to fall back to. */
char *fin_sql(char *s);
#define sqlf(...) fin_sql(pgtext_printf(__VA_ARGS__))

/* Drops an index of ours a failed concurrent build left INVALID: qfull
 * quoted with its schema, shown as in messages. */
void fin_drop_invalid(struct fin *f, const char *qfull, const char *shown);

/* printf at buf + *o (len bytes in all), moving *o; cuts what does not fit. */
void fin_appendf(char *buf, size_t len, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* One error line naming the duplicate values of the column (up to five). */
void fin_report_duplicates(struct fin *f);

/* A valid unique index on the column alone, $1 the table's oid, $2 the
 * column's attnum: the rollout's end state. */
extern const char fin_unique_index_sql[];

/* 1 (and says so) if the column has such an index already, 0 if not, -1
 * on error. */
int fin_already_unique(struct fin *f);

/* Partitioned table, before any DDL: reads the tree, refuses a foreign
 * partition, checks the indexes' names. */
int fin_partitions(struct fin *f);

/* Partitioned table: the UNIQUE step. */
int fin_unique_partitioned(struct fin *f);

#endif
