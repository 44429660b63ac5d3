#!/usr/bin/env bash
# test.sh - the README's test command: dependencies, a normal build and its
# tests (unit + integration against a throwaway PostgreSQL), then the same
# tests in an AddressSanitizer/UBSan build. Exits non-zero if anything fails.
set -euo pipefail
# shellcheck source=scripts/as_root.sh
source "$(dirname "$0")/as_root.sh"
as_root FUZZ_TIME FUZZ_TARGETS FUZZ_DIR FUZZ_CC VALGRIND_INTEGRATION -- "$@"
cd "$(dirname "$0")/.."

bash scripts/deps.sh

# setup_dir DIR [OPTIONS...]: configure a build directory, or reconfigure it.
setup_dir() {
	local dir=$1
	shift
	if [[ -d $dir/meson-private ]]; then
		meson setup --reconfigure "$dir" "$@"
	else
		meson setup "$dir" "$@"
	fi
}

status=0

echo "== build"
setup_dir build
meson compile -C build
echo "== test (build)"
meson test -C build --print-errorlogs || status=1

echo "== build-asan"
setup_dir build-asan -Db_sanitize=address,undefined -Db_lundef=false
meson compile -C build-asan
echo "== test (build-asan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	meson test -C build-asan --print-errorlogs || status=1

# Extra stages, after the suites above. Each prints "ok - ..." or
# "not ok - ..." per test; the lines are kept (*.tap) and counted below.
stage() { # NAME LOG CMD...: run one stage, print how long it took
	local name=$1 log=$2 start=$SECONDS
	shift 2
	echo "== $name"
	"$@" 2>&1 | tee "$log" || status=1
	echo "== $name: $((SECONDS - start)) s"
}
stage "valgrind memcheck (build: unit tests, fill_basic)" build/valgrind.tap \
	bash scripts/valgrind.sh build
stage "fuzz (libFuzzer + ASan + UBSan, ${FUZZ_TIME:-30} s per target)" build/fuzz.tap \
	bash scripts/fuzz.sh "${FUZZ_TIME:-30}"

# One closing line over every stage, counted from meson's JSON logs and the
# extra stages' ok/not ok lines.
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
	build/valgrind.tap build/fuzz.tap <<'PY' || status=1
import json, sys
n = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        n["failed"] += 1      # a suite that left no log did not pass
        continue
    if path.endswith(".tap"):
        seen = 0
        for line in lines:
            if line.startswith("ok - "):
                n["skipped" if "# SKIP" in line else "passed"] += 1
                seen += 1
            elif line.startswith("not ok - "):
                n["failed"] += 1
                seen += 1
        if not seen:
            n["failed"] += 1  # a stage that reported nothing did not pass
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            n["passed"] += 1
        elif r == "SKIP":
            n["skipped"] += 1
        else:
            n["failed"] += 1
print("test.sh: %(passed)d passed, %(failed)d failed, %(skipped)d skipped" % n)
sys.exit(1 if n["failed"] else 0)
PY

if ((status != 0)); then
	echo "test.sh: FAILED (see the logs above; full logs in build*/meson-logs/testlog.txt)"
fi
exit "$status"
