#!/bin/sh
# `sdc serve` end to end (docs/server.md): starts the server on a free loopback port, sends
# AUTOMATIC1111-shaped requests with curl and Python's urllib (tests/serve/checks.py), checks
# that the pictures equal byte for byte what `sdc` writes for the same settings and that their
# parameters round-trip through /png-info; then bad requests, hang-ups, a burst of jobs to a
# small queue, progress / interrupt / skip / cancel, model switching, authentication, and a
# clean exit 0 on SIGTERM. Golden tiny model, else the demo model (as tests/cli/cli.sh).
set -u
SDC="$SDC_BUILD_DIR/cmd/sdc"
CHECKS="$SDC_SOURCE_DIR/tests/serve/checks.py"
TMP=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ -d "$SDC_GOLDEN" ]; then
    MODEL="$SDC_GOLDEN/models/tiny-sd1/model.safetensors"
    INIT="$SDC_GOLDEN/trajectories/img2img.tiny-sd1.init.png"
    MASK="$SDC_GOLDEN/trajectories/inpaint.tiny-sd1.ddim.mask.png"
else
    MODEL="$SDC_SOURCE_DIR/models/demo/model.safetensors"
    INIT="$SDC_SOURCE_DIR/docs/demo.png" MASK="$SDC_SOURCE_DIR/docs/demo-mask.png"
fi
cp "$INIT" "$TMP/init.png"
cp "$MASK" "$TMP/mask.png"
mkdir "$TMP/models"
ln -s "$MODEL" "$TMP/models/second.safetensors"
ln -s "$MODEL" "$TMP/models/third.safetensors"
for f in vocab.json merges.txt special_tokens_map.json; do # the demo model's own vocabulary goes with it
    [ -f "$(dirname "$MODEL")/$f" ] && ln -s "$(dirname "$MODEL")/$f" "$TMP/models/$f"
done

# start ARGS...: the server on a free port; BASE is its URL
start() {
    # emptied here, not only by the child's redirection: the loop below could otherwise read
    # the previous server's "listening" line before the child has truncated the file
    : >"$TMP/serve.err"
    "$SDC" serve --listen 127.0.0.1:0 "$@" 2>"$TMP/serve.err" &
    SERVER=$!
    BASE=
    for _ in $(seq 100); do
        BASE=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$TMP/serve.err")
        [ -n "$BASE" ] && return 0
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.1
    done
    fail "server did not start: $(cat "$TMP/serve.err")"
    return 1
}
# stop: SIGTERM, then the exit status must be 0 within 20 s
stop() {
    kill -TERM "$SERVER"
    for _ in $(seq 200); do
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.1
    done
    wait "$SERVER"
    rc=$?
    [ "$rc" = 0 ] || fail "exit status $rc after SIGTERM: $(cat "$TMP/serve.err")"
    SERVER=
}
check() { SERVER_PID=$SERVER python3 "$CHECKS" "$BASE" "$TMP" "$1" || fail "checks.py $1"; }
# AddressSanitizer keeps freed memory in quarantine: no memory bound there
nm -D "$SDC" 2>/dev/null | grep -q __asan_init && export SANITIZED=1
# txt2img CHECKPOINT: a one-step render with that model (override_settings), by curl
txt2img() {
    curl -s -o /dev/null -w '%{http_code}' "$BASE/sdapi/v1/txt2img" -H 'Content-Type: application/json' \
        -d "{\"prompt\": \"x\", \"steps\": 1, \"width\": 64, \"height\": 64,
             \"override_settings\": {\"sd_model_checkpoint\": \"$1\"}}"
}

# A non-loopback address without authentication is refused, before any model is read.
"$SDC" serve -m "$TMP/missing.safetensors" --listen 0.0.0.0:0 2>"$TMP/err" && fail "0.0.0.0 served open"
grep -q "api-auth" "$TMP/err" || fail "refusal does not say how: $(cat "$TMP/err")"

start -m "$MODEL" --models-dir "$TMP/models" --max-queue 4 --max-body-mib 1 --idle-timeout 2 -v || exit 1
# curl, as the A1111 API documentation shows it
code=$(curl -s -o "$TMP/opts.json" -w '%{http_code}' "$BASE/sdapi/v1/options")
[ "$code" = 200 ] && grep -q '"sd_model_checkpoint"' "$TMP/opts.json" || fail "curl options: $code"
code=$(curl -s -o "$TMP/err.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"prompt": "x", "steps": "ten"}' "$BASE/sdapi/v1/txt2img")
[ "$code" = 422 ] && grep -q 'steps' "$TMP/err.json" || fail "curl bad steps: $code $(cat "$TMP/err.json")"

check txt2img
"$SDC" -m "$MODEL" -p "a red circle" -n blurry -s 1234 --steps 2 --cfg-scale 7 -W 64 -H 64 \
    --sampling-method euler_a -b 2 -o "$TMP/cli.png" --quiet || fail "sdc txt2img"
for i in 1 2; do
    cmp -s "$TMP/cli_$i.png" "$TMP/txt2img_$i.png" || fail "txt2img image $i differs from sdc's"
done
check img2img
"$SDC" -m "$MODEL" -p "a blue square" -s 5 --steps 4 --strength 0.5 -W 64 -H 64 \
    --sampling-method euler --cfg-scale 5 -i "$TMP/init.png" -o "$TMP/cli_i2i.png" --quiet || fail "sdc img2img"
cmp -s "$TMP/cli_i2i.png" "$TMP/img2img_1.png" || fail "img2img image differs from sdc's"
"$SDC" -m "$MODEL" -p "a blue square" -s 5 --steps 4 --strength 0.5 -W 64 -H 64 \
    --sampling-method euler --cfg-scale 5 -i "$TMP/init.png" --mask "$TMP/mask.png" \
    --mask-blur 4 -o "$TMP/cli_inp.png" --quiet || fail "sdc inpaint"
cmp -s "$TMP/cli_inp.png" "$TMP/inpaint_1.png" || fail "inpainting image differs from sdc's"

check faults
check queue
check hangup
check slow
check load50
check memory
check control
# --keep-models 1 (the default): the switch unloaded the first model before loading the next
grep -A2 "unloaded (least recently used) model.safetensors" "$TMP/serve.err" | grep -q "loaded second" ||
    fail "switching did not free the old model first: $(grep 'loaded' "$TMP/serve.err")"
check preview
check long
# SIGTERM while a job runs: a request queued behind it is answered 503, the exit status is 0
curl -s -o "$TMP/queued.json" -w '%{http_code}' "$BASE/sdapi/v1/txt2img" \
    -d '{"prompt": "queued", "steps": 1, "width": 64, "height": 64}' >"$TMP/queued.code" &
sleep 0.3
stop
wait
[ "$(cat "$TMP/queued.code")" = 503 ] && grep -q "shutting down" "$TMP/queued.json" ||
    fail "a request queued at SIGTERM: $(cat "$TMP/queued.code") $(cat "$TMP/queued.json")"
curl -s -o /dev/null "$BASE/sdapi/v1/options" && fail "still listening after SIGTERM"
grep -q "stopping" "$TMP/serve.err" || fail "no 'stopping' line: $(cat "$TMP/serve.err")"

# --keep-models 2: a model used again is not reloaded; the least recently used one goes
start -m "$MODEL" --models-dir "$TMP/models" --keep-models 2 -v || exit 1
for ck in second model.safetensors second model.safetensors third; do
    [ "$(txt2img "$ck")" = 200 ] || fail "txt2img with $ck"
done
loads=$(grep -c "^sdc serve: loaded" "$TMP/serve.err")
[ "$loads" = 3 ] || fail "--keep-models 2: $loads loads for 3 models: $(grep loaded "$TMP/serve.err")"
grep -q "unloaded (least recently used) second.safetensors" "$TMP/serve.err" &&
    ! grep -q "unloaded (least recently used) model" "$TMP/serve.err" ||
    fail "--keep-models 2 evicted the wrong model: $(grep loaded "$TMP/serve.err")"
grep -q "2 of 2 models kept, process RSS" "$TMP/serve.err" || fail "no memory accounting in -v"
stop
# previews through the full VAE every other step; tae is refused at start (sdc serve loads no TAESD)
start -m "$MODEL" --preview vae --preview-interval 2 || exit 1
check preview_vae
stop
"$SDC" serve -m "$MODEL" --preview tae 2>"$TMP/err" && fail "serve --preview tae started"
grep -q "TAESD" "$TMP/err" || fail "serve --preview tae: $(cat "$TMP/err")"
# --cpu: the models load with their kernels capped (said with -v); an unknown name is refused
start -m "$MODEL" --cpu scalar -v || exit 1
[ "$(txt2img model.safetensors)" = 200 ] || fail "txt2img with --cpu scalar"
grep -q "kernels: scalar" "$TMP/serve.err" || fail "serve --cpu scalar: $(cat "$TMP/serve.err")"
stop
"$SDC" serve -m "$MODEL" --cpu sse 2>"$TMP/err"
[ $? = 2 ] && grep -q -- "--cpu must be" "$TMP/err" || fail "serve --cpu sse: $(cat "$TMP/err")"

# --embd-dir: a folder that cannot be read is refused at the start, naming it
"$SDC" serve --embd-dir "$TMP/no-such-folder" --listen 127.0.0.1:0 2>"$TMP/err" && fail "missing --embd-dir accepted"
grep -q -- "--embd-dir $TMP/no-such-folder: cannot open" "$TMP/err" || fail "missing --embd-dir: $(cat "$TMP/err")"
# the demo model with an embeddings folder: listed, and the picture equals sdc's with --embd-dir
mkdir "$TMP/emb"
start --embd-dir "$TMP/emb" || exit 1
check embeddings
grep -q "warning: $TMP/emb/broken.safetensors: .*(not listed in /sdapi/v1/embeddings)" "$TMP/serve.err" ||
    fail "the file that is no embedding was not logged: $(cat "$TMP/serve.err")"
stop
"$SDC" -p "a sparkle circle" -s 9 --steps 3 -W 64 -H 64 --sampling-method euler --cfg-scale 7 \
    --embd-dir "$TMP/emb" -o "$TMP/cli_emb.png" --quiet || fail "sdc --embd-dir"
cmp -s "$TMP/cli_emb.png" "$TMP/embedding_1.png" || fail "the picture with an embedding differs from sdc's"
"$SDC" -p "a sparkle circle" -s 9 --steps 3 -W 64 -H 64 --sampling-method euler --cfg-scale 7 \
    -o "$TMP/cli_noemb.png" --quiet || fail "sdc without --embd-dir"
cmp -s "$TMP/cli_noemb.png" "$TMP/embedding_1.png" && fail "the embedding changed nothing"

# --token-file: bad files are refused with the file and line named, the token never shown
printf 'short\n' >"$TMP/bad-tokens"
"$SDC" serve --token-file "$TMP/bad-tokens" --listen 127.0.0.1:0 2>"$TMP/err" && fail "short token accepted"
grep -q "bad-tokens: line 1: a token has 16" "$TMP/err" && ! grep -q short "$TMP/err" ||
    fail "short token: $(cat "$TMP/err")"
printf '# none\n\n' >"$TMP/bad-tokens"
"$SDC" serve --token-file "$TMP/bad-tokens" --listen 127.0.0.1:0 2>"$TMP/err" && fail "empty token file accepted"
grep -q "bad-tokens: no token" "$TMP/err" || fail "empty token file: $(cat "$TMP/err")"
head -c 70000 /dev/zero | tr '\0' 'a' >"$TMP/bad-tokens"
"$SDC" serve --token-file "$TMP/bad-tokens" --listen 127.0.0.1:0 2>"$TMP/err" && fail "huge token file accepted"
grep -q "above 64 KiB" "$TMP/err" || fail "huge token file: $(cat "$TMP/err")"
"$SDC" serve --token-file "$TMP/missing" --listen 127.0.0.1:0 2>"$TMP/err" && fail "missing token file accepted"
grep -q "missing: cannot read" "$TMP/err" || fail "missing token file: $(cat "$TMP/err")"
# two tokens (a comment, a blank line, CRLF endings), with basic authentication beside them
T1=$(head -c 24 /dev/urandom | base64 | tr -d '\n')
T2=$(head -c 30 /dev/urandom | base64 | tr -d '\n')
printf '# tokens of the render farm\r\n%s\r\n\r\n  %s\n' "$T1" "$T2" >"$TMP/tokens"
start -m "$MODEL" --api-auth user:secret --token-file "$TMP/tokens" -v || exit 1
check auth
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T1" "$BASE/sdapi/v1/progress")
[ "$code" = 200 ] || fail "curl with a bearer token: $code"
stop
if grep -qF -e "$T1" -e "$T2" "$TMP/serve.err"; then fail "a token was logged"; fi

[ "$failures" = 0 ] || { echo "$failures failures"; exit 1; }
echo "serve: all checks passed"
