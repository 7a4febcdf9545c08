#!/bin/sh
# bench_sd --stages micro at bf16 keeps packed weight copies, and --no-packed does not:
# the count of shapes whose weight held a packed copy after the warm-up call. Skipped
# (exit 77) on a CPU without AVX512_BF16, where the stage runs in f32 and packs nothing.
bench=$1
out=$("$bench" --smoke --stages micro --precision bf16) || exit 1
case $out in
*"bf16 math"*) ;;
*) echo "skipped: no AVX512_BF16 on this CPU, the micro stage runs in f32"; exit 77 ;;
esac
kept=$(printf '%s\n' "$out" | sed -n 's/^shapes whose weight kept a packed copy after the warm-up call: //p')
[ -n "$kept" ] && [ "$kept" -gt 0 ] || { echo "packed run kept no copies: '$kept'"; exit 1; }
out=$("$bench" --smoke --stages micro --precision bf16 --no-packed) || exit 1
kept=$(printf '%s\n' "$out" | sed -n 's/^shapes whose weight kept a packed copy after the warm-up call: //p')
[ "$kept" = 0 ] || { echo "--no-packed run kept copies: '$kept'"; exit 1; }
echo "packed: copies kept; --no-packed: none"
