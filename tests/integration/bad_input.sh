#!/usr/bin/env bash
# bad_input: every bad command line, job file or target is refused with the
# right exit code and exactly one stderr line, before anything is written:
# no progress schema is created and no table changes.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

psqlf <<'SQL'
CREATE TABLE t_ok (id bigint PRIMARY KEY, public_id text);
INSERT INTO t_ok SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE t_int (id bigint PRIMARY KEY, public_id integer);
INSERT INTO t_int SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE t_short (id bigint PRIMARY KEY, public_id varchar(10));
INSERT INTO t_short SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE t_nopk (id bigint, public_id text);
INSERT INTO t_nopk SELECT i, NULL FROM generate_series(1, 100) i;
-- n: unique but nullable; nu: NOT NULL but not unique
CREATE TABLE t_keys (id bigint PRIMARY KEY, n bigint UNIQUE, nu bigint NOT NULL, public_id text);
INSERT INTO t_keys SELECT i, i, i % 3, NULL FROM generate_series(1, 100) i;
-- unique on (a, b): a key (b, a) is unique but no index serves its order;
-- k's index is in collation "C", the column in the default one
CREATE TABLE t_order (a int NOT NULL, b int NOT NULL, k text NOT NULL, public_id text,
                      UNIQUE (a, b));
CREATE UNIQUE INDEX t_order_k ON t_order (k COLLATE "C");
INSERT INTO t_order SELECT i, -i, 'k' || i, NULL FROM generate_series(1, 100) i;
SQL
TABLES=(t_ok t_int t_short t_nopk t_keys t_order)

all_digests() {
	local t
	for t in "${TABLES[@]}"; do printf '%s=%s ' "$t" "$(table_digest "$t")"; done
}
DIGESTS=$(all_digests)

printf 'table = t_ok\ncolumn = public_id\nno_such_key = 1\n' >"$WORK/unknown_key.ini"

# One case, run in a subshell: its assertions end only the subshell.
check_case() {
	local want_rc=$1 phrase=$2 lines
	shift 2
	run_bf "$@"
	assert_eq "$RC" "$want_rc" "exit code"
	lines=$(grep -c '' "$ERR" || true)
	assert_eq "$lines" 1 "stderr is one line ($(head -c 300 "$ERR"))"
	assert_eq "$(tail -c 1 "$ERR" | od -An -c | tr -d ' ')" '\n' "the stderr line ends with a newline"
	assert_file_match "$ERR" "$NB_ERR_RE" "stderr line is an error"
	assert_file_match "$ERR" "$phrase" "stderr mentions /$phrase/"
	[[ ! -s $OUT ]] || fail "stdout is not empty: $(head -c 300 "$OUT")"
	assert_sql "SELECT to_regnamespace('$NB_PROGRESS_SCHEMA') IS NULL" t "no progress schema created"
	assert_eq "$(all_digests)" "$DIGESTS" "no table changed"
}

# run_case NAME EXIT PHRASE ARGS...
run_case() {
	local name=$1 rc=0
	shift
	set +e
	(check_case "$@") >"$WORK/case.log" 2>&1
	rc=$?
	set -e
	# Keep the cases independent even if one wrote something.
	psqlc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $NB_PROGRESS_SCHEMA CASCADE"
	if ((rc == 0)); then
		pass "$name -> exit $1, /$2/"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $name -> want exit $1, /$2/"
		grep -v '^ok - ' "$WORK/case.log" | sed 's/^/#   /'
		DIGESTS=$(all_digests)
	fi
}

OK=(--column public_id --until-done)

# target problems: 78
run_case "missing table"              78 'does not exist' --table nope "${OK[@]}"
run_case "missing column"             78 'does not exist' --table t_ok --column nope --until-done
run_case "integer column"             78 'text'           --table t_int "${OK[@]}"
run_case "varchar(10), default size"  78 'too short'      --table t_short "${OK[@]}"
run_case "no primary key, --order key" 78 'primary key'  --table t_nopk "${OK[@]}" --order key
run_case "--order sideways"           78 'order'          --table t_ok "${OK[@]}" --order sideways
run_case "--key on a nullable column" 78 'null'           --table t_keys "${OK[@]}" --key n
run_case "--key on a non-unique column" 78 'unique'       --table t_keys "${OK[@]}" --key nu
run_case "--key is the target column" 78 'key'            --table t_ok "${OK[@]}" --key public_id
run_case "--key column missing"       78 'does not exist' --table t_ok "${OK[@]}" --key nope
run_case "--key in another order than its index" 78 'no btree index .* serves key \(b,a\) in that column order' \
	--table t_order "${OK[@]}" --key b,a
run_case "--key in another collation than its index" 78 'no btree index .* serves key \(k\)' \
	--table t_order "${OK[@]}" --key k --order key

# bad values: 78
run_case "--alphabet with a repeat"   78 'alphabet'       --table t_ok "${OK[@]}" --alphabet aab
run_case "--alphabet of one letter"   78 'alphabet'       --table t_ok "${OK[@]}" --alphabet a
run_case "--size 0"                   78 'size'           --table t_ok "${OK[@]}" --size 0
run_case "--size 256"                 78 'size'           --table t_ok "${OK[@]}" --size 256
run_case "--prefix with a space"      78 'prefix'         --table t_ok "${OK[@]}" --prefix 'us r'
run_case "--batch-size abc"           78 'batch-size'     --table t_ok "${OK[@]}" --batch-size abc
run_case "--batch-size 0"             78 'batch-size'     --table t_ok "${OK[@]}" --batch-size 0

# bad command line: 64
run_case "unknown option --tabel"     64 'tabel'          --tabel t_ok "${OK[@]}"
run_case "missing --table"            64 'table'          "${OK[@]}"

# job files: 78
run_case "nonexistent --config"       78 'job file'       --config "$WORK/nope.ini" --until-done
run_case "job file with unknown key"  78 'unknown key'    --config "$WORK/unknown_key.ini" --until-done

# A server that cannot be reached is a runtime failure (1), not a config
# error: the same command may work once the database is back.
run_case "--dsn to a missing database" 1 'connect'        --dsn 'dbname=nope' --table t_ok "${OK[@]}"

finish
