/*
 * batch.h - the statements over the target table: the one-round-trip batch,
 * the lease boundary query, and the "any NULL left?" check.
 *
 * One execution of the batch statement, in one implicit transaction:
 *   - picks the next `limit` keys past the cursor (and not past the lease's
 *     upper bound) whose column is NULL, in the key's btree order: keyset
 *     pagination, each batch starting where the last ended;
 *   - waits at most 50 ms for a row the application holds locked (and
 *     fails with 55P03); the engine then runs the rest of the lease in the
 *     careful form (BATCH_CAREFUL), which locks the rows without waiting
 *     (FOR NO KEY UPDATE SKIP LOCKED): a locked row is skipped and counted
 *     busy, and a lease whose walk ends with busy rows starts again from
 *     its start after a backoff (progress.h: busy, retries, retry_at), so
 *     they are filled once released, within the pass. The fast form costs
 *     nothing when nobody holds a row; the careful one a lock record in
 *     the WAL per row (about a quarter more time), so it is for leases
 *     that need it;
 *   - fills the rows it locked with the ids sent along, but only where the
 *     column is still NULL (the guard: a value the application wrote
 *     meanwhile is never overwritten): the direct form (BATCH_DIRECT, the
 *     default) with one UPDATE of the key range (cursor, last key found],
 *     numbering the rows as it goes with the session's counter, the fast
 *     and careful forms by joining back to the rows found by ctid;
 *   - moves the lease's cursor and counters in the progress table, and marks
 *     the lease done when the batch came up short;
 *   - with the id guard (a unique index on the column and an id space
 *     small enough that ids will meet: see idspace.h), skips a row whose
 *     new id the table has already, leaving it NULL for the next pass
 *     instead of failing the whole batch on the unique index;
 *   - returns rows found, rows filled (that hold a value after the UPDATE:
 *     a BEFORE trigger may skip a row or set it back to NULL), rows the
 *     guard skipped, rows updated and left NULL, rows busy, and the new
 *     cursor.
 * Because the lease row changes in the same transaction as the data, after
 * a crash the stored cursor is exactly where the committed data is.
 * (Physical order's direct form may be two statements, the UPDATE and its
 * tally, sent as one pipeline: still one round trip and one transaction;
 * see batch_counted_stmts.)
 *
 * Parameters: $1 limit (int4, binary), $2 the ids back to back (bytea,
 * binary: generated straight into the parameter buffer, no per-row
 * encoding), $3 the length of one id (int4, binary), $4 job (text), $5 lease
 * (int4, text), $6 the worker's rate in rows/s (float8, text), then the
 * cursor's key values (text, typed by the key columns' types), then the
 * lease's upper bound's, then the counter's base (int8: the direct
 * variants number their rows from it). A statement variant that has no
 * cursor or no upper bound ignores those parameters.
 */
#ifndef NB_BATCH_H
#define NB_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "config.h"
#include "nanoid.h"
#include "target.h"

#define BATCH_FIXED_PARAMS 6
#define BATCH_MAX_PARAMS (BATCH_FIXED_PARAMS + 2 * CONFIG_MAX_KEYS)

/* Statement variants: with a lower bound (cursor), with an upper bound,
 * careful (locking without waiting, for a lease with rows the application
 * holds locked) or direct (no join back to the rows found: see the forms
 * of physical order below, which are the same three). Never careful and
 * direct at once: 0-7, then 8-11 direct. No direct one with the guard. */
#define BATCH_LOWER 1
#define BATCH_UPPER 2
#define BATCH_CAREFUL 4
#define BATCH_DIRECT 8
#define BATCH_VARIANTS 12

/* Built once per process; shared by every worker. */
struct batch_sql {
	char *stmt[BATCH_VARIANTS];     /* by BATCH_LOWER | BATCH_UPPER | BATCH_CAREFUL
					 * or BATCH_DIRECT; NULL: not built */
	char *boundary[2];              /* lease boundary: [0] from start, [1] past $2.. */
	char *boundary_int;             /* integer key: by arithmetic, no scan */
	bool int_key;                   /* a single int2/int4/int8 key column */
	char *remaining;                /* SET statement_timeout = 0; SELECT EXISTS (... IS NULL) */
	char *estimate;                 /* EXPLAIN (FORMAT JSON) SELECT 1 FROM the table */
	/* Before a service pass: is anything NULL (full: anywhere; tail: past
	 * $1 of a single integer key)? Answer: that, and the key's max (NULL
	 * if not an integer key). The full probe lifts statement_timeout and
	 * turns sequential scans on, as remaining does. */
	char *probe_full, *probe_tail;
	/* The rows still NULL: a count, and a few of them as keys (or ctids,
	 * after the table for a tree), for the message when they cannot be
	 * filled. Lifts the timeout and allows sequential scans as remaining. */
	char *unfilled;
	bool guard;                     /* the id guard (above) is in the statements */
	bool key_update;                /* the column is in a unique index: the
					 * careful form locks FOR UPDATE */
	int nkeys;
	int nparams;                    /* of every batch statement */
	Oid types[BATCH_MAX_PARAMS];
	Oid boundary_types[1 + CONFIG_MAX_KEYS];  /* $1 offset, $2.. keys */
	size_t id_len;
	bool by_key;                    /* WALK_KEY: stmt and boundary are built */
	int width;                      /* values in a cursor: target_width() */
	Oid phys_types[BATCH_FIXED_PARAMS + 4];   /* of a physical batch */
};

#define BATCH_PHYS_PARAMS (BATCH_FIXED_PARAMS + 4)

/* Most blocks one physical batch reads: 32 MiB of 8 kB pages; in the
 * direct form, whose UPDATE reads its whole window, 2 MiB. */
#define BATCH_MAX_WINDOW 4096
#define BATCH_DIRECT_MAX_WINDOW 256

/* Name of a prepared batch statement variant. */
const char *batch_stmt_name(int variant);


/*
 * Builds the statements for target t, with the leases table leases
 * (already quoted), quoting every identifier with PQescapeIdentifier on
 * conn; guard: with the id guard. Returns 0, or -1 with the reason in
 * err. Release with batch_sql_free().
 */
int batch_sql_build(struct batch_sql *s, PGconn *conn, const struct target *t,
		    const char *leases, size_t id_len, bool guard, char *err,
		    size_t errlen);
void batch_sql_free(struct batch_sql *s);

/* One worker's position: its lease, cursor, bound and batch size. */
struct batch {
	const struct batch_sql *sql;
	long limit;                     /* rows per batch */
	int lease;
	char *cursor[CONFIG_MAX_KEYS];  /* last key done; unset: lease start */
	char *hi[CONFIG_MAX_KEYS];      /* lease's upper bound, inclusive */
	bool has_cursor, has_hi;
	bool careful;                   /* the lease met a locked row: careful form */
	/* physical order: the window of blocks in flight, and NULL rows a
	 * block as batches found them (0: unknown), which sizes the next */
	long long win_from, win_to;
	double density;
	bool direct;                    /* the batch in flight is BATCH_PHYS_DIRECT */
	bool win_whole;                 /* its window as sized, not cut at the lease's end */
	bool overflowed;                /* the last direct one ran out of ids */
	long long base;                 /* the session's counter, as last seen */
	char base_txt[24];
	char end_txt[48];

	unsigned char limit_be[4], id_len_be[4];
	char lease_txt[16], rate_txt[32];
	const char *values[BATCH_MAX_PARAMS];
	int lengths[BATCH_MAX_PARAMS];
	int formats[BATCH_MAX_PARAMS];
	/* the counted direct form's tally: batch_counted_params */
	unsigned char ids_be[4];
	const char *tally_values[BATCH_PHYS_PARAMS];
	int tally_lengths[BATCH_PHYS_PARAMS];
	int tally_formats[BATCH_PHYS_PARAMS];
};

void batch_init(struct batch *b, const struct batch_sql *sql, long limit);

/* Sets or clears (values == NULL) the cursor; values has nkeys strings. */
void batch_set_cursor(struct batch *b, char *const *values);

/* Sets or clears (values == NULL) the upper bound. */
void batch_set_hi(struct batch *b, char *const *values);

/*
 * Fills b's parameter arrays for one batch, with the ids already generated
 * into ids (limit * id_len bytes), and returns the statement variant to
 * run. The arrays point into b and ids until the statement is sent.
 */
int batch_params(struct batch *b, const unsigned char *ids, const char *job,
		 double rate);

/*
 * Fills b's arrays for the lease boundary query and returns its text: the
 * upper key of a lease of about lease_size keys past from (NULL: from the
 * start of the table). The answer is one row whose columns are the bound,
 * or no row or NULL when the lease reaches the end of the table.
 *
 * For a single integer key the bound is computed, not scanned: from +
 * lease_size * (key span / rows), rows being reltuples (or the key span
 * when unknown), so a sparse key still gives leases of about lease_size
 * rows. Otherwise it is the key lease_size rows on in the index.
 * *types and *nparams are set for the send.
 */
const char *batch_boundary_params(struct batch *b, char *const *from,
				  long lease_size, double reltuples,
				  const Oid **types, int *nparams);

/*
 * What one batch did. Of the rows found, found - filled - clashed -
 * left_null the UPDATE skipped: a BEFORE trigger returned NULL, or
 * another session changed the row between the read and the update.
 */
struct batch_counts {
	long found;                     /* NULL rows the batch read */
	long filled;                    /* of them, holding a value now */
	long clashed;                   /* skipped by the id guard */
	long left_null;                 /* updated, and NULL again: a trigger */
	long busy;                      /* of the rows found, those another
					 * session held locked (skipped: the
					 * lease is walked again later) */
};

/*
 * Reads a batch result into c and moves the cursor to the last key found
 * (not when a direct batch ran out of ids: b->overflowed). Returns 0, or
 * -1 if the result has an unexpected shape.
 */
int batch_read_result(struct batch *b, const PGresult *res,
		      struct batch_counts *c);

void batch_free(struct batch *b);

/*
 * Physical order: the forms of a relation's batch statement.
 *   BATCH_PHYS_FAST     finds the window's first `limit` NULL rows (ctid order),
 *                       then updates them by ctid, numbering them for their ids;
 *   BATCH_PHYS_CAREFUL  the same, locking the rows found without waiting
 *                       (see the top of this file);
 *   BATCH_PHYS_DIRECT   one UPDATE of the window's NULL rows, numbered as it
 *                       goes by the session's counter (BATCH_COUNTER): no
 *                       candidates' scan, no join back to the rows by
 *                       ctid, no numbering pass. The window is sized from
 *                       the density to hold about `limit` NULL rows (so
 *                       not before a first batch has measured one); sent
 *                       `limit` / BATCH_SLACK + BATCH_SPARE_IDS ids more
 *                       (a window holds a block's rows more or less than
 *                       the density says, and a row the application
 *                       updates meanwhile draws a second number). Rows
 *                       past the ids are left NULL and unwritten, and the
 *                       cursor stays: the fast form goes on from it. Only
 *                       where a window of at least one block and at most
 *                       BATCH_DIRECT_MAX_WINDOW holds `limit` rows
 *                       (batch_may_direct).
 *                       Not with the id guard (it cannot count clashes).
 */
enum batch_form { BATCH_PHYS_FAST, BATCH_PHYS_CAREFUL, BATCH_PHYS_DIRECT, BATCH_PHYS_FORMS };

/*
 * The direct forms' row counter: a temporary sequence, one in each
 * session (so no other statement draws from it while a batch does; the
 * backfill refuses poolers that change sessions, pooler.h). Never set
 * back: a batch numbers its rows from the counter's value before it
 * (struct batch's base), which the session's setup (BATCH_COUNTER_SQL)
 * and every direct answer give. CACHE: numbers come from the session's
 * memory, not the sequence's page.
 */
#define BATCH_COUNTER "pg_temp.nanoid_backfill_n"
#define BATCH_COUNTER_SQL "CREATE TEMPORARY SEQUENCE IF NOT EXISTS nanoid_backfill_n CACHE 1000; " \
	"SELECT nextval('" BATCH_COUNTER "')"

/* Reads BATCH_COUNTER_SQL's answer into b's base; -1 if malformed. */
int batch_read_counter(struct batch *b, const PGresult *res);

/*
 * batch_physical_stmt() builds the batch statement for one relation
 * (parameters as the key statement's first six, then $7 the ctid after
 * which to start, $8 the window's end ctid, exclusive, $9 whether that end
 * is the lease's, $10 the counter's base for the direct form) in the given
 * form; NULL on failure. The cursor and the
 * upper bound of b are ctids, "(block,offset)"; the window covers about
 * limit / density blocks, at most BATCH_MAX_WINDOW.
 */
char *batch_physical_stmt(PGconn *conn, const char *nsp, const char *rel,
			  const char *column, const char *leases, bool guard,
			  enum batch_form form, bool key_update);

/* Name of the prepared physical batch statement of relation rel. */
void batch_physical_name(char *buf, size_t len, Oid rel, enum batch_form form);

/*
 * The counted direct form, for a tree where every row an UPDATE writes is
 * one it fills (target.h: plain_update): the direct form in two statements
 * of one transaction, sent together (conn_send_chain). *update is the
 * direct form's UPDATE without RETURNING, which would store each row it
 * writes and count it again (a tenth of the batch's time); *tally then
 * counts the rows written from the session's own count of the
 * transaction's row updates of the relation (pg_stat_get_xact_tuples_updated:
 * before the UPDATE's first write and after its last, so exactly the
 * UPDATE's, redone rows counted once), moves the lease and gives the
 * direct form's answer. Both take the physical batch's parameters; the
 * tally's $1 is the number of ids sent ($2 unused: NULL). Between them
 * goes BATCH_LOCK_TIMEOUT_SQL. The form is chosen from the catalog as the
 * run starts: a trigger created while it runs counts from the next start
 * (until then the counts may be off; the rows, the guard and the final
 * check never depend on them). The caller free()s both; returns 0, or -1
 * when out of memory.
 */
int batch_counted_stmts(PGconn *conn, const char *nsp, const char *rel,
			const char *column, const char *leases, char **update,
			char **tally);

/* After batch_physical_params: the tally's parameters, in b's tally_*
 * arrays (the batch's, but $1 the ids sent and $2 NULL). */
void batch_counted_params(struct batch *b);

/* Between the counted form's UPDATE and its tally: $1 the session's
 * lock_timeout again (the UPDATE's row lock wait holds until the commit). */
#define BATCH_LOCK_TIMEOUT_SQL "SELECT set_config('lock_timeout', $1, true)"

/* Name of the prepared tally of relation rel's counted direct form. */
void batch_counted_tally_name(char *buf, size_t len, Oid rel);

/*
 * Whether the next batch of b may take the direct form: not right after a
 * direct batch ran out of ids (a window denser than its density said, or
 * rows redrawn more often than the spare ids), which the fast form then
 * walks past whatever happens; in physical order not before a batch has
 * measured the density that sizes the window, nor where that window would
 * be under a block or over BATCH_DIRECT_MAX_WINDOW blocks.
 */
bool batch_may_direct(const struct batch *b);

/* The form of b's next physical batch: careful, direct or fast. */
enum batch_form batch_form_of(const struct batch *b);

/* The ids the next batch of b needs: limit, and BATCH_SPARE_IDS more in
 * the direct form (in physical order limit / BATCH_SLACK more again). */
#define BATCH_SPARE_IDS 16
#define BATCH_SLACK 8
long batch_ids(const struct batch *b);

/*
 * The lease carve query for physical order; its answer is no row when
 * every relation of the tree has been carved, else one row: oid, schema,
 * name, first block, end block (exclusive), end of the relation's blocks.
 */
const char *batch_carve_sql(const Oid **types, int *nparams);

/* "(block,offset)" to numbers; -1 if malformed. */
int batch_parse_tid(const char *s, long long *block, long *offset);
void batch_format_tid(char *buf, size_t len, long long block, long offset);

/* Blocks the next physical batch of b reads. */
long long batch_window(const struct batch *b);

/*
 * Whether the physical batch just read was a whole one for the batch
 * size's adaptation (fill.h), though it found fewer than limit rows: a
 * direct window sized to hold limit, not cut at the lease's end, that did
 * not run out of ids and found at least half of limit (fewer: the density
 * fell, and its time says little of limit rows'). (A fast batch is whole
 * when it found limit rows.)
 */
bool batch_whole_window(const struct batch *b, long found, long limit);

/* Fills b's arrays for a physical batch (b->direct says which form), ids
 * holding batch_ids(b) ids; -1 if the cursor is malformed. */
int batch_physical_params(struct batch *b, const unsigned char *ids,
			  const char *job, double rate);

/*
 * Reads a physical batch's result, moves the cursor as the statement did
 * and learns the density (NULL rows a block: the rows found over the
 * blocks passed, smoothed; where a direct batch ran out of ids, its
 * counter's advance over its window, as measured; not from the batch
 * after that one, whose blocks begin with the rows it filled); limit is
 * the batch's as sent. *lease_done: the
 * statement finished the lease. The answer: found, filled, clashed, left
 * NULL, busy, the last ctid found (NULL when the window held fewer than
 * limit, and always in the direct form), and in the direct form whether
 * the ids ran out (the cursor then stays) and the counter's value (the
 * next base). The direct form's found is the numbers its rows drew, at
 * most the ids sent: the window's NULL rows and any row drawn again on the
 * newer version a concurrent update made, which the pass's statistics
 * then count as skipped though it was filled (an overcount by the rows
 * the application updated during the batch).
 */
int batch_read_physical(struct batch *b, const PGresult *res, long limit,
			struct batch_counts *n, bool *lease_done);


#endif
