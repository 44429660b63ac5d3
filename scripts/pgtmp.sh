#!/usr/bin/env bash
# pgtmp.sh - a throwaway PostgreSQL cluster for tests and the demo.
#
#   pgtmp.sh start DIR   initdb into DIR/data, start the server on a Unix
#                        socket in DIR (no TCP), log to DIR/pg.log, and print
#                        the PG* exports for `eval "$(pgtmp.sh start DIR)"`.
#   pgtmp.sh standby PRIMARY_DIR DIR
#                        a streaming standby of the cluster in PRIMARY_DIR
#                        (started with PGTMP_CONF allowing replication, e.g.
#                        "wal_level = replica" and "max_wal_senders = 5"):
#                        pg_basebackup -R into DIR/data, its own socket in
#                        DIR, same port; prints the PG* exports like start.
#   pgtmp.sh stop DIR    stop it (-m fast, then immediate) and remove DIR.
#
# PGTMP_CONF: extra postgresql.conf lines for start, appended after the
# test settings below (so they win): benchmarks and replication tests.
#
# PostgreSQL refuses to run as root: as root, DIR is chowned to the postgres
# user and the server commands run through runuser; as anyone else they run
# directly. Only the server runs as postgres: clients (psql, the daemon) keep
# running as the caller and reach the socket in DIR, so DIR should be somewhere
# postgres can write (a mktemp -d under /tmp), not inside the repository.
# Several clusters can run at once: each has its own socket directory, so all
# of them can use port 5432.
#
# Server binaries: PG_BINDIR if set, else the highest /usr/lib/postgresql/*/bin
# (pg_config --bindir names the client's directory, not the server's).
set -euo pipefail

die() { echo "pgtmp: $*" >&2; exit 1; }

usage() {
	echo "usage: pgtmp.sh start DIR | standby PRIMARY_DIR DIR | stop DIR" >&2
	exit 64
}

pg_bindir() {
	if [[ -n ${PG_BINDIR:-} ]]; then
		[[ -x $PG_BINDIR/initdb ]] || die "PG_BINDIR=$PG_BINDIR has no initdb"
		echo "$PG_BINDIR"
		return
	fi
	local best
	best=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	[[ -x $best/initdb ]] ||
		die "no server binaries in /usr/lib/postgresql/*/bin (install postgresql or set PG_BINDIR)"
	echo "$best"
}

# Runs a server command as the postgres user when we are root. cd / first:
# the caller's cwd may be a directory postgres cannot read.
as_pg() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# cluster_dir DIR: creates DIR for a cluster the postgres user can own and
# prints its canonical path (the socket directory must be nameable in
# postgresql.conf and fit sun_path).
cluster_dir() {
	local dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	case $dir in
	*[\'\ \"\\]*) die "DIR must not contain quotes, spaces or backslashes: $dir" ;;
	esac
	# sun_path is 108 bytes; the socket is DIR/.s.PGSQL.5432
	((${#dir} + 17 < 108)) || die "DIR path too long for a Unix socket: $dir"
	[[ ! -e $dir/data ]] || die "$dir/data already exists"
	chmod 755 "$dir"
	if ((EUID == 0)); then
		id -u postgres >/dev/null 2>&1 || die "no postgres user (install postgresql)"
		chown postgres: "$dir"
	fi
	echo "$dir"
}

# start_server BIN DIR WHAT: pg_ctl start on DIR/data, then the PG* exports.
start_server() {
	local bin=$1 dir=$2 what=$3
	if ! as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 start \
		>"$dir/pg_ctl.log" 2>&1; then
		cat "$dir/pg_ctl.log" >&2
		tail -n 30 "$dir/pg.log" >&2 2>/dev/null || true
		die "$what did not start"
	fi
	printf 'export PGHOST=%q PGPORT=5432 PGUSER=postgres PGDATABASE=postgres\n' "$dir"
}

start() {
	local dir bin
	bin=$(pg_bindir)
	dir=$(cluster_dir "$1")

	if ! as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		die "initdb failed"
	fi

	# Test-only settings. fsync/full_page_writes/synchronous_commit only
	# matter if the server itself crashes, which no test does; visibility of
	# committed rows to other sessions is unchanged.
	cat >>"$dir/data/postgresql.conf" <<CONF

# --- pgtmp.sh ---
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
max_connections = 50
fsync = off
full_page_writes = off
synchronous_commit = off
wal_level = minimal
max_wal_senders = 0
lc_messages = 'C'
log_line_prefix = '%m [%p] %a: '
log_min_duration_statement = -1
CONF
	if [[ -n ${PGTMP_CONF:-} ]]; then
		printf '# --- PGTMP_CONF ---\n%s\n' "$PGTMP_CONF" >>"$dir/data/postgresql.conf"
	fi
	start_server "$bin" "$dir" server
}

standby() {
	local primary=$1 dir bin
	bin=$(pg_bindir)
	[[ -S $primary/.s.PGSQL.5432 ]] || die "no server running in $primary"
	primary=$(cd "$primary" && pwd -P)
	dir=$(cluster_dir "$2")
	# -R writes standby.signal and primary_conninfo (the primary's socket).
	if ! as_pg "$bin/pg_basebackup" -h "$primary" -p 5432 -U postgres \
		-D "$dir/data" -R -X stream --checkpoint=fast \
		>"$dir/basebackup.log" 2>&1; then
		cat "$dir/basebackup.log" >&2
		die "pg_basebackup failed (does the primary allow replication? see PGTMP_CONF)"
	fi
	# The copy's postgresql.conf names the primary's socket directory.
	cat >>"$dir/data/postgresql.conf" <<CONF

# --- pgtmp.sh standby ---
unix_socket_directories = '$dir'
hot_standby = on
CONF
	start_server "$bin" "$dir" standby
}

stop() {
	local dir=$1 bin
	[[ -d $dir ]] || return 0
	dir=$(cd "$dir" && pwd -P)
	[[ $dir != / ]] || die "refusing to remove /"
	# Only ever remove what start() made (or an empty directory).
	if [[ ! -e $dir/data && ! -e $dir/initdb.log && ! -e $dir/basebackup.log &&
		-n $(ls -A "$dir") ]]; then
		die "$dir does not look like a pgtmp cluster; not removing it"
	fi
	if [[ -f $dir/data/postmaster.pid ]]; then
		bin=$(pg_bindir)
		as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
			echo "pgtmp: could not stop the server in $dir" >&2
	fi
	rm -rf "$dir"
}

case ${1:-}:$# in
start:2) start "$2" ;;
standby:3) standby "$2" "$3" ;;
stop:2) stop "$2" ;;
*) usage ;;
esac
