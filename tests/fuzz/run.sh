#!/bin/sh
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan, coverage on the whole
# library) in build-fuzzer/ and runs each for SECONDS (default 30), one after another in a
# single process each (the 2 CI cores are shared). New inputs go to a scratch folder; the
# seed corpus in tests/fuzz/corpus/ is only read. A crash, leak, sanitizer report, timeout
# (> 10 s for one input) or out-of-memory (> 2 GB) stops the script with the reproducer in
# build-fuzzer/artifacts/: turn it into a regression (tests/fuzz/regressions/<target>/).
#
#   tests/fuzz/run.sh [SECONDS [TARGET...]]
set -e
cd "$(dirname "$0")/../.."
seconds=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-"safetensors gguf diffusers_config pickle ckpt image mask prompt_attention prompt_schedule tokenizer metadata jobfile lora controlnet taesd"}
dir=build-fuzzer

# ops/ compiles each SIMD file for its instructions: '#pragma GCC target' under gcc,
# '#pragma clang attribute push' under clang. The fuzz build is compiled for AVX2 (every CPU
# this project runs on has it), not AVX-512: with -mavx512f for the whole build, clang used
# AVX-512 in ordinary code, and the fuzzers died of SIGILL on an AVX2-only CPU (AMD Zen 3).
# The run-time dispatch is pinned to the scalar path (fuzzing never runs the kernels; clang 14
# also lacks some of gcc's __builtin_cpu_supports feature names).
if [ ! -d "$dir" ]; then
    CC=clang meson setup "$dir" -Dfuzz=true -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        "-Dc_args=['-fsanitize=fuzzer-no-link', '-Wno-unknown-pragmas', '-mavx2', '-mfma',
                   '-mf16c', '-D__builtin_cpu_supports(feature)=0']"
fi
ninja -C "$dir" $(for t in $targets; do printf 'tests/fuzz/fuzz_%s ' "$t"; done)

export SDC_VOCAB="${SDC_VOCAB:-$PWD/../shared/clip/bpe_simple_vocab_16e6.txt.gz}"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export OMP_NUM_THREADS=1
mkdir -p "$dir/artifacts"
summary="$dir/fuzz-summary.txt"
: > "$summary"
for t in $targets; do
    scratch=$(mktemp -d)
    log="$dir/fuzz_$t.log"
    echo "fuzz_$t: $seconds s"
    if ! "$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t-" \
            "$scratch" "tests/fuzz/corpus/$t" > "$log" 2>&1; then
        tail -n 60 "$log"
        rm -rf "$scratch"
        echo "fuzz_$t FOUND A PROBLEM; the input is in $dir/artifacts/" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    seeds=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
    found=$(find "$scratch" -type f | wc -l)
    rm -rf "$scratch"
    printf '%-18s %3s seeds  %9s runs  %6s exec/s  %5s new inputs\n' \
        "$t" "$seeds" "$runs" "$rate" "$found" | tee -a "$summary"
done
