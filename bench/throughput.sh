#!/usr/bin/env bash
# throughput.sh - how fast does nanoid-backfill fill a column, against the
# alternatives users have, on tables of several shapes?
#
#   bash bench/throughput.sh
#
# Installs the dependencies (scripts/deps.sh), builds into build-bench/,
# starts a throwaway PostgreSQL (scripts/pgtmp.sh) and switches it to
# production durability (ALTER SYSTEM + restart: fsync, full_page_writes,
# synchronous_commit on, wal_level replica; settings below).
#
# Table shapes (SHAPES, comma separated; default all four): ROWS rows of
# bench_t(id, customer text, amount numeric, created_at timestamptz,
# note text, public_id text), the same rows in every shape:
#
#   seq         id bigint primary key, rows inserted in key order
#   random      id bigint primary key, rows inserted in random key order
#               (ORDER BY random() after setseed(0.5))
#   uuid        id uuid primary key DEFAULT gen_random_uuid()
#   unanalyzed  the seq rows, never analyzed: autovacuum_enabled = false,
#               VACUUM without ANALYZE; no pg_stats row before or after a run
#
# Each shape's source table is built once; every run gets a fresh copy of it
# (CREATE TABLE LIKE ... INCLUDING ALL, INSERT ... SELECT * in the source's
# physical order, VACUUM ANALYZE (unanalyzed: VACUUM), CHECKPOINT before the
# clock starts), so every contender of a shape starts from the same physical
# layout. ROUNDS rounds; each round runs every shape (in an order rotated by
# one per round) and within a shape every contender once (in an order
# rotated by one per round):
#
#   ceiling    UPDATE bench_t SET public_id = md5(id::text)   (one statement)
#   batched    the same UPDATE in 1000-row transactions: windows of blocks
#              in physical order, one COMMIT each, synchronous_commit off
#              (bench/batched_update.sql): what committing every 1000 rows
#              costs by itself, whatever the tool
#   plpgsql    UPDATE bench_t SET public_id = nanoid()        (seq only; bench/nanoid_plpgsql.sql)
#   rowbyrow   bench/rowbyrow.c: SELECT 1000 NULL ids, UPDATE them one by one,
#              autocommit; stopped after ROWBYROW_SECONDS, time extrapolated
#              (seq only)
#   backfill-1 nanoid-backfill --workers 1 --until-done        (defaults otherwise)
#   backfill-2 nanoid-backfill --workers 2 --until-done
#   EXTRA      more nanoid-backfill contenders with explicit options, on every
#              shape: EXTRA="NAME:OPTIONS;NAME:OPTIONS", e.g.
#              EXTRA="physical1:--order physical --workers 1;key1:--order key --workers 1"
#              (OPTIONS split on blanks, no quoting; NAME letters, digits, . _ -)
#
# Reports, per shape, the median wall time per contender, rows/s, the ratio
# to that shape's ceiling median, the order each nanoid-backfill run chose
# (the first line of its stderr says which and why), and for nanoid-backfill
# peak RSS and client CPU; the targets (--workers 1 <= 1.05x and --workers 2
# <= 0.70x of the ceiling on every shape; unanalyzed backfill-1 within 1.2x of
# seq backfill-1); then a memory run: nanoid-backfill --workers 2 on a
# BIG_ROWS-row seq table. Every backfill result is checked (no NULL left,
# every id distinct). The report (markdown) goes to stdout and
# bench/results/throughput-<UTC date>.md.
#
# Parameters (environment): ROWS=1000000 ROUNDS=3 BIG_ROWS=10000000 (0: skip
# the memory run) ROWBYROW_SECONDS=30 SHAPES=seq,random,uuid,unanalyzed
# EXTRA= (none). A full run takes about 20 minutes on 2 cores (see
# bench/README.md). Smoke run: ROWS=50000 ROUNDS=1 BIG_ROWS=0 ROWBYROW_SECONDS=2.
set -euo pipefail
# shellcheck source=scripts/as_root.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/as_root.sh"
as_root ROWS ROUNDS BIG_ROWS ROWBYROW_SECONDS SHAPES EXTRA -- "$@"

ROWS=${ROWS:-1000000}
ROUNDS=${ROUNDS:-3}
BIG_ROWS=${BIG_ROWS:-10000000}
ROWBYROW_SECONDS=${ROWBYROW_SECONDS:-30}
ALL_SHAPES=(seq random uuid unanalyzed)
SHAPES=${SHAPES:-seq,random,uuid,unanalyzed}
EXTRA=${EXTRA:-}

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

trim() {
	local v=$1
	v=${v#"${v%%[![:space:]]*}"}
	printf '%s' "${v%"${v##*[![:space:]]}"}"
}

# SHAPES: a comma-separated list of known shapes, each at most once.
SHAPE_LIST=()
IFS=',' read -ra _items <<<"$SHAPES"
for _s in "${_items[@]}"; do
	_s=$(trim "$_s")
	[[ -n $_s ]] || continue
	[[ " ${ALL_SHAPES[*]} " == *" $_s "* ]] || die "SHAPES: unknown shape '$_s' (known: ${ALL_SHAPES[*]})"
	[[ " ${SHAPE_LIST[*]} " != *" $_s "* ]] || die "SHAPES: '$_s' given twice"
	SHAPE_LIST+=("$_s")
done
((${#SHAPE_LIST[@]} > 0)) || die "SHAPES: no shape in '$SHAPES'"

# EXTRA: NAME:OPTIONS entries separated by ';' (or newlines); OPTIONS are
# split on blanks. Options naming another target are refused: every
# contender fills bench_t.public_id and is checked there.
BUILTIN=(ceiling batched plpgsql rowbyrow backfill-1 backfill-2)
EXTRA_NAMES=()
declare -A EXTRA_ARGS=()
IFS=';' read -ra _items <<<"${EXTRA//$'\n'/;}"
for _e in "${_items[@]}"; do
	_e=$(trim "$_e")
	[[ -n $_e ]] || continue
	[[ $_e == *:* ]] || die "EXTRA: '$_e' is not NAME:OPTIONS"
	_name=$(trim "${_e%%:*}")
	read -ra _words <<<"${_e#*:}"
	[[ $_name =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$ ]] ||
		die "EXTRA: name '$_name' must be 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit"
	[[ " ${BUILTIN[*]} ${EXTRA_NAMES[*]} " != *" $_name "* ]] || die "EXTRA: name '$_name' is taken"
	((${#_words[@]} > 0)) || die "EXTRA: '$_name' has no options"
	for _w in "${_words[@]}"; do
		case $_w in
		--table | --table=* | --column | --column=* | --schema | --schema=* | --dsn | --dsn=* | \
			--config | --config=* | --check-config | --progress-schema | --progress-schema=* | -h | --help)
			die "EXTRA: '$_name': $_w is set by the benchmark (or changes what it measures)" ;;
		esac
	done
	EXTRA_NAMES+=("$_name")
	EXTRA_ARGS[$_name]="${_words[*]}"
done
unset _items _s _e _name _words _w

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

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_build

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
psqlq -f "$ROOT/bench/batched_update.sql"
psqlc "SELECT length(nanoid()) = 21" | grep -qx t || die "the PL/pgSQL nanoid() does not return 21 symbols"

# --- the tables ---------------------------------------------------------------

# The rows, the same in every shape (:src is the table, :rows the count).
COLS_SQL="customer text, amount numeric, created_at timestamptz, note text, public_id text"
ROWS_SQL="'customer-' || (i * 7919 % 100003), (i * 104729 % 1000000) / 100.0,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '17 seconds',
       left(md5(i::text) || md5((i + 1)::text) || md5((i + 2)::text), 78)
  FROM generate_series(1::bigint, :rows) i"

# The memory run's table, as before the shapes: bench_t with N rows, seq
# shape, built in place, VACUUM ANALYZE, CHECKPOINT.
TABLE_SQL="CREATE TABLE bench_t(id bigint primary key, $COLS_SQL);
INSERT INTO bench_t (id, customer, amount, created_at, note)
SELECT i, $ROWS_SQL;
VACUUM ANALYZE bench_t;
CHECKPOINT;"
printf '%s\n' "SET client_min_messages = warning;" "DROP SCHEMA IF EXISTS nanoid_backfill CASCADE;" "DROP TABLE IF EXISTS bench_t;" \
	"$TABLE_SQL" >"$WORK/table.sql"

# The source tables, one per shape (unanalyzed copies seq's), built once.
# autovacuum is off on them so that it never works on them during a run
# (LIKE does not copy the setting to bench_t).
declare -A SRC=([seq]=bench_src_seq [random]=bench_src_random [uuid]=bench_src_uuid [unanalyzed]=bench_src_seq)
declare -A SRC_SQL=(
	[seq]="CREATE TABLE bench_src_seq(id bigint primary key, $COLS_SQL) WITH (autovacuum_enabled = false);
INSERT INTO bench_src_seq (id, customer, amount, created_at, note)
SELECT i, $ROWS_SQL;
VACUUM ANALYZE bench_src_seq;"
	[random]="CREATE TABLE bench_src_random(id bigint primary key, $COLS_SQL) WITH (autovacuum_enabled = false);
SELECT setseed(0.5);
INSERT INTO bench_src_random (id, customer, amount, created_at, note)
SELECT i, $ROWS_SQL
 ORDER BY random();
VACUUM ANALYZE bench_src_random;"
	[uuid]="CREATE TABLE bench_src_uuid(id uuid primary key DEFAULT gen_random_uuid(), $COLS_SQL) WITH (autovacuum_enabled = false);
INSERT INTO bench_src_uuid (customer, amount, created_at, note)
SELECT $ROWS_SQL;
VACUUM ANALYZE bench_src_uuid;"
)
declare -A SHAPE_DESC=(
	[seq]="\`id bigint primary key\`, rows inserted in key order (the key follows the heap)"
	[random]="\`id bigint primary key\`, rows inserted in random key order (\`ORDER BY random()\` after \`setseed(0.5)\`)"
	[uuid]="\`id uuid primary key DEFAULT gen_random_uuid()\`, rows in generation order"
	[unanalyzed]="the seq rows, never analyzed: \`autovacuum_enabled = false\` on the copy, VACUUM without ANALYZE; checked: no pg_stats row for bench_t before and after every run"
)

# The copy every run fills (:src the source; :with its storage options;
# :vacuum the statement that sets hint bits and the visibility map). Seq scan
# from block 0 (synchronize_seqscans off), so the copy has the source's
# physical layout; the primary key index is filled row by row in that order,
# as in the source.
COPY_SQL="CREATE TABLE bench_t (LIKE :src INCLUDING ALL) :with;
SET synchronize_seqscans = off;
INSERT INTO bench_t SELECT * FROM :src;
:vacuum bench_t;
CHECKPOINT;"
printf '%s\n' "SET client_min_messages = warning;" "DROP SCHEMA IF EXISTS nanoid_backfill CASCADE;" "DROP TABLE IF EXISTS bench_t;" \
	"$COPY_SQL" >"$WORK/copy.sql"
declare -A COPY_WITH=([unanalyzed]="WITH (autovacuum_enabled = false)")
declare -A COPY_VACUUM=([unanalyzed]="VACUUM")

# build_source S: the source table of shape S, unless built already.
declare -A BUILT=()
build_source() {
	local src=${SRC[$1]} shape=$1 t0
	[[ $shape == unanalyzed ]] && shape=seq
	[[ -z ${BUILT[$src]:-} ]] || return 0
	t0=$(now_s)
	printf '%s\n' "SET client_min_messages = warning;" "DROP TABLE IF EXISTS $src;" "${SRC_SQL[$shape]}" >"$WORK/$src.sql"
	run psql -X -v ON_ERROR_STOP=1 -q -o /dev/null -v rows="$ROWS" -f "$WORK/$src.sql" >&2
	BUILT[$src]=1
	log "built $src ($ROWS rows) in $(secs "$t0" "$(now_s)") s"
}

# fresh_copy S: bench_t as a fresh copy of shape S's source, no progress
# table left over; for unanalyzed, checks that it has no statistics.
fresh_copy() {
	local s=$1 t0
	t0=$(now_s)
	run psql -X -v ON_ERROR_STOP=1 -q -v src="${SRC[$s]}" -v with="${COPY_WITH[$s]:-}" \
		-v vacuum="${COPY_VACUUM[$s]:-VACUUM ANALYZE}" -f "$WORK/copy.sql" >&2
	[[ $s != unanalyzed ]] || no_stats "$s before the run"
	log "copied ${SRC[$s]} for $s in $(secs "$t0" "$(now_s)") s"
}

# no_stats WHAT: bench_t has no pg_stats row and autovacuum is off on it.
no_stats() {
	local n opts
	n=$(psqlc "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'bench_t'")
	opts=$(psqlc "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = 'public.bench_t'::regclass")
	[[ $n == 0 ]] || die "$1: bench_t has $n pg_stats rows, want none"
	[[ $opts == *autovacuum_enabled=false* ]] || die "$1: bench_t's options are '$opts', want autovacuum_enabled=false"
}

fresh_table() {
	local t0
	t0=$(now_s)
	run psql -X -v ON_ERROR_STOP=1 -q -v rows="$1" -f "$WORK/table.sql" >&2
	log "built the $1-row table in $(secs "$t0" "$(now_s)") s"
}

# bytes_per_row TABLE N: pg_relation_size(TABLE) / N, the heap only
bytes_per_row() { psqlc "SELECT round(pg_relation_size('$1')::numeric / $2, 1)"; }

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

declare -A LABEL=(
	[ceiling]="single UPDATE, md5 (ceiling)"
	[batched]="the same UPDATE in 1000-row transactions"
	[plpgsql]="single UPDATE, PL/pgSQL nanoid()"
	[rowbyrow]="row-by-row script"
	[backfill-1]="nanoid-backfill --workers 1"
	[backfill-2]="nanoid-backfill --workers 2"
)
NB_ARGS="--table bench_t --column public_id --until-done"
declare -A COMMAND=(
	[ceiling]="psql -c 'UPDATE bench_t SET public_id = md5(id::text)'"
	[batched]="psql -c 'SET synchronous_commit = off' -c 'CALL bench_batched(1000, $ROWS)'"
	[plpgsql]="psql -c 'UPDATE bench_t SET public_id = nanoid()'"
	[rowbyrow]="rowbyrow $ROWBYROW_SECONDS"
	[backfill-1]="nanoid-backfill $NB_ARGS --workers 1"
	[backfill-2]="nanoid-backfill $NB_ARGS --workers 2"
)
for x in "${EXTRA_NAMES[@]}"; do
	LABEL[$x]="$x: nanoid-backfill ${EXTRA_ARGS[$x]}"
	COMMAND[$x]="nanoid-backfill $NB_ARGS ${EXTRA_ARGS[$x]}"
done

# contenders S: the contenders of shape S, in report order
contenders() {
	if [[ $1 == seq ]]; then
		echo ceiling batched plpgsql rowbyrow backfill-1 backfill-2 "${EXTRA_NAMES[@]}"
	else
		echo ceiling batched backfill-1 backfill-2 "${EXTRA_NAMES[@]}"
	fi
}
is_nb() { [[ $1 == backfill-* || -n ${EXTRA_ARGS[$1]:-} ]]; }
# nb_args C: the options of nanoid-backfill contender C, after NB_ARGS
nb_args() {
	case $1 in
	backfill-1 | backfill-2) echo "--workers ${1#backfill-}" ;;
	*) echo "${EXTRA_ARGS[$1]}" ;;
	esac
}

declare -A TIME RSS CPU NOTE ORDER WHY
# keyed "S/C,R" (shape, contender, round): TIME seconds; RSS KiB; CPU percent
# of wall; NOTE; ORDER key|physical|unknown and WHY (nanoid-backfill only)

# time_nb TAG N OPTION...: runs nanoid-backfill $NB_ARGS OPTION... under
# /usr/bin/time; sets R_TIME R_RSS R_CPU.
time_nb() {
	local tag=$1 n=$2 t0 t1 rc=0 u s m
	shift 2
	t0=$(now_s)
	# shellcheck disable=SC2086  # NB_ARGS is a list of options
	run /usr/bin/time -f '%e %U %S %M' -o "$WORK/$tag.time" \
		"$NB" $NB_ARGS "$@" >"$WORK/$tag.out" 2>"$WORK/$tag.err" || rc=$?
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

# walk_of TAG: the order run TAG chose and why, from the first line of its
# stderr ('... filling "s"."t"."c" by key (id) (WHY) in batches of ...' or
# '... in physical order (WHY) in batches of ...'); sets R_ORDER R_WHY.
RE_KEY=' by key \(([^)]*)\) \((.*)\) in batches of '
RE_PHYS=' in physical order \((.*)\) in batches of '
walk_of() {
	local first
	first=$(head -n 1 "$WORK/$1.err")
	if [[ $first =~ $RE_KEY ]]; then
		R_ORDER=key R_WHY=${BASH_REMATCH[2]}
	elif [[ $first =~ $RE_PHYS ]]; then
		R_ORDER=physical R_WHY=${BASH_REMATCH[1]}
	else
		R_ORDER=unknown R_WHY="first stderr line: ${first:0:200}"
		log "$1: could not read the order from the first stderr line: $first"
	fi
}

# contender S C R: a fresh copy of shape S, then one timed run of C in round R.
contender() {
	local s=$1 c=$2 r=$3 k="$1/$2" t0 t1 out rows secs fin tag="$1-$2-r$3"
	fresh_copy "$s"
	case $c in
	ceiling | plpgsql | batched)
		local sql="UPDATE bench_t SET public_id = md5(id::text)" pre="SET synchronous_commit = on"
		[[ $c == plpgsql ]] && sql="UPDATE bench_t SET public_id = nanoid()"
		[[ $c == batched ]] && sql="CALL bench_batched(1000, $ROWS)" pre="SET synchronous_commit = off"
		t0=$(now_s)
		run psql -X -v ON_ERROR_STOP=1 -q -c "$pre" -c "$sql" >&2
		t1=$(now_s)
		verify "$ROWS" "$tag"
		TIME[$k,$r]=$(secs "$t0" "$t1")
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
			TIME[$k,$r]=$secs
			NOTE[$k,$r]="measured: all $rows rows in $secs s"
		else
			TIME[$k,$r]=$(awk -v n="$ROWS" -v k="$rows" -v s="$secs" 'BEGIN { printf "%.3f", n * s / k }')
			NOTE[$k,$r]="extrapolated from $rows rows in $secs s"
		fi
		;;
	*)
		local args
		read -ra args <<<"$(nb_args "$c")"
		time_nb "$tag" "$ROWS" "${args[@]}"
		walk_of "$tag"
		TIME[$k,$r]=$R_TIME RSS[$k,$r]=$R_RSS CPU[$k,$r]=$R_CPU ORDER[$k,$r]=$R_ORDER WHY[$k,$r]=$R_WHY
		;;
	esac
	[[ $s != unanalyzed ]] || no_stats "$tag, after the run"
	local msg="round $r/$ROUNDS: $s: $c: ${TIME[$k,$r]} s"
	[[ -z ${NOTE[$k,$r]:-} ]] || msg+=" (${NOTE[$k,$r]})"
	[[ -z ${ORDER[$k,$r]:-} ]] || msg+=", order ${ORDER[$k,$r]} (${WHY[$k,$r]})"
	[[ -z ${RSS[$k,$r]:-} ]] || msg+=", peak RSS ${RSS[$k,$r]} KiB, client CPU ${CPU[$k,$r]}% of wall"
	log "$msg"
}

# --- sources ----------------------------------------------------------------------

declare -A BYTES_PER_ROW
for s in "${SHAPE_LIST[@]}"; do
	build_source "$s"
	BYTES_PER_ROW[$s]=$(bytes_per_row "${SRC[$s]}" "$ROWS")
done

# The extra contenders' options, checked once before the rounds
# (--check-config writes nothing) rather than failing in round 1.
if ((${#EXTRA_NAMES[@]} > 0)); then
	fresh_copy "${SHAPE_LIST[0]}"
	for x in "${EXTRA_NAMES[@]}"; do
		read -ra args <<<"${EXTRA_ARGS[$x]}"
		# shellcheck disable=SC2086  # NB_ARGS is a list of options
		"$NB" $NB_ARGS "${args[@]}" --check-config >"$WORK/check-$x.out" 2>&1 || {
			tail -n 20 "$WORK/check-$x.out" >&2
			die "EXTRA: '$x': nanoid-backfill ${EXTRA_ARGS[$x]} --check-config failed"
		}
	done
	log "extra contenders checked: ${EXTRA_NAMES[*]}"
fi

# --- rounds ----------------------------------------------------------------------

NS=${#SHAPE_LIST[@]}
for ((r = 1; r <= ROUNDS; r++)); do
	for ((i = 0; i < NS; i++)); do
		s=${SHAPE_LIST[(i + r - 1) % NS]}
		read -ra cs <<<"$(contenders "$s")"
		order=()
		for ((j = 0; j < ${#cs[@]}; j++)); do
			order+=("${cs[(j + r - 1) % ${#cs[@]}]}")
		done
		log "round $r/$ROUNDS: $s: ${order[*]}"
		for c in "${order[@]}"; do
			contender "$s" "$c" "$r"
		done
	done
done
psqlq -c "DROP TABLE IF EXISTS bench_t, bench_src_seq, bench_src_random, bench_src_uuid"

# --- memory run ------------------------------------------------------------------

if ((BIG_ROWS > 0)); then
	log "memory run: building the $BIG_ROWS-row table"
	fresh_table "$BIG_ROWS"
	BIG_BYTES_PER_ROW=$(bytes_per_row bench_t "$BIG_ROWS")
	log "memory run: nanoid-backfill --workers 2 on $BIG_ROWS rows ($BIG_BYTES_PER_ROW bytes a row)"
	time_nb big "$BIG_ROWS" --workers 2
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
# within A B K: yes if A is at most K times B
within() { awk -v a="$1" -v b="$2" -v k="$3" 'BEGIN { print (a <= k * b) ? "yes" : "**no**" }'; }
# faster SLOW FAST K: yes if FAST is at least K times faster than SLOW
faster() { awk -v s="$1" -v f="$2" -v k="$3" 'BEGIN { print (s >= k * f) ? "yes" : "**no**" }'; }
# order_of S/C: the order(s) its runs chose, with why; "n x" if they differ
order_of() {
	local k=$1 r
	for ((r = 1; r <= ROUNDS; r++)); do echo "${ORDER[$k,$r]} (${WHY[$k,$r]//|/\\|})"; done |
		sort | uniq -c | awk '{ n = $1; sub(/^ *[0-9]+ /, ""); v[++m] = $0; c[m] = n }
			END { for (i = 1; i <= m; i++) printf "%s%s%s", (i > 1 ? "; " : ""), (m > 1 ? c[i] " x " : ""), v[i] }'
}

declare -A MED
for s in "${SHAPE_LIST[@]}"; do
	for c in $(contenders "$s"); do
		vals=()
		for ((r = 1; r <= ROUNDS; r++)); do vals+=("${TIME[$s/$c,$r]}"); done
		MED[$s/$c]=$(median "${vals[@]}")
	done
done
has_shape() { [[ " ${SHAPE_LIST[*]} " == *" $1 "* ]]; }

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
SHAPES_SHOWN=$(IFS=,; echo "${SHAPE_LIST[*]}")

mkdir -p "$RESULTS"
{
	echo "# Throughput benchmark, $STAMP"
	echo
	if ((!DEFAULTS)); then
		echo "**Non-default parameters (ROWS=$ROWS ROUNDS=$ROUNDS ROWBYROW_SECONDS=$ROWBYROW_SECONDS): a smoke"
		echo "run, not comparable with the targets.**"
		echo
	fi
	echo "Filling the NULL \`public_id text\` column of a $ROWS-row table of each shape ($SHAPES_SHOWN)."
	echo "$ROUNDS round(s), each running every shape (in an order rotated by one per round) and within a"
	echo "shape every contender once (rotated the same way), each run on a fresh copy of the shape's source"
	echo "table (same physical layout every run) after VACUUM ANALYZE (unanalyzed: VACUUM) and CHECKPOINT."
	echo "Wall time of the client command from start to exit; median over the rounds; ratios to the"
	echo "same shape's ceiling median (below 1.00x is faster)."
	echo
	echo "| shape | bytes a row | order chosen (--order auto) | ceiling | in 1000-row transactions | vs ceiling | --workers 1 | vs ceiling | --workers 2 | vs ceiling |"
	echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
	for s in "${SHAPE_LIST[@]}"; do
		echo "| $s | ${BYTES_PER_ROW[$s]} | $(order_of "$s/backfill-1") | $(fmt_s "${MED[$s/ceiling]}") |" \
			"$(fmt_s "${MED[$s/batched]}") | $(ratio "${MED[$s/batched]}" "${MED[$s/ceiling]}") |" \
			"$(fmt_s "${MED[$s/backfill-1]}") | $(ratio "${MED[$s/backfill-1]}" "${MED[$s/ceiling]}") |" \
			"$(fmt_s "${MED[$s/backfill-2]}") | $(ratio "${MED[$s/backfill-2]}" "${MED[$s/ceiling]}") |"
	done
	echo
	echo "## Targets"
	echo
	echo "Medians of this run:"
	echo
	echo "| target | measured | met |"
	echo "|---|---:|---|"
	ALL_MET=yes
	target() { # target TEXT MEASURED MET
		echo "| $1 | $2 | $3 |"
		[[ $3 == yes ]] || ALL_MET=no
	}
	for s in "${SHAPE_LIST[@]}"; do
		target "$s: --workers 1 at most 1.05x the ceiling" "$(ratio "${MED[$s/backfill-1]}" "${MED[$s/ceiling]}")" \
			"$(within "${MED[$s/backfill-1]}" "${MED[$s/ceiling]}" 1.05)"
		target "$s: --workers 2 at most 0.70x the ceiling" "$(ratio "${MED[$s/backfill-2]}" "${MED[$s/ceiling]}")" \
			"$(within "${MED[$s/backfill-2]}" "${MED[$s/ceiling]}" 0.70)"
	done
	if has_shape unanalyzed && has_shape seq; then
		target "unanalyzed --workers 1 within 1.2x of seq --workers 1 (analyzed)" \
			"$(ratio "${MED[unanalyzed/backfill-1]}" "${MED[seq/backfill-1]}")" \
			"$(within "${MED[unanalyzed/backfill-1]}" "${MED[seq/backfill-1]}" 1.2)"
	fi
	if has_shape seq; then
		target "seq: at least 4x faster than the PL/pgSQL UPDATE (--workers 2)" \
			"$(ratio "${MED[seq/plpgsql]}" "${MED[seq/backfill-2]}")" "$(faster "${MED[seq/plpgsql]}" "${MED[seq/backfill-2]}" 4)"
		target "seq: at least 50x faster than row-by-row (--workers 2)" \
			"$(ratio "${MED[seq/rowbyrow]}" "${MED[seq/backfill-2]}")" "$(faster "${MED[seq/rowbyrow]}" "${MED[seq/backfill-2]}" 50)"
	fi
	rss_all=() cpu_all=()
	for s in "${SHAPE_LIST[@]}"; do
		for c in $(contenders "$s"); do
			is_nb "$c" || continue
			for ((r = 1; r <= ROUNDS; r++)); do rss_all+=("${RSS[$s/$c,$r]}"); cpu_all+=("${CPU[$s/$c,$r]}"); done
		done
	done
	rss_max=$(maxof "${rss_all[@]}")
	target "peak RSS under 16 MiB at $ROWS rows (every run)" "$(mib "$rss_max")" "$(yesno "$rss_max" 16383)"
	if ((BIG_ROWS > 0)); then
		target "peak RSS under 16 MiB at $BIG_ROWS rows" "$(mib "$BIG_RSS")" "$(yesno "$BIG_RSS" 16383)"
		cpu_all+=("$BIG_CPU")
	fi
	cpu_max=$(maxof "${cpu_all[@]}")
	target "client CPU under 15% of wall (largest run)" "${cpu_max}%" "$(yesno "$cpu_max" 14.999)"
	echo
	echo "All targets met: $ALL_MET."
	for s in "${SHAPE_LIST[@]}"; do
		echo
		echo "## Shape $s"
		echo
		echo "${SHAPE_DESC[$s]}; ${BYTES_PER_ROW[$s]} bytes a row (pg_relation_size / rows)."
		echo
		echo "| contender | median time | rows/s | vs ceiling | runs | order chosen | peak RSS | client CPU |"
		echo "|---|---:|---:|---:|---|---|---:|---:|"
		for c in $(contenders "$s"); do
			k=$s/$c runs='' rss=- cpu=- ord=- t=$(fmt_s "${MED[$k]}")
			for ((r = 1; r <= ROUNDS; r++)); do runs+="${runs:+, }$(awk -v t="${TIME[$k,$r]}" 'BEGIN { printf "%.2f", t }')"; done
			if is_nb "$c"; then
				rv=() cv=()
				for ((r = 1; r <= ROUNDS; r++)); do rv+=("${RSS[$k,$r]}"); cv+=("${CPU[$k,$r]}"); done
				rss=$(mib "$(maxof "${rv[@]}")")
				cpu=$(awk -v v="$(median "${cv[@]}")" 'BEGIN { printf "%.1f%%", v }')
				ord=$(order_of "$k")
			fi
			[[ $c == rowbyrow && ${NOTE[$k,1]:-} == extrapolated* ]] && t="~$t (extrapolated)"
			echo "| ${LABEL[$c]} | $t | $(rate "$ROWS" "${MED[$k]}") | $(ratio "${MED[$k]}" "${MED[$s/ceiling]}") | $runs | $ord | $rss | $cpu |"
		done
		if [[ $s == seq ]]; then
			notes=''
			for ((r = 1; r <= ROUNDS; r++)); do notes+="${notes:+; }round $r: ${NOTE[seq/rowbyrow,$r]}"; done
			echo
			echo "Row-by-row: at most ROWBYROW_SECONDS=$ROWBYROW_SECONDS s a run; $notes. An extrapolated time"
			echo "is $ROWS rows at the measured rate, which flatters it: its \`LIMIT 1000\` scan rereads the rows"
			echo "already filled every time, so the real script slows down as the table fills."
		fi
	done
	echo
	echo "## Notes"
	echo
	echo "- vs ceiling: the median time over the same shape's ceiling median time."
	echo "- runs: each round's time in seconds, in round order."
	echo "- order chosen: from the first line of each run's stderr (the order nanoid-backfill walks the"
	echo "  table in, and why); \"N x\" when the rounds differ."
	echo "- peak RSS: the largest over the rounds (/usr/bin/time %M); client CPU: user + system time"
	echo "  of nanoid-backfill as a share of its wall time, median over the rounds."
	if ((BIG_ROWS > 0)); then
		echo "- memory run: nanoid-backfill --workers 2 on a $BIG_ROWS-row seq table built in place"
		echo "  ($BIG_BYTES_PER_ROW bytes a row), one run after the rounds: $(fmt_s "$BIG_TIME"),"
		echo "  $(rate "$BIG_ROWS" "$BIG_TIME") rows/s, peak RSS $(mib "$BIG_RSS"), client CPU ${BIG_CPU}%."
	fi
	echo "- Every run was checked: no NULL left, count(DISTINCT public_id) = rows (row-by-row: the rows it filled)."
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
	printf 'ROWS=%s ROUNDS=%s BIG_ROWS=%s ROWBYROW_SECONDS=%s SHAPES=%s' "$ROWS" "$ROUNDS" "$BIG_ROWS" "$ROWBYROW_SECONDS" "$SHAPES_SHOWN"
	if ((${#EXTRA_NAMES[@]} > 0)); then
		printf ' EXTRA="%s"' "$(for x in "${EXTRA_NAMES[@]}"; do printf '%s:%s;' "$x" "${EXTRA_ARGS[$x]}"; done | sed 's/;$//')"
	fi
	echo " bash bench/throughput.sh   # took $((DURATION / 60)) min $((DURATION % 60)) s"
	echo
	echo "# the source tables, once each (psql -v rows=$ROWS -f); unanalyzed copies bench_src_seq:"
	for s in seq random uuid; do
		if has_shape "$s" || { [[ $s == seq ]] && has_shape unanalyzed; }; then echo "${SRC_SQL[$s]}"; fi
	done
	echo
	echo "# before every run: a fresh copy (psql -v src=<source> -v with=<options> -v vacuum=<statement> -f);"
	echo "# vacuum = VACUUM ANALYZE, for unanalyzed VACUUM and with = WITH (autovacuum_enabled = false):"
	echo "DROP SCHEMA IF EXISTS nanoid_backfill CASCADE; DROP TABLE IF EXISTS bench_t;"
	echo "$COPY_SQL"
	echo "# unanalyzed, before and after the run: no row, and autovacuum_enabled=false in reloptions"
	echo "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'bench_t';"
	echo
	echo "# the contenders (connection: PGHOST=<socket dir> PGUSER=postgres PGDATABASE=postgres)"
	for c in "${BUILTIN[@]}" "${EXTRA_NAMES[@]}"; do
		case $c in plpgsql | rowbyrow) has_shape seq || continue ;; esac
		echo "${COMMAND[$c]}    # $c"
	done
	if ((BIG_ROWS > 0)); then
		echo "nanoid-backfill $NB_ARGS --workers 2    # memory run, on this table (psql -v rows=$BIG_ROWS -f):"
		echo "$TABLE_SQL"
	fi
	echo "psql -f bench/nanoid_plpgsql.sql    # once, before the rounds: nanoid() for plpgsql"
	echo "psql -f bench/batched_update.sql    # once, before the rounds: bench_batched() for batched"
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
