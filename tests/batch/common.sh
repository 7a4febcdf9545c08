# Shared set-up of the `sdc batch` end-to-end tests (sourced): the built program, the golden
# tiny model (or the demo model), small fast settings, a scratch folder removed on exit, and checks.
set -eu
: "${SDC_BUILD_DIR:?run these through meson test}"
: "${SDC_GOLDEN:?run these through meson test}"
SDC="$SDC_BUILD_DIR/cmd/sdc"
MODEL="$SDC_GOLDEN/models/tiny-sd1/model.safetensors"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sdc-batch-test-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
# A clone without ../shared/golden: the same checks on the demo model (no check here needs
# the golden model's numbers, only a small SD model).
if [ ! -d "$SDC_GOLDEN" ]; then
    echo "golden data not found at $SDC_GOLDEN: using the demo model"
    MODEL="$SDC_SOURCE_DIR/models/demo/model.safetensors"
fi

# One thread per process: quick on a shared machine. (resume.sh and shards.sh spell these
# options out where they start sdc without this function.)
batch() { "$SDC" batch "$@" -m "$MODEL" -W 64 -H 64 --steps 2 --rng cpu -t 1 --quiet; }

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_status WANT COMMAND...: runs COMMAND, fails unless it exits with WANT.
expect_status() {
    want=$1
    shift
    got=0
    "$@" || got=$?
    [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want"
}

# count PATTERN FILE: lines of FILE containing the fixed string PATTERN.
count() { grep -cF -- "$1" "$2" || true; }

# same_images DIR1 DIR2: the same PNG names with the same bytes, and nothing half-written.
same_images() {
    (cd "$1" && ls) > "$WORK/list1"
    (cd "$2" && ls) > "$WORK/list2"
    cmp -s "$WORK/list1" "$WORK/list2" || fail "$1 and $2 hold different files: $(diff "$WORK/list1" "$WORK/list2" | tr '\n' ' ')"
    for f in "$1"/*; do
        cmp -s "$f" "$2/$(basename "$f")" || fail "$f differs from $2/$(basename "$f")"
    done
}
