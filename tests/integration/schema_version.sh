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
VERSION_RE='^nanoid-backfill progress tables, schema version 2$'

# 1. A fresh install records this version.
run_bf --table t --column c --until-done
assert_eq "$RC" 0 "fresh install: exit 0"
assert_match "$(version_of_jobs)" "$VERSION_RE" "fresh install: version 2 recorded"

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

# 3. The same version's tables without a comment (a DBA replaced it): a
# privileged run writes it, though nothing else needs setup.
psqlc "COMMENT ON TABLE $NB_PROGRESS_SCHEMA.jobs IS 'our jobs'"
psqlc "UPDATE t SET c = NULL WHERE id <= 10"
run_bf --table t --column c --until-done
assert_eq "$RC" 0 "replaced comment: exit 0"
assert_match "$(version_of_jobs)" "$VERSION_RE" "replaced comment: version written again"

# 4. A newer version than this binary knows: refused before anything is
# written, for the run and for its setup alike.
psqlc "COMMENT ON TABLE $NB_PROGRESS_SCHEMA.jobs IS 'nanoid-backfill progress tables, schema version 3'"
psqlc "UPDATE t SET c = NULL WHERE id <= 10"
before=$(db_digest)
run_bf --table t --column c --until-done
assert_eq "$RC" 78 "newer version: exit 78"
assert_eq "$(wc -l <"$ERR")" 1 "newer version: one line"
assert_file_match "$ERR" "${NB_ERR_RE}.*schema version 3.* knows versions up to 2" \
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
