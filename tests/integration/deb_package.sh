#!/usr/bin/env bash
# deb_package: debian/ builds the package. From a clean copy of the source
# tree (the files git tracks or would track: no build directories),
# `dpkg-buildpackage -us -uc -b` with DEB_BUILD_OPTIONS=nocheck (no tests
# inside the package build: they run here) makes
# nanoid-backfill_<meson version>-N_<arch>.deb; `dpkg-deb -c` lists the
# binary, both man pages, both units, the sysusers.d file, the example job
# file and /etc/nanoid-backfill; lintian reports no error. Then the package
# is installed and used: the installed binary's --version and --help, a
# real backfill with the installed example job file, and
# `systemd-analyze verify` on the installed units.
#
# As root (CI) it installs with `dpkg -i`: postinst creates the system user
# nanoid-backfill (systemd-sysusers), and the backfill runs as that user.
# At the end `dpkg -P` purges the package; purge leaves the user, as
# Debian does with system users, so the test removes it itself if it was
# not there before: the machine is left as it was. Not root, with
# NB_DEB_INSTALL=0, or where the package or one of its files is already
# on the machine, it extracts the .deb (`dpkg-deb -x`) into a temp root
# instead. Skips (77) only when a tool it needs is not installed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

skip() {
	echo "deb_package: SKIP: $*"
	SUMMARY_DONE=1
	exit 77
}
# tool:package pairs (scripts/deps.sh installs the packages)
for t in dpkg-buildpackage:dpkg-dev dpkg-deb:dpkg dh:debhelper lintian:lintian \
	systemd-analyze:systemd; do
	command -v "${t%%:*}" >/dev/null 2>&1 || skip "${t%%:*} not found (Debian package ${t#*:})"
done

PKG=nanoid-backfill
USER_NAME=nanoid-backfill # the units' User=, made by the sysusers.d file
ARCH=$(dpkg --print-architecture)
VERSION=$(sed -nE "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'([^']+)'.*/\1/p" "$REPO_ROOT/meson.build" | head -n 1)
[[ -n $VERSION ]] || fail "no project version in $REPO_ROOT/meson.build"

# --- a clean copy of the source tree -------------------------------------------
SRC=$WORK/pkg/$PKG-$VERSION
mkdir -p "$SRC"
if command -v git >/dev/null 2>&1 && git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	# What is committed plus what is new and not ignored, as the work tree
	# has it; build*/ and the package build's leftovers are ignored.
	(cd "$REPO_ROOT" && git ls-files -z -co --exclude-standard |
		while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -C "$SRC" -xf -
	how="git ls-files of $REPO_ROOT"
else
	tar -C "$REPO_ROOT" --exclude=./.git --exclude='./build*' --exclude='./obj-*' \
		--exclude=./.demo --exclude="./debian/$PKG" --exclude=./debian/.debhelper \
		--exclude=./debian/tmp -cf - . | tar -C "$SRC" -xf -
	how="a copy of $REPO_ROOT without build directories"
fi
[[ -f $SRC/debian/control && -f $SRC/meson.build ]] || fail "the copy ($how) has no debian/control or meson.build"
[[ ! -e $SRC/build && ! -e $SRC/obj-$(dpkg-architecture -qDEB_HOST_GNU_TYPE 2>/dev/null || echo x) ]] ||
	fail "the copy ($how) has build directories"
pass "a clean copy of the source tree ($how)"

changelog_version=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
assert_eq "${changelog_version%-*}" "$VERSION" "debian/changelog's upstream version is meson.build's"
DEB_VERSION=$changelog_version

# --- the build ----------------------------------------------------------------
start=$SECONDS
rc=0
(cd "$SRC" && env -u DEB_BUILD_PROFILES -u DEB_BUILD_MAINT_OPTIONS -u MAKEFLAGS -u MFLAGS \
	DEB_BUILD_OPTIONS="nocheck parallel=2" \
	dpkg-buildpackage -us -uc -b -Pnocheck) >"$WORK/build.log" 2>&1 </dev/null || rc=$?
if ((rc != 0)); then
	tail -n 40 "$WORK/build.log" | sed 's/^/#   /'
	fail "dpkg-buildpackage -us -uc -b: exit $rc (log above)"
fi
pass "dpkg-buildpackage -us -uc -b: built in $((SECONDS - start)) s"
assert_file_nomatch "$WORK/build.log" 'meson test' "the package build ran no tests (nocheck)"

DEB=$WORK/pkg/${PKG}_${DEB_VERSION}_$ARCH.deb
CHANGES=$WORK/pkg/${PKG}_${DEB_VERSION}_$ARCH.changes
[[ -f $DEB ]] || fail "no $(basename "$DEB") (built: $(cd "$WORK/pkg" && echo *.deb *.changes))"
[[ -f $CHANGES ]] || fail "no $(basename "$CHANGES")"
pass "built $(basename "$DEB") and $(basename "$CHANGES")"

# --- what the package holds ------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|; s|/$||' >"$WORK/contents"
FILES=(
	/usr/bin/nanoid-backfill
	/usr/share/man/man8/nanoid-backfill.8.gz
	/usr/share/man/man5/nanoid-backfill.conf.5.gz
	/usr/lib/systemd/system/nanoid-backfill@.service
	/usr/lib/systemd/system/nanoid-backfill-once@.service
	/usr/lib/sysusers.d/nanoid-backfill.conf
	/usr/share/doc/nanoid-backfill/example.conf
	/usr/share/doc/nanoid-backfill/copyright
)
for f in "${FILES[@]}" /etc/nanoid-backfill; do
	grep -qxF -- "$f" "$WORK/contents" || fail "dpkg-deb -c: no $f (it has: $(tr '\n' ' ' <"$WORK/contents"))"
done
pass "dpkg-deb -c: the binary, both man pages, both units, sysusers.d, example.conf, /etc/nanoid-backfill"
assert_match "$(dpkg-deb -c "$DEB" | grep ' \./etc/nanoid-backfill/$')" '^drwxr-xr-x root/root ' \
	"/etc/nanoid-backfill is a directory, root's, 0755"
assert_eq "$(dpkg-deb -f "$DEB" Package)" "$PKG" "control: Package"
assert_eq "$(dpkg-deb -f "$DEB" Version)" "$DEB_VERSION" "control: Version"
depends=$(dpkg-deb -f "$DEB" Depends)
for lib in libpq5 libsodium23 libev4 libinih1; do
	[[ $depends == *"$lib "* ]] || fail "control: Depends has no $lib (shlibs): $depends"
done
pass "control: Depends from shlibs: libpq5, libsodium23, libev4, libinih1"
dpkg-deb -e "$DEB" "$WORK/control"
assert_file_match "$WORK/control/postinst" '^ *systemd-sysusers .*nanoid-backfill\.conf' \
	"postinst runs systemd-sysusers on nanoid-backfill.conf"

# --- lintian: no error (warnings are listed) --------------------------------------
rc=0
lintian "$CHANGES" >"$WORK/lintian.out" 2>"$WORK/lintian.err" || rc=$?
sed 's/^/# lintian: /' "$WORK/lintian.out"
((rc == 0 || rc == 1)) || { sed 's/^/#   /' "$WORK/lintian.err"; fail "lintian: exit $rc"; }
if grep -q '^E: ' "$WORK/lintian.out"; then
	fail "lintian reports errors: $(grep '^E: ' "$WORK/lintian.out" | head -n 5 | tr '\n' ' ')"
fi
pass "lintian $(basename "$CHANGES") (the .deb and the .changes): no error, $(grep -c '^W: ' "$WORK/lintian.out" || true) warnings"

# --- install ----------------------------------------------------------------------
MODE=dpkg
why=
if ((EUID != 0)); then
	MODE=extract why="not root"
elif [[ ${NB_DEB_INSTALL:-1} == 0 ]]; then
	MODE=extract why="NB_DEB_INSTALL=0"
elif dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
	MODE=extract why="a $PKG package is already on this machine"
else
	for f in "${FILES[@]}"; do
		if [[ -e $f ]]; then
			MODE=extract why="$f is already there"
			break
		fi
	done
fi

INSTALLED=0     # 1 while the package is installed by this test
USER_BEFORE=0   # the system user existed before the test
ETC_BEFORE=0    # /etc/nanoid-backfill existed before the test
getent passwd "$USER_NAME" >/dev/null && USER_BEFORE=1
[[ -e /etc/nanoid-backfill ]] && ETC_BEFORE=1

# Undo whatever is still installed when the test ends early, then lib.sh's
# cleanup (which reads the exit status first: restore it for it).
_deb_cleanup() {
	local rc=$?
	set +e
	if ((INSTALLED)); then
		dpkg -P "$PKG" >/dev/null 2>&1 || echo "# could not purge $PKG"
	fi
	if [[ $MODE == dpkg ]] && ((USER_BEFORE == 0)) && getent passwd "$USER_NAME" >/dev/null; then
		userdel "$USER_NAME" 2>/dev/null || echo "# could not remove the user $USER_NAME"
	fi
	(exit "$rc")
	_lib_cleanup
}
trap _deb_cleanup EXIT

if [[ $MODE == dpkg ]]; then
	ROOT=
	rc=0
	INSTALLED=1
	dpkg -i "$DEB" >"$WORK/dpkg-i.log" 2>&1 </dev/null || rc=$?
	((rc == 0)) || { sed 's/^/#   /' "$WORK/dpkg-i.log"; fail "dpkg -i: exit $rc"; }
	pass "dpkg -i $(basename "$DEB")"
	assert_eq "$(dpkg-query -W -f='${Status} ${Version}' "$PKG")" "install ok installed $DEB_VERSION" \
		"dpkg-query: installed, version $DEB_VERSION"
	pw=$(getent passwd "$USER_NAME") || fail "postinst made no user $USER_NAME"
	IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
	((uid < 1000)) || fail "$USER_NAME is not a system user: uid $uid"
	assert_eq "$(getent group "$gid" | cut -d: -f1)" "$USER_NAME" "the user's group is $USER_NAME"
	assert_eq "$home:$shell" "/:/usr/sbin/nologin" "$USER_NAME: system user (uid $uid), home /, no login shell"
	[[ -d /etc/nanoid-backfill ]] || fail "no /etc/nanoid-backfill after dpkg -i"
	pass "/etc/nanoid-backfill is there for job files"
else
	echo "# extracting instead of dpkg -i: $why"
	ROOT=$WORK/root
	dpkg-deb -x "$DEB" "$ROOT" || fail "dpkg-deb -x"
	pass "dpkg-deb -x $(basename "$DEB") into $ROOT"
fi
BIN=$ROOT/usr/bin/nanoid-backfill
EXAMPLE=$ROOT/usr/share/doc/nanoid-backfill/example.conf
[[ -x $BIN ]] || fail "the installed $BIN is not executable"
cmp -s "$EXAMPLE" "$REPO_ROOT/config/example.conf" || fail "the installed example.conf differs from config/example.conf"
pass "the installed example.conf is config/example.conf, uncompressed"

# --- the installed binary -----------------------------------------------------------
assert_eq "$("$BIN" --version)" "nanoid-backfill $VERSION" "installed binary: --version"
"$BIN" --help >"$WORK/help.out" 2>&1 || fail "installed binary: --help exits non-zero"
assert_file_match "$WORK/help.out" '^Usage: nanoid-backfill ' "installed binary: --help"

# A real backfill with the installed example job file (table orders,
# column public_id; the dsn is left to the PG* variables): as the system
# user when installed with dpkg, as the units would run it.
pg_start
N=20000
psqlf <<SQL
CREATE TABLE orders (id bigint PRIMARY KEY, public_id text);
INSERT INTO orders SELECT i, NULL FROM generate_series(1, $N) i;
ANALYZE orders;
SQL
if [[ $MODE == dpkg ]]; then
	cat >"$WORK/as_user" <<EOF
#!/bin/sh
cd / && exec runuser -u $USER_NAME -- $BIN "\$@"
EOF
	chmod 755 "$WORK/as_user"
	NB=$WORK/as_user
	who="as $USER_NAME"
else
	NB=$BIN
	who="as $(id -un)"
fi
run_bf --config "$EXAMPLE" --until-done --progress-interval 1
assert_eq "$RC" 0 "installed binary, example job file, $who: backfill exits 0"
assert_sql "SELECT count(*) FROM orders WHERE public_id IS NULL" 0 "backfill: no NULL left"
assert_sql "SELECT count(*) FROM orders WHERE public_id !~ '$NB_DEFAULT_ID_RE'" 0 \
	"backfill: every value a default nanoid"
assert_sql "SELECT rows_done FROM $NB_JOBS WHERE table_name = 'orders'" "$N" "backfill: rows_done = $N"

# --- the installed units: systemd-analyze verify ------------------------------------
# As systemd_units.sh does: instances of the templates, their man pages
# found through MANPATH. Installed with dpkg, the units are verified as
# installed (ExecStart= is /usr/bin/nanoid-backfill); extracted, ExecStart=
# is pointed into the temp root.
mkdir -p "$WORK/units"
for u in nanoid-backfill@.service nanoid-backfill-once@.service; do
	f=$ROOT/usr/lib/systemd/system/$u
	assert_file_match "$f" '^ExecStart=/usr/bin/nanoid-backfill --config /etc/nanoid-backfill/%i\.conf' \
		"$u: ExecStart is /usr/bin/nanoid-backfill"
	assert_file_match "$f" "^User=$USER_NAME\$" "$u: User=$USER_NAME"
	inst=${u/@./@deb.}
	sed -E "s|^(ExecStart=)/usr/bin/nanoid-backfill |\1$BIN |" "$f" >"$WORK/units/$inst"
done
rc=0
MANPATH=$ROOT/usr/share/man SYSTEMD_LOG_LEVEL=notice \
	systemd-analyze verify "$WORK"/units/*.service >"$WORK/verify.out" 2>&1 || rc=$?
if ((rc != 0)) || [[ -s $WORK/verify.out ]]; then
	sed 's/^/#   /' "$WORK/verify.out"
	fail "systemd-analyze verify of the installed units: exit $rc, output above"
fi
pass "systemd-analyze verify: both installed units clean"

# --- remove it again ------------------------------------------------------------------
if [[ $MODE == dpkg ]]; then
	rc=0
	dpkg -P "$PKG" >"$WORK/dpkg-P.log" 2>&1 </dev/null || rc=$?
	((rc == 0)) || { sed 's/^/#   /' "$WORK/dpkg-P.log"; fail "dpkg -P: exit $rc"; }
	INSTALLED=0
	dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok installed' && fail "still installed after dpkg -P"
	for f in "${FILES[@]}"; do
		[[ ! -e $f ]] || fail "dpkg -P left $f"
	done
	if ((ETC_BEFORE == 0)); then
		[[ ! -e /etc/nanoid-backfill ]] || fail "dpkg -P left /etc/nanoid-backfill (it has: $(ls -A /etc/nanoid-backfill))"
	fi
	pass "dpkg -P: package and its files gone"
	# Purge leaves the system user (Debian's way: files it owns may remain).
	getent passwd "$USER_NAME" >/dev/null || fail "dpkg -P removed the user $USER_NAME"
	pass "dpkg -P leaves the user $USER_NAME"
	if ((USER_BEFORE == 0)); then
		userdel "$USER_NAME" || fail "userdel $USER_NAME"
		! getent passwd "$USER_NAME" >/dev/null || fail "the user $USER_NAME is still there"
		! getent group "$USER_NAME" >/dev/null || groupdel "$USER_NAME" || fail "groupdel $USER_NAME"
		pass "removed the user and group $USER_NAME this test made: the machine is as it was"
	fi
fi

finish
