/*
 * verify.h - the `verify` subcommand: is every row's id there, distinct
 * and well formed?
 *
 *   nanoid-backfill verify --table T --column C [--schema S]
 *                          [--size N] [--alphabet A] [--prefix P]
 *
 * One scan of the table in a REPEATABLE READ READ ONLY transaction (one
 * snapshot for every count and sample) counts the rows, the NULLs, the
 * values that occur more than once, and the values that are not the
 * configured prefix followed by exactly size symbols of the alphabet.
 * Prints a summary on stdout, with up to five samples of each problem
 * (control characters shown as \xHH), and whether the column is NOT NULL
 * and has a unique index (information only).
 *
 * A partitioned table is read as a whole: a value in two partitions is a
 * duplicate like any other, which matters because PostgreSQL can keep
 * the column unique across partitions only when the table is partitioned
 * by it. The summary then also counts the leaf partitions and, without a
 * unique index over the table, how many have one of their own.
 */
#ifndef NB_VERIFY_H
#define NB_VERIFY_H

#include "config.h"

/*
 * Runs the subcommand for cfg (validated). Returns 0 clean;
 * NB_EXIT_NOT_CLEAN (exit_codes.h) problems found; 1 runtime failure (cannot connect,
 * SQL error, stopped by SIGINT/SIGTERM); 78 no such table or column, or
 * row-level security would hide rows from the role.
 */
int verify_run(const struct config *cfg);

#endif
