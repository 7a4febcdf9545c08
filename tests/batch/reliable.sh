#!/bin/sh
# sdc batch never lies (issue 23): every image of a job is attempted and reported, --resume
# renders again what no longer matches its job line, a full disk stops the run with whole
# report lines, --report / --grid never replace a file, job files are capped and untrusted.
. "$(dirname "$0")/common.sh"

# summary FILE: the report's summary counts ("done":N,"skipped":N,"failed":N)
summary() { tail -n 1 "$1" | sed 's/.*"done":\([0-9]*\),"skipped":\([0-9]*\),"failed":\([0-9]*\).*/\1 \2 \3/'; }

# One failed image does not drop the rest of its job: each image has one report line.
mkdir taken
: > taken/0-0.png
echo '{"prompt": "three", "seed": 1, "batch-count": 3}' > three.jsonl
expect_status 1 batch three.jsonl -o '{index}-{image}.png' --output-dir taken --report three-report.jsonl 2> /dev/null
[ "$(count '"image":' three-report.jsonl)" = 3 ] || fail "images reported: $(cat three-report.jsonl)"
[ "$(summary three-report.jsonl)" = "2 0 1" ] || fail "summary: $(tail -n 1 three-report.jsonl)"
[ -s taken/0-1.png ] && [ -s taken/0-2.png ] || fail "images 2 and 3 not rendered: $(ls taken)"
[ -s taken/0-0.png ] && fail "the existing file was replaced"

# --resume after the job file changed: the changed image is rendered again, with the reason
printf '{"prompt": "a lake", "seed": 5}\n{"prompt": "a hill", "seed": 6}\n' > edit.jsonl
batch edit.jsonl -o '{index}.png' --output-dir edited
printf '{"prompt": "a lake", "seed": 5}\n{"prompt": "a hill", "seed": 6, "steps": 3}\n' > edit.jsonl
batch edit.jsonl -o '{index}.png' --output-dir edited --resume --report edit-report.jsonl
[ "$(summary edit-report.jsonl)" = "1 1 0" ] || fail "changed job: $(cat edit-report.jsonl)"
grep -q '"redone":"Steps: 2 -> 3"' edit-report.jsonl || fail "no reason: $(cat edit-report.jsonl)"
batch edit.jsonl -o '{index}.png' --output-dir fresh
cmp -s edited/1.png fresh/1.png || fail "the changed image is not the new job's"
sed -i 's/a lake/a sea/' edit.jsonl
batch edit.jsonl -o '{index}.png' --output-dir edited --resume --report edit2.jsonl
grep -q '"redone":"the prompt changed"' edit2.jsonl || fail "prompt change: $(cat edit2.jsonl)"

# A truncated BMP output is found by --resume
echo '{"prompt": "bmp", "seed": 2}' > bmp.jsonl
batch bmp.jsonl -o '{index}.bmp' --output-dir bmp
cp bmp/0.bmp whole.bmp
head -c 3000 whole.bmp > bmp/0.bmp
batch bmp.jsonl -o '{index}.bmp' --output-dir bmp --resume --report bmp-report.jsonl
[ "$(summary bmp-report.jsonl)" = "1 0 0" ] || fail "truncated BMP: $(cat bmp-report.jsonl)"
cmp -s whole.bmp bmp/0.bmp || fail "the BMP was not rendered again"

# --report and --grid never replace a file: the job file, one of the run's images, an
# existing file without --overwrite; and a bad --grid name is a usage error
cp three.jsonl keep.jsonl
expect_status 2 batch three.jsonl --report three.jsonl --output-dir r1 2> /dev/null
cmp -s three.jsonl keep.jsonl || fail "--report replaced the job file"
expect_status 2 batch three.jsonl --report three-report.jsonl --output-dir r1 2> /dev/null
expect_status 2 batch three.jsonl -o '{index}-{image}.png' --grid r1/0-1.png --output-dir r1 2> /dev/null
expect_status 2 batch three.jsonl --grid sheet.gif --output-dir r1 2> /dev/null
[ -e r1/0-0.png ] && fail "a usage error rendered"
: > sheet.png
expect_status 2 batch three.jsonl --grid sheet.png --output-dir r1 2> /dev/null
[ -s sheet.png ] && fail "--grid replaced a file"
batch three.jsonl --grid sheet.png --report three-report.jsonl --overwrite --output-dir r1
[ -s sheet.png ] || fail "--grid --overwrite wrote nothing"

# Job files from strangers: no output outside --output-dir, no absolute model path, no
# overwriting, unless --trust-jobs
for line in '{"prompt": "x", "output": "../out.png"}' '{"prompt": "x", "output": "/tmp/x.png"}' \
    "{\"prompt\": \"x\", \"model\": \"$MODEL\"}" '{"prompt": "x", "overwrite": true}'; do
    echo "$line" > stranger.jsonl
    expect_status 1 batch stranger.jsonl --output-dir strange 2> err.txt
    grep -q -- "--trust-jobs" err.txt || fail "$line: $(cat err.txt)"
done
echo '{"prompt": "x", "output": "../trusted.png"}' > stranger.jsonl
batch stranger.jsonl --output-dir strange --trust-jobs
[ -s trusted.png ] || fail "--trust-jobs did not write ../trusted.png"

# Job files are capped while read: an endless stream is an error at once, not all memory
expect_status 2 "$SDC" batch /dev/zero 2> err.txt
grep -q "longer than" err.txt || fail "/dev/zero: $(cat err.txt)"
expect_status 2 sh -c "yes 'no newline' | tr -d '\\n' | '$SDC' batch - 2> err.txt"
grep -q "longer than" err.txt || fail "one endless line: $(cat err.txt)"
expect_status 2 sh -c "yes '# only comments' | '$SDC' batch - 2> err.txt"
grep -q "larger than" err.txt || fail "yes |: $(cat err.txt)"

# A pipe is read as it arrives: the first job is rendered before the second line is written
mkfifo jobs.fifo
"$SDC" batch - -m "$MODEL" -W 64 -H 64 --steps 2 --rng cpu -t 1 --quiet --output-dir stream \
    --report stream.jsonl < jobs.fifo &
pid=$!
exec 3> jobs.fifo
echo '{"prompt": "first", "seed": 1}' >&3
tries=0
while [ ! -s stream/00000-1.png ] && [ $tries -lt 1200 ]; do sleep 0.05; tries=$((tries + 1)); done
[ -s stream/00000-1.png ] || fail "nothing was rendered before the stream ended"
echo '{"prompt": "second", "seed": 2}' >&3
echo '{"prompt": "third", "seed": 2, "output": "00000-1.png"}' >&3
exec 3>&-
rc=0
wait "$pid" || rc=$?
[ "$rc" = 1 ] || fail "stream: exit $rc"
[ -s stream/00001-2.png ] || fail "the second job of the stream: $(ls stream)"
grep -q 'already the output of line 1' stream.jsonl || fail "stream names: $(cat stream.jsonl)"
[ "$(summary stream.jsonl)" = "2 0 1" ] || fail "stream summary: $(tail -n 1 stream.jsonl)"

# A full disk: the run stops at the first image that cannot be written (exit 1, the
# system's reason), the report holds whole lines, and --resume finishes once there is room.
# A small tmpfs needs a user namespace (unshare -r); /dev/full covers the report alone in
# tests/cli/cli.sh where namespaces are not allowed.
if unshare -rm true 2> /dev/null; then
    : > full.jsonl
    for i in 0 1 2 3 4 5 6 7 8 9; do echo "{\"prompt\": \"noise $i\", \"seed\": $i}" >> full.jsonl; done
    mkdir disk
    cat > full.sh <<SCRIPT
mount -t tmpfs -o size=24k tmpfs disk
rc=0
"$SDC" batch full.jsonl -m "$MODEL" -W 64 -H 64 --steps 2 --rng cpu -t 1 --quiet \
    --output-dir disk/out --report disk/report.jsonl 2> full-err.txt || rc=\$?
echo "\$rc" > full-rc.txt
cp disk/report.jsonl full-report.jsonl
mount -o remount,size=4m disk
"$SDC" batch full.jsonl -m "$MODEL" -W 64 -H 64 --steps 2 --rng cpu -t 1 --quiet \
    --output-dir disk/out --report disk/report2.jsonl --resume
ls disk/out > full-list.txt
cp disk/report2.jsonl full-report2.jsonl
SCRIPT
    unshare -rm sh full.sh || fail "the run after freeing space failed"
    [ "$(cat full-rc.txt)" = 1 ] || fail "disk full: exit $(cat full-rc.txt)"
    grep -q "No space left on device" full-err.txt || fail "disk full: $(cat full-err.txt)"
    grep -q "stopped" full-err.txt || fail "disk full: $(cat full-err.txt)"
    [ "$(count '"status":"failed"' full-report.jsonl)" -le 1 ] || fail "went on: $(cat full-report.jsonl)"
    [ -z "$(tail -c 1 full-report.jsonl)" ] || fail "report ends in a cut line"
    grep -v '}$' full-report.jsonl && fail "a report line is cut"
    [ "$(grep -c '\.png$' full-list.txt)" = 10 ] && ! grep -q tmp full-list.txt \
        || fail "--resume after freeing space: $(cat full-list.txt)"
else
    echo "no user namespaces here: the full-disk run is not tried"
fi
echo ok
