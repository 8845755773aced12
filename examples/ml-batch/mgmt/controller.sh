#!/bin/sh
# shellcheck disable=SC2086 # the queue's and the chain's answers are split into words on purpose
# controller.sh - ml-batch's management tier (examples/ml-batch/stack.tmpl), in
# localhost/kumo-mgmt:1. Every POLL_S seconds it reads the queue's length (pending + taken
# jobs at $QUEUE) and the worker group on chain, and resizes the group with
# `kumo deploy update --granter $OWNER` of its own stack (the template /etc/kumo/stack.tmpl,
# rendered by render.sh), signing with the grantee key in $KUMO_KEY (a sealed secret: no
# keyring is written):
#   - jobs queued: ceil(queued / JOBS_PER_WORKER) workers, at most MAX_WORKERS and at most
#     what the chain allowed so far; only ever up while jobs remain (a resize re-orders the
#     group, which restarts its workers);
#   - the queue empty at two polls in a row: the worker group removed (down to zero); when it
#     comes back it takes a new name (workers-G, G one more than any before).
# A size the chain refuses (the grant's max_count_per_group: KUMO_EGRANTCOUNT) is logged and
# becomes the ceiling. Each decision is one log line (queue length, from -> to), followed by
# the CLI's lines, prefixed "controller: kumo:", which name the tx; then the outcome.
# A new version of the deployment replaces only the containers whose own spec changed
# (docs/design.md "Updates keep what did not change"): a resize, or the worker group going
# or coming back, keeps this one. It still keeps nothing it cannot read again from the queue
# and the chain, since a change to its own workload (or a daemon's restart of a failed
# container) starts it afresh.
# ML_TEMPLATE (default /etc/kumo/stack.tmpl) and ML_DIR (its work folder, default /tmp/ctl)
# let tests/examples/test_ml_batch_controller.sh run it outside a container.
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=${ML_DIR:-/tmp/ctl}
export HOME="$dir"
# A sanitizer build of kumo (the tests') cannot run LeakSanitizer without ptrace here.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
poll=${POLL_S:-2}
per=${JOBS_PER_WORKER:-4}
max=${MAX_WORKERS:-4}
ceiling=$max
empty=0
mkdir -p "$dir"
cp "${ML_TEMPLATE:-/etc/kumo/stack.tmpl}" "$dir/stack.tmpl"
log() { echo "controller: $*"; }

# "GEN COUNT LAST": the live worker group's generation and units (0 0 without one), and the
# highest generation the deployment ever had.
workers_on_chain() {
    kumo query groups --owner "$OWNER" --dseq "$DSEQ" --all --output json >"$dir/groups.json" \
        2>"$dir/groups.err" || return 1
    awk '
        /"name": "workers-[0-9]+"/ {
            match($0, /workers-[0-9]+/); gen = substr($0, RSTART + 8, RLENGTH - 8) + 0
            units = 0; in_workers = 1; next
        }
        /"name":/ { in_workers = 0 }
        in_workers && /"count":/ { v = $2; gsub(/[^0-9]/, "", v); units += v }
        in_workers && /"state":/ {
            if (gen > last) last = gen
            if ($0 !~ /GROUP_CLOSED/) { live = gen; live_units = units }
            in_workers = 0
        }
        END { print live + 0, live_units + 0, last + 0 }
    ' "$dir/groups.json"
}

# resize GEN FROM TO QUEUED: one decision, carried out.
resize() {
    gen=$1 from=$2 to=$3
    log "decision: queue $4 (pending $pending, taken $taken): workers $from -> $to (group workers-$gen)"
    sh "$here/render.sh" "$dir/stack.tmpl" "$to" "$gen" >"$dir/stack.yml"
    : >"$dir/out"
    (
        kumo deploy update "$dir/stack.yml" --dseq "$DSEQ" --granter "$OWNER" --timeout 180 2>&1
        echo "exit $?"
    ) | while IFS= read -r line; do
        # Line by line, unbuffered: this container may be replaced before the CLI ends.
        echo "$line" >>"$dir/out"
        echo "controller: kumo: $line"
    done
    rc=$(sed -n 's/^exit //p' "$dir/out" | tail -n 1)
    tx=$(grep -o 'tx [0-9a-f]\{64\}' "$dir/out" | head -n 1 | cut -c4-)
    if [ "$rc" = 0 ]; then
        log "resized: workers $from -> $to (tx $tx)"
    elif grep -q KUMO_EGRANTCOUNT "$dir/out"; then
        allowed=$(sed -n 's/.*the grant allows \([0-9][0-9]*\).*/\1/p' "$dir/out" | head -n 1)
        ceiling=${allowed:-$((to - 1))}
        log "refused by the chain: workers $from -> $to exceeds the grant (KUMO_EGRANTCOUNT," \
            "tx ${tx:-none}); staying within $ceiling"
    else
        log "resize failed: workers $from -> $to (exit $rc, tx ${tx:-none}):" \
            "$(grep -v '^exit ' "$dir/out" | tail -n 1)"
        sleep $((poll * 5)) # and try again
    fi
    empty=0
}

log "managing $OWNER/$DSEQ at $KUMO_NODE: one worker per $per queued jobs, at most $max," \
    "polling $QUEUE every ${poll}s"
if state=$(workers_on_chain); then
    set -- $state
    log "on chain: $2 workers (the last worker group: workers-$3)"
fi
while true; do
    sleep "$poll"
    stats=$(timeout 10 wget -q -O - "$QUEUE/cgi-bin/stats" 2>/dev/null) || {
        log "the queue does not answer"
        continue
    }
    set -- $stats
    pending=${2:-0} taken=${4:-0}
    queued=$((pending + taken))
    state=$(workers_on_chain) || {
        log "the chain does not answer: $(tail -n 1 "$dir/groups.err")"
        continue
    }
    set -- $state
    gen=$1 cur=$2 last=$3
    [ "$cur" -gt 0 ] || gen=$((last + 1))
    if [ "$queued" -gt 0 ]; then
        empty=0
        want=$(((queued + per - 1) / per))
        [ "$want" -le "$ceiling" ] || want=$ceiling
        [ "$want" -gt "$cur" ] && resize "$gen" "$cur" "$want" "$queued"
    elif [ "$cur" -gt 0 ]; then
        empty=$((empty + 1))
        [ "$empty" -ge 2 ] && resize "$gen" "$cur" 0 0
    fi
done
