# scenario.sh - ml-batch's scenario, sourced by tools/example.sh once the deployment runs (its
# control group only: the controller and the queue at dc-west); tests/e2e/test_ml_batch.sh
# runs it. The runner submits KUMO_EXAMPLE_JOBS jobs (default 20) over HTTP to the queue's
# published port; the controller, alone from here, grows the worker group at dc-east while
# they wait (asking once for 4 workers, more than the grant's max_count of 3: the chain
# refuses it and the controller stays within 3) and removes it once the queue is empty. Then
# every claim is checked, each an "ok - ..." line:
#   the controller's log (kumo deploy logs) shows each decision with the queue's length,
#   from -> to and its tx; the chain has every resize as a MsgExec of the grantee under the
#   grant (grant.used and deployment.updated in each tx; in the deployment's events every
#   deployment.updated has its grant.used, one per resize); the refused step failed on chain
#   with KUMO_EGRANTCOUNT; no worker group ever
#   had more than 3 units; all jobs are done and no worker group is left; and the workload's
#   network: the controller's container reaches the node (workload_egress_allow) but not a
#   service of this machine's own address on the same private network.
# shellcheck shell=bash disable=SC2046,SC2154 # words on purpose; variables of tools/example.sh

jobs=${KUMO_EXAMPLE_JOBS:-20}
ok() { say "ok - $*"; }
check() { # check WHAT COMMAND...
    local what=$1
    shift
    "$@" || { echo "example: FAILED: $what" >&2; return 1; }
    ok "$what"
}

# The queue's published address, as the provider reports it now: a new container (every new
# version brings one) may get another host port.
endpoint() {
    url=$(k deploy status "$stack" --output json | tr -d ' \n' |
        grep -o '"url":"http://[^"]*","scope":"global"' | head -n 1 | cut -d'"' -f4)
    [ -n "$url" ]
}
endpoint || { echo "example: FAILED: the queue has no global endpoint" >&2; exit 1; }
queue() { curl -fsS --max-time 5 "$url/cgi-bin/$1" || { endpoint && curl -fsS --max-time 5 "$url/cgi-bin/$1"; }; }
ctl_log() { k deploy logs "$stack" controller --tail 5000 2>/dev/null; }
controller_up() { ctl_log | grep -q 'controller: managing'; }
# "GEN UNITS LAST MAX": the live worker group (0 0 without one), the last generation, and the
# most units any worker group ever had.
workers() {
    k query groups --owner "$OWNER" --dseq "$DSEQ" --all --output json | awk '
        /"name": "workers-[0-9]+"/ {
            match($0, /workers-[0-9]+/); gen = substr($0, RSTART + 8, RLENGTH - 8) + 0
            units = 0; in_workers = 1; next
        }
        /"name":/ { in_workers = 0 }
        in_workers && /"count":/ { v = $2; gsub(/[^0-9]/, "", v); units += v }
        in_workers && /"state":/ {
            if (gen > last) last = gen
            if (units > most) most = units
            if ($0 !~ /GROUP_CLOSED/) { live = gen; live_units = units }
            in_workers = 0
        }
        END { print live + 0, live_units + 0, last + 0, most + 0 }'
}
scaled_up() { set -- $(workers) && [ "$2" -gt 0 ]; }
scaled_down() { set -- $(workers) && [ "$2" -eq 0 ] && [ "$3" -gt 0 ]; }
all_done() { queue stats | grep -qx "pending 0 taken 0 done $jobs"; }

wait_for 60 "the queue at $url" queue stats
wait_for 120 "the controller's first log line" controller_up
say "queue at $url: $(queue stats); $jobs jobs submitted"
queue "push?n=$jobs" >/dev/null
wait_for 180 "the worker group" scaled_up
say "workers on chain (generation, units): $(workers | cut -d' ' -f1-2); queue: $(queue stats)"
wait_for 300 "every job done" all_done
say "queue: $(queue stats)"
wait_for 180 "the worker group removed" scaled_down

ctl_log >"$dir/controller.log"
grep 'controller: ' "$dir/controller.log" | sed 's/^/example:   /'
read -r _ live_units _ most < <(workers)
check "the controller scaled the workers up while jobs were queued" \
    grep -Eq 'decision: queue [1-9][0-9]* \(.*\): workers 0 -> [1-3] ' "$dir/controller.log"
check "it asked for 4 workers once and the chain refused it (logged, with its tx)" \
    grep -Eq 'refused by the chain: workers [0-9]+ -> 4 exceeds the grant \(KUMO_EGRANTCOUNT, tx [0-9a-f]{64}\); staying within 3' \
    "$dir/controller.log"
refused=$(grep -o 'KUMO_EGRANTCOUNT, tx [0-9a-f]\{64\}' "$dir/controller.log" | head -n 1 | cut -c22-)
k query tx "$refused" >"$dir/refused.tx" 2>&1 || true
check "that tx failed on chain: code -41 (KUMO_EGRANTCOUNT), 4 units where the grant allows 3" \
    grep -Eq '^code +-41$' "$dir/refused.tx"
check "no worker group ever had more than 3 units (the grant's max_count)" test "$most" -le 3
check "the controller removed the worker group once the queue was empty" \
    grep -Eq 'decision: queue 0 \(pending 0, taken 0\): workers [1-3] -> 0 ' "$dir/controller.log"
check "no worker group is left on chain" test "$live_units" -eq 0
check "all $jobs jobs done (the queue, maybe restarting with the new version, asked until it answers)" \
    wait_for 60 "the queue" all_done
mapfile -t txs < <(grep -o 'updated to version .* (tx [0-9a-f]\{64\})' "$dir/controller.log" |
    grep -o '[0-9a-f]\{64\}' | sort -u)
check "the log names the tx of each resize (${#txs[@]}: up and down at least)" test "${#txs[@]}" -ge 2
exec_under_grant() {
    local tx
    for tx in "${txs[@]}"; do
        k query tx "$tx" --output json >"$dir/tx-$tx.json" || return 1
        grep -q '"deployment.updated"' "$dir/tx-$tx.json" && grep -q '"grant.used"' "$dir/tx-$tx.json" &&
            grep -q '"update_deployment"' "$dir/tx-$tx.json" || return 1
    done
}
check "each of those txs is a MsgExec under the grant (deployment.updated, grant.used)" \
    exec_under_grant
k deploy events "$stack" --from tenant >"$dir/events.out" 2>&1 || true
every_update_granted() { # every deployment.updated has its grant.used, and there are as many as resizes
    local h n=0
    # shellcheck disable=SC2013 # one height per line
    for h in $(sed -n 's/.* deployment\.updated .*height=\([0-9]*\).*/\1/p' "$dir/events.out"); do
        grep -Eq " grant\.used .*height=$h msg=update_deployment grant_dseq=$DSEQ( |$)" \
            "$dir/events.out" || return 1
        n=$((n + 1))
    done
    [ "$n" -eq "${#txs[@]}" ]
}
check "the chain's events: every update of the deployment was an Exec under the grant, one per resize" \
    every_update_granted
k query grants --granter "$OWNER" >"$dir/grants.out"
check "the grant to the management key ($GRANTEE) is on chain" grep -q "$GRANTEE" "$dir/grants.out"

# The workload's network: the node yes (the operator opened it), this machine's own address
# on the private network no (a service listening there, on every address). The shell prints
# which, so a shell that fails is not taken for a refused connection.
busybox httpd -f -p "$LOCALDC_NET.1:18080" -h "$dir" </dev/null >/dev/null 2>&1 &
example_pids+=($!) # stopped by tools/example.sh on exit
from_controller() { # from_controller URL: "reached" or "blocked", as the controller's container saw it
    "$kumo" deploy shell "$stack" controller --home "$tenant_home" -- sh -c \
        "if timeout 5 wget -q -O /dev/null '$1'; then echo reached; else echo blocked; fi" \
        </dev/null 2>&1 | tee -a "$dir/shell.out"
}
# (grep reads it all: with pipefail an early exit would fail the pipe)
reaches_node() { from_controller "$KUMO_NODE/status" | grep -x reached >/dev/null; }
wait_for 60 "the controller's container to reach the node" reaches_node || true
check "the controller's container reaches the node ($KUMO_NODE)" reaches_node
check "a service on this machine's address ($LOCALDC_NET.1:18080) answers dc-west's host" \
    localdc_in dc-west curl -fsS --max-time 5 -o /dev/null "http://$LOCALDC_NET.1:18080/stack.yml"
blocked_at_host() { from_controller "http://$LOCALDC_NET.1:18080/stack.yml" | grep -x blocked >/dev/null; }
check "but not the controller's container (dropped: not in workload_egress_allow)" blocked_at_host
