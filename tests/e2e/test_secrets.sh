#!/usr/bin/env bash
# test_secrets.sh - sealed secrets end to end, with real processes and real containers: a kumo
# node (1 validator, 300 ms blocks, reconfirmation period 40 blocks), a private podman API
# service, three provider daemons (east in us-east, west-a and west-b in us-west), and the
# tenant's `kumo deploy` of a webapp-like stack: group db (us-west, persisted, listing west-a
# and west-b, exclusive) runs db with a database password read from the tenant's environment,
# group web runs web at east without it.
#
# Shown, in order:
#   1. the stack file holds no value; create without the variable set is refused before
#      anything is submitted; create seals the password (from the environment) and a token
#      (from a file next to the stack), its output holds neither, and both workloads run.
#   2. db's container at the west provider that won it has the value in its environment (the
#      runtime's inspect); web's container at east has no such variable.
#   3. nothing of east (its whole home directory, its log) holds the value, nor the west
#      providers' logs or homes (their manifests hold only its ciphertext), the node's or the
#      tenant's files; `kumo deploy status` shows the entry as sealed, never the value.
#   4. an update listing a provider with no key on chain is refused naming it; a stack using
#      a secret in a group that is not exclusive is refused before anything is sent, naming
#      the rule.
#   5. re-order with the tenant's CLI not running: the db provider's daemon is killed and its
#      containers removed; its lease goes stale, the group is re-ordered, the other listed
#      provider wins it and runs db with the value, opened from its own envelope in the
#      manifest it fetched from its peer.
# Every container and network of this run's providers is removed on exit.
#
# Usage: tests/e2e/test_secrets.sh path/to/kumo   (KUMO_E2E_KEEP=1 keeps the files)
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh" secrets "$1"

stack() { # stack EXCLUSIVE
    cat <<YAML
version: "1"
groups:
  db:
    region: us-west
    persist: true
    requirements:
      providers: [$west_a, $west_b]
      exclusive: $1
    resources:
      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 1000, collateral: 10}
  web:
    region: us-east
    resources:
      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 1000, collateral: 10}
secrets:
  db_password: {from_env: KUMO_E2E_DB_PASSWORD}
  api_token: {from_file: token.txt}
workloads:
  db:
    image: localhost/kumo-test-busybox:1
    command: [sleep, "1000000"]
    env:
      DB_PASSWORD: {secret: db_password}
      API_TOKEN: {secret: api_token}
      DB_NAME: app
    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}
    group: db
  web:
    image: localhost/kumo-test-busybox:1
    command: [sleep, "1000000"]
    env:
      DB_HOST: db
    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}
    group: web
wait_blocks: 1
deposit: 5000000
YAML
}

cid() { podman_remote ps -q --filter "label=kumo.provider=$1" --filter status=running | sed -n 1p; }
running() { [ -n "$(cid "$1")" ]; }
env_of() { podman_remote inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$(cid "$1")"; }
holds_no_value() { ! grep -r -a -q -F -e "$password" -e "${token:-no-token-yet}" "$@"; }
not() { ! "$@"; }

# ---- set-up ----
busybox_image
localdc_podman_start
localdc_testnet_start 1 300 40
localdc_provider_add east us-east
localdc_provider_add west-a us-west
localdc_provider_add west-b us-west
east=${DC_ADDR[east]}
west_a=${DC_ADDR[west-a]}
west_b=${DC_ADDR[west-b]}
log "node $KUMO_NODE; east $east; west-a $west_a; west-b $west_b"
# Longer than a short password (about 1200 bytes, a key's size), to show no entry is cut.
password="pw-$(head -c 900 /dev/urandom | base64 -w0 | tr -d '/+=')"
has_lease() { k query leases --provider "$1" --state active --output json | tr -d '\n ' | grep -q '"state":"LEASE_ACTIVE"'; }
stale() { k query leases --provider "$1" --state stale --output json | tr -d '\n ' | grep -q LEASE_STALE; }

# ---- 1. create: the values read from the environment and a file, sealed ----
stack true >"$work/stack.yml"
token="tok-$(head -c 24 /dev/urandom | base64 -w0 | tr -d '/+=')"
printf '%s' "$token" >"$work/token.txt"
check "the stack file holds no value" holds_no_value "$work/stack.yml"
if k deploy create "$work/stack.yml" --from tenant --timeout 60 >"$work/unset.out" 2>&1; then
    fail "a deploy without the secret's variable set was accepted"
fi
check "without the variable: refused, naming the secret and the variable" \
    grep -q "secret db_password: environment variable KUMO_E2E_DB_PASSWORD is not set" "$work/unset.out"
check "and nothing was submitted" not test -e "$work/.kumo-deploy-stack.yml.json"
KUMO_E2E_DB_PASSWORD=$password k deploy create "$work/stack.yml" --from tenant --timeout 240 \
    >"$work/create.out" 2>&1 || { cat "$work/create.out"; fail "kumo deploy create"; }
cat "$work/create.out"
check "create sealed the secrets" grep -q '^sealed 2 secret' "$work/create.out"
check "create's output holds no value" holds_no_value "$work/create.out"
check "nor the token" not grep -q -F -- "$token" "$work/create.out"
if has_lease "$west_a"; then first=west-a second=west-b; else first=west-b second=west-a; fi
check "one listed west provider leased db" has_lease "${DC_ADDR[$first]}"
log "db runs at $first"
wait_or_fail 120 "db's container at $first" running "${DC_ADDR[$first]}"
wait_or_fail 120 "web's container at east" running "$east"

# ---- 2. the value is in db's environment only ----
env_of "${DC_ADDR[$first]}" >"$work/first.env"
check "db's container has the value in its environment" grep -qxF "DB_PASSWORD=$password" "$work/first.env"
check "and the token read from the file" grep -qxF "API_TOKEN=$token" "$work/first.env"
check "and its plain variables" grep -qx "DB_NAME=app" "$work/first.env"
env_of "$east" >"$work/east.env"
check "web's container has no such variable" holds_no_value "$work/east.env"
check "web's container runs with its own env" grep -qx "DB_HOST=db" "$work/east.env"

# ---- 3. nowhere else ----
k deploy status "$work/stack.yml" --from tenant >"$work/status.out" 2>&1 ||
    { cat "$work/status.out"; fail "kumo deploy status"; }
k deploy status "$work/stack.yml" --from tenant --output json >"$work/status.json" 2>&1 ||
    { cat "$work/status.json"; fail "kumo deploy status --output json"; }
check "status shows the secret as sealed" \
    grep -q "secret db_password of workload db (group db): DB_PASSWORD=sealed" "$work/status.out"
check "status --output json too" grep -q '"value": "sealed"' "$work/status.json"
check "status (text and json) holds no value" holds_no_value "$work/status.out" "$work/status.json"
check "east's home directory holds no value" holds_no_value "$LOCALDC_TN/east"
check "east's log holds no value" holds_no_value "$work/east.log"
check "east stored the manifest (with the sealed value it cannot open)" \
    test -n "$(find "$LOCALDC_TN/east/deployments" -name '*.manifest*' | sed -n 1p)"
for p in west-a west-b; do
    check "$p's home directory holds no value" holds_no_value "$LOCALDC_TN/$p"
    check "$p's log holds no value" holds_no_value "$work/$p.log"
done
check "the node's files hold no value" holds_no_value "$LOCALDC_TN"/node*
check "the tenant's home holds no value" holds_no_value "$tenant_home"

# ---- 4. a secret in a group that is not exclusive ----
stack false >"$work/bad.yml"
if KUMO_E2E_DB_PASSWORD=$password k deploy update "$work/bad.yml" --from tenant --timeout 60 \
    >"$work/bad.out" 2>&1; then
    fail "a stack with a secret in a group that is not exclusive was accepted"
fi
# A listed provider with no key on chain (no account at all): sealing stops, naming it.
nokey=$(k keys add nokey --output json | grep -o 'kumo1[0-9a-z]*' | sed -n 1p)
sed "s/providers: \[$west_a, $west_b\]/providers: [$west_a, $nokey]/" "$work/stack.yml" >"$work/nokey.yml"
cp "$work/.kumo-deploy-stack.yml.json" "$work/.kumo-deploy-nokey.yml.json" # the same deployment
if KUMO_E2E_DB_PASSWORD=$password k deploy update "$work/nokey.yml" --from tenant --timeout 60 \
    >"$work/nokey.out" 2>&1; then
    fail "a stack listing a provider without a public key was sealed"
fi
check "a listed provider without a key on chain: refused, naming it" \
    grep -q "provider $nokey has no" "$work/nokey.out"
check "refused naming the file, line and rule" \
    grep -q "bad.yml:[0-9]*: workloads.db.env.DB_PASSWORD: uses secret \"db_password\" .*exclusive: true" "$work/bad.out"

# ---- 5. re-order to the other listed provider, the tenant's CLI not running ----
kill -9 "${DC_PID[$first]}"
wait "${DC_PID[$first]}" 2>/dev/null || true
mapfile -t gone < <(podman_remote ps -aq --filter "label=kumo.provider=${DC_ADDR[$first]}")
podman_remote rm -f -t 0 "${gone[@]}" >/dev/null
wait_or_fail 90 "$first's lease to go stale" stale "${DC_ADDR[$first]}"
wait_or_fail 90 "$second to win the re-ordered db group" has_lease "${DC_ADDR[$second]}"
check "$second won the re-ordered db group" has_lease "${DC_ADDR[$second]}"
wait_or_fail 120 "db's container at $second" running "${DC_ADDR[$second]}"
env_of "${DC_ADDR[$second]}" >"$work/second.env"
check "$second runs db with the value it opened itself" grep -qxF "DB_PASSWORD=$password" "$work/second.env"
check "$second's log holds no value" holds_no_value "$work/$second.log"
check "east's log still holds no value" holds_no_value "$work/east.log"

k deploy close "$work/stack.yml" --from tenant --timeout 120 >"$work/close.out" 2>&1 ||
    { cat "$work/close.out"; fail "kumo deploy close"; }
log "all $checks checks passed"
