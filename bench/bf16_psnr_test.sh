#!/bin/sh
# bench/bf16-psnr: one line per seed (as many as --seeds asks), then the summary; bad usage
# exits 2. Skipped (exit 77) on a CPU without AVX512_BF16, where the tool refuses to run,
# and where the golden model is absent.
tool=$1
model=$SDC_GOLDEN/models/tiny-sd1/model.safetensors
grep -qw avx512_bf16 /proc/cpuinfo || { echo "skipped: no AVX512_BF16 on this CPU"; exit 77; }
[ -f "$model" ] || { echo "skipped: $model is absent (../shared/golden)"; exit 77; }
[ -f "$SDC_VOCAB" ] || { echo "skipped: no CLIP vocabulary at '$SDC_VOCAB'"; exit 77; }
for seeds in 1 3; do
    out=$("$tool" --seeds $seeds --steps 2 --size 64 "$model" euler) || exit 1
    lines=$(printf '%s\n' "$out" | grep -c " euler seed [0-9]*: [0-9.inf]* dB")
    [ "$lines" = $seeds ] || { echo "--seeds $seeds printed $lines seed lines:"; echo "$out"; exit 1; }
    printf '%s\n' "$out" | grep -q " euler, $seeds seeds: mean [0-9.inf]* dB, median" ||
        { echo "--seeds $seeds: no summary:"; echo "$out"; exit 1; }
done
"$tool" --seeds 0 "$model" euler 2>/dev/null
[ $? = 2 ] || { echo "--seeds 0 was not refused as bad usage"; exit 1; }
"$tool" "$model" 2>/dev/null
[ $? = 2 ] || { echo "a model without a sampler was not refused as bad usage"; exit 1; }
echo "one line per seed and the summary; bad usage refused"
