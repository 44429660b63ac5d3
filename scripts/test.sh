#!/usr/bin/env bash
# test.sh - the README's test command: dependencies, a normal build and its
# tests (unit + integration against a throwaway PostgreSQL), then the same
# tests in an AddressSanitizer/UBSan build. Exits non-zero if anything fails.
set -euo pipefail
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

# One closing line over both builds, counted from meson's JSON logs.
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY' || status=1
import json, sys
n = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        n["failed"] += 1      # a suite that left no log did not pass
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
