/*
 * plan.h - the `plan` subcommand: the whole rollout as migration files.
 *
 *   nanoid-backfill plan --table T --column C [--schema S] --out DIR
 *
 * writes sqlx's reversible layout, DIR/<YYYYMMDDHHMMSS>_<description>.up.sql
 * and .down.sql, one pair per step, versions strictly increasing (UTC, and
 * after every version already in DIR):
 *
 *   1 add_C_to_T                       ADD COLUMN IF NOT EXISTS, nullable
 *   2 backfill_C_in_T                  comments only: how to run the backfill
 *   3 add_C_not_null_check_to_T        CHECK (C IS NOT NULL) NOT VALID
 *   4 validate_C_not_null_check_on_T   VALIDATE CONSTRAINT
 *   5 set_C_not_null_on_T              SET NOT NULL, drop the check
 *   6 create_C_unique_index_on_T       CREATE UNIQUE INDEX CONCURRENTLY
 *                                      (starts with "-- no-transaction")
 *
 * --no-not-null leaves out 3-5, --no-unique leaves out 6. Every file that
 * takes a lock on the table sets lock_timeout first; a down that loses
 * data says so in its first comment lines. Identifiers are always quoted
 * (plan needs no database, so no PQescapeIdentifier: db_quote_ident()),
 * names in comments are escaped so that no name can end a comment line,
 * and T and C appear in file names only as a lowercase [a-z0-9_] slug.
 * The check constraint and the index are named as PostgreSQL names
 * constraints (plan_object_name), and `finalize` uses the same names, so
 * the two ways to finish a rollout agree.
 */
#ifndef NB_PLAN_H
#define NB_PLAN_H

#include <stddef.h>
#include <time.h>

#include "config.h"

#define PLAN_MAX_STEPS 6
#define PLAN_MAX_FILES (2 * PLAN_MAX_STEPS)
#define PLAN_NAME_LEN 160

/* Labels of the objects the rollout creates: <table>_<column>_<label>. */
#define PLAN_CHECK_LABEL "not_null_check"
#define PLAN_INDEX_LABEL "key"

/* PostgreSQL's NAMEDATALEN - 1: the longest identifier, in bytes. */
#define PLAN_MAX_IDENT 63

struct plan_file {
	char name[PLAN_NAME_LEN];   /* file name, without directory */
	char *text;                 /* contents */
};

struct plan {
	struct plan_file files[PLAN_MAX_FILES];
	int nfiles;                 /* up, down, up, down, ... by version */
	int nsteps;
};

/*
 * Runs the subcommand for cfg (validated; cfg->out names the directory):
 * builds the plan, writes it, prints each file's path on stdout. Returns
 * the exit code: 0 written; 64 no --out; 78 a bad directory or one that
 * already holds this plan (nothing is written); 1 a write failed (the
 * files written so far are removed again).
 */
int plan_run(const struct config *cfg);

/*
 * Builds the files in memory. first is the version of step 1 (UTC
 * seconds); step i gets first + i - 1. Returns 0, or -1 with one line in
 * err (out of memory). Release with plan_free().
 */
int plan_build(struct plan *p, const struct config *cfg, time_t first,
	       char *err, size_t errlen);
void plan_free(struct plan *p);

/*
 * The version step 1 may use in dir: now, or one second after the latest
 * <YYYYMMDDHHMMSS>_ version already there, whichever is later. Returns 0,
 * or -1 with one line in err if dir cannot be read or holds a version
 * that is not a timestamp and is later than now (nothing could follow it).
 * A missing dir is fine (it is created when the plan is written).
 */
int plan_first_version(const char *dir, time_t now, time_t *first,
		       char *err, size_t errlen);

/*
 * Writes p's files into dir (created if missing; its parent must exist),
 * each created exclusively: an existing file is never overwritten. Fails
 * before writing anything if dir already has a migration with the same
 * description as one of p's. Returns 0; or -1 with one line in err and
 * *config_error set when the directory is the problem (nothing written),
 * cleared when writing failed (what was written is removed again).
 */
int plan_write(const struct plan *p, const char *dir, int *config_error,
	       char *err, size_t errlen);

/*
 * The name PostgreSQL would give a constraint or index on name1's name2,
 * as its makeObjectName() does: "name1_name2_label", the longer of name1
 * and name2 shortened first (at a UTF-8 character boundary) so the whole
 * fits in PLAN_MAX_IDENT bytes. out has PLAN_MAX_IDENT + 1 bytes.
 */
void plan_object_name(const char *name1, const char *name2, const char *label,
		      char out[PLAN_MAX_IDENT + 1]);

/*
 * A name as it may appear in a file name: ASCII letters lowercased, digits
 * kept, every other run of bytes one '_', no '_' at either end, at most
 * len - 1 bytes; "x" if nothing is left.
 */
void plan_slug(const char *name, char *out, size_t len);

#endif
