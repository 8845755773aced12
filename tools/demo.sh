#!/usr/bin/env bash
# demo.sh - `make demo`: the seed's web application deployed end to end on a local network.
#   - a 4-validator kumo testnet (real processes, Tendermint consensus over TLS);
#   - every host in its own network namespace with its own address on 10.77.X.0/24 (the
#     validators, each datacenter, and this machine as the tenant), falling back to 127.0.0.1
#     with a message where namespaces cannot be made (tools/localdc.sh);
#   - the example images built offline (tools/images.sh) and a podman API service on a private
#     socket per datacenter, in its host (one shared service on loopback);
#   - two datacenters, us-east and us-west: `kumo provider init|register|start` (real daemons
#     that bid, run the leased workloads in containers, confirm and release);
#   - the tenant: `kumo deploy create examples/webapp/stack.yml` (web in us-east, its counter
#     database in us-west), curl of the web tier (which counts its visits in the database at
#     the other provider), the providers being paid by their confirmations, `kumo deploy
#     close`, the containers gone and the escrow back.
#
# Usage: tools/demo.sh [path/to/kumo]   (default build/release/kumo)
# Env:   KUMO_DEMO_KEEP=1 keeps the temp dir; KUMO_DEMO_BLOCK_MS (default 500).
# Any failure prints the logs' tails and exits non-zero. Waits poll with deadlines.
set -euo pipefail

kumo=${1:-build/release/kumo}
[ -x "$kumo" ] || { echo "demo: $kumo not found; run make build first" >&2; exit 1; }
kumo=$(cd "$(dirname "$kumo")" && pwd)/$(basename "$kumo")
root=$(cd "$(dirname "$0")/.." && pwd)
block_ms=${KUMO_DEMO_BLOCK_MS:-500}
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-demo-XXXXXX")
# shellcheck source=localdc.sh
. "$root/tools/localdc.sh"
localdc_init "$work" "$kumo"
tenant_home=$LOCALDC_TN/tenant

if [ -t 1 ]; then
    bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    bold() { printf '\n== %s\n' "$*"; }
fi
say() { printf '   %s\n' "$*"; }
indent() { sed 's/^/   /'; }
k() { "$kumo" "$@" --home "$tenant_home"; }

on_exit() {
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "demo: FAILED (exit $rc)." >&2
        localdc_logs
    fi
    localdc_cleanup
    if [ "${KUMO_DEMO_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        echo "demo: files kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap on_exit EXIT

field() { awk -v k="$1" '$1 == k { print $2; exit }'; }
balance() { k query account "$1" | field balance; }
height() { k query status | field height; }

bold "setting up: hosts, images, container runtime, 4 validators"
if localdc_netns_start 2>"$work/netns.out"; then
    say "every host in its own network namespace: this one (the tenant) $LOCALDC_NET.1," \
        "the validators $LOCALDC_NET.2, the datacenters from $LOCALDC_NET.11"
else
    say "$(cat "$work/netns.out")"
fi
"$root/tools/images.sh" | indent
localdc_podman_start
localdc_testnet_start 4 "$block_ms"
indent <"$LOCALDC_WORK/testnet-start.out"
[ -z "$LOCALDC_NETNS" ] || say "(addresses as seen inside the validators' host; the others use $KUMO_NODE)"
wait_for 30 "the testnet to answer at $KUMO_NODE" k query status

bold "1. two datacenters: kumo provider init, register, start"
localdc_provider_add dc-east us-east
localdc_provider_add dc-west us-west
indent <"$work/dc-east-register.out"
indent <"$work/dc-west-register.out"
dc=("${DC_ADDR[dc-east]}" "${DC_ADDR[dc-west]}")
say "dc-east ${dc[0]} (us-east) at ${DC_HOST[dc-east]}, dc-west ${dc[1]} (us-west) at" \
    "${DC_HOST[dc-west]}: daemons running, each with its podman API service (Docker Engine" \
    "API), logs in $work"
# The containers datacenter $1 runs for the tenant, as its own runtime lists them.
tenant_containers() {
    localdc_podman "$1" ps -a --filter "label=kumo.provider=${DC_ADDR[$1]}" \
        --filter "label=kumo.owner=$(k keys show tenant --address)" "${@:2}"
}
b0_start=$(balance "${dc[0]}")
b1_start=$(balance "${dc[1]}")
bt_start=$(balance "$(k keys show tenant --address)")

bold "2. the tenant deploys examples/webapp/stack.yml"
cp "$root/examples/webapp/stack.yml" "$work/stack.yml"
k deploy create "$work/stack.yml" --from tenant | indent
url=$(k deploy status "$work/stack.yml" --output json | tr -d ' \n' |
    grep -o '"url":"http://[^"]*","scope":"global"' | head -n 1 | cut -d'"' -f4)
[ -n "$url" ] || { echo "demo: no global endpoint in the status" >&2; exit 1; }

bold "3. the web tier answers at $url (its counter lives at the other datacenter)"
# The containers run; the providers then exchange their tunnel addresses and dc-east dials
# dc-west (a pass or two).
wait_for 60 "the tunnel from dc-east to dc-west" \
    grep -q 'event=tunnel_up side=client' "$work/dc-east.log"
for _ in 1 2 3; do
    say "$(curl -fsS --max-time 5 "$url/")"
done
for name in dc-east dc-west; do
    tenant_containers "$name" --format "$name  {{.Names}}  {{.Image}}  {{.Status}}  {{.Ports}}" | indent
done
say "the database publishes no port: web reaches it through the mTLS tunnel dc-east opened to" \
    "dc-west (certificates from their on-chain roots):"
grep -ho 'event=tunnel_up .*' "$work/dc-east.log" "$work/dc-west.log" | head -n 2 | indent

bold "4. the providers confirm their leases and are paid from the escrow"
# What a provider's first lease has paid it so far.
lease_paid() {
    k query leases --provider "$1" --output json | grep -o '"total_paid": "[0-9]*"' | head -n 1 |
        grep -o '[0-9][0-9]*' || echo 0
}
say "(each locked its bid's collateral, so balances start below where they were)"
for _ in 1 2; do
    p0=$(lease_paid "${dc[0]}")
    p1=$(lease_paid "${dc[1]}")
    more_paid() { [ "$(lease_paid "${dc[0]}")" -gt "$p0" ] && [ "$(lease_paid "${dc[1]}")" -gt "$p1" ]; }
    wait_for 120 "the next confirmations of both providers" more_paid
    say "height $(height): dc-east paid $(lease_paid "${dc[0]}") ukumo so far (balance" \
        "$(balance "${dc[0]}")), dc-west paid $(lease_paid "${dc[1]}") (balance $(balance "${dc[1]}"))"
done
k query leases --owner tenant | indent

bold "5. the tenant closes the deployment; the providers release and the escrow returns"
k deploy close "$work/stack.yml" --from tenant | indent
left=$({ tenant_containers dc-east -q; tenant_containers dc-west -q; } | wc -l)
say "containers left at the providers: $left"
[ "$left" -eq 0 ]

bold "6. balances (tenant paid the providers; collateral back to the providers)"
printf '   %-8s %14s %12s\n' actor balance change
for who in "tenant:$(k keys show tenant --address):$bt_start" "dc-east:${dc[0]}:$b0_start" \
    "dc-west:${dc[1]}:$b1_start"; do
    IFS=: read -r name addr start <<<"$who"
    b=$(balance "$addr")
    printf '   %-8s %14s %+12d\n' "$name" "$b ukumo" $((b - start))
done

bold "stopping"
localdc_cleanup
say "providers, validators, the container runtimes and the hosts stopped; demo complete"
