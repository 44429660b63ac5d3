#!/usr/bin/env bash
# preexisting: rows that already have a value (including an empty string,
# which is not NULL) keep it; only NULL rows are filled and counted.
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

finish
