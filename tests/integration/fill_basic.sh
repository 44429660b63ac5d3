#!/usr/bin/env bash
# fill_basic: a 200,000-row table is filled completely with well-formed,
# distinct default nanoids; nothing else in the rows changes; size/alphabet/
# prefix are honoured; a second run over a complete table writes nothing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=200000
pg_start

psqlf <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, payload text, public_id text);
INSERT INTO t SELECT i, 'payload-' || md5(i::text), NULL FROM generate_series(1, $N) i;
ANALYZE t;
SQL
payload_before=$(psqlc "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM t")

run_bf --table t --column public_id --until-done --batch-size 1000 --progress-interval 1
assert_eq "$RC" 0 "fill t: exit 0"
assert_sql "SELECT count(*) FROM t WHERE public_id IS NULL" 0 "fill t: no NULL left"
assert_sql "SELECT count(*) FROM t WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 \
	"fill t: every value is 21 chars of the default alphabet"
assert_sql "SELECT count(*) - count(DISTINCT public_id) FROM t" 0 "fill t: no duplicate values"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't'" 'done' "fill t: progress state is done"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'" "$N" "fill t: progress rows_done = $N"
assert_sql "SELECT md5(string_agg(payload, ',' ORDER BY id)) FROM t" "$payload_before" \
	"fill t: payload unchanged"
assert_sql "SELECT finished_at IS NOT NULL FROM $NB_JOBS WHERE table_name = 't'" t \
	"fill t: finished_at is set"

# size, alphabet, prefix
psqlf <<SQL
CREATE TABLE t2 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t2 SELECT i, NULL FROM generate_series(1, 5000) i;
ANALYZE t2;
SQL
# 3^30 ids: 5000 rows without a unique index stay below p(collision) 1e-6.
run_bf --table t2 --column public_id --until-done --size 30 --alphabet abc --prefix usr_
assert_eq "$RC" 0 "size/alphabet/prefix: exit 0"
assert_sql "SELECT count(*) FROM t2 WHERE public_id IS NULL" 0 "size/alphabet/prefix: no NULL left"
assert_sql "SELECT count(*) FROM t2 WHERE public_id !~ '^usr_[abc]{30}\$'" 0 \
	"size/alphabet/prefix: every value matches ^usr_[abc]{30}\$"
# With only 3 letters every letter must show up: the alphabet is really used.
assert_sql "SELECT count(DISTINCT substr(public_id, 5, 1)) FROM t2" 3 \
	"size/alphabet/prefix: all three letters are used"

# A target with a unique index and a tiny value space: values collide with
# rows filled earlier: a batch skips a row whose id is taken (the guard)
# or, racing, gets 23505 and retries with new ids.
psqlf <<SQL
CREATE TABLE t4 (id bigint PRIMARY KEY, public_id text UNIQUE);
INSERT INTO t4 SELECT i, NULL FROM generate_series(1, 1000) i;
ANALYZE t4;
SQL
run_bf --table t4 --column public_id --until-done --size 16 --alphabet ab --batch-size 10
assert_eq "$RC" 0 "unique collisions: exit 0"
assert_sql "SELECT count(*) FROM t4 WHERE public_id IS NULL OR public_id !~ '^[ab]{16}\$'" 0 \
	"unique collisions: every row filled from the alphabet"

# Running again over the complete table t writes nothing.
versions_before=$(table_versions t)
digest_before=$(table_digest t)
run_bf --table t --column public_id --until-done
assert_eq "$RC" 0 "complete table: second run exits 0"
assert_eq "$(table_versions t)" "$versions_before" "complete table: no row version changed"
assert_eq "$(table_digest t)" "$digest_before" "complete table: contents unchanged"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't'" "$N" \
	"complete table: rows_done still $N"

# A table complete before the daemon ever saw it.
psqlf <<SQL
CREATE TABLE t3 (id bigint PRIMARY KEY, public_id text);
INSERT INTO t3 SELECT i, 'given-' || i FROM generate_series(1, 3000) i;
ANALYZE t3;
SQL
versions_before=$(table_versions t3)
run_bf --table t3 --column public_id --until-done
assert_eq "$RC" 0 "already complete table: exit 0"
assert_eq "$(table_versions t3)" "$versions_before" "already complete table: no row version changed"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 't3'" 0 \
	"already complete table: rows_done 0"
assert_sql "SELECT state FROM $NB_JOBS WHERE table_name = 't3'" 'done' \
	"already complete table: state done"

finish
