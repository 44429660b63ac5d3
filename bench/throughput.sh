#!/usr/bin/env bash
# throughput.sh - how fast does nanoid-backfill fill a column, against the
# alternatives users have?
#
#   bash bench/throughput.sh
#
# Installs the dependencies (scripts/deps.sh), builds into build-bench/,
# starts a throwaway PostgreSQL (scripts/pgtmp.sh) and switches it to
# production durability (ALTER SYSTEM + restart: fsync, full_page_writes,
# synchronous_commit on, wal_level replica; settings below), then runs ROUNDS
# rounds; each round runs every contender once, in an order rotated by one
# per round, each on a freshly built ROWS-row table (VACUUM ANALYZE and
# CHECKPOINT before the clock starts):
#
#   ceiling    UPDATE bench_t SET public_id = md5(id::text)   (one statement)
#   plpgsql    UPDATE bench_t SET public_id = nanoid()        (bench/nanoid_plpgsql.sql)
#   rowbyrow   bench/rowbyrow.c: SELECT 1000 NULL ids, UPDATE them one by one,
#              autocommit; stopped after ROWBYROW_SECONDS, time extrapolated
#   backfill-1 nanoid-backfill --workers 1 --until-done        (defaults otherwise)
#   backfill-2 nanoid-backfill --workers 2 --until-done
#
# Reports the median wall time per contender, rows/s, the ratio to the
# ceiling's median, and for nanoid-backfill peak RSS and client CPU; then a
# memory run: nanoid-backfill --workers 2 on a BIG_ROWS-row table. Every
# backfill result is checked (no NULL left, every id distinct). The report
# (markdown) goes to stdout and bench/results/throughput-<UTC date>.md.
#
# Parameters (environment): ROWS=1000000 ROUNDS=3 BIG_ROWS=10000000 (0: skip
# the memory run) ROWBYROW_SECONDS=30. A full run takes about 15 minutes on
# 2 cores. Smoke run: ROWS=50000 ROUNDS=1 BIG_ROWS=0 ROWBYROW_SECONDS=5.
set -euo pipefail
# shellcheck source=scripts/as_root.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/as_root.sh"
as_root ROWS ROUNDS BIG_ROWS ROWBYROW_SECONDS -- "$@"

ROWS=${ROWS:-1000000}
ROUNDS=${ROUNDS:-3}
BIG_ROWS=${BIG_ROWS:-10000000}
ROWBYROW_SECONDS=${ROWBYROW_SECONDS:-30}

log() { echo "throughput: $*" >&2; }
die() { echo "throughput: error: $*" >&2; exit 1; }

# check NAME MIN: NAME's value is an integer >= MIN (or 0 if MIN is 0)
check() {
	local v=${!1}
	if [[ ! $v =~ ^[0-9]{1,10}$ ]] || ((v < $2)); then
		die "$1 must be an integer >= $2, not '$v'"
	fi
}
check ROWS 1000
check ROUNDS 1
check ROWBYROW_SECONDS 1
if ((BIG_ROWS != 0)); then check BIG_ROWS 1000; fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
NB=$BUILD/nanoid-backfill
RESULTS=$ROOT/bench/results
STAMP=$(date -u +%Y-%m-%d)
REPORT=$RESULTS/throughput-$STAMP.md
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
export LC_ALL=C

# --- setup ------------------------------------------------------------------

bash "$ROOT/scripts/deps.sh" >&2
if [[ ! -x /usr/bin/time ]]; then
	((EUID == 0)) || die "/usr/bin/time missing (Debian package: time); run as root or install it"
	log "installing /usr/bin/time (package time)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends time >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends time >&2; }
fi
command -v setsid >/dev/null || die "setsid missing (Debian package: util-linux)"

if [[ -f $BUILD/build.ninja ]]; then
	meson setup --reconfigure "$BUILD" "$ROOT" >&2
else
	meson setup "$BUILD" "$ROOT" >&2
fi
meson compile -C "$BUILD" nanoid-backfill >&2
[[ -x $NB ]] || die "no $NB after the build"
BUILDTYPE=$(meson introspect --buildoptions "$BUILD" 2>/dev/null |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null ||
	echo unknown)

WORK=$(mktemp -d /tmp/nbtput.XXXXXX)
PGDIR=$(mktemp -d /tmp/nbtputpg.XXXXXX)
chmod 755 "$WORK" "$PGDIR"

ROWBYROW=$WORK/rowbyrow
ROWBYROW_CC="cc -O2 -std=c11 -Wall -Wextra -o $ROWBYROW bench/rowbyrow.c \$(pkg-config --cflags --libs libpq)"
# shellcheck disable=SC2046  # pkg-config prints several words
cc -O2 -std=c11 -Wall -Wextra -o "$ROWBYROW" "$ROOT/bench/rowbyrow.c" \
	$(pkg-config --cflags --libs libpq) >&2

# Long-running children run in their own session (setsid) in the background,
# so that a signal to this script interrupts `wait` at once and cleanup can
# stop the whole child group (/usr/bin/time and the process it measures).
CHILD=
cleanup() {
	local rc=$?
	set +e
	if [[ -n $CHILD ]]; then
		kill -TERM -- "-$CHILD" 2>/dev/null || kill -TERM "$CHILD" 2>/dev/null
		sleep 1
		kill -KILL -- "-$CHILD" 2>/dev/null
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

# run CMD...: runs CMD as a child in its own session and waits for it; keeps
# the caller's redirections; returns CMD's exit status.
run() {
	local rc=0
	setsid "$@" <&0 &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=
	return "$rc"
}

now_s() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- the server ---------------------------------------------------------------

unset PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD
eval "$("$ROOT/scripts/pgtmp.sh" start "$PGDIR")"
log "PostgreSQL on socket $PGHOST"

psqlq() { psql -X -v ON_ERROR_STOP=1 -q "$@"; }
psqlc() { psql -X -v ON_ERROR_STOP=1 -qAt -c "$1"; }

# Production durability in place of pgtmp.sh's test settings (ALTER SYSTEM
# writes postgresql.auto.conf, read after postgresql.conf, so it wins).
SETTINGS=(
	"fsync=on"
	"full_page_writes=on"
	"synchronous_commit=on"
	"wal_level=replica"
	"shared_buffers=1GB"
	"max_wal_size=4GB"
	"checkpoint_timeout=15min"
)
alter=()
for s in "${SETTINGS[@]}"; do
	alter+=(-c "ALTER SYSTEM SET ${s%%=*} = '${s#*=}'")
done
psqlq "${alter[@]}"

if [[ -n ${PG_BINDIR:-} ]]; then
	PG_BIN=$PG_BINDIR
else
	PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
as_pg() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}
log "restarting PostgreSQL with: ${SETTINGS[*]}"
as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/pg.log" -m fast -w -t 120 restart \
	>"$WORK/restart.log" 2>&1 || { cat "$WORK/restart.log" >&2; tail -n 20 "$PGDIR/pg.log" >&2; die "restart failed"; }

# Every setting that shapes the numbers, as the server reports it.
SHOWN=(fsync full_page_writes synchronous_commit wal_level shared_buffers max_wal_size
	checkpoint_timeout checkpoint_completion_target wal_buffers wal_compression
	commit_delay max_wal_senders work_mem maintenance_work_mem autovacuum
	data_checksums huge_pages max_connections)
SETTINGS_SHOWN=
for name in "${SHOWN[@]}"; do
	v=$(psqlc "SHOW $name")
	SETTINGS_SHOWN+="${SETTINGS_SHOWN:+, }$name=$v"
done
for s in "${SETTINGS[@]}"; do
	want=${s#*=} got=$(psqlc "SHOW ${s%%=*}")
	[[ $got == "$want" ]] || die "${s%%=*} is $got after the restart, not $want"
done
log "server settings: $SETTINGS_SHOWN"

psqlq -f "$ROOT/bench/nanoid_plpgsql.sql"
psqlc "SELECT length(nanoid()) = 21" | grep -qx t || die "the PL/pgSQL nanoid() does not return 21 symbols"

# --- the table ----------------------------------------------------------------

# fresh_table N: bench_t with N rows (~150 bytes each: pg_relation_size / N
# is printed), public_id NULL; no progress table left over; statistics and
# visibility map set by VACUUM ANALYZE; a CHECKPOINT so the run starts with
# no dirty pages and a full checkpoint interval ahead.
TABLE_SQL="CREATE TABLE bench_t(id bigint primary key, customer text, amount numeric,
                     created_at timestamptz, note text, public_id text);
INSERT INTO bench_t (id, customer, amount, created_at, note)
SELECT i, 'customer-' || (i * 7919 % 100003), (i * 104729 % 1000000) / 100.0,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds',
       left(md5(i::text) || md5((i + 1)::text) || md5((i + 2)::text), 78)
  FROM generate_series(1::bigint, :rows) i;
VACUUM ANALYZE bench_t;
CHECKPOINT;"
printf '%s\n' "SET client_min_messages = warning;" "DROP SCHEMA IF EXISTS nanoid_backfill CASCADE;" "DROP TABLE IF EXISTS bench_t;" \
	"$TABLE_SQL" >"$WORK/table.sql"

fresh_table() {
	local t0
	t0=$(now_s)
	run psql -X -v ON_ERROR_STOP=1 -q -v rows="$1" -f "$WORK/table.sql" >&2
	log "built the $1-row table in $(secs "$t0" "$(now_s)") s"
}

# bytes_per_row N: pg_relation_size(bench_t) / N, the heap only
bytes_per_row() { psqlc "SELECT round(pg_relation_size('bench_t')::numeric / $1, 1)"; }

# verify N WHAT: every row filled, every value distinct; fails the run if not.
verify() {
	local n=$1 what=$2 nulls distinct total
	IFS='|' read -r nulls distinct total <<<"$(psqlc "SELECT count(*) FILTER (WHERE public_id IS NULL),
		count(DISTINCT public_id), count(*) FROM bench_t")"
	if [[ $nulls != 0 || $distinct != "$n" || $total != "$n" ]]; then
		die "$what: verification FAILED: $nulls NULL, $distinct distinct values, $total rows (want 0, $n, $n)"
	fi
}

# --- contenders ----------------------------------------------------------------

CONTENDERS=(ceiling plpgsql rowbyrow backfill-1 backfill-2)
declare -A LABEL=(
	[ceiling]="single UPDATE, md5 (ceiling)"
	[plpgsql]="single UPDATE, PL/pgSQL nanoid()"
	[rowbyrow]="row-by-row script"
	[backfill-1]="nanoid-backfill --workers 1"
	[backfill-2]="nanoid-backfill --workers 2"
)
NB_ARGS="--table bench_t --column public_id --until-done"
declare -A COMMAND=(
	[ceiling]="psql -c 'UPDATE bench_t SET public_id = md5(id::text)'"
	[plpgsql]="psql -c 'UPDATE bench_t SET public_id = nanoid()'"
	[rowbyrow]="rowbyrow $ROWBYROW_SECONDS"
	[backfill-1]="nanoid-backfill $NB_ARGS --workers 1"
	[backfill-2]="nanoid-backfill $NB_ARGS --workers 2"
)

declare -A TIME RSS CPU NOTE
# TIME[c,r] seconds; RSS[c,r] KiB; CPU[c,r] percent of wall; NOTE[c,r]

# time_nb TAG N WORKERS: runs nanoid-backfill under /usr/bin/time; sets
# R_TIME R_RSS R_CPU.
time_nb() {
	local tag=$1 n=$2 workers=$3 t0 t1 rc=0 u s m
	t0=$(now_s)
	# shellcheck disable=SC2086  # NB_ARGS is a list of options
	run /usr/bin/time -f '%e %U %S %M' -o "$WORK/$tag.time" \
		"$NB" $NB_ARGS --workers "$workers" >"$WORK/$tag.out" 2>"$WORK/$tag.err" || rc=$?
	t1=$(now_s)
	if ((rc != 0)); then
		tail -n 20 "$WORK/$tag.err" >&2
		die "$tag: nanoid-backfill exited $rc"
	fi
	verify "$n" "$tag"
	read -r _ u s m < <(tail -n 1 "$WORK/$tag.time")
	R_TIME=$(secs "$t0" "$t1")
	R_RSS=$m
	R_CPU=$(awk -v u="$u" -v s="$s" -v w="$R_TIME" 'BEGIN { printf "%.1f", 100 * (u + s) / w }')
}

# contender C R: fresh table, then one timed run of C in round R.
contender() {
	local c=$1 r=$2 t0 t1 out rows secs fin
	fresh_table "$ROWS"
	[[ -n ${BYTES_PER_ROW:-} ]] || BYTES_PER_ROW=$(bytes_per_row "$ROWS")
	case $c in
	ceiling | plpgsql)
		local sql="UPDATE bench_t SET public_id = md5(id::text)"
		[[ $c == plpgsql ]] && sql="UPDATE bench_t SET public_id = nanoid()"
		t0=$(now_s)
		run psql -X -v ON_ERROR_STOP=1 -q -c "$sql" >&2
		t1=$(now_s)
		verify "$ROWS" "$c"
		TIME[$c,$r]=$(secs "$t0" "$t1")
		;;
	rowbyrow)
		run "$ROWBYROW" "$ROWBYROW_SECONDS" >"$WORK/rowbyrow.out"
		out=$(cat "$WORK/rowbyrow.out")
		[[ $out =~ ^rows=([0-9]+)\ seconds=([0-9.]+)\ done=([01])$ ]] ||
			die "rowbyrow: unexpected output: $out"
		rows=${BASH_REMATCH[1]} secs=${BASH_REMATCH[2]} fin=${BASH_REMATCH[3]}
		((rows > 0)) || die "rowbyrow: no row updated in $secs s"
		# what it filled must be filled, distinct, and nothing else
		local filled distinct
		IFS='|' read -r filled distinct <<<"$(psqlc "SELECT count(public_id), count(DISTINCT public_id) FROM bench_t")"
		[[ $filled == "$rows" && $distinct == "$rows" ]] ||
			die "rowbyrow: verification FAILED: reported $rows rows, found $filled filled, $distinct distinct"
		if ((fin)); then
			((rows == ROWS)) || die "rowbyrow: done after $rows rows of $ROWS"
			TIME[$c,$r]=$secs
			NOTE[$c,$r]="measured: all $rows rows in $secs s"
		else
			TIME[$c,$r]=$(awk -v n="$ROWS" -v k="$rows" -v s="$secs" 'BEGIN { printf "%.3f", n * s / k }')
			NOTE[$c,$r]="extrapolated from $rows rows in $secs s"
		fi
		;;
	backfill-1 | backfill-2)
		time_nb "$c-r$r" "$ROWS" "${c#backfill-}"
		TIME[$c,$r]=$R_TIME RSS[$c,$r]=$R_RSS CPU[$c,$r]=$R_CPU
		;;
	esac
	local msg="round $r/$ROUNDS: $c: ${TIME[$c,$r]} s"
	[[ -z ${NOTE[$c,$r]:-} ]] || msg+=" (${NOTE[$c,$r]})"
	[[ -z ${RSS[$c,$r]:-} ]] || msg+=", peak RSS ${RSS[$c,$r]} KiB, client CPU ${CPU[$c,$r]}% of wall"
	log "$msg"
}

# --- rounds ----------------------------------------------------------------------

NC=${#CONTENDERS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
	order=()
	for ((k = 0; k < NC; k++)); do
		order+=("${CONTENDERS[(k + r - 1) % NC]}")
	done
	log "round $r/$ROUNDS: ${order[*]}"
	for c in "${order[@]}"; do
		contender "$c" "$r"
	done
done
log "$ROWS-row table: $BYTES_PER_ROW bytes a row (pg_relation_size / ROWS)"

# --- memory run ------------------------------------------------------------------

if ((BIG_ROWS > 0)); then
	log "memory run: building the $BIG_ROWS-row table"
	fresh_table "$BIG_ROWS"
	BIG_BYTES_PER_ROW=$(bytes_per_row "$BIG_ROWS")
	log "memory run: nanoid-backfill --workers 2 on $BIG_ROWS rows ($BIG_BYTES_PER_ROW bytes a row)"
	time_nb big "$BIG_ROWS" 2
	BIG_TIME=$R_TIME BIG_RSS=$R_RSS BIG_CPU=$R_CPU
	log "memory run: $BIG_TIME s, peak RSS $BIG_RSS KiB, client CPU $BIG_CPU% of wall"
fi

# --- report ----------------------------------------------------------------------

# median V...: the median of the numbers given
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
	if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }
fmt_s() { awk -v t="$1" 'BEGIN { printf "%.2f s", t }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
yesno() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "yes" : "**no**" }'; }
# faster SLOW FAST K: yes if FAST is at least K times faster than SLOW
faster() { awk -v s="$1" -v f="$2" -v k="$3" 'BEGIN { print (s >= k * f) ? "yes" : "**no**" }'; }

declare -A MED
for c in "${CONTENDERS[@]}"; do
	vals=()
	for ((r = 1; r <= ROUNDS; r++)); do vals+=("${TIME[$c,$r]}"); done
	MED[$c]=$(median "${vals[@]}")
done

PGVER=$(psqlc "SELECT version()")
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
# shellcheck disable=SC1091
OS="$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") (debian_version $(cat /etc/debian_version 2>/dev/null || echo ?))"
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
DURATION=$(($(date +%s) - T_START))
DEFAULTS=0
((ROWS == 1000000 && ROUNDS == 3 && ROWBYROW_SECONDS == 30)) && DEFAULTS=1

mkdir -p "$RESULTS"
{
	echo "# Throughput benchmark, $STAMP"
	echo
	if ((!DEFAULTS)); then
		echo "**Non-default parameters (ROWS=$ROWS ROUNDS=$ROUNDS ROWBYROW_SECONDS=$ROWBYROW_SECONDS): a smoke"
		echo "run, not comparable with the issue's targets.**"
		echo
	fi
	echo "Filling the NULL \`public_id text\` column of a $ROWS-row table (bigint key, $BYTES_PER_ROW bytes a"
	echo "row by pg_relation_size / rows). $ROUNDS round(s), each running every contender once in an order"
	echo "rotated by one per round, each run on a freshly built table after VACUUM ANALYZE and"
	echo "CHECKPOINT. Wall time of the client command from start to exit; median over the rounds."
	echo
	echo "| contender | median time | rows/s | vs ceiling | runs | peak RSS | client CPU |"
	echo "|---|---:|---:|---:|---|---:|---:|"
	for c in "${CONTENDERS[@]}"; do
		runs='' rss=- cpu=- t=$(fmt_s "${MED[$c]}")
		for ((r = 1; r <= ROUNDS; r++)); do runs+="${runs:+, }$(awk -v t="${TIME[$c,$r]}" 'BEGIN { printf "%.2f", t }')"; done
		if [[ $c == backfill-* ]]; then
			rv=() cv=()
			for ((r = 1; r <= ROUNDS; r++)); do rv+=("${RSS[$c,$r]}"); cv+=("${CPU[$c,$r]}"); done
			rss=$(mib "$(maxof "${rv[@]}")")
			cpu=$(awk -v v="$(median "${cv[@]}")" 'BEGIN { printf "%.1f%%", v }')
		fi
		[[ $c == rowbyrow && -n ${NOTE[$c,1]:-} && ${NOTE[$c,1]} == extrapolated* ]] && t="~$t (extrapolated)"
		echo "| ${LABEL[$c]} | $t | $(rate "$ROWS" "${MED[$c]}") | $(ratio "${MED[$c]}" "${MED[ceiling]}") | $runs | $rss | $cpu |"
	done
	if ((BIG_ROWS > 0)); then
		echo "| memory run: nanoid-backfill --workers 2, $BIG_ROWS rows | $(fmt_s "$BIG_TIME") | $(rate "$BIG_ROWS" "$BIG_TIME") | | 1 run | $(mib "$BIG_RSS") | ${BIG_CPU}% |"
	fi
	echo
	echo "- vs ceiling: the median time over the ceiling's median time (below 1.00x is faster)."
	echo "- runs: each round's time in seconds, in round order."
	echo "- peak RSS: the largest over the rounds (/usr/bin/time %M); client CPU: user + system time"
	echo "  of nanoid-backfill as a share of its wall time, median over the rounds."
	notes=''
	for ((r = 1; r <= ROUNDS; r++)); do notes+="${notes:+; }round $r: ${NOTE[rowbyrow,$r]}"; done
	echo "- row-by-row: at most ROWBYROW_SECONDS=$ROWBYROW_SECONDS s a run; $notes. An extrapolated time is"
	echo "  $ROWS rows at the measured rate, which flatters it: its \`LIMIT 1000\` scan rereads the rows"
	echo "  already filled every time, so the real script slows down as the table fills."
	if ((BIG_ROWS > 0)); then
		echo "- memory run: $BIG_ROWS rows, $BIG_BYTES_PER_ROW bytes a row, one run after the rounds."
	fi
	echo "- Every run was checked: no NULL left, count(DISTINCT public_id) = rows (row-by-row: the rows it filled)."
	echo
	echo "Issue 3 targets (nanoid-backfill against the others, medians of this run):"
	echo
	echo "| target | measured | met |"
	echo "|---|---:|---|"
	echo "| --workers 2 at most 1.0x the ceiling (stretch 0.8x) | $(ratio "${MED[backfill-2]}" "${MED[ceiling]}") | $(yesno "${MED[backfill-2]}" "${MED[ceiling]}") |"
	echo "| --workers 1 within 1.25x the ceiling | $(ratio "${MED[backfill-1]}" "${MED[ceiling]}") | $(yesno "${MED[backfill-1]}" "$(awk -v c="${MED[ceiling]}" 'BEGIN { print 1.25 * c }')") |"
	echo "| at least 4x faster than the PL/pgSQL UPDATE (--workers 2) | $(ratio "${MED[plpgsql]}" "${MED[backfill-2]}") | $(faster "${MED[plpgsql]}" "${MED[backfill-2]}" 4) |"
	echo "| at least 50x faster than row-by-row (--workers 2) | $(ratio "${MED[rowbyrow]}" "${MED[backfill-2]}") | $(faster "${MED[rowbyrow]}" "${MED[backfill-2]}" 50) |"
	rss_all=()
	for c in backfill-1 backfill-2; do for ((r = 1; r <= ROUNDS; r++)); do rss_all+=("${RSS[$c,$r]}"); done; done
	rss_max=$(maxof "${rss_all[@]}")
	echo "| peak RSS under 16 MiB at $ROWS rows | $(mib "$rss_max") | $(yesno "$rss_max" 16383) |"
	if ((BIG_ROWS > 0)); then
		echo "| peak RSS under 16 MiB at $BIG_ROWS rows | $(mib "$BIG_RSS") | $(yesno "$BIG_RSS" 16383) |"
	fi
	cpu_all=()
	for c in backfill-1 backfill-2; do for ((r = 1; r <= ROUNDS; r++)); do cpu_all+=("${CPU[$c,$r]}"); done; done
	((BIG_ROWS == 0)) || cpu_all+=("$BIG_CPU")
	cpu_max=$(maxof "${cpu_all[@]}")
	echo "| client CPU under 15% of wall (largest run) | ${cpu_max}% | $(yesno "$cpu_max" 14.999) |"
	echo
	echo "## Machine"
	echo
	echo "- $(nproc) cores ($CPU_MODEL), $MEM memory, $OS, kernel $(uname -r)"
	echo "- $PGVER"
	echo "- load average at start $LOAD_START, at end $LOAD_END (the machine may be shared: other load makes the numbers noisy)"
	echo "- nanoid-backfill $("$NB" --version 2>/dev/null | awk '{ print $NF }'), source $REV, meson buildtype $BUILDTYPE (build-bench/)"
	echo
	echo "## Server settings"
	echo
	echo "A throwaway cluster from scripts/pgtmp.sh (initdb, Unix socket, autovacuum on), then"
	echo "\`ALTER SYSTEM SET\` $(printf '%s, ' "${SETTINGS[@]}" | sed 's/, $//') and a restart."
	echo "As the server reported them (SHOW):"
	echo
	echo "$SETTINGS_SHOWN" | tr ',' '\n' | sed 's/^ *//; s/^/- /'
	echo
	echo "## Commands"
	echo
	echo '```sh'
	echo "ROWS=$ROWS ROUNDS=$ROUNDS BIG_ROWS=$BIG_ROWS ROWBYROW_SECONDS=$ROWBYROW_SECONDS bash bench/throughput.sh   # took $((DURATION / 60)) min $((DURATION % 60)) s"
	echo
	echo "# before every run (psql -v rows=N -f), N = $ROWS (memory run: $BIG_ROWS):"
	echo "DROP SCHEMA IF EXISTS nanoid_backfill CASCADE; DROP TABLE IF EXISTS bench_t;"
	echo "$TABLE_SQL"
	echo
	echo "# the contenders (connection: PGHOST=<socket dir> PGUSER=postgres PGDATABASE=postgres)"
	for c in "${CONTENDERS[@]}"; do
		echo "${COMMAND[$c]}    # $c"
	done
	echo "nanoid-backfill $NB_ARGS --workers 2    # memory run"
	echo "psql -f bench/nanoid_plpgsql.sql    # once, before the rounds: nanoid() for plpgsql"
	echo "$ROWBYROW_CC    # rowbyrow"
	echo "/usr/bin/time -f '%e %U %S %M' nanoid-backfill ...    # RSS and CPU of every backfill run"
	echo
	echo "# after every run: 0 NULL, ROWS distinct, ROWS rows"
	echo "SELECT count(*) FILTER (WHERE public_id IS NULL), count(DISTINCT public_id), count(*) FROM bench_t;"
	echo '```'
} >"$WORK/report.md"
cat "$WORK/report.md"
cp "$WORK/report.md" "$REPORT"
log "report: $REPORT (the run took $((DURATION / 60)) min $((DURATION % 60)) s)"
