#!/usr/bin/env bash
# fuzz.sh - runs every libFuzzer target of build/fuzz for a bounded time each.
# usage: tools/fuzz.sh [seconds-per-target]   (default 20)
# The seed corpus in fuzz/corpus/<target> is read; new inputs go to a temp dir, so the repo
# does not grow. A crash leaves its input in fuzz/findings/ and fails the run.
set -euo pipefail
secs=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/fuzz/findings"
fail=0
for bin in "$root"/build/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    work=$(mktemp -d)
    echo "fuzz: $name for ${secs}s"
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$root/fuzz/findings/$name-" "$work" "$root/fuzz/corpus/$name" \
        >"$work.log" 2>&1; then
        echo "fuzz: $name FAILED"; tail -40 "$work.log"; fail=1
    else
        grep -E "stat::number_of_executed_units" "$work.log" | sed "s/^/fuzz: $name /" || true
    fi
    rm -rf "$work" "$work.log"
done
exit $fail
