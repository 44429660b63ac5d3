/*
 * plan.h - the `plan` subcommand: the whole rollout as migration files.
 *
 *   nanoid-backfill plan --table T --column C [--schema S] --out DIR [--dsn DSN]
 *                        [--format FORMAT]
 *
 * writes the steps as migrations of one tool (plan_format.h: each format's
 * files, versions, up/down pairing and marker for a step outside a
 * transaction). The default, sqlx, is its reversible layout,
 * DIR/<YYYYMMDDHHMMSS>_<description>.up.sql and .down.sql, one pair per
 * step, versions strictly increasing (UTC, and after every version
 * already in DIR; psql's step numbers after the highest there):
 *
 *   1 add_C_to_T                       ADD COLUMN IF NOT EXISTS, nullable
 *   2 set_C_default_on_T               CREATE OR REPLACE FUNCTION T_C_nanoid()
 *                                      (plan_object_name, in T's schema): an
 *                                      id of cfg's alphabet, size and prefix
 *                                      (rollout_id_function); SET DEFAULT it.
 *                                      Down: DROP DEFAULT, DROP FUNCTION
 *   3 backfill_C_in_T                  comments only: how to run the backfill,
 *                                      and the format's id space (idspace.h)
 *   4 add_C_not_null_check_to_T        CHECK (C IS NOT NULL) NOT VALID
 *   5 validate_C_not_null_check_on_T   VALIDATE CONSTRAINT
 *   6 set_C_not_null_on_T              SET NOT NULL, drop the check
 *   7 create_C_unique_index_on_T       CREATE UNIQUE INDEX CONCURRENTLY
 *                                      (outside a transaction: in sqlx
 *                                      the file starts "-- no-transaction")
 *
 * --no-default (cfg->no_default) leaves out 2, --no-not-null 4-6,
 * --no-unique 7. `finalize` has no default step: it makes the column NOT
 * NULL and UNIQUE with or without a default and leaves one in place.
 * --null-index (cfg->null_index) adds two steps, both outside a transaction:
 *
 *   create_C_null_index_on_T           after the backfill: CREATE INDEX
 *                                      CONCURRENTLY IF NOT EXISTS
 *                                      T_C_null_idx ON T
 *                                      (--key's columns, else C)
 *                                      WHERE C IS NULL
 *   drop_C_null_index_on_T             last (unless --no-not-null: the
 *                                      column stays nullable): DROP INDEX
 *                                      CONCURRENTLY IF EXISTS; its down
 *                                      builds the index again
 *
 * Every file that
 * takes a lock on the table sets lock_timeout first; a down that loses
 * data says so in its first comment lines. Identifiers are always quoted
 * (plan builds the files without a connection: pgconn_quote_ident()), names
 * in comments are escaped so that no name can end a comment line, and
 * names appear in file names only as a lowercase [a-z0-9_] slug.
 * The check constraint and the indexes are named as PostgreSQL names
 * constraints (plan_object_name), and `finalize` uses the same names, so
 * the two ways to finish a rollout agree.
 *
 * Without --dsn plan reads no catalog and plans for a plain table. With
 * --dsn it reads the table's partition tree (plan_tree_read); for a
 * partitioned table step 7 becomes one step per partition, since CREATE
 * INDEX CONCURRENTLY cannot run on a partitioned table:
 *
 *   tree partitioned by C alone at every level (plan_tree.global):
 *     create_C_unique_index_on_only_T    CREATE UNIQUE INDEX ... ON ONLY
 *                                        the table and every partitioned
 *                                        partition, the latter attached
 *     create_C_unique_index_on_<leaf>    per leaf partition, CONCURRENTLY
 *                                        ("-- no-transaction")
 *     attach_C_unique_indexes_on_T       ALTER INDEX ... ATTACH PARTITION
 *                                        of every leaf's index, after a
 *                                        check that each one is valid;
 *                                        the index of T is then valid
 *   any other partition key:
 *     create_C_unique_index_on_<leaf>    per leaf partition, CONCURRENTLY,
 *                                        not attached: C unique within
 *                                        each partition (PostgreSQL cannot
 *                                        enforce it across partitions)
 *
 * and --null-index's two steps become one per leaf partition that is a
 * table (a foreign table gets none): create_C_null_index_on_<leaf> after
 * the backfill, drop_C_null_index_on_<leaf> at the end.
 */
#ifndef NB_PLAN_H
#define NB_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <libpq-fe.h>

#include "config.h"
#include "plan_format.h"

#define PLAN_NAME_LEN 160

/* Labels of the objects the rollout creates: <table>_<column>_<label>. */
#define PLAN_CHECK_LABEL "not_null_check"
#define PLAN_INDEX_LABEL "key"
#define PLAN_NULL_INDEX_LABEL "null_idx"
#define PLAN_DEFAULT_LABEL "nanoid"       /* the id function */

/* PostgreSQL's NAMEDATALEN - 1: the longest identifier, in bytes. */
#define PLAN_MAX_IDENT 63

struct plan_file {
	char name[PLAN_NAME_LEN];   /* file name, without directory */
	char *text;                 /* contents */
};

struct plan {
	struct plan_file *files;    /* each step's files in step order, as
	                             * its format writes them (sqlx: up, down) */
	int nfiles;
	int nsteps;
	const struct plan_format *format;   /* cfg->format's (plan_format.h) */
};

/* One table of a partition tree. */
struct plan_rel {
	char *schema, *name;        /* as in the catalog */
	char oid[16];               /* pg_class oid, as text */
	int parent;                 /* index of its parent in rels; -1: the root */
	char kind;                  /* 'p' partitioned, 'r' table, 'f' foreign table */
};

/*
 * A partitioned table and every partition under it. Leaves are the
 * tables that hold rows ('r' and 'f'); the others are partitioned ('p').
 */
struct plan_tree {
	struct plan_rel *rels;      /* rels[0] is the root; parents before their partitions */
	int nrels;
	int nleaves;
	/* Every partitioned table of the tree is partitioned by the column
	 * alone, so one unique index on (column) can span the tree. Otherwise
	 * PostgreSQL refuses it: a unique index on a partitioned table must
	 * include the partition key. */
	bool global;
	char *partkeys;             /* the tree's partition keys, "LIST (region), HASH (id)" */
	/* The planner's row count of the whole table, partitioned or not
	 * (db_planned_rows), which plan_run reads with the tree; 0 or less:
	 * not known. Step 2 then also gives p(collision) for that many ids. */
	double rows;
};

/*
 * Runs the subcommand for cfg (validated; cfg->out names the directory):
 * with cfg->dsn, reads the table's partition tree first; builds the plan,
 * writes it, prints each file's path on stdout. Returns the exit code:
 * 0 written; 64 no --out; 78 a bad directory or one that already holds
 * this plan, or (with --dsn) no such table, or a foreign-table partition
 * without --no-unique (nothing is written); 1 a write failed (the files
 * written so far are removed again), or the database could not be read.
 */
int plan_run(const struct config *cfg);

/*
 * Builds the files in memory. first is the version of step 1 (UTC
 * seconds); step i gets first + i - 1. tree: NULL when the catalog was
 * not read (the steps of a plain table, and the index step says to plan
 * with --dsn for a partitioned one); else what plan_tree_read() found,
 * nrels 0 for a plain table. The files are in cfg->format's layout
 * (NULL: sqlx). Returns 0; -1 with one line in err (out of memory); -2
 * with one line in err when the format cannot carry a name (plan_format.h;
 * a config error). Release with plan_free().
 */
int plan_build(struct plan *p, const struct config *cfg,
	       const struct plan_tree *tree, time_t first, char *err,
	       size_t errlen);
void plan_free(struct plan *p);

/*
 * Reads the partition tree under the table whose pg_class oid is root
 * (text) on conn: every partition at every level, parents first, then by
 * schema and name. column decides plan_tree.global (it need not exist
 * yet). A table that is not partitioned gives nrels = 0. Returns 0, or -1
 * with one line in err (SQL error, out of memory). Release with
 * plan_tree_free() (also after an error).
 */
int plan_tree_read(PGconn *conn, const char *root, const char *column,
		   struct plan_tree *t, char *err, size_t errlen);
void plan_tree_free(struct plan_tree *t);

/* The first foreign-table partition of t (no index can be built on it),
 * or NULL. */
const struct plan_rel *plan_tree_foreign(const struct plan_tree *t);

/*
 * The version step 1 may use in dir, among f's migrations there: now, or
 * one second after the latest <YYYYMMDDHHMMSS> version already there,
 * whichever is later; for a format numbered in sequence (psql), one after
 * the highest number there, else 1. Returns 0, or -1 with one line in err
 * if dir cannot be read or holds a version that is not a timestamp and
 * is later than now (nothing could follow it). A missing dir is fine (it
 * is created when the plan is written).
 */
int plan_first_version(const char *dir, const struct plan_format *f,
		       time_t now, time_t *first, char *err, size_t errlen);

/*
 * Writes p's files into dir (created if missing; its parent must exist),
 * each created exclusively: an existing file is never overwritten. Fails
 * before writing anything if dir already has a migration of p's format
 * with the same description as one of p's. Returns 0; or -1 with one line in err and
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
