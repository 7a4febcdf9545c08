#!/bin/sh
# The fast kernels against the portable ones, end to end: each command line below (every model
# family and add-on of the golden set, sizes that are no multiples of 16 so that every
# kernel's tails run) renders with `--cpu scalar` and with the CPU's own kernels, and the two
# pictures must agree within 2/255 per channel, the tolerance of the golden PNGs. Skipped
# without golden data, and on a CPU whose widest kernels are the portable ones.
set -u
SDC="$SDC_BUILD_DIR/cmd/sdc"
PSNR="$SDC_BUILD_DIR/bench/png-psnr"
G="$SDC_GOLDEN"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
REPORT="$SDC_BUILD_DIR/tests/report-kernels.tap"
: >"$REPORT"
if [ ! -d "$G" ]; then
    echo "SKIP: golden data not found at $G"
    echo "ok - kernels # SKIP golden data not found at $G" >>"$REPORT"
    exit 77
fi
M="$G/models/tiny-sd1/model.safetensors"
T="$G/trajectories"
"$SDC" -m "$M" -p x -W 8 -H 8 --steps 1 -v -o "$TMP/probe.png" 2>"$TMP/probe.err" ||
    { cat "$TMP/probe.err"; exit 1; }
if grep -q "kernels: scalar" "$TMP/probe.err"; then
    echo "SKIP: this CPU has only the portable kernels"
    exit 77
fi

failures=0
n=0
# each line: sdc arguments ($M, $G and $T expanded)
while IFS= read -r line; do
    n=$((n + 1))
    eval "set -- $line"
    "$SDC" "$@" --cpu scalar --quiet -o "$TMP/s$n.png" 2>"$TMP/err" &&
        "$SDC" "$@" --quiet -o "$TMP/f$n.png" 2>>"$TMP/err" ||
        { echo "FAIL: $line: $(cat "$TMP/err")"; failures=$((failures + 1)); continue; }
    out=$("$PSNR" "$TMP/s$n.png" "$TMP/f$n.png")
    worst=$(echo "$out" | sed -n 's|.*largest difference \([0-9]*\)/255.*|\1|p')
    echo "$out: $line"
    [ -n "$worst" ] && [ "$worst" -le 2 ] || { echo "FAIL: ${worst:-?}/255"; failures=$((failures + 1)); }
done <<LINES
-m "$M" -p "a red cube" -n blurry -s 2 --steps 3 -W 24 -H 40 --sampling-method euler
-m "$M" -p "a (red:1.3) cube, [blue|green] sky" -s 4 --steps 3 -W 136 -H 24 --sampling-method dpm++2m
-m "$M" -p "a red cube" -s 6 --steps 2 -W 200 -H 64 --sampling-method dpm++2m_sde
-m "$M" -p cat -s 10 --steps 2 -W 120 -H 88 --vae-tiling
-m "$M" -p cat -s 12 --steps 2 -W 88 -H 56 --taesd "$G/taesd/tiny-taesd"
-m "$M" -p cat -s 14 --steps 3 -W 64 -H 48 -i "$T/img2img.tiny-sd1.init.png" --strength 0.6
-m "$G/models/tiny-sd1-inpaint/model.safetensors" -p cat -s 15 --steps 3 -W 104 -H 40 -i "$T/inpaint.tiny-sd1-inpaint.ddim.init.png" --mask "$T/inpaint.tiny-sd1-inpaint.ddim.mask.png"
-m "$G/models/tiny-sd2v/model.safetensors" -p "a dog" -s 17 --steps 3 -W 56 -H 40 --prediction v
-m "$G/models/tiny-sdxl/model.safetensors" -p "a dog" -n cat -s 19 --steps 2 -W 48 -H 112
-m "$G/models/tiny-sd2-depth/model.safetensors" -p "a dog" -s 20 --steps 3 -W 72 -H 40 -i "$T/depth2img.tiny-sd2-depth.ddim.init.png" --depth-map "$T/depth2img.tiny-sd2-depth.ddim.depth.png" --strength 0.7
-m "$G/models/tiny-x4-upscaler/model.safetensors" -p "a dog" -s 21 --steps 2 -i "$T/upscale.tiny-x4-upscaler.ddim_nl20.low.png" --noise-level 30
-m "$M" -p cat -s 22 --steps 3 -W 72 -H 48 --control-net "$G/controlnet/models/control_tiny_edges.safetensors" --control-image "$G/controlnet/control/edges.png"
-m "$M" -p "cat <lora:locon_conv:0.8> <lora:loha_lin:0.5> <lora:lokr_lin:1>" --lora-model-dir "$G/lora/loras" -s 23 --steps 3 -W 56 -H 56
-m "$G/gguf/tiny-sd1.q4_0.gguf" -p cat -s 25 --steps 3 -W 72 -H 40
-m "$M" -p cat -s 27 --steps 3 -W 48 -H 48 --conv-type q4_k
LINES
[ "$failures" = 0 ] || { echo "$failures of $n command lines failed"; exit 1; }
echo "$n command lines: the portable and the fast kernels agree within 2/255"
