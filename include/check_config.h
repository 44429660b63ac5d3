/*
 * check_config.h - `--check-config`: the job checked as a run would check
 * it, with nothing written.
 *
 *   nanoid-backfill --config /etc/nanoid-backfill/orders.conf --check-config
 *
 * The options and job file have been parsed and validated by then (a bad
 * key or value has already ended the process with 64 or 78). This module
 * connects, makes the session read-only (default_transaction_read_only),
 * runs the run's own catalog check (catalog.h, target_check), and checks
 * what a run would otherwise only find out when it writes:
 *   - the role may SELECT the key and the column and UPDATE the column;
 *   - the progress tables can be created (CREATE on the database or the
 *     schema) or, if they exist, written;
 *   - the job name is not recorded for another target;
 *   - the id format against the table's rows, by the birthday bound
 *     (idspace_judge): the rows are the planner's estimate (EXPLAIN, no
 *     scan), "unique" a valid unique index on exactly the column that
 *     covers the whole target (a table without children, or a partitioned
 *     table), --allow-duplicates from the config.
 * It never creates the progress schema or anything else.
 */
#ifndef NB_CHECK_CONFIG_H
#define NB_CHECK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * Runs the check for cfg (validated). On success prints two lines on
 * stdout, `configuration OK: "schema"."table"."column" by key (k1, k2);
 * job "name"` and `ids: 21 symbols of 64 (10^37.9 distinct ids); 1e+09
 * ids: p(collision) ~ 5.9e-21[; for the table's rows, N ids: ...]`, logs
 * the birthday bound's warning if there is one, and returns 0. Otherwise
 * logs the one error line a run would log and returns its exit code: 78
 * for a bad dsn, a target that cannot be backfilled, a missing privilege,
 * a job name taken by another target, or ids the rule refuses; 1 when the
 * server cannot be reached or fails.
 * With --add-column and a missing column, the table is checked and the
 * line says the column will be added (the run checks the rest of the
 * target in the transaction that adds it).
 */
int check_config_run(const struct config *cfg);

/*
 * Whether dsn is usable by libpq: a conninfo string or URI that
 * PQconninfoParse accepts, or a bare database name; NULL (the PG*
 * environment) is. If not, returns false with "--dsn: <libpq's reason>"
 * in err (libpq never quotes a password's value there).
 */
bool check_config_dsn(const char *dsn, char *err, size_t errlen);

#endif
