/*
 * batch.c - build and run-time state of the batch statement.
 */
#include "batch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"
#include "pgtext.h"
#include "progress.h"

/* A growable string for building SQL text out of quoted identifiers. */
struct sb {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sb *b, const char *s)
{
	size_t n = strlen(s);

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/* Appends "pfx k1 sfx, pfx k2 sfx, ..." for the quoted keys. */
static void sb_keys(struct sb *b, char *const *qk, int n, const char *pfx,
		    const char *sfx)
{
	for (int i = 0; i < n; i++) {
		if (i > 0)
			sb_add(b, ", ");
		sb_add(b, pfx);
		sb_add(b, qk[i]);
		sb_add(b, sfx);
	}
}

static void sb_params(struct sb *b, int first, int n)
{
	char num[32];

	for (int i = 0; i < n; i++) {
		snprintf(num, sizeof num, "%s$%d", i ? ", " : "", first + i);
		sb_add(b, num);
	}
}

/* Appends "(pfx k1, pfx k2) op ($first, $first + 1) AND ": a bound of the
 * key that a btree index on (k1, k2) scans from or to. */
static void sb_key_bound(struct sb *b, char *const *qk, int n, const char *pfx,
			 const char *op, int first)
{
	sb_add(b, "(");
	sb_keys(b, qk, n, pfx, "");
	sb_add(b, ") ");
	sb_add(b, op);
	sb_add(b, " (");
	sb_params(b, first, n);
	sb_add(b, ") AND ");
}

/* Appends "nb_k1, nb_k2, ...": the key columns as the CTEs name them. */
static void sb_key_aliases(struct sb *b, int n, const char *pfx, const char *sfx)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%snb_k%d%s", pfx, i + 1, sfx);
		if (i > 0)
			sb_add(b, ", ");
		sb_add(b, name);
	}
}

/*
 * The fill, shared by both walks: "UPDATE target AS nanoid_backfill_t SET
 * column = <id number nb_n> FROM numbered WHERE the ctid is numbered's
 * and the column is still NULL RETURNING whether it holds a value now" (a
 * BEFORE trigger may have set it back to NULL, or skipped the row).
 * target is "schema.table", or "ONLY schema.table" for one relation of a
 * tree. Every CTE names its columns itself (nb_ctid, nb_n, nb_k1, ...)
 * and every reference is qualified, so no user column name can collide
 * with one of ours.
 */
static void sb_fill(struct sb *b, const char *target, const char *qc, bool guard)
{
	sb_add(b, "UPDATE ");
	sb_add(b, target);
	sb_add(b, " AS nanoid_backfill_t SET ");
	sb_add(b, qc);
	sb_add(b, " = numbered.nb_id FROM numbered"
		  " WHERE nanoid_backfill_t.ctid = numbered.nb_ctid AND nanoid_backfill_t.");
	sb_add(b, qc);
	sb_add(b, " IS NULL");
	if (guard) {
		sb_add(b, " AND NOT EXISTS (SELECT 1 FROM ");
		sb_add(b, target);
		sb_add(b, " AS nanoid_backfill_x WHERE nanoid_backfill_x.");
		sb_add(b, qc);
		sb_add(b, " = numbered.nb_id)");
	}
	sb_add(b, " RETURNING nanoid_backfill_t.");
	sb_add(b, qc);
	sb_add(b, " IS NOT NULL");
}

/*
 * Rows the guard kept from an id already taken: "0" without the guard.
 * Counted in the statement's snapshot, as the guard looked.
 */
static void sb_clashed(struct sb *b, const char *target, const char *qc, bool guard)
{
	if (!guard) {
		sb_add(b, "0");
		return;
	}
	sb_add(b, "(SELECT count(*) FROM numbered WHERE EXISTS (SELECT 1 FROM ");
	sb_add(b, target);
	sb_add(b, " AS nanoid_backfill_x WHERE nanoid_backfill_x.");
	sb_add(b, qc);
	sb_add(b, " = numbered.nb_id))");
}

/*
 * Row number n's id: the n-th id_len ($3) bytes of the ids ($2). In the
 * default collation: convert_from's encoding argument is a name, whose
 * collation "C" the result would take, and then compared with the column
 * (the guard) it would keep the column's index from being used.
 */
#define ID_OF(n) "(convert_from(substring($2 FROM ((" n " - 1) * $3 + 1)::int FOR $3)," \
	" 'UTF8') COLLATE \"default\")"

/* Each row of the batch its own number, 1..n, in no particular order: the
 * ids are random, so which row gets which does not matter, and ordering
 * them would sort the batch a second time. */
#define RANK_ROWS "row_number() OVER () AS nb_n"

/* The rows the fill gave a value, and those it updated that are NULL
 * still (a BEFORE trigger set the column back): one pass over upd. */
#define DONE "done AS (SELECT count(*) FILTER (WHERE upd.nb_filled) AS nb_filled," \
	" count(*) FILTER (WHERE NOT upd.nb_filled) AS nb_left FROM upd)"
#define FILLED "done.nb_filled"
#define LEFT_NULL "done.nb_left"

/*
 * How long a batch waits for a row lock another session holds, before it
 * gives up (55P03) and the engine runs the lease's batches in the careful
 * form: set for the statement's own transaction, before it locks a row
 * (the candidates' scan evaluates it first: a one-time filter), so the
 * table's own lock (taken when the statement starts) still waits up to
 * --lock-timeout, as DDL calls for.
 */
#define ROW_LOCK_WAIT " AND (SELECT set_config('lock_timeout', '50ms', true)) IS NOT NULL"

/*
 * The candidates the batch fills. The fast form takes them all: the
 * UPDATE locks each row as it goes, waiting at most ROW_LOCK_WAIT for one
 * the application holds. The careful form, for a lease where a batch met
 * such a row, locks them without waiting: "SELECT the candidate's ctid
 * (and keys) FROM target JOIN cand ON ctid FOR NO KEY UPDATE SKIP
 * LOCKED". A row another session holds locked is left out (it counts as
 * busy, and its lease is walked again later: see TALLY); a row another
 * session changed since the candidates were read is left out too (its
 * newest version has another ctid), and a later look sees it as it is.
 * NO KEY UPDATE: the lock an UPDATE of a non-key column takes, so foreign
 * keys that point at the row do not wait for us; FOR UPDATE where the
 * column is in a unique index (key_update), as the UPDATE's own.
 */
static void sb_lock(struct sb *b, const char *target, int n, bool keys, bool careful,
		    bool key_update)
{
	if (!careful) {
		sb_add(b, "SELECT * FROM cand");
		return;
	}
	sb_add(b, "SELECT nanoid_backfill_l.ctid");
	if (keys) {
		sb_add(b, ", ");
		sb_key_aliases(b, n, "cand.", "");
	}
	sb_add(b, " FROM ");
	sb_add(b, target);
	sb_add(b, " AS nanoid_backfill_l JOIN cand ON nanoid_backfill_l.ctid = cand.nb_ctid");
	/* An UPDATE of a column in a unique index takes the stronger lock:
	 * locking weaker would not skip a row held FOR KEY SHARE (a foreign
	 * key check) that the UPDATE then waits for. */
	sb_add(b, key_update ? " FOR UPDATE" : " FOR NO KEY UPDATE");
	sb_add(b, " OF nanoid_backfill_l SKIP LOCKED");
}

/*
 * What a batch found (its candidates) and how many of them were busy
 * (locked by another session, or changed meanwhile). A lease whose walk
 * ends (the batch came up short) with busy rows in it restarts from its
 * lower bound after a backoff (sb_progress), rather than being done: its
 * busy rows are looked at again, without spinning on them.
 */
#define TALLY_OF(n, from) "tally AS (SELECT " n " AS nb_found," \
	" " n " - (SELECT count(*) FROM batch) AS nb_busy FROM " from ")"
#define TALLY TALLY_OF("c.n", "(SELECT count(*) AS n FROM cand) AS c")
/* In physical order `found` has counted the candidates already. */
#define TALLY_PHYS TALLY_OF("found.n", "found")
#define LEASE_END_BY_KEY "tally.nb_found < $1"
#define LEASE_END_PHYS "(tally.nb_found < $1 AND $9)"

/*
 * "progress AS (UPDATE leases SET cursor = ..., ... WHERE <the lease>)":
 * the lease's row, in the batch's own transaction. end: the batch ended
 * the lease's walk; a lease with busy rows then starts again from lo after
 * a backoff (0.2 s, doubling, at most 5 s), and one without is done. cursor: the arms of
 * the cursor's CASE after the restart's ("ELSE ... END"). from: the CTEs
 * that end and cursor read, tally and done among them.
 */
static void sb_progress(struct sb *b, const char *leases, const char *end,
			const char *cursor, const char *from)
{
	struct sb restart = { 0 };

	sb_add(&restart, "(");
	sb_add(&restart, end);
	sb_add(&restart, " AND busy + tally.nb_busy > 0)");
	if (restart.oom) {
		b->oom = true;
		return;
	}
	sb_add(b, "progress AS (UPDATE ");
	sb_add(b, leases);
	sb_add(b, " SET cursor = CASE WHEN ");
	sb_add(b, restart.s);
	sb_add(b, " THEN lo ");
	sb_add(b, cursor);
	sb_add(b, ", busy = CASE WHEN ");
	sb_add(b, end);
	sb_add(b, " THEN 0 ELSE busy + tally.nb_busy END, retries = CASE WHEN ");
	sb_add(b, restart.s);
	sb_add(b, " THEN retries + 1 ELSE retries END, retry_at = CASE WHEN ");
	sb_add(b, restart.s);
	sb_add(b, " THEN now() + least(0.2 * power(2, retries), 5) * interval '1 second'"
		  " ELSE retry_at END, rows_done = rows_done + " FILLED ","
		  " batches = batches + 1, rate = $6, updated_at = now(), state = CASE WHEN ");
	sb_add(b, end);
	sb_add(b, " AND NOT ");
	sb_add(b, restart.s);
	sb_add(b, " THEN '");
	sb_add(b, progress_lease_state_name(LEASE_DONE));
	sb_add(b, "' ELSE state END FROM ");
	sb_add(b, from);
	sb_add(b, " WHERE job = $4 AND lease = $5)");
	free(restart.s);
}

/* By key, the cursor's arm: the last key found, or where it stands
 * ("ELSE ... END"), built into c. */
static void sb_key_cursor(struct sb *c, int n)
{
	sb_add(c, "ELSE COALESCE((SELECT ARRAY[");
	sb_key_aliases(c, n, "last.", "::text");
	sb_add(c, "] FROM last), cursor) END");
}

/* In physical order: the last ctid found, or the window's end when it
 * came up short. */
#define PHYS_CURSOR "ARRAY[CASE WHEN found.n < $1 THEN $8::tid ELSE found.last END::text]"

/*
 * The direct form by key (batch.h; physical order's is build_direct
 * below): the UPDATE of the rows the candidates' scan found, again by the
 * same bounds, "SET column = <id number nextval - base>", base ($B: the
 * counter's value before the statement, as the last answer gave it) so
 * the rows number 1, 2, ... Both scans read in the statement's snapshot,
 * so the UPDATE meets the rows found and no others. nextval is in the
 * SET, not the WHERE: there it would have to be read back with currval in
 * the SET, a second call for every row (physical order's direct form pays
 * it, having no candidates' scan to bound the rows: not measurable there).
 * A row the application updated meanwhile is checked again on its newest
 * version (EvalPlanQual), which draws a new number: the numbers may have
 * gaps, never a repeat, so no id goes to two rows. (Nothing in the
 * statement may set the counter: EvalPlanQual runs again the subqueries
 * inside the UPDATE's plan, and a reset there would number the rows after
 * it from 1 again.) A number outside the ids sent
 * (gaps past the spare ones, or a base behind) cuts '' from them, which
 * NULLIF makes NULL: the row stays NULL, and the answer says the ids ran
 * out (DIRECT_OUT: the cursor stays, and the engine walks on from it in
 * the fast form). The answer ends with currval: the next statement's base.
 */
#define DIRECT_IDS "(octet_length($2) / $3)"
#define DIRECT_OUT "(done.nb_max > " DIRECT_IDS ")"

/* "UPDATE target SET column = the next id WHERE <bounds> AND column IS
 * NULL RETURNING filled, number": upd; base names the base's parameter. */
static void sb_direct_update(struct sb *b, const char *target, const char *qc,
			     const char *bounds, const char *base)
{
	sb_add(b, "upd(nb_filled, nb_n) AS (UPDATE ");
	sb_add(b, target);
	sb_add(b, " AS nanoid_backfill_t SET ");
	sb_add(b, qc);
	sb_add(b, " = NULLIF(convert_from(substring($2 FROM ((nextval('" BATCH_COUNTER "') - ");
	sb_add(b, base);
	sb_add(b, " - 1) * $3 + 1)::int FOR $3), 'UTF8') COLLATE \"default\", '') WHERE ");
	sb_add(b, bounds);
	sb_add(b, " AND nanoid_backfill_t.");
	sb_add(b, qc);
	sb_add(b, " IS NULL RETURNING nanoid_backfill_t.");
	sb_add(b, qc);
	sb_add(b, " IS NOT NULL, currval('" BATCH_COUNTER "') - ");
	sb_add(b, base);
	/* One pass over upd: its counts and its highest number. */
	sb_add(b, "),"
		  " done AS (SELECT count(*) FILTER (WHERE upd.nb_filled) AS nb_filled,"
		  " count(*) FILTER (WHERE NOT upd.nb_filled AND upd.nb_n <= " DIRECT_IDS ")"
		  " AS nb_left, COALESCE(max(upd.nb_n), 0) AS nb_max FROM upd)");
}

/* The counter's value now, the next base: after the UPDATE, as the answer
 * row is made from what upd returned. */
#define DIRECT_BASE "currval('" BATCH_COUNTER "')::text"

/*
 * By key, after cand and last: the UPDATE of (cursor, last key found].
 * When the candidates came up short they are every NULL row up to the
 * lease's bound, so the last of them bounds the UPDATE either way; no
 * candidate, no row ((k) <= NULL).
 */
#define LEASE_END_KEY_DIRECT "(tally.nb_found < $1 AND NOT " DIRECT_OUT ")"
static void build_key_direct(struct sb *b, char *const *qk, int n, const char *qt,
			     const char *qc, const char *leases, int variant)
{
	struct sb bounds = { 0 }, cursor = { 0 };
	char base[16];

	snprintf(base, sizeof base, "$%d", BATCH_FIXED_PARAMS + 2 * n + 1);
	if (variant & BATCH_LOWER)
		sb_key_bound(&bounds, qk, n, "nanoid_backfill_t.", ">", BATCH_FIXED_PARAMS + 1);
	sb_add(&bounds, "(");
	sb_keys(&bounds, qk, n, "nanoid_backfill_t.", "");
	sb_add(&bounds, ") <= (SELECT ");
	sb_key_aliases(&bounds, n, "last.", "");
	sb_add(&bounds, " FROM last)");
	sb_add(&cursor, "WHEN " DIRECT_OUT " THEN cursor ");
	sb_key_cursor(&cursor, n);
	if (bounds.oom || cursor.oom) {
		b->oom = true;
	} else {
		sb_direct_update(b, qt, qc, bounds.s, base);
		sb_add(b, ", tally AS (SELECT count(*) AS nb_found, 0 AS nb_busy FROM cand), ");
		sb_progress(b, leases, LEASE_END_KEY_DIRECT, cursor.s, "tally, done");
		sb_add(b, " SELECT tally.nb_found, " FILLED ", 0, " LEFT_NULL ", tally.nb_busy, ");
		sb_key_aliases(b, n, "last.", "::text");
		sb_add(b, ", " DIRECT_OUT ", " DIRECT_BASE
			  " FROM tally CROSS JOIN done LEFT JOIN last ON true");
	}
	free(bounds.s);
	free(cursor.s);
}

/*
 * The statement; see batch.h for what it does. Notes on the less obvious:
 *   - row comparison (k1, k2) > ($7, $8) is what a btree index on (k1, k2)
 *     can scan from directly, so a composite key pages like a single one;
 *   - `AND c IS NULL` is checked again by the UPDATE under READ COMMITTED:
 *     if the application updated the row after our snapshot, PostgreSQL
 *     re-evaluates the condition on the newest version (EvalPlanQual) and
 *     skips the row if it now has a value;
 *   - the UPDATE finds each row by the ctid the batch's own scan read, in
 *     the same statement and snapshot, so the version cannot have been
 *     vacuumed away; that saves a second key index lookup per row. Were a
 *     row skipped because it moved, it stays NULL for the next pass, which
 *     --until-done runs until a check finds no NULL;
 *   - the ids arrive as one bytea, cut with substring: O(1) per row, where
 *     subscripting a text[] walks the array from its start every time;
 *   - the lease keeps its cursor when the batch found nothing, and is done
 *     once a batch comes up short: nothing NULL is left in (cursor, hi].
 */
static char *build(char *const *qk, int n, const char *qt, const char *qc,
		   const char *leases, int variant, bool guard, bool key_update)
{
	struct sb b = { 0 }, cursor = { 0 };

	sb_add(&b, "WITH cand(nb_ctid, ");
	sb_key_aliases(&b, n, "", "");
	sb_add(&b, ") AS (SELECT ctid, ");
	sb_keys(&b, qk, n, "", "");
	sb_add(&b, " FROM ");
	sb_add(&b, qt);
	sb_add(&b, " WHERE ");
	if (variant & BATCH_LOWER)
		sb_key_bound(&b, qk, n, "", ">", BATCH_FIXED_PARAMS + 1);
	if (variant & BATCH_UPPER)
		sb_key_bound(&b, qk, n, "", "<=", BATCH_FIXED_PARAMS + 1 + n);
	sb_add(&b, qc);
	sb_add(&b, " IS NULL");
	if (!(variant & BATCH_CAREFUL))
		sb_add(&b, ROW_LOCK_WAIT);
	sb_add(&b, " ORDER BY ");
	sb_keys(&b, qk, n, "", "");
	sb_add(&b, " LIMIT $1), last AS (SELECT ");
	sb_key_aliases(&b, n, "", "");
	sb_add(&b, " FROM cand ORDER BY ");
	sb_key_aliases(&b, n, "", " DESC");
	sb_add(&b, " LIMIT 1), ");
	if (variant & BATCH_DIRECT) {
		build_key_direct(&b, qk, n, qt, qc, leases, variant);
		goto out;
	}
	sb_add(&b, "batch(nb_ctid, ");
	sb_key_aliases(&b, n, "", "");
	sb_add(&b, ") AS (");
	sb_lock(&b, qt, n, true, variant & BATCH_CAREFUL, key_update);
	sb_add(&b, "), ranked AS (SELECT batch.*, " RANK_ROWS " FROM batch),"
		   " numbered AS (SELECT ranked.*, " ID_OF("ranked.nb_n")
		   " AS nb_id FROM ranked), upd(nb_filled) AS (");
	sb_fill(&b, qt, qc, guard);
	sb_add(&b, "), " TALLY ", " DONE ", ");
	sb_key_cursor(&cursor, n);
	if (cursor.oom)
		b.oom = true;
	else
		sb_progress(&b, leases, LEASE_END_BY_KEY, cursor.s, "tally, done");
	free(cursor.s);
	sb_add(&b, " SELECT tally.nb_found, " FILLED ", ");
	sb_clashed(&b, qt, qc, guard);
	sb_add(&b, ", " LEFT_NULL ", tally.nb_busy, ");
	sb_key_aliases(&b, n, "last.", "::text");
	sb_add(&b, " FROM tally CROSS JOIN done LEFT JOIN last ON true");
out:
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* The key `$1` rows past (from) or from the start: a lease's upper bound. */
static char *build_boundary(char *const *qk, int n, const char *qt, bool lower)
{
	struct sb b = { 0 };

	sb_add(&b, "SELECT ");
	sb_keys(&b, qk, n, "", "::text");
	sb_add(&b, " FROM ");
	sb_add(&b, qt);
	sb_add(&b, " AS nanoid_backfill_t");
	if (lower) {
		sb_add(&b, " WHERE (");
		sb_keys(&b, qk, n, "", "");
		sb_add(&b, ") > (");
		sb_params(&b, 2, n);
		sb_add(&b, ")");
	}
	/* By the columns, not by the output's text of the same name. */
	sb_add(&b, " ORDER BY ");
	sb_keys(&b, qk, n, "nanoid_backfill_t.", "");
	sb_add(&b, " OFFSET $1 LIMIT 1");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/*
 * Integer key: $1 lease size, $2 the lease's lower bound (NULL: the start),
 * $3 estimated rows. numeric arithmetic, so a key near the type's maximum
 * cannot overflow.
 */
static char *build_boundary_int(const char *qk, const char *qt)
{
	struct sb b = { 0 };

	sb_add(&b, "SELECT CASE WHEN s.lo + s.w >= s.mx THEN NULL ELSE (s.lo + s.w)::text END"
		   " FROM (SELECT COALESCE($2::numeric, a.mn - 1) AS lo, a.mx,"
		   " GREATEST($1::numeric, ceil($1::numeric * (a.mx - a.mn + 1)"
		   " / GREATEST($3::float8, 1)::numeric)) AS w FROM (SELECT min(");
	sb_add(&b, qk);
	sb_add(&b, ")::numeric AS mn, max(");
	sb_add(&b, qk);
	sb_add(&b, ")::numeric AS mx FROM ");
	sb_add(&b, qt);
	sb_add(&b, ") AS a) AS s");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/*
 * Any NULL left? It may read the whole table, so without statement_timeout
 * and with sequential scans allowed (the session's values come back with
 * the next session setup). Statements in one simple query; the last
 * result is the answer. Without ONLY: every partition and child.
 */
static char *build_remaining(const char *qt, const char *qc)
{
	struct sb b = { 0 };

	sb_add(&b, "SET statement_timeout = 0; SET enable_seqscan = on; ");
	sb_add(&b, "SELECT EXISTS (SELECT 1 FROM ");
	sb_add(&b, qt);
	sb_add(&b, " WHERE ");
	sb_add(&b, qc);
	sb_add(&b, " IS NULL)");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/*
 * How many rows are still NULL, and the first few of them: by their key
 * ((k1, k2) as a row's text), or where there is none by ctid; in a tree
 * after the relation that holds them.
 */
static char *build_unfilled(char *const *qk, int n, const char *qt,
			    const char *qc, bool tree)
{
	struct sb b = { 0 };

	sb_add(&b, "SET statement_timeout = 0; SET enable_seqscan = on; "
		   "SELECT count(*), (SELECT string_agg(r, ', ') FROM (SELECT ");
	if (tree)
		sb_add(&b, "tableoid::regclass::text || ' ' || ");
	if (n == 0) {
		sb_add(&b, "ctid::text");
	} else if (n == 1) {
		sb_add(&b, qk[0]);
		sb_add(&b, "::text");
	} else {
		sb_add(&b, "ROW(");
		sb_keys(&b, qk, n, "", "");
		sb_add(&b, ")::text");
	}
	sb_add(&b, " AS r FROM ");
	sb_add(&b, qt);
	sb_add(&b, " WHERE ");
	sb_add(&b, qc);
	sb_add(&b, " IS NULL LIMIT 5) AS few) FROM ");
	sb_add(&b, qt);
	sb_add(&b, " WHERE ");
	sb_add(&b, qc);
	sb_add(&b, " IS NULL");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/*
 * Physical order's direct form: no candidates' scan, one UPDATE of the
 * window's NULL rows, which the window's size (batch_window) keeps near
 * the batch's size. Each NULL row the UPDATE meets draws a number in the
 * WHERE, after the IS NULL test (the cheaper qual goes first: it is one
 * node, the draw three; the other way round every row would draw, which
 * wastes numbers and ends the window early, never repeats one), and is
 * updated if its number has an id among those sent, which the SET reads
 * back with currval; the window's NULL rows past them are drawn for,
 * counted and left NULL, unwritten (batch_may_direct keeps the window
 * small enough for that to cost little when the density was wrong). A
 * row the application updated meanwhile draws again on its newest
 * version (EvalPlanQual): gaps, never a repeat. The counter's advance
 * past the ids sent says they ran out (sb_direct_answer). The lock wait is
 * a one-time filter of the UPDATE's scan, as it is of the candidates' scan
 * in the other forms. Two forms: build_direct counts the rows written with
 * RETURNING, the counted form (batch_counted_stmts) without.
 */
#define DIRECT_MET "(currval('" BATCH_COUNTER "') - $10)"

/* The direct form's UPDATE of the window, up to its RETURNING. before:
 * the counted form's one-time filter that keeps the session's count of
 * the leaf's row updates before the first (counted_before); NULL: none. */
static void sb_window_update(struct sb *b, const char *only, const char *qc,
			     const char *before)
{
	sb_add(b, "UPDATE ");
	sb_add(b, only);
	sb_add(b, " AS nanoid_backfill_t SET ");
	sb_add(b, qc);
	sb_add(b, " = convert_from(substring($2 FROM ((" DIRECT_MET " - 1) * $3 + 1)::int"
		  " FOR $3), 'UTF8') COLLATE \"default\""
		  " WHERE nanoid_backfill_t.ctid > $7::tid AND nanoid_backfill_t.ctid < $8::tid"
		  " AND nanoid_backfill_t.");
	sb_add(b, qc);
	sb_add(b, " IS NULL" ROW_LOCK_WAIT);
	if (before)
		sb_add(b, before);
	sb_add(b, " AND nextval('" BATCH_COUNTER "') - $10 <= " DIRECT_IDS);
}

/* The direct form's progress and answer, after its tally and done; ids:
 * the number of ids sent. The counter's advance (met: rows drawn, redraws
 * included) past them says they ran out (the cursor stays, and the fast
 * form walks on from it); else the window is done and the cursor moves to
 * its end, the lease's when $9. */
static void sb_direct_answer(struct sb *b, const char *leases, const char *ids)
{
	struct sb out = { 0 }, end = { 0 }, cursor = { 0 };

	sb_add(&out, "(tally.nb_met > ");
	sb_add(&out, ids);
	sb_add(&out, ")");
	sb_add(&end, "(NOT ");
	sb_add(&end, out.s ? out.s : "");
	sb_add(&end, " AND $9)");
	sb_add(&cursor, "WHEN ");
	sb_add(&cursor, out.s ? out.s : "");
	sb_add(&cursor, " THEN cursor ELSE ARRAY[$8::text] END");
	if (out.oom || end.oom || cursor.oom)
		b->oom = true;
	else {
		sb_progress(b, leases, end.s, cursor.s, "tally, done");
		sb_add(b, " SELECT LEAST(tally.nb_met, ");
		sb_add(b, ids);
		sb_add(b, "), " FILLED ", 0, " LEFT_NULL ", tally.nb_busy, NULL::text, ");
		sb_add(b, out.s);
		sb_add(b, ", " DIRECT_BASE " FROM tally, done");
	}
	free(out.s);
	free(end.s);
	free(cursor.s);
}

static void build_direct(struct sb *b, const char *only, const char *qc,
			 const char *leases)
{
	sb_add(b, "WITH upd(nb_filled) AS (");
	sb_window_update(b, only, qc, NULL);
	sb_add(b, " RETURNING nanoid_backfill_t.");
	sb_add(b, qc);
	sb_add(b, " IS NOT NULL), " DONE ","
		  " tally AS (SELECT " DIRECT_MET " AS nb_met, 0 AS nb_busy FROM done), ");
	sb_direct_answer(b, leases, DIRECT_IDS);
}

/*
 * The counted direct form (batch.h): the session's count of the
 * transaction's row updates of the leaf, kept in a setting of the
 * transaction by the UPDATE before its first write (a one-time filter, as
 * ROW_LOCK_WAIT: evaluated when the first row passes the filters before
 * it, so before any row is written; an EvalPlanQual recheck reuses its
 * value), and read again by the tally after the UPDATE. No row passed:
 * the setting is unset, or '' after an earlier transaction's. rel: the
 * leaf's name as a string literal, cast to regclass.
 */
#define COUNTED_SETTING "nanoid_backfill.updates_before"
#define COUNTED_UPDATES(rel) "pg_stat_get_xact_tuples_updated(" rel "::regclass)"

static char *counted_before(const char *rel)
{
	return pgtext_printf(" AND (SELECT set_config('" COUNTED_SETTING "', "
			     COUNTED_UPDATES("%s") "::text, true)) IS NOT NULL", rel);
}

/* The tally's rows filled: as counted, or, should track_counts have been
 * turned off since the run began (no count then), the rows drawn. */
static void build_counted_tally(struct sb *b, const char *rel, const char *leases)
{
	sb_add(b, "WITH tally AS (SELECT " DIRECT_MET " AS nb_met, 0 AS nb_busy),"
		  " done AS (SELECT CASE WHEN current_setting('track_counts')::bool"
		  " THEN COALESCE(pg_stat_get_xact_tuples_updated(");
	sb_add(b, rel);
	sb_add(b, "::regclass) - NULLIF(current_setting('" COUNTED_SETTING "', true), '')::bigint, 0)"
		  " ELSE LEAST(tally.nb_met, $1) END AS nb_filled, 0 AS nb_left FROM tally), ");
	sb_direct_answer(b, leases, "$1");
}

/*
 * Physical order, one relation (a table, or one partition or child of a
 * tree, named by qt and updated with ONLY). The direct form: build_direct.
 * The fast and careful forms: the NULL rows of the window ($7, $8) of
 * ctids, lowest first, at most $1 of them. ORDER BY ctid
 * makes "lowest first" hold whatever the plan (a partial index on the
 * NULL rows returns them in key order); the window keeps the scan to a
 * few blocks. The cursor moves to the last ctid found or, when the
 * window came up short, to the window's end; $9 says that end is the
 * lease's, which a short window then finishes.
 */
char *batch_physical_stmt(PGconn *conn, const char *nsp, const char *rel,
			  const char *column, const char *leases, bool guard,
			  enum batch_form form, bool key_update)
{
	char *qs = pgconn_quote(conn, nsp), *qr = pgconn_quote(conn, rel);
	char *qc = pgconn_quote(conn, column);
	char *only = qs && qr ? pgtext_printf("ONLY %s.%s", qs, qr) : NULL;
	bool careful = form == BATCH_PHYS_CAREFUL;
	struct sb b = { 0 };

	free(qs);
	free(qr);
	if (!only || !qc) {
		free(only);
		free(qc);
		return NULL;
	}
	if (form == BATCH_PHYS_DIRECT) {
		build_direct(&b, only, qc, leases);
		goto out;
	}
	sb_add(&b, "WITH cand(nb_ctid) AS (SELECT ctid FROM ");
	sb_add(&b, only);
	sb_add(&b, " WHERE ctid > $7::tid AND ctid < $8::tid AND ");
	sb_add(&b, qc);
	sb_add(&b, " IS NULL");
	if (!careful)
		sb_add(&b, ROW_LOCK_WAIT);
	sb_add(&b, " ORDER BY ctid LIMIT $1),"
		   " found AS (SELECT count(*) AS n, max(nb_ctid) AS last FROM cand), ");
	sb_add(&b, "batch(nb_ctid) AS (");
	sb_lock(&b, only, 0, false, careful, key_update);
	sb_add(&b, "), ranked AS (SELECT nb_ctid, " RANK_ROWS " FROM batch),"
		   " numbered AS (SELECT ranked.*, " ID_OF("ranked.nb_n") " AS nb_id FROM ranked),"
		   " upd(nb_filled) AS (");
	sb_fill(&b, only, qc, guard);
	/* The window's walk ends where the lease does ($9): only there can
	 * busy rows restart it. */
	sb_add(&b, "), " TALLY_PHYS ", " DONE ", ");
	sb_progress(&b, leases, LEASE_END_PHYS, "ELSE " PHYS_CURSOR " END", "found, tally, done");
	sb_add(&b, " SELECT found.n, " FILLED ", ");
	sb_clashed(&b, only, qc, guard);
	sb_add(&b, ", " LEFT_NULL ", tally.nb_busy, found.last::text FROM found, tally, done");
out:
	free(only);
	free(qc);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

int batch_counted_stmts(PGconn *conn, const char *nsp, const char *rel,
			const char *column, const char *leases, char **update,
			char **tally)
{
	char *qs = pgconn_quote(conn, nsp), *qr = pgconn_quote(conn, rel);
	char *qc = pgconn_quote(conn, column);
	char *name = qs && qr ? pgtext_printf("%s.%s", qs, qr) : NULL;
	char *only = name ? pgtext_printf("ONLY %s", name) : NULL;
	char *lit = name ? pgconn_quote_literal(name) : NULL;
	char *before = lit ? counted_before(lit) : NULL;
	struct sb u = { 0 }, t = { 0 };
	int rc = -1;

	*update = *tally = NULL;
	if (!only || !qc || !before)
		goto out;
	sb_window_update(&u, only, qc, before);
	build_counted_tally(&t, lit, leases);
	if (u.oom || t.oom) {
		free(u.s);
		free(t.s);
		goto out;
	}
	*update = u.s;
	*tally = t.s;
	rc = 0;
out:
	free(qs);
	free(qr);
	free(qc);
	free(name);
	free(only);
	free(lit);
	free(before);
	return rc;
}

/*
 * The next physical lease: in the frontier's relation ($2) from its
 * frontier block ($3) up to the end it had when its first lease was
 * carved ($4), or else in the next relation of the tree rooted at $1 by
 * oid, from block 0 to its size now. Freezing a relation's end keeps the
 * pass from chasing the row versions its own updates append; rows that
 * arrive past it are the next pass's. $5 is the lease size in rows, made
 * blocks by the relation's density (60 rows a block before ANALYZE).
 * Tables only ('r'): a partitioned table holds no rows of its own.
 */
static const char carve_sql[] =
	"WITH RECURSIVE tree(oid) AS (SELECT $1::oid"
	"  UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid),"
	" leaf AS (SELECT c.oid, n.nspname, c.relname,"
	"   CASE WHEN c.oid = $2::oid THEN $3::bigint ELSE 0 END AS lo,"
	"   CASE WHEN c.oid = $2::oid THEN $4::bigint"
	"    ELSE pg_relation_size(c.oid) / current_setting('block_size')::bigint END AS nblocks,"
	"   GREATEST(1, ceil($5::float8 / CASE WHEN c.relpages > 0 AND c.reltuples > 0"
	"    THEN c.reltuples / c.relpages ELSE 60 END))::bigint AS width"
	"  FROM tree JOIN pg_class c ON c.oid = tree.oid"
	"  JOIN pg_namespace n ON n.oid = c.relnamespace"
	"  WHERE c.relkind = 'r' AND ($2::oid IS NULL OR c.oid >= $2::oid))"
	" SELECT oid, nspname, relname, lo, LEAST(lo + width, nblocks), nblocks FROM leaf"
	" WHERE nblocks > lo ORDER BY oid LIMIT 1";

const char *batch_carve_sql(const Oid **types, int *nparams)
{
	static const Oid t[5] = { PGBIN_OIDOID, PGBIN_OIDOID, PGBIN_INT8OID,
				  PGBIN_INT8OID, PGBIN_FLOAT8OID };

	*types = t;
	*nparams = 5;
	return carve_sql;
}

int batch_parse_tid(const char *s, long long *block, long *offset)
{
	char *end;

	if (!s || *s != '(')
		return -1;
	*block = strtoll(s + 1, &end, 10);
	if (*end != ',' || *block < 0)
		return -1;
	*offset = strtol(end + 1, &end, 10);
	if (*end != ')' || end[1] != '\0' || *offset < 0)
		return -1;
	return 0;
}

void batch_format_tid(char *buf, size_t len, long long block, long offset)
{
	snprintf(buf, len, "(%lld,%ld)", block, offset);
}

/* Blocks that hold limit NULL rows at b's density (> 0): at most limit
 * for the direct form, whose UPDATE takes them all; at least limit for the
 * others, whose candidates' scan cuts them to limit. */
static double density_blocks(const struct batch *b, bool direct)
{
	double want = (double)b->limit / b->density;

	return direct ? floor(want) : ceil(want);
}

bool batch_may_direct(const struct batch *b)
{
	double blocks;

	if (b->overflowed)
		return false;
	if (b->sql->by_key)
		return true;
	/* In physical order the window is the direct form's only bound on
	 * what its UPDATE reads: a density to size it, at least a block's
	 * rows a batch, and a window small enough that a density gone stale
	 * (a filled stretch before an empty one) costs a few blocks' reading,
	 * not thousands; the fast form's scan stops at its rows instead. */
	if (b->density <= 0)
		return false;
	blocks = density_blocks(b, true);
	return blocks >= 1 && blocks <= BATCH_DIRECT_MAX_WINDOW;
}

enum batch_form batch_form_of(const struct batch *b)
{
	return b->careful ? BATCH_PHYS_CAREFUL : b->direct ? BATCH_PHYS_DIRECT : BATCH_PHYS_FAST;
}

long batch_ids(const struct batch *b)
{
	if (!b->direct)
		return b->limit;
	if (b->sql->by_key)
		return b->limit + BATCH_SPARE_IDS;
	return b->limit + b->limit / BATCH_SLACK + BATCH_SPARE_IDS;
}

long long batch_window(const struct batch *b)
{
	/* The direct form's ids have slack for a block's rows more. */
	double blocks = b->density <= 0 ? BATCH_MAX_WINDOW : density_blocks(b, b->direct);

	if (blocks < 1)
		blocks = 1;
	if (blocks > BATCH_MAX_WINDOW)
		blocks = BATCH_MAX_WINDOW;
	return (long long)blocks;
}

bool batch_whole_window(const struct batch *b, long found, long limit)
{
	return !b->sql->by_key && b->direct && !b->overflowed && b->win_whole &&
	       found * 2 >= limit;
}

int batch_physical_params(struct batch *b, const unsigned char *ids,
			  const char *job, double rate)
{
	long long cur, hi;
	long off;

	if (batch_parse_tid(b->cursor[0], &cur, &off) != 0 ||
	    batch_parse_tid(b->hi[0], &hi, &off) != 0)
		return -1;
	b->win_from = cur;
	b->win_to = cur + batch_window(b);
	b->win_whole = b->win_to <= hi;
	if (b->win_to > hi)
		b->win_to = hi;
	batch_format_tid(b->end_txt, sizeof b->end_txt, b->win_to, 0);
	batch_params(b, ids, job, rate);
	b->values[BATCH_FIXED_PARAMS] = b->cursor[0];
	b->values[BATCH_FIXED_PARAMS + 1] = b->end_txt;
	b->values[BATCH_FIXED_PARAMS + 2] = b->win_to == hi ? "t" : "f";
	b->values[BATCH_FIXED_PARAMS + 3] = b->base_txt;
	return 0;
}

void batch_counted_params(struct batch *b)
{
	memcpy(b->tally_values, b->values, sizeof b->tally_values);
	memcpy(b->tally_lengths, b->lengths, sizeof b->tally_lengths);
	memcpy(b->tally_formats, b->formats, sizeof b->tally_formats);
	pgbin_put_int32(b->ids_be, (int32_t)batch_ids(b));
	b->tally_values[0] = (const char *)b->ids_be;
	b->tally_values[1] = NULL;
	b->tally_lengths[1] = 0;
}

/* The counter's value in column col of a direct answer: the next base. */
static int read_base(struct batch *b, const PGresult *res, int col)
{
	char *end;
	long long v;

	if (PQgetisnull(res, 0, col))
		return -1;
	v = strtoll(PQgetvalue(res, 0, col), &end, 10);
	if (*end != '\0' || v < 1)
		return -1;
	b->base = v;
	return 0;
}

int batch_read_counter(struct batch *b, const PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != 1)
		return -1;
	return read_base(b, res, 0);
}

/* The counts every batch answers first: found, filled, clashed, left NULL. */
static void read_counts(const PGresult *res, struct batch_counts *n)
{
	n->found = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	n->filled = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	n->clashed = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	n->left_null = strtol(PQgetvalue(res, 0, 3), NULL, 10);
	n->busy = strtol(PQgetvalue(res, 0, 4), NULL, 10);
}

int batch_read_physical(struct batch *b, const PGresult *res, long limit,
			struct batch_counts *n, bool *lease_done)
{
	long long last, hi, base = b->base;
	long off, hioff;
	double sample, blocks;
	/* A batch after a direct one that ran out of ids starts at the cursor
	 * that one left, before the rows it filled. */
	bool after_overflow = b->overflowed;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != (b->direct ? 8 : 6) ||
	    batch_parse_tid(b->hi[0], &hi, &hioff) != 0)
		return -1;
	read_counts(res, n);
	*lease_done = false;
	b->overflowed = b->direct && PQgetvalue(res, 0, 6)[0] == 't';
	if (b->direct && read_base(b, res, 7) != 0)
		return -1;
	if (b->overflowed) {
		/* The ids ran out: on from the cursor as it stands. Every NULL
		 * row of the window drew a number, so the counter's advance
		 * over its blocks is the window's density, measured, not
		 * smoothed with the estimate it proved too low. */
		blocks = (double)(b->win_to - b->win_from);
		if (blocks > 0)
			b->density = (double)(b->base - base) / blocks;
		return 0;
	}
	if (b->direct || n->found < limit) {
		/* The window is done (a direct one always is: its found is
		 * the rows it drew numbers for, not a limit it met): on from
		 * its end, as the statement did. */
		blocks = (double)(b->win_to - b->win_from);
		*lease_done = b->win_to >= hi;
		batch_set_cursor(b, (char *const[]){ b->end_txt });
	} else {
		if (PQgetisnull(res, 0, 5) ||
		    batch_parse_tid(PQgetvalue(res, 0, 5), &last, &off) != 0)
			return -1;
		blocks = (double)(last - b->win_from + 1);
		batch_set_cursor(b, (char *const[]){ PQgetvalue(res, 0, 5) });
	}
	/* Its span begins with the rows the direct batch filled: what it
	 * found a block there is under the density (learnt from that direct
	 * batch), and taught, it would size the next direct window too
	 * large to fill with its ids, and so on. */
	if (after_overflow)
		return 0;
	/* NULL rows a block, smoothed: the next window's size. */
	sample = blocks > 0 ? (double)n->found / blocks : b->density;
	b->density = b->density > 0 ? 0.5 * b->density + 0.5 * sample : sample;
	return 0;
}

void batch_physical_name(char *buf, size_t len, Oid rel, enum batch_form form)
{
	static const char *const suffix[BATCH_PHYS_FORMS] = { "", "_careful", "_direct" };

	snprintf(buf, len, "nanoid_backfill_phys_%u%s", rel, suffix[form]);
}

void batch_counted_tally_name(char *buf, size_t len, Oid rel)
{
	snprintf(buf, len, "nanoid_backfill_phys_%u_tally", rel);
}

const char *batch_stmt_name(int variant)
{
	static const char *const names[BATCH_VARIANTS] = {
		"nanoid_backfill_batch", "nanoid_backfill_batch_lo",
		"nanoid_backfill_batch_hi", "nanoid_backfill_batch_lo_hi",
		"nanoid_backfill_careful", "nanoid_backfill_careful_lo",
		"nanoid_backfill_careful_hi", "nanoid_backfill_careful_lo_hi",
		"nanoid_backfill_direct", "nanoid_backfill_direct_lo",
		"nanoid_backfill_direct_hi", "nanoid_backfill_direct_lo_hi",
	};

	return variant >= 0 && variant < BATCH_VARIANTS ? names[variant] : names[0];
}

int batch_sql_build(struct batch_sql *s, PGconn *conn, const struct target *t,
		    const char *leases, size_t id_len, bool guard, char *err,
		    size_t errlen)
{
	char *qk[CONFIG_MAX_KEYS] = { 0 };
	char *qs = pgconn_quote(conn, t->schema);
	char *qtab = pgconn_quote(conn, t->table);
	char *qc = pgconn_quote(conn, t->column);
	char *qt = NULL;
	int rc = -1;

	memset(s, 0, sizeof *s);
	s->guard = guard;
	s->nkeys = t->nkeys;
	s->id_len = id_len;
	for (int i = 0; i < t->nkeys; i++)
		qk[i] = pgconn_quote(conn, t->keys[i]);
	if (!qs || !qtab || !qc)
		goto out;
	for (int i = 0; i < t->nkeys; i++)
		if (!qk[i])
			goto out;
	qt = malloc(strlen(qs) + strlen(qtab) + 2);
	if (!qt)
		goto out;
	sprintf(qt, "%s.%s", qs, qtab);

	s->remaining = build_remaining(qt, qc);
	s->int_key = target_int_key(t);
	if (s->int_key) {
		s->probe_full = pgtext_printf(
			"SET statement_timeout = 0; SET enable_seqscan = on; "
			"SELECT EXISTS (SELECT 1 FROM %s WHERE %s IS NULL), "
			"(SELECT max(%s)::text FROM %s)", qt, qc, qk[0], qt);
		s->probe_tail = pgtext_printf(
			"SELECT EXISTS (SELECT 1 FROM %s WHERE %s > $1::int8 AND %s IS NULL), "
			"(SELECT max(%s)::text FROM %s)", qt, qk[0], qc, qk[0], qt);
	} else {
		s->probe_full = pgtext_printf(
			"SET statement_timeout = 0; SET enable_seqscan = on; "
			"SELECT EXISTS (SELECT 1 FROM %s WHERE %s IS NULL), NULL::text", qt, qc);
		s->probe_tail = NULL;
	}
	if (!s->probe_full || (s->int_key && !s->probe_tail))
		goto out;
	s->unfilled = build_unfilled(qk, t->nkeys, qt, qc, t->tree);
	s->estimate = pgtext_printf("EXPLAIN (FORMAT JSON) SELECT 1 FROM %s", qt);
	if (!s->remaining || !s->estimate || !s->unfilled)
		goto out;
	s->by_key = t->walk == WALK_KEY;
	s->key_update = t->nid_indexes > 0 || t->unique_index;
	s->width = target_width(t);
	if (s->by_key) {
		/* ONLY: should the table gain a child while we walk it, a ctid
		 * of the child's must never match a row of ours. */
		char *only = pgtext_printf("ONLY %s", qt);

		if (!only)
			goto out;
		for (int v = 0; v < BATCH_VARIANTS; v++) {
			if ((v & BATCH_DIRECT) && guard)
				continue; /* see batch.h */
			if (!(s->stmt[v] = build(qk, t->nkeys, only, qc, leases, v, guard,
						 s->key_update)))
				break;
		}
		s->boundary[0] = build_boundary(qk, t->nkeys, only, false);
		s->boundary[1] = build_boundary(qk, t->nkeys, only, true);
		s->boundary_int = build_boundary_int(qk[0], only);
		free(only);
		if (!s->boundary[0] || !s->boundary[1] || !s->boundary_int)
			goto out;
		for (int v = 0; v < BATCH_VARIANTS; v++)
			if (!s->stmt[v] && !((v & BATCH_DIRECT) && guard))
				goto out;
	}

	s->types[0] = PGBIN_INT4OID;
	s->types[1] = PGBIN_BYTEAOID;
	s->types[2] = PGBIN_INT4OID;
	s->types[3] = PGBIN_TEXTOID;
	s->types[4] = PGBIN_INT4OID;
	s->types[5] = 701; /* float8 */
	for (int i = 0; i < t->nkeys; i++) {
		s->types[BATCH_FIXED_PARAMS + i] = t->key_types[i];
		s->types[BATCH_FIXED_PARAMS + t->nkeys + i] = t->key_types[i];
	}
	/* and last the direct forms' base (the others leave it unused) */
	s->types[BATCH_FIXED_PARAMS + 2 * t->nkeys] = PGBIN_INT8OID;
	s->nparams = BATCH_FIXED_PARAMS + 2 * t->nkeys + 1;
	memcpy(s->phys_types, s->types, sizeof(Oid) * BATCH_FIXED_PARAMS);
	s->phys_types[BATCH_FIXED_PARAMS] = PGBIN_TIDOID;
	s->phys_types[BATCH_FIXED_PARAMS + 1] = PGBIN_TIDOID;
	s->phys_types[BATCH_FIXED_PARAMS + 2] = PGBIN_BOOLOID;
	s->phys_types[BATCH_FIXED_PARAMS + 3] = PGBIN_INT8OID;
	s->boundary_types[0] = PGBIN_INT4OID;
	for (int i = 0; i < t->nkeys; i++)
		s->boundary_types[1 + i] = t->key_types[i];
	rc = 0;
out:
	if (rc != 0) {
		snprintf(err, errlen, "cannot build the batch statement: %s",
			 PQerrorMessage(conn)[0] ? PQerrorMessage(conn) : "out of memory");
		batch_sql_free(s);
	}
	for (int i = 0; i < t->nkeys; i++)
		free(qk[i]);
	free(qs);
	free(qtab);
	free(qc);
	free(qt);
	return rc;
}

void batch_sql_free(struct batch_sql *s)
{
	for (int v = 0; v < BATCH_VARIANTS; v++)
		free(s->stmt[v]);
	free(s->boundary[0]);
	free(s->boundary[1]);
	free(s->remaining);
	free(s->estimate);
	free(s->unfilled);
	free(s->probe_full);
	free(s->probe_tail);
	free(s->boundary_int);
	memset(s, 0, sizeof *s);
}

void batch_init(struct batch *b, const struct batch_sql *sql, long limit)
{
	memset(b, 0, sizeof *b);
	b->sql = sql;
	b->limit = limit;
}

static void set_keys(char **dst, bool *has, int n, char *const *values)
{
	for (int i = 0; i < CONFIG_MAX_KEYS; i++) {
		free(dst[i]);
		dst[i] = NULL;
	}
	*has = values != NULL;
	if (!values)
		return;
	for (int i = 0; i < n; i++) {
		dst[i] = strdup(values[i]);
		if (!dst[i]) {
			fputs("nanoid-backfill: out of memory\n", stderr);
			abort();
		}
	}
}

void batch_set_cursor(struct batch *b, char *const *values)
{
	set_keys(b->cursor, &b->has_cursor, b->sql->width, values);
}

void batch_set_hi(struct batch *b, char *const *values)
{
	set_keys(b->hi, &b->has_hi, b->sql->width, values);
}

int batch_params(struct batch *b, const unsigned char *ids, const char *job,
		 double rate)
{
	int n = b->sql->nkeys;

	pgbin_put_int32(b->limit_be, (int32_t)b->limit);
	pgbin_put_int32(b->id_len_be, (int32_t)b->sql->id_len);
	snprintf(b->lease_txt, sizeof b->lease_txt, "%d", b->lease);
	snprintf(b->rate_txt, sizeof b->rate_txt, "%.6g", rate);
	memset(b->lengths, 0, sizeof b->lengths);
	memset(b->formats, 0, sizeof b->formats);
	b->values[0] = (const char *)b->limit_be;
	b->lengths[0] = 4;
	b->formats[0] = 1;
	b->values[1] = (const char *)ids;
	/* The direct forms are sent more ids than $1 rows. */
	b->lengths[1] = (int)((size_t)batch_ids(b) * b->sql->id_len);
	b->formats[1] = 1;
	b->values[2] = (const char *)b->id_len_be;
	b->lengths[2] = 4;
	b->formats[2] = 1;
	b->values[3] = job;
	b->values[4] = b->lease_txt;
	b->values[5] = b->rate_txt;
	for (int i = 0; i < n; i++) {
		b->values[BATCH_FIXED_PARAMS + i] = b->has_cursor ? b->cursor[i] : NULL;
		b->values[BATCH_FIXED_PARAMS + n + i] = b->has_hi ? b->hi[i] : NULL;
	}
	snprintf(b->base_txt, sizeof b->base_txt, "%lld", b->base);
	b->values[BATCH_FIXED_PARAMS + 2 * n] = b->base_txt;
	return (b->has_cursor ? BATCH_LOWER : 0) | (b->has_hi ? BATCH_UPPER : 0) |
	       (b->careful ? BATCH_CAREFUL : b->direct ? BATCH_DIRECT : 0);
}

const char *batch_boundary_params(struct batch *b, char *const *from,
				  long lease_size, double reltuples,
				  const Oid **types, int *nparams)
{
	const struct batch_sql *sql = b->sql;
	int n = sql->nkeys;

	memset(b->lengths, 0, sizeof b->lengths);
	memset(b->formats, 0, sizeof b->formats);
	b->values[0] = (const char *)b->limit_be;
	b->lengths[0] = 4;
	b->formats[0] = 1;
	if (sql->int_key) {
		static const Oid int_types[3] = { PGBIN_INT4OID, 0, 701 /* float8 */ };

		pgbin_put_int32(b->limit_be, (int32_t)lease_size);
		b->values[1] = from ? from[0] : NULL;
		snprintf(b->rate_txt, sizeof b->rate_txt, "%.17g", reltuples);
		b->values[2] = b->rate_txt;
		*types = int_types;
		*nparams = 3;
		return sql->boundary_int;
	}
	pgbin_put_int32(b->limit_be, (int32_t)(lease_size - 1));
	*types = sql->boundary_types;
	if (!from) {
		*nparams = 1;
		return sql->boundary[0];
	}
	for (int i = 0; i < n; i++)
		b->values[1 + i] = from[i];
	*nparams = 1 + n;
	return sql->boundary[1];
}

int batch_read_result(struct batch *b, const PGresult *res,
		      struct batch_counts *c)
{
	char *last[CONFIG_MAX_KEYS];
	int n = b->sql->nkeys;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != 5 + n + (b->direct ? 2 : 0) ||
	    (b->direct && read_base(b, res, 6 + n) != 0))
		return -1;
	read_counts(res, c);
	b->overflowed = b->direct && PQgetvalue(res, 0, 5 + n)[0] == 't';
	if (c->found == 0 || b->overflowed)
		return 0; /* the cursor stays; the lease is done, or walked on */
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(res, 0, 5 + i))
			return -1;
		last[i] = PQgetvalue(res, 0, 5 + i);
	}
	batch_set_cursor(b, last);
	return 0;
}

void batch_free(struct batch *b)
{
	for (int i = 0; i < CONFIG_MAX_KEYS; i++) {
		free(b->cursor[i]);
		free(b->hi[i]);
	}
	memset(b, 0, sizeof *b);
}
