/*
 * catalog.h - what PostgreSQL's catalog says about a backfill target, in
 * one place: the text of the queries that read it, their parameters, the
 * reading of their result rows, and the one line each refusal is told in.
 *
 * Nothing here executes a query. The run sends the target query on its
 * nonblocking connection (target_send), `--check-config`, `finalize`,
 * `verify`, `plan` and --add-column run the same text on a blocking one
 * (db.h); all read the rows here, so a missing table, a missing column, a
 * missing grant or row-level security is worded the same whichever
 * command meets it. Every refusal is a configuration error (exit 78).
 *
 * Names are resolved exactly as given (CATALOG_REGCLASS_SQL): the user
 * never quotes SQL, and no value is ever spliced into the query text.
 */
#ifndef NB_CATALOG_H
#define NB_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "config.h"
#include "target.h"

/*
 * SQL for the oid of the table named by $1 (schema, or NULL: through
 * search_path) and $2 (table), names exactly as in the catalog: quote_ident
 * keeps 'Order "Items"' one name, not SQL. NULL if there is no such table
 * (to_regclass does not raise). Every query here resolves names this way.
 */
#define CATALOG_REGCLASS_SQL \
	"CASE WHEN $1::text IS NULL THEN to_regclass(quote_ident($2::text))" \
	" ELSE to_regclass(quote_ident($1::text) || '.' || quote_ident($2::text)) END"

/* ---- the run's target query: everything the backfill needs ---------- */

/* The target query's parameters, for PQsendQueryParams and PQexecParams. */
struct catalog_params {
	Oid types[4];
	const char *values[4];
	int lengths[4];
	int formats[4];
	unsigned char keys[8192];       /* $4, binary text[] of --key names */
};

#define CATALOG_TARGET_NPARAMS 4

/*
 * The target query's text: one row per key column (one row with NULL key
 * fields when there is no key), read-only, catalog only.
 */
const char *catalog_target_sql(void);

/*
 * Fills p for config c (validated: key_columns set). Returns 0, or -1 with
 * one line in err if the --key names do not fit. p must stay put while
 * the query is sent.
 */
int catalog_target_params(const struct config *c, struct catalog_params *p,
			  char *err, size_t errlen);

/*
 * Reads the target query's result for c and id_len (prefix + size, in
 * characters) into t: the table, the column, the key and the role's
 * privileges. Refuses (-1, one line in err) what no walk can backfill: a
 * missing table or column, a column of the wrong type or too short, a
 * generated or partition-key or foreign-key column, a rule, a temporary
 * table, a foreign partition, a key that names missing columns or the
 * column itself, a missing privilege, row-level security. A key that
 * exists but cannot serve key order is not refused here: its reason is
 * in t->key_problem, and the walk is decided by target_check(). Returns 0
 * with t owning heap copies (target_free()); t->walk is not set.
 */
int catalog_target_read(struct target *t, const PGresult *res,
			const struct config *c, size_t id_len, char *err,
			size_t errlen);

/* ---- the table and column, for the one-shot commands ----------------- */

/* The table as `plan`, `finalize`, `verify` and `--check-config` see it. */
struct catalog_table {
	char oid[16];               /* pg_class oid, as text */
	char nspid[16];             /* pg_namespace oid, as text */
	char *schema, *table;       /* as in the catalog */
	char kind;                  /* relkind: 'r' or 'p' once read */
	bool has_column;
	char attnum[8];             /* the column's, as text; "" without one */
	bool notnull;               /* the column is NOT NULL */
	char *unique_index;         /* a valid unique index on the column
				     * alone (regclass text); NULL if none */
	bool rls;                   /* row-level security applies to the role */
	char *role;                 /* current_user */
	char shown[300];            /* "schema"."table", for messages */
};

#define CATALOG_TABLE_NPARAMS 3

/* The table query's text: one row, or none if there is no such table. */
const char *catalog_table_sql(void);

/* Its text parameters for c: schema (or NULL), table, column. */
void catalog_table_params(const struct config *c,
			  const char *values[CATALOG_TABLE_NPARAMS]);

/*
 * Reads the table query's result into t. Returns 0; or -1 with one line
 * in err: no such table, not a table, or (need_column) no such column;
 * or -2 with "out of memory" in err. Release t with catalog_table_free()
 * whatever it returned.
 */
int catalog_table_read(struct catalog_table *t, const PGresult *res,
		       const struct config *c, bool need_column, char *err,
		       size_t errlen);
void catalog_table_free(struct catalog_table *t);

/* ---- the rules and the lines shared by every command ------------------- */

/*
 * The job name for a target: job (--job) if given, else
 * "<schema>.<table>.<column>" of the table as resolved. A new string the
 * caller free()s; NULL if out of memory.
 */
char *catalog_job_name(const char *job, const char *schema, const char *table,
		       const char *column);

/*
 * The one line for a table that was not found: with its schema if one was
 * given, else saying that search_path was used.
 */
void catalog_missing_table(const struct config *c, char *err, size_t errlen);

/*
 * The one line refusing a role that row-level security applies to on rel
 * (quoted): who ("the backfill", "verify") would see only some rows.
 */
void catalog_rls_refusal(char *err, size_t errlen, const char *role,
			 const char *rel, const char *who);

#endif
