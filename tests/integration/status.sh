#!/usr/bin/env bash
# status: `nanoid-backfill status` and `status --json` against the progress
# tables the real daemon writes: nothing recorded yet; a finished job; a job
# that is running (held on a row lock, so it cannot finish under the test's
# feet), then idle once released, then stopped; a job with hostile names.
# Then the figures (rows left, rate, ETA) from hand-made tables of the
# documented schema (progress.h), where every number is known.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

command -v python3 >/dev/null || fail "python3 is needed to validate the JSON"

pg_start
psqlf <<'SQL'
CREATE TABLE done_t (id bigint PRIMARY KEY, public_id text);
INSERT INTO done_t SELECT i, NULL FROM generate_series(1, 20000) i;
CREATE TABLE run_t (id bigint PRIMARY KEY, public_id text);
INSERT INTO run_t SELECT i, NULL FROM generate_series(1, 200000) i;
CREATE TABLE "we""ird tablé" (id int PRIMARY KEY, "pub id" text);
INSERT INTO "we""ird tablé" SELECT i, NULL FROM generate_series(1, 300) i;
ANALYZE;
SQL

# status ARGS...: runs `nanoid-backfill status ARGS`, stdout in $S_OUT.
S_OUT=$WORK/status.out
S_ERR=$WORK/status.err
status() {
	RC=0
	"$NB" status "$@" >"$S_OUT" 2>"$S_ERR" </dev/null || RC=$?
}

# jq_py EXPR: evaluates a Python expression over the parsed JSON in $S_OUT
# (bound to j; by_job(name) finds a job's object) and prints the result.
jq_py() {
	python3 - "$S_OUT" "$1" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    j = json.load(f)
def by_job(name):
    m = [o for o in j if o["job"] == name]
    if len(m) != 1:
        raise SystemExit("no single job %r in %r" % (name, [o["job"] for o in j]))
    return m[0]
v = eval(sys.argv[2])
print(json.dumps(v) if not isinstance(v, str) else v)
PY
}

# The row of the text table whose first column is $1.
row_of() { awk -v j="$1" 'index($0, j "  ") == 1' "$S_OUT"; }

# --- nothing recorded ----------------------------------------------------------
status
assert_eq "$RC" 0 "no progress schema: exit 0"
assert_file_match "$S_OUT" '^no jobs recorded in database "postgres"' "no progress schema: says no jobs recorded"
status --json
assert_eq "$RC" 0 "no progress schema, --json: exit 0"
assert_eq "$(cat "$S_OUT")" "[]" "no progress schema, --json: []"
status --job nope
assert_eq "$RC" 1 "no progress schema, --job nope: exit 1"
assert_file_match "$S_ERR" "${NB_ERR_RE}no job \"nope\" recorded" "--job nope: one error line"
status --bogus
assert_eq "$RC" 64 "status --bogus: usage error 64"
status --json extra
assert_eq "$RC" 64 "status with a positional argument: 64"
status --help
assert_eq "$RC" 0 "status --help: exit 0"
assert_file_match "$S_OUT" '^Usage: nanoid-backfill status' "status --help prints its usage"

# --- a finished job -----------------------------------------------------------
run_bf --table done_t --column public_id --until-done
assert_eq "$RC" 0 "done_t filled"
DONE_JOB=public.done_t.public_id

status
assert_eq "$RC" 0 "status after one run: exit 0"
assert_eq "$(head -n 1 "$S_OUT" | tr -s ' ')" \
	"JOB TARGET STATE ROWS DONE ROWS LEFT RATE/S ETA UPDATED" "text: header line"
R=$(row_of "$DONE_JOB")
[[ -n $R ]] || fail "text: no row for $DONE_JOB in: $(cat "$S_OUT")"
assert_match "$R" "^$DONE_JOB +\"public\"\.\"done_t\"\.\"public_id\" +done +20000 +0 +- +- +[0-9]+s ago$" \
	"text: the finished job's row"

status --json
assert_eq "$RC" 0 "status --json: exit 0"
assert_eq "$(jq_py 'len(j)')" 1 "json: one job"
assert_eq "$(jq_py "by_job('$DONE_JOB')['state']")" done "json: state done"
assert_eq "$(jq_py "by_job('$DONE_JOB')['rows_done']")" 20000 "json: rows_done 20000"
assert_eq "$(jq_py "by_job('$DONE_JOB')['rows_left']")" 0 "json: rows_left 0"
assert_eq "$(jq_py "by_job('$DONE_JOB')['target']")" '"public"."done_t"."public_id"' "json: target"
assert_eq "$(jq_py "[by_job('$DONE_JOB')[k] for k in ('schema', 'table', 'column')]")" \
	'["public", "done_t", "public_id"]' "json: schema, table, column"
assert_eq "$(jq_py "by_job('$DONE_JOB')['rate'] is None and by_job('$DONE_JOB')['eta_seconds'] is None")" \
	true "json: no rate or ETA for a finished job"
assert_match "$(jq_py "by_job('$DONE_JOB')['updated_at']")" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' "json: updated_at in ISO 8601 UTC"
assert_eq "$(jq_py "0 <= by_job('$DONE_JOB')['updated_seconds_ago'] < 120")" true "json: updated_seconds_ago"

# --- a running job, held on a row lock -----------------------------------------
# A transaction holds row 100000: the daemon fills every other row in
# batches of 100 (it steps around the locked one and comes back for it),
# still "running".
PGAPPNAME=nb_locker psql -X -q -c "BEGIN; SELECT 1 FROM run_t WHERE id = 100000 FOR UPDATE;
	SELECT pg_sleep(300);" >/dev/null 2>&1 &
LOCKER=$!
BG_PIDS+=("$LOCKER")
wait_for 10 "the row lock to be held" \
	sql_true "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'nb_locker' AND state = 'active'"
RUN_JOB=run-job
bg_bf --table run_t --column public_id --job "$RUN_JOB" --batch-size 100 \
	--idle-interval 1 --progress-interval 1
wait_for 60 "every row but the locked one filled" \
	sql_true "SELECT count(*) = 1 FROM run_t WHERE public_id IS NULL"
pass "running job: only the locked row is left"

status --json
assert_eq "$RC" 0 "running: status --json exit 0"
assert_eq "$(jq_py 'len(j)')" 2 "running: two jobs"
assert_eq "$(jq_py "[o['job'] for o in j]")" "[\"$DONE_JOB\", \"$RUN_JOB\"]" "running: ordered by job name"
assert_eq "$(jq_py "by_job('$RUN_JOB')['state']")" running "running: state running"
assert_eq "$(jq_py "by_job('$RUN_JOB')['rows_done'] == 199999")" true \
	"running: rows_done counts the committed batches of the open pass ($(jq_py "by_job('$RUN_JOB')['rows_done']"))"
assert_eq "$(jq_py "by_job('$RUN_JOB')['rows_left'] is not None and 0 < by_job('$RUN_JOB')['rows_left'] <= 200000")" \
	true "running: rows_left estimated ($(jq_py "by_job('$RUN_JOB')['rows_left']"))"
assert_eq "$(jq_py "by_job('$RUN_JOB')['rate'] is not None and by_job('$RUN_JOB')['rate'] > 0")" \
	true "running: a rate ($(jq_py "by_job('$RUN_JOB')['rate']") rows/s)"
assert_eq "$(jq_py "abs(by_job('$RUN_JOB')['eta_seconds'] - by_job('$RUN_JOB')['rows_left'] / by_job('$RUN_JOB')['rate']) <= 1")" \
	true "running: ETA = rows left / rate"
assert_eq "$(jq_py "by_job('$RUN_JOB')['target']")" '"public"."run_t"."public_id"' "running: target"

status
R=$(row_of "$RUN_JOB")
assert_match "$R" "^$RUN_JOB +\"public\"\.\"run_t\"\.\"public_id\" +running +199999 +[0-9]+ +[0-9]+ +[0-9]+:[0-9]{2}:[0-9]{2} +[0-9]+s ago$" \
	"text: the running job's row"
# Columns line up: every row is as wide as the header up to UPDATED.
H=$(head -n 1 "$S_OUT")
P=${H%%UPDATED*}
for j in "$RUN_JOB" "$DONE_JOB"; do
	R=$(row_of "$j")
	[[ ${R:${#P}} =~ ^[0-9]+s\ ago$ ]] || fail "text: UPDATED column of $j not aligned under the header: '$R'"
done
pass "text: columns aligned"

# Filters: --job, and a job file's target.
status --job "$RUN_JOB"
assert_eq "$(($(wc -l <"$S_OUT")))" 2 "--job: header and one row"
row_of "$RUN_JOB" | grep -q . || fail "--job: not the job asked for"
pass "--job selects the job"
printf 'table = done_t\ncolumn = public_id\n' >"$WORK/done.conf"
status --config "$WORK/done.conf" --json
assert_eq "$RC" 0 "--config: exit 0"
assert_eq "$(jq_py "[o['job'] for o in j]")" "[\"$DONE_JOB\"]" "--config: the job file's target selects its job"
printf 'table = done_t\nbogus = 1\n' >"$WORK/bad.conf"
status --config "$WORK/bad.conf"
assert_eq "$RC" 78 "--config with a bad job file: 78"

# Released: the pass ends and the job goes idle.
psqlc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'nb_locker'" >/dev/null
wait_for 60 "run_t to be filled" sql_true "SELECT count(*) = 0 FROM run_t WHERE public_id IS NULL"
wait_for 20 "the job to go idle" bash -c "\"$NB\" status --job '$RUN_JOB' --json | grep -q '\"state\": \"idle\"'"
status --json --job "$RUN_JOB"
assert_eq "$(jq_py "by_job('$RUN_JOB')['rows_done']")" 200000 "idle: rows_done 200000"
assert_eq "$(jq_py "by_job('$RUN_JOB')['rows_left']")" 0 "idle: rows_left 0"
assert_eq "$(jq_py "by_job('$RUN_JOB')['eta_seconds'] is None")" true "idle: no ETA"
kill_bf TERM "$BF_PID"
assert_eq "$RC" 0 "SIGTERM: exit 0"
status --json --job "$RUN_JOB"
assert_eq "$(jq_py "by_job('$RUN_JOB')['state']")" stopped "after SIGTERM: state stopped"

# --- hostile names ---------------------------------------------------------------
HJOB=$'j\xc3\xb6b "q" \\ tab\there'
run_bf --table 'we"ird tablé' --column 'pub id' --job "$HJOB" --until-done
assert_eq "$RC" 0 "hostile names: filled"
status --json
assert_eq "$RC" 0 "hostile names: --json exit 0"
assert_eq "$(jq_py "len(j)")" 3 "hostile names: valid JSON with three jobs"
assert_eq "$(jq_py "by_job($(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$HJOB"))['table']")" \
	'we"ird tablé' "hostile names: table name round-trips through JSON"
assert_eq "$(jq_py "by_job($(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$HJOB"))['target']")" \
	'"public"."we""ird tablé"."pub id"' "hostile names: target quoted as SQL"
grep -q $'\t' "$S_OUT" && fail "json: a raw tab in the output"
pass "json: control characters escaped"
status
R=$(grep -F 'tab\x09here' "$S_OUT" || true)
[[ -n $R ]] || fail "text: the tab in the job name is not shown as \\x09: $(cat "$S_OUT")"
assert_match "$R" '"public"\."we""ird tablé"\."pub id" +done +300 ' "text: hostile names row"
assert_eq "$(grep -c $'\t' "$S_OUT" || true)" 0 "text: no raw tab"

# --- figures from hand-made tables of the documented schema ----------------------
# jobs + leases as progress.h documents them; every number below is known.
psqlf <<'SQL'
CREATE SCHEMA fake;
CREATE TABLE fake.jobs (
  job text PRIMARY KEY, schema_name text, table_name text, column_name text,
  key_columns text[], state text, pass bigint, frontier text[],
  frontier_done boolean, next_lease integer, rows_done bigint, batches bigint,
  passes bigint, rows_estimate double precision, started_at timestamptz,
  updated_at timestamptz, finished_at timestamptz, idle_since timestamptz);
CREATE TABLE fake.leases (
  job text, lease integer, lo text[], hi text[], cursor text[], state text,
  rows_done bigint, batches bigint, rate double precision, owner text,
  updated_at timestamptz, PRIMARY KEY (job, lease));
INSERT INTO fake.jobs VALUES
  ('a-running', 's', 't', 'c', '{id}', 'running', 2, NULL, false, 4, 1000, 10, 1,
   10000, now() - interval '1 hour', now() - interval '10 minutes', NULL, NULL),
  ('b-idle', 's', 't2', 'c', '{id}', 'idle', 3, NULL, false, 1, 5000, 50, 2,
   0, now() - interval '2 days', now() - interval '3 hours', NULL, now()),
  ('c-stopped', 's', 't3', 'c', '{id}', 'stopped', 1, NULL, false, 2, 0, 0, 0,
   800, now(), now() - interval '3 days', NULL, NULL);
INSERT INTO fake.leases VALUES
  ('a-running', 1, NULL, '{100}', '{50}', 'open', 500, 5, 100, 'h:1/1', now()),
  ('a-running', 2, '{100}', '{200}', '{150}', 'open', 500, 5, 150, 'h:1/2', now() - interval '5 seconds'),
  ('a-running', 3, '{200}', NULL, NULL, 'done', 0, 0, 999, 'h:1/3', now() - interval '1 minute'),
  ('c-stopped', 1, NULL, NULL, '{7}', 'open', 300, 3, 80, 'h:2/1', now() - interval '3 days');
SQL
status --progress-schema fake --json
assert_eq "$RC" 0 "fake schema: exit 0"
assert_eq "$(jq_py "[o['job'] for o in j]")" '["a-running", "b-idle", "c-stopped"]' "fake: three jobs"
assert_eq "$(jq_py "by_job('a-running')['rows_done']")" 2000 "fake: rows_done = job's 1000 + open leases' 1000"
assert_eq "$(jq_py "by_job('a-running')['rows_left']")" 9000 "fake: rows_left = estimate 10000 - this pass's 1000"
assert_eq "$(jq_py "by_job('a-running')['rate']")" 250.0 "fake: rate = leases updated in the last 30 s (100 + 150)"
assert_eq "$(jq_py "by_job('a-running')['eta_seconds']")" 36 "fake: ETA 9000 / 250 = 36 s"
assert_eq "$(jq_py "by_job('a-running')['updated_seconds_ago'] < 60")" true "fake: last update is the newest lease's"
assert_eq "$(jq_py "by_job('b-idle')['rows_done']")" 5000 "fake idle: rows_done"
assert_eq "$(jq_py "by_job('b-idle')['rows_left']")" 0 "fake idle: rows_left 0"
assert_eq "$(jq_py "by_job('b-idle')['rate'] is None")" true "fake idle: no rate"
assert_eq "$(jq_py "by_job('c-stopped')['rows_done']")" 300 "fake stopped: rows_done counts its open lease"
assert_eq "$(jq_py "by_job('c-stopped')['rows_left']")" 500 "fake stopped: rows_left 800 - 300"
status --progress-schema fake
R=$(row_of a-running)
assert_match "$R" '^a-running +"s"\."t"\."c" +running +2000 +9000 +250 +0:00:36 +[0-9]+s ago$' "fake text: running row"
assert_match "$(row_of b-idle)" '^b-idle +"s"\."t2"\."c" +idle +5000 +0 +- +- +3h ago$' "fake text: idle row (3h ago)"
assert_match "$(row_of c-stopped)" '^c-stopped +"s"\."t3"\."c" +stopped +300 +500 +- +- +3d ago$' "fake text: stopped row (3d ago)"

# An older progress table (no leases, no estimate): still listed, figures unknown.
psqlf <<'SQL'
CREATE SCHEMA old;
CREATE TABLE old.jobs (job text PRIMARY KEY, schema_name text, table_name text,
  column_name text, key_columns text[], cursor text, rows_done bigint,
  batches bigint, passes bigint, state text, started_at timestamptz,
  updated_at timestamptz, finished_at timestamptz);
INSERT INTO old.jobs VALUES ('o', 'public', 't', 'c', '{id}', '42', 42, 1, 0,
  'running', now(), now(), NULL);
SQL
status --progress-schema old --json
assert_eq "$RC" 0 "older table: exit 0"
assert_eq "$(jq_py "[by_job('o')[k] for k in ('rows_done', 'rows_left', 'rate', 'eta_seconds')]")" \
	'[42, null, null, null]' "older table: rows done, the rest unknown"
status --progress-schema old
assert_match "$(row_of o)" '^o +"public"\."t"\."c" +running +42 +- +- +- +[0-9]+s ago$' "older table: text row"

# A table that is not ours: one error line, exit 1.
psqlc "CREATE SCHEMA other; CREATE TABLE other.jobs (id int)"
status --progress-schema other
assert_eq "$RC" 1 "a foreign jobs table: exit 1"
assert_file_match "$S_ERR" "${NB_ERR_RE}.*not a progress table" "a foreign jobs table: says so"

# Cannot connect: exit 1.
status --dsn "host=$WORK/nowhere dbname=x"
assert_eq "$RC" 1 "unreachable server: exit 1"
assert_file_match "$S_ERR" "${NB_ERR_RE}cannot connect" "unreachable server: one error line"
status --dsn "host=x bogus_option=1"
assert_eq "$RC" 78 "bad dsn: exit 78"

finish
