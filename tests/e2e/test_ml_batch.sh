#!/usr/bin/env bash
# test_ml_batch.sh - the ml-batch example end to end (tools/example.sh ml-batch: one validator,
# three datacenters in three regions, each host in its own network namespace; the images
# built, the grant created, the stack deployed, examples/ml-batch/scenario.sh run, everything
# closed and removed). The scenario checks, each an "ok - " line: workers scaled up while jobs
# were queued, a step past the grant's max_count refused by the chain (KUMO_EGRANTCOUNT) and
# logged by the controller, which stayed within it; the worker group removed once the queue
# was empty; every resize a MsgExec of the grantee under the grant in the chain's events and
# no other update; all jobs done; the controller's container reaches the node but not another
# private address. This test requires all of them and a clean exit.
#
# Usage: tests/e2e/test_ml_batch.sh path/to/kumo   (KUMO_EXAMPLE_KEEP=1 keeps the files)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp "${TMPDIR:-/tmp}/kumo-e2e-ml-batch-XXXXXX.out")
trap 'rm -f "$out"' EXIT
# Into a file, not a pipe: nothing the run leaves behind can hold this test open.
rc=0
"$root/tools/example.sh" ml-batch "$1" >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || { echo "e2e: FAILED: tools/example.sh ml-batch (exit $rc)" >&2; exit 1; }
want=14
got=$(grep -c '^example: ok - ' "$out" || true)
[ "$got" -eq "$want" ] || { echo "e2e: FAILED: $got of $want checks passed" >&2; exit 1; }
grep -q '^example: ml-batch: done$' "$out" || { echo "e2e: FAILED: no clean end" >&2; exit 1; }
echo "e2e: ok - ml-batch: $got checks"
