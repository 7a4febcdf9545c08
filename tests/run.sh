#!/bin/sh
# Builds sdc twice (optimised, and with AddressSanitizer + UBSan) and runs the whole test
# suite in both. The golden data is read from ../shared/golden beside the checkout; without
# it (a fresh clone) the tests that need it are skipped, and a line says how many.
set -e
cd "$(dirname "$0")/.."
shared="$(pwd)/../shared"

# skipped_for BUILD: how many tests the TAP reports of the last run (tests/meson.build,
# tests/cli/cli.sh) list as skipped for want of golden data or the CLIP vocabulary.
skipped_for() {
    for what in "golden data" "CLIP vocabulary"; do
        n=$(cat "$1"/tests/report-*.tap 2>/dev/null | grep -c "# SKIP $what not found at" || true)
        case $what in
        golden*) where="$shared/golden" ;;
        *) where="$shared/clip" ;;
        esac
        [ "$n" = 0 ] || echo "$what not found at $where: $n tests skipped"
    done
}

# run_in BUILD [MESON TEST ARGS]: the suite, Criterion's summary of each program, the skips
run_in() {
    build=$1
    shift
    rm -f "$build"/tests/report-*.tap
    "$@" meson test -C "$build" --print-errorlogs
    grep -h "Synthesis" "$build/meson-logs/testlog.txt" # Criterion's summary of each program
    skipped_for "$build"
}

[ -d build ] || meson setup build
run_in build
[ -d build-asan ] || meson setup build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false
run_in build-asan env UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
