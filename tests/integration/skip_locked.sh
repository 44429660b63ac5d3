#!/usr/bin/env bash
# skip_locked: a batch never waits on a row the application holds locked.
#   1. an application session holds 500 rows FOR UPDATE for 4 s inside the
#      backfill's range, while other sessions update the 1,000 rows just
#      before them (pgbench, 100 transactions/s): no update waits more than
#      200 ms, the backfill exits 0, every row is filled exactly once after
#      the release (no NULL, no duplicate, the application's values kept)
#      and the log says rows were skipped for a later look;
#   2. in physical order, the same;
#   and in both, the rows a lease skipped are walked again after a
#   backoff, not in a spin: few batches meet them while they stay locked.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

need_pgbench
pg_start

# make_table T: 20,000 rows, 100 of them with a value already (kept).
make_table() {
	psqlf <<SQL
CREATE TABLE $1 (id bigint PRIMARY KEY, payload int NOT NULL DEFAULT 0, public_id text);
INSERT INTO $1 (id) SELECT i FROM generate_series(1, 20000) i;
UPDATE $1 SET public_id = 'kept-' || id WHERE id % 200 = 0;
ANALYZE $1;
SQL
}

# one_case T ORDER: the case above on table T, walked in ORDER.
one_case() {
	local t=$1 order=$2 lock_pid bench_pid max_ms
	make_table "$t"
	# The application's lock: rows 5001-5500, 4 s.
	psql -X -q -c "BEGIN; SELECT id FROM $t WHERE id BETWEEN 5001 AND 5500 FOR UPDATE; SELECT pg_sleep(4); COMMIT;" \
		>/dev/null 2>&1 &
	lock_pid=$!
	BG_PIDS+=("$lock_pid")
	wait_for 10 "$t: the application holds its rows" sql_true \
		"SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.query LIKE '%FOR UPDATE%' AND l.locktype = 'transactionid' AND a.pid <> pg_backend_pid()"
	# Other sessions update the 1,000 rows before them.
	cat >"$WORK/$t.sql" <<SQL
\\set id random(4001, 5000)
UPDATE $t SET payload = payload + 1 WHERE id = :id;
SQL
	(cd "$WORK" && "$PGBENCH" -n -c 4 -R 100 -T 5 -l --log-prefix="$WORK/$t-lat" -f "$WORK/$t.sql" \
		>"$WORK/$t.bench.out" 2>&1) &
	bench_pid=$!
	BG_PIDS+=("$bench_pid")
	sleep 0.3
	run_bf --table "$t" --column public_id --until-done --order "$order" \
		--batch-size 200 --lease-size 2000 --progress-interval 1 --log-level debug
	assert_eq "$RC" 0 "$t ($order): exit 0"
	wait "$bench_pid" || fail "$t: pgbench failed: $(tail -n 3 "$WORK/$t.bench.out")"
	_forget_pid "$bench_pid"
	wait "$lock_pid" 2>/dev/null || true
	_forget_pid "$lock_pid"
	assert_sql "SELECT count(*) FROM $t WHERE public_id IS NULL" 0 "$t ($order): no NULL left"
	assert_sql "SELECT count(DISTINCT public_id) FROM $t" 20000 "$t ($order): 20000 distinct ids"
	assert_sql "SELECT count(*) FROM $t WHERE id % 200 = 0 AND public_id = 'kept-' || id" 100 \
		"$t ($order): the values there before are kept"
	assert_sql "SELECT count(*) FROM $t WHERE id BETWEEN 5001 AND 5500 AND public_id ~ '^[A-Za-z0-9_-]{21}\$'" \
		498 "$t ($order): the locked rows are filled after the release"
	assert_file_match "$ERR" "rows locked by others, skipped for a later look|[1-9][0-9]* busy" \
		"$t ($order): the log says rows were skipped"
	# Per-transaction log: column 3 is the latency in microseconds.
	max_ms=$(cat "$WORK/$t-lat".* | awk 'NF >= 3 && $3 ~ /^[0-9]+$/ { if ($3 > m) m = $3 } END { printf "%d", m / 1000 }')
	(($(cat "$WORK/$t-lat".* | wc -l) > 300)) || fail "$t: pgbench logged too few transactions"
	((max_ms < 200)) || fail "$t ($order): an update waited $max_ms ms (want < 200)"
	pass "$t ($order): the slowest of the application's updates took $max_ms ms"
	# No spin: the lease with the locked rows is walked again with a
	# backoff (0.2 s doubling), so only a few batches meet them in 4 s.
	busy_batches=$(grep -cE ', [1-9][0-9]* busy in ' "$ERR" || true)
	((busy_batches >= 1 && busy_batches <= 20)) ||
		fail "$t ($order): $busy_batches batches met the locked rows (want 1 to 20)"
	pass "$t ($order): $busy_batches batches met the locked rows"
}

one_case t_key key
one_case t_phys physical

finish
