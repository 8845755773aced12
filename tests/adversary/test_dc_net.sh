#!/usr/bin/env bash
# test_dc_net.sh - the provider daemon's network surfaces against a hostile tenant and its
# workloads, with real processes: a kumo node (1 validator, 200 ms blocks, reconfirmation
# period 100 blocks), a private podman API service, two provider daemons (east: us-east,
# west: us-west) and the tenant's `kumo deploy` of examples/webapp/stack.yml (web at east
# reaches db at west through east's forwarder and the mTLS tunnel east opens to west). The
# attacker is this script: it acts as the tenant (its client certificate), as a workload (it
# enters the web container's network namespace with nsenter, so its connections come from the
# container's address) and as a rogue provider dialling west's tunnel port.
#
# Shown:
#   1. tunnels, not published ports: west publishes no port for db; the tenant's links are not
#      taken any more (PUT .../links answers 501, nothing stored) and the workload never reaches
#      a service on the host's loopback through the forwarder; a client presenting a
#      certificate that names east's web lease and the web -> db tunnel, issued by another root
#      than east's on-chain one (west's own root, or a root no provider registered), is refused
#      by west's tunnel server and no tunnel comes up, while the same certificate issued by
#      east's root (the control: this script builds certificates and the SNI tag right) is
#      taken.
#   2. forwarder caps: the workload opens 600 connections through the forwarder: at most
#      forward_connection_per_source_max (64 here) are relayed, the rest closed at once, and
#      the provider API still answers the tenant's status; the daemon started with a soft
#      open-files limit of 1024 (as this script sets it) raised it.
#   3. the provider API: 200 certificate-less idle connections from one address: at most
#      api_connection_per_addr_max (8 here) are held, an honest tenant is still served, and
#      the idle ones are closed by the request deadline (api_request_timeout_ms, 2 s here).
#   4. the chain unreachable (the node stopped): both daemons close their tunnels once they
#      have not read the chain for three passes (tunnels_chain_lost) and web no longer reaches
#      db; once the node is back, the tunnels reopen by themselves (tunnels_chain_back) and web
#      reaches db again. The times are logged, not asserted.
# Every container and network of this run's providers is removed on exit, pass or fail.
#
# Usage: tests/adversary/test_dc_net.sh path/to/kumo   (KUMO_E2E_KEEP=1 keeps the files;
# KUMO_ADV_KEEP_GOING=1 runs every check and fails at the end, to see each one on old code)
set -euo pipefail

kumo=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-adv-dcnet-XXXXXX")
# shellcheck source=../../tools/localdc.sh
. "$root/tools/localdc.sh"
localdc_init "$work" "$kumo"
# A block of ports nothing listens on (the machine is shared): node, APIs, host ports.
for _ in $(seq 20); do
    in_use=$(ss -Hltn "sport >= :$LOCALDC_BASE and sport <= :$((LOCALDC_BASE + 450))" | wc -l)
    [ "$in_use" -eq 0 ] && break
    LOCALDC_BASE=$((20000 + (RANDOM % 1000) * 10))
done
tenant_home=$LOCALDC_TN/tenant
checks=0
secret_pid=

k() { "$kumo" "$@" --home "$tenant_home"; }
log() { printf 'dc_net: %s\n' "$*"; }
fail() {
    echo "dc_net: FAILED: $*" >&2
    exit 1
}
failed=0
check() { # check DESCRIPTION COMMAND... (KUMO_ADV_KEEP_GOING=1: report and go on)
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
        echo "dc_net: FAILED: a sanitizer report in the logs above" >&2
        rc=1
    fi
    if [ $rc -eq 0 ] && [ "${KUMO_E2E_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    else
        echo "dc_net: files kept in $work" >&2
    fi
    exit $rc
}
trap on_exit EXIT
wait_or_fail() { wait_for "$@" || fail "$2"; }

# The common default soft limit: a daemon that needs more must raise it itself.
ulimit -Sn 1024

# ---- set-up ----
"$root/tools/images.sh" >/dev/null
localdc_podman_start
localdc_testnet_start 1 200 100 # a 20 s reconfirmation period: sanitizer builds are slow
caps='s/^forward_connection_per_source_max: .*/forward_connection_per_source_max: 64/;
s/^api_connection_per_addr_max: .*/api_connection_per_addr_max: 8/;
s/^api_request_timeout_ms: .*/api_request_timeout_ms: 2000/'
metrics_w=$((LOCALDC_BASE + 291))
localdc_provider_add east us-east "" "$caps"
localdc_provider_add west us-west "" "$caps
s/^metrics_listen: .*/metrics_listen: \"127.0.0.1:$metrics_w\"/"
tenant=$(k keys show tenant --address)
cp "$root/examples/webapp/stack.yml" "$work/stack.yml"
k deploy create "$work/stack.yml" --from tenant --timeout 120 >"$work/create.out" 2>&1 ||
    { cat "$work/create.out"; fail "kumo deploy create"; }
ids_of() { podman_remote ps -q --filter "label=kumo.provider=$1" --filter status=running | sort; }
web0=$(ids_of "${DC_ADDR[east]}" | sed -n 1p)
db0=$(ids_of "${DC_ADDR[west]}" | sed -n 1p)
[ -n "$web0" ] && [ -n "$db0" ] || fail "the webapp's containers do not run"
web_pid=$(podman_remote inspect --format '{{.State.Pid}}' "$web0")
gw=$(podman_remote inspect --format '{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}' "$web0")
db_ip=$(podman_remote inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$db0")
db_ports=$(podman_remote ps --filter "id=$db0" --format '{{.Ports}}')
dseq=$(k query leases --provider "${DC_ADDR[east]}" --state active --output json |
    tr -d '\n ' | grep -o '"dseq":"\?[0-9]*' | sed -n 1p | grep -o '[0-9]*$')
api_east=$(awk '$1 == "api_listen:" { gsub(/"/, "", $2); print $2 }' "$LOCALDC_TN/east/config.yaml")
log "web $web0 (pid $web_pid, gateway $gw), db $db0 ($db_ip, ports '$db_ports'), dseq $dseq"
in_web() { nsenter -t "$web_pid" -n "$@"; }
counts() { in_web curl -fs --max-time 3 "http://$gw:7000/incr" | grep -q '^[0-9]'; }
wait_or_fail 30 "web to reach db through east's forwarder" counts
check "the workload reaches db at west through the forwarder" counts
check "through a tunnel" grep -qE 'event=tunnel_up side=client owner=[^ ]+ dseq=[0-9]+ src=web dst=db' "$work/east.log"

# The tenant's client certificate, as kumo deploy makes it (from its exported seed).
seed=$(k keys export tenant --unsafe-export-seed | tr -d '\n')
{
    echo "-----BEGIN PRIVATE KEY-----"
    printf '%b' "$(echo "302e020100300506032b657004220420$seed" | sed 's/../\\x&/g')" | base64 -w0
    printf '\n%s\n' "-----END PRIVATE KEY-----"
} >"$work/tenant.key"
chmod 600 "$work/tenant.key"
openssl req -x509 -new -key "$work/tenant.key" -subj /CN=tenant -days 1 -out "$work/tenant.crt" 2>/dev/null
api() { # api METHOD PATH [BODY]: prints the HTTP status of the tenant's request to east
    local body=()
    [ $# -lt 3 ] || body=(--data-binary "$3" -H 'Content-Type: application/json')
    curl -s -o "$work/api.out" -w '%{http_code}' --max-time 20 --cacert "$LOCALDC_TN/east/ca.crt" \
        --cert "$work/tenant.crt" --key "$work/tenant.key" -X "$1" "${body[@]}" "https://$api_east$2" || true
}
links_path=/deployments/$tenant/$dseq/links
link() { printf '{"links":[{"workload":"db","port":7000,"host":"%s","host_port":%s}]}' "$1" "$2"; }

# ---- 1. tunnels, not published ports ----
check "west publishes no port for db (its rule names another group's workload)" \
    test -z "$(echo "$db_ports" | grep -o -- '->7000' || true)"
mkdir -p "$work/www"
echo "host secret" >"$work/www/index.html"
secret_port=$((LOCALDC_BASE + 290))
busybox httpd -f -p "127.0.0.1:$secret_port" -h "$work/www" &
secret_pid=$!
wait_for 10 "the host's service" curl -fs "http://127.0.0.1:$secret_port/"
links_file=$LOCALDC_TN/east/deployments/$tenant-$dseq.links
check "links are not taken any more (no such route)" test "$(api PUT "$links_path" "$(link 127.0.0.1 "$secret_port")")" = 404
check "and nothing was stored" test ! -e "$links_file"
reached_secret() { in_web curl -s --max-time 1 "http://$gw:7000/" 2>/dev/null | grep -q "host secret"; }
never_secret() { # polls for 3 s: the forwarder must never take the workload to the host's service
    local end=$((SECONDS + 3))
    while [ $SECONDS -lt $end ]; do
        ! reached_secret || return 1
        sleep 0.2
    done
}
check "the workload never reaches the host's service through the forwarder" never_secret

# A rogue client at west's tunnel port, naming east's web lease and the web -> db tunnel.
tport_w=$(awk '$1 == "tunnel_port:" { print $2 }' "$LOCALDC_TN/west/config.yaml")
label_of() { podman_remote inspect --format "{{index .Config.Labels \"$2\"}}" "$1"; }
gseq_web=$(label_of "$web0" kumo.gseq)
oseq_web=$(label_of "$web0" kumo.oseq)
# The SNI tag: "t" + 32 hex of SHA-256("kumo-tunnel\0" owner "\0" be64(dseq) "web\0" "db\0").
tag=t$({
    printf 'kumo-tunnel\0%s\0' "$tenant"
    printf '%016x' "$dseq" | xxd -r -p
    printf 'web\0db\0'
} | sha256sum | cut -c1-32)
openssl genpkey -algorithm ed25519 -out "$work/stranger-root.key" 2>/dev/null
openssl req -x509 -new -key "$work/stranger-root.key" -subj "/CN=stranger root" -days 1 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -out "$work/stranger-root.crt" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "subjectAltName=URI:kumo:lease:$tenant/$dseq/$gseq_web/$oseq_web/${DC_ADDR[east]},URI:kumo:tunnel:web/db" \
    >"$work/leaf.ext"
openssl genpkey -algorithm ed25519 -out "$work/leaf.key" 2>/dev/null
openssl req -new -key "$work/leaf.key" -subj "/CN=kumo tunnel" -out "$work/leaf.csr" 2>/dev/null
issue() { # issue NAME ROOT_CRT ROOT_KEY: a leaf naming east's lease, issued by that root
    openssl x509 -req -in "$work/leaf.csr" -CA "$2" -CAkey "$3" -set_serial "$RANDOM" -days 1 \
        -extfile "$work/leaf.ext" -out "$work/leaf-$1.crt" 2>/dev/null
}
issue west "$LOCALDC_TN/west/ca.crt" "$LOCALDC_TN/west/ca.key"
issue stranger "$work/stranger-root.crt" "$work/stranger-root.key"
issue east "$LOCALDC_TN/east/ca.crt" "$LOCALDC_TN/east/ca.key"
metric() { # metric NAME: west's server-side value
    curl -fs --max-time 5 "http://127.0.0.1:$metrics_w/metrics" |
        awk -v n="$1{side=\"server\"}" '$1 == n { print $2 }'
}
dial_tunnel() { # dial_tunnel NAME: holds a TLS connection with that leaf for 2 s
    sleep 2 | timeout 10 openssl s_client -quiet -tls1_3 -connect "127.0.0.1:$tport_w" \
        -servername "$tag" -cert "$work/leaf-$1.crt" -key "$work/leaf.key" >/dev/null 2>&1 || true
}
for who in west stranger; do
    opened=$(metric kumo_provider_tunnels_opened_total)
    refused=$(metric kumo_provider_tunnels_refused_total)
    dial_tunnel "$who"
    check "a certificate for east's lease from $who's root is refused" \
        test "$(metric kumo_provider_tunnels_refused_total)" -gt "$refused"
    check "and no tunnel came up for it" test "$(metric kumo_provider_tunnels_opened_total)" = "$opened"
done
opened=$(metric kumo_provider_tunnels_opened_total)
dial_tunnel east
check "the same certificate from east's root is taken (the control)" \
    test "$(metric kumo_provider_tunnels_opened_total)" -gt "$opened"
check "west says why it refused" grep -q 'event=tunnel_refused side=server' "$work/west.log"
check "and the workload still reaches db" counts

# ---- 2. the forwarder's caps ----
check "the daemon raised its open-files limit" grep -q 'api_listening.*nofile=20000' "$work/east.log"
# 600 connections from the workload, held; then how many the forwarder closed at once.
in_web bash -c "ulimit -Sn 4096; fds=(); for i in \$(seq 600); do exec {fd}<>/dev/tcp/$gw/7000 || break; fds+=(\$fd); done;
    echo \${#fds[@]} >$work/opened; sleep 1; closed=0;
    for fd in \${fds[@]}; do if read -t 0 -u \$fd; then closed=\$((closed + 1)); fi; done;
    echo \$closed >$work/closed; sleep 6" &
flood=$!
wait_or_fail 30 "the workload's 600 connections" test -s "$work/closed"
opened=$(cat "$work/opened")
closed=$(cat "$work/closed")
log "opened $opened, closed at once $closed"
check "the workload opened 600 connections" test "$opened" -eq 600
check "at most 64 of them are relayed, the rest closed at once" test $((opened - closed)) -le 64
status_ok() { test "$(api GET "/deployments/$tenant/$dseq/status")" = 200; }
check "the provider API still answers the tenant's status" status_ok
check "the API's public status too" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$LOCALDC_TN/east/ca.crt" "https://$api_east/status")" = 200
wait "$flood" || true
check "the web tier still answers" curl -fsS --max-time 5 "http://127.0.0.1:$(podman_remote ps --filter "id=$web0" --format '{{.Ports}}' | sed -n 's/.*:\([0-9]*\)->8080.*/\1/p')/"

# ---- 3. the provider API against idle connections ----
host=${api_east%:*}
port=${api_east##*:}
bash -c "ulimit -Sn 4096; fds=(); for i in \$(seq 200); do exec {fd}<>/dev/tcp/$host/$port || break; fds+=(\$fd); done;
    echo \${#fds[@]} >$work/idle-opened; sleep 1; closed=0;
    for fd in \${fds[@]}; do if read -t 0 -u \$fd; then closed=\$((closed + 1)); fi; done;
    echo \$closed >$work/idle-closed-1; sleep 4; closed=0;
    for fd in \${fds[@]}; do if read -t 0 -u \$fd; then closed=\$((closed + 1)); fi; done;
    echo \$closed >$work/idle-closed-2" &
idle=$!
wait_or_fail 30 "the 200 idle connections" test -s "$work/idle-closed-1"
opened=$(cat "$work/idle-opened")
closed=$(cat "$work/idle-closed-1")
log "idle: opened $opened, closed at once $closed"
check "200 idle connections were opened" test "$opened" -eq 200
check "at most 8 of them are held (per address)" test $((opened - closed)) -le 8
check "an honest tenant is still served" status_ok
wait_or_fail 30 "the idle connections' fate after the deadline" test -s "$work/idle-closed-2"
wait "$idle" || true
check "the request deadline closed every idle connection" test "$(cat "$work/idle-closed-2")" -eq 200

# ---- 4. the chain unreachable: fail closed, then reopen ----
check "web reaches db before the node stops" counts
"$kumo" testnet stop --dir "$LOCALDC_TN" >/dev/null 2>&1
LOCALDC_STARTED=
stopped_at=$SECONDS
refused() { ! counts; }
wait_or_fail 60 "web to lose db with the chain unreachable" refused
log "db unreachable $((SECONDS - stopped_at)) s after the node stopped"
check "east closed its tunnels for the lost chain" grep -q 'event=tunnels_chain_lost' "$work/east.log"
check "west closed its tunnels for the lost chain" grep -q 'event=tunnels_chain_lost' "$work/west.log"
never_reached() { # polls for 3 s: no connection goes through while the chain stays unread
    local end=$((SECONDS + 3))
    while [ $SECONDS -lt $end ]; do
        ! counts || return 1
        sleep 0.2
    done
}
check "no connection to db goes through while the node is down" never_reached
localdc_in val "$kumo" testnet start --dir "$LOCALDC_TN" >"$work/testnet-restart.out"
LOCALDC_STARTED=1
started_at=$SECONDS
wait_or_fail 90 "web to reach db again once the node is back" counts
log "db reached again $((SECONDS - started_at)) s after the node started"
check "the tunnels reopened by themselves" grep -q 'event=tunnels_chain_back' "$work/east.log"
check "web reaches db again" counts
[ "$failed" -eq 0 ] || fail "$failed of $checks checks"
log "all $checks checks passed"
