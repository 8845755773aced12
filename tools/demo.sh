#!/usr/bin/env bash
# demo.sh - `make demo`: starts a local 4-validator kumo testnet (real processes agreeing on
# blocks with Tendermint consensus over TLS) and walks the marketplace
# lifecycle through the kumo CLI against it, printing each step: two providers register (us-east
# and us-west), the tenant deploys the seed's web application (a web group and a db group),
# the providers bid, the facilitator leases automatically, the providers confirm over a few
# blocks (their balances grow), the tenant closes, the providers confirm the release, the
# deployment closes, final balances. Then the node is stopped cleanly (SIGTERM, wait).
#
# Usage: tools/demo.sh [path/to/kumo]   (default build/release/kumo)
# Env:   KUMO_DEMO_KEEP=1 keeps the temp dir; KUMO_DEMO_BLOCK_MS (default 300).
# Any failure prints the node log's tail and exits non-zero. Waits poll with deadlines.
set -euo pipefail

kumo=${1:-build/release/kumo}
[ -x "$kumo" ] || { echo "demo: $kumo not found; run make build first" >&2; exit 1; }
kumo=$(cd "$(dirname "$kumo")" && pwd)/$(basename "$kumo")
block_ms=${KUMO_DEMO_BLOCK_MS:-300}
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-demo-XXXXXX")
tn=$work/testnet
cli_home=$work/cli
log=$tn/node0/node.log
node_pid=

if [ -t 1 ]; then
    bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    bold() { printf '\n== %s\n' "$*"; }
fi
say() { printf '   %s\n' "$*"; }
k() { "$kumo" "$@" --home "$cli_home"; }

stop_node() {
    [ -n "$node_pid" ] || return 0
    node_pid=
    "$kumo" testnet stop --dir "$tn" >/dev/null
}

on_exit() {
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "demo: FAILED (exit $rc). Last lines of the node log ($log):" >&2
        tail -n 30 "$log" >&2 2>/dev/null || true
    fi
    stop_node || true
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
        sleep 0.1
    done
}

# The value of a "key  value" line of text output.
field() { awk -v k="$1" '$1 == k { print $2; exit }'; }
height() { k query status | field height; }
balance() { k query account "$1" | field balance; }
# What the provider's lease has paid so far (its first lease's total_paid).
lease_paid() {
    k query leases --provider "$1" --output json | grep -o '"total_paid": "[0-9]*"' | head -n 1 |
        grep -o '[0-9][0-9]*'
}
count_state() { k query "$1" --owner tenant --state "$2" --output json | grep -c "\"$3\"" || true; }

bold "setting up: keys, genesis, node"
for name in tenant dc-east dc-west; do
    k keys add "$name" >/dev/null
    say "key $name: $(k keys show "$name" --address)"
done
base_port=$((20000 + (RANDOM % 1200) * 10)) # below the ephemeral port range
"$kumo" testnet init --dir "$tn" --validators 4 --providers 0 --chain-id kumo-demo \
    --base-port "$base_port" --block-interval-ms "$block_ms" >/dev/null
for i in 0 1 2 3; do
    for name in tenant dc-east dc-west; do
        "$kumo" genesis add-account --home "$tn/node$i" "$(k keys show "$name" --address)" \
            10000000 >/dev/null
    done
done
say "genesis: tenant, dc-east and dc-west start with 10000000 ukumo (10 kumo) each"
node_pid=testnet
"$kumo" testnet start --dir "$tn" | sed 's/^/   /'
export KUMO_NODE=http://127.0.0.1:$base_port
wait_for 20 "the testnet to answer GET /status at $KUMO_NODE" k query status
say "4 validators running; the CLI talks to node0 at $KUMO_NODE; a block every ~${block_ms} ms"
k query params | sed 's/^/   /'

bold "1. providers register"
cat >"$work/ca.pem" <<'EOF'
-----BEGIN CERTIFICATE-----
MIIBWTCCAQugAwIBAgIUGRnLhMsuKWDni6/ZMEoxsEU1rpQwBQYDK2VwMCIxIDAe
BgNVBAMMF2t1bW8gZGVtbyBwcm92aWRlciByb290MB4XDTI2MTEyNTAwMTYxM1oX
DTM2MTEyMjAwMTYxM1owIjEgMB4GA1UEAwwXa3VtbyBkZW1vIHByb3ZpZGVyIHJv
b3QwKjAFBgMrZXADIQB4OVaLMNggNjGBgSqeDjUrdYoScvfK/LOGDZwWHFHxCaNT
MFEwHQYDVR0OBBYEFDDQqzHiMX5GFO06tGFvvQrRJlaJMB8GA1UdIwQYMBaAFDDQ
qzHiMX5GFO06tGFvvQrRJlaJMA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EAAZ+i
J5HEA2hf+U+2pQA9GDyk7xbIGuJl8HJKDWr3n5/PIr57KiTVP2W8FM8qAb2Ua3DX
+cU54F03wwXiny27BA==
-----END CERTIFICATE-----
EOF
k tx provider create --from dc-east --host-uri https://dc-east.example:8443 --region us-east \
    --cert-file "$work/ca.pem" --attr tier=gold --wait | sed 's/^/   /'
k tx provider create --from dc-west --host-uri https://dc-west.example:8443 --region us-west \
    --cert-file "$work/ca.pem" --wait | sed 's/^/   /'
k query providers | sed 's/^/   /'

bold "2. the tenant deploys the seed's web application (web in us-east, db in us-west)"
cat >"$work/manifest.txt" <<'EOF'
web: image=localhost/kumo-web:1 port=80 global=true count=2
db: image=localhost/kumo-counter:1 port=6379 from=web count=1
EOF
dseq=1
k tx deployment create --from tenant --dseq $dseq --wait-blocks 2 --deposit 200000 \
    --version-file "$work/manifest.txt" \
    --group name=web,region=us-east,cpu=500m,memory=512Mi,storage=1Gi,count=2,price=40,collateral=5000,persist \
    --group name=db,region=us-west,cpu=1,memory=1Gi,storage=10Gi,count=1,price=60,collateral=10000 \
    --wait | sed 's/^/   /'
k query orders --owner tenant --state open | sed 's/^/   /'

bold "3. providers bid below the tenant's maximum"
k tx fulfillment create --from dc-east "tenant/$dseq/0/1" --price 35 --wait | sed 's/^/   /'
k tx fulfillment create --from dc-west "tenant/$dseq/1/1" --price 55 --wait | sed 's/^/   /'

bold "4. the facilitator leases automatically"
leases_active() { [ "$(count_state leases active LEASE_ACTIVE)" -ge 2 ]; }
wait_for 30 "two active leases" leases_active
k query leases --owner tenant | sed 's/^/   /'

bold "5. providers confirm over a few blocks; confirmations pay them from escrow"
say "(balances exclude the 10000 ukumo collateral each provider locked when bidding)"
for round in 1 2 3; do
    start=$(height)
    advanced() { [ "$(height)" -ge $((start + 3)) ]; }
    wait_for 20 "3 more blocks" advanced
    k tx lease confirm --from dc-east "tenant/$dseq/0/1" --wait >/dev/null
    k tx lease confirm --from dc-west "tenant/$dseq/1/1" --wait >/dev/null
    say "round $round at height $(height): dc-east balance $(balance dc-east) (lease paid" \
        "$(lease_paid dc-east) so far), dc-west balance $(balance dc-west) (lease paid" \
        "$(lease_paid dc-west))"
done
k query leases --owner tenant | sed 's/^/   /'

bold "6. the tenant closes the deployment"
k tx deployment close --from tenant $dseq --wait | sed 's/^/   /'

bold "7. providers confirm that they released the resources"
k tx lease confirm --from dc-east "tenant/$dseq/0/1" --released --wait | sed 's/^/   /'
k tx lease confirm --from dc-west "tenant/$dseq/1/1" --released --wait | sed 's/^/   /'

bold "8. the facilitator closes the deployment; the escrow rest returns to the tenant"
closed() { k query deployment "tenant/$dseq" | grep -q DEPLOYMENT_CLOSED; }
wait_for 30 "the deployment to close" closed
k query deployment "tenant/$dseq" | sed 's/^/   /'

bold "9. final balances (each started with 10000000 ukumo)"
printf '   %-8s %14s %12s\n' actor balance change
for name in tenant dc-east dc-west; do
    b=$(balance "$name")
    printf '   %-8s %14s %+12d\n' "$name" "$b ukumo" $((b - 10000000))
done

bold "stopping the testnet"
stop_node
say "validators stopped cleanly; demo complete"
