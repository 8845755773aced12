#!/usr/bin/env bash
# test_grantee.sh - a grantee changes the owner's deployment with `kumo deploy --granter`, end
# to end with real processes and real containers: a kumo node (1 validator, 300 ms blocks), a
# private podman API service, one provider daemon (east, us-east), the tenant (the owner) and
# ops, its grantee, which signs with its seed in $KUMO_KEY and a home without a keyring, as a
# management workload does.
#
# Shown, in order:
#   1. the tenant creates a deployment of one group (web, 1 unit, 1 instance) and grants ops
#      msgs=update on it with max_count=2;
#   2. ops runs `kumo deploy update --granter TENANT` with web at 2: the MsgExec lands (event
#      grant.used), the group is re-ordered and leased again, ops uploads the new manifest to
#      the provider with its own certificate (honoured under the grant) and 2 containers run
#      the new version; ops reads the deployment's status at the provider;
#   3. ops asks for web at 3, beyond max_count: refused with KUMO_EGRANTCOUNT and the grant's
#      hint; the group stays at 2 units, the version and the containers do not change;
#   4. the tenant revokes the grant: ops's status read is refused by the provider (403) at once;
#   5. the tenant closes the deployment.
#
# Usage: tests/e2e/test_grantee.sh path/to/kumo   (KUMO_E2E_KEEP=1 keeps the files)
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh" grantee "$1"

stack() { # stack COUNT
    cat <<YAML
version: "1"
groups:
  web:
    region: us-east
    resources:
      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: $1, price: 1000, collateral: 10}
workloads:
  web:
    image: localhost/kumo-test-busybox:1
    command: [sleep, "1000000"]
    env: {SIZE: "$1"}
    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}
    count: $1
    group: web
wait_blocks: 1
deposit: 5000000
YAML
}

running_count() { podman_remote ps -q --filter "label=kumo.provider=$east" --filter status=running | wc -l; }
running_is() { [ "$(running_count)" -eq "$1" ]; }
# The unit count of web on chain, and the deployment's version.
web_units() { k query groups --owner tenant --output json | tr -d ' \n' | grep -o '"count":"\{0,1\}[0-9]*' | tail -1 | grep -o '[0-9]*$'; }
dep_version() { k query deployment "tenant/$dseq" --output json | tr -d ' \n' | grep -o '"version":"[0-9a-f]*"'; }
grant_shows() { k query grants --granter tenant --grantee ops --output json | grep -q "$1"; }
all_have_size() { # every running container of east has SIZE=$1 in its environment
    local c
    for c in $(podman_remote ps -q --filter "label=kumo.provider=$east" --filter status=running); do
        podman_remote exec "$c" sh -c "test \"\$SIZE\" = $1" || return 1
    done
}
# ops, as a management workload runs it: its seed in $KUMO_KEY, a home with no keyring.
ops() { KUMO_KEY=$ops_seed "$kumo" "$@" --home "$work/ops-home"; }

# ---- set-up ----
busybox_image
localdc_podman_start
localdc_testnet_start 1 300 240
localdc_provider_add east us-east
east=${DC_ADDR[east]}
tenant=$(k keys show tenant --address)
k keys add ops >/dev/null
ops_addr=$(k keys show ops --address)
ops_seed=$(k keys export ops --unsafe-export-seed)
mkdir -p "$work/ops-home"
k tx bank send --from tenant "$ops_addr" 5000000 --wait >/dev/null
log "node $KUMO_NODE; east $east; tenant $tenant; ops $ops_addr"

# ---- 1. the owner's deployment and the grant ----
stack 1 >"$work/stack.yml"
k deploy create "$work/stack.yml" --from tenant --timeout 240 >"$work/create.out" 2>&1 ||
    { cat "$work/create.out"; fail "kumo deploy create"; }
dseq=$(sed -n 's/.*"dseq": *"\([0-9]*\)".*/\1/p' "$work/.kumo-deploy-stack.yml.json")
check "the deployment runs one container" running_is 1
k tx grant create --from tenant ops "$dseq" msgs=update expiry=100000000 max_count=2 --wait >/dev/null
check "the grant is on chain" grant_shows max_count_per_group

# ---- 2. the grantee grows web to 2, within the grant ----
stack 2 >"$work/stack.yml"
ops deploy update "$work/stack.yml" --granter "$tenant" --timeout 240 >"$work/update.out" 2>&1 ||
    { cat "$work/update.out"; fail "kumo deploy update --granter within the grant"; }
cat "$work/update.out"
check "no keyring was written for ops" test ! -e "$work/ops-home/keyring"
check "the update reports 2 instances running" grep -q "web 2/2 running" "$work/update.out"
check "the chain holds web at 2 units" test "$(web_units)" = 2
wait_or_fail 120 "2 containers of the new version" running_is 2
check "each runs the new version's env" all_have_size 2
check "the update went in under the grant" grep -q "updated to version" "$work/update.out"
ops deploy status "$work/stack.yml" --granter "$tenant" --output json >"$work/status.json" 2>&1 ||
    { cat "$work/status.json"; fail "kumo deploy status --granter"; }
check "ops reads the deployment at the provider" grep -q '"running"' "$work/status.json"
check "with no provider error" sh -c "! grep -q '\"error\"' '$work/status.json'"
version_before=$(dep_version)

# ---- 3. beyond max_count: refused, nothing changes ----
stack 3 >"$work/stack.yml"
if ops deploy update "$work/stack.yml" --granter "$tenant" --timeout 120 >"$work/over.out" 2>&1; then
    cat "$work/over.out"
    fail "an update beyond the grant's max_count was accepted"
fi
cat "$work/over.out"
check "refused with KUMO_EGRANTCOUNT" grep -q KUMO_EGRANTCOUNT "$work/over.out"
check "with the grant's hint" grep -q "limit of the grant" "$work/over.out"
check "web stays at 2 units" test "$(web_units)" = 2
check "the version is unchanged" test "$(dep_version)" = "$version_before"
check "2 containers still run" running_is 2

# ---- 4. revoked: the provider refuses ops at once ----
k tx grant revoke --from tenant ops "$dseq" --wait >/dev/null
ops deploy status "$work/stack.yml" --granter "$tenant" --output json >"$work/revoked.json" 2>&1 || true
check "the provider refuses ops after the revoke" grep -q "only the deployment's owner may read it" "$work/revoked.json"

# ---- 5. close ----
stack 2 >"$work/stack.yml"
k deploy close "$work/stack.yml" --from tenant --timeout 120 >"$work/close.out" 2>&1 ||
    { cat "$work/close.out"; fail "kumo deploy close"; }
wait_or_fail 90 "the containers to be removed" running_is 0
log "all $checks checks passed"
