#!/usr/bin/env bash
# hostile_input: a table of hostile and bad inputs.
#
# Part 1 - refused: wrong column types, too-short varchar, missing objects,
# bad option values, malformed and unreadable job files, failing conninfo.
# Each row: the expected exit code and stderr phrase, one error line, nothing
# on stdout, and nothing written: no progress schema, no table or schema
# created, every table's contents unchanged (one digest over the database).
#
# Part 2 - hostile but valid: identifiers with quotes, spaces, semicolons,
# `"; DROP TABLE t; --`, unicode, reserved words, 63-byte names, a hostile
# schema, progress schema and job name. Each target is filled end to end,
# and the sentinel tables t and x are untouched.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

pg_start

LONG63=$(printf 'n%.0s' {1..63})   # NAMEDATALEN - 1: the longest name
LONG64=${LONG63}x                   # one byte more: no such name can exist

psqlf <<SQL
-- sentinels: what an injection would drop
CREATE TABLE t (id bigint PRIMARY KEY, public_id text);
INSERT INTO t SELECT i, NULL FROM generate_series(1, 50) i;
CREATE TABLE x (id bigint PRIMARY KEY, public_id text);
INSERT INTO x SELECT i, NULL FROM generate_series(1, 50) i;
-- targets that must be refused
CREATE TABLE t_int   (id bigint PRIMARY KEY, public_id integer);
CREATE TABLE t_jsonb (id bigint PRIMARY KEY, public_id jsonb);
CREATE TABLE t_bytea (id bigint PRIMARY KEY, public_id bytea);
CREATE TABLE t_char  (id bigint PRIMARY KEY, public_id char(21));
CREATE TABLE t_short (id bigint PRIMARY KEY, public_id varchar(10));
CREATE TABLE t_fit   (id bigint PRIMARY KEY, public_id varchar(21));
CREATE VIEW v_t AS SELECT * FROM t;
INSERT INTO t_int   SELECT i, NULL FROM generate_series(1, 20) i;
INSERT INTO t_jsonb SELECT i, NULL FROM generate_series(1, 20) i;
INSERT INTO t_bytea SELECT i, NULL FROM generate_series(1, 20) i;
INSERT INTO t_char  SELECT i, NULL FROM generate_series(1, 20) i;
INSERT INTO t_short SELECT i, NULL FROM generate_series(1, 20) i;
INSERT INTO t_fit   SELECT i, NULL FROM generate_series(1, 20) i;
SQL
# lib.sh's db_digest: a pg_dump of the whole database.
DIGEST=$(db_digest)

# --- job files ---------------------------------------------------------------
JF=$WORK/jobs
mkdir "$JF"
printf 'table = t\ncolumn = public_id\nuntil-done\n' >"$JF/no_equals.conf"
printf '[job]\ntable = t\ncolumn = public_id\n' >"$JF/section.conf"
printf 'table = t\ncolumn = public_id\ncolour = blue\n' >"$JF/unknown.conf"
printf 'table = t\ncolumn = public_id\ntable = x\n' >"$JF/twice.conf"
printf 'table = t\ncolumn = public_id\nbatch-size = lots\n' >"$JF/bad_value.conf"
printf 'table = t\ncolumn = public_id\n' >"$JF/unreadable.conf"
chmod 000 "$JF/unreadable.conf"
mkdir "$JF/a_directory.conf"
# The unreadable file: root reads anything, so as root that case runs as
# nobody (who may read the directory, not the file).
AS_OTHER=()
UNREADABLE_SKIP=
if ((EUID == 0)); then
	if id -u nobody >/dev/null 2>&1 && command -v runuser >/dev/null; then
		chmod 711 "$WORK"
		chmod 755 "$JF"
		AS_OTHER=(runuser -u nobody --)
		runuser -u nobody -- test -x "$NB" ||
			UNREADABLE_SKIP="the binary $NB is not executable by nobody"
	else
		UNREADABLE_SKIP="running as root without a 'nobody' user or runuser: root reads any file"
	fi
fi

# --- part 1: refused ---------------------------------------------------------

# One case, in a subshell: its assertions end only the subshell.
check_refused() {
	local want_rc=$1 phrase=$2 lines
	shift 2
	_next_run
	RC=0
	timeout -k 5 "$BF_TIMEOUT" "$@" >"$OUT" 2>"$ERR" </dev/null || RC=$?
	assert_eq "$RC" "$want_rc" "exit code"
	lines=$(grep -c '' "$ERR" || true)
	assert_eq "$lines" 1 "stderr is one line ($(head -c 300 "$ERR"))"
	assert_file_match "$ERR" "$NB_ERR_RE" "the line is an error"
	assert_file_match "$ERR" "$phrase" "stderr mentions /$phrase/"
	[[ ! -s $OUT ]] || fail "stdout is not empty: $(head -c 300 "$OUT")"
	assert_sql "SELECT to_regnamespace('$NB_PROGRESS_SCHEMA') IS NULL" t "no progress schema"
	assert_eq "$(db_digest)" "$DIGEST" "nothing written or created"
}

# refuse NAME EXIT PHRASE ARGS...: one row of the table.
refuse() {
	local name=$1 rc=0
	shift
	set +e
	(check_refused "$1" "$2" "$NB" "${@:3}") >"$WORK/case.log" 2>&1
	rc=$?
	set -e
	if ((rc == 0)); then
		pass "refused: $name -> exit $1, /$2/"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - refused: $name -> want exit $1, /$2/"
		grep -v '^ok - ' "$WORK/case.log" | sed 's/^/#   /'
		psqlc "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $NB_PROGRESS_SCHEMA CASCADE"
		DIGEST=$(db_digest)
	fi
}

C=(--column public_id --until-done)
#      name                               exit phrase                        arguments
# wrong types and sizes
refuse "integer column"                     78 'integer'                    --table t_int "${C[@]}"
refuse "jsonb column"                       78 'jsonb'                      --table t_jsonb "${C[@]}"
refuse "bytea column"                       78 'bytea'                      --table t_bytea "${C[@]}"
refuse "char(21) column (blank-padded)"     78 'character\(21\)'            --table t_char "${C[@]}"
refuse "varchar(10), ids of 21"             78 'too short'                  --table t_short "${C[@]}"
refuse "varchar(21), prefix makes 24"       78 'too short'                  --table t_fit "${C[@]}" --prefix 'ab_'
# missing objects, hostile or not
refuse "missing schema"                     78 'does not exist'             --schema nope --table t "${C[@]}"
refuse "missing table"                      78 'does not exist'             --table nope "${C[@]}"
refuse "missing column"                     78 'does not exist'             --table t --column nope --until-done
refuse "table named like an injection"      78 'does not exist'             --table 't; DROP TABLE x; --' "${C[@]}"
refuse "column named like an injection"     78 'does not exist'             --table t --column 'public_id; DROP TABLE x' --until-done
refuse "name of 64 bytes (never folded)"    78 'does not exist'             --table "$LONG64" "${C[@]}"
refuse "case differs (T is not t)"          78 'does not exist'             --table T "${C[@]}"
refuse "--key names a missing column"       78 'does not exist'             --table t "${C[@]}" --key '"; DROP TABLE x; --'
refuse "a view"                             78 'v_t'                        --table v_t "${C[@]}"
# bad option values
refuse "--size -1"                          78 'size'                       --table t "${C[@]}" --size -1
refuse "--size 21x"                         78 'size'                       --table t "${C[@]}" --size 21x
refuse "--batch-size 100001"                78 'batch-size'                 --table t "${C[@]}" --batch-size 100001
refuse "--alphabet with a blank"            78 'alphabet'                   --table t "${C[@]}" --alphabet 'ab c'
refuse "--alphabet not ASCII"               78 'alphabet'                   --table t "${C[@]}" --alphabet 'abcé'
refuse "--prefix of 65 characters"          78 'prefix'                     --table t "${C[@]}" --prefix "$(printf 'p%.0s' {1..65})"
refuse "--prefix with a newline"            78 'prefix'                     --table t "${C[@]}" --prefix $'a\nb'
refuse "--workers 0"                        78 'workers'                    --table t "${C[@]}" --workers 0
refuse "--idle-interval 0"                  78 'idle-interval'              --table t "${C[@]}" --idle-interval 0
refuse "--log-level loud"                   78 'log-level'                  --table t "${C[@]}" --log-level loud
refuse "--reconnect-timeout -1"             78 'reconnect-timeout'          --table t "${C[@]}" --reconnect-timeout -1
# bad command lines
refuse "--until-done=yes (takes no value)"  64 'until-done'                 --table t --column public_id --until-done=yes
refuse "--table without its value"          64 'table'                      --column public_id --until-done --table
refuse "a stray argument"                   64 'DROP'                       --table t "${C[@]}" 'DROP TABLE x'
# job files
refuse "job file: a line without '='"       78 "no_equals.conf:3: .*name = value" --config "$JF/no_equals.conf"
refuse "job file: a [section]"              78 'section.conf:1: .*section'  --config "$JF/section.conf"
refuse "job file: unknown key"              78 "unknown.conf:3: .*colour"   --config "$JF/unknown.conf"
refuse "job file: a key twice"              78 'twice.conf:3: .*already set' --config "$JF/twice.conf"
refuse "job file: a bad value"              78 'bad_value.conf:3: .*batch-size' --config "$JF/bad_value.conf"
refuse "job file: missing"                  78 'cannot read job file'       --config "$JF/nope.conf"
refuse "job file: a directory"              78 'cannot read job file'       --config "$JF/a_directory.conf"
if [[ -z $UNREADABLE_SKIP ]]; then
	set +e
	(check_refused 78 'cannot read job file.*ermission denied' "${AS_OTHER[@]}" "$NB" \
		--config "$JF/unreadable.conf") >"$WORK/case.log" 2>&1
	rc=$?
	set -e
	if ((rc == 0)); then
		pass "refused: job file: unreadable (mode 000${AS_OTHER:+, run as nobody}) -> exit 78"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - refused: job file: unreadable (mode 000) -> want exit 78"
		grep -v '^ok - ' "$WORK/case.log" | sed 's/^/#   /'
	fi
else
	echo "ok - refused: job file: unreadable # SKIP $UNREADABLE_SKIP"
fi
# conninfo: malformed is a configuration error; a server that cannot be
# reached is a runtime failure (1: the same command may work later).
refuse "--dsn malformed"                    78 'missing "="'                --dsn 'host=a port' --table t "${C[@]}"
refuse "--dsn unterminated quote"           78 'unterminated'               --dsn "host='x; DROP TABLE x" --table t "${C[@]}"
refuse "--dsn bad sslmode"                  78 'sslmode'                    --dsn 'sslmode=bogus' --table t "${C[@]}"
refuse "--dsn URI malformed"                78 'invalid'                    --dsn 'postgresql://host:notaport/db' --table t "${C[@]}"
refuse "--dsn unknown keyword"              78 'colour'                     --dsn 'colour=blue' --table t "${C[@]}"
refuse "--dsn to a missing socket dir"      1  'connect'                    --dsn 'host=/nonexistent/nb' --table t "${C[@]}"
refuse "--dsn to a missing database"        1  'connect.*nope'              --dsn 'dbname=nope' --table t "${C[@]}"
refuse "--dsn with a missing role"          1  'connect.*no_such_role'      --dsn 'user=no_such_role' --table t "${C[@]}"
# The same in German: libpq translates its messages to the user's
# LC_MESSAGES (C.UTF-8 honours LANGUAGE), and the exit code must not read
# them. The patterns prove the messages were German.
DE=(env LC_ALL=C.UTF-8 LANGUAGE=de)
DE_NB=$WORK/nb-de
printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${DE[*]}" "$NB" >"$DE_NB"
chmod +x "$DE_NB"
NB_EN=$NB
NB=$DE_NB
refuse "--dsn to a missing socket dir, in German"  1  'Verbindung zum Server'  --dsn 'host=/nonexistent/nb' --table t "${C[@]}"
refuse "--dsn bad sslmode, in German"              78 'sslmode-Wert'           --dsn 'sslmode=bogus' --table t "${C[@]}"
refuse "--dsn unknown host, in German"             1  'Hostnamen'              --dsn 'host=nonexistent.invalid' --table t "${C[@]}"
NB=$NB_EN

# --- part 2: hostile names that are valid targets ------------------------------

# valid NAME SCHEMA TABLE COLUMN KEY [EXTRA ARGS...]: creates the table (key
# column KEY, bigint primary key), fills it, checks the end state.
SENTINELS=$(table_digest t)$(table_digest x)
valid() {
	local name=$1 s=$2 tb=$3 col=$4 key=$5 rc=0
	shift 5
	set +e
	(
		psqlc "CREATE SCHEMA IF NOT EXISTS $(psqlc "SELECT quote_ident(\$q\$$s\$q\$)")"
		qt=$(psqlc "SELECT format('%I.%I', \$q\$$s\$q\$, \$q\$$tb\$q\$)")
		qc=$(psqlc "SELECT quote_ident(\$q\$$col\$q\$)")
		qk=$(psqlc "SELECT quote_ident(\$q\$$key\$q\$)")
		psqlc "CREATE TABLE $qt ($qk bigint PRIMARY KEY, $qc text, other int);
		       INSERT INTO $qt SELECT i, CASE WHEN i % 10 = 0 THEN 'kept' || i END, i
		         FROM generate_series(1, 1000) i"
		run_bf --schema "$s" --table "$tb" --column "$col" --until-done --batch-size 150 "$@"
		assert_eq "$RC" 0 "exit 0 ($(tail -n 1 "$ERR"))"
		assert_sql "SELECT count(*) FROM $qt WHERE $qc IS NULL" 0 "no NULL left"
		assert_sql "SELECT count(*) FROM $qt WHERE $qc !~ '$NB_DEFAULT_ID_RE' AND $qc !~ '^kept'" 0 \
			"every value a nanoid or kept"
		assert_sql "SELECT count(*) FROM $qt WHERE $qk % 10 = 0 AND $qc <> 'kept' || $qk" 0 \
			"pre-existing values kept"
		assert_eq "$(table_digest t)$(table_digest x)" "$SENTINELS" "the sentinel tables t and x are untouched"
		assert_file_nomatch "$ERR" "$NB_ERR_RE" "no error line"
		# A name cannot forge log lines: every line is one of ours.
		assert_file_nomatch "$ERR" '^(.{0,15}$|[^n]|n[^a]|nanoid-backfill: [^iwde])' \
			"every stderr line starts with 'nanoid-backfill: LEVEL'"
	) >"$WORK/case.log" 2>&1
	rc=$?
	set -e
	if ((rc == 0)); then
		pass "valid: $name: filled"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - valid: $name"
		grep -v '^ok - ' "$WORK/case.log" | sed 's/^/#   /'
	fi
}

#     name                         schema            table                  column                  key
valid "quotes and spaces"          public            'Order "Items"'        'public id'             id
valid "semicolons, injection column" public          'semi;colon'           '"; DROP TABLE t; --'   id
valid "injection table name"       public            '"; DROP TABLE x; --'  public_id               id
valid "unicode"                    public            'Ünïcødé 表'           'ïd 表'                 'ключ'
valid "reserved words"             public            select                 order                   user
valid "newline and tab in names"  public            $'new\nline'          $'tab\tcol'             id
valid "63-byte names"              public            "$LONG63"              "${LONG63:1}c"          id
valid "hostile schema, quote, backslash" 'my schema"; --' "back\\slash'quote" "it's" "k\\ey"
valid "hostile job and progress schema" public       t_job                  public_id               id \
	--job '"; DROP TABLE x; --' --progress-schema 'prog "x"; --'
run_bf --table t_fit --column public_id --until-done
assert_eq "$RC" 0 "valid: varchar(21), ids of exactly 21: exit 0"
assert_sql "SELECT count(*) FROM t_fit WHERE public_id !~ '$NB_DEFAULT_ID_RE' OR public_id IS NULL" 0 \
	"valid: varchar(21): every row filled"
assert_sql "SELECT count(*) FROM \"prog \"\"x\"\"; --\".jobs WHERE job = '\"; DROP TABLE x; --'" 1 \
	"the hostile job name is recorded verbatim in the hostile progress schema"
assert_sql "SELECT count(*) FROM $NB_PROGRESS_SCHEMA.jobs WHERE table_name IN
            ('Order \"Items\"', 'semi;colon', '\"; DROP TABLE x; --', 'Ünïcødé 表', 'select',
             '$LONG63', 'back\\slash''quote')" 7 \
	"progress rows name the tables exactly as in the catalog"

finish
