#!/bin/sh
# sdc batch: mixed valid and invalid job lines, the report, the grid, name templates,
# standard input, model switches, --fail-fast, refusing to overwrite, usage errors.
. "$(dirname "$0")/common.sh"

cat > jobs.jsonl <<JOBS
# mixed job file
{"prompt": "a red fox", "seed": 7}
{"prompt": "broken
{"prompt": "a blue fox", "seed": 8, "cfg-scale": 5, "batch-count": 2}
{"prompt": "x", "steps": "many"}
{"prompt": "y", "init-img": "missing.png"}

{"prompt": "z", "unknown-key": 1}
{"prompt": "a green fox", "seed": 9, "output": "named/{prompt}-{seed:04}.png"}
JOBS
expect_status 1 batch jobs.jsonl --output-dir out --report report.jsonl --grid grid.png 2> err.txt
for line in 3 5 6 8; do
    grep -q "^jobs.jsonl:$line: " err.txt || fail "no error for line $line: $(cat err.txt)"
done
for f in out/00000-7.png out/00002-8.png out/00002-9.png out/named/a-green-fox-0009.png; do
    [ -s "$f" ] || fail "missing $f"
done
[ "$(ls out | wc -l)" = 4 ] || fail "unexpected outputs: $(ls out)"
"$SDC" metadata out/00002-9.png | grep -q "Seed: 9, " || fail "metadata of out/00002-9.png"
[ "$(count '"status":"done"' report.jsonl)" = 4 ] || fail "report: done lines"
[ "$(count '"status":"failed"' report.jsonl)" = 4 ] || fail "report: failed lines"
grep -q '"line":5,"status":"failed","error":"--steps must be' report.jsonl || fail "report: line 5"
grep -q '"parameters":{"prompt":"a blue fox","seed":9,' report.jsonl || fail "report: parameters"
grep -q '"timings":{"model_load":' report.jsonl || fail "report: model load timing"
tail -n 1 report.jsonl | grep -q '^{"summary":{"jobs":7,"images":4,"done":4,"skipped":0,"failed":4,"model_loads":1,' \
    || fail "report summary: $(tail -n 1 report.jsonl)"
[ -s grid.png ] || fail "no grid"

# --fail-fast: a bad line stops the run before anything is rendered
expect_status 1 batch jobs.jsonl --output-dir fast --fail-fast 2> /dev/null
[ -z "$(ls fast 2> /dev/null)" ] || fail "--fail-fast rendered $(ls fast)"

# standard input, plain text, a name template
printf '# prompts\na lighthouse at dawn\n\n  (a cat:1.2), sitting\n' > prompts.txt
batch - -o '{index:03}-{prompt}.png' --output-dir txt < prompts.txt
[ "$(ls txt | tr '\n' ' ')" = "000-a-lighthouse-at-dawn.png 001-a-cat-1-2-sitting.png " ] \
    || fail "template names: $(ls txt)"
cp -p txt/000-a-lighthouse-at-dawn.png before.png
# existing outputs are not overwritten; --resume skips them without loading a model
expect_status 1 batch - -o '{index:03}-{prompt}.png' --output-dir txt < prompts.txt 2> /dev/null
cmp -s before.png txt/000-a-lighthouse-at-dawn.png || fail "an existing output was replaced"
batch - -o '{index:03}-{prompt}.png' --output-dir txt --resume --report resume.jsonl < prompts.txt
tail -n 1 resume.jsonl | grep -q '"done":0,"skipped":2,"failed":0,"model_loads":0,' \
    || fail "resume summary: $(tail -n 1 resume.jsonl)"

# a job naming another model loads it; at most one model is held, so switching back reloads
INPAINT="$SDC_GOLDEN/models/tiny-sd1-inpaint/model.safetensors"
if [ ! -d "$SDC_GOLDEN" ]; then # another path to the demo model (and its tokenizer files
    ln -s "$(dirname "$MODEL")" other # beside it) is another model to load
    INPAINT="$WORK/other/model.safetensors"
fi
cat > models.jsonl <<JOBS
{"prompt": "a"}
{"prompt": "b", "model": "$INPAINT"}
{"prompt": "c"}
{"prompt": "d"}
JOBS
# (the job names its model by absolute path: a job file of one's own is trusted)
batch models.jsonl --output-dir models --report models-report.jsonl --trust-jobs
tail -n 1 models-report.jsonl | grep -q '"done":4,"skipped":0,"failed":0,"model_loads":3,' \
    || fail "model switches: $(tail -n 1 models-report.jsonl)"

# a job renders exactly what `sdc` renders for the same options (txt2img, and inpainting
# at the init image's size)
INIT="$SDC_GOLDEN/trajectories/inpaint.tiny-sd1.ddim.init.png"
MASK="$SDC_GOLDEN/trajectories/inpaint.tiny-sd1.ddim.mask.png"
if [ ! -d "$SDC_GOLDEN" ]; then
    INIT="$SDC_SOURCE_DIR/docs/demo.png" MASK="$SDC_SOURCE_DIR/docs/demo-mask.png"
fi
single() { "$SDC" -m "$MODEL" --steps 2 --rng cpu -t 1 --quiet "$@"; }
printf '{"prompt": "a fox", "seed": 3, "cfg-scale": 5, "width": 64, "height": 64}\n{"prompt": "a fox", "seed": 4, "init-img": "%s", "mask": "%s", "strength": 0.8, "mask-blur": 2}\n' \
    "$INIT" "$MASK" | "$SDC" batch - -m "$MODEL" --steps 2 --rng cpu -t 1 --quiet --output-dir same
single -W 64 -H 64 -p "a fox" -s 3 --cfg-scale 5 -o same-txt2img.png
single -p "a fox" -s 4 -i "$INIT" --mask "$MASK" --strength 0.8 --mask-blur 2 -o same-inpaint.png
cmp same/00000-3.png same-txt2img.png || fail "batch and sdc differ (txt2img)"
cmp same/00001-4.png same-inpaint.png || fail "batch and sdc differ (inpainting)"
# prompt editing, alternation and AND (docs/prompts.md) read the same in a job file
printf '{"prompt": "a [red:blue:1] fox AND [cat|dog] :0.5", "negative-prompt": "[blurry::1]", "seed": 5, "width": 64, "height": 64}\n' \
    | "$SDC" batch - -m "$MODEL" --steps 2 --rng cpu -t 1 --quiet --output-dir sched
single -W 64 -H 64 -p "a [red:blue:1] fox AND [cat|dog] :0.5" -n "[blurry::1]" -s 5 -o same-sched.png
cmp sched/00000-5.png same-sched.png || fail "batch and sdc differ (prompt schedules)"
# the hires fix (docs/upscale.md) from a job line: the same file as the command line
printf '{"prompt": "a fox", "seed": 6, "width": 64, "height": 64, "hires-fix": true, "hr-scale": 1.5, "hr-upscaler": "lanczos", "hr-steps": 2, "hr-denoising": 0.5}\n' \
    | "$SDC" batch - -m "$MODEL" --steps 2 --rng cpu -t 1 --quiet --output-dir hires
single -W 64 -H 64 -p "a fox" -s 6 --hires-fix --hr-scale 1.5 --hr-upscaler lanczos --hr-steps 2 --hr-denoising 0.5 -o same-hires.png
cmp hires/00000-6.png same-hires.png || fail "batch and sdc differ (hires fix)"
"$SDC" metadata same-hires.png | grep -q "Hires upscale: 1.5" || fail "hires metadata"

# usage errors: exit status 2 before any work
expect_status 2 batch jobs.jsonl -o '{nope}.png' 2> /dev/null
expect_status 2 batch jobs.jsonl --shard 3/3 2> /dev/null
expect_status 2 batch no-such-file.jsonl 2> /dev/null
expect_status 2 batch 2> /dev/null
echo ok
