#!/usr/bin/env bash
# demo.sh - the README's demo command: builds nanoid-backfill, starts a
# throwaway PostgreSQL, creates demo.orders with 1,000,000 rows and a NULL
# public_id column, fills it with --until-done (a progress line a second),
# shows a few rows, and removes the cluster again.
set -euo pipefail
# shellcheck source=scripts/as_root.sh
source "$(dirname "$0")/as_root.sh"
as_root DEMO_ROWS -- "$@"
cd "$(dirname "$0")/.."
ROOT=$PWD

ROWS=${DEMO_ROWS:-1000000}

bash scripts/deps.sh
if [[ -d build/meson-private ]]; then
	meson setup --reconfigure build >/dev/null
else
	meson setup build >/dev/null
fi
meson compile -C build >/dev/null
echo "demo: built $ROOT/build/nanoid-backfill"

# The cluster lives under /tmp: the server runs as postgres, which may not be
# able to read the directory the repository is in.
PGDIR=$(mktemp -d /tmp/nbdemo.XXXXXX)
cleanup() {
	"$ROOT/scripts/pgtmp.sh" stop "$PGDIR" || true
}
trap cleanup EXIT
eval "$("$ROOT/scripts/pgtmp.sh" start "$PGDIR")"
echo "demo: PostgreSQL running on socket $PGHOST"

sql() { psql -X -v ON_ERROR_STOP=1 -q "$@"; }

echo "demo: creating demo.orders with $ROWS rows..."
sql <<SQL
CREATE SCHEMA demo;
CREATE TABLE demo.orders (
  id          bigint PRIMARY KEY,
  customer    text,
  amount      numeric,
  created_at  timestamptz,
  public_id   text
);
INSERT INTO demo.orders (id, customer, amount, created_at)
SELECT i,
       'customer-' || (i % 50000) || ' ' || md5(i::text) || md5((i * 7)::text),
       round((random() * 1000)::numeric, 2),
       now() - i * interval '1 minute'
  FROM generate_series(1, $ROWS) i;
ANALYZE demo.orders;
SQL
sql -c "SELECT pg_size_pretty(pg_table_size('demo.orders')) AS table_size,
               count(*) AS rows,
               count(*) FILTER (WHERE public_id IS NULL) AS null_public_id
          FROM demo.orders"

echo "demo: build/nanoid-backfill --schema demo --table orders --column public_id --until-done --progress-interval 1"
start=$(date +%s.%N)
"$ROOT/build/nanoid-backfill" --schema demo --table orders --column public_id \
	--until-done --progress-interval 1
end=$(date +%s.%N)
echo "demo: done in $(echo "$end - $start" | awk '{ print $1 - $3 }' 2>/dev/null || echo '?') s"

sql -c "SELECT id, left(customer, 20) AS customer, amount, public_id
          FROM demo.orders ORDER BY id LIMIT 5"
sql -c "SELECT count(*) FILTER (WHERE public_id IS NULL) AS still_null,
               count(DISTINCT public_id) AS distinct_ids
          FROM demo.orders"
sql -c "SELECT job, state, rows_done, batches, finished_at - started_at AS took
          FROM nanoid_backfill.jobs"
