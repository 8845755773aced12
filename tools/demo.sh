#!/usr/bin/env bash
# demo.sh - `make demo`: the seed's web application deployed end to end on a local network.
#   - a 4-validator kumo testnet (real processes, Tendermint consensus over TLS);
#   - a podman API service on a private socket (the datacenters' container runtime) and the
#     example images built offline (tools/images.sh);
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
tn=$work/testnet
tenant_home=$tn/tenant
sock=$work/podman.sock
podman_remote() { podman --remote --url "unix://$sock" "$@"; }
pids=()
dc=()
started=

if [ -t 1 ]; then
    bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    bold() { printf '\n== %s\n' "$*"; }
fi
say() { printf '   %s\n' "$*"; }
indent() { sed 's/^/   /'; }
k() { "$kumo" "$@" --home "$tenant_home"; }

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    # Only what this demo's providers made (the podman storage is the machine's).
    for a in "${dc[@]}"; do
        [ -S "$sock" ] || break
        mapfile -t ids < <(podman_remote ps -aq --filter "label=kumo.provider=$a" 2>/dev/null)
        [ ${#ids[@]} -eq 0 ] || podman_remote rm -f -t 1 "${ids[@]}" >/dev/null 2>&1 || true
        mapfile -t nets < <(podman_remote network ls -q --filter "label=kumo.provider=$a" 2>/dev/null)
        [ ${#nets[@]} -eq 0 ] || podman_remote network rm -f "${nets[@]}" >/dev/null 2>&1 || true
    done
    [ -z "$started" ] || "$kumo" testnet stop --dir "$tn" >/dev/null 2>&1 || true
    [ -z "${podman_pid:-}" ] || { kill "$podman_pid" 2>/dev/null; wait "$podman_pid" 2>/dev/null; } || true
}

on_exit() {
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "demo: FAILED (exit $rc)." >&2
        for f in "$tn/node0/node.log" "$work"/provider*.log; do
            [ -f "$f" ] || continue
            echo "--- last lines of $f" >&2
            tail -n 25 "$f" >&2
        done
    fi
    cleanup
    if [ "${KUMO_DEMO_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        echo "demo: files kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap on_exit EXIT

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds or time runs out.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "demo: timed out after ${secs}s waiting for $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

field() { awk -v k="$1" '$1 == k { print $2; exit }'; }
balance() { k query account "$1" | field balance; }
height() { k query status | field height; }

bold "setting up: images, container runtime, 4 validators"
"$root/tools/images.sh" | indent
podman --runtime /usr/sbin/runc system service --time 0 "unix://$sock" >"$work/podman.log" 2>&1 &
podman_pid=$!
wait_for 30 "the podman API service at $sock" test -S "$sock"
say "podman API service (Docker Engine API) on $sock"
base_port=$((20000 + (RANDOM % 1000) * 10)) # below the ephemeral port range
"$kumo" testnet init --dir "$tn" --validators 4 --providers 2 --chain-id kumo-demo \
    --base-port "$base_port" --block-interval-ms "$block_ms" | indent
started=1
"$kumo" testnet start --dir "$tn" | indent
export KUMO_NODE=http://127.0.0.1:$base_port
wait_for 30 "the testnet to answer at $KUMO_NODE" k query status

bold "1. two datacenters: kumo provider init, register, start"
regions=(us-east us-west)
for j in 0 1; do
    home=$tn/provider$j
    api_port=$((base_port + 200 + j))
    "$kumo" provider init --home "$home" --region "${regions[$j]}" --node "$KUMO_NODE" \
        --api-listen "127.0.0.1:$api_port" --runtime-socket "$sock" >/dev/null
    # Each datacenter publishes ports from its own range (both run on this machine).
    sed -i -e "s/^port_range_min: .*/port_range_min: $((base_port + 300 + j * 50))/" \
        -e "s/^port_range_max: .*/port_range_max: $((base_port + 349 + j * 50))/" "$home/config.yaml"
    "$kumo" provider register --home "$home" --host-uri "https://127.0.0.1:$api_port" | indent
    "$kumo" provider start --home "$home" >"$work/provider$j.log" 2>&1 &
    pids+=($!)
    dc[$j]=$("$kumo" keys show provider --address --home "$home")
done
wait_for 30 "both providers' APIs" grep -q api_listening "$work/provider1.log"
say "dc-east ${dc[0]} (us-east), dc-west ${dc[1]} (us-west): daemons running, logs in $work"
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
for _ in 1 2 3; do
    say "$(curl -fsS --max-time 5 "$url/")"
done
podman_remote ps --filter "label=kumo.owner=$(k keys show tenant --address)" \
    --format '{{.Names}}  {{.Image}}  {{.Status}}  {{.Ports}}' | indent

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
left=$(podman_remote ps -aq --filter "label=kumo.owner=$(k keys show tenant --address)" | wc -l)
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
cleanup
pids=()
dc=()
started=
podman_pid=
say "providers, validators and the container runtime stopped; demo complete"
