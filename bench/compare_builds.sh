#!/bin/bash
# Two builds of sdc side by side on the same machine, alternating (old, new, old, new) so that
# the host's drift between minutes hits both alike: the bf16 UNet step with its fp32 ratio,
# the VAE decode, whole few-step and 20-step runs, and whether their pictures are identical.
#
#   bench/compare_builds.sh OLD_TREE NEW_TREE [MODEL_DIR]
#
# Each tree needs build/cmd/sdc and build/bench/bench_sd. MODEL_DIR (default /tmp/fullsize)
# holds full-size random checkpoints made by bench/make-random-checkpoint:
# sd15-f16.safetensors, sd15-turbo-f16.safetensors and taesd-f16.safetensors. SDC_VOCAB must
# name CLIP's vocabulary. Pictures go to a temporary folder, removed at the end.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 OLD_TREE NEW_TREE [MODEL_DIR]" >&2
    exit 2
fi
OLD=$1 NEW=$2 F=${3:-/tmp/fullsize}
for t in "$OLD" "$NEW"; do
    for b in cmd/sdc bench/bench_sd; do
        [ -x "$t/build/$b" ] || { echo "$0: $t/build/$b: not built" >&2; exit 2; }
    done
done
: "${SDC_VOCAB:?set SDC_VOCAB to the CLIP vocabulary file}"
OUT=$(mktemp -d) || exit 1
trap 'rm -rf "$OUT"' EXIT
tree() { [ "$1" = old ] && echo "$OLD" || echo "$NEW"; }
prompt="a lighthouse at dawn"
echo "start $(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in 1 2; do for t in old new; do
    echo "unet $t: $("$(tree $t)"/build/bench/bench_sd --model "$F/sd15-f16.safetensors" \
        --stages unet --precision bf16 --runs 3 2>&1 | grep -E '^unet step|^bf16 / fp32' |
        tr -s ' ' | tr '\n' ' ')"
done; done
for i in 1 2; do for t in old new; do
    echo "vae $t: $("$(tree $t)"/build/bench/bench_sd --model "$F/sd15-f16.safetensors" \
        --stages vae --runs 3 2>&1 | grep -E '^vae decode' | tr -s ' ')"
done; done
run() { # name, then sdc's arguments
    local name=$1; shift
    for t in old new; do
        echo "$name $t: $("$(tree $t)"/build/cmd/sdc "$@" -p "$prompt" -v \
            -o "$OUT/$name-$t.png" 2>&1 | grep -E '^time|^total' | tr '\n' ' ')"
    done
    cmp -s "$OUT/$name-old.png" "$OUT/$name-new.png" && echo "$name: pictures identical" ||
        echo "$name: pictures differ"
    rm -f "$OUT/$name-old.png" "$OUT/$name-new.png"
}
for i in 1 2 3; do
    run turbo1 -m "$F/sd15-turbo-f16.safetensors" --taesd "$F/taesd-f16.safetensors" \
        --precision bf16
done
for i in 1 2; do
    run steps4 -m "$F/sd15-f16.safetensors" --steps 4 --cfg-scale 1 --sampling-method euler_a \
        --precision bf16
done
run steps20 -m "$F/sd15-f16.safetensors" --steps 20 --precision bf16
echo "end $(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
