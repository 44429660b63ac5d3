#!/usr/bin/env bash
# idle_pass.sh - what does a finished service cost? Pages read per idle pass
# and the probe's wall time on a filled table.
#
#   bash bench/idle_pass.sh
#
# Installs the dependencies (scripts/deps.sh), builds into build-bench/,
# starts a throwaway PostgreSQL (scripts/pgtmp.sh, shared_buffers = 1GB) and
# builds two filled ROWS-row tables (public_id set by plain SQL, md5(i),
# every value distinct; VACUUM ANALYZE; autovacuum off on them, so that
# nothing but the service reads them):
#
#   t (id bigint PRIMARY KEY, pad text (100 bytes), public_id text)
#   u (id uuid PRIMARY KEY (gen_random_uuid()), pad text, public_id text)
#
# Then, for each table, a running service
#
#   nanoid-backfill --config T.conf --table T --column public_id
#                   --idle-interval 1 --max-latency-increase 0 --log-level debug
#
# (T.conf: full-sweep-interval = 24h, or 1s for cases 2 and 3: rewritten,
# then SIGHUP) is watched, case by case, for WINDOW seconds of idle passes,
# after its first pass (a new job walks the table once) and, for the
# integer key, after its first probe past the high-water mark. Window bounds: 0.6 s after a "probe: nothing to
# fill" line (the service then waits 1 s), pg_statio_user_tables read
# there; the pages read in the window (heap and index, read + hit) divided
# by the probe lines logged in it:
#
#   1 int-tail     t, probes past the high-water mark, no partial index
#   2 int-sweep    t, full-sweep-interval 1s: whole-table probes, no partial index
#   3 int-sweep-ix the same with CREATE INDEX ON t (id) WHERE public_id IS NULL
#   4 uuid         u, whole-table probes every pass, no partial index
#   5 uuid-ix      the same with CREATE INDEX ON u (id) WHERE public_id IS NULL
#
# and, with the service paused (SIGSTOP) or stopped, the probe statement the
# service sends is run by hand TIMINGS times in one psql session with \timing (median), then
# once under EXPLAIN (ANALYZE, BUFFERS) (its plan and buffers, a cross-check
# of the per-pass pages). The report (markdown) goes to stdout and to
# bench/results/idle-pass-<UTC date>.md.
#
# Parameters (environment): ROWS=10000000 WINDOW=20 TIMINGS=5. A full run
# takes about 5 minutes on 2 cores (see bench/README.md). Smoke run:
# ROWS=200000 WINDOW=5 TIMINGS=3.
set -euo pipefail
# shellcheck source=scripts/as_root.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/as_root.sh"
as_root ROWS WINDOW TIMINGS -- "$@"

ROWS=${ROWS:-10000000}
WINDOW=${WINDOW:-20}
TIMINGS=${TIMINGS:-5}
FIRST_PASS_TIMEOUT=1800 # seconds for a new job's first pass over the table

log() { echo "idle_pass: $*" >&2; }
die() { echo "idle_pass: error: $*" >&2; exit 1; }

# check NAME MIN: NAME's value is an integer >= MIN
check() {
	local v=${!1}
	if [[ ! $v =~ ^[0-9]{1,10}$ ]] || ((v < $2)); then
		die "$1 must be an integer >= $2, not '$v'"
	fi
}
check ROWS 1000
check WINDOW 2
check TIMINGS 1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
NB=$BUILD/nanoid-backfill
RESULTS=$ROOT/bench/results
STAMP=$(date -u +%Y-%m-%d)
REPORT=$RESULTS/idle-pass-$STAMP.md
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
export LC_ALL=C

# --- setup ------------------------------------------------------------------

bash "$ROOT/scripts/deps.sh" >&2
command -v setsid >/dev/null || die "setsid missing (Debian package: util-linux)"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_build

WORK=$(mktemp -d /tmp/nbidle.XXXXXX)
PGDIR=$(mktemp -d /tmp/nbidlepg.XXXXXX)
chmod 755 "$WORK" "$PGDIR"

# The service runs in its own session (setsid) in the background; cleanup
# stops it (its process group) and removes the cluster.
SVC=
cleanup() {
	local rc=$?
	set +e
	if [[ -n $SVC ]]; then
		kill -CONT "$SVC" 2>/dev/null
		kill -TERM -- "-$SVC" 2>/dev/null || kill -TERM "$SVC" 2>/dev/null
		sleep 1
		kill -KILL -- "-$SVC" 2>/dev/null
	fi
	"$ROOT/scripts/pgtmp.sh" stop "$PGDIR" >/dev/null 2>&1 ||
		log "could not remove the cluster in $PGDIR"
	rm -rf "$WORK"
	((rc == 0)) || log "FAILED (exit $rc); the cluster has been removed"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_s() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- the server ---------------------------------------------------------------

# pgtmp.sh's test settings (fsync off, wal_level minimal: nothing here is
# about writes) plus a production-sized cache; the tables (about 1.8 GB of
# heap each at 10M rows) do not fit in it, as a big table would not.
SETTINGS=("shared_buffers = 1GB" "maintenance_work_mem = 512MB" "max_wal_size = 4GB")
PGTMP_CONF=$(printf '%s\n' "${SETTINGS[@]}")
export PGTMP_CONF
unset PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD
eval "$("$ROOT/scripts/pgtmp.sh" start "$PGDIR")"
log "PostgreSQL on socket $PGHOST"

psqlq() { psql -X -v ON_ERROR_STOP=1 -q "$@"; }
psqlc() { psql -X -v ON_ERROR_STOP=1 -qAt -c "$1"; }

[[ $(psqlc "SHOW shared_buffers") == 1GB ]] || die "shared_buffers is $(psqlc "SHOW shared_buffers"), not 1GB"
SHOWN=(shared_buffers effective_cache_size work_mem random_page_cost seq_page_cost
	autovacuum track_io_timing max_parallel_workers_per_gather jit)
SETTINGS_SHOWN=
for name in "${SHOWN[@]}"; do
	SETTINGS_SHOWN+="${SETTINGS_SHOWN:+, }$name=$(psqlc "SHOW $name")"
done

# --- the tables ---------------------------------------------------------------

# Filled by plain SQL: every public_id set and distinct (md5 of the row
# number). The key is added after the load (a sorted build; the same index
# as PRIMARY KEY in CREATE TABLE). In one transaction with CREATE TABLE
# (wal_level minimal: no WAL for the load). synchronous_commit on for the
# load (pgtmp.sh turns it off): VACUUM sets a tuple's committed hint bit, and
# with it the page's all-visible bit, only once the commit record is
# flushed; right after an asynchronous commit it sets none, and the
# visibility map would stay empty (index-only scans fetching heap pages).
declare -A TABLE_SQL=(
	[t]="SET synchronous_commit = on;
BEGIN;
CREATE TABLE t (id bigint NOT NULL, pad text, public_id text) WITH (autovacuum_enabled = false);
INSERT INTO t SELECT i, rpad(i::text, 100, '-'), md5(i::text) FROM generate_series(1::bigint, :rows) i;
ALTER TABLE t ADD PRIMARY KEY (id);
COMMIT;
VACUUM ANALYZE t;"
	[u]="SET synchronous_commit = on;
BEGIN;
CREATE TABLE u (id uuid NOT NULL DEFAULT gen_random_uuid(), pad text, public_id text) WITH (autovacuum_enabled = false);
INSERT INTO u SELECT gen_random_uuid(), rpad(i::text, 100, '-'), md5(i::text) FROM generate_series(1::bigint, :rows) i;
ALTER TABLE u ADD PRIMARY KEY (id);
COMMIT;
VACUUM ANALYZE u;"
)
INDEX_SQL="CREATE INDEX :tab_public_id_null ON :tab (id) WHERE public_id IS NULL;"

psqlq -c "CREATE EXTENSION IF NOT EXISTS pg_visibility"
# all_visible TABLE: its pages marked all-visible in the visibility map
all_visible() { psqlc "SELECT count(*) FILTER (WHERE all_visible) FROM pg_visibility_map('$1')"; }

declare -A BUILD_S HEAP_PAGES PKEY_PAGES PARTIAL_PAGES VIS_BEFORE VIS_AFTER BATCHES
for tab in t u; do
	log "building $tab: $ROWS rows"
	t0=$(now_s)
	printf '%s\n' "SET client_min_messages = warning;" "${TABLE_SQL[$tab]}" >"$WORK/$tab.sql"
	psqlq -v rows="$ROWS" -f "$WORK/$tab.sql"
	BUILD_S[$tab]=$(secs "$t0" "$(now_s)")
	HEAP_PAGES[$tab]=$(psqlc "SELECT pg_relation_size('$tab') / current_setting('block_size')::int")
	PKEY_PAGES[$tab]=$(psqlc "SELECT pg_relation_size('${tab}_pkey') / current_setting('block_size')::int")
	IFS='|' read -r n nulls <<<"$(psqlc "SELECT count(*), count(*) FILTER (WHERE public_id IS NULL) FROM $tab")"
	((n == ROWS && nulls == 0)) || die "$tab: $n rows, $nulls NULL; want $ROWS and 0"
	VIS_BEFORE[$tab]=$(all_visible "$tab")
	((VIS_BEFORE[$tab] == HEAP_PAGES[$tab])) ||
		die "$tab: ${VIS_BEFORE[$tab]} of ${HEAP_PAGES[$tab]} pages all-visible after VACUUM"
	log "$tab: ${HEAP_PAGES[$tab]} heap pages, ${PKEY_PAGES[$tab]} primary key pages, built in ${BUILD_S[$tab]} s"
done
psqlc "CHECKPOINT" >/dev/null

# --- the service ----------------------------------------------------------------

SVC_ARGS="--column public_id --idle-interval 1 --max-latency-increase 0 --log-level debug"
PROBE_LINE='probe: nothing to fill'

# One service per table, running through its cases: a service stopped with
# SIGTERM records its job as stopped, and the next start walks the whole
# table again (one more pass), which is not what an idle service does. So
# --full-sweep-interval comes from a job file and changes by SIGHUP (a
# [reload] key), and the service is paused (SIGSTOP/SIGCONT) while the
# probe is timed by hand and the partial index is built.

# start_service TABLE: the service on TABLE in the background; its stderr in
# $WORK/svc-TABLE.err (ERR), its job file $WORK/TABLE.conf (CONF).
start_service() {
	local tab=$1
	ERR=$WORK/svc-$tab.err CONF=$WORK/$tab.conf
	echo "full-sweep-interval = 24h" >"$CONF"
	# shellcheck disable=SC2086  # SVC_ARGS is a list of options
	setsid "$NB" --config "$CONF" --table "$tab" $SVC_ARGS </dev/null >"$WORK/svc-$tab.out" 2>"$ERR" &
	SVC=$!
	log "$tab: nanoid-backfill --config $CONF --table $tab $SVC_ARGS (pid $SVC; full-sweep-interval = 24h)"
}

# sweep_interval DURATION: the running service's --full-sweep-interval, by
# its job file and SIGHUP.
sweep_interval() {
	local n
	n=$(lines 'reload:')
	echo "full-sweep-interval = $1" >"$CONF"
	kill -HUP "$SVC"
	wait_line 'reload:' $((n + 1)) 30
	grep -F 'reload:' "$ERR" | tail -n 1 | grep -qF 'reload: 1 setting changed' ||
		die "reload: $(grep -F 'reload:' "$ERR" | tail -n 1)"
	log "full-sweep-interval = $1 (SIGHUP)"
}

# pause_service / resume_service: right after a probe (the service then
# waits for its next one), so that nothing of it is in flight.
pause_service() {
	wait_line "$PROBE_LINE" $(($(lines "$PROBE_LINE") + 1)) 120
	kill -STOP "$SVC"
}
resume_service() { kill -CONT "$SVC"; }

stop_service() {
	local rc=0 i
	kill -TERM "$SVC"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$SVC" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$SVC" 2>/dev/null && die "the service (pid $SVC) did not exit 30 s after SIGTERM"
	wait "$SVC" || rc=$?
	SVC=
	((rc == 0)) || { tail -n 20 "$ERR" >&2; die "the service exited $rc after SIGTERM"; }
}

# lines PATTERN: how many lines of ERR match PATTERN (fixed string)
lines() { grep -cF -- "$1" "$ERR" || true; }

# wait_line PATTERN N TIMEOUT: until ERR has N lines matching PATTERN; dies
# if the service exits or TIMEOUT seconds pass, or a probe finds NULLs.
wait_line() {
	local pat=$1 n=$2 timeout=$3 t0=$SECONDS
	while (($(lines "$pat") < n)); do
		kill -0 "$SVC" 2>/dev/null || { tail -n 20 "$ERR" >&2; die "the service exited"; }
		((SECONDS - t0 < timeout)) || { tail -n 20 "$ERR" >&2; die "no '$pat' line (#$n) in $timeout s"; }
		sleep 0.05
	done
}

# mark TABLE: the instant 0.6 s after the next probe line (the service then
# waits 1 s before its next probe; a backend's statistics are flushed at
# most every 500 ms before PostgreSQL 15, once a second from 15, so both
# bounds are taken in the same phase of the cycle): sets M_T (time), M_LINE (lines of ERR), M_HR M_HH M_IR M_IH (heap and
# index blocks read and hit of TABLE).
mark() {
	wait_line "$PROBE_LINE" $(($(lines "$PROBE_LINE") + 1)) 120
	sleep 0.6
	M_T=$(now_s)
	M_LINE=$(wc -l <"$ERR")
	IFS='|' read -r M_HR M_HH M_IR M_IH <<<"$(psqlc "SELECT heap_blks_read, heap_blks_hit,
		COALESCE(idx_blks_read, 0), COALESCE(idx_blks_hit, 0) FROM pg_statio_user_tables WHERE relname = '$1'")"
}

declare -A WIN_S PROBES KINDS HEAP IDX HEAP_RD IDX_RD
# measure CASE TABLE: one window of idle passes of the running service.
measure() {
	local c=$1 tab=$2 t0 l0 hr hh ir ih slice found leases tails sweeps n
	mark "$tab"
	t0=$M_T l0=$M_LINE hr=$M_HR hh=$M_HH ir=$M_IR ih=$M_IH
	sleep "$WINDOW"
	mark "$tab"
	slice=$(sed -n "$((l0 + 1)),${M_LINE}p" "$ERR")
	n=$(grep -cF "$PROBE_LINE" <<<"$slice" || true)
	tails=$(grep -cF "past the high-water mark $PROBE_LINE" <<<"$slice" || true)
	sweeps=$(grep -cF "whole-table $PROBE_LINE" <<<"$slice" || true)
	found=$(grep -cF 'NULLs found' <<<"$slice" || true)
	leases=$(grep -c ': lease [0-9]' <<<"$slice" || true)
	((found == 0 && leases == 0)) || die "$c: a probe found NULLs or a pass ran in the window ($found, $leases lease lines)"
	((n > 0)) || die "$c: no probe in the window"
	WIN_S[$c]=$(secs "$t0" "$M_T")
	PROBES[$c]=$n
	KINDS[$c]="$tails past the mark, $sweeps whole-table"
	HEAP[$c]=$(awk -v a=$((M_HR + M_HH - hr - hh)) -v n="$n" 'BEGIN { printf "%.1f", a / n }')
	IDX[$c]=$(awk -v a=$((M_IR + M_IH - ir - ih)) -v n="$n" 'BEGIN { printf "%.1f", a / n }')
	HEAP_RD[$c]=$(awk -v a=$((M_HR - hr)) -v n="$n" 'BEGIN { printf "%.1f", a / n }')
	IDX_RD[$c]=$(awk -v a=$((M_IR - ir)) -v n="$n" 'BEGIN { printf "%.1f", a / n }')
	log "$c: $n probes (${KINDS[$c]}) in ${WIN_S[$c]} s: ${HEAP[$c]} heap, ${IDX[$c]} index pages a pass"
}

# --- the probe by hand ------------------------------------------------------------

# The statements the service sends (src/batch.c), the mark as a literal.
probe_sql() { # probe_sql TABLE tail|full [HWM]
	case $1:$2 in
	t:tail) echo "SELECT EXISTS (SELECT 1 FROM public.t WHERE id > $3::int8 AND public_id IS NULL), (SELECT max(id)::text FROM public.t)" ;;
	t:full) echo "SELECT EXISTS (SELECT 1 FROM public.t WHERE public_id IS NULL), (SELECT max(id)::text FROM public.t)" ;;
	u:full) echo "SELECT EXISTS (SELECT 1 FROM public.u WHERE public_id IS NULL), NULL::text" ;;
	esac
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
	if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A SQL TIME_MED TIME_ALL PLAN EXEC_BUF PLAN_BUF EXPLAIN_PAGES
# buf_pages 'shared hit=N read=M ...': N + M (pages fetched, as pg_statio counts them)
buf_pages() { awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^(hit|read)=/) { sub(/^[a-z]+=/, "", $i); n += $i } }
	END { print n + 0 }' <<<"$1"; }
# time_probe CASE SQL: SQL TIMINGS times with \timing, then EXPLAIN
# (ANALYZE, BUFFERS), in one session, with the service's settings for it.
time_probe() {
	local c=$1 sql=$2 out times i
	SQL[$c]=$sql
	out=$({
		echo "SET statement_timeout = 0; SET enable_seqscan = on;"
		printf '%s\n' '\timing on'
		for ((i = 0; i < TIMINGS; i++)); do echo "$sql;"; done
		printf '%s\n' '\timing off'
		echo "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $sql;"
	} | psql -X -v ON_ERROR_STOP=1 -qAt)
	mapfile -t times < <(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out")
	((${#times[@]} == TIMINGS)) || die "$c: want $TIMINGS timings, got: $out"
	TIME_MED[$c]=$(median "${times[@]}")
	TIME_ALL[$c]=$(printf '%s ' "${times[@]}" | sed 's/ $//')
	PLAN[$c]=$(grep -v -e '^Time:' -e '^[tf]|' <<<"$out")
	EXEC_BUF[$c]=$(grep -m1 'Buffers:' <<<"${PLAN[$c]}" | sed 's/^ *Buffers: //')
	PLAN_BUF[$c]=$(awk '/^ *Planning:/ { p = 1; next } p && /Buffers:/ { sub(/^ *Buffers: /, ""); print; exit }' <<<"${PLAN[$c]}")
	EXPLAIN_PAGES[$c]=$(($(buf_pages "${EXEC_BUF[$c]}") + $(buf_pages "${PLAN_BUF[$c]}")))
	log "$c: probe by hand: ${TIME_ALL[$c]} ms (median ${TIME_MED[$c]}); EXPLAIN buffers ${EXEC_BUF[$c]:-none}; planning ${PLAN_BUF[$c]:-none}"
}

# check_untouched TABLE: the service filled nothing: every public_id is
# still the one the load wrote, and its job did one pass that filled 0 rows.
check_untouched() {
	local tab=$1 bad passes filled batches
	bad=$(psqlc "SELECT count(*) FROM $tab WHERE public_id IS NULL OR public_id <> md5(split_part(pad, '-', 1))")
	((bad == 0)) || die "$tab: $bad rows changed by the service"
	IFS="|" read -r passes filled batches <<<"$(psqlc "SELECT passes, rows_done, batches FROM nanoid_backfill.job_progress WHERE table_name = '$tab'")"
	BATCHES[$tab]=$batches
	[[ $passes == 1 && $filled == 0 ]] || die "$tab: the job did $passes passes and filled $filled rows; want 1 and 0"
	VIS_AFTER[$tab]=$(all_visible "$tab")
}

CASES=(int-tail int-sweep int-sweep-ix uuid uuid-ix)
declare -A DESC=(
	[int-tail]="1. bigint key, probes past the high-water mark, no partial index"
	[int-sweep]="2. bigint key, whole-table probes (\`--full-sweep-interval 1s\`), no partial index"
	[int-sweep-ix]="3. bigint key, whole-table probes (\`--full-sweep-interval 1s\`), partial index"
	[uuid]="4. uuid key (whole-table probes every pass), no partial index"
	[uuid-ix]="5. uuid key (whole-table probes every pass), partial index"
)
declare -A OPTS=([int-tail]="24h" [int-sweep]="1s" [int-sweep-ix]="1s" [uuid]="24h" [uuid-ix]="24h")

# --- t: cases 1 to 3 -------------------------------------------------------------

start_service t
t0=$(now_s)
# A new job walks the table once; then two whole-table probes; then past the mark.
wait_line "past the high-water mark $PROBE_LINE" 1 "$FIRST_PASS_TIMEOUT"
FIRST_PASS_T=$(secs "$t0" "$(now_s)")
FIRST_LINE_T=$(head -n 1 "$ERR")
log "t: first pass and the two whole-table probes after it: $FIRST_PASS_T s"
measure int-tail t
pause_service
HWM=$(psqlc "SELECT hwm FROM nanoid_backfill.jobs WHERE table_name = 't'")
MAXID=$(psqlc "SELECT max(id) FROM t")
[[ $HWM == "$MAXID" ]] || die "t: the high-water mark is $HWM, max(id) $MAXID"
time_probe int-tail "$(probe_sql t tail "$HWM")"
resume_service

sweep_interval 1s
wait_line "whole-table $PROBE_LINE" $(($(lines "whole-table $PROBE_LINE") + 1)) 120
measure int-sweep t
pause_service
time_probe int-sweep "$(probe_sql t full)"
log "t: creating the partial index"
psqlq -c "${INDEX_SQL//:tab/t}"
PARTIAL_PAGES[t]=$(psqlc "SELECT pg_relation_size('t_public_id_null') / current_setting('block_size')::int")
resume_service
wait_line "whole-table $PROBE_LINE" $(($(lines "whole-table $PROBE_LINE") + 1)) 120
measure int-sweep-ix t
stop_service
time_probe int-sweep-ix "$(probe_sql t full)"
check_untouched t

# --- u: cases 4 and 5 --------------------------------------------------------------

start_service u
t0=$(now_s)
wait_line "$PROBE_LINE" 1 "$FIRST_PASS_TIMEOUT"
FIRST_PASS_U=$(secs "$t0" "$(now_s)")
FIRST_LINE_U=$(head -n 1 "$ERR")
log "u: first pass and the first probe after it: $FIRST_PASS_U s"
measure uuid u
pause_service
time_probe uuid "$(probe_sql u full)"
log "u: creating the partial index"
psqlq -c "${INDEX_SQL//:tab/u}"
PARTIAL_PAGES[u]=$(psqlc "SELECT pg_relation_size('u_public_id_null') / current_setting('block_size')::int")
resume_service
wait_line "$PROBE_LINE" $(($(lines "$PROBE_LINE") + 1)) 120
measure uuid-ix u
stop_service
time_probe uuid-ix "$(probe_sql u full)"
check_untouched u

# --- report ------------------------------------------------------------------------

PGVER=$(psqlc "SELECT version()")
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
# shellcheck disable=SC1091
OS="$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") (debian_version $(cat /etc/debian_version 2>/dev/null || echo ?))"
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
DURATION=$(($(date +%s) - T_START))
ms() { awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f ms", v; else if (v >= 1) printf "%.1f ms", v; else printf "%.2f ms", v }'; }
tab_of() { case $1 in int-*) echo t ;; *) echo u ;; esac; }

mkdir -p "$RESULTS"
{
	echo "# Idle passes benchmark, $STAMP"
	echo
	if ((ROWS != 10000000 || WINDOW != 20 || TIMINGS != 5)); then
		echo "**Non-default parameters (ROWS=$ROWS WINDOW=$WINDOW TIMINGS=$TIMINGS): a smoke run.**"
		echo
	fi
	echo "What a finished service costs: a service (\`--idle-interval 1\`) on a filled $ROWS-row table,"
	echo "after its first pass, over a window of about $WINDOW s of idle passes (each a probe that finds"
	echo "nothing to fill). Pages: pg_statio_user_tables read + hit over the window divided by the"
	echo "probe lines the service logged in it (heap: the table; index: all its indexes). Probe time:"
	echo "the probe statement the service sends, run by hand with psql \\timing, median of $TIMINGS."
	echo
	echo "| case | probes in window | heap pages per idle pass | index pages per idle pass | probe time (median of $TIMINGS) |"
	echo "|---|---:|---:|---:|---:|"
	for c in "${CASES[@]}"; do
		echo "| ${DESC[$c]} | ${PROBES[$c]} in ${WIN_S[$c]} s | ${HEAP[$c]} | ${IDX[$c]} | $(ms "${TIME_MED[$c]}") |"
	done
	echo
	echo "| table | rows | heap pages | primary key pages | partial index pages (filled table) | all-visible pages: after VACUUM, after the cases | built in |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for tab in t u; do
		echo "| \`$tab\` | $ROWS | ${HEAP_PAGES[$tab]} | ${PKEY_PAGES[$tab]} | ${PARTIAL_PAGES[$tab]} |" \
			"${VIS_BEFORE[$tab]}, ${VIS_AFTER[$tab]} | ${BUILD_S[$tab]} s |"
	done
	echo
	echo "## Every case"
	echo
	echo "| case | table, full-sweep-interval | probes in window (kind) | pages per pass, heap + index | of them read from outside shared buffers (heap, index) | probe by hand, ms ($TIMINGS runs) | EXPLAIN buffers (execution; planning) | EXPLAIN pages, execution + planning |"
	echo "|---|---|---|---:|---|---|---|---:|"
	for c in "${CASES[@]}"; do
		echo "| $c | \`$(tab_of "$c")\`, ${OPTS[$c]} | ${PROBES[$c]} (${KINDS[$c]}) |" \
			"$(awk -v a="${HEAP[$c]}" -v b="${IDX[$c]}" 'BEGIN { printf "%.1f", a + b }') | ${HEAP_RD[$c]}, ${IDX_RD[$c]} |" \
			"${TIME_ALL[$c]} | ${EXEC_BUF[$c]:-none}; ${PLAN_BUF[$c]:-none} | ${EXPLAIN_PAGES[$c]} |"
	done
	echo
	echo "- Heap pages include visibility-map pages: PostgreSQL counts the reads of a table's visibility map"
	echo "  fork in its heap_blks_read/hit. An index-only scan looks up the visibility map (one page) for"
	echo "  every entry it returns: \`max(id)\` in the probe, and the planner reading the end of the key's"
	echo "  index to estimate \`id > mark\` (its planning buffers). So where \"heap pages per idle pass\" is"
	echo "  1 or 2 and the plans show no heap access, those are visibility-map pages, not table rows; the"
	echo "  EXPLAIN pages (execution + planning, one probe) against heap + index per pass cross-check it."
	echo "- The whole-table probe without the partial index is a parallel sequential scan (Gather, 2"
	echo "  workers: max_parallel_workers_per_gather = 2): its wall time is the scan's, on this machine."
	echo "- First pass of the new job on \`t\` (it walks the filled table once and fills nothing; ${BATCHES[t]}"
	echo "  batches), with the two whole-table probes after it, until the first probe past the high-water"
	echo "  mark: $FIRST_PASS_T s. Its first line: \`$FIRST_LINE_T\`"
	echo "- The same on \`u\` (${BATCHES[u]} batches), until the first probe: $FIRST_PASS_U s. Its first line:"
	echo "  \`$FIRST_LINE_U\`"
	echo "- Checked after each table's cases: every \`public_id\` is still the one the load wrote, and the"
	echo "  job did 1 pass that filled 0 rows. No probe in a window found NULLs, and no pass ran in one."
	echo "- One service per table runs through its cases: \`--full-sweep-interval\` is switched from 24h to"
	echo "  1s by its job file and SIGHUP (a [reload] key) before case 2, the partial index is built while the"
	echo "  service is paused (SIGSTOP). A service stopped with SIGTERM records its job as \`stopped\`, and a"
	echo "  new start walks the whole table again (one more pass), so restarting between cases would cost a"
	echo "  full walk each time and is not what an idle service does."
	echo "- Window bounds: 0.6 s after a probe line (the service then waits 1 s before the next probe)."
	echo "  PostgreSQL 15 flushes a backend's statistics at most once a second, so a probe's pages may show"
	echo "  up at its next probe: both bounds are in the same phase of the cycle, so the window counts about"
	echo "  as many probes' pages as probe lines. A part of one probe can still fall on the wrong side of a"
	echo "  bound (a parallel scan's workers flush when they exit, its leader up to a second later): compare"
	echo "  pages per pass with the EXPLAIN pages of one probe by hand."
	echo "- \"read from outside shared buffers\": heap_blks_read, idx_blks_read (from the OS page cache or disk);"
	echo "  a sequential scan of a table larger than a quarter of shared_buffers goes through a small ring"
	echo "  of buffers, so a whole-table probe reads nearly all of it that way, every time."
	echo
	echo "## Plans"
	echo
	echo "Each probe once by hand under \`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)\`, after the timed runs:"
	for c in "${CASES[@]}"; do
		echo
		echo "$c:"
		echo
		echo '```'
		echo "${PLAN[$c]}"
		echo '```'
	done
	echo
	echo "## Machine"
	echo
	echo "- $(nproc) cores ($CPU_MODEL), $MEM memory, $OS, kernel $(uname -r)"
	echo "- $PGVER"
	echo "- load average at start $LOAD_START, at end $LOAD_END (the machine may be shared)"
	echo "- nanoid-backfill $("$NB" --version 2>/dev/null | awk '{ print $NF }'), source $REV, meson buildtype $BUILDTYPE (build-bench/)"
	echo "- server: a throwaway cluster from scripts/pgtmp.sh (its test settings: fsync off, wal_level"
	echo "  minimal) with PGTMP_CONF: $(printf '%s, ' "${SETTINGS[@]}" | sed 's/, $//'). As reported: $SETTINGS_SHOWN"
	echo
	echo "## Commands"
	echo
	echo '```sh'
	echo "ROWS=$ROWS WINDOW=$WINDOW TIMINGS=$TIMINGS bash bench/idle_pass.sh   # took $((DURATION / 60)) min $((DURATION % 60)) s"
	echo
	echo "# the tables (psql -v rows=$ROWS -f)"
	echo "${TABLE_SQL[t]}"
	echo "${TABLE_SQL[u]}"
	echo "# before cases 3 and 5 (:tab = t, u)"
	echo "$INDEX_SQL"
	echo
	echo "# the services, one per table (connection: PGHOST=<socket dir> PGUSER=postgres PGDATABASE=postgres);"
	echo "# JOB.conf holds one line, full-sweep-interval = 24h; for cases 2 and 3 = 1s (rewritten, then SIGHUP);"
	echo "# paused with SIGSTOP/SIGCONT while the probe is timed by hand and the partial index is built;"
	echo "# stopped with SIGTERM after case 3 and case 5"
	echo "nanoid-backfill --config t.conf --table t $SVC_ARGS    # cases 1, 2, 3"
	echo "nanoid-backfill --config u.conf --table u $SVC_ARGS    # cases 4, 5"
	echo
	echo "# at each window bound"
	echo "SELECT heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit FROM pg_statio_user_tables WHERE relname = 't';"
	echo
	echo "# the probes by hand: one psql session, SET statement_timeout = 0; SET enable_seqscan = on; \\timing on; $TIMINGS x:"
	for c in int-tail int-sweep uuid; do
		echo "${SQL[$c]};    # $c"
	done
	echo "# (int-sweep-ix as int-sweep, uuid-ix as uuid; the mark is the job's hwm, max(id) = $MAXID)"
	echo '```'
} >"$WORK/report.md"
cat "$WORK/report.md"
cp "$WORK/report.md" "$REPORT"
log "report: $REPORT (the run took $((DURATION / 60)) min $((DURATION % 60)) s)"
