# localdc.sh - sourced by tools/demo.sh, tests/e2e/*.sh and bench/bench_deploy.sh: a local
# kumo network with datacenters on this machine.
#   localdc_init WORK KUMO            set the paths (LOCALDC_*), nothing started yet
#   localdc_podman_start              a podman API service on WORK/podman.sock (runc)
#   localdc_testnet_start N BLOCK_MS [PERIOD]
#                                     N validators (and 8 funded provider keys), blocks every
#                                     BLOCK_MS, an optional reconfirmation period; sets KUMO_NODE
#   localdc_provider_add NAME REGION [SOCKET] [SED]
#                                     `kumo provider init|register|start` in WORK/testnet/NAME
#                                     with its own API port and host port range (SED edits its
#                                     config.yaml); DC_ADDR[NAME], DC_PID[NAME], log WORK/NAME.log
#   localdc_provider_start NAME       (re)starts a provider's daemon
#   localdc_cleanup                   stops everything and removes every container, network and
#                                     volume the providers of this run made (by their
#                                     kumo.provider label), and their nftables tables
#   wait_for SECONDS WHAT COMMAND...  polls COMMAND (every 0.2 s) until it succeeds
# Ports sit below the kernel's ephemeral range (32768).
# shellcheck shell=bash

declare -A DC_ADDR DC_PID
LOCALDC_PROVIDERS=()
LOCALDC_PODMAN_PID=

localdc_init() {
    LOCALDC_WORK=$1
    LOCALDC_KUMO=$2
    LOCALDC_TN=$LOCALDC_WORK/testnet
    LOCALDC_SOCK=$LOCALDC_WORK/podman.sock
    LOCALDC_BASE=$((20000 + (RANDOM % 1000) * 10))
    LOCALDC_STARTED=
}

podman_remote() { podman --remote --url "unix://$LOCALDC_SOCK" "$@"; }

wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "timed out after ${secs}s waiting for $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

localdc_podman_start() {
    podman --runtime /usr/sbin/runc system service --time 0 "unix://$LOCALDC_SOCK" \
        >"$LOCALDC_WORK/podman.log" 2>&1 &
    LOCALDC_PODMAN_PID=$!
    wait_for 30 "the podman API service at $LOCALDC_SOCK" test -S "$LOCALDC_SOCK"
}

localdc_testnet_start() {
    local n=$1 block_ms=$2 period=${3:-}
    "$LOCALDC_KUMO" testnet init --dir "$LOCALDC_TN" --validators "$n" --providers 8 \
        --base-port "$LOCALDC_BASE" --block-interval-ms "$block_ms" --chain-id kumo-local \
        >"$LOCALDC_WORK/testnet-init.out"
    if [ -n "$period" ]; then
        sed -i "s/\"reconfirmation_period\": \"[0-9]*\"/\"reconfirmation_period\": \"$period\"/" \
            "$LOCALDC_TN"/node*/genesis.json
    fi
    LOCALDC_STARTED=1
    "$LOCALDC_KUMO" testnet start --dir "$LOCALDC_TN" >"$LOCALDC_WORK/testnet-start.out"
    export KUMO_NODE=http://127.0.0.1:$LOCALDC_BASE
}

localdc_provider_start() {
    "$LOCALDC_KUMO" provider start --home "$LOCALDC_TN/$1" >>"$LOCALDC_WORK/$1.log" 2>&1 &
    DC_PID[$1]=$!
}

localdc_provider_add() {
    local name=$1 region=$2 socket=${3:-$LOCALDC_SOCK} edit=${4:-}
    local j=${#LOCALDC_PROVIDERS[@]}
    local home=$LOCALDC_TN/$name api_port=$((LOCALDC_BASE + 200 + j))
    mv "$LOCALDC_TN/provider$j" "$home"
    "$LOCALDC_KUMO" provider init --home "$home" --region "$region" --node "$KUMO_NODE" \
        --api-listen "127.0.0.1:$api_port" --runtime-socket "$socket" >/dev/null
    # Each datacenter publishes ports from its own range (they share this machine), and peers'
    # endpoints are on loopback here (only public addresses are followed otherwise).
    sed -i -e "s/^port_range_min: .*/port_range_min: $((LOCALDC_BASE + 300 + j * 50))/" \
        -e "s/^port_range_max: .*/port_range_max: $((LOCALDC_BASE + 349 + j * 50))/" \
        -e 's/^peer_address_allow: .*/peer_address_allow: "127.0.0.1"/' \
        "$home/config.yaml"
    [ -z "$edit" ] || sed -i "$edit" "$home/config.yaml"
    "$LOCALDC_KUMO" provider register --home "$home" --host-uri "https://127.0.0.1:$api_port" \
        >"$LOCALDC_WORK/$name-register.out"
    DC_ADDR[$name]=$("$LOCALDC_KUMO" keys show provider --address --home "$home")
    LOCALDC_PROVIDERS+=("$name")
    localdc_provider_start "$name"
    wait_for 30 "$name's API" grep -q api_listening "$LOCALDC_WORK/$name.log"
}

localdc_cleanup() {
    local name ids nets
    for name in "${LOCALDC_PROVIDERS[@]}"; do # SIGTERM: a daemon stops cleanly
        kill "${DC_PID[$name]}" 2>/dev/null || true
    done
    for name in "${LOCALDC_PROVIDERS[@]}"; do
        wait "${DC_PID[$name]}" 2>/dev/null || true
    done
    for name in "${LOCALDC_PROVIDERS[@]}"; do
        [ -S "$LOCALDC_SOCK" ] || break
        mapfile -t ids < <(podman_remote ps -aq --filter "label=kumo.provider=${DC_ADDR[$name]}" 2>/dev/null)
        [ ${#ids[@]} -eq 0 ] || podman_remote rm -f -t 0 "${ids[@]}" >/dev/null 2>&1 || true
        mapfile -t nets < <(podman_remote network ls -q --filter "label=kumo.provider=${DC_ADDR[$name]}" 2>/dev/null)
        [ ${#nets[@]} -eq 0 ] || podman_remote network rm -f "${nets[@]}" >/dev/null 2>&1 || true
        mapfile -t nets < <(podman_remote volume ls -q --filter "label=kumo.provider=${DC_ADDR[$name]}" 2>/dev/null)
        [ ${#nets[@]} -eq 0 ] || podman_remote volume rm -f "${nets[@]}" >/dev/null 2>&1 || true
        # The daemon's isolation tables stay after it stops (for its containers): they go too.
        nft delete table inet "kumo_${DC_ADDR[$name]:5:8}" >/dev/null 2>&1 || true
        nft delete table bridge "kumo_${DC_ADDR[$name]:5:8}" >/dev/null 2>&1 || true
    done
    LOCALDC_PROVIDERS=()
    [ -z "$LOCALDC_STARTED" ] || "$LOCALDC_KUMO" testnet stop --dir "$LOCALDC_TN" >/dev/null 2>&1 || true
    LOCALDC_STARTED=
    if [ -n "$LOCALDC_PODMAN_PID" ]; then
        kill "$LOCALDC_PODMAN_PID" 2>/dev/null || true
        wait "$LOCALDC_PODMAN_PID" 2>/dev/null || true
    fi
    LOCALDC_PODMAN_PID=
}

# Prints the tails of the run's logs (on failure).
localdc_logs() {
    local f
    for f in "$LOCALDC_TN/node0/node.log" "$LOCALDC_WORK"/*.log; do
        [ -f "$f" ] || continue
        echo "--- last lines of $f" >&2
        tail -n 30 "$f" >&2
    done
}
