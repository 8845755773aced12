#!/usr/bin/env bash
# test_volumes.sh - persistent volumes end to end, with real processes and real containers: a
# kumo node (1 validator, 300 ms blocks), a private podman API service, one provider daemon
# (east, us-east), and the tenant's `kumo deploy` of a stack whose workload mounts a
# persistent volume (16 MiB at /data) and a scratch one (4 MiB at /scratch, not persistent)
# out of its unit's 64 MiB of storage.
#
# Shown, in order:
#   1. create: the volume is mounted; a file written there stays; writing past 16 MiB fails
#      inside the container (ENOSPC), and so does writing past the scratch's 4 MiB.
#   1b. `kumo provider status` (text and JSON) and the daemon's /metrics show the running
#      lease: its container, its confirmation, the storage it leases, the counters.
#   2. the container is removed behind the daemon's back: it is made again, the file is still
#      there, the scratch is empty again.
#   3. kill -9 of the daemon, started again: the same container and volume, the file there.
#   4. update (a new env value, a new version): the container is replaced, the file stays.
#   5. a stack asking for volumes larger than its unit's storage: refused before anything is
#      sent, naming the rule; the running version is unchanged.
#   6. close: the lease ends, the volume and its image are gone.
#   7. a deployment whose escrow runs out (the daemon prices a core at 2000 per block): `kumo
#      deploy events` shows deployment.escrow_low first, then the end with its reason
#      (insufficient_funds); `kumo deploy status` says so; its container is removed, and
#      `kumo deploy events` still shows it started and removed (the ended lease's journal).
# Every container, network and volume of this run's provider is removed on exit.
#
# Usage: tests/e2e/test_volumes.sh path/to/kumo   (KUMO_E2E_KEEP=1 keeps the files)
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh" vol "$1"

stack() { # stack GEN VOLUME_SIZE
    cat <<YAML
version: "1"
groups:
  g:
    region: us-east
    resources:
      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 1000, collateral: 10}
workloads:
  db:
    image: localhost/kumo-test-busybox:1
    command: [sleep, "1000000"]
    env: {GEN: "$1"}
    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}
    group: g
    volumes:
      data: {size: $2, mount: /data}
      scratch: {size: 4Mi, mount: /scratch, persistent: false}
wait_blocks: 1
deposit: 5000000
YAML
}

cid() { podman_remote ps -q --filter "label=kumo.provider=$east" --filter status=running | sed -n 1p; }
in_db() { podman_remote exec "$(cid)" sh -c "$1"; }
vols() { podman_remote volume ls -q --filter "label=kumo.provider=$east"; }
version_of() { podman_remote inspect --format '{{index .Config.Labels "kumo.version"}}' "$1"; }
has_file() { [ "$(in_db 'cat /data/f')" = kept ]; }
one_running() { [ "$(podman_remote ps -q --filter "label=kumo.provider=$east" --filter status=running | wc -l)" -eq 1 ]; }

# ---- set-up ----
busybox_image
localdc_podman_start
localdc_testnet_start 1 300 240 # confirmed every 80 blocks: slow container starts never go stale
mport=$((LOCALDC_BASE + 290))
# 2000 ukumo per core per block: a 1-core unit (7) spends its escrow in a few dozen blocks.
localdc_provider_add east us-east "" "s/^metrics_listen: .*/metrics_listen: \"127.0.0.1:$mport\"/; s/^price_cpu_per_core: .*/price_cpu_per_core: 2000/"
east=${DC_ADDR[east]}
log "node $KUMO_NODE; east $east"

# ---- 1. create ----
stack 1 16Mi >"$work/stack.yml"
k deploy create "$work/stack.yml" --from tenant --timeout 120 >"$work/create.out" 2>&1 ||
    { cat "$work/create.out"; fail "kumo deploy create"; }
wait_or_fail 60 "the db container" one_running
first=$(cid)
check "one persistent volume, labelled with the provider" test "$(vols | wc -l)" -eq 1
vol=$(vols)
check "its image in the provider's volumes directory" test -f "$LOCALDC_TN/east/volumes/$vol.img"
check "the volume is 16 MiB" test "$(stat -c %s "$LOCALDC_TN/east/volumes/$vol.img")" -eq $((16 << 20))
check "write a file to /data" in_db 'echo kept > /data/f'
check "writing past 16 MiB fails inside the container" \
    in_db '! dd if=/dev/zero of=/data/big bs=1M count=32 2>/dev/null'
check "the volume holds no more than 16 MiB" in_db '[ $(du -sk /data | cut -f1) -le 16384 ] && rm -f /data/big'
check "writing past the scratch's 4 MiB fails too" \
    in_db '! dd if=/dev/zero of=/scratch/big bs=1M count=8 2>/dev/null'
in_db 'rm -f /scratch/big && echo gone > /scratch/s'

# ---- 1b. what the provider sees: kumo provider status and /metrics ----
pstatus() { "$kumo" provider status --home "$LOCALDC_TN/east" "$@"; }
metric() { curl -fsS --max-time 5 "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
confirmed_seen() { [ "$(metric kumo_provider_confirmations_landed_total)" -ge 1 ]; }
wait_or_fail 120 "a confirmation to land" confirmed_seen
pstatus >"$work/status.out"
cat "$work/status.out"
order=$(grep -o "$(k keys show tenant --address)/[0-9]*/0/1" "$work/status.out" | sed -n 1p)
check "status lists the lease, active, its container running" grep -q "$order *active *1/1" "$work/status.out"
check "status shows the storage leased" grep -q "storage_bytes *[0-9]* *67108864" "$work/status.out"
pstatus --output json >"$work/status.json"
check "status --output json: the lease and its last confirmation" \
    grep -q '"last_confirmed_height": [1-9]' "$work/status.json"
check "metrics: one active lease" test "$(metric 'kumo_provider_leases{state="active"}')" = 1
check "metrics: one running container" test "$(metric 'kumo_provider_containers{state="running"}')" = 1
check "metrics: bids and confirmations counted" \
    test "$(metric kumo_provider_bids_sent_total)" -ge 1 -a "$(metric kumo_provider_confirmations_sent_total)" -ge 1
check "metrics: the pass length and the forwarder" \
    test -n "$(metric kumo_provider_pass_milliseconds_last)" -a -n "$(metric kumo_provider_forward_connections)"
check "metrics: the storage leased" \
    test "$(metric 'kumo_provider_capacity{resource="storage_bytes",kind="leased"}')" = 67108864

# ---- 2. container removed behind the daemon's back ----
podman_remote rm -f -t 0 "$first" >/dev/null
made_again() { c=$(cid) && [ -n "$c" ] && [ "$c" != "$first" ]; }
wait_or_fail 90 "the container to be made again" made_again
check "the file survived the container" has_file
check "the scratch started empty" in_db '! cat /scratch/s'
check "still one volume" test "$(vols)" = "$vol"

# ---- 3. kill -9 of the daemon ----
second=$(cid)
kill -9 "${DC_PID[east]}"
wait "${DC_PID[east]}" 2>/dev/null || true
localdc_provider_start east
api_again() { [ "$(grep -c api_listening "$work/east.log")" -ge 2 ]; }
wait_or_fail 30 "east's API again" api_again
sleep 3 # a few passes of the restarted daemon
check "the same container runs after the restart" test "$(cid)" = "$second"
check "the same volume, the file there" has_file
check "no volume was removed" test "$(grep -c volume_removed "$work/east.log" || true)" -eq 0

# ---- 4. update ----
v1=$(version_of "$second")
stack 2 16Mi >"$work/stack.yml"
k deploy update "$work/stack.yml" --from tenant --timeout 120 >"$work/update.out" 2>&1 ||
    { cat "$work/update.out"; fail "kumo deploy update"; }
updated() { c=$(cid) && [ -n "$c" ] && [ "$(version_of "$c")" != "$v1" ]; }
wait_or_fail 90 "the updated container" updated
check "the update replaced the container" test "$(cid)" != "$second"
check "the file survived the update" has_file
check "still the same volume" test "$(vols)" = "$vol"

# ---- 5. more than leased ----
v2=$(version_of "$(cid)")
stack 3 80Mi >"$work/big.yml"
if k deploy update "$work/big.yml" --from tenant --timeout 60 >"$work/big.out" 2>&1; then
    fail "a stack with volumes over the storage was accepted"
fi
check "refused naming the rule" grep -q "exceed the unit's storage of 67108864 bytes" "$work/big.out"
check "the running version is unchanged" test "$(version_of "$(cid)")" = "$v2"

# ---- 6. close ----
k deploy close "$work/stack.yml" --from tenant --timeout 120 >"$work/close.out" 2>&1 ||
    { cat "$work/close.out"; fail "kumo deploy close"; }
no_vols() { [ -z "$(vols)" ]; }
wait_or_fail 60 "the volume to be removed" no_vols
check "the volume is gone after close" no_vols
check "and its image" test ! -e "$LOCALDC_TN/east/volumes/$vol.img"
check "the daemon says so" grep -q "event=volume_removed name=$vol" "$work/east.log"

# ---- 7. the escrow runs out: the warning first, then the end and its reason ----
# 100000 ukumo at ~2002 per block cover ~49 blocks, warned below 60: the lease itself finds
# the escrow low (deployment.escrow_low at its height); the first confirmation, 80 blocks on,
# finds it short and ends the deployment (insufficient_funds).
mkdir -p "$work/escrow"
cat >"$work/escrow/stack.yml" <<YAML
version: "1"
groups:
  g:
    region: us-east
    resources:
      - {cpu: 1000m, memory: 64Mi, storage: 64Mi, count: 1, price: 3000, collateral: 10}
workloads:
  spender:
    image: localhost/kumo-test-busybox:1
    command: [sleep, "1000000"]
    compute: {cpu: 1000m, memory: 64Mi, storage: 64Mi}
    group: g
wait_blocks: 1
deposit: 100000
YAML
k deploy create "$work/escrow/stack.yml" --from tenant --escrow-warn-blocks 60 --timeout 120 \
    >"$work/escrow-create.out" 2>&1 || { cat "$work/escrow-create.out"; fail "the escrow deployment"; }
ran_out() { k deploy status "$work/escrow/stack.yml" >"$work/escrow-status.out" 2>&1 &&
    grep -q "ended: insufficient_funds" "$work/escrow-status.out"; }
wait_or_fail 120 "the escrow to run out" ran_out
cat "$work/escrow-status.out"
check "deploy status: ended, insufficient_funds" grep -q "ended: insufficient_funds at [0-9]" "$work/escrow-status.out"
k deploy events "$work/escrow/stack.yml" >"$work/escrow-events.out" 2>&1 ||
    { cat "$work/escrow-events.out"; fail "kumo deploy events"; }
cat "$work/escrow-events.out"
line_of() { grep -n -m1 -e "$1" "$work/escrow-events.out" | cut -d: -f1; }
low=$(line_of ' deployment.escrow_low ')
end=$(line_of ' deployment.closing .*reason=insufficient_funds')
check "deploy events: the warning (deployment.escrow_low)" test -n "$low"
check "  then the end with its reason (insufficient_funds)" test -n "$end" -a "${low:-0}" -lt "${end:-0}"
spender_gone() { [ -z "$(podman_remote ps -aq --filter "label=kumo.provider=$east" --filter label=kumo.workload=spender)" ]; }
wait_or_fail 60 "the spender's container to be removed" spender_gone
check "its container is removed" spender_gone
k deploy events "$work/escrow/stack.yml" >"$work/escrow-events2.out" 2>&1 ||
    { cat "$work/escrow-events2.out"; fail "kumo deploy events after the end"; }
grep provider "$work/escrow-events2.out" || true
check "deploy events after the end: the ended lease's container started, then removed" \
    sh -c "grep -n 'provider started spender/0' '$work/escrow-events2.out' | cut -d: -f1 >'$work/s.n' &&
        grep -n 'provider removed spender/0' '$work/escrow-events2.out' | cut -d: -f1 >'$work/r.n' &&
        [ \"\$(cat '$work/s.n')\" -lt \"\$(cat '$work/r.n')\" ]"

log "all $checks checks passed"
