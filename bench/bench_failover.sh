#!/usr/bin/env bash
# bench_failover.sh - what a provider daemon's kill -9 does to its tenants' traffic. The webapp
# (examples/webapp/stack.yml: web at one provider, its database at another, reached across
# datacenters through the overlay) on a 1-validator node (300 ms blocks) and two providers,
# east (us-east) and west (us-west), each host in its own network namespace where this
# machine can (tools/localdc.sh). A prober requests the web tier's global endpoint every
# PROBE_MS (each request makes the web tier visit its database); then, for each provider in
# turn, its daemon is killed with -9, left dead for DOWN_S seconds, and started again.
# Printed per provider (web side: east, its forwarder and tunnel clients; database side: west,
# its tunnel server):
#   failover_<p>_failed_requests        requests that failed from the kill to the end of the
#                                       window (DOWN_S + 15 s)
#   failover_<p>_restart_to_ok_ms       from the restart to the first request that succeeded
#                                       (target: within 1000 ms)
#   failover_<p>_outage_ms              from the first failure to the first success after it
# and the baseline in the same run: failover_baseline_failed_requests over a window of the
# same length with nothing killed.
#
# Usage: bench/bench_failover.sh [path/to/kumo]   Env: PROBE_MS (default 100), DOWN_S (5)
set -euo pipefail

kumo=${1:-build/release/kumo}
kumo=$(cd "$(dirname "$kumo")" && pwd)/$(basename "$kumo")
root=$(cd "$(dirname "$0")/.." && pwd)
probe_ms=${PROBE_MS:-100}
down_s=${DOWN_S:-5}
window_s=$((down_s + 15))
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-bench-failover-XXXXXX")
# shellcheck source=../tools/localdc.sh
. "$root/tools/localdc.sh"
localdc_init "$work" "$kumo"
k() { "$kumo" "$@" --home "$LOCALDC_TN/tenant"; }
prober_pid=""
on_exit() {
    local rc=$?
    [ -z "$prober_pid" ] || kill "$prober_pid" 2>/dev/null || true
    [ $rc -eq 0 ] || localdc_logs
    localdc_cleanup
    if [ $rc -eq 0 ]; then rm -rf "$work"; else echo "bench_failover: files kept in $work" >&2; fi
    exit $rc
}
trap on_exit EXIT
now_ms() { date +%s%3N; }

localdc_netns_start || echo "bench_failover: every host on 127.0.0.1" >&2
"$root/tools/images.sh" >/dev/null
localdc_podman_start
localdc_testnet_start 1 300 40
localdc_provider_add east us-east
localdc_provider_add west us-west
cp "$root/examples/webapp/stack.yml" "$work/stack.yml"
k deploy create "$work/stack.yml" --from tenant --timeout 180 >"$work/create.out" 2>&1 ||
    { cat "$work/create.out" >&2; exit 1; }
port=$(localdc_podman east ps --filter "label=kumo.provider=${DC_ADDR[east]}" \
    --filter "label=kumo.workload=web" --format '{{.Ports}}' | sed -n 1p |
    sed -n 's/.*:\([0-9]*\)->.*/\1/p')
url="http://${DC_HOST[east]}:$port/"
wait_for 60 "the web tier at $url" curl -fsS --max-time 2 "$url" -o /dev/null
echo "bench_failover: web at $url (east), database at west; probing every $probe_ms ms" >&2

# The prober: one line per request, "<ms since epoch> ok|fail".
(
    while :; do
        t=$(now_ms)
        if curl -fsS --max-time 1 "$url" -o /dev/null 2>/dev/null; then r=ok; else r=fail; fi
        echo "$t $r"
        sleep "$(awk -v ms="$probe_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
    done
) >"$work/probe.txt" &
prober_pid=$!

# failed FROM TO: requests that failed in [FROM, TO) ms.
failed() { awk -v a="$1" -v b="$2" '$1 >= a && $1 < b && $2 == "fail"' "$work/probe.txt" | wc -l; }
# first_ok AFTER: the time of the first success at or after AFTER (empty if none).
first_ok() { awk -v a="$1" '$1 >= a && $2 == "ok" { print $1; exit }' "$work/probe.txt"; }
first_fail() { awk -v a="$1" '$1 >= a && $2 == "fail" { print $1; exit }' "$work/probe.txt"; }

sleep 3
t0=$(now_ms)
sleep "$window_s"
echo "failover_baseline_failed_requests=$(failed "$t0" "$(now_ms)") 1"

for p in east west; do
    t_kill=$(now_ms)
    kill -9 "${DC_PID[$p]}"
    wait "${DC_PID[$p]}" 2>/dev/null || true
    sleep "$down_s"
    t_restart=$(now_ms)
    localdc_provider_start "$p"
    sleep $((window_s - down_s))
    t_end=$(now_ms)
    ok=$(first_ok "$t_restart")
    fail1=$(first_fail "$t_kill")
    echo "failover_${p}_failed_requests=$(failed "$t_kill" "$t_end") 1"
    echo "failover_${p}_restart_to_ok_ms=$((${ok:-$t_end} - t_restart)) ms"
    outage=0
    if [ -n "$fail1" ]; then
        back=$(first_ok "$fail1")
        outage=$((${back:-$t_end} - fail1))
    fi
    echo "failover_${p}_outage_ms=$outage ms"
done
