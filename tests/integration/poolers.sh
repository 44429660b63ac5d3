#!/usr/bin/env bash
# poolers: behind a real PgBouncer, transaction and statement pooling are
# refused (exit 78, one line, the database and the pool's server sessions
# as they were) and session pooling fills the table; a direct connection is
# not refused either. Two PgBouncers: one reusing idle servers last in,
# first out (its default), one round robin (server_round_robin = 1), each
# with transaction, statement and session pools, and pools of one server.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[[ -x $PGBOUNCER ]] || fail "no pgbouncer (scripts/deps.sh installs it)"

CHECK_APPNAME='nanoid-backfill pooler check'

# The server logs each connection with its application_name.
PGTMP_CONF="log_connections = on" pg_start

psqlf <<'SQL'
CREATE TABLE t (id bigint PRIMARY KEY, payload text, public_id text);
INSERT INTO t SELECT i, md5(i::text), NULL FROM generate_series(1, 20000) i;
CREATE TABLE t_rr (id bigint PRIMARY KEY, public_id text);
INSERT INTO t_rr SELECT i, NULL FROM generate_series(1, 2000) i;
CREATE TABLE t_direct (id bigint PRIMARY KEY, public_id text);
INSERT INTO t_direct SELECT i, NULL FROM generate_series(1, 2000) i;
CREATE TABLE t_one (id bigint PRIMARY KEY, public_id text);
INSERT INTO t_one SELECT i, NULL FROM generate_series(1, 100) i;
ANALYZE;
SQL

# filled WHAT TABLE ROWS: every row holds a distinct default nanoid.
filled() {
	assert_sql "SELECT count(*) FROM $2 WHERE public_id IS NULL" 0 "$1: no NULL left"
	assert_sql "SELECT count(DISTINCT public_id) FROM $2" "$3" "$1: $3 distinct ids"
	assert_sql "SELECT count(*) FROM $2 WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 \
		"$1: every id a default nanoid"
}

# A direct connection: checked (the check's two connections reach the
# server under their own name) and not refused; they leave no session.
conns_before=$(grep -c "application_name=$CHECK_APPNAME\$" "$PGDIR/pg.log" || true)
run_bf --table t_direct --column public_id --until-done --workers 2
assert_eq "$RC" 0 "direct: exit 0"
filled direct t_direct 2000
assert_eq "$(($(grep -c "application_name=$CHECK_APPNAME\$" "$PGDIR/pg.log" || true) - conns_before))" 2 \
	"direct: the check opened two connections named '$CHECK_APPNAME'"
wait_for 10 "no session left by the check" \
	sql_true "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = '$CHECK_APPNAME'"
pass "direct: the check's sessions are gone"
psqlc "DROP SCHEMA $NB_PROGRESS_SCHEMA CASCADE" 2>/dev/null

# --- PgBouncer ----------------------------------------------------------------

# Each PgBouncer listens only on a Unix socket in a directory of its own
# under WORK (no TCP: nothing collides with a system pgbouncer on 6432), as
# the postgres user when we are root (PgBouncer refuses to run as root),
# with trust authentication like the cluster.
if ((EUID == 0)); then
	chmod 711 "$WORK" # postgres walks through to its own directory
fi

# pgb_start NAME EXTRA: starts PgBouncer NAME (its directory is PGB_NAME's
# value afterwards) with the global settings EXTRA; killed at exit.
pgb_start() {
	local name=$1 extra=$2 dir=$WORK/pgb-$1 pid backend
	backend="host=$PGHOST port=$PGPORT dbname=$PGDATABASE"
	mkdir "$dir"
	printf '"%s" ""\n' "$PGUSER" >"$dir/userlist.txt"
	cat >"$dir/pgbouncer.ini" <<INI
[databases]
tx = $backend pool_mode=transaction
stmt = $backend pool_mode=statement
tx1 = $backend pool_mode=transaction pool_size=1
sess = $backend pool_mode=session
sess1 = $backend pool_mode=session pool_size=1

[pgbouncer]
unix_socket_dir = $dir
listen_port = 6432
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = $PGUSER
logfile = $dir/pgbouncer.log
$extra
INI
	if ((EUID == 0)); then
		chown -R postgres: "$dir"
		# setpriv execs (runuser would fork): the pid killed at exit is PgBouncer's.
		(cd / && exec setpriv --reuid=postgres --regid=postgres --init-groups \
			"$PGBOUNCER" "$dir/pgbouncer.ini") >"$dir/stdout" 2>&1 &
	else
		(cd / && exec "$PGBOUNCER" "$dir/pgbouncer.ini") >"$dir/stdout" 2>&1 &
	fi
	pid=$!
	BG_PIDS+=("$pid")
	WATCH_PID=$pid
	wait_for 20 "pgbouncer $name accepting connections" pgb_up "$dir"
	WATCH_PID=
	printf -v "PGB_$name" '%s' "$dir"
}
PGB_lifo=
PGB_rr=

# pgb_admin DIR SQL: a command on a PgBouncer's admin console.
pgb_admin() {
	psql -X -qAt "host=$1 port=6432 dbname=pgbouncer" -c "$2" 2>/dev/null
}

pgb_up() {
	pgb_admin "$1" "SHOW VERSION" >/dev/null
}

# pgb_no_clients DIR: no client but the admin console's (this query's).
pgb_no_clients() {
	[[ $(pgb_admin "$1" "SHOW CLIENTS" | grep -vc '|pgbouncer|' || true) == 0 ]]
}

# pgb_clients DIR DB N: N clients (or more) in pool DB.
pgb_clients() {
	(($(pgb_admin "$1" "SHOW CLIENTS" | grep -c "|$2|" || true) >= $3))
}

# pgb_dsn DIR DB: the --dsn of pool DB of the PgBouncer in DIR.
pgb_dsn() {
	echo "host=$1 port=6432 dbname=$2"
}

# The settings the engine gives its sessions, as a pool's server has them.
server_settings() {
	psql -X -qAt "$(pgb_dsn "$1" "$2")" -c "SELECT concat_ws(',',
		current_setting('enable_seqscan'), current_setting('enable_bitmapscan'),
		current_setting('statement_timeout'), current_setting('lock_timeout'),
		current_setting('plan_cache_mode'))"
}

pgb_start lifo ""
pgb_start rr "server_round_robin = 1"

# The pools reach this test's cluster.
assert_eq "$(psql -X -qAt "$(pgb_dsn "$PGB_lifo" tx)" -c "SELECT count(*) FROM t")" 20000 \
	"pgbouncer: the transaction pool reaches the cluster"

# --- transaction and statement pooling: refused, nothing written ---------------

digest_before=$(db_digest)
versions_before=$(table_versions t)
settings_before=$(server_settings "$PGB_lifo" tx1)
assert_eq "$settings_before" "on,on,0,0,auto" "tx1: its server starts with the defaults"

# assert_refused LABEL RUNS DSN: RUNS runs with 2 workers through DSN each
# exit 78 with exactly one stderr line, the pooler's.
assert_refused() {
	local label=$1 runs=$2 dsn=$3 i n line
	for ((i = 1; i <= runs; i++)); do
		run_bf --dsn "$dsn" --table t --column public_id --until-done --workers 2
		((RC == 78)) || fail "$label: run $i of $runs: exit $RC, want 78"
		n=$(wc -l <"$ERR")
		((n == 1)) || fail "$label: run $i of $runs: $n lines on stderr, want 1"
		line=$(cat "$ERR")
		[[ $line =~ $NB_ERR_RE && $line =~ $NB_POOLER_RE ]] ||
			fail "$label: run $i of $runs: '$line' does not match /$NB_POOLER_RE/"
	done
	pass "$label: $runs of $runs runs with 2 workers exit 78, stderr one line: the pooler's mode"
}

assert_refused "transaction pooling" 8 "$(pgb_dsn "$PGB_lifo" tx)"
run_bf --check-config --dsn "$(pgb_dsn "$PGB_lifo" tx)" --table t --column public_id
assert_eq "$RC" 78 "transaction pooling: --check-config refuses it too (78)"
assert_file_match "$ERR" "$NB_ERR_RE.*$NB_POOLER_RE" "transaction pooling: --check-config says why"
assert_refused "statement pooling" 3 "$(pgb_dsn "$PGB_lifo" stmt)"
assert_refused "transaction pooling, pool_size = 1" 3 "$(pgb_dsn "$PGB_lifo" tx1)"
assert_refused "transaction pooling, round robin" 5 "$(pgb_dsn "$PGB_rr" tx)"
assert_refused "statement pooling, round robin" 3 "$(pgb_dsn "$PGB_rr" stmt)"
assert_refused "transaction pooling, round robin, pool_size = 1" 3 "$(pgb_dsn "$PGB_rr" tx1)"

# Other clients at work in the pool meanwhile: servers change hands between
# the check's statements, and the check still sees it. Each client is
# bounded (200,000 statements) and still at work when the runs are over.
apps=()
for i in 1 2; do
	yes 'SELECT pg_backend_pid();' | head -n 200000 |
		psql -X -qAt "$(pgb_dsn "$PGB_lifo" tx)" >/dev/null 2>&1 &
	apps+=("$!")
	BG_PIDS+=("$!")
done
wait_for 10 "the other clients in the transaction pool" pgb_clients "$PGB_lifo" tx 2
assert_refused "transaction pooling, two other clients at work" 3 "$(pgb_dsn "$PGB_lifo" tx)"
for app in "${apps[@]}"; do
	pid_alive "$app" || fail "another client was done before the runs were"
	kill_bf TERM "$app"
done
pass "transaction pooling: the other clients were at work throughout"

assert_sql "SELECT to_regnamespace('$NB_PROGRESS_SCHEMA') IS NULL" t \
	"refused: no progress schema created"
assert_eq "$(table_versions t)" "$versions_before" "refused: no row of t changed"
assert_eq "$(db_digest)" "$digest_before" "refused: pg_dump of the database unchanged"
for pgb in "$PGB_lifo" "$PGB_rr"; do
	wait_for 10 "no client left on $(basename "$pgb")" pgb_no_clients "$pgb"
done
pass "refused: no client left on either pgbouncer"

# --- session pooling: filled ---------------------------------------------------

run_bf --dsn "$(pgb_dsn "$PGB_lifo" sess)" --table t --column public_id --until-done --workers 2
assert_eq "$RC" 0 "session pooling: exit 0"
filled "session pooling" t 20000
run_bf --dsn "$(pgb_dsn "$PGB_rr" sess)" --table t_rr --column public_id --until-done --workers 2
assert_eq "$RC" 0 "session pooling, round robin: exit 0"
filled "session pooling, round robin" t_rr 2000

# --- what the engine leaves around the check ------------------------------------
# Each records a failure without ending the script, so that both are reported.

# soft_case NAME FUNCTION: runs FUNCTION in a subshell; a failure is counted
# and its lines shown, and the script goes on.
soft_case() {
	local rc=0 runs last
	runs=$(find "$WORK" -maxdepth 1 -name 'run*.err' | wc -l)
	(set -e; "$2") >"$WORK/case.log" 2>&1 || rc=$?
	if ((rc == 0)); then
		pass "$1"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $1"
		grep -v '^ok - ' "$WORK/case.log" | sed 's/^/#   /'
		if (($(find "$WORK" -maxdepth 1 -name 'run*.err' | wc -l) > runs)); then
			last=$(ls -t "$WORK"/run*.err | head -n 1)
			echo "#   stderr of its last run ($(basename "$last"), last 5 lines):"
			tail -n 5 "$last" | cut -c 1-300 | sed 's/^/#     /'
		fi
	fi
}

# A refused run sets nothing in the pool's servers, whose sessions the
# application's transactions go on using (tx1: one server, so it is the
# one the refused runs used).
case_settings() {
	assert_eq "$(server_settings "$PGB_lifo" tx1)" "$settings_before" \
		"tx1: its server's settings after the refused runs"
}
soft_case "transaction pooling: a refused run leaves the pool's server sessions as they were" \
	case_settings

# A session pool with a single server cannot serve the check's two
# connections: no answer in time is not a verdict, the run retries like
# after a lost connection, and --until-done gives up at reconnect-timeout.
case_unknown() {
	BF_TIMEOUT=60 run_bf --dsn "$(pgb_dsn "$PGB_lifo" sess1) connect_timeout=2" \
		--table t_one --column public_id --until-done --workers 1 --reconnect-timeout 5
	assert_eq "$RC" 1 "no free server: exit 1 at reconnect-timeout"
	assert_file_match "$ERR" "${NB_ERR_RE}.*reconnect-timeout.*pooler check: no answer" \
		"no free server: the error line names the check"
	assert_sql "SELECT count(*) FROM $NB_JOBS WHERE table_name = 't_one'" 0 \
		"no free server: no job row for t_one"
}
soft_case "session pool of one server: the check cannot tell, the run retries and gives up" \
	case_unknown

finish
