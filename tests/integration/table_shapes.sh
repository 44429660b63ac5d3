#!/usr/bin/env bash
# table_shapes: the shapes of table the physical walk exists for, on a real
# server. Every row written exactly once is proven by an audit trigger that
# logs every change of the column (cloned onto each partition, created on
# each inheritance child):
#   1. partitioned tables (LIST + DEFAULT, RANGE, HASH, RANGE with a
#      HASH-subpartitioned partition and a DEFAULT), rows in every partition,
#      some with a value already: 2 workers killed (-9) mid-run, resumed;
#      pre-existing values untouched, every partition filled;
#   2. a partition attached (and rows inserted into an old one) while a
#      service runs: a later pass fills them;
#   3. an inheritance tree of three levels (the child with an extra column,
#      the grandchild adopted with ALTER TABLE ... INHERIT, its columns in
#      another order), with and without ANALYZE (SQLSTATE 21000 before);
#      --order key refused (78);
#   4. a table with no key at all and duplicate rows: --order key refused
#      (78, nothing written); auto walks it physically, killed and resumed;
#   5. --order auto: an ANALYZEd random-uuid key -> physical, an ANALYZEd
#      sequential bigint key -> by key in a service, physical under
#      --until-done; a service and an --until-done run of one job at once,
#      each its own walk: the pass in progress is walked one way only;
#   6. a never-analyzed table: auto says physical order; --order key uses the
#      key's index: at most 2 sequential scans in the whole run, not one per
#      batch;
#   7. --order key on a partitioned table: 78, one stderr line, nothing written;
#   8. names that need quoting: schemas, the tree, its partitions, the column;
#   9. a partition dropped (retention) while its rows are being filled;
#  10. a partition attached, keys below the table's highest, to a service that
#      has been idle a few passes.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

NB_JOBS_TABLE=$NB_PROGRESS_SCHEMA.jobs # the job rows themselves (walk column)
PHYS_RE='in physical order \('
pg_start

# One audit table for the whole test: tag (the case), the relation the row
# is in (the partition or child), the row's id (as text; any key type).
# Trigger arguments: tag, the filled column, the id column.
psqlf <<'SQL'
CREATE TABLE audit (tag text NOT NULL, rel regclass NOT NULL, id text);
CREATE FUNCTION audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF to_jsonb(OLD) -> TG_ARGV[1] IS DISTINCT FROM to_jsonb(NEW) -> TG_ARGV[1] THEN
    INSERT INTO audit VALUES (TG_ARGV[0], TG_RELID::regclass, to_jsonb(NEW) ->> TG_ARGV[2]);
  END IF;
  RETURN NULL;
END $$;
SQL

# audit_on TABLE TAG [COLUMN [IDCOL]]: the audit trigger on TABLE (a
# partitioned table's is cloned onto its partitions, attached ones too).
audit_on() {
	psqlc "CREATE TRIGGER audit_change AFTER UPDATE ON $1 FOR EACH ROW
	       EXECUTE FUNCTION audit_change('$2', '${3:-c}', '${4:-id}')"
}

nulls() {
	psqlc "SELECT count(*) FROM $1 WHERE ${2:-c} IS NULL"
}

# The digest and the row versions of the rows that have a value: a value
# kept must be the same value in the same row version (not even rewritten).
kept_digest() {
	psqlc "SELECT md5(coalesce(string_agg(tableoid::regclass || ':' || id || '=' || c, ','
	                           ORDER BY tableoid::regclass::text, id), ''))
	         FROM $1 WHERE c LIKE 'keep-%'"
}
kept_versions() {
	psqlc "SELECT md5(coalesce(string_agg(tableoid::regclass || ':' || ctid || ':' || xmin, ','
	                           ORDER BY tableoid::regclass::text, id), ''))
	         FROM $1 WHERE c LIKE 'keep-%'"
}

# Per partition or child: "name total/filled", in name order.
per_leaf() {
	psqlc "SELECT string_agg(format('%s %s/%s', r, n, f), ', ' ORDER BY r)
	         FROM (SELECT tableoid::regclass::text AS r, count(*) AS n, count(${2:-c}) AS f
	                 FROM $1 GROUP BY tableoid) x"
}
# ... and what it must be once all are filled: every row of each.
per_leaf_full() {
	psqlc "SELECT string_agg(format('%s %s/%s', r, n, n), ', ' ORDER BY r)
	         FROM (SELECT tableoid::regclass::text AS r, count(*) AS n
	                 FROM $1 GROUP BY tableoid) x"
}

# exactly_once WHAT TAG TABLE WRITES [COLUMN] [UNIQUE_IDS]: complete, and the
# audit log has exactly WRITES changes for TAG (every row that was NULL,
# once); with UNIQUE_IDS=1 (default), no (relation, id) twice either.
exactly_once() {
	local what=$1 tag=$2 t=$3 writes=$4 col=${5:-c} uniq=${6:-1}
	assert_sql "SELECT count(*) FROM $t WHERE $col IS NULL" 0 "$what: no NULL left"
	assert_sql "SELECT count(*) FROM audit WHERE tag = '$tag'" "$writes" \
		"$what: $writes writes, one per row that was NULL"
	if ((uniq)); then
		assert_sql "SELECT count(*) FROM (SELECT rel, id FROM audit WHERE tag = '$tag'
		             GROUP BY rel, id HAVING count(*) > 1) d" 0 "$what: no row written twice"
	fi
	assert_sql "SELECT count(*) - count(DISTINCT $col) FROM $t" 0 "$what: no duplicate value"
	assert_sql "SELECT count(*) FROM $t WHERE $col !~ '$NB_DEFAULT_ID_RE' AND $col NOT LIKE 'keep-%'" 0 \
		"$what: every filled value a default nanoid"
}

# The leaves (relkind 'r') of the tree rooted at TABLE, partitions or
# inheritance children, the table itself included if it is one.
leaves_sql() {
	echo "WITH RECURSIVE tr(oid) AS (SELECT '$1'::regclass::oid
	        UNION SELECT i.inhrelid FROM pg_inherits i JOIN tr ON i.inhparent = tr.oid)
	      SELECT tr.oid FROM tr JOIN pg_class c USING (oid) WHERE c.relkind = 'r'"
}

# nothing_written WHAT SCHEMA TABLE VERSIONS: a refused run created no
# progress schema and changed no row.
nothing_written() {
	assert_sql "SELECT to_regnamespace('$2') IS NULL" t "$1: no progress schema '$2' created"
	assert_eq "$(table_versions "$3")" "$4" "$1: no row of $3 changed"
}

# Cases 9 and 10 each hinge on one assertion; they come last and record a
# failure without ending the script, so that both are reported.
# soft_eq GOT WANT MSG: like assert_eq, but returns 1 instead of exiting.
soft_eq() {
	if [[ $1 == "$2" ]]; then
		pass "$3"
		return 0
	fi
	FAILED=$((FAILED + 1))
	echo "not ok - $3: got '$1', want '$2'"
	return 1
}
# soft_wait TIMEOUT MSG CMD...: polls CMD like wait_for; on timeout records
# "not ok - MSG" and returns 1.
soft_wait() {
	local t=$1 msg=$2 end
	shift 2
	end=$((SECONDS + t))
	until "$@"; do
		if ((SECONDS >= end)); then
			FAILED=$((FAILED + 1))
			echo "not ok - $msg (not within $t s)"
			return 1
		fi
		sleep 0.1
	done
	pass "$msg"
}

# 1. Partitioned tables: 2 workers killed (-9) mid-run, then resumed.
psqlf <<'SQL'
-- LIST: three partitions and a DEFAULT; no primary key at all.
CREATE TABLE p_list (id bigint NOT NULL, region text NOT NULL, c text) PARTITION BY LIST (region);
CREATE TABLE p_list_eu PARTITION OF p_list FOR VALUES IN ('eu');
CREATE TABLE p_list_us PARTITION OF p_list FOR VALUES IN ('us', 'ca');
CREATE TABLE p_list_asia PARTITION OF p_list FOR VALUES IN ('asia');
CREATE TABLE p_list_def PARTITION OF p_list DEFAULT;
INSERT INTO p_list SELECT i, (ARRAY['eu', 'us', 'ca', 'asia', 'mars'])[i % 5 + 1],
       CASE WHEN i % 10 = 3 THEN 'keep-' || i END
  FROM generate_series(1, 40000) i;

-- RANGE: uneven partitions, one of them empty; primary key id.
CREATE TABLE p_range (id bigint PRIMARY KEY, c text) PARTITION BY RANGE (id);
CREATE TABLE p_range_1 PARTITION OF p_range FOR VALUES FROM (MINVALUE) TO (5001);
CREATE TABLE p_range_2 PARTITION OF p_range FOR VALUES FROM (5001) TO (25001);
CREATE TABLE p_range_3 PARTITION OF p_range FOR VALUES FROM (25001) TO (1000000);
CREATE TABLE p_range_empty PARTITION OF p_range FOR VALUES FROM (1000000) TO (2000000);
INSERT INTO p_range SELECT i, CASE WHEN i % 9 = 0 THEN 'keep-' || i END
  FROM generate_series(1, 40000) i;

-- HASH, modulus 3.
CREATE TABLE p_hash (id bigint PRIMARY KEY, c text) PARTITION BY HASH (id);
CREATE TABLE p_hash_0 PARTITION OF p_hash FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE p_hash_1 PARTITION OF p_hash FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE p_hash_2 PARTITION OF p_hash FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO p_hash SELECT i, CASE WHEN i % 8 = 0 THEN 'keep-' || i END
  FROM generate_series(1, 45000) i;

-- Sub-partitioned: RANGE, one partition HASH-subpartitioned, a DEFAULT.
CREATE TABLE p_sub (id bigint NOT NULL, c text) PARTITION BY RANGE (id);
CREATE TABLE p_sub_a PARTITION OF p_sub FOR VALUES FROM (1) TO (15001);
CREATE TABLE p_sub_b PARTITION OF p_sub FOR VALUES FROM (15001) TO (35001) PARTITION BY HASH (id);
CREATE TABLE p_sub_b0 PARTITION OF p_sub_b FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE p_sub_b1 PARTITION OF p_sub_b FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE p_sub_def PARTITION OF p_sub DEFAULT;
INSERT INTO p_sub SELECT i, CASE WHEN i % 7 = 0 THEN 'keep-' || i END
  FROM generate_series(1, 50000) i;
SQL
for t in p_list p_range p_hash p_sub; do audit_on "$t" "$t" >/dev/null; done

# kill_resume_tree TABLE LEAVES_WITH_ROWS: the case above on TABLE.
kill_resume_tree() {
	local t=$1 nleaves=$2 total before kept digest versions full filled
	total=$(psqlc "SELECT count(*) FROM $t")
	before=$(nulls "$t")
	kept=$((total - before))
	digest=$(kept_digest "$t")
	versions=$(kept_versions "$t")
	full=$(per_leaf_full "$t")
	assert_sql "SELECT count(*) FROM (SELECT DISTINCT tableoid FROM $t WHERE c IS NULL) x" "$nleaves" \
		"$t: NULL rows in each of its $nleaves partitions with rows before the run"
	((kept > 0)) || fail "$t: the setup should leave some rows with a value"

	local args=(--table "$t" --column c --until-done --workers 2 --batch-size 200
		--lease-size 2000 --progress-interval 1)
	bg_bf "${args[@]}" --max-rate 8000
	wait_for 30 "$t: 3000 rows filled before the kill" \
		sql_true "SELECT rows_done >= 3000 FROM $NB_PROGRESS_VIEW WHERE table_name = '$t'"
	# The suite's runs are not paced (lib.sh).
	assert_match "$(tr '\0' ' ' <"/proc/$BF_PID/cmdline")" '--max-latency-increase 0 ' \
		"$t: the daemon runs with --max-latency-increase 0"
	kill_bf KILL "$BF_PID"
	assert_match "$(head -n 1 "$ERR")" \
		"$PHYS_RE\"public\".\"$t\" has partitions or inheritance children: each of its $(psqlc "SELECT count(*) FROM ($(leaves_sql "$t")) l") tables in turn\)" \
		"$t: the first line says physical order, one table at a time"
	wait_for 20 "$t: the killed daemon's connections to close" no_other_backends
	filled=$(psqlc "SELECT count(*) FROM $t WHERE c IS NOT NULL AND c NOT LIKE 'keep-%'")
	((filled > 0 && filled < before)) || fail "$t: want some but not all of $before rows filled at the kill, got $filled"
	pass "$t: killed with $filled of $before rows filled"
	assert_sql "SELECT rows_done FROM $NB_PROGRESS_VIEW WHERE table_name = '$t'" "$filled" \
		"$t: rows_done at the kill equals the committed rows"
	assert_sql "SELECT walk FROM $NB_JOBS_TABLE WHERE table_name = '$t'" physical "$t: the job walks physically"
	assert_sql "SELECT count(*) > 0 FROM $NB_LEASES l JOIN $NB_JOBS_TABLE j USING (job)
	             WHERE j.table_name = '$t'" t "$t: leases left behind by the kill"
	assert_sql "SELECT count(*) FROM $NB_LEASES l JOIN $NB_JOBS_TABLE j USING (job)
	             WHERE j.table_name = '$t' AND (l.rel IS NULL OR l.rel NOT IN ($(leaves_sql "$t")))" 0 \
		"$t: every lease is in one of its partitions (leases.rel)"

	run_bf "${args[@]}"
	assert_eq "$RC" 0 "$t: the resumed run exits 0"
	assert_file_match "$ERR" "$NB_RESUME_RE" "$t: the second run says it resumes"
	exactly_once "$t" "$t" "$t" "$before"
	assert_eq "$(per_leaf "$t")" "$full" "$t: every partition filled, each row of it"
	assert_eq "$(kept_digest "$t")" "$digest" "$t: the $kept pre-existing values unchanged"
	assert_eq "$(kept_versions "$t")" "$versions" "$t: rows with a value not even rewritten"
	assert_sql "SELECT rows_done FROM $NB_PROGRESS_VIEW WHERE table_name = '$t'" "$before" \
		"$t: rows_done = $before"
	assert_sql "SELECT state FROM $NB_PROGRESS_VIEW WHERE table_name = '$t'" 'done' "$t: state done"
	assert_sql "SELECT count(*) FROM $NB_LEASES l JOIN $NB_JOBS_TABLE j USING (job)
	             WHERE j.table_name = '$t'" 0 "$t: no lease left"
}

# 7 first, while nothing has created the progress schema: --order key on a
# partitioned table is refused before anything is written.
v=$(table_versions p_range)
run_bf --table p_range --column c --order key --until-done
assert_eq "$RC" 78 "partitioned, --order key: exit 78"
assert_eq "$(wc -l <"$ERR")" 1 "partitioned, --order key: one stderr line"
assert_file_match "$ERR" "$NB_ERR_RE.*partition" "partitioned, --order key: the line names the partitions"
nothing_written "partitioned, --order key" "$NB_PROGRESS_SCHEMA" p_range "$v"

# 4 (first part), also before the progress schema exists: a table with no
# key at all (no primary key, no unique index, rows in identical triples).
psqlf <<'SQL'
CREATE TABLE nokey (v int, rid bigint, c text);
INSERT INTO nokey SELECT (i / 3) % 50, i / 3, NULL FROM generate_series(1, 40000) i;
CREATE INDEX ON nokey (v);
SQL
audit_on nokey nokey c rid >/dev/null
dups=$(psqlc "SELECT count(*) FROM (SELECT v, rid FROM nokey GROUP BY 1, 2 HAVING count(*) = 3) d")
assert_eq "$dups" 13332 "nokey: 13332 groups of three identical rows"
v=$(table_versions nokey)
run_bf --table nokey --column c --order key --until-done
assert_eq "$RC" 78 "nokey, --order key: exit 78"
assert_eq "$(wc -l <"$ERR")" 1 "nokey, --order key: one stderr line"
assert_file_match "$ERR" "$NB_ERR_RE.*primary key" "nokey, --order key: the line says there is no primary key"
nothing_written "nokey, --order key" "$NB_PROGRESS_SCHEMA" nokey "$v"

kill_resume_tree p_list 4
kill_resume_tree p_range 3
kill_resume_tree p_hash 3
kill_resume_tree p_sub 4

# 2. A partition attached while a service runs, and rows inserted into an
# old partition: a later pass fills both.
psqlf <<'SQL'
CREATE TABLE svc (id bigint PRIMARY KEY, c text) PARTITION BY RANGE (id);
CREATE TABLE svc_1 PARTITION OF svc FOR VALUES FROM (1) TO (100001);
CREATE TABLE svc_2 PARTITION OF svc FOR VALUES FROM (100001) TO (200001);
INSERT INTO svc SELECT i, NULL FROM generate_series(1, 10000) i;
INSERT INTO svc SELECT i, NULL FROM generate_series(100001, 110000) i;
SQL
audit_on svc svc >/dev/null
bg_bf --table svc --column c --idle-interval 1 --progress-interval 1 --batch-size 500 --workers 2
SVC_PID=$BF_PID
wait_for 40 "service: the first pass to fill the 20000 rows" \
	sql_true "SELECT count(*) = 0 FROM svc WHERE c IS NULL"
pass "service: the first pass filled the table"
# The new partition: made on its own, columns in another order and a dropped
# one, rows already in it, then attached.
psqlf <<'SQL'
CREATE TABLE svc_3 (c text, junk int, id bigint NOT NULL);
ALTER TABLE svc_3 DROP COLUMN junk;
INSERT INTO svc_3 (id, c) SELECT i, NULL FROM generate_series(200001, 206000) i;
ALTER TABLE svc ATTACH PARTITION svc_3 FOR VALUES FROM (200001) TO (300001);
INSERT INTO svc SELECT i, NULL FROM generate_series(110001, 110700) i;
SQL
wait_for 30 "service: the attached partition's and the inserted rows to be filled" \
	sql_true "SELECT count(*) = 0 FROM svc WHERE c IS NULL"
pass "service: the attached partition and the new rows were filled by a later pass"
pid_alive "$SVC_PID" || fail "service: the daemon exited on its own"
kill_bf TERM "$SVC_PID"
assert_eq "$RC" 0 "service: SIGTERM -> exit 0"
exactly_once "service" svc svc 26700
assert_eq "$(per_leaf svc)" "svc_1 10000/10000, svc_2 10700/10700, svc_3 6000/6000" \
	"service: each partition filled, the attached one too"
assert_sql "SELECT rows_done FROM $NB_PROGRESS_VIEW WHERE table_name = 'svc'" 26700 "service: rows_done = 26700"
assert_sql "SELECT passes >= 2 FROM $NB_PROGRESS_VIEW WHERE table_name = 'svc'" t "service: two passes or more"
assert_sql "SELECT state FROM $NB_PROGRESS_VIEW WHERE table_name = 'svc'" stopped "service: state stopped"

# 3. Inheritance: parent 5000 rows, child (extra column) 5000, grandchild
# (adopted, columns in another order) 2000; the second variant ANALYZEd.
for variant in inh inha; do
	psqlf <<SQL
CREATE TABLE $variant (id bigint PRIMARY KEY, c text);
CREATE TABLE ${variant}_child (extra text DEFAULT 'x') INHERITS ($variant);
CREATE TABLE ${variant}_gc (note int, c text, extra text, id bigint NOT NULL);
ALTER TABLE ${variant}_gc INHERIT ${variant}_child;
INSERT INTO $variant SELECT i, NULL FROM generate_series(1, 5000) i;
INSERT INTO ${variant}_child (id, c, extra) SELECT i, NULL, 'e' || i FROM generate_series(5001, 10000) i;
INSERT INTO ${variant}_gc (id, c, note) SELECT i, NULL, i FROM generate_series(10001, 12000) i;
SQL
	for r in "$variant" "${variant}_child" "${variant}_gc"; do audit_on "$r" "$variant" >/dev/null; done
	what="inheritance ($variant)"
	if [[ $variant == inha ]]; then
		psqlc "ANALYZE $variant; ANALYZE ${variant}_child; ANALYZE ${variant}_gc"
		assert_sql "SELECT count(*) > 0 FROM pg_stats WHERE tablename = '$variant' AND inherited" t \
			"$what: the parent has inherited statistics too"
		what="inheritance, analyzed"
	fi
	if [[ $variant == inh ]]; then
		v=$(table_versions inh)
		run_bf --table inh --column c --order key --until-done
		assert_eq "$RC" 78 "$what, --order key: exit 78"
		assert_eq "$(wc -l <"$ERR")" 1 "$what, --order key: one stderr line"
		assert_file_match "$ERR" "$NB_ERR_RE.*inheritance children" "$what, --order key: the line names the children"
		assert_eq "$(table_versions inh)" "$v" "$what, --order key: no row changed"
		assert_sql "SELECT count(*) FROM $NB_JOBS_TABLE WHERE table_name = 'inh'" 0 "$what, --order key: no job row"
	fi
	run_bf --table "$variant" --column c --until-done --workers 2 --batch-size 300 --lease-size 1000
	assert_eq "$RC" 0 "$what: exit 0"
	assert_match "$(head -n 1 "$ERR")" "${PHYS_RE}.*each of its 3 tables in turn\)" \
		"$what: the first line says physical order over 3 tables"
	exactly_once "$what" "$variant" "$variant" 12000
	assert_eq "$(per_leaf "$variant")" "$variant 5000/5000, ${variant}_child 5000/5000, ${variant}_gc 2000/2000" \
		"$what: parent, child and grandchild all filled"
	assert_sql "SELECT count(DISTINCT c) FROM $variant" 12000 "$what: 12000 distinct ids across the tree"
	assert_sql "SELECT count(*) FROM ONLY ${variant}_child WHERE extra <> 'e' || id" 0 \
		"$what: the child's extra column untouched"
done

# 4. No key at all (table made and --order key refused at the start).
args=(--table nokey --column c --until-done --workers 2 --batch-size 200 --lease-size 2000 --progress-interval 1)
bg_bf "${args[@]}" --max-rate 8000
wait_for 30 "nokey: 3000 rows filled before the kill" \
	sql_true "SELECT rows_done >= 3000 FROM $NB_PROGRESS_VIEW WHERE table_name = 'nokey'"
kill_bf KILL "$BF_PID"
assert_match "$(head -n 1 "$ERR")" "${PHYS_RE}it has no primary key and no --key was given\)" \
	"nokey: auto walks physically, because there is no key"
wait_for 20 "nokey: the killed daemon's connections to close" no_other_backends
filled=$(psqlc "SELECT count(c) FROM nokey")
((filled > 0 && filled < 40000)) || fail "nokey: want some but not all rows filled at the kill, got $filled"
pass "nokey: killed with $filled of 40000 rows filled"
assert_sql "SELECT rows_done FROM $NB_PROGRESS_VIEW WHERE table_name = 'nokey'" "$filled" \
	"nokey: rows_done at the kill equals the committed rows"
run_bf "${args[@]}"
assert_eq "$RC" 0 "nokey: the resumed run exits 0"
assert_file_match "$ERR" "$NB_RESUME_RE" "nokey: the second run says it resumes"
exactly_once "nokey" nokey nokey 40000 c 0
assert_sql "SELECT walk FROM $NB_JOBS_TABLE WHERE table_name = 'nokey'" physical "nokey: the job walked physically"

# 5. --order auto from the statistics of the key.
psqlf <<'SQL'
CREATE TABLE k_uuid (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), c text);
INSERT INTO k_uuid (c) SELECT NULL FROM generate_series(1, 50000);
ANALYZE k_uuid;
CREATE TABLE k_seq (id bigint PRIMARY KEY, c text);
INSERT INTO k_seq SELECT i, NULL FROM generate_series(1, 50000) i;
ANALYZE k_seq;
SQL
audit_on k_uuid k_uuid >/dev/null
audit_on k_seq k_seq >/dev/null
run_bf --table k_uuid --column c --until-done --order auto
assert_eq "$RC" 0 "random uuid: exit 0"
assert_match "$(head -n 1 "$ERR")" "${PHYS_RE}the key does not follow the heap \(correlation -?0\.[0-8][0-9]\)\)" \
	"random uuid: auto says physical order, the key does not follow the heap"
assert_sql "SELECT walk FROM $NB_JOBS_TABLE WHERE table_name = 'k_uuid'" physical "random uuid: the job walks physically"
exactly_once "random uuid" k_uuid k_uuid 50000
# A service walks a key that follows the heap by key (its later passes
# start from the high-water mark); stopped once its first pass is done.
bg_bf --table k_seq --column c --order auto --job k_seq_service --idle-interval 3600
wait_for 60 "the service's first pass to end" \
	sql_true "SELECT count(*) = 1 FROM $NB_JOBS_TABLE WHERE job = 'k_seq_service' AND passes >= 1"
kill_bf TERM "$BF_PID"
assert_match "$(head -n 1 "$ERR")" 'by key \(id\) \(the key follows the heap \(correlation 1\.00\)\)' \
	"sequential bigint, service: auto says by key"
assert_sql "SELECT walk FROM $NB_JOBS_TABLE WHERE job = 'k_seq_service'" key \
	"sequential bigint, service: the job walks by key"
exactly_once "sequential bigint, service" k_seq k_seq 50000
# A text key in heap order: no high-water mark, so a service's passes would
# each walk the whole key; physical order does that with one scan a batch.
psqlf <<'SQL'
CREATE TABLE k_text (id text PRIMARY KEY, c text);
INSERT INTO k_text SELECT lpad(i::text, 8, '0'), NULL FROM generate_series(1, 20000) i;
ANALYZE k_text;
SQL
audit_on k_text k_text >/dev/null
bg_bf --table k_text --column c --order auto --job k_text_service --idle-interval 3600
wait_for 60 "the text-keyed service's first pass to end" \
	sql_true "SELECT count(*) = 1 FROM $NB_JOBS_TABLE WHERE job = 'k_text_service' AND passes >= 1"
kill_bf TERM "$BF_PID"
assert_match "$(head -n 1 "$ERR")" "${PHYS_RE}the key follows the heap \(correlation 1\.00\), but only a single integer key lets later passes start past its high-water mark\)" \
	"text key in heap order, service: auto says physical order, and why"
assert_sql "SELECT walk FROM $NB_JOBS_TABLE WHERE job = 'k_text_service'" physical \
	"text key in heap order, service: the job walks physically"
exactly_once "text key in heap order, service" k_text k_text 20000
# --until-done is one pass over the whole heap: physical order, for a key
# that follows the heap too (a table loaded and analyzed as k_seq was).
psqlf <<'SQL'
CREATE TABLE k_seq2 (id bigint PRIMARY KEY, c text);
INSERT INTO k_seq2 SELECT i, NULL FROM generate_series(1, 50000) i;
ANALYZE k_seq2;
SQL
audit_on k_seq2 k_seq2 >/dev/null
run_bf --table k_seq2 --column c --until-done --order auto
assert_eq "$RC" 0 "sequential bigint, --until-done: exit 0"
assert_match "$(head -n 1 "$ERR")" "${PHYS_RE}--until-done: one pass over the whole heap, which physical order reads without the key's index \(the key follows the heap, correlation 1\.00\)\)" \
	"sequential bigint, --until-done: auto says physical order, and why"
assert_sql "SELECT walk FROM $NB_JOBS_TABLE WHERE table_name = 'k_seq2'" physical \
	"sequential bigint, --until-done: the job walks physically"
exactly_once "sequential bigint, --until-done" k_seq2 k_seq2 50000

# 5b. A service (by key) and an --until-done run (physical order) of one job
# at once: the service, idle between passes, meets the pass the other run
# began in physical order, follows it (no lease of the other walk carved or
# taken), and walks by key again once the pass is over.
psqlf <<'SQL'
CREATE TABLE k_mix (id bigint PRIMARY KEY, c text);
INSERT INTO k_mix SELECT i, NULL FROM generate_series(1, 200000) i;
ANALYZE k_mix;
SQL
run_bf --table k_mix --column c --until-done --order key --job mix
assert_eq "$RC" 0 "mixed walks: the first fill, exit 0"
# Its probes look past the high-water mark only (the sweep is an hour
# away), so the rows set back to NULL below are the other run's to find.
bg_bf --table k_mix --column c --order auto --job mix --idle-interval 1 \
	--full-sweep-interval 1h
SVC_PID=$BF_PID SVC_ERR=$ERR
wait_for 30 "the service's high-water mark" \
	sql_true "SELECT hwm IS NOT NULL FROM $NB_JOBS_TABLE WHERE job = 'mix'"
psqlc "UPDATE k_mix SET c = NULL" >/dev/null
audit_on k_mix k_mix >/dev/null
run_bf --table k_mix --column c --until-done --order auto --job mix --workers 2 \
	--lease-size 5000 --max-rate 40000
assert_eq "$RC" 0 "mixed walks: --until-done exit 0"
assert_match "$(head -n 1 "$ERR")" "$PHYS_RE" "mixed walks: --until-done walks in physical order"
UD_ROWS=$(sed -n 's/.*done: no NULL left.* \([0-9]*\) rows filled by this run.*/\1/p' "$ERR")
assert_match "${UD_ROWS:-x}" '^[0-9]+$' "mixed walks: --until-done says how many rows it filled"
wait_for 30 "the service to walk by key again" \
	grep -q 'passes walk by key again' "$SVC_ERR"
assert_file_match "$SVC_ERR" 'the pass in progress walks in physical order, as another run began it; this run follows it to its end' \
	"mixed walks: the service follows the pass in physical order"
assert_eq "$(pid_alive "$SVC_PID" && echo alive)" alive "mixed walks: the service runs on"
assert_file_nomatch "$SVC_ERR" 'error|malformed|gone' "mixed walks: no error in the service's log"
(( UD_ROWS < 200000 )) && pass "mixed walks: the service filled part of the pass ($UD_ROWS of 200000 by --until-done)" \
	|| fail "mixed walks: the service filled none of the pass ($UD_ROWS of 200000 by --until-done)"
kill_bf TERM "$SVC_PID"
exactly_once "mixed walks" k_mix k_mix 200000

# 5c. A run started in the middle of another's pass, with an explicit
# --order of the other walk: it follows the pass (a warning says so)
# instead of refusing, which would keep a restarted service down.
psqlf <<'SQL'
CREATE TABLE k_exp (id bigint PRIMARY KEY, c text);
INSERT INTO k_exp SELECT i, NULL FROM generate_series(1, 60000) i;
ANALYZE k_exp;
SQL
audit_on k_exp k_exp >/dev/null
bg_bf --table k_exp --column c --until-done --order physical --job exp --max-rate 5000 \
	--lease-size 5000
wait_for 30 "the physical pass to fill its first rows" \
	sql_true "SELECT count(*) > 2000 FROM k_exp WHERE c IS NOT NULL"
kill_bf KILL "$BF_PID"
run_bf --table k_exp --column c --until-done --order key --job exp
assert_eq "$RC" 0 "explicit order mid-pass: exit 0"
assert_file_match "$ERR" 'resuming in physical order \(the job.s pass in progress\)' \
	"explicit order mid-pass: resumes the pass in physical order"
assert_file_match "$ERR" "^nanoid-backfill: warn: job \"exp\": the pass in progress walks in physical order; --order key applies from the next pass this run starts" \
	"explicit order mid-pass: a warning names both walks"
exactly_once "explicit order mid-pass" k_exp k_exp 60000

# 6. A never-analyzed table by key: the key's index, not a sequential scan
# per batch (200 batches).
psqlf <<'SQL'
CREATE TABLE never (id bigint PRIMARY KEY, c text) WITH (autovacuum_enabled = false);
INSERT INTO never SELECT i, NULL FROM generate_series(1, 200000) i;
SQL
assert_sql "SELECT last_analyze IS NULL AND last_autoanalyze IS NULL
                   AND analyze_count = 0 AND autoanalyze_count = 0
              FROM pg_stat_user_tables WHERE relname = 'never'" t "never analyzed: no analyze recorded"
assert_sql "SELECT count(*) FROM pg_stats WHERE tablename = 'never'" 0 "never analyzed: no statistics"
assert_sql "SELECT reltuples FROM pg_class WHERE oid = 'never'::regclass" -1 "never analyzed: reltuples -1"
# Under auto, no statistics means physical order (checked, not run).
run_bf --table never --column c --check-config
assert_eq "$RC" 0 "never analyzed, auto: --check-config exits 0"
assert_file_match "$OUT" 'in physical order \(no statistics yet' "never analyzed, auto: physical order"
psqlc "SELECT pg_stat_reset()" >/dev/null
run_bf --table never --column c --until-done --order key --batch-size 1000
assert_eq "$RC" 0 "never analyzed, --order key: exit 0"
sleep 0.6 # backends flush their statistics at most every 500 ms
# Before any check of ours, which would scan the table itself.
seq=$(psqlc "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'never'")
((seq <= 2)) || fail "never analyzed, --order key: want at most 2 sequential scans, got $seq (one per batch would be 200)"
pass "never analyzed, --order key: $seq sequential scan(s), not one per batch"
assert_sql "SELECT idx_scan >= 200 FROM pg_stat_user_tables WHERE relname = 'never'" t \
	"never analyzed, --order key: the batches used the key's index"
assert_match "$(head -n 1 "$ERR")" 'by key \(id\) \(--order key\)' "never analyzed, --order key: the first line says by key"
assert_sql "SELECT count(*) FROM pg_stats WHERE tablename = 'never'" 0 "never analyzed: still no statistics after the run"
assert_sql "SELECT count(*) FROM never WHERE c IS NULL" 0 "never analyzed: no NULL left"
assert_sql "SELECT count(DISTINCT c) FROM never" 200000 "never analyzed: 200000 distinct ids"

# 8. Names that need quoting: a schema with a space, the tree, partitions in
# two schemas, the column.
psqlf <<'SQL'
CREATE SCHEMA "my schema";
CREATE SCHEMA "other; schema";
CREATE TABLE "my schema"."Part ""X"" ; drop" (id bigint NOT NULL, "the ""c""" text)
  PARTITION BY RANGE (id);
CREATE TABLE "my schema"."p ""1""; DROP TABLE audit; --" PARTITION OF "my schema"."Part ""X"" ; drop"
  FOR VALUES FROM (1) TO (4001);
CREATE TABLE "other; schema"."p'2 \ $x" PARTITION OF "my schema"."Part ""X"" ; drop"
  FOR VALUES FROM (4001) TO (8001) PARTITION BY LIST (id);
CREATE TABLE "other; schema"."Ünï ""c"" ode" PARTITION OF "other; schema"."p'2 \ $x" DEFAULT;
INSERT INTO "my schema"."Part ""X"" ; drop" SELECT i, NULL FROM generate_series(1, 8000) i;
SQL
HT='"my schema"."Part ""X"" ; drop"'
HC='"the ""c"""'
audit_on "$HT" hostile 'the "c"' >/dev/null
run_bf --schema 'my schema' --table 'Part "X" ; drop' --column 'the "c"' --until-done --workers 2 \
	--batch-size 300 --lease-size 1000
assert_eq "$RC" 0 "hostile names: exit 0"
assert_match "$(head -n 1 "$ERR")" "${PHYS_RE}.*each of its 2 tables in turn\)" "hostile names: physical order over 2 tables"
assert_sql "SELECT to_regclass('public.audit') IS NOT NULL" t "hostile names: no name was run as SQL"
exactly_once "hostile names" hostile "$HT" 8000 "$HC"
assert_eq "$(per_leaf "$HT" "$HC")" \
	"\"my schema\".\"p \"\"1\"\"; DROP TABLE audit; --\" 4000/4000, \"other; schema\".\"Ünï \"\"c\"\" ode\" 4000/4000" \
	"hostile names: both partitions filled"

# 9. A partition dropped while it is being filled (retention dropping an old
# partition is routine): the run goes on with the others. (A restart already
# drops a lease whose table is gone: "its table is gone; dropping the lease".)
psqlf <<'SQL'
CREATE TABLE ret (id bigint NOT NULL, c text) PARTITION BY RANGE (id);
CREATE TABLE ret_old PARTITION OF ret FOR VALUES FROM (1) TO (100001);
CREATE TABLE ret_2 PARTITION OF ret FOR VALUES FROM (100001) TO (200001);
CREATE TABLE ret_3 PARTITION OF ret FOR VALUES FROM (200001) TO (300001);
INSERT INTO ret SELECT i, NULL FROM generate_series(1, 30000) i;
INSERT INTO ret SELECT i, NULL FROM generate_series(100001, 130000) i;
INSERT INTO ret SELECT i, NULL FROM generate_series(200001, 230000) i;
SQL
audit_on ret ret >/dev/null
bg_bf --table ret --column c --until-done --workers 2 --batch-size 200 --lease-size 2000 \
	--max-rate 8000 --progress-interval 1
wait_for 30 "retention: rows of ret_old filled, its leases open" \
	sql_true "SELECT (SELECT count(c) FROM ret_old) > 2000 AND (SELECT count(*) FROM $NB_LEASES
	           WHERE rel = 'ret_old'::regclass AND state = 'open') > 0"
old_oid=$(psqlc "SELECT 'ret_old'::regclass::oid")
psqlc "DROP TABLE ret_old"
pass "retention: ret_old dropped with a lease on it open"
wait_exit "$BF_PID" 60
if soft_eq "$RC" 0 "retention: the run goes on past the dropped partition and exits 0"; then
	# The writes: the 60000 rows of the partitions left, plus those ret_old
	# had when it was dropped.
	exactly_once "retention" ret ret \
		"$(psqlc "SELECT 60000 + count(*) FROM audit WHERE tag = 'ret' AND rel::oid = $old_oid")"
	assert_eq "$(per_leaf ret)" "ret_2 30000/30000, ret_3 30000/30000" "retention: the other partitions filled"
fi

# 10. A partition attached to a service's table after it has been idle a
# few passes, its keys below the highest key of the table (an archived
# range attached back): a later pass fills it, like any attached partition.
psqlf <<'SQL'
CREATE TABLE arch (id bigint PRIMARY KEY, c text) PARTITION BY RANGE (id);
CREATE TABLE arch_1 PARTITION OF arch FOR VALUES FROM (1) TO (10001);
CREATE TABLE arch_3 PARTITION OF arch FOR VALUES FROM (100001) TO (200001);
INSERT INTO arch SELECT i, NULL FROM generate_series(1, 10000) i;
INSERT INTO arch SELECT i, NULL FROM generate_series(100001, 110000) i;
SQL
audit_on arch arch >/dev/null
bg_bf --table arch --column c --idle-interval 1 --progress-interval 1
ARCH_PID=$BF_PID
wait_for 40 "archive: the first pass to fill the 20000 rows" \
	sql_true "SELECT count(*) = 0 FROM arch WHERE c IS NULL"
sleep 3 # idle passes go by
psqlf <<'SQL'
CREATE TABLE arch_2 (id bigint NOT NULL, c text);
INSERT INTO arch_2 SELECT i, NULL FROM generate_series(20001, 25000) i;
ALTER TABLE arch ATTACH PARTITION arch_2 FOR VALUES FROM (10001) TO (100001);
SQL
filled=0
soft_wait 15 "archive: the partition attached below the highest key filled by a later pass" \
	sql_true "SELECT count(*) = 0 FROM arch WHERE c IS NULL" && filled=1
kill_bf TERM "$ARCH_PID"
assert_eq "$RC" 0 "archive: SIGTERM -> exit 0"
if ((filled)); then
	exactly_once "archive" arch arch 25000
	assert_eq "$(per_leaf arch)" "arch_1 10000/10000, arch_2 5000/5000, arch_3 10000/10000" \
		"archive: each partition filled"
fi

finish
