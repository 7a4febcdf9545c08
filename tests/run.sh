#!/bin/sh
# Builds sdc twice (optimised, and with AddressSanitizer + UBSan) and runs the whole test
# suite in both. Expects ../shared/golden beside the checkout.
set -e
cd "$(dirname "$0")/.."
[ -d build ] || meson setup build
meson test -C build --print-errorlogs
grep -h "Synthesis" build/meson-logs/testlog.txt # Criterion's summary of each test program
[ -d build-asan ] || meson setup build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C build-asan --print-errorlogs
grep -h "Synthesis" build-asan/meson-logs/testlog.txt
