#!/usr/bin/env bash
# preexisting: rows that already have a value (including an empty string,
# which is not NULL) keep it; only NULL rows are filled and counted; in
# physical order too, where they make the NULL rows a block uneven.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=50000
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t
SELECT i, CASE WHEN i % 7 = 0 THEN 'keep-' || i
               WHEN i % 11 = 0 THEN ''
          END
  FROM generate_series(1, $N) i;
ANALYZE t;
SQL
nulls_before=$(psqlc "SELECT count(*) FROM t WHERE public_id IS NULL")
kept=$(psqlc "SELECT count(*) FROM t WHERE public_id IS NOT NULL")
kept_digest=$(psqlc "SELECT md5(string_agg(id || '=' || public_id, ',' ORDER BY id))
                       FROM t WHERE public_id IS NOT NULL")
kept_versions=$(psqlc "SELECT md5(string_agg(ctid::text || xmin::text, ',' ORDER BY id))
                         FROM t WHERE public_id IS NOT NULL")

run_bf --table t --column public_id --until-done --batch-size 700
assert_eq "$RC" 0 "exit 0"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "no NULL left"
assert_sql "SELECT count(*) FROM t WHERE id % 7 = 0 AND public_id = 'keep-' || id" "$((N / 7))" \
	"every 'keep-<id>' value is still there"
assert_sql "SELECT count(*) FROM t WHERE id % 7 <> 0 AND id % 11 = 0 AND public_id = ''" \
	"$(psqlc "SELECT count(*) FROM generate_series(1, $N) i WHERE i % 7 <> 0 AND i % 11 = 0")" \
	"empty strings are not NULL and stay empty"
assert_sql "SELECT md5(string_agg(id || '=' || public_id, ',' ORDER BY id))
              FROM t WHERE id % 7 = 0 OR id % 11 = 0" "$kept_digest" \
	"pre-existing values unchanged"
assert_sql "SELECT md5(string_agg(ctid::text || xmin::text, ',' ORDER BY id))
              FROM t WHERE id % 7 = 0 OR id % 11 = 0" "$kept_versions" \
	"rows with values were not even rewritten"
assert_sql "SELECT count(*) FROM t WHERE id % 7 <> 0 AND id % 11 <> 0
                                   AND public_id !~ '$NB_DEFAULT_ID_RE'" 0 \
	"filled rows hold default nanoids"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'" "$nulls_before" \
	"rows_done = $nulls_before (the NULL rows before; $kept had values)"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" 'done' "state done"

# In physical order, a table whose NULL rows a block change along the heap:
# a stretch of filled rows (every 50th NULL: windows past what the direct
# form takes, so fast batches), a stretch one third NULL, then an empty
# one, where the windows sized by the density before run out of ids (the
# cursor stays, a fast batch goes on). Every NULL row is filled once, in one
# pass, and no value is rewritten.
psqlf <<SQL
CREATE TABLE u (id bigint PRIMARY KEY, pad text NOT NULL, public_id text);
INSERT INTO u
SELECT i, repeat('x', 100),
       CASE WHEN (i <= 20000 AND i % 50 <> 0) OR (i > 20000 AND i <= 40000 AND i % 3 <> 0)
            THEN 'keep-' || i END
  FROM generate_series(1, 60000) i;
VACUUM ANALYZE u;
SQL
u_nulls=$(psqlc "SELECT count(*) FROM u WHERE public_id IS NULL")
u_kept=$(psqlc "SELECT md5(string_agg(ctid::text || xmin::text || public_id, ',' ORDER BY id))
                  FROM u WHERE public_id IS NOT NULL")
run_bf --table u --column public_id --until-done --order physical --log-level debug
assert_eq "$RC" 0 "uneven density, physical order: exit 0"
assert_sql "SELECT count(*) FILTER (WHERE public_id IS NULL), count(DISTINCT public_id) FROM u" \
	"0|60000" "uneven density: no NULL left, 60000 distinct values"
assert_sql "SELECT md5(string_agg(ctid::text || xmin::text || public_id, ',' ORDER BY id))
              FROM u WHERE public_id LIKE 'keep-%'" "$u_kept" \
	"uneven density: the rows with values were not rewritten"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 'u'" "$u_nulls" \
	"uneven density: rows_done = the $u_nulls NULL rows"
assert_file_match "$ERR" 'filled.*\(direct(, counted)?\)' "uneven density: direct batches ran"
assert_file_match "$ERR" 'filled.*\(fast\)' "uneven density: fast batches ran"
# A window whose ids ran out keeps its cursor: had it moved on, its rows
# past the ids would be left for a second pass.
assert_file_nomatch "$ERR" 'starting (a new|another) pass' "uneven density: one pass filled them all"

finish
