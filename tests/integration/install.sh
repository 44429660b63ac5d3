#!/usr/bin/env bash
# install: `meson install --destdir` puts the binary, both systemd units
# (pointing at the installed binary), the sysusers.d file for their user,
# the example job file and both man pages where they belong; the pages
# render without a warning. No PostgreSQL needed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

BUILD=${NB_BUILD_ROOT:-$(dirname "$NB")}
[[ -f $BUILD/meson-private/coredata.dat ]] || fail "$BUILD is not a meson build directory (set NB_BUILD_ROOT)"
PREFIX=${NB_PREFIX:-/usr/local}
BINDIR=${NB_BINDIR:-$PREFIX/bin}
MANDIR=${NB_MANDIR:-$PREFIX/share/man}
DATADIR=${NB_DATADIR:-$PREFIX/share}

DEST=$WORK/dest
rc=0
meson install -C "$BUILD" --destdir "$DEST" --no-rebuild >"$WORK/install.out" 2>&1 || rc=$?
((rc == 0)) || { tail -n 20 "$WORK/install.out" | sed 's/^/#   /'; fail "meson install --destdir: exit $rc"; }
pass "meson install --destdir $DEST"

want=(
	"$BINDIR/nanoid-backfill"
	"$PREFIX/lib/systemd/system/nanoid-backfill@.service"
	"$PREFIX/lib/systemd/system/nanoid-backfill-once@.service"
	"$PREFIX/lib/sysusers.d/nanoid-backfill.conf"
	"$DATADIR/doc/nanoid-backfill/example.conf"
	"$MANDIR/man8/nanoid-backfill.8"
	"$MANDIR/man5/nanoid-backfill.conf.5"
)
for f in "${want[@]}"; do
	[[ -f $DEST$f ]] || fail "not installed: $f (installed: $(cd "$DEST" && find . -type f | sort | tr '\n' ' '))"
	pass "installed $f"
done
[[ -x $DEST$BINDIR/nanoid-backfill ]] || fail "the installed binary is not executable"
pass "the installed binary is executable"

for u in nanoid-backfill@.service nanoid-backfill-once@.service; do
	assert_file_match "$DEST$PREFIX/lib/systemd/system/$u" "^ExecStart=$BINDIR/nanoid-backfill " \
		"$u: ExecStart names the installed binary"
done
# The units' User= is the user the sysusers.d file declares.
assert_file_match "$DEST$PREFIX/lib/sysusers.d/nanoid-backfill.conf" \
	'^u nanoid-backfill - "[^"]+" / /usr/sbin/nologin$' "sysusers.d: a system user nanoid-backfill, no login"
for u in nanoid-backfill@.service nanoid-backfill-once@.service; do
	assert_file_match "$DEST$PREFIX/lib/systemd/system/$u" '^User=nanoid-backfill$' "$u: User=nanoid-backfill"
done
cmp -s "$DEST$DATADIR/doc/nanoid-backfill/example.conf" "$REPO_ROOT/config/example.conf" ||
	fail "the installed example.conf differs from config/example.conf"
pass "example.conf installed as shipped"

# The installed example parses and validates: a bad key or value would
# exit 78 before connecting; with no server to reach the check exits 1.
rc=0
"$DEST$BINDIR/nanoid-backfill" --config "$DEST$DATADIR/doc/nanoid-backfill/example.conf" \
	--dsn "host=$WORK/nowhere dbname=x" --check-config >/dev/null 2>"$WORK/check.err" || rc=$?
assert_eq "$rc" 1 "installed example.conf parses (then: no server, exit 1)"

if command -v groff >/dev/null 2>&1; then
	for p in "$MANDIR/man8/nanoid-backfill.8" "$MANDIR/man5/nanoid-backfill.conf.5"; do
		groff -man -ww -z "$DEST$p" 2>"$WORK/groff.err" || true
		[[ ! -s $WORK/groff.err ]] || fail "groff warns on $p: $(head -n 3 "$WORK/groff.err")"
		pass "$(basename "$p"): groff -man -ww: no warning"
	done
else
	echo "# groff not installed: man page warnings not checked"
fi
if command -v man >/dev/null 2>&1; then
	for p in "$MANDIR/man8/nanoid-backfill.8" "$MANDIR/man5/nanoid-backfill.conf.5"; do
		MANWIDTH=80 man --warnings -l "$DEST$p" >"$WORK/man.out" 2>"$WORK/man.err" || true
		[[ ! -s $WORK/man.err ]] || fail "man --warnings on $p: $(head -n 3 "$WORK/man.err")"
		grep -q 'NAME' "$WORK/man.out" || fail "man -l $p rendered nothing"
		pass "$(basename "$p"): man --warnings -l renders it cleanly"
	done
fi

finish
