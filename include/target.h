/*
 * target.h - the table, column and key the run backfills, and how it
 * walks them.
 *
 * One catalog query (catalog.h's target query) resolves everything,
 * read-only; the engine sends it on its own connection (target_send),
 * the one-shot commands on theirs. target_check() reads the answer
 * (catalog_target_read: whether the backfill can run at all) and decides
 * how to walk the table (enum walk). Every refusal is a configuration
 * error (exit 78) with one line naming the object and the problem, and
 * happens before anything is written.
 */
#ifndef NB_TARGET_H
#define NB_TARGET_H

#include <stddef.h>
#include <libpq-fe.h>

#include "config.h"

/*
 * How the table is walked:
 *   WALK_KEY       keyset batches in the key's btree order; leases and
 *                  cursors are key values. A single table whose key an
 *                  index serves in its column order.
 *   WALK_PHYSICAL  block ranges of the heap, with TID range scans
 *                  (PostgreSQL 14+); leases are (relation, block range),
 *                  cursors a ctid. Needs no key and no statistics; each
 *                  partition or child of a tree is walked as a table of
 *                  its own, so a ctid is only ever matched within the
 *                  relation it came from.
 * --order auto walks by key only in a service (no --until-done) where the
 * key is a single integer column known to follow the heap
 * (|pg_stats.correlation| >= TARGET_KEY_CORRELATION): there both read the
 * same pages in the same order, the key's cursor survives updates that
 * move rows, and a pass after the first walks only the keys past the
 * high-water mark (which only an integer key has).
 * Everywhere else physical order reads each page once, where key order
 * reads a random page per row; under --until-done it does so even for a
 * key that follows the heap, as its batches need no index scan.
 */
enum walk { WALK_KEY, WALK_PHYSICAL };

#define TARGET_KEY_CORRELATION 0.9

struct target {
	char *schema;                       /* resolved, as in the catalog */
	char *table;
	char *column;
	char *keys[CONFIG_MAX_KEYS];        /* key columns, in key order */
	Oid key_types[CONFIG_MAX_KEYS];
	int nkeys;
	double reltuples;                   /* -1 if never analyzed */
	double null_frac;                   /* from pg_stats, 1 if unknown */
	Oid oid;                            /* the table (the tree's root) */
	bool tree;                          /* partitioned, or has children */
	long leaves;                        /* tables in it that hold rows */
	double correlation;                 /* of the first key column; NAN unknown */
	double planned_rows;                /* the planner's count of the whole
					     * tree (exists without ANALYZE); -1 unknown */
	Oid col_type;                       /* the column's type, a domain's own */
	bool plain_text;                    /* text or varchar underneath: its
					     * values compare as the ids' text */
	bool unique_index;                  /* a valid unique index on the column
					     * alone covers the whole target */
	char **id_indexes;                  /* (schema, table, index) of each
					     * unique index on the column, in
					     * threes; NULL-terminated */
	int nid_indexes;
	char *triggers;                     /* BEFORE UPDATE row triggers, for
					     * messages; NULL if none */
	bool plain_update;                  /* no trigger fires on an UPDATE of
					     * the tree, and the server counts row
					     * updates (track_counts): batch.h's
					     * counted direct form may run */
	enum walk walk;
	bool key_ok;                        /* the key can be walked (a single table) */
	char key_problem[CONFIG_ERR_LEN];   /* why the key cannot serve key
					     * order; "" if it can */
	char walk_reason[1024];             /* why this walk, for the first log line */
};

struct conn;

/*
 * Sends the catalog's target query for config c on w (see conn_send
 * for the return value). Its result goes to target_check(). c must have
 * passed config_validate(), which fills the key column list.
 */
int target_send(struct conn *w, const struct config *c);

/*
 * Checks the target query's result against c and id_len (prefix + size,
 * in characters) and fills t, its walk included. Returns 0, or -1 with
 * one line in err. On success t owns heap copies; release with
 * target_free().
 */
int target_check(struct target *t, const PGresult *res,
		 const struct config *c, size_t id_len, char *err,
		 size_t errlen);

/*
 * Is index (in schema, on table: the fields of a unique violation) one
 * that involves the column, so that new ids can satisfy it?
 */
bool target_id_index(const struct target *t, const char *schema,
		     const char *table, const char *index);

/*
 * Rows the table holds, for judging the id space: the last ANALYZE's
 * count where there is one (the planner's scales it by the heap's size
 * now, which dead row versions, a stopped run's own, inflate); else the
 * planner's; -1 if unknown.
 */
double target_rows(const struct target *t);

/* Estimated rows still NULL when the check ran; -1 if unknown. */
double target_estimate(const struct target *t);

/* Key values in a lease bound or cursor: the key's columns, or one ctid. */
int target_width(const struct target *t);

/* A single key column of an integer type: a high-water mark exists. */
bool target_int_key(const struct target *t);

/* "key" or "physical": as the job row records it. */
const char *target_walk_name(enum walk w);

void target_free(struct target *t);

#endif
