#!/usr/bin/env bash
# test_datacenter.sh - datacenters and tenants end to end, with real processes and real
# containers: a kumo node (1 validator, 300 ms blocks, reconfirmation period 40 blocks), three
# provider daemons (`kumo provider init|register|start`): east-a and east-b in us-east (east-b
# asks more), west in us-west, plus east-down whose runtime socket does not exist; and the
# tenant's `kumo deploy` of examples/webapp/stack.yml. Every host is in its own network
# namespace (tools/localdc.sh): this script as the tenant at 10.77.X.1, the validator at .2,
# each provider at .11… with its daemon and its own podman API service; where namespaces
# cannot be made, all run on 127.0.0.1 with one podman service and the steps marked (hosts)
# are skipped or done the old way.
#
# Shown, in order:
#   1. create: leases go to the lowest bids (web → east-a, not east-b; db → west); the
#      provider without a runtime does not bid; containers run with the lease's CPU and
#      memory limits and the kumo.* labels; the web tier answers and counts its visits in the
#      database at the other provider, through the mTLS tunnel east-a opens to west (both
#      daemons log tunnel_up for web -> db, and the TLS connection to west's tunnel port is
#      there); leases are paid by the providers' confirmations.
#   1a. usage: east-a and west sample their containers every 5 s; deploy status shows each
#      instance's CPU, memory, network and disk, deploy events the `usage` lines. The dashboard
#      in headless Chromium (tools/ui_check.js): the node's page loads with no console error
#      and shows the providers and live events without a reload; the tenant's `kumo deploy ui`
#      shows the running deployment's workloads, endpoints and usage. Screenshots go to
#      e2e-screenshots/ beside the kumo binary (kept after the run).
#   1b. the daemon's API refuses manifests of another version, for an unknown deployment,
#      from someone else, over 1 MiB or without a certificate, and stores nothing.
#   1c. west publishes no port for the database (its rules name another group's workload, not
#      global): (hosts) from east-a's host and from the tenant's, the database answers neither
#      on its own port at west's address, nor at the container's address, nor with a route to
#      it through west's host (west's isolation rules drop it).
#   2. kill -9 east-a's daemon: nothing is torn down (same containers, still running); started
#      again, it confirms again.
#   3. east-a gone: (hosts) partitioned, its switch port down, daemon and containers running
#      but cut off; (loopback) its daemon killed and containers removed. Its lease goes stale,
#      the tenant gets the collateral, the persisted web group is re-ordered and won by east-b,
#      which fetches the manifest and the database's tunnel address from west (peer to peer)
#      and runs the web tier, which still counts on through its own tunnel to west. (hosts) Healed, east-a's daemon removes the
#      containers of the lease it lost.
#   3b. update: a changed manifest is uploaded once (the other provider fetches it from its
#      peer) and replaces the workloads (new version label).
#   4. close: providers remove containers and networks and confirm released, the deployment
#      closes and the escrow rest goes back to the tenant; the tunnel to west is closed.
#   5. a stack whose image does not exist: the provider cannot run it and refuses its lease on
#      chain (closed, reason manifest_refused: no collateral to the tenant, nothing paid);
#      the other group's provider confirms its part.
# Every container and network of this run's providers is removed on exit, pass or fail.
#
# Usage: tests/e2e/test_datacenter.sh path/to/kumo   (KUMO_E2E_KEEP=1 keeps the files)
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh" dc "$1"
ui_pid=""
e2e_exit_hook() {
    if [ -n "$ui_pid" ]; then
        kill "$ui_pid" 2>/dev/null || true
        wait "$ui_pid" 2>/dev/null || true
    fi
}

field() { awk -v k="$1" '$1 == k { print $2; exit }'; }
balance() { k query account "$1" | field balance; }
json_num() { grep -o "\"$1\": *\"\\?[0-9]*" | sed -n 1p | grep -o '[0-9]*$'; }
# The leases of provider $1 in state $2 as one line of JSON.
lease_of() { k query leases --provider "$1" --state "$2" --output json | tr -d '\n '; }
lease_paid() { lease_of "$1" active | json_num total_paid; }
lease_confirmed() { lease_of "$1" active | json_num last_confirmed_height; }
has_lease() { lease_of "$1" active | grep -q '"state":"LEASE_ACTIVE"'; }
# Provider $1's containers, asked of its own container runtime.
pm() { localdc_podman "$@"; }
ids_of() { pm "$1" ps -q --filter "label=kumo.provider=${DC_ADDR[$1]}" --filter status=running | sort; }
count_of() { pm "$1" ps -aq --filter "label=kumo.provider=${DC_ADDR[$1]}" | wc -l; }
host_port_of() { # the published host port of provider $1's first container of workload $2
    pm "$1" ps --filter "label=kumo.provider=${DC_ADDR[$1]}" --filter "label=kumo.workload=${2:-web}" \
        --format '{{.Ports}}' | sed -n 1p | sed -n 's/.*:\([0-9]*\)->.*/\1/p'
}
visit() { curl -fsS --max-time 5 "http://${DC_HOST[$1]}:$2/"; } # visit PROVIDER PORT
not() { ! "$@"; }
# can_connect HOST ADDRESS PORT [SECONDS]: a TCP connection from host HOST's namespace succeeds
# (within 5 s; the checks that it fails wait 2: a slow machine can only make them pass).
can_connect() { localdc_in "$1" timeout "${4:-5}" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
connects() { timeout "${3:-5}" bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; } # from this host
kill_daemon() { # kill -9, reaped quietly
    kill -9 "${DC_PID[$1]}"
    wait "${DC_PID[$1]}" 2>/dev/null || true
}

# ---- set-up ----
# Every host in its own network namespace (tools/localdc.sh) where this machine can; the
# checks that need several hosts are skipped, with a message, where it cannot.
netns=1
localdc_netns_start || netns=
"$root/tools/images.sh" >/dev/null
localdc_podman_start
localdc_testnet_start 1 300 40
usage_fast='s/^usage_interval_ms: .*/usage_interval_ms: 5000/' # usage every 5 s, not 30
localdc_provider_add east-a us-east "" "$usage_fast"
localdc_provider_add east-b us-east "" 's/^price_cpu_per_core: .*/price_cpu_per_core: 60/'
localdc_provider_add west us-west "" "$usage_fast"
localdc_provider_add east-down us-east "$work/no-such.sock"
tenant=$(k keys show tenant --address)
log "node $KUMO_NODE; east-a ${DC_ADDR[east-a]} at ${DC_HOST[east-a]}, east-b ${DC_ADDR[east-b]} at ${DC_HOST[east-b]}, west ${DC_ADDR[west]} at ${DC_HOST[west]}"

# ---- 1. create ----
cp "$root/examples/webapp/stack.yml" "$work/stack.yml"
k deploy create "$work/stack.yml" --from tenant --timeout 120 >"$work/create.out" 2>&1 ||
    { cat "$work/create.out"; fail "kumo deploy create"; }
cat "$work/create.out"
check "web leased to east-a (lowest bid)" has_lease "${DC_ADDR[east-a]}"
check "east-b bid higher and got no lease" test -z "$(lease_of "${DC_ADDR[east-b]}" active | grep -o LEASE_ACTIVE)"
check "db leased to west" has_lease "${DC_ADDR[west]}"
no_bids() { ! k query fulfillments --provider "${DC_ADDR[east-down]}" --output json | grep -q '"order"'; }
check "the provider without a runtime did not bid" no_bids
check "it says why" grep -q 'reason=runtime' "$work/east-down.log"
runs_n() { [ "$(ids_of "$1" | wc -l)" -eq "$2" ]; }
wait_or_fail 20 "east-a's containers as the runtime lists them" runs_n east-a 2
check "east-a runs 2 web containers" runs_n east-a 2
wait_or_fail 20 "west's container as the runtime lists it" runs_n west 1
check "west runs 1 db container" runs_n west 1
inspect() { pm "$1" inspect --format "$3" "$2"; } # inspect PROVIDER ID FORMAT
web0=$(ids_of east-a | sed -n 1p)
db0=$(ids_of west | sed -n 1p)
check "web: 0.5 CPU from the lease" test "$(inspect east-a "$web0" '{{.HostConfig.NanoCpus}}')" = 500000000
check "web: 512 MiB from the lease" test "$(inspect east-a "$web0" '{{.HostConfig.Memory}}')" = 536870912
check "db: 1 CPU, 1 GiB" test "$(inspect west "$db0" '{{.HostConfig.NanoCpus}}/{{.HostConfig.Memory}}')" = 1000000000/1073741824
check "labels name the lease" test "$(inspect east-a "$web0" '{{index .Config.Labels "kumo.owner"}}/{{index .Config.Labels "kumo.gseq"}}/{{index .Config.Labels "kumo.workload"}}')" = "$tenant/1/web"
port_a=$(host_port_of east-a)
# The links `kumo deploy` sent last are in force from the provider's next pass (a block).
visit1() { answer1=$(visit east-a "$port_a"); }
wait_or_fail 60 "the web tier to answer" visit1
check "the web tier answers: visit 1" test "$answer1" = "hello from kumo webapp: visit 1"
check "and counts at the other provider: visit 2" test "$(visit east-a "$port_a")" = "hello from kumo webapp: visit 2"
check "through a tunnel: east-a's client for web -> db came up" \
    grep -qE 'event=tunnel_up side=client owner=[^ ]+ dseq=[0-9]+ src=web dst=db' "$work/east-a.log"
check "and west's tunnel server accepted it" \
    grep -qE 'event=tunnel_up side=server owner=[^ ]+ dseq=[0-9]+ src=web dst=db' "$work/west.log"
tport_w=$(awk '$1 == "tunnel_port:" { print $2 }' "$LOCALDC_TN/west/config.yaml")
# TLS connections established to west's tunnel port, as west's host sees them.
tunnels_at_west() { localdc_in west ss -Htn state established "( sport = :$tport_w )" | wc -l; }
check "the tunnel is a TLS connection to west's tunnel port" test "$(tunnels_at_west)" -ge 1
paid_a=$(lease_paid "${DC_ADDR[east-a]}")
paid_w=$(lease_paid "${DC_ADDR[west]}")
paid_more() { [ "$(lease_paid "${DC_ADDR[east-a]}")" -gt "$paid_a" ] && [ "$(lease_paid "${DC_ADDR[west]}")" -gt "$paid_w" ]; }
wait_or_fail 60 "confirmations to pay both leases" paid_more
check "confirmations pay both providers" paid_more
k deploy status "$work/stack.yml" >"$work/status.out"
check "deploy status shows both providers' workloads" grep -q "db" "$work/status.out"

# ---- 1a. usage telemetry, and the dashboard in headless Chromium ----
usage_of() { k deploy status "$work/stack.yml" | grep -E "^usage $1/0  cpu [0-9]+m  memory [1-9]"; }
usage_both() { usage_of web && usage_of db; }
wait_or_fail 60 "usage samples with CPU of web and db" usage_both
check "deploy status shows each instance's usage (cpu, memory, network, disk)" usage_both
usage_events() { k deploy events "$work/stack.yml" | grep -qE 'usage +db/0 cpu_milli=[0-9]+ memory_bytes='; }
check "deploy events shows the providers' usage samples" usage_events
shots=$(dirname "$kumo")/e2e-screenshots
mkdir -p "$shots"
ui_check() { nice -n 19 node "$root/tools/ui_check.js" --timeout-s 90 "$@"; }
check "the node's dashboard: no console errors, providers, live events without a reload" \
    ui_check --url "$KUMO_NODE/ui/" --shot "$shots/node.png" --text "Providers by region" \
    --text us-west --text "${DC_ADDR[west]:0:10}" --live 3
# Not through k: $! must be kumo itself (a backgrounded function is a subshell whose kill
# would leave kumo running).
"$kumo" deploy ui "$work/stack.yml" --home "$tenant_home" >"$work/ui.out" 2>&1 &
ui_pid=$!
ui_url() { grep -o 'http://127.0.0.1:[0-9]*/ui/' "$work/ui.out"; }
wait_or_fail 30 "kumo deploy ui to listen" ui_url
check "the tenant view: workloads and endpoints of the running deployment" \
    ui_check --url "$(ui_url)" --shot "$shots/tenant.png" --text "Workloads" --text "2/2 running" \
    --text "1/1 running" --text ":$port_a" --text "lease.created" --text "· mem " --live 1
ui_code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
ui_base=$(ui_url | sed 's|/ui/$||')
check "deploy ui refuses a request naming another host (DNS rebinding)" \
    test "$(ui_code -H 'Host: rebind.example:80' "$ui_base/tenant/status?owner=$tenant&dseq=1")" = 403
check "deploy ui answers only for its own deployment" \
    test "$(ui_code "$ui_base/tenant/status?owner=$tenant&dseq=999999")" = 404
kill "$ui_pid"
wait "$ui_pid" 2>/dev/null || true
ui_pid=""

# ---- 1b. the real daemon refuses bad manifests and stores nothing ----
# Client certificates as kumo deploy makes them: the tenant's (from its exported seed) and a
# stranger's, built with openssl.
seed=$(k keys export tenant --unsafe-export-seed | tr -d '\n')
der_hex="302e020100300506032b657004220420$seed"
{
    echo "-----BEGIN PRIVATE KEY-----"
    printf '%b' "$(echo "$der_hex" | sed 's/../\\x&/g')" | base64 -w0
    printf '\n%s\n' "-----END PRIVATE KEY-----"
} >"$work/tenant.key"
chmod 600 "$work/tenant.key"
openssl req -x509 -new -key "$work/tenant.key" -subj /CN=tenant -days 1 -out "$work/tenant.crt" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$work/other.key" 2>/dev/null
openssl req -x509 -new -key "$work/other.key" -subj /CN=other -days 1 -out "$work/other.crt" 2>/dev/null
dseq=$(lease_of "${DC_ADDR[east-a]}" active | json_num dseq)
api_a=$(awk '$1 == "api_listen:" { gsub(/"/, "", $2); print $2 }' "$LOCALDC_TN/east-a/config.yaml")
put_manifest() { # put_manifest WHO DSEQ FILE: prints the HTTP status
    local auth=()
    [ "$1" = none ] || auth=(--cert "$work/$1.crt" --key "$work/$1.key")
    curl -s -o /dev/null -w '%{http_code}' --cacert "$LOCALDC_TN/east-a/ca.crt" "${auth[@]}" \
        -X PUT --data-binary "@$3" "https://$api_a/deployments/$tenant/$2/manifest"
}
stored=$LOCALDC_TN/east-a/deployments/$tenant-$dseq.manifest
sum_before=$(sha256sum "$stored")
head -c 300 /dev/urandom >"$work/junk.bin"
head -c $((2 * 1024 * 1024)) /dev/zero >"$work/big.bin"
check "a manifest that is not the on-chain version: 409" test "$(put_manifest tenant "$dseq" "$work/junk.bin")" = 409
check "for an unknown deployment: 404" test "$(put_manifest tenant 999999 "$work/junk.bin")" = 404
check "from someone else: 403" test "$(put_manifest other "$dseq" "$work/junk.bin")" = 403
check "over 1 MiB: 413" test "$(put_manifest tenant "$dseq" "$work/big.bin")" = 413
check "without a client certificate: 401" test "$(put_manifest none "$dseq" "$work/junk.bin")" = 401
check "nothing was stored" test "$(sha256sum "$stored")" = "$sum_before" -a ! -e "$LOCALDC_TN/east-a/deployments/$tenant-999999.manifest"

# ---- 1c. several hosts: what one provider's host reaches at another ----
check "west publishes no port for the database (only global ports are published)" \
    test -z "$(host_port_of west db)"
if [ -n "$netns" ]; then
    db_ip=$(inspect west "$db0" '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
    check "east-a's host does not reach the database on its own port at west's address" \
        not can_connect east-a "${DC_HOST[west]}" 7000 2
    check "nor does the tenant's host" not connects "${DC_HOST[west]}" 7000 2
    check "nor at the database container's own address (no route: west's alone)" \
        not can_connect east-a "$db_ip" 7000 2
    # A datacenter network that routes: east-a's host sends the container's address to west's.
    localdc_in east-a ip route add "$db_ip/32" via "${DC_HOST[west]}"
    check "nor through a route via west's host (west's isolation rules drop it)" \
        not can_connect east-a "$db_ip" 7000 2
    # (a connection only: a visit would count)
    check "east-a's published web port answers the outside (this host) at east-a's address" \
        connects "${DC_HOST[east-a]}" "$port_a"
    check "and nothing answers on it at west's address" not connects "${DC_HOST[west]}" "$port_a" 2
else
    log "skipped (no network namespaces here): the checks across hosts"
fi

# ---- 2. kill -9 a provider daemon: nothing is torn down, confirmations resume ----
before=$(ids_of east-a)
kill_daemon east-a
sleep 2
check "containers survive the daemon's kill -9" test "$(ids_of east-a)" = "$before"
conf=$(lease_confirmed "${DC_ADDR[east-a]}")
localdc_provider_start east-a
confirmed_again() { [ "$(lease_confirmed "${DC_ADDR[east-a]}")" -gt "$conf" ]; }
wait_or_fail 60 "east-a to confirm after its restart" confirmed_again
check "the restarted daemon confirms again" confirmed_again
check "and kept the same containers" test "$(ids_of east-a)" = "$before"
# The holds are rebuilt after the restarted daemon's first pass (which confirms first).
holds_back() { grep -q "holds_restored count=1" "$work/east-a.log"; }
wait_or_fail 60 "east-a to count its lease's resources as held again" holds_back
check "and counts its lease's resources as held again" holds_back
# The forwarder is the daemon's: new connections work again once its first passes ran.
answer3=
visit3() { answer3=$(visit east-a "$port_a"); }
wait_or_fail 60 "the web tier to answer after the restart" visit3
check "the web tier still answers: visit 3" test "$answer3" = "hello from kumo webapp: visit 3"

# ---- 3. a provider goes away: stale lease, collateral to the tenant, re-order, failover ----
# With hosts in namespaces, a partition: east-a's link to the switch goes down (its daemon and
# containers keep running, cut off from the node, the tenant and west). Without them, east-a's
# daemon is killed and its containers removed.
tenant_before=$(balance "$tenant")
if [ -n "$netns" ]; then
    localdc_netns_link east-a down
    check "partitioned: east-a's web tier no longer answers the outside" \
        not connects "${DC_HOST[east-a]}" "$port_a" 2
    check "its containers still run" test "$(ids_of east-a)" = "$before"
else
    kill_daemon east-a
    mapfile -t gone < <(pm east-a ps -aq --filter "label=kumo.provider=${DC_ADDR[east-a]}")
    pm east-a rm -f -t 0 "${gone[@]}" >/dev/null
fi
stale() { lease_of "${DC_ADDR[east-a]}" stale | grep -q LEASE_STALE; }
wait_or_fail 60 "east-a's lease to go stale" stale
check "east-a's lease went stale" stale
check "the tenant got east-a's collateral (2 x 10000)" test "$(balance "$tenant")" -ge $((tenant_before + 20000))
wait_or_fail 60 "east-b to win the re-ordered web group" has_lease "${DC_ADDR[east-b]}"
check "east-b won the re-ordered web group" has_lease "${DC_ADDR[east-b]}"
runs_b() { [ "$(ids_of east-b | wc -l)" -eq 2 ]; }
wait_or_fail 60 "east-b to run the web tier" runs_b
check "east-b got the manifest from its peer" grep -q manifest_fetched "$work/east-b.log"
check "east-b runs 2 web containers" runs_b
port_b=$(host_port_of east-b)
counts_on() { visit east-b "$port_b" | grep -q "visit 4"; }
wait_or_fail 90 "east-b's web tier to reach the database" counts_on
check "the moved web tier counts on in the same database: visit 4" true
check "through east-b's own tunnel to west" \
    grep -qE 'event=tunnel_up side=client owner=[^ ]+ dseq=[0-9]+ src=web dst=db' "$work/east-b.log"
if [ -n "$netns" ]; then
    localdc_netns_link east-a up
    # Back on the network, east-a's daemon finds its lease no longer active and removes what
    # ran for it.
    gone_a() { [ "$(count_of east-a)" -eq 0 ]; }
    wait_or_fail 60 "east-a to remove the containers of the lease it lost" gone_a
    check "healed: east-a removed the containers of the lease it lost" gone_a
    # Cut off, its daemon said nothing (its node requests wait up to their 30 s timeout); the
    # event stream, resumed where it broke once the link is back, delivers the lease's stale
    # event (its pass may have removed the containers first: which comes first is a race).
    learned_a() { grep -q "hold_released .*reason=lease.stale" "$work/east-a.log"; }
    wait_or_fail 30 "east-a to learn of the loss from the chain's lease.stale event" learned_a
    check "it learned of the loss from the chain's lease.stale event" learned_a
    kill_daemon east-a # as without namespaces: east-a bids no more (step 5 counts on east-b)
fi

# ---- 3b. update: a new manifest version replaces the workloads ----
before_b=$(ids_of east-b)
sed -i 's/^      COUNTER_PORT: "7000"$/      COUNTER_PORT: "7000"\n      GREETING: "v2"/' "$work/stack.yml"
grep -q GREETING "$work/stack.yml" || fail "the stack edit did not apply"
k deploy update "$work/stack.yml" --from tenant --timeout 120 >"$work/update.out" 2>&1 ||
    { cat "$work/update.out"; fail "kumo deploy update"; }
replaced() { [ "$(ids_of east-b | wc -l)" -eq 2 ] && [ "$(ids_of east-b)" != "$before_b" ]; }
wait_or_fail 60 "east-b to replace its containers" replaced
check "update: the new version replaced the web containers" replaced
# One upload, as for a create: the provider that took it announced it, and the other one
# (holding the older version) fetched the new one from it.
check "update: the manifest was uploaded once" test "$(grep -c 'manifest accepted by' "$work/update.out")" -eq 1
check "update: the other provider got the new version from its peer" grep -q "chunks, held" "$work/update.out"
check "they carry the new version" test "$(pm east-b inspect --format '{{index .Config.Labels "kumo.version"}}' "$(ids_of east-b | sed -n 1p)" | cut -c1-16)" = "$(grep -o 'version [0-9a-f]*' "$work/update.out" | sed -n 1p | cut -c9-24)"
port_b=$(host_port_of east-b)
answers_b() { visit east-b "$port_b" | grep -q "hello from kumo webapp"; }
wait_or_fail 90 "the updated web tier to answer" answers_b
check "the updated web tier answers" answers_b

# ---- 4. close ----
check "a tunnel to west is up before the close" test "$(tunnels_at_west)" -ge 1
k deploy close "$work/stack.yml" --from tenant --timeout 120 >"$work/close.out" 2>&1 ||
    { cat "$work/close.out"; fail "kumo deploy close"; }
cat "$work/close.out"
check "every container removed" test "$(count_of east-b)" -eq 0 -a "$(count_of west)" -eq 0
nets() { pm "$1" network ls -q --filter "label=kumo.provider=${DC_ADDR[$1]}" | wc -l; }
# A network goes in the sweep that follows its containers' removal (a loaded runtime may
# answer the last removal after the close returned).
nets_gone() { [ "$(nets east-b)" -eq 0 ] && [ "$(nets west)" -eq 0 ]; }
wait_or_fail 60 "every network to be removed" nets_gone
check "every network removed" nets_gone
no_tunnels() { [ "$(tunnels_at_west)" -eq 0 ]; }
wait_or_fail 30 "the tunnels to west to close" no_tunnels
check "the tunnel to west closed with the deployment" no_tunnels
check "leases released" grep -q "lease.released" "$work/close.out"
check "deployment closed, escrow back" grep -q "escrow returned" "$work/close.out"
dseq=$(grep -o 'deployment [0-9]* closed' "$work/close.out" | sed -n 1p | grep -o '[0-9]*')
closed() { k query deployment "$tenant/$dseq" | grep -q DEPLOYMENT_CLOSED; }
check "the chain says closed" closed

# ---- 5. a lease the provider cannot serve is refused, not confirmed ----
sed -e 's|localhost/kumo-webapp-web:1|localhost/kumo-no-such-image:1|' -e 's/persist: true/persist: false/' \
    "$root/examples/webapp/stack.yml" >"$work/broken.yml"
never_runs() { ! k deploy create "$work/broken.yml" --from tenant --timeout 15 >"$work/broken.out" 2>&1; }
check "a stack whose web image is missing never runs" never_runs
check "east-b says why" grep -q "container_failed" "$work/east-b.log"
refused_b() { k query leases --provider "${DC_ADDR[east-b]}" --output json | grep -q MANIFEST_REFUSED; }
wait_or_fail 60 "east-b to refuse the lease it cannot serve" refused_b
check "east-b refused it on chain: closed, reason manifest_refused" refused_b
check "west confirmed its part of it" has_lease "${DC_ADDR[west]}"
k deploy close "$work/broken.yml" --from tenant --timeout 120 >/dev/null
check "and closing it leaves no container" test "$(count_of east-b)" -eq 0 -a "$(count_of west)" -eq 0
log "all $checks checks passed"
