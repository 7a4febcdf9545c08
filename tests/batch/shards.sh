#!/bin/sh
# sdc batch --shard K/N with GNU parallel: three shards together write exactly the images of
# one unsharded run, byte for byte, each job once.
. "$(dirname "$0")/common.sh"
command -v parallel > /dev/null || { echo "GNU parallel is not installed (Debian: parallel)"; exit 77; }

: > jobs.jsonl
for i in 0 1 2 3 4 5 6; do
    echo "{\"prompt\": \"shard test $((i % 4))\", \"seed\": $i, \"cfg-scale\": $((3 + i % 3))}" >> jobs.jsonl
done
batch jobs.jsonl --output-dir whole
parallel --will-cite -q -j 3 "$SDC" batch jobs.jsonl -m "$MODEL" -W 64 -H 64 --steps 2 \
    --rng cpu -t 1 --quiet --output-dir sharded --shard '{}/3' --report 'shard-{}.jsonl' \
    ::: 0 1 2
same_images whole sharded
for k in 0 1 2; do
    jobs=$(count '"status":"done"' "shard-$k.jsonl")
    want=$(( k == 0 ? 3 : 2 ))
    [ "$jobs" = "$want" ] || fail "shard $k rendered $jobs images, not $want"
    grep -q "\"shard\":\"$k/3\"" "shard-$k.jsonl" || fail "shard $k summary"
done
echo ok
