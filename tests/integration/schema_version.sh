#!/usr/bin/env bash
# schema_version: the progress tables' schema version (progress.h). Tables
# without one (made before versions) are version 1, and the next setup
# writes it; tables of a newer version are refused with one line, exit 78,
# and nothing written; a role that could not run setup still works on
# tables without a version, as before.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

psqlf <<'SQL'
CREATE TABLE t (id bigint PRIMARY KEY, c text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, 2000) i;
SQL

version_of_jobs() {
	psqlc "SELECT coalesce(obj_description('$NB_PROGRESS_SCHEMA.jobs'::regclass, 'pg_class'), '(none)')"
}
VERSION_RE='^nanoid-backfill progress tables, schema version 3$'

# 1. A fresh install records this version.
run_bf --table t --column c --until-done
assert_eq "$RC" 0 "fresh install: exit 0"
assert_match "$(version_of_jobs)" "$VERSION_RE" "fresh install: version 3 recorded"

# 2. Tables of an earlier release: no version (version 1), a column setup
# adds, and none of version 2's (the migration adds them).
psqlf <<SQL
COMMENT ON TABLE $NB_PROGRESS_SCHEMA.jobs IS NULL;
ALTER TABLE $NB_PROGRESS_SCHEMA.leases DROP COLUMN rel, DROP COLUMN busy,
  DROP COLUMN retries, DROP COLUMN retry_at;
UPDATE t SET c = NULL WHERE id <= 100;
SQL
assert_eq "$(version_of_jobs)" "(none)" "earlier release: no version"
run_bf --table t --column c --until-done
assert_eq "$RC" 0 "earlier release: exit 0"
assert_match "$(version_of_jobs)" "$VERSION_RE" "earlier release: the missing version is written"
assert_sql "SELECT count(*) FROM t WHERE c IS NULL" 0 "earlier release: filled"
assert_sql "SELECT count(*) FROM information_schema.columns WHERE table_schema = '$NB_PROGRESS_SCHEMA' AND table_name = 'leases' AND column_name IN ('busy', 'retries', 'retry_at')" \
	3 "earlier release: the migration to version 2 added the leases' columns"

# 2b. Version 2's runs wrote the walk at their claim only: a pass in
# progress could record key order while its open lease is a block range.
# The migration to version 3 records the walk its leases have, so the run
# lists that lease (the lists keep to the recorded walk) and ends the pass.
psqlf <<SQL
UPDATE t SET c = NULL WHERE id <= 50;
COMMENT ON TABLE $NB_PROGRESS_SCHEMA.jobs IS 'nanoid-backfill progress tables, schema version 2';
UPDATE $NB_PROGRESS_SCHEMA.jobs SET state = 'stopped', walk = 'key',
  frontier_rel = 't'::regclass, frontier_blk = pg_relation_size('t') / 8192,
  frontier_end = pg_relation_size('t') / 8192, frontier_done = true,
  next_lease = next_lease + 1;
INSERT INTO $NB_PROGRESS_SCHEMA.leases (job, lease, lo, hi, owner, rel)
  SELECT job, next_lease - 1, ARRAY['(0,0)'],
         ARRAY[format('(%s,0)', pg_relation_size('t') / 8192)], 'a run of version 2',
         't'::regclass
  FROM $NB_PROGRESS_SCHEMA.jobs;
SQL
run_bf --table t --column c --until-done --order auto
assert_eq "$RC" 0 "version 2, a pass with a stale walk: exit 0"
assert_match "$(version_of_jobs)" "$VERSION_RE" "version 2: migrated to version 3"
assert_file_match "$ERR" 'resuming in physical order' \
	"version 2: the pass goes on in its leases' walk"
assert_sql "SELECT count(*) FROM t WHERE c IS NULL" 0 "version 2: the block range's rows filled"
assert_sql "SELECT count(*) FROM $NB_PROGRESS_SCHEMA.leases" 0 "version 2: the pass ended, no lease left"

# 3. The same version's tables without a comment (a DBA replaced it): a
# privileged run writes it, though nothing else needs setup.
psqlc "COMMENT ON TABLE $NB_PROGRESS_SCHEMA.jobs IS 'our jobs'"
psqlc "UPDATE t SET c = NULL WHERE id <= 10"
run_bf --table t --column c --until-done
assert_eq "$RC" 0 "replaced comment: exit 0"
assert_match "$(version_of_jobs)" "$VERSION_RE" "replaced comment: version written again"

# 4. A newer version than this binary knows: refused before anything is
# written, for the run and for its setup alike.
psqlc "COMMENT ON TABLE $NB_PROGRESS_SCHEMA.jobs IS 'nanoid-backfill progress tables, schema version 4'"
psqlc "UPDATE t SET c = NULL WHERE id <= 10"
before=$(db_digest)
run_bf --table t --column c --until-done
assert_eq "$RC" 78 "newer version: exit 78"
assert_eq "$(wc -l <"$ERR")" 1 "newer version: one line"
assert_file_match "$ERR" "${NB_ERR_RE}.*schema version 4.* knows versions up to 3" \
	"newer version: the line names both versions"
assert_eq "$(db_digest)" "$before" "newer version: the database is unchanged"

# 5. A role without CREATE on tables without a version (a DBA made them):
# it goes on as before, and the version stays unwritten.
psqlf <<SQL
COMMENT ON TABLE $NB_PROGRESS_SCHEMA.jobs IS NULL;
CREATE ROLE filler LOGIN;
GRANT SELECT, UPDATE ON t TO filler;
GRANT USAGE ON SCHEMA $NB_PROGRESS_SCHEMA TO filler;
GRANT SELECT, INSERT, UPDATE, DELETE ON $NB_PROGRESS_SCHEMA.jobs, $NB_PROGRESS_SCHEMA.leases TO filler;
SQL
run_bf --dsn "user=filler" --table t --column c --until-done
assert_eq "$RC" 0 "no CREATE, no version: exit 0"
assert_sql "SELECT count(*) FROM t WHERE c IS NULL" 0 "no CREATE, no version: filled"
assert_eq "$(version_of_jobs)" "(none)" "no CREATE, no version: nothing written to the schema"

finish
