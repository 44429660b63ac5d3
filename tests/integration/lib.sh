# shellcheck shell=bash disable=SC2034  # contract variables are used by the tests
# lib.sh - sourced by every integration test:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"    # $1: the binary
#   pg_start
#   ...
#   finish
#
# Each test gets its own throwaway PostgreSQL (scripts/pgtmp.sh, a Unix socket
# in a mktemp dir under /tmp), and an EXIT trap that kills every daemon the
# test started, stops the cluster and removes the temp dirs. Assertions print
# "ok - ..." or "not ok - ..."; the first failure ends the script with exit 1
# after printing diagnostics (the last daemon stderr, the server log tail).

set -euo pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$LIB_DIR/../.." && pwd)
PGTMP=$REPO_ROOT/scripts/pgtmp.sh

NB=${1:-${NB:-}}
if [[ -z $NB || ! -x $NB ]]; then
	echo "usage: $0 /path/to/nanoid-backfill   (got: '${NB}')" >&2
	exit 2
fi
case $NB in /*) ;; *) NB=$PWD/$NB ;; esac

# --- the binary's contract, in one place -----------------------------------
# If a phrase or a column name changes, change it here.
NB_PROGRESS_SCHEMA=nanoid_backfill
NB_JOBS=$NB_PROGRESS_SCHEMA.job_progress  # per-job view: state, passes, rows_done incl. open leases
NB_LEASES=$NB_PROGRESS_SCHEMA.leases      # key-range leases of the pass in progress
NB_ERR_RE='^nanoid-backfill: error: ' # the one stderr line of a failure
NB_RESUME_RE='resuming'               # info line when a job is picked up again
NB_STOP_RE='stop'                     # info line on SIGTERM ("stopping")
NB_DEFAULT_ID_RE='^[A-Za-z0-9_-]{21}$' # default alphabet and size

# need_pgbench: PGBENCH is the server's pgbench (PG_BINDIR's, else the
# newest installed), or the test fails.
need_pgbench() {
	PGBENCH=${PG_BINDIR:+$PG_BINDIR/pgbench}
	[[ -n $PGBENCH && -x $PGBENCH ]] ||
		PGBENCH=$(printf '%s\n' /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)
	[[ -x $PGBENCH ]] || fail "no pgbench"
}
BF_TIMEOUT=${BF_TIMEOUT:-120}         # no single daemon run may take longer
NB_PROGRESS_VIEW=$NB_PROGRESS_SCHEMA.job_progress # rows_done per job, open pass included
NB_THROTTLED_RE='throttled: '         # log/progress line while a pause or pacing holds
NB_POOLER_RE='through a pooler in transaction or statement mode.*pool_mode = session' # refused pooler
# ---------------------------------------------------------------------------

# Nothing from the caller's environment may steer libpq or the logger.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE \
	PGSERVICE PGSERVICEFILE PGOPTIONS PGAPPNAME PGSSLMODE PGCONNECT_TIMEOUT \
	PGTARGETSESSIONATTRS JOURNAL_STREAM NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
export LC_ALL=C

PASSED=0
FAILED=0
SUMMARY_DONE=0
RUN_N=0
BG_PIDS=()
WATCH_PID=
BF_PID=
RC=
OUT=
ERR=
PGDIR=
SBDIR=                 # pg_standby: the standby's directory (its PGHOST)
WORK=$(mktemp -d /tmp/nbtest.XXXXXX)
TEST_NAME=$(basename "$0" .sh)

_lib_cleanup() {
	local rc=$? pid
	set +e
	trap - EXIT
	for pid in "${BG_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if ((rc != 0)); then
		if [[ -n $ERR && -s $ERR ]]; then
			echo "# --- stderr of the last daemon run ($ERR, last 20 lines) ---"
			tail -n 20 "$ERR" | sed 's/^/#   /'
		fi
		if [[ -n $OUT && -s $OUT ]]; then
			echo "# --- stdout of the last daemon run (last 10 lines) ---"
			tail -n 10 "$OUT" | sed 's/^/#   /'
		fi
		if [[ -n $PGDIR && -f $PGDIR/pg.log ]]; then
			echo "# --- server log (last 20 lines) ---"
			tail -n 20 "$PGDIR/pg.log" | sed 's/^/#   /'
		fi
		if [[ -n $SBDIR && -f $SBDIR/pg.log ]]; then
			echo "# --- standby log (last 10 lines) ---"
			tail -n 10 "$SBDIR/pg.log" | sed 's/^/#   /'
		fi
		if ((SUMMARY_DONE == 0)); then
			echo "$TEST_NAME: $PASSED passed, $((FAILED > 0 ? FAILED : 1)) failed"
		fi
	fi
	if [[ -n $SBDIR ]]; then
		"$PGTMP" stop "$SBDIR" >/dev/null 2>&1 || echo "# could not stop the standby in $SBDIR"
	fi
	if [[ -n $PGDIR ]]; then
		"$PGTMP" stop "$PGDIR" >/dev/null 2>&1 || echo "# could not stop the cluster in $PGDIR"
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- results -----------------------------------------------------------------

pass() {
	PASSED=$((PASSED + 1))
	echo "ok - $*"
}

# Fails the current (sub)shell: exit 1 after "not ok - MSG".
fail() {
	FAILED=$((FAILED + 1))
	echo "not ok - $*"
	exit 1
}

# Ends a test: prints the count line and exits 0 only if nothing failed.
finish() {
	SUMMARY_DONE=1
	echo "$TEST_NAME: $PASSED passed, $FAILED failed"
	((FAILED == 0)) || exit 1
	exit 0
}

# assert_eq GOT WANT MSG
assert_eq() {
	[[ $1 == "$2" ]] || fail "$3: got '$1', want '$2'"
	pass "$3"
}

# assert_match GOT ERE MSG
assert_match() {
	[[ $1 =~ $2 ]] || fail "$3: '$1' does not match /$2/"
	pass "$3"
}

# assert_file_match FILE ERE MSG  (case-insensitive, any line)
assert_file_match() {
	grep -Eiq -- "$2" "$1" || fail "$3: no line of $(basename "$1") matches /$2/ (it has: $(head -c 600 "$1"))"
	pass "$3"
}

# assert_file_nomatch FILE ERE MSG  (case-insensitive, no line)
assert_file_nomatch() {
	if grep -Eiq -- "$2" "$1"; then
		fail "$3: $(basename "$1") has a line matching /$2/: $(grep -Ei -m1 -- "$2" "$1")"
	fi
	pass "$3"
}

# assert_exit WANT CMD... : runs CMD with stdout/stderr to $WORK files.
assert_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$WORK/assert.out" 2>"$WORK/assert.err" </dev/null || rc=$?
	[[ $rc == "$want" ]] ||
		fail "exit code of '$*': got $rc, want $want (stderr: $(head -c 600 "$WORK/assert.err"))"
	pass "'$*' exits $want"
}

# assert_sql SQL WANT MSG: the single value SQL returns equals WANT.
assert_sql() {
	local got
	got=$(psqlc "$1") || fail "$3: query failed: $1"
	assert_eq "$got" "$2" "$3"
}

# --- PostgreSQL --------------------------------------------------------------

# Starts this test's cluster and exports PGHOST/PGPORT/PGUSER/PGDATABASE.
pg_start() {
	local exports
	PGDIR=$(mktemp -d /tmp/nbpg.XXXXXX)
	chmod 755 "$PGDIR"
	exports=$("$PGTMP" start "$PGDIR") || fail "could not start PostgreSQL in $PGDIR"
	eval "$exports"
}

# Starts a streaming standby of this test's cluster (pg_basebackup -R) in
# SBDIR, its own socket directory; query it with PGHOST=$SBDIR. The cluster
# must allow replication: PGTMP_CONF=$PG_REPLICATION_CONF pg_start.
PG_REPLICATION_CONF="wal_level = replica
max_wal_senders = 5
wal_keep_size = 256MB"
pg_standby() {
	SBDIR=$(mktemp -d /tmp/nbsb.XXXXXX)
	chmod 755 "$SBDIR"
	"$PGTMP" standby "$PGDIR" "$SBDIR" >/dev/null || fail "could not start a standby in $SBDIR"
}

# psqlc SQL: one command (or several separated by ;), unaligned, tuples only.
psqlc() {
	psql -X -v ON_ERROR_STOP=1 -qAt -c "$1"
}

# psqlf: SQL script on stdin.
psqlf() {
	psql -X -v ON_ERROR_STOP=1 -qAt -f -
}

# sql_true SQL: succeeds if SQL returns 't' (errors count as false: for polling).
sql_true() {
	[[ $(psqlc "$1" 2>/dev/null) == t ]]
}

# md5 of all rows of a table (any column types), order-independent.
table_digest() {
	psqlc "SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM $1 x"
}

# md5 of the whole database as pg_dump writes it (schema and data), less
# the \restrict lines' random key (pg_dump 15.14 and later): what a
# refusal must leave unchanged.
db_digest() {
	pg_dump --no-password "$PGDATABASE" | grep -Ev '^\\(un)?restrict ' | md5sum
}

# md5 of every row's physical version: changes if any row was updated, even to
# the same value.
table_versions() {
	psqlc "SELECT md5(coalesce(string_agg(ctid::text || ':' || xmin::text, ',' ORDER BY ctid), '')) FROM $1"
}

# One column of the progress row: jobs_col COL WHERE-CLAUSE
jobs_col() {
	psqlc "SELECT $1 FROM $NB_JOBS WHERE $2"
}

# view_rows_done TABLE: rows_done of the job on TABLE from the job_progress
# view; 0 before the daemon has created it.
view_rows_done() {
	psqlc "SELECT coalesce((SELECT rows_done FROM $NB_PROGRESS_VIEW
	                         WHERE table_name = '$1'), 0)" 2>/dev/null || echo 0
}

# now_s: seconds since the epoch with fractions; elapsed_s START: seconds since.
now_s() {
	date +%s.%N
}
elapsed_s() {
	awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }'
}

# float_between X LO HI: LO <= X <= HI.
float_between() {
	awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'
}

# Succeeds when no client backend but this psql's is connected (polling:
# a backend lingers a moment after its client has gone).
no_other_backends() {
	sql_true "SELECT count(*) = 0 FROM pg_stat_activity
	           WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
}

# --- the daemon --------------------------------------------------------------

_next_run() {
	RUN_N=$((RUN_N + 1))
	OUT=$WORK/run$RUN_N.out
	ERR=$WORK/run$RUN_N.err
}

# The daemon's command line for ARGS: a backfill run gets
# --max-latency-increase $BF_MAX_LATENCY_INCREASE (default 0: no pace)
# first, so later options still win. The suite's own psql sessions (the
# polls of wait_for, assert_sql) would otherwise count as an application
# at work, and a noisy machine's latency would pace runs by chance;
# throttle_pace.sh tests the pace itself. Subcommands
# (plan, verify, finalize, status) run as given.
_bf_argv() {
	case ${1:-} in
	plan | verify | finalize | status | check-config | run) BF_ARGV=("$@") ;;
	*) BF_ARGV=(--max-latency-increase "${BF_MAX_LATENCY_INCREASE:-0}" "$@") ;;
	esac
}

# run_bf ARGS...: runs the daemon to its end (at most BF_TIMEOUT s).
# Sets RC (also written to $WORK/runN.rc), and OUT and ERR to the files
# holding its stdout and stderr.
run_bf() {
	_next_run
	RC=0
	_bf_argv "$@"
	timeout -k 5 "$BF_TIMEOUT" "$NB" "${BF_ARGV[@]}" >"$OUT" 2>"$ERR" </dev/null || RC=$?
	echo "$RC" >"${OUT%.out}.rc"
	if ((RC == 124 || RC == 137)); then
		echo "# daemon run $RUN_N killed by timeout after ${BF_TIMEOUT}s: $*"
	fi
}

# bg_bf ARGS...: starts the daemon in the background. Sets BF_PID (also
# WATCH_PID, so wait_for gives up early if it dies), OUT and ERR.
bg_bf() {
	_next_run
	_bf_argv "$@"
	"$NB" "${BF_ARGV[@]}" >"$OUT" 2>"$ERR" </dev/null &
	BF_PID=$!
	WATCH_PID=$BF_PID
	BG_PIDS+=("$BF_PID")
}

# pid_alive PID: running and not a zombie (kill -0 succeeds on zombies).
pid_alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ ${s%% *} != Z ]]
}

_forget_pid() {
	local p keep=()
	for p in "${BG_PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	BG_PIDS=("${keep[@]}")
	[[ $WATCH_PID != "$1" ]] || WATCH_PID=
}

# wait_exit PID TIMEOUT: waits for a background child to end; sets RC.
wait_exit() {
	local pid=$1 end=$((SECONDS + $2))
	while pid_alive "$pid"; do
		((SECONDS < end)) || fail "process $pid did not exit within $2 s"
		sleep 0.1
	done
	RC=0
	wait "$pid" || RC=$?
	_forget_pid "$pid"
}

# kill_bf SIGNAL PID: signals a background daemon and reaps it (10 s max).
kill_bf() {
	kill "-$1" "$2" 2>/dev/null || true
	wait_exit "$2" 10
}

# wait_for TIMEOUT DESCRIPTION CMD...: polls CMD every 0.1 s until it
# succeeds. Fails on timeout, or at once if WATCH_PID is set and has exited.
wait_for() {
	local t=$1 desc=$2 end
	shift 2
	end=$((SECONDS + t))
	until "$@"; do
		if [[ -n $WATCH_PID ]] && ! pid_alive "$WATCH_PID"; then
			local rc=0
			wait "$WATCH_PID" || rc=$?
			_forget_pid "$WATCH_PID"
			fail "daemon exited (code $rc) before: $desc"
		fi
		((SECONDS < end)) || fail "timed out after $t s waiting for: $desc"
		sleep 0.1
	done
}

# Peak resident set of a process so far, in kB (0 if it is gone).
vm_hwm_kb() {
	local line
	line=$(grep -m1 '^VmHWM:' "/proc/$1/status" 2>/dev/null) || {
		echo 0
		return 0
	}
	line=${line#VmHWM:}
	echo $((${line% kB}))
}

# --- server faults ---------------------------------------------------

# pg_ctl_as ARGS...: pg_ctl on this test's cluster (-D added), as the postgres
# user when root, with the server binaries scripts/pgtmp.sh uses.
pg_ctl_as() {
	local bin=${PG_BINDIR:-}
	[[ -n $bin ]] || bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$bin/pg_ctl" -D "$PGDIR/data" "$@")
	else
		(cd / && "$bin/pg_ctl" -D "$PGDIR/data" "$@")
	fi
}

# pg_restart: `pg_ctl restart -m fast` (sessions are terminated, then the
# server comes back on the same socket). pg_stop: stop it (-m fast) and leave
# it down; pg_resume: start it again. The EXIT trap cleans up either way.
pg_restart() {
	pg_ctl_as -l "$PGDIR/pg.log" -m fast -w -t 60 restart >/dev/null ||
		fail "pg_ctl restart failed"
}
pg_stop() {
	pg_ctl_as -m fast -w -t 60 stop >/dev/null || fail "pg_ctl stop failed"
}
pg_resume() {
	pg_ctl_as -l "$PGDIR/pg.log" -w -t 60 start >/dev/null || fail "pg_ctl start failed"
}
