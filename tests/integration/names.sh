#!/usr/bin/env bash
# names: identifiers that need quoting (spaces, double quotes, upper case),
# a table found through search_path, and look-alike tables that must not be
# touched.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

N=5000
pg_start

psqlf <<SQL
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Order ""Items""" ("Key Col" bigint PRIMARY KEY, "Public Id" text, "Other" text);
INSERT INTO "My Schema"."Order ""Items"""
  SELECT i, NULL, 'o' || i FROM generate_series(1, $N) i;

-- look-alikes that must stay untouched
CREATE TABLE public."Order ""Items""" ("Key Col" bigint PRIMARY KEY, "Public Id" text);
INSERT INTO public."Order ""Items""" SELECT i, NULL FROM generate_series(1, 100) i;
CREATE TABLE "My Schema"."order items" ("Key Col" bigint PRIMARY KEY, "Public Id" text);
INSERT INTO "My Schema"."order items" SELECT i, NULL FROM generate_series(1, 100) i;

CREATE SCHEMA app;
CREATE TABLE app.accounts (id bigint PRIMARY KEY, public_id text);
INSERT INTO app.accounts SELECT i, NULL FROM generate_series(1, $N) i;
CREATE TABLE public.accounts (id bigint PRIMARY KEY, public_id text);
INSERT INTO public.accounts SELECT i, NULL FROM generate_series(1, 100) i;

CREATE TABLE public."Users" (id bigint PRIMARY KEY, public_id text);
INSERT INTO public."Users" SELECT i, NULL FROM generate_series(1, $N) i;
CREATE TABLE public.users (id bigint PRIMARY KEY, public_id text);
INSERT INTO public.users SELECT i, NULL FROM generate_series(1, 100) i;
ANALYZE;
SQL

OTHERS=('public."Order ""Items"""' '"My Schema"."order items"' 'public.accounts' 'public.users')
declare -A digest
snapshot_others() {
	local t
	for t in "${OTHERS[@]}"; do digest[$t]=$(table_digest "$t"); done
}
check_others() {
	local t
	for t in "${OTHERS[@]}"; do
		assert_eq "$(table_digest "$t")" "${digest[$t]}" "$1: $t untouched"
	done
}

# 1. Quoted schema, table and column names; the key found from the catalog.
snapshot_others
digest_other=$(psqlc "SELECT md5(string_agg(\"Other\", ',' ORDER BY \"Key Col\")) FROM \"My Schema\".\"Order \"\"Items\"\"\"")
# By key: the key's quoted name goes through every statement of that walk.
run_bf --schema 'My Schema' --table 'Order "Items"' --column 'Public Id' --until-done --batch-size 700 \
	--order key
assert_eq "$RC" 0 "quoted names: exit 0"
T='"My Schema"."Order ""Items"""'
assert_sql "SELECT count(*) FROM $T WHERE \"Public Id\" IS NULL" 0 "quoted names: no NULL left"
assert_sql "SELECT count(*) FROM $T WHERE \"Public Id\" !~ '$NB_DEFAULT_ID_RE'" 0 \
	"quoted names: default nanoids"
assert_sql "SELECT md5(string_agg(\"Other\", ',' ORDER BY \"Key Col\")) FROM $T" "$digest_other" \
	"quoted names: other column unchanged"
check_others "quoted names"
assert_sql "SELECT count(*) FROM $NB_JOBS WHERE schema_name = 'My Schema'
              AND table_name = 'Order \"Items\"' AND column_name = 'Public Id'
              AND key_columns = ARRAY['Key Col'] AND state = 'done'" 1 \
	"quoted names: progress row names the target exactly"

# 2. A table in a non-public schema found through search_path (no --schema).
snapshot_others
PGOPTIONS='-c search_path=app' run_bf --table accounts --column public_id --until-done
assert_eq "$RC" 0 "search_path: exit 0"
assert_sql "SELECT count(*) FROM app.accounts WHERE public_id IS NULL" 0 "search_path: app.accounts filled"
check_others "search_path"
assert_sql "SELECT count(*) FROM $NB_JOBS WHERE schema_name = 'app' AND table_name = 'accounts'" 1 \
	"search_path: progress row records the resolved schema"

# 3. An upper-case table name given as is.
snapshot_others
run_bf --table Users --column public_id --until-done
assert_eq "$RC" 0 "upper case: exit 0"
assert_sql "SELECT count(*) FROM public.\"Users\" WHERE public_id IS NULL" 0 "upper case: \"Users\" filled"
check_others "upper case"

assert_sql "SELECT count(*) FROM $NB_JOBS" 3 "three jobs recorded, one per target"

finish
