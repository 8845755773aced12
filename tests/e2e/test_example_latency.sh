#!/usr/bin/env bash
# test_example_latency.sh - the latency example end to end (`tools/example.sh latency`: a local
# network in namespace mode with datacenters in us-east, us-west and eu-central, real
# containers, examples/latency/scenario.sh), then its outcomes from what the scenario read on
# the chain and in the controller's logs:
#   - load rising in eu-central: the controller's update added a web group there (tx events
#     group.created in eu-central and grant.used: an Exec under the grant), the provider in
#     eu-central leased it and its web tier answered;
#   - load falling: the group was removed (group.closed reason=group_removed, grant.used) and
#     its provider released the lease;
#   - load rising in ap-south, outside the grant: the controller's tx was refused
#     (KUMO_EGRANTREGION, logged) and the deployment's groups did not change.
# usage: test_example_latency.sh path/to/kumo
# shellcheck disable=SC2015 # "check && check || fail" is meant
set -euo pipefail
kumo=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/kumo-e2e-latency-XXXXXX")
checks=0
fail() {
    echo "e2e: FAILED: $*" >&2
    echo "e2e: files kept in $out" >&2
    exit 1
}
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    "$@" || fail "$what"
    checks=$((checks + 1))
    echo "e2e: ok $checks - $what"
}
result() { awk -v k="$1" '$1 == k { print $2 }' "$out/results" | tail -n 1; }

if ! LATENCY_RESULTS=$out/results bash "$root/tools/example.sh" latency "$kumo" >"$out/run.log" 2>&1; then
    tail -n 80 "$out/run.log" >&2
    fail "tools/example.sh latency"
fi
log() { grep -q -- "$1" "$out/run.log"; }
is() { [ "$(result "$1")" = "$2" ]; }
has() { [ -n "$(result "$1")" ]; }
added() { has add_tx && is add_events_ok 1; }
removed() { has remove_tx && is remove_events_ok 1 && [ "$(result remove_tx)" != "$(result add_tx)" ]; }
refused() { has refused_tx && is refused 1; }
check "the deployment was made under a grant" has dseq
check "eu-central added by the controller's update (tx events: group.created in eu-central, grant.used)" added
check "the eu-central web tier served its clients" is eu_served 1
check "eu-central removed by another update (group.closed reason=group_removed, grant.used)" removed
check "the eu-central lease released by its provider" is eu_lease_closed 1
check "ap-south, outside the grant: the controller's tx refused, nothing changed" refused
check "the runner said each step" log "refused by the chain (KUMO_EGRANTREGION)"
rm -rf "$out"
echo "e2e: test_example_latency: $checks checks passed"
