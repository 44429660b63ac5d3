/*
 * finalize.h - the schema steps around the backfill, carried out online:
 * create the column before it (--add-column), make it NOT NULL and UNIQUE
 * after it (`nanoid-backfill finalize`, or --finalize with --until-done).
 *
 * Every DDL statement runs with lock_timeout = --ddl-lock-timeout and is
 * tried again with backoff (retry.h: RETRY_POLICY_DDL) when its lock
 * times out (55P03) or it is picked as a deadlock victim (40P01), up to
 * --ddl-retries times. The steps are the ones `plan` writes, with the
 * same object names (plan_object_name), so a rollout begun with migration
 * files can be finished here and the other way round:
 *
 *   NOT NULL: ADD CONSTRAINT <t>_<c>_not_null_check CHECK (c IS NOT NULL)
 *             NOT VALID; VALIDATE CONSTRAINT (a scan that blocks neither
 *             reads nor writes); SET NOT NULL and drop the check in one
 *             transaction (PostgreSQL 12+ skips the scan thanks to the
 *             validated check).
 *   UNIQUE:   CREATE UNIQUE INDEX CONCURRENTLY <t>_<c>_key.
 *
 * plan's id default (its step 2) has no counterpart here: it belongs
 * before the backfill, and these steps come after it. A default on the
 * column is left as it is, and changes none of the steps.
 *
 * Idempotent: a step already done is skipped (the column is NOT NULL; a
 * validated check of exactly "c IS NOT NULL" under any name is used as it
 * is; any valid, unique, non-partial index on exactly (c) counts). A
 * second run changes nothing in the catalog.
 *
 * A run that fails leaves nothing of its own behind: a check it added is
 * dropped again, and the INVALID index a failed concurrent build leaves
 * is dropped. A duplicate value is reported by value.
 *
 * A partitioned table (relkind 'p'): the NOT NULL steps are the same on
 * the table (every partition inherits the check, VALIDATE scans each one,
 * and SET NOT NULL skips their scans too, as found on PostgreSQL 15).
 * CREATE INDEX CONCURRENTLY cannot run on it, so UNIQUE goes partition by
 * partition (plan_tree_read() finds them; names from plan_object_name()):
 *
 *   partitioned by the column alone at every level: an index ON ONLY the
 *     table and each partitioned partition (attached to its parent's),
 *     then per leaf CREATE UNIQUE INDEX CONCURRENTLY and ATTACH PARTITION;
 *     with the last one attached the table's index is valid: unique
 *     across the whole table. An INVALID index is never attached.
 *   any other partition key: PostgreSQL cannot enforce the column unique
 *     across partitions (a unique index on a partitioned table must hold
 *     the partition key), so each leaf gets a unique index of its own,
 *     built concurrently, not attached; then one read of the whole table
 *     looks for values in two partitions, which fail the run (exit 1) and
 *     are named. The column is then unique within each partition; later
 *     duplicates across partitions only `verify` finds.
 *
 * Either way a re-run skips what is done (an attached valid index, a
 * valid unique index on the leaf) and drops then rebuilds an INVALID
 * leftover of its own; a foreign-table partition is refused (78).
 */
#ifndef NB_FINALIZE_H
#define NB_FINALIZE_H

#include "config.h"

/*
 * The `finalize` subcommand for cfg (validated). Returns the exit code:
 * 0 the column is NOT NULL and unique (or as much as --no-not-null /
 * --no-unique ask); 1 runtime failure (NULL values left, duplicate
 * values, a lock not granted after the retries, lost connection, stopped
 * by SIGINT/SIGTERM; on a partitioned table also a value in two
 * partitions); 78 the table or column does not exist, the check's or an
 * index's name is taken by another object, or a partition is a foreign
 * table.
 * sodium_init() must have succeeded (backoff jitter).
 */
int finalize_run(const struct config *cfg);

/*
 * Run mode, after backfill_run() returned 0 with --until-done: finalizes
 * if the job's progress row says "done"; if the backfill was stopped by a
 * signal instead, logs that and returns 0 without changing anything.
 * Returns an exit code as finalize_run().
 */
int finalize_after_backfill(const struct config *cfg);

/*
 * Run mode, --add-column, before backfill_run(): if the column is
 * missing, adds it (text, nullable: a catalog change, no rewrite) in a
 * transaction that also runs the backfill's own target check and commits
 * only if it passes, so a target the backfill would refuse gets no column
 * either. Returns 0 (added, or already there), 1 or 78 (the target
 * check's one line, or a missing table).
 */
int finalize_add_column(const struct config *cfg);

#endif
