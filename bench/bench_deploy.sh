#!/usr/bin/env bash
# bench_deploy.sh - deploy-to-running of the webapp stack (examples/webapp/stack.yml,
# wait_blocks 3): a 1-validator node with BLOCK_MS blocks, two provider daemons (us-east,
# us-west) on a private podman service. Each of RUNS rounds runs `kumo deploy create`, takes
# its stage split (wait_blocks, lease, manifest, containers: blocks and ms, as kumo deploy
# measures them from the submit), curls the web endpoint until it answers, then closes.
# Baseline in the same run: the web group's 2 containers started directly through the podman
# API until they answer (what the stage `containers` cannot beat), and one container alone.
# Prints `name=value unit` lines (medians) and the target: total <= (wait_blocks + 3) blocks
# plus the baseline container start.
#
# Usage: bench/bench_deploy.sh [path/to/kumo]   Env: RUNS (default 5), BLOCK_MS (default 500)
set -euo pipefail

kumo=${1:-build/release/kumo}
kumo=$(cd "$(dirname "$kumo")" && pwd)/$(basename "$kumo")
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
block_ms=${BLOCK_MS:-500}
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-bench-deploy-XXXXXX")
# shellcheck source=../tools/localdc.sh
. "$root/tools/localdc.sh"
localdc_init "$work" "$kumo"
k() { "$kumo" "$@" --home "$LOCALDC_TN/tenant"; }
on_exit() {
    local rc=$?
    [ $rc -eq 0 ] || localdc_logs
    if [ -S "$LOCALDC_SOCK" ]; then
        mapfile -t ids < <(podman_remote ps -aq --filter "label=kumo.bench=$LOCALDC_BASE")
        [ ${#ids[@]} -eq 0 ] || podman_remote rm -f -t 0 "${ids[@]}" >/dev/null 2>&1 || true
    fi
    localdc_cleanup
    if [ $rc -eq 0 ]; then rm -rf "$work"; else echo "bench_deploy: files kept in $work" >&2; fi
    exit $rc
}
trap on_exit EXIT
now_ms() { date +%s%3N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }
answers() { curl -fsS --max-time 2 "$1" >/dev/null; }

"$root/tools/images.sh" >/dev/null
localdc_podman_start
localdc_testnet_start 1 "$block_ms"
localdc_provider_add east us-east
localdc_provider_add west us-west
echo "bench_deploy: node $KUMO_NODE, $block_ms ms blocks, $runs rounds" >&2

# Baseline: the stack's largest group started directly through the API (the 2 web
# instances at once, as one provider starts them) until both answer; and one container alone.
base_start() { # base_start ROUND COUNT: prints ms until COUNT containers answer
    local t0 n port pids=()
    t0=$(now_ms)
    for n in $(seq 1 "$2"); do
        port=$((LOCALDC_BASE + 600 + $1 * 10 + n))
        podman_remote run -d --name "kumo-bench-base-$LOCALDC_BASE-$1-$n" \
            --label "kumo.bench=$LOCALDC_BASE" --ulimit nofile=1024:1024 \
            --ulimit nproc=1024:1024 -p "$port:8080" localhost/kumo-webapp-web:1 >/dev/null &
        pids+=($!)
    done
    wait "${pids[@]}"
    for n in $(seq 1 "$2"); do
        port=$((LOCALDC_BASE + 600 + $1 * 10 + n))
        wait_for 30 "the baseline container" answers "http://127.0.0.1:$port/healthz"
    done
    echo $(($(now_ms) - t0))
    for n in $(seq 1 "$2"); do
        podman_remote rm -f -t 0 "kumo-bench-base-$LOCALDC_BASE-$1-$n" >/dev/null
    done
}
for i in $(seq 1 "$runs"); do
    base_start "$i" 1 >>"$work/baseline1"
    base_start "$i" 2 >>"$work/baseline"
done

cp "$root/examples/webapp/stack.yml" "$work/stack.yml"
for i in $(seq 1 "$runs"); do
    t0=$(now_ms)
    k deploy create "$work/stack.yml" --from tenant --timeout 120 >"$work/create-$i.out"
    url=$(grep -o 'endpoint web:8080 → http://[0-9.:]*' "$work/create-$i.out" | sed -n 1p |
        sed 's/.*→ //')
    wait_for 30 "the web endpoint" answers "$url/"
    echo $(($(now_ms) - t0)) >>"$work/answer_ms"
    awk '$1 == "stage" { print $2, $3, $5 }' "$work/create-$i.out" >>"$work/stages"
    k deploy close "$work/stack.yml" --from tenant --timeout 120 >/dev/null
    echo "bench_deploy: round $i: $(awk '$1 == "stage" && $2 == "total"' "$work/create-$i.out")" >&2
done

for stage in wait_blocks lease manifest containers total; do
    blocks=$(awk -v s=$stage '$1 == s { print $2 }' "$work/stages" | median)
    ms=$(awk -v s=$stage '$1 == s { print $3 }' "$work/stages" | median)
    echo "deploy_${stage}_blocks_p50=$blocks blocks"
    echo "deploy_${stage}_ms_p50=$ms ms"
done
echo "deploy_to_answer_ms_p50=$(median <"$work/answer_ms") ms"
base=$(median <"$work/baseline")
echo "baseline_one_container_start_to_answer_ms_p50=$(median <"$work/baseline1") ms"
echo "baseline_web_group_start_to_answer_ms_p50=$base ms"
# Target: wait_blocks (3) + 3 blocks, plus the container start time.
total_ms=$(awk '$1 == "total" { print $3 }' "$work/stages" | median)
target_ms=$((6 * block_ms + base))
echo "block_interval_ms=$block_ms ms"
echo "deploy_target_ms=$target_ms ms"
echo "deploy_total_vs_target=$(awk -v a="$total_ms" -v b="$target_ms" 'BEGIN { printf "%.3f", a / b }') ratio"
