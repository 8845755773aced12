#!/usr/bin/env bash
# test_files.sh - files in stacks and large manifests end to end, with real processes and real
# containers: a kumo node (1 validator, 300 ms blocks), a private podman API service, two
# provider daemons (east in us-east, west in us-west), and the tenant's `kumo deploy` of a
# stack of two groups whose workloads carry files: a configuration written inline (mode 0600)
# and a 24 MiB model read from a file next to the stack, so the manifest is about 48 MiB.
#
# Shown, in order:
#   1. create: the manifest goes up in chunks to one provider only (the CLI prints its
#      progress); the other fetches it from its peer; both run their workload.
#   2. in each container the files read back byte for byte; writing to one fails (read-only
#      file system), and the runtime's inspect shows every file bound read-only; on the
#      provider's disk each file has the mode the stack gave.
#   3. an update that changes only b's configuration: east keeps a's container (same id,
#      its files still bound: the old version's files stay on east's disk while it runs
#      with them), west replaces b's, which reads the new configuration.
#   4. a stack with a file under /proc is refused before anything is sent, naming the rule.
#   5. close: the leases end and the providers remove the files.
# Every container and network of this run's providers is removed on exit.
#
# Usage: tests/e2e/test_files.sh path/to/kumo   (KUMO_E2E_KEEP=1 keeps the files)
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh" files "$1"

workload() { # workload NAME GROUP [GREETING]
    cat <<YAML
  $1:
    image: localhost/kumo-test-busybox:1
    command: [sleep, "1000000"]
    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}
    group: $2
    files:
      - path: /etc/app/config.json
        mode: "0600"
        content: |
          {"name": "$1", "greeting": "${3:-hello from a file}"}
      - path: /srv/model.bin
        source: model.bin
YAML
}

stack() { # stack [B'S GREETING]
    cat <<YAML
version: "1"
groups:
  e:
    region: us-east
    resources:
      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 1000, collateral: 10}
  w:
    region: us-west
    resources:
      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 1000, collateral: 10}
workloads:
YAML
    workload a e
    workload b w "${1:-hello from a file}"
    cat <<YAML
wait_blocks: 1
deposit: 5000000
YAML
}

cid() { podman_remote ps -q --filter "label=kumo.provider=$1" --filter status=running | sed -n 1p; }
running() { [ -n "$(cid "$1")" ]; }
in_c() { podman_remote exec "$(cid "$1")" sh -c "$2"; }
files_dirs() { find "$LOCALDC_TN/$1/deployments" -maxdepth 1 -name '*.files-*' 2>/dev/null; }

# ---- set-up ----
busybox_image
localdc_podman_start
localdc_testnet_start 1 300 240
localdc_provider_add east us-east
localdc_provider_add west us-west
east=${DC_ADDR[east]}
west=${DC_ADDR[west]}
log "node $KUMO_NODE; east $east; west $west"
head -c $((24 << 20)) /dev/urandom >"$work/model.bin"
model_sum=$(sha256sum <"$work/model.bin" | cut -d' ' -f1)

# ---- 1. create: chunks to one provider, the other from its peer ----
stack >"$work/stack.yml"
k deploy create "$work/stack.yml" --from tenant --timeout 240 >"$work/create.out" 2>&1 ||
    { cat "$work/create.out"; fail "kumo deploy create"; }
cat "$work/create.out"
check "the manifest went up in chunks, with progress" grep -qE '^manifest kumo1[0-9a-z]*: [0-9]+/[0-9]+ chunks$' "$work/create.out"
check "every chunk reached that provider" grep -qE '^manifest kumo1[0-9a-z]*: ([0-9]+)/\1 chunks$' "$work/create.out"
check "the tenant uploaded to one provider only" test "$(grep -c '^manifest accepted by' "$work/create.out")" -eq 1
peer_got() { grep -q "event=manifest_fetched" "$work/east.log" "$work/west.log"; }
wait_or_fail 120 "a provider fetching the manifest from its peer" peer_got
wait_or_fail 120 "the container at east" running "$east"
wait_or_fail 120 "the container at west" running "$west"

# ---- 2. the files in the containers: read back, read-only ----
for p in "$east" "$west"; do
    name=a
    [ "$p" = "$west" ] && name=b
    check "$name: the inline file reads back" \
        test "$(in_c "$p" 'cat /etc/app/config.json')" = "{\"name\": \"$name\", \"greeting\": \"hello from a file\"}"
    check "$name: the 24 MiB model reads back byte for byte" \
        test "$(podman_remote exec "$(cid "$p")" cat /srv/model.bin | sha256sum | cut -d' ' -f1)" = "$model_sum"
    check "$name: writing to a file fails" in_c "$p" '! (echo changed > /etc/app/config.json) 2>/dev/null'
    check "$name: the file is unchanged" in_c "$p" 'grep -q "hello from a file" /etc/app/config.json'
    podman_remote inspect --format '{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}' "$(cid "$p")" >"$work/mounts.out"
    check "$name: inspect shows both files bound read-only" \
        grep -q '/etc/app/config.json=false.*/srv/model.bin=false\|/srv/model.bin=false.*/etc/app/config.json=false' "$work/mounts.out"
done
check "on east's disk the configuration is 0600" \
    test "$(stat -c %a "$(files_dirs east)/a.0")" = 600
check "and the model 0644" test "$(stat -c %a "$(files_dirs east)/a.1")" = 644

# ---- 3. update b only: a's container is kept, b's replaced ----
a_before=$(cid "$east")
b_before=$(cid "$west")
stack "hello again" >"$work/stack.yml"
k deploy update "$work/stack.yml" --from tenant --timeout 240 >"$work/update.out" 2>&1 ||
    { cat "$work/update.out"; fail "kumo deploy update"; }
b_new() { [ -n "$(cid "$west")" ] && [ "$(cid "$west")" != "$b_before" ]; }
wait_or_fail 120 "b replaced at west" b_new
check "b reads its new configuration" \
    test "$(in_c "$west" 'cat /etc/app/config.json')" = '{"name": "b", "greeting": "hello again"}'
two_dirs() { [ "$(files_dirs east | wc -l)" -eq 2 ]; }
wait_or_fail 60 "east holding the new version's files beside the old" two_dirs
check "a kept at east: the same container" test "$(cid "$east")" = "$a_before"
check "a's configuration still reads back" \
    test "$(in_c "$east" 'cat /etc/app/config.json')" = '{"name": "a", "greeting": "hello from a file"}'
check "a's model still reads back" \
    test "$(podman_remote exec "$(cid "$east")" cat /srv/model.bin | sha256sum | cut -d' ' -f1)" = "$model_sum"
check "east keeps the old version's files while a binds them" two_dirs
one_dir() { [ "$(files_dirs west | wc -l)" -eq 1 ]; }
wait_or_fail 60 "west dropping the files of the version b no longer runs" one_dir
check "a's container is still the one it was" test "$(cid "$east")" = "$a_before"

# ---- 4. a file where no file may go ----
sed 's|/srv/model.bin|/proc/model.bin|' "$work/stack.yml" >"$work/bad.yml"
if k deploy update "$work/bad.yml" --from tenant --timeout 60 >"$work/bad.out" 2>&1; then
    fail "a stack with a file under /proc was accepted"
fi
check "refused naming the file, line and rule" grep -q "bad.yml:[0-9]*: workloads.a.files\[1\].path" "$work/bad.out"

# ---- 5. close: the files go with the deployment ----
k deploy close "$work/stack.yml" --from tenant --timeout 120 >"$work/close.out" 2>&1 ||
    { cat "$work/close.out"; fail "kumo deploy close"; }
no_files() { [ -z "$(files_dirs east)" ] && [ -z "$(files_dirs west)" ]; }
wait_or_fail 90 "the files to be removed" no_files
check "the providers removed the files" no_files
log "all $checks checks passed"
