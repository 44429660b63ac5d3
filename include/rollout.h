/*
 * rollout.h - the rollout's DDL, written once: the statements that add
 * the column, make it NOT NULL online (a NOT VALID check, VALIDATE, SET
 * NOT NULL) and UNIQUE online (CREATE UNIQUE INDEX CONCURRENTLY; ON ONLY
 * and ATTACH PARTITION on a partitioned table), and the statements that
 * undo each of them.
 *
 * `plan` writes them into migration files (each followed by ";\n"),
 * `finalize` and --add-column run them; both name the objects with
 * plan_object_name(), so a rollout begun one way can be finished the
 * other.
 *
 * Every function takes identifiers already quoted (PQescapeIdentifier, or
 * pgconn_quote_ident() where there is no connection) and returns one
 * statement, without a terminating ';', in a new string the caller
 * free()s; NULL if out of memory. No value is ever part of the text,
 * except in the id function's body, where the id format's alphabet and
 * prefix are constants: string literals quoted by pgconn_quote_literal(),
 * in a body dollar-quoted with a tag that occurs nowhere in it.
 */
#ifndef NB_ROLLOUT_H
#define NB_ROLLOUT_H

#include <stdbool.h>

/* ALTER TABLE qt ADD COLUMN IF NOT EXISTS qc text: nullable, no default,
 * so a catalog change only (no rewrite). */
char *rollout_add_column(const char *qt, const char *qc);

/* ALTER TABLE qt DROP COLUMN IF EXISTS qc. */
char *rollout_drop_column(const char *qt, const char *qc);

/* ALTER TABLE qt ADD CONSTRAINT qchk CHECK (qc IS NOT NULL) NOT VALID:
 * new rows are checked, existing ones not scanned. */
char *rollout_add_check(const char *qt, const char *qchk, const char *qc);

/* ALTER TABLE qt VALIDATE CONSTRAINT qchk: a scan under a lock that
 * blocks neither reads nor writes. */
char *rollout_validate_check(const char *qt, const char *qchk);

/* ALTER TABLE qt DROP CONSTRAINT [IF EXISTS] qchk. */
char *rollout_drop_check(const char *qt, const char *qchk, bool if_exists);

/* ALTER TABLE qt ALTER COLUMN qc SET NOT NULL: no scan once a validated
 * check proves it (PostgreSQL 12+). */
char *rollout_set_not_null(const char *qt, const char *qc);

/* ALTER TABLE qt ALTER COLUMN qc DROP NOT NULL. */
char *rollout_drop_not_null(const char *qt, const char *qc);

/* CREATE UNIQUE INDEX CONCURRENTLY qidx ON qt (qc): a table or a leaf
 * partition; it cannot run in a transaction. */
char *rollout_unique_index(const char *qidx, const char *qt, const char *qc);

/* CREATE UNIQUE INDEX qidx ON ONLY qt (qc): a partitioned table's index,
 * no build, INVALID until every partition's index is attached. */
char *rollout_unique_index_only(const char *qidx, const char *qt,
				const char *qc);

/* ALTER INDEX qparent ATTACH PARTITION qchild (both with their schema). */
char *rollout_attach_index(const char *qparent, const char *qchild);

/* CREATE INDEX CONCURRENTLY IF NOT EXISTS qidx ON qt (qcols) WHERE qc IS
 * NULL: the partial index that keeps a service's idle probes cheap. */
char *rollout_null_index(const char *qidx, const char *qt, const char *qcols,
			 const char *qc);

/*
 * DROP INDEX [CONCURRENTLY] IF EXISTS qidxs: one index with its schema,
 * or (not concurrently) several, comma-separated.
 */
char *rollout_drop_index(const char *qidxs, bool concurrently);

/*
 * CREATE OR REPLACE FUNCTION qfn() RETURNS text: a nanoid of prefix and
 * size symbols of alphabet (already checked by nanoid_check_*), in
 * PL/pgSQL, for a column default. VOLATILE and PARALLEL SAFE.
 *
 * The randomness is gen_random_uuid()'s (core since PostgreSQL 13, drawn
 * from pg_strong_random(), the CSPRNG pgcrypto's gen_random_bytes() uses
 * too): no extension to install, so the step needs no CREATE privilege on
 * the database and works where pgcrypto is not available. A version 4
 * uuid has 122 random bits; the function uses only its 14 wholly random
 * bytes (all but byte 6, whose high nibble is the version, and byte 8,
 * whose two high bits are the variant), so every byte it reads is
 * uniform. Each is masked with the next power of two minus one and
 * rejected if it is no index of the alphabet, as nanoid.c does: every
 * symbol equally likely, whatever the alphabet's length (byte % length
 * would favour the first 256 % length symbols).
 */
char *rollout_id_function(const char *qfn, const char *alphabet, long size,
			  const char *prefix);

/* ALTER TABLE qt ALTER COLUMN qc SET DEFAULT qfn(): rows inserted from now
 * on get an id; a catalog change only, the existing rows stay NULL. */
char *rollout_set_default(const char *qt, const char *qc, const char *qfn);

/* ALTER TABLE qt ALTER COLUMN qc DROP DEFAULT. */
char *rollout_drop_default(const char *qt, const char *qc);

/* DROP FUNCTION IF EXISTS qfn(): after the default that uses it. */
char *rollout_drop_id_function(const char *qfn);

#endif
