/*
 * status.h - `nanoid-backfill status`: the jobs recorded in a database.
 *
 *   nanoid-backfill status [--dsn DSN] [--progress-schema NAME]
 *                          [--job NAME] [--config FILE] [--json]
 *
 * Reads the progress tables documented in progress.h (jobs, leases, and the
 * job_progress view where present) in --progress-schema of the database
 * (--dsn, else the PG* environment) and prints one line per job, ordered
 * by job name, in aligned columns:
 *
 *   JOB  TARGET  STATE  ROWS DONE  ROWS LEFT  RATE/S  ETA  UPDATED
 *
 * TARGET is "schema"."table"."column" quoted as SQL would ("" inside a
 * name); ROWS LEFT is an estimate (0 once done); RATE/S is the sum of the
 * rates of the leases updated in the last 30 s (running jobs only); ETA is
 * ROWS LEFT / RATE as h:mm:ss; UPDATED is the age of the job's last write
 * ("3s ago"). "-" where a value is unknown. Control characters in names
 * are shown as \xHH, so a name cannot break the table.
 *
 * --json prints a JSON array instead, one object per job:
 *   {"job", "schema", "table", "column", "target", "state": strings;
 *    "rows_done": integer; "rows_left", "rate", "eta_seconds": number or
 *    null; "updated_at": ISO 8601 UTC string; "updated_seconds_ago": number}
 * Strings are escaped per RFC 8259 (bytes that are not UTF-8 become
 * U+FFFD), so any name yields valid JSON.
 *
 * Options are the common ones (config.h's key table), of which status
 * uses dsn, progress-schema, job and the target, and --json: --job NAME lists
 * that job only; without a job, a target (a job file's, or --table and
 * --column) selects its job by schema, table and column. --config FILE
 * takes them from a job file (the command line wins).
 *
 * No progress schema or table in the database means no job has ever run
 * there: that is not an error. Text output says "no jobs recorded in
 * database ..." and --json prints [], both with exit 0.
 */
#ifndef NB_STATUS_H
#define NB_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

struct status_job {
	char *job, *schema, *table, *column, *state;
	long long rows_done;
	double rows_left;           /* < 0: unknown */
	double rate;                /* rows/s; < 0: unknown */
	double updated_ago;         /* seconds since the last write */
	char *updated_at;           /* ISO 8601, UTC */
};

/*
 * The subcommand, for cfg as config_parse_args() left it (status needs no
 * target, so config_validate() is not asked): dsn and progress_schema say
 * where, job or else table, column and schema select; json is --json, a
 * flag of status alone (config_parse_args_flags). Returns the exit code:
 * 0 listed (or nothing recorded), 1 cannot connect, the query failed, or
 * the job asked for is not recorded; 78 bad dsn. (64 and a bad job file's
 * 78 come from the parser, before.)
 */
int status_run(const struct config *cfg, bool json);

/* Writes jobs[0..n-1] as the aligned table (a header line first), or as
 * the JSON array. */
void status_print_table(FILE *out, const struct status_job *jobs, int n);
void status_print_json(FILE *out, const struct status_job *jobs, int n);

/* Writes s as a JSON string literal, quotes included. */
void status_json_string(FILE *out, const char *s);

/* "h:mm:ss" for seconds >= 0, "-" for < 0 or absurd values. */
void status_format_eta(char *buf, size_t len, double seconds);

/* "3s ago", "5m ago", "2h ago", "4d ago". */
void status_format_age(char *buf, size_t len, double seconds);

#endif
