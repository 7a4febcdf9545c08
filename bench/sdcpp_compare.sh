#!/bin/sh
# sdcpp_compare.sh: sdc beside stable-diffusion.cpp on the same full-size checkpoints, in one
# run, one program after the other, and a table of stage times and picture differences.
#
#   SD_CLI=/work/sdcpp/build/bin/sd-cli SDC=build/cmd/sdc BENCH=build/bench/bench_sd \
#       sh bench/sdcpp_compare.sh
#
# Settings (environment, with their defaults):
#   SD_CLI   stable-diffusion.cpp's CLI (../shared/tools/build-sdcpp.sh builds it); required
#   SDC      sdc's program (build/cmd/sdc)
#   BENCH    bench_sd (build/bench/bench_sd); png-psnr is taken from its folder (PSNR=...)
#   MODEL    f16 checkpoint (/tmp/fullsize/sd15-f16.safetensors, from make-random-checkpoint)
#   Q8       its q8_0 conversion (/tmp/fullsize/sd15-q8_0.gguf, from sdc convert --type q8_0)
#   TAESD    full-size TAESD (/tmp/fullsize/taesd-f16.safetensors)
#   SDC_VOCAB CLIP vocabulary for sdc, as sdc reads it (../shared/clip/bpe_simple_vocab_16e6.txt.gz
#            when that exists: random checkpoints carry none; sd-cli has its own built in)
#   SIZE 512, THREADS 2, STEPS 2 (sd-cli / sdc steps), RUNS 2 (bench_sd's timed calls after
#   its cold one), OUT (a new folder under /tmp: every log and picture, kept for reading)
#
# What runs and what each figure is:
#   sdc: bench_sd --stages unet,vae,taesd on MODEL and --stages unet on Q8, each with
#     --precision fp32 and bf16: the median of RUNS warm calls of the UNet step (batch 2, that
#     is a CFG step), the VAE decode and the TAESD decode of a SIZE/8 latent.
#   sd.cpp: sd-cli -v, STEPS steps of euler_a at cfg 7 (each step runs the UNet twice at batch
#     1), seed 42, --rng cpu, on MODEL (its VAE), on Q8 (its VAE) and on MODEL with --taesd.
#     Step = the last step's "N/N - X s/it" of its progress line (a warm step when STEPS > 1);
#     decode = its "latent 1 decoded, taking X s". Its weights are loaded in full first.
#   Pictures: sdc -m MODEL and -m Q8 with the same command line as sd-cli, compared as 8-bit
#     RGB by png-psnr (q8_0 against f16 for each program; sdc against sd.cpp per file).
# Timing is only meaningful on an otherwise idle machine: the load average is printed before
# and after. At 512x512 the whole script takes about 10-15 minutes on two Zen 5 cores, most
# of it in sd-cli.
set -eu

SDC=${SDC:-build/cmd/sdc}
BENCH=${BENCH:-build/bench/bench_sd}
PSNR=${PSNR:-$(dirname "$BENCH")/png-psnr}
MODEL=${MODEL:-/tmp/fullsize/sd15-f16.safetensors}
Q8=${Q8:-/tmp/fullsize/sd15-q8_0.gguf}
TAESD=${TAESD:-/tmp/fullsize/taesd-f16.safetensors}
SIZE=${SIZE:-512}
THREADS=${THREADS:-2}
STEPS=${STEPS:-2}
RUNS=${RUNS:-2}
PROMPT="a lovely cat"
vocab=../shared/clip/bpe_simple_vocab_16e6.txt.gz
if [ -z "${SDC_VOCAB:-}" ] && [ -r "$vocab" ]; then
    SDC_VOCAB=$vocab
    export SDC_VOCAB
fi

die() {
    echo "sdcpp_compare.sh: $*" >&2
    exit 1
}

[ -n "${SD_CLI:-}" ] || die "set SD_CLI to stable-diffusion.cpp's sd-cli"
for f in "$SD_CLI" "$SDC" "$BENCH" "$PSNR"; do
    [ -x "$f" ] || die "$f: not an executable program"
done
for f in "$MODEL" "$Q8" "$TAESD"; do
    [ -r "$f" ] || die "$f: cannot read it"
done
OUT=${OUT:-$(mktemp -d /tmp/sdcpp_compare.XXXXXX)}
mkdir -p "$OUT"

# The median column of bench_sd's row whose name starts with $1 (the 9th column from the
# right: median, cpu s, GFLOP, GFLOP/s, % peak, % cpu, peak, anon, file MiB).
bench_median() {
    awk -v s="$1" 'index($0, s) == 1 { v = $(NF - 8) } END { print (v == "" ? "-" : v) }' "$2"
}

# sd-cli's last step time in seconds: its progress line says "X.XXs/it", or "X.XXit/s"
# below one second a step.
sdcpp_step() {
    tr '\r' '\n' < "$1" |
        awk 'match($0, /[0-9]+\/[0-9]+ - [0-9.]+(s\/it|it\/s)/) {
                 t = substr($0, RSTART, RLENGTH); sub(/.* - /, "", t)
                 if (t ~ /it\/s$/) { sub(/it\/s$/, "", t); v = (t > 0 ? 1 / t : "-") }
                 else { sub(/s\/it$/, "", t); v = t + 0 } }
             END { print (v == "" ? "-" : v) }'
}

sdcpp_decode() {
    sed -n 's/.*latent 1 decoded, taking \([0-9.]*\)s.*/\1/p' "$1" | tail -n 1 | grep . || echo -
}

psnr() {
    "$PSNR" "$1" "$2" 2>&1 | sed 's/^PSNR //' || true
}

echo "sdcpp_compare: $(grep -m 1 'model name' /proc/cpuinfo | sed 's/.*: //'), $THREADS threads," \
    "${SIZE}x$SIZE; load average $(cut -d ' ' -f 1-3 /proc/loadavg); logs in $OUT"

for p in fp32 bf16; do
    echo "bench_sd $p on $MODEL ..."
    "$BENCH" --model "$MODEL" --taesd "$TAESD" --size "$SIZE" --threads "$THREADS" \
        --runs "$RUNS" --stages unet,vae,taesd --precision $p > "$OUT/bench_f16_$p.log" 2>&1 ||
        die "bench_sd failed: $OUT/bench_f16_$p.log"
    echo "bench_sd $p on $Q8 ..."
    "$BENCH" --model "$Q8" --size "$SIZE" --threads "$THREADS" --runs "$RUNS" --stages unet \
        --precision $p > "$OUT/bench_q8_$p.log" 2>&1 || die "bench_sd failed: $OUT/bench_q8_$p.log"
done

# the command line both programs take (sdc spells sd.cpp's flags the same): $1 the program,
# then its own flags
gen() {
    prog=$1
    shift
    "$prog" "$@" -p "$PROMPT" -W "$SIZE" -H "$SIZE" --steps "$STEPS" --sampling-method euler_a \
        --cfg-scale 7 -s 42 --rng cpu -t "$THREADS" -v
}
# $1 name of the log and picture, $2 model, then extra flags
run_sdcpp() {
    name=$1 model=$2
    shift 2
    echo "sd-cli $name ..."
    gen "$SD_CLI" -M img_gen -m "$model" -o "$OUT/sdcpp_$name.png" "$@" \
        > "$OUT/sdcpp_$name.log" 2>&1 || die "sd-cli failed: $OUT/sdcpp_$name.log"
}
run_sdc() {
    echo "sdc $1 ..."
    gen "$SDC" -m "$2" -o "$OUT/sdc_$1.png" > "$OUT/sdc_$1.log" 2>&1 ||
        die "sdc failed: $OUT/sdc_$1.log"
}
run_sdcpp f16 "$MODEL"
run_sdcpp q8_0 "$Q8"
run_sdcpp taesd "$MODEL" --taesd "$TAESD"
run_sdc f16 "$MODEL"
run_sdc q8_0 "$Q8"

B=$OUT/bench
row() { # label, sdc fp32, sdc bf16, sd.cpp
    awk -v l="$1" -v a="$2" -v b="$3" -v c="$4" 'BEGIN {
        r = (a + 0 > 0 && c + 0 > 0) ? sprintf("%.1fx", c / a) : "-"
        printf "%-28s %10s %10s %10s %16s\n", l, a, b, c, r }'
}
echo
echo "seconds, ${SIZE}x$SIZE, $THREADS threads; load average now $(cut -d ' ' -f 1-3 /proc/loadavg)"
row "stage" "sdc fp32" "sdc bf16" "sd.cpp" "sd.cpp/sdc fp32"
row "UNet step, CFG (f16 file)" "$(bench_median "unet step" "${B}_f16_fp32.log")" \
    "$(bench_median "unet step" "${B}_f16_bf16.log")" "$(sdcpp_step "$OUT/sdcpp_f16.log")"
row "VAE decode" "$(bench_median "vae decode" "${B}_f16_fp32.log")" \
    "$(bench_median "vae decode" "${B}_f16_bf16.log")" "$(sdcpp_decode "$OUT/sdcpp_f16.log")"
row "TAESD decode" "$(bench_median "taesd decode" "${B}_f16_fp32.log")" \
    "$(bench_median "taesd decode" "${B}_f16_bf16.log")" "$(sdcpp_decode "$OUT/sdcpp_taesd.log")"
row "UNet step, CFG (q8_0 file)" "$(bench_median "unet step" "${B}_q8_fp32.log")" \
    "$(bench_median "unet step" "${B}_q8_bf16.log")" "$(sdcpp_step "$OUT/sdcpp_q8_0.log")"
echo
echo "pictures ($STEPS euler_a steps, cfg 7, seed 42, --rng cpu), 8-bit RGB:"
echo "  q8_0 against f16, sdc:     $(psnr "$OUT/sdc_f16.png" "$OUT/sdc_q8_0.png")"
echo "  q8_0 against f16, sd.cpp:  $(psnr "$OUT/sdcpp_f16.png" "$OUT/sdcpp_q8_0.png")"
echo "  sdc against sd.cpp, f16:   $(psnr "$OUT/sdc_f16.png" "$OUT/sdcpp_f16.png")"
echo "  sdc against sd.cpp, q8_0:  $(psnr "$OUT/sdc_q8_0.png" "$OUT/sdcpp_q8_0.png")"
