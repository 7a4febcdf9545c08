#!/bin/sh
# Recipes (--recipe, docs/fast.md): a few-step model named so runs with its recipe, the flags
# given win, --recipe names one, an LCM-LoRA or --sampling-method lcm asks for LCM's, and
# `sdc batch --resume` keeps a picture made with a recipe. Runs on the demo model, linked
# under other names beside its tokenizer files.
set -u
SDC="$SDC_BUILD_DIR/cmd/sdc"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
REPORT="$SDC_BUILD_DIR/tests/report-recipe_cli.tap" # skipped checks, for tests/run.sh
: >"$REPORT"

for f in "$SDC_SOURCE_DIR"/models/demo/*; do
    ln -s "$f" "$TMP/"
done
mv "$TMP/model.safetensors" "$TMP/demo-turbo.safetensors"
ln -s "$TMP/demo-turbo.safetensors" "$TMP/demo.safetensors"
TURBO="-m $TMP/demo-turbo.safetensors -W 64 -H 64 -p red -s 7 -t 1"
PLAIN="-m $TMP/demo.safetensors -W 64 -H 64 -p red -s 7 -t 1"

# run NAME ARGS...: renders $TMP/NAME.png with -v; its log in $TMP/NAME.err, its parameters
# in $TMP/NAME.txt
run() {
    name=$1
    shift
    "$SDC" "$@" -v -o "$TMP/$name.png" >"$TMP/$name.err" 2>&1 || fail "$name: $(cat "$TMP/$name.err")"
    "$SDC" metadata "$TMP/$name.png" >"$TMP/$name.txt" 2>&1 || fail "$name: no metadata"
}
# has NAME TEXT: the log or the parameters of run NAME contain TEXT
has() { cat "$TMP/$1.err" "$TMP/$1.txt" | grep -qF -- "$2" || fail "$1 lacks '$2': $(cat "$TMP/$1.err" "$TMP/$1.txt")"; }
lacks() { cat "$TMP/$1.err" "$TMP/$1.txt" | grep -qF -- "$2" && fail "$1 has '$2'"; }

run turbo $TURBO
has turbo "recipe turbo (file name): 1 step, CFG 1, sampler euler_a, schedule trailing"
has turbo "Steps: 1, Sampler: Euler a, CFG scale: 1, "
# the same picture as the recipe's settings spelt out
"$SDC" $TURBO --recipe standard --steps 1 --cfg-scale 1 --sampling-method euler_a \
    --scheduler trailing --quiet -o "$TMP/spelt.png" || fail "spelt-out turbo settings"
cmp -s "$TMP/turbo.png" "$TMP/spelt.png" || fail "the turbo recipe differs from its settings spelt out"

run steps $TURBO --steps 3 --scheduler karras
has steps "recipe turbo (file name): 3 steps, CFG 1, sampler euler_a, schedule karras"
run standard $TURBO --recipe standard
has standard "recipe standard (--recipe): 20 steps, CFG 7, sampler euler_a"
has standard "Steps: 20, Sampler: Euler a, CFG scale: 7, "
run plain $PLAIN
lacks plain "recipe "
run named $PLAIN --recipe turbo
has named "recipe turbo (--recipe): 1 step"
run lcm $PLAIN --sampling-method lcm
has lcm "recipe lcm (--sampling-method lcm): 4 steps, CFG 1, sampler lcm"
has lcm "Steps: 4, Sampler: LCM, CFG scale: 1, "
run lcm_cfg $PLAIN --recipe lcm --cfg-scale 1.5
has lcm_cfg "recipe lcm (--recipe): 4 steps, CFG 1.5, sampler lcm"

"$SDC" $PLAIN --recipe fast -o "$TMP/bad.png" 2>"$TMP/bad.err"
[ $? = 2 ] || fail "--recipe fast was accepted"
grep -q -- "--recipe" "$TMP/bad.err" || fail "--recipe error: $(cat "$TMP/bad.err")"

# an LCM-LoRA, by its file name or its prompt tag (the golden tiny SD 1.x model and LoRA)
if [ -d "$SDC_GOLDEN" ]; then
    ln -s "$SDC_GOLDEN/lora/loras/kohya_attn_te.safetensors" "$TMP/lcm-lora-tiny.safetensors"
    GM="-m $SDC_GOLDEN/models/tiny-sd1/model.safetensors -W 64 -H 64 -s 7 -t 1"
    run lora $GM -p red --lora "$TMP/lcm-lora-tiny.safetensors"
    has lora "recipe lcm (--lora file name): 4 steps, CFG 1, sampler lcm"
    run tag $GM -p "red <lora:lcm-lora-tiny:1>" --lora-model-dir "$TMP"
    has tag "recipe lcm (prompt's LoRA tag): 4 steps"
else
    echo "SKIP: LCM-LoRA recipe: golden data not found at $SDC_GOLDEN"
    echo "ok - recipe: LCM-LoRA # SKIP golden data not found at $SDC_GOLDEN" >>"$REPORT"
fi

# batch: a job takes its model's recipe, and --resume keeps the picture it made
printf '{"prompt": "red", "seed": 7}\n{"prompt": "blue", "seed": 8, "recipe": "lcm"}\n' >"$TMP/jobs.jsonl"
"$SDC" batch "$TMP/jobs.jsonl" -m "$TMP/demo-turbo.safetensors" -W 64 -H 64 -t 1 --quiet \
    --output-dir "$TMP/out" || fail "batch with a recipe"
"$SDC" metadata "$TMP/out/00000-7.png" | grep -qF "Steps: 1, Sampler: Euler a, CFG scale: 1, " ||
    fail "batch job without settings did not take the turbo recipe"
"$SDC" metadata "$TMP/out/00001-8.png" | grep -qF "Steps: 4, Sampler: LCM, CFG scale: 1, " ||
    fail "batch job with \"recipe\": \"lcm\" did not take it"
"$SDC" batch "$TMP/jobs.jsonl" -m "$TMP/demo-turbo.safetensors" -W 64 -H 64 -t 1 \
    --output-dir "$TMP/out" --resume --report "$TMP/report.jsonl" >/dev/null 2>&1 ||
    fail "batch --resume"
[ "$(grep -c '"status":"skipped"' "$TMP/report.jsonl")" = 2 ] ||
    fail "batch --resume rendered recipe pictures again: $(cat "$TMP/report.jsonl")"

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all recipe checks passed"
