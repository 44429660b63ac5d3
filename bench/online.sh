#!/usr/bin/env bash
# online.sh - what does a running backfill cost the application?
#
#   bash bench/online.sh
#
# Installs the dependencies (scripts/deps.sh), builds, starts a throwaway
# PostgreSQL (scripts/pgtmp.sh, settings below), and runs a pgbench workload
# that reads and updates random rows of a ROWS-row table (~150 bytes a row,
# bigint key, public_id NULL), three times on a fresh copy of the table:
#
#   baseline   the workload alone
#   default    the workload while nanoid-backfill fills public_id with its
#              default settings (the pace follows measured harm)
#   max-rate   the same with --max-rate R --max-latency-increase 0, for
#              each R in RATE: the backfill's measured rate against the
#              limit (the pace off: it would cap the rate at its own)
#   late       the backfill (defaults) starts first, the workload LATE_START
#              seconds later, as a morning ramp would: statistics over the
#              workload's whole run, against the baseline's whole run (its
#              start included too; and, for the record, against the
#              baseline's window without it)
#   idle       no workload: the backfill of the whole table with the pace
#              off (--max-latency-increase 0), timed
#   poller     no workload but a monitoring poller (psql, SELECT count(*)
#              FROM pg_stat_activity once a second): the default backfill
#              of the whole table, timed; its rate against idle's
#   sql:R:B    no nanoid-backfill: a plain SQL writer (a second pgbench,
#              writer.sql below) filling R rows/s in B-row transactions
#              (B: 100 unless given) for as long as a backfill phase runs:
#              what any writer at that rate costs the workload, the floor
#              for a backfill at the same rate
#
# Each phase runs pgbench for DURATION seconds at a fixed arrival rate (TPS
# transactions/s over CLIENTS connections: a production-like load with
# headroom, not a saturation test; latencies are measured from the scheduled
# start, so queueing counts). The backfill starts WARMUP seconds in and is
# stopped by --max-runtime before pgbench ends. Statistics come from
# pgbench's per-transaction log: for the baseline over [WARMUP, DURATION],
# for a backfill phase over the seconds the backfill was running.
# The report (a markdown table) goes to stdout and bench/results/online-<date>.md.
#
# Rounds: the phases run ROUNDS times, interleaved (baseline, default,
# max-rate, baseline, default, ...), each against the baseline of its own
# round; the summary gives the median over the rounds. One round alone is
# not a measurement on a shared machine: a quiet baseline next to a noisy
# backfill phase (or the reverse) moves the p99 by 2x on its own.
#
# Parameters (environment): ROWS=1000000 CLIENTS=8 TPS=800 DURATION=50
# WARMUP=5 LATE_START=1.5 ROUNDS=3 RATE="5000" (one max-rate phase each) BF_ARGS=""
# KEEP=1 (keep the work dir: each phase's backfill log and pgbench log)
# (extra options for every backfill phase), PHASES="baseline default
# max-rate" (tuning: any order, repeats allowed, "with:OPT,OPT..." for
# a backfill with those options, e.g. with:--batch-size=100, and sql:R:B). A full run takes about 15
# minutes on 2 cores.
set -euo pipefail
# shellcheck source=scripts/as_root.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/as_root.sh"
as_root ROWS CLIENTS TPS DURATION WARMUP LATE_START ROUNDS RATE BF_ARGS PHASES KEEP -- "$@"

ROWS=${ROWS:-1000000}
CLIENTS=${CLIENTS:-8}
TPS=${TPS:-800}
DURATION=${DURATION:-50}
WARMUP=${WARMUP:-5}
LATE_START=${LATE_START:-1.5}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-5000}
BF_ARGS=${BF_ARGS:-}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench      # not build/, which the tests use
NB=$BUILD/nanoid-backfill
RESULTS=$ROOT/bench/results
STAMP=$(date -u +%Y-%m-%d)
REPORT=$RESULTS/online-$STAMP.md

log() { echo "online: $*" >&2; }

# sql_phase P: "sql:R[:B]" into sql_rate and SQL_BATCH (100 unless given);
# false unless both are whole numbers
sql_phase() {
	IFS=: read -r _ sql_rate SQL_BATCH <<<"$1"
	SQL_BATCH=${SQL_BATCH:-100}
	[[ $sql_rate =~ ^[1-9][0-9]*$ && $SQL_BATCH =~ ^[1-9][0-9]*$ ]]
}

# A phase that cannot run is refused before anything is built or started,
# not when its turn comes after the phases before it ran.
for p in ${PHASES:-baseline default max-rate}; do
	case $p in
	baseline | default | max-rate | late | idle | poller | with:?*) ;;
	sql:*)
		sql_phase "$p" ||
			{ log "phase '$p': want sql:ROWS_PER_S[:BATCH], whole numbers"; exit 64; }
		;;
	*) log "unknown phase '$p'"; exit 64 ;;
	esac
done

# --- setup ------------------------------------------------------------------

bash "$ROOT/scripts/deps.sh" >&2
if [[ ! -f $BUILD/build.ninja ]]; then
	meson setup "$BUILD" >&2
fi
ninja -C "$BUILD" >&2

PGBENCH=$(command -v pgbench || true)
if [[ -z $PGBENCH ]]; then
	PGBENCH=$(printf '%s\n' /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)
fi
[[ -x $PGBENCH ]] || { log "no pgbench (Debian: package postgresql-<version>)"; exit 1; }

# Server settings for the benchmark, after pgtmp.sh's test settings (later
# lines win): durable commits like production (fsync, full_page_writes,
# synchronous_commit all on), WAL for a standby, memory for 2 cores / 24 GiB,
# checkpoints spread out so one does not land in a single phase by chance.
PGTMP_CONF="fsync = on
full_page_writes = on
synchronous_commit = on
wal_level = replica
max_wal_senders = 2
shared_buffers = 1GB
effective_cache_size = 8GB
work_mem = 16MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
checkpoint_completion_target = 0.9
wal_compression = on
autovacuum = on
max_connections = 50"
export PGTMP_CONF

WORK=$(mktemp -d /tmp/nbbench.XXXXXX)
PGDIR=$(mktemp -d /tmp/nbbenchpg.XXXXXX)
chmod 755 "$WORK" "$PGDIR"
BF_PID=
cleanup() {
	local rc=$?
	set +e
	[[ -z $BF_PID ]] || kill -9 "$BF_PID" 2>/dev/null
	"$ROOT/scripts/pgtmp.sh" stop "$PGDIR" >/dev/null 2>&1
	if [[ -n ${KEEP:-} ]]; then
		echo "online: kept $WORK (the daemons' logs and pgbench's)" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

unset PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS
eval "$("$ROOT/scripts/pgtmp.sh" start "$PGDIR")"
export LC_ALL=C
psqlc() { psql -X -v ON_ERROR_STOP=1 -qAt -c "$1"; }

log "building the $ROWS-row source table"
psql -X -v ON_ERROR_STOP=1 -q <<SQL
CREATE TABLE bench_src AS
SELECT i::bigint AS id, 0 AS counter,
       repeat(md5(i::text), 3) AS payload,
       now() - i * interval '1 second' AS created_at
  FROM generate_series(1, $ROWS) i;
VACUUM (ANALYZE) bench_src;
SQL

# A fresh table for every phase: the same starting point, no bloat from the
# phase before, no progress row left over.
fresh_table() {
	psql -X -v ON_ERROR_STOP=1 -q <<SQL
DROP SCHEMA IF EXISTS nanoid_backfill CASCADE;
DROP TABLE IF EXISTS bench_t;
DROP SEQUENCE IF EXISTS bench_writer_pos;
CREATE SEQUENCE bench_writer_pos;
CREATE TABLE bench_t (id bigint PRIMARY KEY, counter int NOT NULL,
                      payload text NOT NULL, created_at timestamptz NOT NULL,
                      public_id text);
INSERT INTO bench_t SELECT id, counter, payload, created_at, NULL FROM bench_src;
VACUUM (ANALYZE) bench_t;
CHECKPOINT;
SQL
	# The copy's writes reach the disk before the phase, not during it.
	sync
}

cat >"$WORK/workload.sql" <<'SQL'
\set id random(1, :rows)
\set id2 random(1, :rows)
BEGIN;
SELECT id, counter, payload, public_id FROM bench_t WHERE id = :id;
UPDATE bench_t SET counter = counter + 1 WHERE id = :id2;
END;
SQL

# The sql phase's writer: the next `batch` rows by key in one transaction,
# the same IS NULL guard, md5 for an id, synchronous_commit off as
# nanoid-backfill's sessions run: what any writer at that rate costs the
# workload, whatever the tool (no lease, no ids to send, no probe).
cat >"$WORK/writer.sql" <<'SQL'
SET synchronous_commit = off;
SELECT nextval('bench_writer_pos') * :batch AS hi \gset
\set lo :hi - :batch
UPDATE bench_t SET public_id = md5(id::text)
 WHERE id > :lo AND id <= :hi AND public_id IS NULL;
SQL

# --- phases -----------------------------------------------------------------

# stats PREFIX FROM TO: "count tps p50 p99 sp50 sp99" of the transactions
# that completed in [FROM, TO) (epoch seconds) in pgbench's per-transaction
# logs, latencies in ms: p50/p99 from the scheduled start (what a user
# waits), sp50/sp99 from the actual start (without pgbench's own lag).
# Log line: client_id transaction_no time_us script_no epoch epoch_us lag_us
stats() {
	local len
	len=$(awk -v a="$2" -v b="$3" 'BEGIN { print b - a }')
	cat "$1".* | awk -v from="$2" -v to="$3" '
		{ t = $5 + $6 / 1e6; if (t >= from && t < to) print $3, $3 - $7 }' >"$1.sel"
	paste -d ' ' <(cut -d ' ' -f 1 "$1.sel" | sort -n) <(cut -d ' ' -f 2 "$1.sel" | sort -n) |
		awk -v len="$len" '
		{ v[NR] = $1; s[NR] = $2 }
		END {
			if (NR == 0) { print "0 0 0 0 0 0"; exit }
			i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
			printf "%d %.0f %.2f %.2f %.2f %.2f\n", NR, NR / len,
				v[i50] / 1000, v[i99] / 1000, s[i50] / 1000, s[i99] / 1000
		}'
}

now_s() { date +%s.%N; }

# phase NAME BACKFILL [ARGS...]: runs the workload, and if BACKFILL is "yes"
# the backfill with ARGS. Sets P_COUNT P_TPS P_P50 P_P99 P_WINDOW P_ROWS
# P_RATE P_FAILED.
phase() {
	local name=$1 backfill=$2 prefix t0 bf_start bf_end from to rc=0 st late=0
	shift 2
	fresh_table
	prefix=$WORK/txlog-$name      # pgbench adds .<pid>[.<thread>]
	if [[ $backfill == late ]]; then
		# The backfill first, the workload a moment later.
		late=1
		backfill=yes
		bf_start=$(now_s)
		"$NB" --table bench_t --column public_id --until-done --job "bench-$name" \
			--progress-interval 5 --max-runtime "$((DURATION - 3))s" \
			"$@" >"$WORK/$name.bf.out" 2>"$WORK/$name.bf.err" &
		BF_PID=$!
		sleep "$LATE_START"
	fi
	log "phase $name: pgbench $CLIENTS clients, $TPS tps, ${DURATION}s$([[ $backfill == yes ]] && echo "; backfill $*")"
	t0=$(now_s)
	"$PGBENCH" -n -M prepared -c "$CLIENTS" -j 2 -R "$TPS" -T "$DURATION" \
		-D rows="$ROWS" -f "$WORK/workload.sql" \
		--log --log-prefix="$prefix" >"$WORK/$name.pgbench" 2>&1 &
	local pgb=$!
	P_ROWS=- P_RATE=- P_FAILED=0
	if ((late)); then
		wait "$BF_PID" || rc=$?
		BF_PID=
		bf_end=$(now_s)
	elif [[ $backfill == sql ]]; then
		# No nanoid-backfill: a plain SQL writer at the same rate
		# (writer.sql), for as long as a backfill phase's would run.
		sleep "$WARMUP"
		bf_start=$(now_s)
		"$PGBENCH" -n -M prepared -c 1 -j 1 -R "$SQL_TPS" -T "$((DURATION - WARMUP - 3))" \
			-D batch="$SQL_BATCH" -f "$WORK/writer.sql" >"$WORK/$name.writer" 2>&1 || rc=$?
		bf_end=$(now_s)
	elif [[ $backfill == yes ]]; then
		sleep "$WARMUP"
		bf_start=$(now_s)
		"$NB" --table bench_t --column public_id --until-done --job "bench-$name" \
			--progress-interval 5 --max-runtime "$((DURATION - WARMUP - 3))s" \
			"$@" >"$WORK/$name.bf.out" 2>"$WORK/$name.bf.err" &
		BF_PID=$!
		wait "$BF_PID" || rc=$?
		BF_PID=
		bf_end=$(now_s)
	fi
	if [[ $backfill == sql ]]; then
		((rc == 0)) || { log "phase $name: the SQL writer failed (exit $rc):"; tail -n 5 "$WORK/$name.writer" >&2; P_FAILED=1; }
		P_ROWS=$(psqlc "SELECT count(public_id) FROM bench_t")
	elif [[ $backfill == yes ]]; then
		if ((rc != 0)); then
			log "phase $name: the backfill failed (exit $rc):"
			tail -n 5 "$WORK/$name.bf.err" >&2
			P_FAILED=1
		fi
		P_ROWS=$(psqlc "SELECT coalesce((SELECT rows_done FROM nanoid_backfill.job_progress
		                  WHERE job = 'bench-$name'), 0)" 2>/dev/null || echo 0)
	fi
	if [[ $backfill != no ]]; then
		# A writer ran (the backfill or plain SQL): its rate, its window.
		P_RATE=$(awk -v n="$P_ROWS" -v a="$bf_start" -v b="$bf_end" 'BEGIN { printf "%.0f", n / (b - a) }')
		from=$bf_start
		to=$bf_end
	fi
	wait "$pgb" || { log "pgbench failed:"; tail -n 20 "$WORK/$name.pgbench" >&2; exit 1; }
	if ((late)); then
		# The workload's whole run: it met the backfill from its start.
		from=$t0
		to=$(awk -v a="$t0" -v d="$DURATION" 'BEGIN { printf "%.3f", a + d }')
	elif [[ $backfill == no ]]; then
		from=$(awk -v a="$t0" -v w="$WARMUP" 'BEGIN { printf "%.3f", a + w }')
		to=$(awk -v a="$t0" -v d="$DURATION" 'BEGIN { printf "%.3f", a + d }')
	fi
	read -r P_COUNT P_TPS P_P50 P_P99 P_SP50 P_SP99 <<<"$(stats "$prefix" "$from" "$to")"
	if [[ $backfill == no ]]; then
		# The workload's whole run too, its start included: what the
		# late phase's window (which begins with the workload) is
		# compared with.
		read -r _ _ _ P_P99_ALL _ P_SP99_ALL <<<"$(stats "$prefix" "$t0" "$to")"
	fi
	P_WINDOW=$(awk -v a="$from" -v b="$to" 'BEGIN { printf "%.1f", b - a }')
	st=$(grep -E '^(number of failed|latency average)' "$WORK/$name.pgbench" | tr '\n' ' ')
	log "phase $name: $P_COUNT transactions in ${P_WINDOW}s: $P_TPS tps, p50 $P_P50 ms, p99 $P_P99 ms (service: p50 $P_SP50 ms, p99 $P_SP99 ms); backfill rows $P_ROWS at $P_RATE rows/s ($st)"
}

# solo NAME POLLER [ARGS...]: no workload; the backfill of the whole table
# with ARGS, timed, with a 1 Hz monitoring poller if POLLER is "yes". Sets
# P_ROWS P_RATE P_SECONDS P_FAILED.
solo() {
	local name=$1 poller=$2 start rc=0 ppid=
	shift 2
	fresh_table
	if [[ $poller == yes ]]; then
		(while :; do psql -X -qAt -c "SELECT count(*) FROM pg_stat_activity" >/dev/null 2>&1
			sleep 1; done) &
		ppid=$!
	fi
	log "phase $name: no workload$([[ $poller == yes ]] && echo ", a 1 Hz poller"); backfill $*"
	start=$(now_s)
	"$NB" --table bench_t --column public_id --until-done --job "bench-$name" \
		--progress-interval 5 "$@" >"$WORK/$name.bf.out" 2>"$WORK/$name.bf.err" || rc=$?
	P_SECONDS=$(awk -v a="$start" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }')
	[[ -z $ppid ]] || { kill "$ppid"; wait "$ppid" 2>/dev/null || true; }
	P_FAILED=0
	((rc == 0)) || { log "phase $name: the backfill failed (exit $rc)"; P_FAILED=1; }
	P_ROWS=$(psqlc "SELECT count(*) FROM bench_t WHERE public_id IS NOT NULL")
	P_RATE=$(awk -v n="$P_ROWS" -v t="$P_SECONDS" 'BEGIN { printf "%.0f", n / t }')
	log "phase $name: $P_ROWS rows in $P_SECONDS s ($P_RATE rows/s)"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
dev() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f%%", 100 * (a - b) / b; else print "-" }'; }

# One table row per phase run, in order, and per backfill setting the
# p99 ratios of its rounds for the summary. Ratios are against the first
# baseline of the same round (PHASES="baseline default baseline": a second
# baseline shows the noise).
TABLE=()
declare -A RATIOS=() SRATIOS=() RATES=()
SPEEDS=''             # poller: its rate against idle's, per round
LABELS=()
B_P99='' B_SP99='' B_P99_ALL='' B_SP99_ALL=''
# row [REF_P99 REF_SP99]: against the baseline's window, or these.
row() {
	local r99=${1:-$B_P99} rs99=${2:-$B_SP99}
	((P_FAILED == 0)) || what="$what (FAILED)"
	TABLE+=("| $round | $p | $what | $P_WINDOW s | $P_TPS | $P_P50 ms | $P_P99 ms | $(ratio "$P_P99" "$r99") | $P_SP50 ms | $P_SP99 ms | $(ratio "$P_SP99" "$rs99") | $rate |")
	summary "$r99" "$rs99"
}
# summary REF_P99 REF_SP99: this phase's ratios for the summary table.
summary() {
	[[ -v "RATIOS[$what]" ]] || LABELS+=("$what")
	RATIOS[$what]+=" $(ratio "$P_P99" "$1" | tr -d x)"
	SRATIOS[$what]+=" $(ratio "$P_SP99" "$2" | tr -d x)"
	RATES[$what]+=" $P_RATE"
}
# times N: "Nx", or "-" for none
times() { if [[ $1 == - ]]; then echo -; else echo "${1}x"; fi; }
# median of the numbers in $1 ("-" for none); of an even count, the mean of
# the middle two, as precise as they are (whole numbers stay whole)
median() {
	tr ' ' '\n' <<<"$1" | grep -E '^[0-9.]+$' | sort -g |
		awk '{ v[NR] = $1; if ($1 !~ /^[0-9]+$/) frac = 1 } END { if (NR == 0) print "-";
			else if (NR % 2) print v[(NR + 1) / 2];
			else printf(frac ? "%.2f\n" : "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
for ((round = 1; round <= ROUNDS; round++)); do
	B_P99='' B_SP99='' B_P99_ALL='' B_SP99_ALL=''
	for p in ${PHASES:-baseline default max-rate}; do
		case $p in
		baseline)
			phase baseline no
			if [[ -z $B_P99 ]]; then
				B_P99=$P_P99 B_SP99=$P_SP99
				B_P99_ALL=$P_P99_ALL B_SP99_ALL=$P_SP99_ALL
			fi
			what="none"
			rate="-"
			;;
		default)
			# shellcheck disable=SC2086  # BF_ARGS is a list of options
			phase default yes $BF_ARGS
			what="defaults${BF_ARGS:+ $BF_ARGS}"
			rate="$P_RATE ($P_ROWS rows)"
			;;
		max-rate)
			for r in $RATE; do
				# shellcheck disable=SC2086
				phase max-rate yes --max-rate "$r" --max-latency-increase 0 $BF_ARGS
				what="--max-rate $r --max-latency-increase 0${BF_ARGS:+ $BF_ARGS}"
				rate="$P_RATE ($P_ROWS rows; $(dev "$P_RATE" "$r") vs the limit)"
				row
			done
			continue
			;;
		late)
			# shellcheck disable=SC2086
			phase late late $BF_ARGS
			# Its window starts with the workload: against the
			# baseline's whole run, its start included (and, for the
			# record, against the baseline's window without it).
			what="defaults, load starting ${LATE_START} s after the backfill${BF_ARGS:+ $BF_ARGS}"
			rate="$P_RATE ($P_ROWS rows)"
			row "$B_P99_ALL" "$B_SP99_ALL"
			what="$what, against the baseline's window without its start"
			summary "$B_P99" "$B_SP99"
			continue
			;;
		idle | poller)
			if [[ $p == idle ]]; then
				# shellcheck disable=SC2086
				solo idle no --max-latency-increase 0 $BF_ARGS
				I_RATE=$P_RATE
				what="no workload, pace off (the unpaced speed)"
			else
				# shellcheck disable=SC2086
				solo poller yes $BF_ARGS
				what="no workload, a 1 Hz poller, defaults"
			fi
			((P_FAILED == 0)) || what="$what (FAILED)"
			TABLE+=("| $round | $p | $what | $P_SECONDS s | - | - | - | - | - | - | - | $P_RATE ($P_ROWS rows) |")
			[[ -v "RATIOS[$what]" ]] || LABELS+=("$what")
			RATIOS[$what]+=" -"
			SRATIOS[$what]+=" -"
			RATES[$what]+=" $P_RATE"
			[[ $p == idle || -z ${I_RATE:-} ]] || SPEEDS+=" $(ratio "$P_RATE" "$I_RATE" | tr -d x)"
			continue
			;;
		with:*)
			# tuning: "with:--batch-size=100,--sleep=5" runs the backfill
			# with those options (commas between them)
			IFS=, read -r -a extra <<<"${p#with:}"
			# shellcheck disable=SC2086
			phase with yes "${extra[@]}" $BF_ARGS
			what="${extra[*]}${BF_ARGS:+ $BF_ARGS}"
			rate="$P_RATE ($P_ROWS rows)"
			;;
		sql:*)
			# "sql:5000:100": no nanoid-backfill, a plain SQL writer
			# of 5000 rows/s in 100-row transactions (writer.sql)
			sql_phase "$p"  # checked before the setup
			SQL_TPS=$(awk -v r="$sql_rate" -v b="$SQL_BATCH" 'BEGIN { printf "%.3f", r / b }')
			phase sql sql
			what="no backfill: plain SQL, $sql_rate rows/s in $SQL_BATCH-row transactions"
			rate="$P_RATE ($P_ROWS rows)"
			;;
		esac
		row
	done
done

PGVER=$(psqlc "SHOW server_version")
mkdir -p "$RESULTS"
{
	echo "# Online benchmark, $STAMP"
	echo
	echo "pgbench, $CLIENTS clients at $TPS transactions/s (each: SELECT a random row by id, UPDATE"
	echo "another random row's counter by id, one transaction) on a $ROWS-row table (~150 bytes a"
	echo "row, bigint key), while nanoid-backfill fills its NULL public_id column. Latency from each"
	echo "transaction's scheduled start (pgbench -R: queueing counts); \"service\" from its actual start"
	echo "(without pgbench's own scheduling lag). Over the seconds the backfill ran (baseline: seconds"
	echo "$WARMUP..$DURATION of its run; the late phase, whose window is the workload's whole run, its"
	echo "start included, against the baseline's whole run: seconds 0..$DURATION). A fresh copy of the table for every phase. $ROUNDS rounds,"
	echo "interleaved; each phase against the baseline of its round; medians over the rounds."
	echo
	echo "| backfill | p99 vs baseline (median) | per round | p99 service vs baseline (median) | backfill rows/s (median) |"
	echo "|---|---:|---|---:|---:|"
	for what in "${LABELS[@]}"; do
		echo "| $what | $(times "$(median "${RATIOS[$what]}")") |${RATIOS[$what]} | $(times "$(median "${SRATIOS[$what]}")") | $(median "${RATES[$what]}") |"
	done
	if [[ -n $SPEEDS ]]; then
		echo
		echo "The poller's default backfill against the unpaced one of its round (rows/s ratio):" \
			"median $(median "$SPEEDS")x, per round$SPEEDS."
	fi
	echo
	echo "Every phase:"
	echo
	echo "| round | phase | backfill | window | TPS | p50 | p99 | p99 vs baseline | p50 service | p99 service | p99 service vs baseline | backfill rows/s |"
	echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${TABLE[@]}"
	echo
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo),"\
		"$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), kernel $(uname -r), PostgreSQL $PGVER."
	echo "Server settings (bench/online.sh): $(echo "$PGTMP_CONF" | tr '\n' ';' | sed 's/;$//; s/;/, /g')."
	echo "Command: ROWS=$ROWS CLIENTS=$CLIENTS TPS=$TPS DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS RATE=\"$RATE\"${PHASES:+ PHASES=\"$PHASES\"} bash bench/online.sh"
} | tee "$REPORT"
log "report: $REPORT"
