# shellcheck shell=bash disable=SC2034  # BUILDTYPE is for the sourcing script
# lib.sh - what the benchmarks share, sourced after they set ROOT (the
# checkout), BUILD (their build directory), NB (the binary in it) and die.

# bench_build: configures BUILD (again, if it exists) and builds the
# binary; sets BUILDTYPE, the meson buildtype, for the report.
bench_build() {
	if [[ -f $BUILD/build.ninja ]]; then
		meson setup --reconfigure "$BUILD" "$ROOT" >&2
	else
		meson setup "$BUILD" "$ROOT" >&2
	fi
	meson compile -C "$BUILD" nanoid-backfill >&2
	[[ -x $NB ]] || die "no $NB after the build"
	BUILDTYPE=$(meson introspect --buildoptions "$BUILD" 2>/dev/null |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null ||
		echo unknown)
}
