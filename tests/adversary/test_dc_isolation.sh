#!/usr/bin/env bash
# test_dc_isolation.sh - workloads of one datacenter reach nothing but what their stack lists,
# with real processes: a kumo node (1 validator, 200 ms blocks), a private podman API service,
# one provider daemon (east) and two deployments there: A (web: port 8080 global; db: port 7000
# for web; other: port 7100 for db) and B (db: port 7000 for itself only). The attacker is the web workload of A: this script enters its container's network
# namespace (nsenter), so every connection comes from the container's address.
#
# Shown:
#   - the listed connection works: web reaches db by name through the forwarder;
#   - another workload it has no rule for (other, port 7100) is refused, at the forwarder and
#     at the container's own address;
#   - db itself, at its container address (around the forwarder), does not answer;
#   - an unlisted port: a port of the gateway the forwarder does not serve;
#   - another deployment: B's db at its container address, and at B's gateway;
#   - the provider host: a service listening on every address of the host, reached at the
#     gateway;
#   - only the global port is published, on the provider's public address; nothing on 0.0.0.0.
# Every container, network and nftables table of this run's provider is removed on exit.
#
# Usage: tests/adversary/test_dc_isolation.sh path/to/kumo   (KUMO_E2E_KEEP=1 keeps the files;
# KUMO_ADV_KEEP_GOING=1 runs every check and fails at the end, to see each one on old code)
set -euo pipefail

kumo=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-adv-dciso-XXXXXX")
# shellcheck source=../../tools/localdc.sh
. "$root/tools/localdc.sh"
localdc_init "$work" "$kumo"
for _ in $(seq 20); do # a block of ports nothing listens on (the machine is shared)
    in_use=$(ss -Hltn "sport >= :$LOCALDC_BASE and sport <= :$((LOCALDC_BASE + 450))" | wc -l)
    [ "$in_use" -eq 0 ] && break
    LOCALDC_BASE=$((20000 + (RANDOM % 1000) * 10))
done
tenant_home=$LOCALDC_TN/tenant
checks=0
failed=0
secret_pid=

k() { "$kumo" "$@" --home "$tenant_home"; }
log() { printf 'dc_isolation: %s\n' "$*"; }
fail() {
    echo "dc_isolation: FAILED: $*" >&2
    exit 1
}
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    checks=$((checks + 1))
    if ! "$@"; then
        [ "${KUMO_ADV_KEEP_GOING:-0}" = 1 ] || fail "$what"
        failed=$((failed + 1))
        log "not ok $checks - $what"
        return 0
    fi
    log "ok $checks - $what"
}
on_exit() {
    local rc=$?
    [ -z "$secret_pid" ] || kill "$secret_pid" 2>/dev/null || true
    [ $rc -eq 0 ] || localdc_logs
    localdc_cleanup
    if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$work"/*.log \
        "$LOCALDC_TN"/node*/node.log 2>/dev/null; then
        echo "dc_isolation: FAILED: a sanitizer report in the logs above" >&2
        rc=1
    fi
    if [ $rc -eq 0 ] && [ "${KUMO_E2E_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    else
        echo "dc_isolation: files kept in $work" >&2
    fi
    exit $rc
}
trap on_exit EXIT
wait_or_fail() { wait_for "$@" || fail "$2"; }
command -v nft >/dev/null || fail "nft is not installed (tools/deps.sh installs nftables)"

# ---- set-up ----
"$root/tools/images.sh" >/dev/null
localdc_podman_start
localdc_testnet_start 1 200 600 # a 2-minute reconfirmation period: the machine may be loaded
localdc_provider_add east us-east
stack() { # stack FILE: the group and what follows it
    cat >"$1" <<YAML
version: "1"
groups:
  app:
    region: us-east
    resources:
      - cpu: 100m
        memory: 64Mi
        storage: 64Mi
        count: 3
        price: 100
        collateral: 10000
workloads:
$(cat)
wait_blocks: 3
deposit: 5000000
YAML
}
unit='    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}
    group: app'
stack "$work/a.yml" <<YAML
  web:
    image: localhost/kumo-webapp-web:1
    env: {COUNTER_HOST: db, COUNTER_PORT: "7000"}
$unit
    ports:
      - port: 8080
        expose: [{global: true}]
  db:
    image: localhost/kumo-webapp-counter:1
$unit
    ports:
      - port: 7000
        expose: [{workload: web}]
  other:
    image: localhost/kumo-webapp-counter:1
    env: {PORT: "7100"}
$unit
    ports:
      - port: 7100
        expose: [{workload: db}]
YAML
stack "$work/b.yml" <<YAML
  db:
    image: localhost/kumo-webapp-counter:1
$unit
    ports:
      - port: 7000
        expose: [{workload: db}]
YAML
for d in a b; do
    k deploy create "$work/$d.yml" --from tenant --timeout 120 >"$work/create-$d.out" 2>&1 ||
        { cat "$work/create-$d.out"; fail "kumo deploy create $d.yml"; }
done
fmt_net='{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.Gateway}}{{end}}'
find_one() { # find_one N WORKLOAD: that workload's container in the Nth deployment (by dseq)
    local id
    for id in $(podman_remote ps -q --filter "label=kumo.provider=${DC_ADDR[east]}" \
        --filter "label=kumo.workload=$2" --filter status=running); do
        echo "$id $(podman_remote inspect --format '{{index .Config.Labels "kumo.dseq"}}' "$id")"
    done | sort -k2 -n | awk -v n="$1" 'NR == n { print $1 }'
}
wait_or_fail 60 "A's three containers" test "$(podman_remote ps -q --filter "label=kumo.provider=${DC_ADDR[east]}" --filter status=running | wc -l)" -ge 4
web=$(find_one 1 web)
db=$(find_one 1 db)
other=$(find_one 1 other)
db_b=$(find_one 2 db)
[ -n "$web" ] && [ -n "$db" ] && [ -n "$other" ] && [ -n "$db_b" ] || fail "the containers do not run"
web_pid=$(podman_remote inspect --format '{{.State.Pid}}' "$web")
read -r _ gw <<<"$(podman_remote inspect --format "$fmt_net" "$web")"
read -r db_ip _ <<<"$(podman_remote inspect --format "$fmt_net" "$db")"
read -r other_ip _ <<<"$(podman_remote inspect --format "$fmt_net" "$other")"
read -r db_b_ip gw_b <<<"$(podman_remote inspect --format "$fmt_net" "$db_b")"
log "web (gateway $gw), db $db_ip, other $other_ip; B: db $db_b_ip (gateway $gw_b)"
in_web() { nsenter -t "$web_pid" -n "$@"; }
reaches() { in_web curl -fs --max-time 2 "http://$1/incr" | grep -q '^[0-9]'; }
never() { # never HOST:PORT: polls for 3 s, must never be answered
    local end=$((SECONDS + 3))
    while [ $SECONDS -lt $end ]; do
        ! reaches "$1" || return 1
        sleep 0.3
    done
}

# ---- the listed connection ----
wait_or_fail 60 "web to reach db through the forwarder" reaches "$gw:7000"
check "web reaches db (its rule) through the forwarder" reaches "$gw:7000"
check "and the web tier counts through it" curl -fso /dev/null --max-time 5 "http://127.0.0.1:$(podman_remote ps --filter "id=$web" --format '{{.Ports}}' | sed -n 's/.*:\([0-9]*\)->8080.*/\1/p')/"

# ---- what web has no rule for ----
check "another workload (other: its rule names db) is refused at the forwarder" never "$gw:7100"
check "and not reached at its container address" never "$other_ip:7100"
check "db is not reached around the forwarder (its container address)" never "$db_ip:7000"
check "an unlisted port of the gateway is not served" never "$gw:7001"
check "another deployment's container is not reached" never "$db_b_ip:7000"
check "another deployment's gateway is not reached" never "$gw_b:7000"
mkdir -p "$work/www"
echo 1 >"$work/www/incr"
secret_port=$((LOCALDC_BASE + 290))
busybox httpd -f -p "0.0.0.0:$secret_port" -h "$work/www" &
secret_pid=$!
wait_for 10 "the host's service" curl -fs "http://127.0.0.1:$secret_port/incr"
check "the provider host's service (on every address) is not reached at the gateway" never "$gw:$secret_port"
check "the host still reaches B's db (the forwarder's way in)" curl -fso /dev/null --max-time 2 "http://$db_b_ip:7000/incr"

# ---- what is published ----
ports=$(podman_remote ps --filter "label=kumo.provider=${DC_ADDR[east]}" --format '{{.Ports}}' | tr ',' '\n' | sed 's/^ *//' | grep -- '->' || true)
log "published: $(echo "$ports" | tr '\n' ' ')"
check "exactly one port is published (web's global 8080)" test "$(echo "$ports" | grep -c -- '->')" -eq 1
check "on the public address, not every address" sh -c "echo '$ports' | grep -q '^127.0.0.1:[0-9]*->8080'"
check "the isolation rules are in force" sh -c "nft list table inet kumo_${DC_ADDR[east]:5:8} | grep -q 'tcp dport'"
[ "$failed" -eq 0 ] || fail "$failed of $checks checks"
log "all $checks checks passed"
