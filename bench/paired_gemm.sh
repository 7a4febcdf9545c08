#!/bin/sh
# paired_gemm.sh: a GEMM kernel file at two revisions, timed in one process (bench/paired_gemm.c
# says how). Needs a configured build (build/libsdc.a, for the driver and everything else).
#
#   bench/paired_gemm.sh OLD_REV [NEW_REV] [FILE] [PAIRS]
#
# NEW_REV defaults to the working tree ("-" names it too), FILE to ops/gemm_avx2.c (any kernel
# file whose getter is sdc_gemm_kernel_<name>(sdc_a_layout) and which still fits the current
# ops/gemm_driver.h), PAIRS to 12. SHAPES (environment) overrides the SD 1.5 linear shapes.
# Both copies get the project's flags, -falign-loops=64 included, so that neither wins by
# where its loop lands. Example: bench/paired_gemm.sh 32e7329
set -eu
[ $# -ge 1 ] || { echo "usage: $0 OLD_REV [NEW_REV|-] [FILE] [PAIRS]" >&2; exit 2; }
OLD=$1 NEW=${2:--} FILE=${3:-ops/gemm_avx2.c} PAIRS=${4:-12}
SHAPES=${SHAPES:-"8192 320 320  8192 2560 320  8192 320 1280  2048 640 640  2048 5120 640
  2048 640 2560  512 1280 1280  512 10240 1280  512 1280 5120"}
ROOT=$(git rev-parse --show-toplevel)
cd "$ROOT"
[ -f build/libsdc.a ] || { echo "$0: build/libsdc.a: not built (meson setup build)" >&2; exit 2; }
getter=$(grep -o 'sdc_gemm_kernel_[a-z0-9_]*(sdc_a_layout' "$FILE" | head -1 | cut -d'(' -f1)
[ -n "$getter" ] || { echo "$0: $FILE: no sdc_gemm_kernel_*(sdc_a_layout) getter" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CFLAGS="-O3 -std=c11 -D_GNU_SOURCE -fno-math-errno -falign-loops=64 -fopenmp -I. -Iinclude -Ibuild"
for side in old new; do
    rev=$OLD
    [ $side = new ] && rev=$NEW
    if [ "$rev" = - ]; then cat "$FILE"; else git show "$rev:$FILE"; fi |
        sed "s/$getter(/pair_$side(/" >"$TMP/$side.c"
    # the copies include their headers by the tree's paths
    cc $CFLAGS -c "$TMP/$side.c" -o "$TMP/$side.o"
done
cc $CFLAGS bench/paired_gemm.c bench/measure.c "$TMP/old.o" "$TMP/new.o" -o "$TMP/paired_gemm" \
    -Wl,--start-group build/libsdc.a -lm -ljansson -lpng16 -lfftw3f -lz -lutf8proc -lstb \
    -lzip -Wl,--end-group
echo "$FILE: $OLD (old) against $NEW (new), $PAIRS pairs, ${OMP_NUM_THREADS:-all} threads"
# shellcheck disable=SC2086
"$TMP/paired_gemm" "$PAIRS" $SHAPES
