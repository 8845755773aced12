#!/usr/bin/env bash
# example.sh - runs one of the examples with a management tier (examples/NAME) on a local
# network, end to end, and cleans up (README "Examples and management workloads"):
#   - tools/localdc.sh in namespace mode (root, ip netns, nsenter: required, since the
#     workloads reach the node and the provider APIs on 10.77.X.*, which workload_egress_allow
#     opens): one validator (KUMO_EXAMPLE_BLOCK_MS, default 300 ms blocks; leases reconfirmed
#     every 200 blocks at least) and three
#     datacenters, dc-east (us-east), dc-west (us-west) and dc-eu (eu-central);
#   - the images (tools/images.sh with this kumo: localhost/kumo-mgmt:1 and the webapp's);
#   - the tenant's grantee key `mgmt` (funded with 10 kumo for its fees) and the grant of
#     examples/NAME/example.conf (GRANT: the constraints, for the deployment's DSEQ only);
#   - the stack: examples/NAME/stack.tmpl with @NODE@, @OWNER@, @DSEQ@ and the providers'
#     addresses @DC_US_EAST@, @DC_US_WEST@, @DC_EU_CENTRAL@ filled in, written with the
#     example's other files to WORK/NAME/; the first stack is what
#     `sh examples/NAME/mgmt/render.sh stack.tmpl $RENDER_ARGS` prints (example.conf), or the
#     filled template itself; `kumo deploy create` with the grantee's seed in KUMO_KEY (the
#     stack seals it for its management group);
#   - examples/NAME/scenario.sh, if present, sourced (bash) with what is set here: kumo, k
#     (kumo as the tenant), work, dir (WORK/NAME), stack, DSEQ, OWNER, GRANTEE, KUMO_NODE,
#     DC_ADDR[name], DC_HOST[name], localdc_podman, localdc_in, wait_for, say; it fails by
#     returning non-zero or exiting, and adds the pids of what it starts to example_pids (each
#     stopped on exit);
#   - `kumo deploy close`, then every process, container and namespace of the run removed.
#
# Usage: tools/example.sh NAME [path/to/kumo]   (default build/release/kumo, else build/debug)
# Env:   KUMO_EXAMPLE_KEEP=1 keeps the work folder (kept anyway on failure).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:-}
if [ -z "$name" ] || [ ! -f "$root/examples/$name/stack.tmpl" ]; then
    echo "usage: tools/example.sh NAME [path/to/kumo]  (NAME: an examples/ folder with a stack.tmpl:" \
        "$(cd "$root/examples" && for d in */stack.tmpl; do printf '%s ' "${d%%/*}"; done))" >&2
    exit 2
fi
kumo=${2:-}
if [ -z "$kumo" ]; then
    kumo=$root/build/release/kumo
    [ -x "$kumo" ] || kumo=$root/build/debug/kumo
fi
[ -x "$kumo" ] || { echo "example: $kumo not found; run make build first" >&2; exit 1; }
kumo=$(cd "$(dirname "$kumo")" && pwd)/$(basename "$kumo")
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-example-$name-XXXXXX")
# shellcheck source=localdc.sh
. "$root/tools/localdc.sh"
localdc_init "$work" "$kumo"
tenant_home=$LOCALDC_TN/tenant
dir=$work/$name
stack=$dir/stack.yml

say() { printf 'example: %s\n' "$*"; }
k() { "$kumo" "$@" --home "$tenant_home"; }
example_pids=() # processes a scenario started: stopped on exit
on_exit() {
    local rc=$? pid
    for pid in "${example_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${example_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ $rc -ne 0 ]; then
        echo "example: $name FAILED (exit $rc)" >&2
        localdc_logs
    fi
    localdc_cleanup
    # Sanitizer builds (the tests'): every daemon and node stopped above; none may have
    # reported anything.
    if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$work"/*.log \
        "$LOCALDC_TN"/node*/node.log 2>/dev/null; then
        echo "example: $name FAILED: a sanitizer report in the logs above" >&2
        rc=1
    fi
    if [ "${KUMO_EXAMPLE_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        echo "example: files kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap on_exit EXIT

GRANT="" RENDER_ARGS=""
# shellcheck source=/dev/null
[ ! -f "$root/examples/$name/example.conf" ] || . "$root/examples/$name/example.conf"

say "network: namespaces, images, one validator, three datacenters"
localdc_netns_start || { echo "example: needs network namespaces (root, ip, nsenter)" >&2; exit 1; }
"$root/tools/images.sh" "$kumo" | sed 's/^/example: /'
# A reconfirmation period of 200 blocks (a minute): every new version of a deployment restarts
# its containers, and a lease whose instances do not all run is not confirmed meanwhile.
localdc_testnet_start 1 "${KUMO_EXAMPLE_BLOCK_MS:-300}" 200
wait_for 30 "the node at $KUMO_NODE" k query status
localdc_provider_add dc-east us-east
localdc_provider_add dc-west us-west
localdc_provider_add dc-eu eu-central
for p in dc-east dc-west dc-eu; do say "$p ${DC_ADDR[$p]} at ${DC_HOST[$p]}"; done

OWNER=$(k keys show tenant --address)
k keys add mgmt >/dev/null 2>&1
GRANTEE=$(k keys show mgmt --address)
k tx bank send --from tenant "$GRANTEE" 10kumo --wait >/dev/null
height=$(k query status | awk '$1 == "height" { print $2; exit }')
DSEQ=$height
say "tenant $OWNER, deployment $DSEQ; its management key $GRANTEE"
if [ -n "$GRANT" ]; then
    # shellcheck disable=SC2086 # the constraints, one word each
    k tx grant create --from tenant "$GRANTEE" "$DSEQ" $GRANT expiry=$((height + 100000)) --wait \
        >"$work/grant.out"
    say "grant: $GRANTEE may, on deployment $DSEQ: $GRANT"
fi

mkdir -p "$dir"
cp -R "$root/examples/$name/." "$dir/"
sed -i -e "s|@NODE@|$KUMO_NODE|g" -e "s|@OWNER@|$OWNER|g" -e "s|@DSEQ@|$DSEQ|g" \
    -e "s|@DC_US_EAST@|${DC_ADDR[dc-east]}|g" -e "s|@DC_US_WEST@|${DC_ADDR[dc-west]}|g" \
    -e "s|@DC_EU_CENTRAL@|${DC_ADDR[dc-eu]}|g" "$dir/stack.tmpl"
if [ -f "$dir/mgmt/render.sh" ]; then
    # shellcheck disable=SC2086 # the example's arguments
    sh "$dir/mgmt/render.sh" "$dir/stack.tmpl" $RENDER_ARGS >"$stack"
else
    cp "$dir/stack.tmpl" "$stack"
fi
say "deploying examples/$name"
KUMO_KEY=$(k keys export mgmt --unsafe-export-seed 2>/dev/null) \
    k deploy create "$stack" --from tenant --dseq "$DSEQ" --timeout 240 | sed 's/^/example: /'

if [ -f "$dir/scenario.sh" ]; then
    say "scenario"
    # shellcheck source=/dev/null
    . "$dir/scenario.sh"
fi

say "closing the deployment"
k deploy close "$stack" --from tenant --timeout 120 | sed 's/^/example: /'
say "$name: done"
