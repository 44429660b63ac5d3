/*
 * batch.h - the one-round-trip batch statement and its parameters.
 *
 * One execution of the statement, in one implicit transaction:
 *   - picks the next `limit` keys past the cursor whose column is NULL
 *     (keyset pagination over the key's btree order: each batch starts where
 *     the last one ended, never rescanning filled rows);
 *   - fills those rows with the ids sent along, but only where the column is
 *     still NULL when the row is locked (the guard: a value the application
 *     wrote meanwhile is never overwritten);
 *   - moves the job's cursor in the progress table and counts the rows;
 *   - returns rows found, rows filled, and the new cursor.
 * Because the progress row changes in the same transaction as the data,
 * after a crash the stored cursor is exactly where the committed data is.
 *
 * Parameters: $1 limit (int4, binary), $2 the ids back to back (bytea,
 * binary: generated straight into the parameter buffer, no per-row
 * encoding), $3 the length of one id (int4, binary), $4 the job name (text),
 * $5.. the cursor key values (text, typed by the key columns' types).
 */
#ifndef NB_BATCH_H
#define NB_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "config.h"
#include "nanoid.h"
#include "target.h"

#define BATCH_STMT_FIRST "nanoid_backfill_first"
#define BATCH_STMT_NEXT "nanoid_backfill_next"
#define BATCH_FIXED_PARAMS 4

struct batch {
	char *sql_first;             /* without a cursor: start of a pass */
	char *sql_next;              /* past the cursor */
	char *sql_remaining;         /* does any NULL remain? */
	int nkeys;
	Oid types[BATCH_FIXED_PARAMS + CONFIG_MAX_KEYS];

	long limit;                  /* rows per batch */
	size_t id_len;
	unsigned char *ids;          /* limit * id_len bytes */
	size_t ids_cap;
	unsigned char limit_be[4], id_len_be[4];
	const char *job;

	char *cursor[CONFIG_MAX_KEYS]; /* text of the last key done; NULL: none */
	bool has_cursor;

	const char *values[BATCH_FIXED_PARAMS + CONFIG_MAX_KEYS];
	int lengths[BATCH_FIXED_PARAMS + CONFIG_MAX_KEYS];
	int formats[BATCH_FIXED_PARAMS + CONFIG_MAX_KEYS];
};

/*
 * Builds the statements for target t, with the progress table
 * progress_table (already quoted), quoting every identifier with
 * PQescapeIdentifier on conn. job must outlive b. Returns 0, or -1 with
 * the reason in err. Release with batch_free().
 */
int batch_build(struct batch *b, PGconn *conn, const struct target *t,
		const char *progress_table, const char *job, size_t id_len,
		char *err, size_t errlen);

/* Sets the rows per batch (grows the id buffer); returns 0 or -1 (OOM). */
int batch_set_limit(struct batch *b, long limit);

/* Sets or clears (values == NULL) the cursor; values has nkeys strings. */
void batch_set_cursor(struct batch *b, char *const *values);

/*
 * Generates limit fresh ids into the parameter buffer and fills values/
 * lengths/formats. Returns the statement name to execute and sets
 * *nparams. Each call draws new ids, so a retried batch never reuses them.
 */
const char *batch_prepare_params(struct batch *b, struct nanoid *gen,
				 int *nparams);

/*
 * Reads a batch result: rows found past the cursor and rows filled, and
 * moves the cursor to the last key found. Returns 0, or -1 if the result
 * has an unexpected shape.
 */
int batch_read_result(struct batch *b, const PGresult *res, long *found,
		      long *filled);

void batch_free(struct batch *b);

/*
 * Quotes one identifier with PQescapeIdentifier into a malloc'ed string;
 * NULL on failure (conn's error message says why).
 */
char *batch_quote(PGconn *conn, const char *name);

#endif
