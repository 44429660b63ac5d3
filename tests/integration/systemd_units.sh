#!/usr/bin/env bash
# systemd_units: the unit files meson generates from systemd/*.service.in
# pass `systemd-analyze verify` (with their ExecStart pointed at the built
# binary, which verify requires to exist, and their Documentation= man
# pages found in the source tree), say what the service relies on
# (Type=notify, watchdog, reload, restart policy), and keep a low exposure
# score in `systemd-analyze security`. No PostgreSQL needed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd_units: SKIP: systemd-analyze not found (Debian package systemd)"
	SUMMARY_DONE=1
	exit 77
fi

BUILD=${NB_BUILD_ROOT:-$(dirname "$NB")}
BINDIR=${NB_BINDIR:-}
UNITS=(nanoid-backfill@.service nanoid-backfill-once@.service)

for u in "${UNITS[@]}"; do
	[[ -f $BUILD/systemd/$u ]] || fail "meson did not generate $BUILD/systemd/$u"
done
pass "meson generated ${UNITS[*]}"

# --- what meson substituted ------------------------------------------------------
for u in "${UNITS[@]}"; do
	f=$BUILD/systemd/$u
	assert_file_nomatch "$f" '@[A-Z_]+@' "$u: no placeholder left"
	exec_start=$(grep -m1 '^ExecStart=' "$f")
	if [[ -n $BINDIR ]]; then
		assert_match "$exec_start" "^ExecStart=$BINDIR/nanoid-backfill --config /etc/nanoid-backfill/%i\.conf" \
			"$u: ExecStart is the installed binary ($BINDIR/nanoid-backfill)"
	else
		assert_match "$exec_start" '^ExecStart=/[^ ]*/nanoid-backfill ' "$u: ExecStart is an absolute path"
	fi
done

# --- what the service relies on -----------------------------------------------
S=$BUILD/systemd/nanoid-backfill@.service
O=$BUILD/systemd/nanoid-backfill-once@.service
for want in '^Type=notify$' '^NotifyAccess=main$' '^WatchdogSec=[1-9]' \
	'^ExecReload=/bin/kill -HUP \$MAINPID$' '^Restart=on-failure$' \
	'^RestartPreventExitStatus=64 78$' '^User=nanoid-backfill$' '^DynamicUser=yes$' \
	'^ProtectSystem=strict$' '^NoNewPrivileges=yes$' '^CapabilityBoundingSet=$' \
	'^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' '^SystemCallFilter=@system-service$'; do
	assert_file_match "$S" "$want" "service unit: $want"
done
assert_file_nomatch "$S" '--until-done' "service unit: runs as a service (no --until-done)"
for want in '^Type=oneshot$' '^RemainAfterExit=no$' 'ExecStart=.* --until-done$' \
	'^User=nanoid-backfill$' '^DynamicUser=yes$' '^ProtectSystem=strict$'; do
	assert_file_match "$O" "$want" "oneshot unit: $want"
done

# --- systemd-analyze verify ----------------------------------------------------
# verify loads instances, wants ExecStart to be executable, and looks up
# Documentation=man:... with man(1): give it the built binary and the
# source tree's pages.
mkdir -p "$WORK/units" "$WORK/man/man8" "$WORK/man/man5"
cp "$REPO_ROOT/man/nanoid-backfill.8" "$WORK/man/man8/"
cp "$REPO_ROOT/man/nanoid-backfill.conf.5" "$WORK/man/man5/"
for u in "${UNITS[@]}"; do
	inst=${u/@./@test.}
	sed -E "s|^(ExecStart=)[^ ]*/nanoid-backfill |\1$NB |" "$BUILD/systemd/$u" >"$WORK/units/$inst"
	grep -q "^ExecStart=$NB " "$WORK/units/$inst" || fail "could not point $inst at $NB"
done
rc=0
MANPATH=$WORK/man SYSTEMD_LOG_LEVEL=notice \
	systemd-analyze verify "$WORK"/units/*.service >"$WORK/verify.out" 2>&1 || rc=$?
if ((rc != 0)) || [[ -s $WORK/verify.out ]]; then
	sed 's/^/#   /' "$WORK/verify.out"
	fail "systemd-analyze verify: exit $rc, output above"
fi
pass "systemd-analyze verify: both units clean, no output"

# A broken unit is caught (the check above can fail).
sed 's/^Type=notify$/Type=notifyy/' "$WORK/units/nanoid-backfill@test.service" >"$WORK/units/broken@test.service"
rc=0
MANPATH=$WORK/man systemd-analyze verify "$WORK/units/broken@test.service" >"$WORK/broken.out" 2>&1 || rc=$?
[[ -s $WORK/broken.out ]] || fail "systemd-analyze verify said nothing about Type=notifyy"
pass "systemd-analyze verify reports a broken unit (exit $rc: $(head -n 1 "$WORK/broken.out"))"
rm "$WORK/units/broken@test.service"

# --- hardening: exposure at most 2.0 of 10 ("OK") ---------------------------------
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
	for u in nanoid-backfill@test.service nanoid-backfill-once@test.service; do
		rc=0
		systemd-analyze security --offline=yes --threshold=20 "$WORK/units/$u" \
			>"$WORK/security.out" 2>&1 || rc=$?
		score=$(grep -Eo 'Overall exposure level for [^:]*: [0-9.]+' "$WORK/security.out" | grep -Eo '[0-9.]+$' || true)
		((rc == 0)) || { tail -n 30 "$WORK/security.out" | sed 's/^/#   /'; fail "$u: exposure ${score:-?} above 2.0"; }
		pass "$u: systemd-analyze security exposure ${score:-?} (at most 2.0)"
	done
else
	echo "# systemd-analyze security --offline not supported here; exposure not checked"
fi

finish
