# localdc.sh - sourced by tools/demo.sh, tests/e2e/*.sh and bench/bench_deploy.sh: a local
# kumo network with datacenters on this machine.
#   localdc_init WORK KUMO            set the paths (LOCALDC_*), nothing started yet
#   localdc_netns_start               opt-in, before anything is started: every host in its own
#                                     network namespace (below); fails (returns 1) with a
#                                     message where namespaces cannot be made
#   localdc_podman_start              a podman API service on WORK/podman.sock (runc)
#   localdc_testnet_start N BLOCK_MS [PERIOD]
#                                     N validators (and 8 funded provider keys), blocks every
#                                     BLOCK_MS, an optional reconfirmation period; sets KUMO_NODE
#   localdc_provider_add NAME REGION [SOCKET] [SED]
#                                     `kumo provider init|register|start` in WORK/testnet/NAME
#                                     with its own API port and host port range (SED edits its
#                                     config.yaml); DC_ADDR[NAME] (account), DC_HOST[NAME] (its
#                                     host's address), DC_SOCK[NAME] (its runtime), DC_PID[NAME],
#                                     log WORK/NAME.log
#   localdc_provider_start NAME       (re)starts a provider's daemon
#   localdc_podman NAME ARGS...       `podman --remote` at provider NAME's container runtime
#   localdc_in HOST COMMAND...        runs a program in a host (val or a provider's NAME)
#   localdc_netns_link NAME up|down   plugs provider NAME's host into the switch or pulls it out
#   localdc_cleanup                   stops everything and removes every container, network and
#                                     volume the providers of this run made (by their
#                                     kumo.provider label), and their nftables tables
#   wait_for SECONDS WHAT COMMAND...  polls COMMAND (every 0.2 s) until it succeeds
# Ports sit below the kernel's ephemeral range (32768).
#
# Loopback mode (the default): every process in this machine's namespace on 127.0.0.1, one
# podman service for all providers, and peer_address_allow lists 127.0.0.1.
#
# Namespace mode (localdc_netns_start; root, iproute2 and nsenter): the run takes a free
# 10.77.X.0/24 and makes the namespaces kumo-ldc-<pid of the script>-<host>:
#   sw          the switch: a bridge, one veth port per host (so the run's traffic never meets
#               this machine's firewall or bridges, and deleting it unplugs everything)
#   (this one)  the machine's own namespace is the tenant and the outside world: 10.77.X.1 on
#               the veth kumoh<X> (the script's curl, kumo deploy and queries run here)
#   val         the validators, 10.77.X.2: `kumo testnet start` in it, consensus on its loopback,
#               the nodes' HTTP APIs on every address of the host (KUMO_NODE=http://10.77.X.2:…)
#   <provider>  one per provider, 10.77.X.(11+j): its daemon and its own podman API service
#               (WORK/podman-<name>.sock), so its container networks, published ports,
#               iptables and the daemon's nftables tables live in that host; its public
#               address and host URI are that address, and peer_address_allow lists exactly
#               the providers' addresses (numeric, no range); workload_egress_allow lists the
#               validators' and the providers' addresses, so a workload (a management tier)
#               reaches the chain's API and the provider APIs, and nothing else private.
# The podman services share this machine's image store and container database (the images
# tools/images.sh imports are there once): only the network namespace differs, processes enter
# it with `nsenter --net` (not `ip netns exec`, whose private mount namespace would hide the
# containers' namespace and rootfs mounts from other podman processes).
# Cleanup removes the containers through their own provider's service, stops every process,
# and deletes the namespaces (veths, bridges, iptables and nftables tables go with them). A run
# killed with -9 is found by its name (its script's pid is gone) and removed by the next
# localdc_netns_start, or by `bash tools/localdc.sh sweep`.
# shellcheck shell=bash

declare -A DC_ADDR DC_PID DC_SOCK DC_HOST DC_PODMAN_PID
LOCALDC_PROVIDERS=()
LOCALDC_PODMAN_PID=
LOCALDC_NETNS=
LOCALDC_RUN=$$
LOCALDC_NET=
LOCALDC_STATE_ROOT=/run/kumo-localdc

localdc_init() {
    LOCALDC_WORK=$1
    LOCALDC_KUMO=$2
    LOCALDC_TN=$LOCALDC_WORK/testnet
    LOCALDC_SOCK=$LOCALDC_WORK/podman.sock
    LOCALDC_BASE=$((20000 + (RANDOM % 1000) * 10))
    LOCALDC_STARTED=
}

podman_remote() { podman --remote --url "unix://$LOCALDC_SOCK" "$@"; }
localdc_podman() { # localdc_podman NAME ARGS...: provider NAME's container runtime
    local sock=${DC_SOCK[$1]:-$LOCALDC_SOCK}
    shift
    podman --remote --url "unix://$sock" "$@"
}

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

# ---- namespace mode ----
localdc_ns() { echo "kumo-ldc-$LOCALDC_RUN-$1"; } # the namespace of host $1 of this run
# localdc_in HOST COMMAND...: runs a program in HOST's namespace (here in loopback mode).
localdc_in() {
    local host=$1
    shift
    if [ -n "$LOCALDC_NETNS" ]; then
        nsenter --net="/run/netns/$(localdc_ns "$host")" -- "$@"
    else
        "$@"
    fi
}
# localdc_bg HOST LOG COMMAND...: starts a program in HOST's namespace in the background, its
# output appended to LOG; LOCALDC_BG_PID is its pid (nsenter execs it: not a subshell's, as
# `localdc_in … &` would give, whose kill would leave the program running).
localdc_bg() {
    local in=() host=$1 log=$2
    shift 2
    [ -z "$LOCALDC_NETNS" ] || in=(nsenter --net="/run/netns/$(localdc_ns "$host")" --)
    "${in[@]}" "$@" >>"$log" 2>&1 &
    LOCALDC_BG_PID=$!
}

# A host NAME with address 10.77.X.OCTET, its veth vOCTET on the switch's bridge.
localdc_netns_host() {
    local ns sw
    ns=$(localdc_ns "$1")
    sw=$(localdc_ns sw)
    ip netns add "$ns"
    ip -n "$sw" link add "v$2" type veth peer name eth0 netns "$ns"
    ip -n "$sw" link set "v$2" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$LOCALDC_NET.$2/24" dev eth0
    ip -n "$ns" link set eth0 up
    # Its containers' traffic is routed by the host (a fresh namespace starts with it off).
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
}

# localdc_netns_link NAME up|down: plugs provider NAME's host into the switch or pulls it out.
localdc_netns_link() { ip -n "$(localdc_ns sw)" link set "v${DC_HOST[$1]##*.}" "$2"; }

# Removes every namespace of run $1 and what runs in them, then (from this namespace) any
# container, network or volume still labelled with one of its providers' accounts (a run
# killed with -9, or a daemon that outlived its stop), then the namespaces themselves.
localdc_netns_remove() {
    local run=$1 ns pids addr ids all
    all=$(ip netns list | awk -v p="kumo-ldc-$run-" 'index($1, p) == 1 { print $1 }')
    for ns in $all; do # daemons first: none may start a container again
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        # shellcheck disable=SC2086 # a list of pids
        [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    done
    if [ -f "$LOCALDC_STATE_ROOT/$run/accounts" ]; then
        while read -r addr; do
            # Right after their conmon was killed a removal may not take: tries for 10 s.
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                mapfile -t ids < <(podman ps -aq --filter "label=kumo.provider=$addr" </dev/null 2>/dev/null)
                [ ${#ids[@]} -gt 0 ] || break
                podman --runtime /usr/sbin/runc rm -f -t 0 "${ids[@]}" </dev/null >/dev/null 2>&1 || true
                sleep 1
            done
            mapfile -t ids < <(podman network ls -q --filter "label=kumo.provider=$addr" </dev/null 2>/dev/null)
            [ ${#ids[@]} -eq 0 ] || podman network rm -f "${ids[@]}" </dev/null >/dev/null 2>&1 || true
            mapfile -t ids < <(podman volume ls -q --filter "label=kumo.provider=$addr" </dev/null 2>/dev/null)
            [ ${#ids[@]} -eq 0 ] || podman volume rm -f "${ids[@]}" </dev/null >/dev/null 2>&1 || true
        done <"$LOCALDC_STATE_ROOT/$run/accounts"
    fi
    for ns in $all; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "${LOCALDC_STATE_ROOT:?}/$run"
}

# Removes the namespaces of runs whose script is gone (killed with -9).
localdc_netns_sweep() {
    local run
    for run in $(ip netns list | sed -n 's/^kumo-ldc-\([0-9]*\)-.*/\1/p' | sort -u); do
        [ "$run" != "$LOCALDC_RUN" ] || continue
        ! kill -0 "$run" 2>/dev/null || continue
        localdc_netns_remove "$run"
        echo "localdc: removed the namespaces of the stale run $run" >&2
    done
}

localdc_netns_start() {
    local why='' x i start sw
    LOCALDC_RUN=$$
    if [ "$(id -u)" != 0 ]; then
        why="not root"
    elif ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
        why="ip (iproute2) or nsenter missing"
    else
        localdc_netns_sweep
        sw=$(localdc_ns sw)
        ip netns add "$sw" 2>/dev/null || why="ip netns add failed"
    fi
    if [ -n "$why" ]; then
        echo "localdc: no network namespaces here ($why): every host stays on 127.0.0.1" >&2
        return 1
    fi
    LOCALDC_NETNS=1 # from here on, localdc_cleanup removes the run's namespaces
    mkdir -p "$LOCALDC_STATE_ROOT/$LOCALDC_RUN"
    echo "$LOCALDC_WORK" >"$LOCALDC_STATE_ROOT/$LOCALDC_RUN/work"
    ip -n "$sw" link set lo up
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    # A free 10.77.X.0/24: creating this namespace's veth kumohX claims it (another run's
    # attempt at the same name fails).
    start=$((RANDOM % 250))
    for i in $(seq 0 249); do
        x=$(((start + i) % 250 + 1))
        ! ip route show "10.77.$x.0/24" | grep -q . || continue
        ip link add "kumoh$x" type veth peer name host netns "$sw" 2>/dev/null || continue
        LOCALDC_NET=10.77.$x
        break
    done
    if [ -z "$LOCALDC_NET" ]; then
        echo "localdc: no free 10.77.X.0/24 for the run's hosts" >&2
        return 1
    fi
    ip -n "$sw" link set host master br0 up
    ip addr add "$LOCALDC_NET.1/24" dev "kumoh$x"
    ip link set "kumoh$x" up
    localdc_netns_host val 2
    echo "localdc: hosts in namespaces kumo-ldc-$LOCALDC_RUN-*: this one $LOCALDC_NET.1," \
        "validators $LOCALDC_NET.2, providers from $LOCALDC_NET.11" >&2
}

# ---- processes ----
localdc_podman_start() {
    # Namespace mode: each provider gets its own service in its host (localdc_provider_add).
    [ -z "$LOCALDC_NETNS" ] || return 0
    podman --runtime /usr/sbin/runc system service --time 0 "unix://$LOCALDC_SOCK" \
        >"$LOCALDC_WORK/podman.log" 2>&1 &
    LOCALDC_PODMAN_PID=$!
    wait_for 30 "the podman API service at $LOCALDC_SOCK" test -S "$LOCALDC_SOCK"
}

localdc_testnet_start() {
    local n=$1 block_ms=$2 period=${3:-} node=127.0.0.1
    "$LOCALDC_KUMO" testnet init --dir "$LOCALDC_TN" --validators "$n" --providers 8 \
        --base-port "$LOCALDC_BASE" --block-interval-ms "$block_ms" --chain-id kumo-local \
        >"$LOCALDC_WORK/testnet-init.out"
    if [ -n "$period" ]; then
        sed -i "s/\"reconfirmation_period\": \"[0-9]*\"/\"reconfirmation_period\": \"$period\"/" \
            "$LOCALDC_TN"/node*/genesis.json
    fi
    if [ -n "$LOCALDC_NETNS" ]; then # the APIs answer the other hosts too
        sed -i 's/^rpc_listen: "127\.0\.0\.1:/rpc_listen: "0.0.0.0:/' "$LOCALDC_TN"/node*/config.yaml
        node=$LOCALDC_NET.2
    fi
    LOCALDC_STARTED=1
    localdc_in val "$LOCALDC_KUMO" testnet start --dir "$LOCALDC_TN" >"$LOCALDC_WORK/testnet-start.out"
    export KUMO_NODE=http://$node:$LOCALDC_BASE
}

localdc_provider_start() {
    localdc_bg "$1" "$LOCALDC_WORK/$1.log" "$LOCALDC_KUMO" provider start --home "$LOCALDC_TN/$1"
    DC_PID[$1]=$LOCALDC_BG_PID
}

localdc_provider_add() {
    local name=$1 region=$2 socket=${3:-$LOCALDC_SOCK} edit=${4:-}
    local j=${#LOCALDC_PROVIDERS[@]}
    local home=$LOCALDC_TN/$name api_port=$((LOCALDC_BASE + 200 + j)) host=127.0.0.1 allow=127.0.0.1
    local egress=
    if [ -n "$LOCALDC_NETNS" ]; then
        host=$LOCALDC_NET.$((11 + j))
        allow=$(seq -s , -f "$LOCALDC_NET.%g" 11 18) # the 8 providers a run can have
        egress=$LOCALDC_NET.2,$allow                # and the validators
        localdc_netns_host "$name" $((11 + j))
        if [ -z "${3:-}" ]; then # its own runtime, in its host
            socket=$LOCALDC_WORK/podman-$name.sock
            localdc_bg "$name" "$LOCALDC_WORK/podman-$name.log" \
                podman --runtime /usr/sbin/runc system service --time 0 "unix://$socket"
            DC_PODMAN_PID[$name]=$LOCALDC_BG_PID
            wait_for 30 "$name's podman API service" test -S "$socket"
        fi
    fi
    DC_SOCK[$name]=$socket
    DC_HOST[$name]=$host
    mv "$LOCALDC_TN/provider$j" "$home"
    "$LOCALDC_KUMO" provider init --home "$home" --region "$region" --node "$KUMO_NODE" \
        --public-address "$host" --api-listen "$host:$api_port" --runtime-socket "$socket" >/dev/null
    # Each datacenter publishes ports from its own range and has its own tunnel port (on
    # loopback they share this machine), and peers' tunnel addresses are private here (only
    # public ones are followed otherwise).
    sed -i -e "s/^port_range_min: .*/port_range_min: $((LOCALDC_BASE + 300 + j * 50))/" \
        -e "s/^port_range_max: .*/port_range_max: $((LOCALDC_BASE + 349 + j * 50))/" \
        -e "s/^tunnel_port: .*/tunnel_port: $((LOCALDC_BASE + 250 + j))/" \
        -e "s/^peer_address_allow: .*/peer_address_allow: \"$allow\"/" \
        -e "s/^workload_egress_allow: .*/workload_egress_allow: \"$egress\"/" \
        "$home/config.yaml"
    [ -z "$edit" ] || sed -i "$edit" "$home/config.yaml"
    "$LOCALDC_KUMO" provider register --home "$home" --host-uri "https://$host:$api_port" \
        >"$LOCALDC_WORK/$name-register.out"
    DC_ADDR[$name]=$("$LOCALDC_KUMO" keys show provider --address --home "$home")
    [ -z "$LOCALDC_NETNS" ] || echo "${DC_ADDR[$name]}" >>"$LOCALDC_STATE_ROOT/$LOCALDC_RUN/accounts"
    LOCALDC_PROVIDERS+=("$name")
    localdc_provider_start "$name"
    wait_for 30 "$name's API" grep -q api_listening "$LOCALDC_WORK/$name.log"
}

localdc_cleanup() {
    local name ids nets pid
    for name in "${LOCALDC_PROVIDERS[@]}"; do # SIGTERM: a daemon stops cleanly
        kill "${DC_PID[$name]}" 2>/dev/null || true
    done
    for name in "${LOCALDC_PROVIDERS[@]}"; do
        wait "${DC_PID[$name]}" 2>/dev/null || true
    done
    for name in "${LOCALDC_PROVIDERS[@]}"; do
        [ -S "${DC_SOCK[$name]}" ] || continue
        mapfile -t ids < <(localdc_podman "$name" ps -aq --filter "label=kumo.provider=${DC_ADDR[$name]}" 2>/dev/null)
        [ ${#ids[@]} -eq 0 ] || localdc_podman "$name" rm -f -t 0 "${ids[@]}" >/dev/null 2>&1 || true
        mapfile -t nets < <(localdc_podman "$name" network ls -q --filter "label=kumo.provider=${DC_ADDR[$name]}" 2>/dev/null)
        [ ${#nets[@]} -eq 0 ] || localdc_podman "$name" network rm -f "${nets[@]}" >/dev/null 2>&1 || true
        mapfile -t nets < <(localdc_podman "$name" volume ls -q --filter "label=kumo.provider=${DC_ADDR[$name]}" 2>/dev/null)
        [ ${#nets[@]} -eq 0 ] || localdc_podman "$name" volume rm -f "${nets[@]}" >/dev/null 2>&1 || true
        # The daemon's isolation tables stay after it stops (for its containers): they go too
        # (in namespace mode with the provider's namespace).
        [ -z "$LOCALDC_NETNS" ] || continue
        nft delete table inet "kumo_${DC_ADDR[$name]:5:8}" >/dev/null 2>&1 || true
        nft delete table bridge "kumo_${DC_ADDR[$name]:5:8}" >/dev/null 2>&1 || true
    done
    LOCALDC_PROVIDERS=()
    [ -z "$LOCALDC_STARTED" ] || "$LOCALDC_KUMO" testnet stop --dir "$LOCALDC_TN" >/dev/null 2>&1 || true
    LOCALDC_STARTED=
    for pid in "$LOCALDC_PODMAN_PID" "${DC_PODMAN_PID[@]}"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    LOCALDC_PODMAN_PID=
    DC_PODMAN_PID=()
    [ -z "$LOCALDC_NETNS" ] || localdc_netns_remove "$LOCALDC_RUN"
    LOCALDC_NETNS=
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

# `bash tools/localdc.sh sweep`: removes what runs killed with -9 left (their namespaces,
# processes and containers).
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = sweep ]; then
    localdc_netns_sweep
fi
