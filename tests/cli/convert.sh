#!/bin/sh
# sdc convert of a diffusers folder to GGUF: the file equals what converting the folder to a
# .safetensors and that to GGUF gives, byte for byte, and it draws a picture; a folder that is
# no diffusers model, a missing or corrupt component file, an SDXL folder: a one-line error
# naming it, exit status 1, nothing at OUT (no temporary either). Runs on the golden tiny
# models (without golden data: the help text and the refused empty folder only).
set -u
SDC="$SDC_BUILD_DIR/cmd/sdc"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
REPORT="$SDC_BUILD_DIR/tests/report-convert_cli.tap" # skipped checks, for tests/run.sh
: >"$REPORT"

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
# refused FOLDER PATTERN: converting FOLDER fails with one line naming PATTERN, nothing written
refused() {
    mkdir "$TMP/o"
    expect 1 "$2" -- "$SDC" convert "$1" "$TMP/o/out.gguf" --type q8_0
    [ "$(wc -l <"$TMP/err")" = 1 ] || fail "more than one line for $1: $(cat "$TMP/err")"
    [ -z "$(ls -A "$TMP/o")" ] && rmdir "$TMP/o" || { fail "$1 left $(ls -A "$TMP/o")"; rm -rf "$TMP/o"; }
}

# docs/cli.md carries the help text verbatim
"$SDC" convert --help >"$TMP/help" || fail "sdc convert --help"
while IFS= read -r line; do
    grep -qxF -- "$line" "$SDC_SOURCE_DIR/docs/cli.md" || fail "docs/cli.md lacks: $line"
done <"$TMP/help"

mkdir "$TMP/empty"
refused "$TMP/empty" "$TMP/empty: a folder without model_index.json is no diffusers model"

if [ -d "$SDC_GOLDEN" ]; then
    DIFF="$SDC_GOLDEN/models/tiny-sd1/diffusers"
    for type in q8_0 q4_K; do
        expect 0 "wrote 980 tensors" -- "$SDC" convert "$DIFF" "$TMP/direct.$type.gguf" --type "$type"
        expect 0 "" -- "$SDC" convert "$DIFF" "$TMP/folder.safetensors" --overwrite
        expect 0 "" -- "$SDC" convert "$TMP/folder.safetensors" "$TMP/via.$type.gguf" --type "$type"
        cmp -s "$TMP/direct.$type.gguf" "$TMP/via.$type.gguf" ||
            fail "folder -> $type GGUF differs from folder -> .safetensors -> $type GGUF"
    done
    expect 0 "" -- "$SDC" info "$TMP/direct.q8_0.gguf"
    grep -q "^gguf: .* q8_0$" "$TMP/out" || fail "sdc info of the folder's q8_0 file: $(cat "$TMP/out")"
    expect 0 "" -- "$SDC" -m "$TMP/direct.q8_0.gguf" -W 64 -H 64 --steps 1 --quiet -p x -o "$TMP/q8.png"
    [ -s "$TMP/q8.png" ] || fail "no picture from the folder's q8_0 file"
    expect 1 "exists" -- "$SDC" convert "$DIFF" "$TMP/direct.q8_0.gguf" --type q8_0

    # broken copies of the folder (links to the golden files but the one at fault)
    broken() { rm -rf "$TMP/bad" && cp -rs "$DIFF" "$TMP/bad"; }
    broken && rm "$TMP/bad/unet/diffusion_pytorch_model.safetensors"
    refused "$TMP/bad" "$TMP/bad: no unet weights"
    broken && rm "$TMP/bad/vae/diffusion_pytorch_model.safetensors" &&
        head -c 100000 "$DIFF/vae/diffusion_pytorch_model.safetensors" >"$TMP/bad/vae/diffusion_pytorch_model.safetensors"
    refused "$TMP/bad" "$TMP/bad/vae/diffusion_pytorch_model.safetensors: .*outside"
    broken && rm "$TMP/bad/model_index.json" && echo '{' >"$TMP/bad/model_index.json"
    refused "$TMP/bad" "$TMP/bad/model_index.json: not valid JSON"
    refused "$SDC_GOLDEN/models/tiny-sdxl/diffusers" "tiny-sdxl/diffusers: converting an SDXL"
else
    echo "SKIP: diffusers folder to GGUF: golden data not found at $SDC_GOLDEN"
    echo "ok - convert_cli: diffusers folder to GGUF # SKIP golden data not found at $SDC_GOLDEN" >>"$REPORT"
fi

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all convert checks passed"
