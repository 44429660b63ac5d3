#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang,
# -fsanitize=fuzzer,address,undefined, and run each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS]     default 30 per target (FUZZ_TIME)
#   FUZZ_TARGETS="fuzz_config"    run only these
#   FUZZ_DIR=build-fuzz           objects, binaries, the grown corpora and
#                                 crash artifacts (crash-*, leak-*, ...)
#
# Each target first replays its seed corpus (tests/fuzz/corpus/NAME without
# the fuzz_ prefix), then fuzzes from a copy of it, so the repository's seeds
# never change. Prints "fuzz: N passed, M failed" and exits non-zero if any
# target found a crash, a leak or undefined behaviour (the input that did it
# is in $FUZZ_DIR/artifacts/; replay: $FUZZ_DIR/NAME FILE).
# Needs clang with compiler-rt's libFuzzer (Debian: clang, libclang-rt-dev;
# scripts/deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

TIME=${1:-${FUZZ_TIME:-30}}
DIR=${FUZZ_DIR:-build-fuzz}
CC=${FUZZ_CC:-clang}
mkdir -p "$DIR/obj" "$DIR/artifacts"

command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (install clang)" >&2; exit 1; }

# shellcheck disable=SC2054 # the commas are clang's
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
read -ra PKG_CFLAGS <<<"$(pkg-config --cflags libpq libsodium inih)"
read -ra PKG_LIBS <<<"$(pkg-config --libs libpq libsodium inih)"
CFLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -Iinclude "${PKG_CFLAGS[@]}" -DNB_VERSION='"fuzz"')
LIBS=("${PKG_LIBS[@]}" -lev -lm)

# The whole core, main.c aside, instrumented for coverage; each target links
# against it (the config parser calls into nanoid.c, hours.c, log.c, ...).
objs=()
for src in src/*.c; do
	[[ $src == src/main.c ]] && continue
	obj=$DIR/obj/$(basename "${src%.c}").o
	if [[ ! -e $obj || $src -nt $obj || -n $(find include -newer "$obj" -name '*.h' -print -quit) ]]; then
		"$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
	fi
	objs+=("$obj")
done

targets=${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')}
passed=0
failed=0
for t in $targets; do
	echo "-- $t: build"
	"$CC" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer "tests/fuzz/$t.c" "${objs[@]}" \
		"${LIBS[@]}" -o "$DIR/$t"
	seeds=tests/fuzz/corpus/${t#fuzz_}
	corpus=$DIR/corpus/${t#fuzz_}
	mkdir -p "$corpus"
	cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
	opts=(-artifact_prefix="$DIR/artifacts/$t-" -timeout=10 -rss_limit_mb=2048
		-max_len=4096 -print_final_stats=1)
	echo "-- $t: replay the seeds, then fuzz for $TIME s"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	if "$DIR/$t" "${opts[@]}" -runs=0 "$seeds" >"$DIR/$t.replay.log" 2>&1 &&
		"$DIR/$t" "${opts[@]}" -max_total_time="$TIME" "$corpus" >"$DIR/$t.log" 2>&1; then
		echo "ok - $t: $(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$DIR/$t.log" |
			grep -Eo '[0-9]+$') runs in $TIME s, corpus $(ls "$corpus" | wc -l) inputs, no finding"
		passed=$((passed + 1))
	else
		echo "not ok - $t: a finding (log: $DIR/$t.log, inputs: $DIR/artifacts/)"
		tail -n 30 "$DIR/$t.replay.log" "$DIR/$t.log" 2>/dev/null | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
