#!/usr/bin/env bash
# plan_formats: `plan --format` for every migration tool, each in a database
# of its own with a 3,000-row table. Where the real tool installs here (dbmate
# and knex from npm into a cache under the build tree, sql-migrate from
# Debian, psql) it applies the files in two deploys around the real backfill:
# the steps up to the backfill's, then `nanoid-backfill --until-done`, then the
# rest. The column ends NOT NULL with a valid unique index (the CONCURRENTLY
# step only succeeds if the tool runs it outside a transaction), the tool's
# history holds every step, and rolling every step back leaves the table as it
# was. golang-migrate, goose and flyway do not install here: their files are
# checked against each tool's documented rules (names, versions, pairing,
# markers) and applied as the tool applies them (golang-migrate: each file one
# query string, no transaction; goose: its parser's statements, StatementBegin/
# End, NO TRANSACTION; flyway: V files by version, in a transaction unless the
# .conf beside says executeInTransaction=false, U files newest first). With
# --dsn on a table partitioned by the column, the attach step's DO block goes
# between statement blocks: sql-migrate and the goose rules run it. An unknown
# --format, and names a tool cannot carry, exit 78 with nothing written.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

# dbmate, knex and pg (knex's PostgreSQL driver) from npm, installed once into
# a cache that later runs reuse. A fresh CI machine needs the npm registry.
NPM_DIR=${NB_NPM_CACHE:-${NB_BUILD_ROOT:-/tmp}/npm-tools}
MODS=$NPM_DIR/node_modules
if [[ ! -x $MODS/.bin/dbmate || ! -f $MODS/knex/package.json || ! -f $MODS/pg/package.json ]]; then
	mkdir -p "$NPM_DIR"
	(cd "$NPM_DIR" && npm install --no-audit --no-fund --loglevel=error \
		dbmate@2 knex@3 pg@8) >"$WORK/npm.out" 2>&1 ||
		fail "npm install dbmate knex pg into $NPM_DIR: $(tail -5 "$WORK/npm.out")"
fi
command -v sql-migrate >/dev/null || fail "sql-migrate is not installed (Debian package sql-migrate; scripts/deps.sh)"
pass "tools: dbmate $("$MODS/.bin/dbmate" --version | awk '{print $NF}'), knex $(node -p "require('$MODS/knex/package.json').version"), sql-migrate, psql"

# Columns, constraints and indexes of orders and the functions of its schema, one line each.
fingerprint() {
	psqlc "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
	  SELECT 'col ' || attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull
	    FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0 AND NOT attisdropped
	  UNION ALL SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid)
	    FROM pg_constraint WHERE conrelid = 'orders'::regclass
	  UNION ALL SELECT 'idx ' || pg_get_indexdef(indexrelid) || ' ' || indisvalid
	    FROM pg_index WHERE indrelid = 'orders'::regclass
	  UNION ALL SELECT 'fn ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace) f(x)"
}

# psql_q ARGS...: psql with the test's settings, output to $WORK/apply.out.
psql_q() {
	psql -X -q -v ON_ERROR_STOP=1 "$@" >>"$WORK/apply.out" 2>&1 ||
		fail "psql $*: $(tail -5 "$WORK/apply.out")"
}

# applied FILE: whether FILE was applied already (emulated tools' history).
applied() { grep -qxF "$1" "$WORK/history.$DB" 2>/dev/null; }
record() { echo "$1" >>"$WORK/history.$DB"; }
unrecord() { grep -vxF "$1" "$WORK/history.$DB" >"$WORK/history.tmp" || true; mv "$WORK/history.tmp" "$WORK/history.$DB"; }

# goose's SQL parser (internal/sqlparser/parser.go, ParseSQLMigration): the
# statements of one direction, NUL-separated, and "notx" first if the file
# says NO TRANSACTION. Errors as goose's (missing Up, unfinished statement).
cat >"$WORK/goose_parse.py" <<'PY'
import sys
path, direction = sys.argv[1], sys.argv[2]
state, use_tx, buf, stmts = "start", True, [], []
def ends_with_semicolon(line):
    prev = ""
    for word in line.split():
        if word.startswith("--"):
            break
        prev = word
    return prev.endswith(";")
for line in open(path, encoding="utf-8").read().split("\n"):
    if state == "start" and line.strip() == "":
        continue
    if line.startswith("--"):
        cmd = line[2:].strip()
        if cmd == "+goose Up":
            if state != "start": sys.exit("duplicate Up")
            state = "up"; continue
        if cmd == "+goose Down":
            if state not in ("up", "endup"): sys.exit("Down before Up")
            if "".join(buf).strip(): sys.exit("unfinished statement before Down")
            state = "down"; continue
        if cmd == "+goose StatementBegin":
            state = {"up": "beginup", "endup": "beginup", "down": "begindown", "enddown": "begindown"}[state]; continue
        if cmd == "+goose StatementEnd":
            state = {"beginup": "endup", "begindown": "enddown"}[state]
        if cmd == "+goose NO TRANSACTION":
            use_tx = False; continue
    if not buf and (line.strip().startswith("--") or line == ""):
        continue
    if state == "start": sys.exit("statement before Up: " + line)
    if state not in ("endup", "enddown"):
        buf.append(line + "\n")
    mine = state in ("up", "beginup", "endup") if direction == "up" else state in ("down", "begindown", "enddown")
    if not mine:
        buf = []
        if state == "endup": state = "up"
        if state == "enddown": state = "down"
        continue
    if state in ("up", "down"):
        if ends_with_semicolon(line):
            stmts.append("".join(buf).strip()); buf = []
    elif state in ("endup", "enddown"):
        stmts.append("".join(buf).strip()); buf = []
        state = "up" if state == "endup" else "down"
if state in ("beginup", "begindown"): sys.exit("missing StatementEnd")
if "".join(buf).strip(): sys.exit("unfinished statement: " + "".join(buf))
out = (["notx"] if not use_tx else ["tx"]) + stmts
sys.stdout.write("\0".join(out))
PY

# goose_run FILE up|down: as goose runs it: each statement its own Exec, all
# in one transaction unless NO TRANSACTION.
goose_run() {
	local args=() parts
	python3 "$WORK/goose_parse.py" "$1" "$2" >"$WORK/goose.stmts" 2>"$WORK/goose.err" ||
		fail "goose's parser refuses $(basename "$1"): $(cat "$WORK/goose.err")"
	mapfile -d '' -t parts <"$WORK/goose.stmts"
	[[ ${parts[0]} == tx ]] && args+=(-c BEGIN)
	for s in "${parts[@]:1}"; do args+=(-c "$s"); done
	[[ ${parts[0]} == tx ]] && args+=(-c COMMIT)
	((${#args[@]} == 0)) || psql_q "${args[@]}"
}

# knex through its API (its CLI looks for knex next to the knexfile):
# latest, or down N (the last N migrations, one at a time).
cat >"$WORK/knexrun.js" <<'JS'
const [mods, db, dir, what, n] = process.argv.slice(2);
const knex = require(mods + '/knex')({ client: 'pg',
  connection: { host: process.env.PGHOST, port: Number(process.env.PGPORT),
                user: process.env.PGUSER, database: db },
  migrations: { directory: dir } });
async function run() {
  if (what === 'latest') return knex.migrate.latest();
  for (let i = 0; i < Number(n); i++) await knex.migrate.down();
}
run().then(() => knex.destroy())
  .catch((e) => { console.error(e.message); process.exitCode = 1; return knex.destroy(); });
JS

dbmate_url() { echo "postgres://$PGUSER@/$DB?socket=$PGHOST&sslmode=disable"; }

sqlm_conf() {
	printf 't:\n  dialect: postgres\n  datasource: host=%s port=%s user=%s dbname=%s sslmode=disable\n  dir: %s\n' \
		"$PGHOST" "$PGPORT" "$PGUSER" "$DB" "$1" >"$WORK/dbconfig.$DB.yml"
	echo "$WORK/dbconfig.$DB.yml"
}

# deploy FORMAT DIR: the tool applies what in DIR is not applied yet.
deploy() {
	local f
	case $1 in
	dbmate) "$MODS/.bin/dbmate" --url "$(dbmate_url)" --migrations-dir "$2" --no-dump-schema up \
		>>"$WORK/apply.out" 2>&1 || fail "dbmate up: $(tail -3 "$WORK/apply.out")" ;;
	knex) node "$WORK/knexrun.js" "$MODS" "$DB" "$2" latest >>"$WORK/apply.out" 2>&1 ||
		fail "knex migrate.latest: $(tail -3 "$WORK/apply.out")" ;;
	sql-migrate) sql-migrate up -config="$(sqlm_conf "$2")" -env=t >>"$WORK/apply.out" 2>&1 ||
		fail "sql-migrate up: $(tail -3 "$WORK/apply.out")" ;;
	psql) for f in "$2"/[0-9]*.sql; do
			[[ $f == *.down.sql ]] && continue
			applied "$f" || { psql_q -f "$f"; record "$f"; }
		done ;;
	golang-migrate) for f in "$2"/*.up.sql; do
			applied "$f" || { psql_q -c "$(cat "$f")"; record "$f"; }
		done ;;
	goose) for f in "$2"/*.sql; do
			applied "$f" || { goose_run "$f" up; record "$f"; }
		done ;;
	flyway) for f in "$2"/V*.sql; do
			applied "$f" && continue
			if [[ -f $f.conf ]]; then psql_q -f "$f"; else psql_q -1 -f "$f"; fi
			record "$f"
		done ;;
	esac
}

# rollback FORMAT DIR N: the tool rolls back the last N steps.
rollback() {
	local f i
	case $1 in
	dbmate) for ((i = 0; i < $3; i++)); do
			"$MODS/.bin/dbmate" --url "$(dbmate_url)" --migrations-dir "$2" --no-dump-schema rollback \
				>>"$WORK/apply.out" 2>&1 || fail "dbmate rollback: $(tail -3 "$WORK/apply.out")"
		done ;;
	knex) node "$WORK/knexrun.js" "$MODS" "$DB" "$2" down "$3" >>"$WORK/apply.out" 2>&1 ||
		fail "knex migrate.down: $(tail -3 "$WORK/apply.out")" ;;
	sql-migrate) sql-migrate down -config="$(sqlm_conf "$2")" -env=t -limit="$3" >>"$WORK/apply.out" 2>&1 ||
		fail "sql-migrate down: $(tail -3 "$WORK/apply.out")" ;;
	psql | golang-migrate | goose | flyway)
		for f in $(tac "$WORK/history.$DB" | head -n "$3"); do
			case $1 in
			psql) psql_q -f "${f%.sql}.down.sql" ;;
			golang-migrate) psql_q -c "$(cat "${f%.up.sql}.down.sql")" ;;
			goose) goose_run "$f" down ;;
			flyway) u=$(dirname "$f")/U$(basename "$f" | cut -c2-)
				if [[ -f $u.conf ]]; then psql_q -f "$u"; else psql_q -1 -f "$u"; fi ;;
			esac
			unrecord "$f"
		done ;;
	esac
}

# history_count FORMAT: steps the tool records as applied.
history_count() {
	case $1 in
	dbmate) psqlc "SELECT count(*) FROM schema_migrations" ;;
	knex) psqlc "SELECT count(*) FROM knex_migrations" ;;
	sql-migrate) psqlc "SELECT count(*) FROM gorp_migrations" ;;
	*) wc -l <"$WORK/history.$DB" ;;
	esac
}

# marked_when_concurrent FILE ERE N WHAT: FILE has N lines matching ERE if it
# holds CONCURRENTLY (the tool's outside-a-transaction marker), else none.
marked_when_concurrent() {
	local conc n
	conc=$(grep -c CONCURRENTLY "$1" || true)
	n=$(grep -cE "$2" "$1" || true)
	assert_eq "$n" "$((conc > 0 ? $3 : 0))" "$4"
}

# check_layout FORMAT DIR: names, versions, pairing and markers by the tool's rules.
check_layout() {
	local fmt=$1 dir=$2 f name bad=0 conc
	case $fmt in
	golang-migrate)
		# source/parse.go: ^([0-9]+)_(.*)\.(down|up)\.(.*)$, one up and one down per version
		for f in "$dir"/*; do
			[[ $(basename "$f") =~ ^[0-9]+_[a-z0-9_]+\.(up|down)\.sql$ ]] || { bad=1; echo "# bad name $f"; }
		done
		for f in "$dir"/*.up.sql; do [[ -f ${f%.up.sql}.down.sql ]] || bad=1; done
		assert_eq "$(ls "$dir"/*.up.sql | sed 's|.*/||; s|_.*||' | sort -u | wc -l)" 7 \
			"golang-migrate: 7 distinct versions, each an up and a down"
		for f in "$dir"/*unique_index*; do
			assert_eq "$(grep -v '^--' "$f" | grep -c ';$')" 1 "golang-migrate: $(basename "$f") is one statement (one Exec, no transaction)"
		done ;;
	goose)
		for f in "$dir"/*; do
			name=$(basename "$f")
			[[ $name =~ ^[0-9]{14}_[a-z0-9_]+\.sql$ ]] || { bad=1; echo "# bad name $name"; }
			assert_eq "$(grep -c '^-- +goose Up$' "$f")$(grep -c '^-- +goose Down$' "$f")" 11 \
				"goose: $name has one Up and one Down annotation"
			marked_when_concurrent "$f" '^-- \+goose NO TRANSACTION$' 1 \
				"goose: $name says NO TRANSACTION exactly when it holds CONCURRENTLY"
		done ;;
	dbmate)
		for f in "$dir"/*; do
			marked_when_concurrent "$f" '^-- migrate:(up|down) transaction:false$' 2 \
				"dbmate: $(basename "$f"): transaction:false on both directives exactly when CONCURRENTLY"
		done ;;
	sql-migrate)
		for f in "$dir"/*; do
			marked_when_concurrent "$f" '^-- \+migrate (Up|Down) notransaction$' 2 \
				"sql-migrate: $(basename "$f"): notransaction on Up and Down exactly when CONCURRENTLY"
		done ;;
	knex)
		for f in "$dir"/*; do
			[[ $(basename "$f") =~ ^[0-9]{14}_[a-z0-9_]+\.js$ ]] || bad=1
			node --check "$f" || { bad=1; echo "# $f is not valid JavaScript"; }
			marked_when_concurrent "$f" '^exports\.config = \{ transaction: false \};$' 1 \
				"knex: $(basename "$f"): config.transaction false exactly when CONCURRENTLY"
		done ;;
	flyway)
		for f in "$dir"/*; do
			[[ $(basename "$f") =~ ^[VU][0-9]{14}__[a-z0-9_]+\.sql(\.conf)?$ ]] || { bad=1; echo "# bad name $f"; }
		done
		for f in "$dir"/V*.sql; do
			u=$dir/U$(basename "$f" | cut -c2-)
			[[ -f $u ]] || { bad=1; echo "# no undo for $f"; }
			assert_file_match "$u" 'Only Flyway Teams and' "flyway: $(basename "$u") says undo needs Flyway Teams"
			if grep -q CONCURRENTLY "$f"; then
				assert_eq "$(cat "$f.conf")|$(cat "$u.conf")" 'executeInTransaction=false|executeInTransaction=false' \
					"flyway: $(basename "$f") and its undo have executeInTransaction=false script configs"
			else
				[[ ! -e $f.conf && ! -e $u.conf ]] || { bad=1; echo "# stray conf for $f"; }
			fi
		done ;;
	psql)
		assert_eq "$(ls "$dir" | sed 's/_.*//' | sort -u | tr '\n' ' ')" "01 02 03 04 05 06 07 " "psql: steps numbered 01 to 07"
		for f in "$dir"/[0-9]*.sql; do
			[[ -f ${f%.sql}.down.sql || $f == *.down.sql ]] || bad=1
			conc=$(grep -c 'CONCURRENTLY' "$f" || true)
			if ((conc > 0)); then
				assert_file_nomatch "$f" '^BEGIN;' "psql: $(basename "$f") has no BEGIN (CONCURRENTLY)"
			elif grep -qE '^(ALTER|SET)' "$f"; then
				assert_eq "$(grep -c '^BEGIN;$' "$f")$(tail -n 1 "$f")" '1COMMIT;' "psql: $(basename "$f") runs in BEGIN ... COMMIT"
			fi
		done ;;
	esac
	assert_eq "$bad" 0 "$fmt: every file is named and paired by the tool's rules"
}

# cycle FORMAT: plan, two deploys around the backfill, then every rollback.
cycle() {
	local fmt=$1 dir=$WORK/$1 fp0 f
	DB=f_${fmt//-/_}
	psqlc "CREATE DATABASE $DB" >/dev/null
	export PGDATABASE=$DB
	psqlf <<'SQL'
CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL);
INSERT INTO orders SELECT i, i * 1.5 FROM generate_series(1, 3000) i;
SQL
	fp0=$(fingerprint)
	: >"$WORK/apply.out"
	mkdir -p "$dir"
	run_bf plan --table orders --column public_id --format "$fmt" --out "$dir/all"
	assert_eq "$RC" 0 "$fmt: plan exits 0"
	assert_eq "$(wc -l <"$OUT")" "$(ls "$dir/all" | wc -l)" "$fmt: plan prints the path of every file it wrote"
	check_layout "$fmt" "$dir/all"
	assert_file_match "$ERR" "^nanoid-backfill: info: plan: 7 steps for .*; the rollback: " \
		"$fmt: plan's log says where the rollback is"

	mkdir -p "$dir/run"
	cp "$dir"/all/*_add_public_id_to_orders* "$dir"/all/*_set_public_id_default_on_orders* \
		"$dir"/all/*_backfill_public_id_in_orders* "$dir/run/"
	deploy "$fmt" "$dir/run"
	assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'public_id'" f \
		"$fmt: first deploy: the column is there, nullable"
	# The default's function body holds semicolons inside dollar quotes:
	# the tool must have sent it whole.
	psqlc "INSERT INTO orders (id, total) VALUES (3001, 1)" >/dev/null
	assert_match "$(psqlc "SELECT public_id FROM orders WHERE id = 3001")" "$NB_DEFAULT_ID_RE" \
		"$fmt: first deploy: a row inserted without the column gets an id from the default"
	run_bf --dsn "dbname=$DB" --table orders --column public_id --until-done
	assert_eq "$RC" 0 "$fmt: the backfill between the deploys: exit 0"
	cp "$dir"/all/* "$dir/run/"
	deploy "$fmt" "$dir/run"
	assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'public_id'" t \
		"$fmt: second deploy: the column is NOT NULL"
	assert_sql "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
	             WHERE i.indrelid = 'orders'::regclass AND a.attname = 'public_id' AND i.indisunique
	               AND i.indisvalid AND i.indnatts = 1" 1 "$fmt: second deploy: one valid unique index on it"
	assert_sql "SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'c'" 0 \
		"$fmt: second deploy: the helper check is gone"
	assert_eq "$(history_count "$fmt" | tr -d ' ')" 7 "$fmt: the tool's history holds the 7 steps"
	run_bf verify --dsn "dbname=$DB" --table orders --column public_id
	assert_eq "$RC" 0 "$fmt: verify is clean"

	rollback "$fmt" "$dir/run" 7
	assert_eq "$(fingerprint)" "$fp0" "$fmt: after every rollback the table is as before (no column, check or index)"
	assert_eq "$(history_count "$fmt" | tr -d ' ')" 0 "$fmt: and the tool's history is empty"
	unset PGDATABASE
}

for fmt in dbmate knex sql-migrate psql golang-migrate goose flyway; do
	cycle "$fmt"
done

# psql numbers a second plan in the same directory after the first.
run_bf plan --table orders --column other_id --format psql --out "$WORK/psql/all"
assert_eq "$RC" 0 "psql: a second plan into the same directory: exit 0"
assert_match "$(head -n 1 "$OUT")" '/08_add_other_id_to_orders\.sql$' "psql: and it starts at 08"

# ---------------------------------------------------------------------------
# Partitioned by the column: the attach step checks every leaf's index in a
# DO block with ';' inside, which a tool splitting at ';' line ends must get
# whole (StatementBegin/End). The column is filled by SQL here.
tree() {
	DB=$1
	psqlc "CREATE DATABASE $DB" >/dev/null
	export PGDATABASE=$DB
	psqlf <<'SQL'
CREATE TABLE tokens (id bigint NOT NULL, public_id text) PARTITION BY HASH (public_id);
CREATE TABLE tokens_0 PARTITION OF tokens FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE tokens_1 PARTITION OF tokens FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO tokens SELECT i, md5(i::text) FROM generate_series(1, 3000) i;
SQL
}
tree_done() {
	assert_sql "SELECT count(*) FROM pg_index WHERE indrelid = 'tokens'::regclass AND indisunique AND indisvalid" 1 \
		"$1: partitioned: the unique index over the tree is valid (the leaves' indexes attached)"
	assert_sql "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'tokens'::regclass AND attname = 'public_id'" t \
		"$1: partitioned: the column is NOT NULL"
}
for fmt in sql-migrate goose; do
	tree "p_${fmt//-/_}"
	: >"$WORK/apply.out"
	run_bf plan --dsn "dbname=$DB" --table tokens --column public_id --format "$fmt" --size 32 \
		--alphabet 0123456789abcdef --out "$WORK/p_$fmt"
	assert_eq "$RC" 0 "$fmt: plan --dsn of a table partitioned by the column: exit 0"
	f=$(ls "$WORK/p_$fmt"/*_attach_public_id_unique_indexes_on_tokens.sql)
	want=$([[ $fmt == goose ]] && echo '-- +goose' || echo '-- +migrate')
	assert_eq "$(grep -A1 -x -- "$want StatementBegin" "$f" | sed -n 2p | cut -c1-3)" 'DO ' \
		"$fmt: the DO block starts right after StatementBegin"
	assert_eq "$(grep -B1 -x -- "$want StatementEnd" "$f" | sed -n 1p | cut -c1-4)" '$nb$' \
		"$fmt: and StatementEnd follows its last line"
	deploy "$fmt" "$WORK/p_$fmt"
	tree_done "$fmt"
	n=$(ls "$WORK/p_$fmt" | wc -l)
	# Step 1's down cannot drop a partition key column (it says so): all but it.
	rollback "$fmt" "$WORK/p_$fmt" $((n - 1))
	assert_sql "SELECT count(*) FROM pg_index WHERE indrelid IN (SELECT inhrelid FROM pg_inherits
	             WHERE inhparent = 'tokens'::regclass) OR indrelid = 'tokens'::regclass" 0 \
		"$fmt: partitioned: the rollbacks leave no index on the tree"
	unset PGDATABASE
done

# ---------------------------------------------------------------------------
# Refused: one error line, exit 78, nothing written.
run_bf plan --table orders --column public_id --format liquibase --out "$WORK/bad"
assert_eq "$RC" 78 "--format liquibase: exit 78"
assert_eq "$(grep -c "$NB_ERR_RE" "$ERR")" 1 "--format liquibase: one error line"
assert_file_match "$ERR" "--format: 'liquibase' is not one of sqlx, golang-migrate, goose, dbmate, sql-migrate, knex, flyway, psql" \
	"--format liquibase: the line lists the formats"
[[ ! -e $WORK/bad ]] || fail "--format liquibase created $WORK/bad"
pass "--format liquibase: nothing written"

run_bf plan --table 'odd\?name' --column public_id --format knex --out "$WORK/bad"
assert_eq "$RC" 78 "knex, a name with a backslash before '?': exit 78"
assert_file_match "$ERR" "knex.raw\(\) cannot pass" "knex: the error says why"
[[ ! -e $WORK/bad ]] || fail "knex: $WORK/bad was created"
pass "knex: nothing written"
run_bf plan --table $'odd\n-- +goose Down' --column public_id --format goose --out "$WORK/bad"
assert_eq "$RC" 78 "goose, a name with a line break and '--': exit 78"
assert_file_match "$ERR" "would read as its own annotation" "goose: the error says why"
[[ ! -e $WORK/bad ]] || fail "goose: $WORK/bad was created"
pass "goose: nothing written"
# The same name is fine where no tool reads annotations from lines.
run_bf plan --table $'odd\n-- +goose Down' --column public_id --format psql --out "$WORK/odd"
assert_eq "$RC" 0 "psql takes that name: exit 0"

finish
