#!/usr/bin/env bash
# bench.sh - runs every benchmark of the release build and prints their `name=value unit`
# lines. BENCH_ORDERS sets the size of the open-orders benchmark (default 1,000,000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
b="$root/build/release"
echo "# bench_apply"; "$b/bench_apply"
echo "# bench_market match"; "$b/bench_market" match
echo "# bench_market orders"; "$b/bench_market" orders
echo "# bench_node"; "$b/bench_node"
echo "# bench_node testnet (4 validators vs 1)"; "$b/bench_node" testnet
echo "# bench_node hostile (4 validators, 8 hostile strangers on each vs clean)"; "$b/bench_node" hostile
echo "# consensus simulation speed (release, 1000 seeds)"
KUMO_SIM_SEEDS=1000 "$b/sim_sim_test_sim_consensus" | grep -E '^sim_'
echo "# bench_sim (simulated blocks per second: 4, 7 and 100 validators, clean and with faults)"
"$b/bench_sim" | grep -E "^[a-z_0-9]+="
echo "# bench_provider (bids of a cold provider on 1000 open orders)"; "$b/bench_provider" 1000 | grep -E "^[a-z_]+="
echo "# bench_runtime (container start/ready/remove via podman)"; "$b/bench_runtime" | grep -E "^[a-z_0-9]+="
echo "# bench_p2p (p2p vs raw TCP)"; "$b/bench_p2p" | grep -E "^[a-z_0-9]+="
echo "# bench_tunnel (mTLS tunnel between datacenters vs raw TCP)"; "$b/bench_tunnel" | grep -E "^[a-z_0-9]+="
echo "# bench_api (GET /status p99 with 2000 hostile connections held vs none)"; "$b/bench_api" | grep -E "^[a-z_0-9]+="
echo "# bench_deploy (webapp deploy-to-running, stages vs baseline)"
"$root/bench/bench_deploy.sh" "$b/kumo" | grep -E "^[a-z_0-9]+="
echo "# bench_failover (webapp traffic across a provider daemon's kill -9 and restart vs none)"
"$root/bench/bench_failover.sh" "$b/kumo" | grep -E "^[a-z_0-9]+="
echo "# bench_spam (lease confirmations of 20 leases under mempool spam at 2x the pool vs clean)"
"$b/bench_spam" | grep -E "^[a-z_0-9]+="
echo "# bench_tenants (honest tenants' confirmations at one datacenter with a hostile tenant vs without)"
"$b/bench_tenants" | grep -E "^[a-z_0-9]+="
echo "# bench_staking (reward accounting per block: 100k delegations vs 10, target flat)"
"$b/bench_staking" | grep -E "^[a-z_0-9]+="
echo "# bench_manifest (manifest to N providers: chunked spread vs one upload each; tenant bytes)"
"$b/bench_manifest" | grep -E "^[a-z_0-9]+="
echo "# bench_manifest shaped (16 providers, 64 MiB, every host's uplink at 100 Mbit/s in its own netns; root)"
"$b/bench_manifest" 16 67108864 100 | grep -E "^[a-z_0-9]+="
echo "# bench_manifest_chain (1 KiB to 16 provider daemons after their leases, a real node; own netns; root)"
"$b/bench_manifest_chain" 16 1024 5 | grep -E "^[a-z_0-9]+="
