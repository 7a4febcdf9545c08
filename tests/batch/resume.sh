#!/bin/sh
# sdc batch --resume after SIGKILL, SIGTERM and a damaged file: the outputs end up complete
# and byte-identical to an uninterrupted run, nothing is rendered twice.
. "$(dirname "$0")/common.sh"

: > jobs.jsonl
for i in 0 1 2 3 4 5; do
    echo "{\"prompt\": \"a painting number $i\", \"seed\": $((100 + i))}" >> jobs.jsonl
done
batch jobs.jsonl --output-dir ref
[ "$(ls ref | wc -l)" = 6 ] || fail "reference run: $(ls ref)"

# start_and_stop DIR SIGNAL: starts a run, sends SIGNAL once two images exist; prints its
# exit status.
start_and_stop() {
    # not through batch(): a function in the background is a subshell the signal would miss
    "$SDC" batch jobs.jsonl -m "$MODEL" -W 64 -H 64 --steps 2 --rng cpu -t 1 --quiet \
        --output-dir "$1" --report "$1.jsonl" &
    pid=$!
    tries=0
    while [ "$(ls "$1" 2> /dev/null | grep -c '\.png$')" -lt 2 ] && [ $tries -lt 600 ]; do
        sleep 0.05
        tries=$((tries + 1))
    done
    kill "-$2" "$pid" 2> /dev/null || true
    rc=0
    wait "$pid" || rc=$?
    echo "$rc"
}

# SIGKILL: no clean-up at all, maybe a half-written temporary
rc=$(start_and_stop killed KILL)
[ "$rc" = 137 ] || fail "killed run exited $rc"
done_before=$(ls killed | grep -c '\.png$' || true)
[ "$done_before" -lt 6 ] || fail "the run finished before it was killed"
echo "killed after $done_before images: $(ls killed | tr '\n' ' ')"
echo "half-written" > killed/00003-103.png.tmp-Ab12Cd # as a kill during a write leaves
# and one beside an image that is finished (an earlier run's, killed mid-write): --resume
# skips the image but still removes the temporary
echo "half-written" > killed/00000-100.png.tmp-Zy98Xw
batch jobs.jsonl --output-dir killed --resume --report killed-resume.jsonl
same_images ref killed
[ "$(count '"status":"skipped"' killed-resume.jsonl)" = "$done_before" ] \
    || fail "resume skipped $(count '"status":"skipped"' killed-resume.jsonl), not $done_before"

# SIGTERM: the current image stops, the report says so, exit status 143
rc=$(start_and_stop termed TERM)
[ "$rc" = 143 ] || fail "terminated run exited $rc"
tail -n 1 termed.jsonl | grep -q '"interrupted":true' || fail "report of the stopped run"
ls termed | grep -q 'tmp' && fail "a temporary survived SIGTERM: $(ls termed)"
batch jobs.jsonl --output-dir termed --resume
same_images ref termed

# a damaged (truncated) output is rendered again
head -c 200 ref/00004-104.png > termed/00004-104.png
batch jobs.jsonl --output-dir termed --resume --report damaged.jsonl
same_images ref termed
tail -n 1 damaged.jsonl | grep -q '"done":1,"skipped":5,' || fail "damaged file: $(tail -n 1 damaged.jsonl)"
echo ok
