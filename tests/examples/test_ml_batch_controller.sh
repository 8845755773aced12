#!/usr/bin/env bash
# test_ml_batch_controller.sh - the ml-batch example's management tier without a network or
# containers: the stacks render.sh makes (read by the real `kumo deploy quote`, which checks a
# stack before it asks the node), and the real queue (busybox httpd with the CGI scripts, on
# loopback) driven by the real controller against a stand-in `kumo` that keeps the worker
# groups in a file and refuses, as the chain does, a group of more than 3 units
# (KUMO_EGRANTCOUNT) and, as the CLI does, a removed group's name. Shown: 20 jobs make the
# controller want 5 workers (JOBS_PER_WORKER 4): capped at MAX_WORKERS 4 it first asks 4,
# is refused, logs it with the tx and stays within 3; it never scales down while jobs remain;
# once they are done it removes the group after two empty polls; 2 new jobs bring back one
# worker in a group with a new name (workers-2); the queue's pop is exclusive, a job taken too
# long ago is pending again, bad parameters are refused.
# usage: test_ml_batch_controller.sh path/to/kumo
# shellcheck disable=SC2015 # "check && check || fail" is meant
set -euo pipefail
kumo=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
mgmt=$root/examples/ml-batch/mgmt
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-ml-batch-XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${KUMO_TEST_KEEP:-0}" = 1 ]; then echo "files kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
checks=0
ok() {
    checks=$((checks + 1))
    echo "ok $checks - $1"
}
fail() {
    echo "FAILED: $*" >&2
    [ ! -f "$work/ctl.log" ] || { echo "--- controller log" >&2; cat "$work/ctl.log" >&2; }
    exit 1
}
wait_until() { # wait_until SECONDS WHAT COMMAND...
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
        sleep 0.2
    done
}

# ---- the stacks ----
owner=kumo1kde5sj42ljefumtfucganwhh4jsx5ep29c67q7
sed -e "s|@NODE@|http://127.0.0.1:9|" -e "s|@OWNER@|$owner|" -e "s|@DSEQ@|7|" \
    -e "s|@DC_US_WEST@|$owner|" "$root/examples/ml-batch/stack.tmpl" >"$work/stack.tmpl"
quote() { # a stack error names file:line; a good stack gets as far as asking the node
    local out
    out=$(KUMO_NODE=http://127.0.0.1:9 KUMO_KEY=00 "$kumo" deploy quote "$1" 2>&1 || true)
    echo "$out" | grep -q "cannot reach the node" || {
        echo "$out" >&2
        return 1
    }
}
sh "$mgmt/render.sh" "$work/stack.tmpl" 0 0 >"$work/s0.yml"
quote "$work/s0.yml" || fail "the stack without workers does not read"
! grep -qE "^ *(workers?-|- workload: worker)" "$work/s0.yml" || fail "a worker line in the stack without workers"
ok "the stack without workers reads, and has no worker group, workload or rule"
sh "$mgmt/render.sh" "$work/stack.tmpl" 3 2 >"$work/s3.yml"
quote "$work/s3.yml" || fail "the stack with 3 workers does not read"
grep -q "^  workers-2:" "$work/s3.yml" && grep -q "^  worker-2:" "$work/s3.yml" &&
    [ "$(grep -c 'count: 3' "$work/s3.yml")" = 2 ] && grep -q -- "- workload: worker-2" "$work/s3.yml" ||
    fail "the stack with 3 workers lacks its group, workload or rule"
ok "the stack with 3 workers of generation 2 reads: group workers-2, workload worker-2, its rule"
! grep -qE "@[A-Z_]+@|#@" "$work/s3.yml" || fail "a placeholder or marker is left"
ok "no placeholder or marker is left"
if sh "$mgmt/render.sh" "$work/stack.tmpl" 3x 1 >/dev/null 2>&1; then fail "render took 3x"; fi
ok "render.sh refuses a count that is not a number"

# ---- the queue ----
port=$((20000 + RANDOM % 10000))
queue="http://127.0.0.1:$port"
QUEUE_DIR=$work/q QUEUE_LISTEN=127.0.0.1:$port sh "$mgmt/queue.sh" >"$work/queue.log" 2>&1 &
pids+=($!)
get() { curl -fsS --max-time 5 "$queue/cgi-bin/$1"; }
wait_until 10 "the queue" get stats
[ "$(get stats)" = "pending 0 taken 0 done 0" ] || fail "a new queue: $(get stats)"
[ "$(get 'push?n=2' | wc -l)" = 2 ] || fail "push?n=2"
[ "$(get 'push?n=0')" = "push: n=1..1000" ] && [ "$(get 'push?n=x')" = "push: n=1..1000" ] &&
    [ "$(get 'push?n=1001')" = "push: n=1..1000" ] || fail "a bad push was taken"
[ "$(get stats)" = "pending 2 taken 0 done 0" ] || fail "after a bad push: $(get stats)"
ok "push adds jobs and refuses n outside 1..1000"
a=$(get pop) b=$(get pop) c=$(get pop)
[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] && [ -z "$c" ] || fail "pop: '$a' '$b' '$c'"
ok "pop gives each job once, then nothing"
echo 1 >"$work/q/taken/$a" # taken long ago: its worker is gone
[ "$(get stats)" = "pending 1 taken 1 done 0" ] || fail "requeue: $(get stats)"
ok "a job taken more than 30 s ago is pending again"
[ "$(get "done?id=$b")" = "done $b" ] && [ "$(get "done?id=$a")" = "done $a" ] &&
    [ "$(get 'done?id=../../x')" = "unknown " ] || fail "done"
[ "$(get stats)" = "pending 0 taken 0 done 2" ] || fail "after done: $(get stats)"
ok "done finishes taken and requeued jobs, and knows no other"

# ---- the controller against a stand-in kumo ----
mkdir -p "$work/bin" "$work/ctl"
: >"$work/groups" # "GEN UNITS STATE" per worker group
cat >"$work/bin/kumo" <<'EOF'
#!/bin/bash
# A stand-in kumo: query groups and deploy update over $STATE/groups.
set -u
case "$1 $2" in
"query groups")
    # As the real one prints it: one field per line.
    echo '{ "items": ['
    while read -r gen units state; do
        printf '{\n "spec": {\n  "name": "workers-%s",\n  "resources": [\n   {\n    "count": %s\n' \
            "$gen" "$units"
        printf '   }\n  ]\n },\n "state": "%s",\n "oseq": 2\n},\n' "$state"
    done <"$STATE/groups"
    printf '{\n "spec": {\n  "name": "control",\n  "resources": [\n   {\n    "count": 2\n   }\n'
    printf '  ]\n },\n "state": "GROUP_ACTIVE",\n "oseq": 1\n}\n], "next": null }\n'
    ;;
"deploy update")
    echo "$*" >>"$STATE/calls"
    tx=$(printf '%064d' "$(wc -l <"$STATE/calls")")
    name=$(sed -n 's/^  \(workers-[0-9]*\):$/\1/p' "$3")
    units=$(grep -A3 "^  $name:" "$3" | sed -n 's/.*count: \([0-9]*\),.*/\1/p')
    if [ -n "$name" ] && grep -q "^${name#workers-} .* GROUP_CLOSED$" "$STATE/groups"; then
        echo "kumo: deploy update: group $name was removed; give it a new name" >&2
        exit 1
    fi
    if [ -n "$name" ] && [ "$units" -gt 3 ]; then
        echo "kumo: deployment update: tx $tx was committed at height 20 but failed"
        echo "kumo: deployment update: group unit count exceeds the grant's maximum: msg 0: exec msg 0: group '$name' has $units units, the grant allows 3 (KUMO_EGRANTCOUNT)"
        exit 1
    fi
    sed -i 's/ GROUP_ACTIVE$/ GROUP_CLOSED/' "$STATE/groups"
    [ -z "$name" ] || sed -i "/^${name#workers-} /d" "$STATE/groups"
    [ -z "$name" ] || echo "${name#workers-} $units GROUP_ACTIVE" >>"$STATE/groups"
    echo "[height 21] deployment 7 updated to version 3f2a0000… (tx $tx)"
    ;;
*) echo "stand-in kumo: $*" >&2; exit 2 ;;
esac
EOF
chmod +x "$work/bin/kumo"
STATE=$work PATH=$work/bin:$PATH ML_TEMPLATE=$work/stack.tmpl ML_DIR=$work/ctl OWNER=$owner DSEQ=7 \
    KUMO_NODE=http://127.0.0.1:9 QUEUE=$queue POLL_S=1 JOBS_PER_WORKER=4 MAX_WORKERS=4 \
    sh "$mgmt/controller.sh" >"$work/ctl.log" 2>&1 &
pids+=($!)
live() { grep -q " GROUP_ACTIVE$" "$work/groups"; }
none_live() { ! live; }
wait_until 10 "the controller's first line" grep -q "controller: managing $owner/7" "$work/ctl.log"
get 'push?n=20' >/dev/null
wait_until 20 "a worker group" live
[ "$(cat "$work/groups")" = "1 3 GROUP_ACTIVE" ] || fail "groups: $(cat "$work/groups")"
grep -q "decision: queue 20 (pending 20, taken 0): workers 0 -> 4 (group workers-1)" "$work/ctl.log" ||
    fail "no decision for 4"
grep -qE "refused by the chain: workers 0 -> 4 exceeds the grant \(KUMO_EGRANTCOUNT, tx 0{63}1\); staying within 3" \
    "$work/ctl.log" || fail "the refusal is not logged with its tx"
ok "20 queued jobs: 4 workers asked (its own ceiling), refused by the grant, logged with the tx"
grep -q "decision: queue 20 (pending 20, taken 0): workers 0 -> 3 (group workers-1)" "$work/ctl.log" &&
    grep -q "controller: kumo: \[height 21\] deployment 7 updated to version 3f2a0000… (tx 0\{63\}2)" "$work/ctl.log" &&
    grep -q "resized: workers 0 -> 3 (tx 0\{63\}2)" "$work/ctl.log" || fail "the resize to 3 is not logged"
ok "then 3 workers: the decision, the CLI's line with the tx and the outcome logged"
# The jobs are worked on; while some remain, nothing changes.
for _ in $(seq 19); do id=$(get pop) && get "done?id=$id" >/dev/null; done
sleep 3
[ "$(wc -l <"$work/calls")" = 2 ] || fail "an update while a job remained: $(cat "$work/calls")"
ok "no resize while a job remains"
id=$(get pop) && get "done?id=$id" >/dev/null
wait_until 20 "the worker group removed" none_live
grep -q "decision: queue 0 (pending 0, taken 0): workers 3 -> 0 (group workers-1)" "$work/ctl.log" ||
    fail "no decision for 0"
[ "$(cat "$work/groups")" = "1 3 GROUP_CLOSED" ] || fail "groups: $(cat "$work/groups")"
ok "the queue empty: the worker group removed (down to zero)"
get 'push?n=2' >/dev/null
wait_until 20 "a worker group again" live
[ "$(sed -n 2p "$work/groups")" = "2 1 GROUP_ACTIVE" ] || fail "groups: $(cat "$work/groups")"
grep -q "decision: queue 2 (pending 2, taken 0): workers 0 -> 1 (group workers-2)" "$work/ctl.log" ||
    fail "no decision for the new group"
ok "2 new jobs: one worker, in a group with a new name (workers-2)"
! grep -q "resize failed" "$work/ctl.log" || fail "a resize failed"
ok "no resize failed"
echo "ok: $checks checks"
