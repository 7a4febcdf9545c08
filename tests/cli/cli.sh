#!/bin/sh
# The sdc command line: exit statuses, one-line errors that name the file, no output left
# behind on failure or interruption, --help / --version, metadata round trip, img2img and
# inpainting flags. Runs the built program on the golden tiny model at 64x64 (without golden
# data: on the demo model, and the checks that need golden files are skipped).
set -u
SDC="$SDC_BUILD_DIR/cmd/sdc"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Skipped checks go to a TAP report beside the Criterion programs' (tests/run.sh counts them).
REPORT="$SDC_BUILD_DIR/tests/report-cli.tap"
: >"$REPORT"
if [ -d "$SDC_GOLDEN" ]; then
    MODEL="$SDC_GOLDEN/models/tiny-sd1/model.safetensors"
    INIT="$SDC_GOLDEN/trajectories/img2img.tiny-sd1.init.png" INIT_SIZE=128x128 OUTPAINT_SIZE=144x128
    INPAINT_INIT="$SDC_GOLDEN/trajectories/inpaint.tiny-sd1.ddim.init.png"
    INPAINT_MASK="$SDC_GOLDEN/trajectories/inpaint.tiny-sd1.ddim.mask.png"
else # a clone without ../shared/golden: the demo model and the pictures of its docs
    MODEL="$SDC_SOURCE_DIR/models/demo/model.safetensors"
    INIT="$SDC_SOURCE_DIR/docs/demo.png" INIT_SIZE=64x64 OUTPAINT_SIZE=80x64
    INPAINT_INIT="$SDC_SOURCE_DIR/docs/demo.png" INPAINT_MASK="$SDC_SOURCE_DIR/docs/demo-mask.png"
fi
# golden_only WHAT: true with golden data; else records WHAT as skipped
golden_only() {
    [ -d "$SDC_GOLDEN" ] && return 0
    echo "SKIP: $1: golden data not found at $SDC_GOLDEN"
    echo "ok - cli: $1 # SKIP golden data not found at $SDC_GOLDEN" >>"$REPORT"
    return 1
}

# expect STATUS PATTERN -- command...: exit status and a stderr line matching PATTERN
expect() {
    want=$1 pattern=$2
    shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"
    got=$?
    [ "$got" = "$want" ] || fail "status $got (want $want): $*: $(cat "$TMP/err")"
    if [ -n "$pattern" ] && ! grep -q -- "$pattern" "$TMP/err"; then
        fail "stderr lacks '$pattern': $*: $(cat "$TMP/err")"
    fi
}

small="-m $MODEL -W 64 -H 64 --steps 2 --quiet"

expect 0 "" -- "$SDC" --help
grep -q -- "--sampling-method" "$TMP/out" || fail "--help lacks --sampling-method"
expect 0 "" -- "$SDC" --version
grep -q "^sdc [0-9]" "$TMP/out" || fail "--version prints '$(cat "$TMP/out")'"

# docs/cli.md carries the help texts verbatim
"$SDC" --help >"$TMP/help"
"$SDC" batch --help >>"$TMP/help"
"$SDC" serve --help >>"$TMP/help"
"$SDC" convert --help >>"$TMP/help"
help_in_docs() { # every help line appears in docs/cli.md
    while IFS= read -r line; do
        grep -qxF -- "$line" "$SDC_SOURCE_DIR/docs/cli.md" || { fail "docs/cli.md lacks: $line"; return; }
    done <"$1"
}
help_in_docs "$TMP/help"

# The demo model without -m, from a folder that is not the source tree and SDC_DEMO_DIR
# unset: the built program finds models/demo above itself; a copy of it far from the tree
# (as in a build folder outside the source tree, meson setup ~/build/sdc) finds the source
# tree's models/demo through the path recorded at configure time (unless an installed copy,
# which is searched before it, exists).
mkdir "$TMP/elsewhere"
cp "$SDC" "$TMP/elsewhere/sdc"
demo_source=$(realpath "$SDC_SOURCE_DIR/models/demo/model.safetensors")
for prog in "$SDC" "$TMP/elsewhere/sdc"; do
    (cd "$TMP/elsewhere" && env -u SDC_DEMO_DIR "$prog" -p "a red circle" --steps 2 -o demo.png) \
        >"$TMP/out" 2>"$TMP/err" || fail "$prog without -m from $TMP/elsewhere: $(cat "$TMP/err")"
    [ -s "$TMP/elsewhere/demo.png" ] || fail "$prog without -m wrote no picture"
    rm -f "$TMP/elsewhere/demo.png"
done
grep -qF "using the built-in demo model ($demo_source)" "$TMP/err" ||
    grep -q "using the built-in demo model (.*/share/sdc/demo/" "$TMP/err" ||
    fail "a copy of sdc outside the build tree did not use $demo_source: $(cat "$TMP/err")"

# A full disk (/dev/full fails every write with ENOSPC) or a missing folder: the batch
# report's errors name the file and say what the system said (the demo model, one step).
printf 'a red circle\n' >"$TMP/jobs.txt"
expect 1 "/dev/full: cannot write the report: No space left on device" -- \
    "$SDC" batch "$TMP/jobs.txt" --steps 1 --output-dir "$TMP/full" --report /dev/full --quiet
expect 2 "$TMP/nodir/r.jsonl: cannot create the report: No such file or directory" -- \
    "$SDC" batch "$TMP/jobs.txt" --steps 1 --output-dir "$TMP/full" --report "$TMP/nodir/r.jsonl" --quiet

# usage errors: status 2
expect 2 "multiple of 8" -- "$SDC" $small -p x -W 100 -o "$TMP/a.png"
expect 2 "unknown option" -- "$SDC" $small -p x --no-such-flag
expect 2 "sampling-method" -- "$SDC" $small -p x --sampling-method nope
expect 2 "init image" -- "$SDC" $small -p x --mask "$INPAINT_MASK"
expect 2 "strength" -- "$SDC" $small -p x --strength 1.5
expect 2 "no prompt" -- "$SDC" -m "$MODEL"
expect 2 "outpaint" -- "$SDC" $small -p x --outpaint 1,2,3
expect 2 "precision" -- "$SDC" $small -p x --precision fp16
expect 2 "conv-type" -- "$SDC" $small -p x --conv-type q8

# runtime errors: status 1, the file named, nothing written
expect 1 "$TMP/missing.safetensors" -- "$SDC" -m "$TMP/missing.safetensors" -p x -o "$TMP/b.png"
printf 'not a checkpoint' >"$TMP/bad.safetensors"
expect 1 "$TMP/bad.safetensors" -- "$SDC" -m "$TMP/bad.safetensors" -p x -o "$TMP/b.png"
printf 'not an image' >"$TMP/bad.png"
expect 1 "$TMP/bad.png" -- "$SDC" $small -p x -i "$TMP/bad.png" -o "$TMP/b.png"
: >"$TMP/empty.png"
expect 1 "$TMP/empty.png" -- "$SDC" $small -p x -i "$INIT" --mask "$TMP/empty.png" -o "$TMP/b.png"
expect 1 "karras sigmas" -- "$SDC" $small -p x --karras-sigmas -o "$TMP/b.png"
[ -e "$TMP/b.png" ] && fail "a failed run left $TMP/b.png"

# success, metadata round trip, no overwrite without --overwrite
expect 0 "" -- "$SDC" $small -p "a red (apple:1.2)" -n "blurry" -s 7 -o "$TMP/c.png"
expect 0 "" -- "$SDC" metadata "$TMP/c.png"
grep -q "Seed: 7" "$TMP/out" || fail "metadata lacks the seed: $(cat "$TMP/out")"
grep -q "Negative prompt: blurry" "$TMP/out" || fail "metadata lacks the negative prompt"
expect 0 "" -- "$SDC" $small -p x --sampling-method dpm++2m --scheduler linspace --karras-sigmas -o "$TMP/k.png"
expect 0 "" -- "$SDC" metadata "$TMP/k.png"
grep -q "Scheduler: linspace, Karras sigmas: on" "$TMP/out" || fail "metadata lacks the karras sigmas: $(cat "$TMP/out")"
expect 2 "exists" -- "$SDC" $small -p x -o "$TMP/c.png"
# issue 23: what can be checked before rendering is, exit 2 and nothing written: a bad
# output spelling, an existing file, a missing or non-folder parent, --strength without -i
expect 2 "unknown image type" -- "$SDC" $small -p x -o "$TMP/c.gif"
expect 2 "standard output" -- "$SDC" $small -p x -o -
expect 2 "needs a file name" -- "$SDC" $small -p x -o "$TMP/.png"
expect 2 "No such file or directory" -- "$SDC" $small -p x -o "$TMP/nowhere/c.png"
expect 2 "Not a directory" -- "$SDC" $small -p x -o "$TMP/c.png/d.png"
expect 2 "strength needs an init image" -- "$SDC" $small -p x --strength 0.5 -o "$TMP/s.png"
[ -e "$TMP/s.png" ] || [ -e "$TMP/c.gif" ] && fail "a refused run wrote a picture"
# prompt editing, alternation and AND (docs/prompts.md): parsed, and kept as written in the
# metadata (the library's tests show their effect on the picture)
sched='a red [apple:pear:1] AND (x:1.1) [cat|] :0.5'
expect 0 "" -- "$SDC" $small -p "$sched" -n "[blurry:noisy:1]" -s 7 -o "$TMP/sched.png"
expect 0 "" -- "$SDC" metadata "$TMP/sched.png"
grep -qxF "$sched" "$TMP/out" || fail "metadata lacks the prompt as written: $(cat "$TMP/out")"
grep -qF "Negative prompt: [blurry:noisy:1]" "$TMP/out" || fail "metadata lacks the negative prompt as written"
expect 0 "" -- "$SDC" $small -p "a | b [unparsed" -s 7 -o "$TMP/plain-text.png"
# the SDE samplers: the sampler's own schedule when none is given (in -v and the metadata),
# A1111's combined names, one Brownian tree per image seed (image 2 of a batch = its seed
# alone), and the generator's kind behind the tree
expect 0 "schedule Karras (the sampler's own), 2 model calls per step" -- \
    "$SDC" $small -p x --sampling-method dpm++sde -v -o "$TMP/sde.png"
expect 0 "" -- "$SDC" metadata "$TMP/sde.png"
grep -q "Sampler: DPM++ SDE, Schedule type: Karras" "$TMP/out" || fail "metadata: $(cat "$TMP/out")"
expect 0 "" -- "$SDC" $small -p x --sampling-method "DPM++ 2M SDE Karras" -o "$TMP/sde.png" --overwrite
expect 0 "" -- "$SDC" metadata "$TMP/sde.png"
grep -q "Sampler: DPM++ 2M SDE, Schedule type: Karras" "$TMP/out" || fail "metadata: $(cat "$TMP/out")"
expect 0 "" -- "$SDC" $small -p x --sampling-method dpm++2m_sde -s 7 -b 2 -o "$TMP/sdeb.png"
expect 0 "" -- "$SDC" $small -p x --sampling-method dpm++2m_sde -s 8 -o "$TMP/sde8.png"
cmp -s "$TMP/sdeb_2.png" "$TMP/sde8.png" || fail "batch image 2 differs from its seed alone"
expect 0 "" -- "$SDC" $small -p x --sampling-method dpm++2m_sde -s 8 --rng cpu -o "$TMP/sde8c.png"
cmp -s "$TMP/sde8c.png" "$TMP/sde8.png" && fail "--rng cpu gave the Brownian noise of --rng cuda"
expect 1 "does not apply" -- "$SDC" $small -p x --sampling-method lms --scheduler leading -o "$TMP/l.png"
expect 0 "" -- "$SDC" $small -p x -o "$TMP/c.png" --overwrite

# issue 23: FIFOs and devices are refused before open() blocks (timeout: a hang fails)
mkfifo "$TMP/fifo"
expect 1 "not a regular file" -- timeout 20 "$SDC" -m "$TMP/fifo" -p x -o "$TMP/f.png"
expect 1 "not a regular file" -- timeout 20 "$SDC" info "$TMP/fifo"
expect 1 "not a regular file" -- timeout 20 "$SDC" metadata "$TMP/fifo"
expect 1 "not a regular file" -- timeout 20 "$SDC" $small -p x -i "$TMP/fifo" -o "$TMP/f.png"
expect 1 "not a regular file" -- timeout 20 "$SDC" info /dev/zero
# strings from files reach the terminal with their controls escaped (ESC, OSC, BEL, CR)
esc=$(printf 'a\033]0;title\007b\rc')
expect 0 "" -- "$SDC" $small -p "$esc" -o "$TMP/esc.png"
expect 0 "" -- "$SDC" metadata "$TMP/esc.png"
grep -q "$(printf '\033')" "$TMP/out" && fail "sdc metadata printed an ESC"
grep -q "$(printf '\r')" "$TMP/out" && fail "sdc metadata printed a CR"
grep -qF 'a\x1b]0;title\x07b\x0dc' "$TMP/out" || fail "metadata: $(cat "$TMP/out")"
expect 1 'x1b' -- "$SDC" -m "$TMP/$esc.safetensors" -p x -o "$TMP/f.png"
grep -q "$(printf '\033')" "$TMP/err" && fail "an error message printed an ESC"
# a model file name with a newline cannot forge a line of the parameters text
if golden_only "model name with a newline"; then
    evil="$TMP/$(printf 'evil\nSteps: 99')"
    ln -s "$MODEL" "$evil"
    expect 0 "" -- "$SDC" -m "$evil" -W 64 -H 64 --steps 2 --quiet -p x -o "$TMP/evil.png"
    expect 0 "" -- "$SDC" metadata "$TMP/evil.png"
    grep -q "^Steps: 99" "$TMP/out" && fail "the model name forged a line: $(cat "$TMP/out")"
    grep -qF 'Model: evil\x0aSteps: 99' "$TMP/out" || fail "model name: $(cat "$TMP/out")"
fi

# A NaN in the weights is an error naming the stage, not a black picture with status 0.
# poison TENSOR: a copy of the (f16) golden model with TENSOR all NaN, as $TMP/nan.safetensors
poison() {
    cp "$MODEL" "$TMP/nan.safetensors"
    hlen=$(od -An -t u8 -N 8 "$MODEL" | tr -d ' ')
    offsets=$(dd if="$MODEL" bs=1 skip=8 count="$hlen" 2>/dev/null | grep -o "\"$1\":{[^}]*}" |
        sed 's/.*"data_offsets":\[\([0-9]*\),\([0-9]*\)\].*/\1 \2/')
    set -- $offsets
    i=$1
    while [ "$i" -lt "$2" ]; do printf '\000\176'; i=$((i + 2)); done |
        dd of="$TMP/nan.safetensors" bs=1 seek=$((8 + hlen + $1)) conv=notrunc 2>/dev/null
}
if golden_only "NaN weights"; then
    for case in "first_stage_model.decoder.conv_out.bias:VAE decoder" \
        "cond_stage_model.transformer.text_model.final_layer_norm.bias:text encoder" \
        "model.diffusion_model.time_embed.0.bias:UNet"; do
        poison "${case%%:*}"
        expect 1 "the ${case#*:} produced NaN" -- "$SDC" -m "$TMP/nan.safetensors" -W 64 -H 64 \
            --steps 2 --quiet -p x -o "$TMP/nan.png"
        [ -e "$TMP/nan.png" ] && fail "a NaN model wrote a picture"
    done
fi
# a prompt is capped after parsing: 4000 tokens is an error at once
long=$(i=0; while [ $i -lt 2000 ]; do printf 'red fox '; i=$((i + 1)); done)
expect 1 "prompt longer than 3000 tokens" -- "$SDC" $small -p "$long" -o "$TMP/long.png"

# same seed, same bytes; batch naming
expect 0 "" -- "$SDC" $small -p "a red (apple:1.2)" -n "blurry" -s 7 -o "$TMP/d.png"
expect 0 "" -- "$SDC" $small -p "a red (apple:1.2)" -n "blurry" -s 7 -o "$TMP/e.png"
cmp -s "$TMP/d.png" "$TMP/e.png" || fail "the same seed gave different files"
expect 0 "" -- "$SDC" $small -p x -b 2 -o "$TMP/batch.png"
[ -s "$TMP/batch_1.png" ] && [ -s "$TMP/batch_2.png" ] || fail "-b 2 did not write batch_1/2.png"

# -v: each stage's end says the peak resident set so far (which stage set the run's peak)
expect 0 "decoding [0-9.]*s, peak RSS so far [0-9]* MiB" -- "$SDC" -m "$MODEL" -W 64 -H 64 --steps 2 -p x -v -o "$TMP/v.png"
# --precision bf16 runs (on CPUs without AVX512_BF16 it is fp32)
expect 0 "" -- "$SDC" $small -p x --precision bf16 -o "$TMP/bf16.png"
# with 10 model calls or more (30 without guidance: calls of one row) the bf16 UNet packs
# its weights once (said with -v); fewer calls, or no bf16 kernels, pack nothing
if grep -qw avx512_bf16 /proc/cpuinfo; then
    expect 0 "packed bf16 weights: [0-9]* MiB, in place of [0-9]* MiB of mapped pages" -- \
        "$SDC" -m "$MODEL" -W 64 -H 64 --steps 10 -p x --precision bf16 -v -o "$TMP/packed.png"
    expect 0 "packed bf16 weights: [0-9]* MiB, in place of [0-9]* MiB of mapped pages" -- \
        "$SDC" -m "$MODEL" -W 64 -H 64 --steps 30 --cfg-scale 1 -p x --precision bf16 -v \
        -o "$TMP/packed1.png"
fi
"$SDC" -m "$MODEL" -W 64 -H 64 --steps 9 -p x --precision bf16 -v -o "$TMP/unpacked.png" \
    2>&1 | grep -q "packed bf16 weights" && fail "9 model calls packed the weights"
"$SDC" -m "$MODEL" -W 64 -H 64 --steps 29 --cfg-scale 1 -p x --precision bf16 -v \
    -o "$TMP/unpacked1.png" 2>&1 | grep -q "packed bf16 weights" &&
    fail "29 model calls of one row packed the weights"
"$SDC" -m "$MODEL" -W 64 -H 64 --steps 10 -p x -v -o "$TMP/fp32.png" 2>&1 |
    grep -q "packed bf16 weights" && fail "fp32 packed bf16 weights"
# --precision int8 runs (q8_0 weights quantised at load, said with -v) and changes the picture
expect 0 "int8: " -- "$SDC" $small -p "a red (apple:1.2)" -n "blurry" -s 7 --precision int8 -v -o "$TMP/int8.png"
cmp -s "$TMP/d.png" "$TMP/int8.png" && fail "--precision int8 gave the fp32 picture"
# --conv-type q8_0: convolution kernels quantised at load (said with -v); the picture changes
expect 0 "conv-type q8_0: " -- "$SDC" $small -p "a red (apple:1.2)" -n "blurry" -s 7 --conv-type q8_0 -v -o "$TMP/convq.png"
cmp -s "$TMP/d.png" "$TMP/convq.png" && fail "--conv-type q8_0 gave the picture of F16 kernels"
# --cpu: the kernels' instruction set at most (said with -v); the portable kernels draw the
# fast ones' picture within 2/255 (at a size that is no multiple of 16: the kernels' tails)
cpu_run="-m $MODEL -W 72 -H 40 --steps 3 --quiet -p x -n blurry -s 7 -v"
expect 0 "kernels: scalar" -- "$SDC" $cpu_run --cpu scalar -o "$TMP/cpu-scalar.png"
expect 0 "kernels: " -- "$SDC" $cpu_run -o "$TMP/cpu-auto.png"
largest=$("$SDC_BUILD_DIR/bench/png-psnr" "$TMP/cpu-scalar.png" "$TMP/cpu-auto.png" |
    sed -n 's|.*largest difference \([0-9]*\)/255.*|\1|p')
[ -n "$largest" ] && [ "$largest" -le 2 ] || fail "--cpu scalar differs by ${largest:-?}/255"
expect 2 "--cpu must be auto, scalar, avx2 or avx512" -- "$SDC" $small -p x --cpu sse -o "$TMP/f.png"

# --vae: the same weights from the diffusers vae/ folder give the same picture
if golden_only "--vae with the tiny model's diffusers vae/ folder"; then
    expect 0 "" -- "$SDC" $small -p "a red (apple:1.2)" -n "blurry" -s 7 --vae "$SDC_GOLDEN/models/tiny-sd1/diffusers/vae" -o "$TMP/vae.png"
    cmp -s "$TMP/d.png" "$TMP/vae.png" || fail "--vae with identical weights changed the picture"
fi
expect 1 "$TMP/bad.safetensors" -- "$SDC" $small -p x --vae "$TMP/bad.safetensors" -o "$TMP/f.png"

# --taesd: the tiny VAE decodes (the picture changes); -v names the file that encodes: the
# *_encoder beside an original decoder, else the model's VAE; files that are no TAESD fail
if golden_only "--taesd with the tiny TAESD"; then
    TAESD_DEC="$SDC_GOLDEN/taesd/tiny-taesd_decoder.safetensors"
    expect 0 "encoding with $SDC_GOLDEN/taesd/tiny-taesd_encoder.safetensors" -- "$SDC" $small -p "a red (apple:1.2)" -n "blurry" -s 7 --taesd "$TAESD_DEC" -v -o "$TMP/taesd.png"
    cmp -s "$TMP/d.png" "$TMP/taesd.png" && fail "--taesd did not change the picture"
    cp "$TAESD_DEC" "$TMP/taesd_decoder.safetensors"
    expect 0 "encoding with the model's VAE" -- "$SDC" $small -p x -i "$INIT" --strength 0.5 --taesd "$TMP/taesd_decoder.safetensors" -v -o "$TMP/taesd-i.png"
    expect 0 "" -- "$SDC" $small -p x -i "$INIT" --strength 0.5 --taesd "$SDC_GOLDEN/taesd/tiny-taesd/diffusion_pytorch_model.safetensors" -o "$TMP/taesd-i2.png"
    # a downloaded folder: its diffusers file
    expect 0 "" -- "$SDC" $small -p x -i "$INIT" --strength 0.5 --taesd "$SDC_GOLDEN/taesd/tiny-taesd" -o "$TMP/taesd-i3.png"
    cmp -s "$TMP/taesd-i2.png" "$TMP/taesd-i3.png" || fail "--taesd FOLDER is not its diffusers file"
fi
mkdir -p "$TMP/no-taesd"
expect 1 "$TMP/no-taesd: a folder with no TAESD in it" -- "$SDC" $small -p x --taesd "$TMP/no-taesd" -o "$TMP/f.png"
expect 1 "$TMP/bad.safetensors" -- "$SDC" $small -p x --taesd "$TMP/bad.safetensors" -o "$TMP/f.png"
expect 1 "$MODEL: not a TAESD file" -- "$SDC" $small -p x --taesd "$MODEL" -o "$TMP/f.png"
[ ! -e "$TMP/f.png" ] || fail "a failed --taesd run wrote a picture"

# -r: a picture renders again from its parameters, byte for byte; later options change them;
# its model is found by hash in --model-dir; what cannot be found is named
expect 0 "" -- "$SDC" $small -p "a (red:1.1) apple" -n "dark" -s 11 --cfg-scale 5.5 --sampling-method dpm++2m --scheduler karras --eta 0.5 -o "$TMP/r1.png"
expect 0 "" -- "$SDC" -r "$TMP/r1.png" --model-dir "$(dirname "$MODEL")" --quiet -o "$TMP/r2.png"
cmp -s "$TMP/r1.png" "$TMP/r2.png" || fail "-r did not render the picture again byte for byte"
expect 0 "" -- "$SDC" -r "$TMP/r1.png" -m "$MODEL" -s 12 --steps 1 --quiet -o "$TMP/r3.png"
expect 0 "" -- "$SDC" metadata "$TMP/r3.png"
grep -q "Steps: 1, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 12" "$TMP/out" || fail "-r with -s and --steps: $(cat "$TMP/out")"
mkdir "$TMP/nomodels"
expect 1 "is not in $TMP/nomodels" -- "$SDC" -r "$TMP/r1.png" --model-dir "$TMP/nomodels" -o "$TMP/r4.png"
expect 1 "no generation parameters" -- "$SDC" -r "$INPAINT_MASK" -m "$MODEL" -o "$TMP/r4.png"
expect 2 "give -r PNG" -- "$SDC" -m "$MODEL" -p x --model-dir "$TMP" -o "$TMP/r4.png"
[ ! -e "$TMP/r4.png" ] || fail "-r wrote a picture after an error"
# hires fix: the --hr-* options need --hires-fix, which is for txt2img; a hires picture
# records its settings and renders again byte for byte
expect 2 "need --hires-fix" -- "$SDC" $small -p x --hr-scale 1.5 -o "$TMP/h0.png"
expect 2 "not with -i" -- "$SDC" $small -p x --hires-fix -i "$INIT" -o "$TMP/h0.png"
expect 0 "" -- "$SDC" $small -p "a red apple" --hires-fix --hr-scale 1.5 --hr-upscaler lanczos --hr-steps 2 --hr-denoising 0.5 --hr-sampling-method euler -o "$TMP/h1.png"
expect 0 "" -- "$SDC" metadata "$TMP/h1.png"
grep -q "Denoising strength: 0.5, Hires upscale: 1.5, Hires steps: 2, Hires upscaler: Lanczos, Hires sampler: Euler" "$TMP/out" || fail "hires metadata: $(cat "$TMP/out")"
expect 0 "" -- "$SDC" -r "$TMP/h1.png" -m "$MODEL" --quiet -o "$TMP/h2.png"
cmp -s "$TMP/h1.png" "$TMP/h2.png" || fail "-r of a hires picture changed it"
if golden_only "-r with LoRA and embedding hashes"; then
    lora="--lora-model-dir $SDC_GOLDEN/lora/loras --embd-dir $SDC_GOLDEN/lora/embeddings"
    expect 0 "" -- "$SDC" $small -p "a tinyobj (sdcstyle:1.1) <lora:kohya_attn_te:0.7>" $lora -o "$TMP/r5.png"
    expect 0 "" -- "$SDC" -r "$TMP/r5.png" --model-dir "$(dirname "$MODEL")" $lora --quiet -o "$TMP/r6.png"
    cmp -s "$TMP/r5.png" "$TMP/r6.png" || fail "-r with a LoRA and embeddings changed the picture"
    # the LoRA under another name is found by its hash, and the tag takes that name
    mkdir "$TMP/renamed"
    cp "$SDC_GOLDEN/lora/loras/kohya_attn_te.safetensors" "$TMP/renamed/style_v2.safetensors"
    expect 0 "" -- "$SDC" -r "$TMP/r5.png" -m "$MODEL" --lora-model-dir "$TMP/renamed" --embd-dir "$SDC_GOLDEN/lora/embeddings" --quiet -o "$TMP/r7.png"
    expect 0 "" -- "$SDC" metadata "$TMP/r7.png"
    grep -q "<lora:style_v2:0.7>" "$TMP/out" || fail "-r did not find the LoRA by hash: $(cat "$TMP/out")"
    expect 1 "LoRA kohya_attn_te (hash" -- "$SDC" -r "$TMP/r5.png" -m "$MODEL" --lora-model-dir "$TMP/nomodels" -o "$TMP/r8.png"
    expect 0 "embedding" -- "$SDC" -r "$TMP/r5.png" -m "$MODEL" $lora --embd-dir "$TMP/nomodels" -o "$TMP/r9.png"
fi

# LoRA: -v says how much memory the merged weight copies take
if golden_only "-v with a LoRA tag"; then
    expect 0 "MiB of merged weight copies" -- "$SDC" $small -v -p "x <lora:kohya_attn_te:0.5>" --lora-model-dir "$SDC_GOLDEN/lora/loras" -o "$TMP/lora.png"
fi

# img2img, inpainting (all-black mask warns and returns the input), outpainting, masked area
expect 0 "" -- "$SDC" -m "$MODEL" --steps 2 --quiet -p x -i "$INIT" --strength 0.5 -o "$TMP/i2i.png"
expect 0 "" -- "$SDC" metadata "$TMP/i2i.png"
grep -q "Size: $INIT_SIZE" "$TMP/out" || fail "img2img did not take the init image's size"
"$SDC" -m "$MODEL" --steps 2 -p x -i "$INIT" --mask "$INIT" --invert-mask -o "$TMP/inv.png" 2>"$TMP/err" || fail "inverted mask run failed"
expect 0 "" -- "$SDC" -m "$MODEL" --steps 2 --quiet -p x -i "$INPAINT_INIT" --outpaint 8,0,5,0 -o "$TMP/out.png"
expect 0 "" -- "$SDC" metadata "$TMP/out.png"
grep -q "Size: $OUTPAINT_SIZE" "$TMP/out" || fail "outpainting canvas is not $OUTPAINT_SIZE: $(cat "$TMP/out")"
expect 0 "" -- "$SDC" $small -p x -i "$INPAINT_INIT" --mask "$INPAINT_MASK" --inpaint-area masked --padding 8 -o "$TMP/masked.png"

# SDXL: the size / crop conditioning flags change the picture and are recorded
if golden_only "SDXL size conditioning and the refiner (tiny SDXL)"; then
    XL="-m $SDC_GOLDEN/models/tiny-sdxl/model.safetensors -W 64 -H 64 --steps 2 --quiet -p x"
    expect 2 "crop" -- "$SDC" $XL --crop 1
    expect 2 "original-size" -- "$SDC" $XL --original-size 0,64
    expect 0 "" -- "$SDC" $XL -o "$TMP/xl.png"
    expect 0 "" -- "$SDC" $XL --crop 32,16 --original-size 1024,768 -o "$TMP/xl-crop.png"
    cmp -s "$TMP/xl.png" "$TMP/xl-crop.png" && fail "--crop / --original-size changed nothing"
    expect 0 "" -- "$SDC" metadata "$TMP/xl-crop.png"
    grep -q "Original size: 1024x768, Crop: 32,16" "$TMP/out" || fail "metadata lacks the SDXL conditioning: $(cat "$TMP/out")"
    # a refiner that is a copy of the base continues exactly; metadata names it
    expect 0 "" -- "$SDC" $XL --refiner "$SDC_GOLDEN/models/tiny-sdxl/model.safetensors" --refiner-switch 0.5 -o "$TMP/xl-ref.png"
    expect 0 "" -- "$SDC" metadata "$TMP/xl-ref.png"
    grep -q "Refiner: model, Refiner switch at: 0.5" "$TMP/out" || fail "metadata lacks the refiner: $(cat "$TMP/out")"
    expect 1 "latent space" -- "$SDC" $XL --refiner "$MODEL" -o "$TMP/xl-bad.png"
    [ -e "$TMP/xl-bad.png" ] && fail "a refused refiner left an output file"
    expect 2 "refiner-switch" -- "$SDC" $XL --refiner "$MODEL" --refiner-switch 2
    # the turbo recipe, img2img, inpainting and outpainting run on SDXL too
    expect 0 "" -- "$SDC" $XL --cfg-scale 1 --steps 1 --sampling-method euler_a --scheduler trailing -o "$TMP/xl-turbo.png"
    expect 0 "" -- "$SDC" $XL -i "$INIT" --strength 0.6 -o "$TMP/xl-i2i.png"
    expect 0 "" -- "$SDC" $XL -i "$INPAINT_INIT" --mask "$INPAINT_MASK" -o "$TMP/xl-inpaint.png"
    expect 0 "" -- "$SDC" $XL -i "$INIT" --outpaint 16,0,16,0 -o "$TMP/xl-outpaint.png"
    # the depth model needs its map, and only it takes one
    DEPTH="$SDC_GOLDEN/models/tiny-sd2-depth/model.safetensors"
    DMAP="$SDC_GOLDEN/trajectories/depth2img.tiny-sd2-depth.ddim.depth.png"
    expect 1 "depth-map" -- "$SDC" -m "$DEPTH" -W 64 -H 64 --steps 2 --quiet -p x -o "$TMP/dm.png"
    expect 1 "depth models" -- "$SDC" $small -p x --depth-map "$DMAP" -o "$TMP/dm.png"
    expect 0 "" -- "$SDC" -m "$DEPTH" -W 64 -H 64 --steps 2 --quiet -p x --depth-map "$DMAP" -o "$TMP/dm.png"
    # the x4 upscaler: the output is 4x the picture; the noise level is bounded
    X4="$SDC_GOLDEN/models/tiny-x4-upscaler/model.safetensors"
    LOW="$SDC_GOLDEN/trajectories/upscale.tiny-x4-upscaler.ddim_nl20.low.png"
    expect 0 "" -- "$SDC" -m "$X4" -i "$LOW" --steps 2 --quiet -p x -o "$TMP/up.png"
    expect 0 "" -- "$SDC" metadata "$TMP/up.png"
    grep -q "Size: 128x96" "$TMP/out" || fail "the x4 output is not 4x the picture: $(cat "$TMP/out")"
    expect 2 "noise-level" -- "$SDC" -m "$X4" -i "$LOW" -p x --noise-level 351
    expect 1 "upscale" -- "$SDC" -m "$X4" --steps 2 --quiet -p x -o "$TMP/up2.png"
    expect 0 "" -- "$SDC" info "$DEPTH"
    grep -q "depth" "$TMP/out" || fail "sdc info does not call the depth model one: $(cat "$TMP/out")"
fi
# GGUF: sdc info names the ggml types; a truncated file is refused naming it, nothing written
if golden_only "gguf files"; then
    Q8="$SDC_GOLDEN/gguf/tiny-sd1.q8_0.gguf"
    expect 0 "" -- "$SDC" info "$Q8"
    grep -q "^gguf: *version 3, 981 tensors: 1 f32, 612 f16, 368 q8_0$" "$TMP/out" ||
        fail "sdc info of a GGUF file: $(cat "$TMP/out")"
    head -c 100000 "$Q8" >"$TMP/cut.gguf"
    expect 1 "cut.gguf: .*outside the file" -- "$SDC" -m "$TMP/cut.gguf" -W 64 -H 64 --steps 1 --quiet -p x -o "$TMP/cut.png"
    [ -e "$TMP/cut.png" ] && fail "a truncated GGUF file left an output file"
    expect 1 "cut.gguf" -- "$SDC" info "$TMP/cut.gguf"
    # sdc convert --type q8_0 writes stable-diffusion.cpp's own file of the tiny model
    expect 0 "" -- "$SDC" convert "$MODEL" "$TMP/tiny.q8_0.gguf" --type q8_0
    cmp -s "$TMP/tiny.q8_0.gguf" "$Q8" || fail "sdc convert --type q8_0 differs from $Q8"
    expect 2 "q5_K or q6_K" -- "$SDC" convert "$MODEL" "$TMP/tiny.q5.gguf" --type iq4_nl
    [ -e "$TMP/tiny.q5.gguf" ] && fail "a refused conversion left an output file"
    # a K-quant: only rows of 256 values quantised (14 tensors here); the file draws a picture
    expect 0 "" -- "$SDC" convert "$MODEL" "$TMP/tiny.q4_K.gguf" --type q4_K
    expect 0 "" -- "$SDC" info "$TMP/tiny.q4_K.gguf"
    grep -q "^gguf: .* 966 f16, 14 q4_K$" "$TMP/out" || fail "sdc info of a q4_K file: $(cat "$TMP/out")"
    expect 0 "" -- "$SDC" -m "$TMP/tiny.q4_K.gguf" -W 64 -H 64 --steps 1 --quiet -p x -o "$TMP/q4k.png"
    [ -s "$TMP/q4k.png" ] || fail "no picture from the q4_K file"
    # a diffusers folder: the GGUF file of its .safetensors conversion, byte for byte
    DIFF="$SDC_GOLDEN/models/tiny-sd1/diffusers"
    for type in q8_0 q4_K; do
        expect 0 "wrote 980 tensors" -- "$SDC" convert "$DIFF" "$TMP/folder.$type.gguf" --type "$type"
        expect 0 "" -- "$SDC" convert "$DIFF" "$TMP/folder.safetensors" --overwrite
        expect 0 "" -- "$SDC" convert "$TMP/folder.safetensors" "$TMP/via.$type.gguf" --type "$type"
        cmp -s "$TMP/folder.$type.gguf" "$TMP/via.$type.gguf" ||
            fail "folder -> $type GGUF differs from folder -> .safetensors -> $type GGUF"
    done
    expect 0 "" -- "$SDC" -m "$TMP/folder.q8_0.gguf" -W 64 -H 64 --steps 1 --quiet -p x -o "$TMP/fq8.png"
    [ -s "$TMP/fq8.png" ] || fail "no picture from the folder's q8_0 file"
    # broken copies of it (links to the golden files but the one at fault): one line naming
    # the file, nothing at OUT (no temporary either)
    refused() { # FOLDER PATTERN
        mkdir "$TMP/o"
        expect 1 "$2" -- "$SDC" convert "$1" "$TMP/o/out.gguf" --type q8_0
        [ "$(wc -l <"$TMP/err")" = 1 ] || fail "more than one line for $1: $(cat "$TMP/err")"
        [ -z "$(ls -A "$TMP/o")" ] || fail "a refused conversion of $1 left $(ls -A "$TMP/o")"
        rm -rf "$TMP/o" "$TMP/bad" && cp -rs "$DIFF" "$TMP/bad"
    }
    mkdir "$TMP/empty" && cp -rs "$DIFF" "$TMP/bad"
    refused "$TMP/empty" "$TMP/empty: a folder without model_index.json is no diffusers model"
    rm "$TMP/bad/unet/diffusion_pytorch_model.safetensors"
    refused "$TMP/bad" "$TMP/bad: no unet weights"
    rm "$TMP/bad/vae/diffusion_pytorch_model.safetensors"
    head -c 100000 "$DIFF/vae/diffusion_pytorch_model.safetensors" >"$TMP/bad/vae/diffusion_pytorch_model.safetensors"
    refused "$TMP/bad" "$TMP/bad/vae/diffusion_pytorch_model.safetensors: .*outside"
    rm "$TMP/bad/model_index.json" && echo '{' >"$TMP/bad/model_index.json"
    refused "$TMP/bad" "$TMP/bad/model_index.json: not valid JSON"
    refused "$SDC_GOLDEN/models/tiny-sdxl/diffusers" "tiny-sdxl/diffusers: converting an SDXL"
fi
expect 1 "SDXL" -- "$SDC" $small -p x --crop 8,8 -o "$TMP/sd1-crop.png"
[ -e "$TMP/sd1-crop.png" ] && fail "a refused --crop left an output file"

# ControlNet: usage errors, a net that is no ControlNet, one that does not fit the model,
# metadata, the preprocessors change the picture; a batch job with a ControlNet
expect 2 "need a --control-net" -- "$SDC" $small -p x --control-image "$INIT" -o "$TMP/cn.png"
expect 2 "needs a --control-image" -- "$SDC" $small -p x --control-net "$MODEL" -o "$TMP/cn.png"
expect 2 "control-strength" -- "$SDC" $small -p x --control-net "$MODEL" --control-image "$INIT" --control-strength 11 -o "$TMP/cn.png"
expect 2 "canny" -- "$SDC" $small -p x --control-net "$MODEL" --control-image "$INIT" --canny 1 -o "$TMP/cn.png"
expect 2 "control-preprocess" -- "$SDC" $small -p x --control-net "$MODEL" --control-image "$INIT" --control-preprocess blur -o "$TMP/cn.png"
expect 2 "control-start" -- "$SDC" $small -p x --control-net "$MODEL" --control-image "$INIT" --control-start 0.8 --control-end 0.2 -o "$TMP/cn.png"
expect 1 "not a ControlNet" -- "$SDC" $small -p x --control-net "$MODEL" --control-image "$INIT" -o "$TMP/cn.png"
expect 1 "$TMP/none.png" -- "$SDC" $small -p x --control-net "$MODEL" --control-image "$TMP/none.png" -o "$TMP/cn.png"
[ -e "$TMP/cn.png" ] && fail "a refused ControlNet left an output file"
if golden_only "ControlNet on the tiny model"; then
    NET="$SDC_GOLDEN/controlnet/models/control_tiny_edges.safetensors"
    EDGES="$SDC_GOLDEN/controlnet/control/edges.png"
    expect 1 "ControlNet" -- "$SDC" -m "$SDC_SOURCE_DIR/models/demo/model.safetensors" -W 64 -H 64 --steps 2 --quiet -p x --control-net "$NET" --control-image "$EDGES" -o "$TMP/cn.png"
    expect 0 "" -- "$SDC" $small -p x --control-net "$NET" --control-image "$EDGES" --control-strength 0.7 --control-end 0.5 -o "$TMP/cn.png"
    expect 0 "" -- "$SDC" metadata "$TMP/cn.png"
    grep -q 'ControlNet 0: "Module: none, Model: control_tiny_edges \[[0-9a-f]\{8\}\], Weight: 0.7, .*Guidance Start: 0, Guidance End: 0.5, Pixel Perfect: False, Control Mode: Balanced"' "$TMP/out" || fail "metadata lacks the ControlNet: $(cat "$TMP/out")"
    expect 0 "" -- "$SDC" $small -p x --control-net "$NET" --control-image "$EDGES" --control-preprocess invert -o "$TMP/cn-inv.png"
    expect 0 "" -- "$SDC" $small -p x --control-net "$NET" --control-image "$INIT" --canny 50,150 --guess-mode -o "$TMP/cn-canny.png"
    expect 0 "" -- "$SDC" metadata "$TMP/cn-canny.png"
    grep -q 'Module: canny, .*Threshold A: 50, Threshold B: 150, .*Control Mode: ControlNet is more important' "$TMP/out" || fail "metadata lacks canny / guess mode: $(cat "$TMP/out")"
    cmp -s "$TMP/cn.png" "$TMP/cn-inv.png" && fail "--control-preprocess invert changed nothing"
    # img2img and inpainting take ControlNets too; two nets at once
    expect 0 "" -- "$SDC" $small -p x -i "$INIT" --strength 0.6 --control-net "$NET" --control-image "$EDGES" -o "$TMP/cn-i2i.png"
    expect 0 "" -- "$SDC" $small -p x -i "$INPAINT_INIT" --mask "$INPAINT_MASK" --control-net "$NET" --control-image "$EDGES" --control-net "$SDC_GOLDEN/controlnet/models/control_tiny_shapes" --control-image "$INIT" --control-strength 0.5 -o "$TMP/cn-inp.png"
    expect 1 "only masked" -- "$SDC" $small -p x -i "$INPAINT_INIT" --mask "$INPAINT_MASK" --inpaint-area masked --control-net "$NET" --control-image "$EDGES" -o "$TMP/cn-m.png"
    printf '{"prompt": "x", "control-net": "%s", "control-image": "%s", "control-strength": 0.4, "output": "job.png"}\n' "$NET" "$EDGES" >"$TMP/cn.jsonl"
    expect 0 "" -- "$SDC" batch "$TMP/cn.jsonl" $small --output-dir "$TMP/cnb"
    expect 0 "" -- "$SDC" metadata "$TMP/cnb/job.png"
    grep -q 'ControlNet 0: .*Weight: 0.4' "$TMP/out" || fail "batch job metadata lacks the ControlNet: $(cat "$TMP/out")"
    # SDXL: a random net of tiny-sdxl's shapes (its encoder half, bench/make-random-checkpoint)
    # steers tiny-sdxl, is recorded, and nets fit their family only
    XL="$SDC_GOLDEN/models/tiny-sdxl/model.safetensors" XLNET="$TMP/control-xl.safetensors"
    "$SDC_BUILD_DIR/bench/make-random-checkpoint" --controlnet --type f32 "$XL" "$XLNET" >"$TMP/out" || fail "make-random-checkpoint --controlnet of tiny-sdxl"
    xl="-m $XL -W 64 -H 64 --steps 2 --quiet -p x"
    xlcn="--control-net $XLNET --control-image $EDGES --control-strength 0.8 --guess-mode"
    expect 0 "" -- "$SDC" $xl -o "$TMP/xl.bmp" # BMP: the pixels alone, no parameters
    expect 0 "" -- "$SDC" $xl $xlcn -o "$TMP/xl-cn.bmp"
    cmp -s "$TMP/xl.bmp" "$TMP/xl-cn.bmp" && fail "an SDXL ControlNet changed nothing"
    expect 0 "" -- "$SDC" $xl $xlcn -o "$TMP/xl-cn.png"
    expect 0 "" -- "$SDC" metadata "$TMP/xl-cn.png"
    grep -q 'ControlNet 0: "Module: none, Model: control-xl \[[0-9a-f]\{8\}\], Weight: 0.8, .*Guidance Start: 0, Guidance End: 1, .*Control Mode: ControlNet is more important"' "$TMP/out" || fail "SDXL metadata lacks the ControlNet: $(cat "$TMP/out")"
    expect 1 "control-xl.safetensors: an SDXL ControlNet, and the model is not SDXL" -- "$SDC" $small -p x --control-net "$XLNET" --control-image "$EDGES" -o "$TMP/cn-xl1.png"
    expect 1 "not an SDXL ControlNet" -- "$SDC" $xl --control-net "$NET" --control-image "$EDGES" -o "$TMP/cn-xl2.png"
    [ -e "$TMP/cn-xl1.png" ] || [ -e "$TMP/cn-xl2.png" ] && fail "a refused SDXL ControlNet left an output file"
fi

# Live previews (docs/previews.md): --preview-path alone means proj (one pixel per latent
# cell), written every --preview-interval steps and at the last, atomically (a reader never
# sees half a file, no temporary is left); vae previews have the picture's size.
png_size() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % (int.from_bytes(d[16:20],"big"), int.from_bytes(d[20:24],"big")) if d[:8]==b"\x89PNG\r\n\x1a\n" else "not-png")' "$1"; }
mkdir "$TMP/pv"
expect 0 "previews: 3 written" -- "$SDC" $small --steps 5 -v -p x --preview-path "$TMP/pv/prev.png" --preview-interval 2 -o "$TMP/pv/out.png"
[ "$(png_size "$TMP/pv/prev.png")" = 8x8 ] || fail "proj preview is $(png_size "$TMP/pv/prev.png"), want 8x8"
[ "$(ls -A "$TMP/pv" | tr '\n' ' ')" = "out.png prev.png " ] || fail "previews left files: $(ls -A "$TMP/pv")"
(cd "$TMP/pv" && "$SDC" $small -p x --preview vae -o out2.png) || fail "--preview vae"
[ "$(png_size "$TMP/pv/preview.png")" = 64x64 ] || fail "vae preview (default path preview.png) is $(png_size "$TMP/pv/preview.png")"
expect 0 "previews: 0 written" -- "$SDC" $small -v -p x --preview none --preview-path "$TMP/pv/none.png" -o "$TMP/pv/out3.png"
[ -e "$TMP/pv/none.png" ] && fail "--preview none wrote a preview"
expect 1 "need a TAESD decoder (--taesd FILE)" -- "$SDC" $small -p x --preview tae -o "$TMP/pv/tae.png"
expect 2 "needs --taesd" -- "$SDC" $small -p x --taesd-preview-only -o "$TMP/pv/tae.png"
# with --taesd, --preview-path alone means tae (the picture's size); --taesd-preview-only
# keeps the model's VAE for the picture: the same bytes as without a TAESD
if golden_only "tae previews with the tiny TAESD"; then
    TAESD_DEC="$SDC_GOLDEN/taesd/tiny-taesd_decoder.safetensors"
    expect 0 "previews: 2 written" -- "$SDC" $small -v -p x --taesd "$TAESD_DEC" --preview-path "$TMP/pv/tae.png" -o "$TMP/pv/tae-out.png"
    [ "$(png_size "$TMP/pv/tae.png")" = 64x64 ] || fail "tae preview is $(png_size "$TMP/pv/tae.png"), want 64x64"
    "$SDC" $small -p x -o "$TMP/pv/plain.png" || fail "plain run for --taesd-preview-only"
    expect 0 "previews: 2 written" -- "$SDC" $small -v -p x --taesd "$TAESD_DEC" --taesd-preview-only --preview-path "$TMP/pv/tae2.png" -o "$TMP/pv/tae-only.png"
    cmp -s "$TMP/pv/plain.png" "$TMP/pv/tae-only.png" || fail "--taesd-preview-only changed the picture"
    cmp -s "$TMP/pv/tae.png" "$TMP/pv/tae2.png" || fail "--taesd-preview-only changed the previews"
fi
expect 2 "none, proj, tae or vae" -- "$SDC" $small -p x --preview approx
expect 2 "preview-interval" -- "$SDC" $small -p x --preview-interval 0
expect 2 "preview-path" -- "$SDC" $small -p x --preview-path "$TMP/missing/p.png"
# img2img, inpainting, hires fix and batch jobs preview too
expect 0 "previews: 3 written" -- "$SDC" $small --steps 4 -v -p x -i "$INIT" --strength 0.5 --preview-path "$TMP/pv/i2i.png" -o "$TMP/pv/i2i-out.png"
expect 0 "previews: 2 written" -- "$SDC" $small -v -p x -i "$INPAINT_INIT" --mask "$INPAINT_MASK" --preview proj --preview-path "$TMP/pv/inp.png" -o "$TMP/pv/inp-out.png"
expect 0 "previews: 4 written" -- "$SDC" $small -v -p x --hires-fix --hr-scale 1.5 --preview-path "$TMP/pv/hr.png" -o "$TMP/pv/hr-out.png"
[ "$(png_size "$TMP/pv/hr.png")" = 12x12 ] || fail "the hires pass's last preview is $(png_size "$TMP/pv/hr.png")"
printf '{"prompt": "x", "preview": "vae", "preview-path": "%s", "output": "job.png"}\n' "$TMP/pv/job-prev.png" >"$TMP/pv.jsonl"
expect 0 "" -- "$SDC" batch "$TMP/pv.jsonl" $small --output-dir "$TMP/pvb"
[ "$(png_size "$TMP/pv/job-prev.png")" = 64x64 ] || fail "batch job preview: $(png_size "$TMP/pv/job-prev.png")"
# a reader polling the file while 40 steps write it only ever finds whole PNGs
"$SDC" $small --steps 40 -p x --preview vae --preview-path "$TMP/pv/live.png" -o "$TMP/pv/live-out.png" &
pid=$!
python3 - "$TMP/pv/live.png" "$pid" <<'PY' || fail "a reader saw a partial preview"
import os, sys, time
path, pid, reads = sys.argv[1], int(sys.argv[2]), 0
while True:
    try:
        data = open(path, "rb").read()
        reads += 1
        if not (data[:8] == b"\x89PNG\r\n\x1a\n" and data[-12:-4] == b"\0\0\0\0IEND"):
            sys.exit(1)
    except FileNotFoundError:
        pass
    if not os.path.exists(f"/proc/{pid}"):
        break
    time.sleep(0.002)
PY
wait $pid || fail "the 40-step preview run failed"

# Ctrl-C / SIGTERM: status 130 / 143, no output file
for sig in INT TERM; do
    "$SDC" -m "$MODEL" -W 256 -H 256 --steps 1000 --quiet -p x -o "$TMP/int.png" 2>/dev/null &
    pid=$!
    sleep 2
    kill -$sig $pid
    wait $pid
    status=$?
    want=130
    [ $sig = TERM ] && want=143
    [ $status = $want ] || fail "SIG$sig gave status $status (want $want)"
    [ -e "$TMP/int.png" ] && fail "SIG$sig left $TMP/int.png"
    ls "$TMP" | grep -q '^\.int' && fail "SIG$sig left a temporary file"
done

[ $failures = 0 ] && echo "cli: all checks passed"
exit $((failures > 0))
