# shellcheck shell=bash
# scenario.sh - the latency example's scenario (docs/design.md §10 "The latency example"),
# sourced by tools/example.sh once its local network is up (validators, datacenters in
# us-east, eu-west and ap-south, the images, the tenant key `tenant`). It uses what that
# runner has: $kumo, k (the tenant's CLI), $work, KUMO_NODE, localdc_provider_add, DC_ADDR,
# wait_for, and says what it does with say.
#   1. the management tier's own datacenter (its group lists it, exclusively: the grantee key
#      is sealed to it), a grantee key `ops`, and the grant: ops may update this one deployment
#      in us-east and eu-west only, at most LATENCY_MAX_PRICE per block, until 2000 blocks on;
#   2. the first stack (web in us-east) rendered from the template and deployed;
#   3. load rises in eu-west: the controller adds a web group there, a provider in eu-west
#      leases it and serves it;
#   4. load falls in eu-west: the controller removes it, its lease closes;
#   5. load rises in ap-south, outside the grant: the controller's update is refused by the
#      chain (KUMO_EGRANTREGION), it logs so, and nothing changes.
# Each step waits for the controller's log line and checks the chain. LATENCY_RESULTS (a file,
# when set) gets "key value" lines the e2e test reads.
# shellcheck disable=SC2154 # root, work, kumo, tenant_home: the runner's
# shellcheck disable=SC2015 # "check && check || fail" is meant

lat_dir=$root/examples/latency
lat_work=$work/latency
lat_results=${LATENCY_RESULTS:-/dev/null}
lat_max_price=${LATENCY_MAX_PRICE:-400}

lat_fail() {
    echo "latency: FAILED: $*" >&2
    exit 1
}
lat_field() { awk -v k="$1" '$1 == k { print $2; exit }'; }
# The events of a committed tx, as "TYPE attr=value..." lines (kumo query tx).
lat_tx_events() {
    k query tx "$1" | awk '
        $1 ~ /^events\[[0-9]+\]\.type$/ { if (line != "") print line; line = $2 }
        $1 ~ /^events\[[0-9]+\]\.attrs\[[0-9]+\]\.key$/ { key = $2 }
        $1 ~ /^events\[[0-9]+\]\.attrs\[[0-9]+\]\.value$/ { line = line " " key "=" $2 }
        END { if (line != "") print line }'
}
lat_height() { k query status | lat_field height; }
lat_note() { echo "$1 $2" >>"$lat_results"; }
lat_logs() { k deploy logs "$lat_work/stack.yml" controller --tail 400 2>/dev/null || true; }
lat_log_has() { lat_logs | grep -q -- "$1"; }
# The region's load file in the controller's state volume (the container may be replaced by
# an update at that moment: tried until it takes).
lat_load() {
    say "load in $1: $2 clients"
    wait_for 60 "the load of $1 written" k deploy shell "$lat_work/stack.yml" controller -- \
        sh -c "mkdir -p /var/lib/latency/load && echo $2 >/var/lib/latency/load/$1"
}
lat_groups() { k query groups --owner "$lat_owner" --dseq "$lat_dseq" --all; }
# The live web group's row of a region ("" when none).
lat_group_of() { lat_groups | awk -v r="$1" '$2 ~ /^edge-/ && $3 == r && $4 != "CLOSED"'; }
# The tx hash of the controller's last update line.
lat_last_tx() { lat_logs | sed -n 's/.*updated to version .* (tx \([0-9a-f]*\)).*/\1/p' | tail -n 1; }

mkdir -p "$lat_work"

say "the management tier's datacenter, the grantee key, the grant"
localdc_provider_add dc-mgmt us-east
k keys add ops >/dev/null
lat_owner=$(k keys show tenant --address)
lat_ops=$(k keys show ops --address)
lat_dseq=$(lat_height)
lat_note owner "$lat_owner"
lat_note dseq "$lat_dseq"
k tx grant create --from tenant "$lat_ops" "$lat_dseq" msgs=update expiry=$((lat_dseq + 2000)) \
    max_price="$lat_max_price" regions=eu-west,us-east --wait >"$lat_work/grant.out"
say "ops may update deployment $lat_dseq in eu-west and us-east, at most $lat_max_price ukumo/block"

sed -e "s|@MGMT_REGION@|us-east|" -e "s|@MGMT_PROVIDER@|${DC_ADDR[dc-mgmt]}|" \
    -e "s|@NODE@|$KUMO_NODE|" -e "s|@OWNER@|$lat_owner|" -e "s|@DSEQ@|$lat_dseq|" \
    -e "s|@REGIONS@|us-east eu-west ap-south|" "$lat_dir/stack.tmpl" >"$lat_work/stack.tmpl"
LATENCY_TEMPLATE=$lat_work/stack.tmpl sh "$lat_dir/mgmt/controller.sh" render us-east \
    >"$lat_work/stack.yml"
say "deploying: web in us-east, the controller in its own datacenter"
LATENCY_GRANTEE_KEY=$(k keys export ops --unsafe-export-seed) \
    k deploy create "$lat_work/stack.yml" --from tenant --dseq "$lat_dseq" >"$lat_work/create.out"
wait_for 120 "the controller's first round" lat_log_has "latency: height .* web in: us-east"

say "load rises in eu-west"
lat_load us-east 80
lat_load eu-west 90
wait_for 180 "the controller to add eu-west" lat_log_has "latency: decision: add eu-west"
lat_eu_leased() { lat_group_of eu-west | awk '$4 == "ACTIVE"' | grep -q .; }
wait_for 180 "a web group leased in eu-west" lat_eu_leased
lat_add_tx=$(lat_last_tx)
[ -n "$lat_add_tx" ] || lat_fail "no tx hash in the controller's log"
lat_note add_tx "$lat_add_tx"
lat_tx_events "$lat_add_tx" >"$lat_work/add.events"
grep -q "^group.created name=edge-eu-west region=eu-west" "$lat_work/add.events" &&
    grep -q "^grant.used msg=" "$lat_work/add.events" ||
    lat_fail "tx $lat_add_tx: no group created in eu-west under the grant: $(cat "$lat_work/add.events")"
lat_note add_events_ok 1
lat_eu_group=$(lat_group_of eu-west | awk '{ print $1 }') # owner/dseq/gseq
say "eu-west added by tx $lat_add_tx (events: group.created in eu-west, grant.used)"
say "its group: $(lat_group_of eu-west)"
# The new region's web tier serves: its endpoint answers with its region.
lat_serves() {
    k deploy status "$lat_work/stack.yml" | sed -n 's/.*endpoint web-eu-west:8080 → \(http:[^ ]*\).*/\1/p' |
        head -n 1 | xargs -r curl -fsS --max-time 3 | grep -q "web tier in eu-west"
}
wait_for 180 "the eu-west web tier to serve" lat_serves
lat_note eu_served 1
say "the eu-west web tier answers at its endpoint: web tier in eu-west"

say "load falls in eu-west"
lat_load eu-west 3
wait_for 180 "the controller to remove eu-west" lat_log_has "latency: decision: remove eu-west"
lat_eu_gone() { ! lat_group_of eu-west | grep -q .; }
wait_for 180 "the eu-west group closed" lat_eu_gone
lat_remove_tx=$(lat_last_tx)
[ "$lat_remove_tx" != "$lat_add_tx" ] || lat_fail "no tx hash of the removal in the controller's log"
lat_note remove_tx "$lat_remove_tx"
lat_tx_events "$lat_remove_tx" >"$lat_work/remove.events"
grep -q "^group.closed .*reason=group_removed" "$lat_work/remove.events" &&
    grep -q "^grant.used msg=" "$lat_work/remove.events" ||
    lat_fail "tx $lat_remove_tx: no group removed under the grant: $(cat "$lat_work/remove.events")"
lat_note remove_events_ok 1
# Its lease ends: the eu-west provider releases it.
lat_eu_lease_closed() {
    k query leases --owner "$lat_owner" --dseq "$lat_dseq" |
        awk -v g="$lat_eu_group/" 'index($1, g) == 1 { n++; if ($2 == "CLOSED") c++ } END { exit !(n > 0 && n == c) }'
}
wait_for 120 "the eu-west lease to close" lat_eu_lease_closed
lat_note eu_lease_closed 1
say "eu-west removed by tx $lat_remove_tx (events: group.closed reason=group_removed, grant.used); its lease closed"

say "load rises in ap-south, outside the grant"
lat_load ap-south 95
wait_for 180 "the controller's refused attempt" lat_log_has \
    "latency: refused by the chain: add ap-south: KUMO_EGRANTREGION"
lat_refused_tx=$(lat_logs | sed -n 's/.*tx \([0-9a-f]\{64\}\) committed at height .* but failed.*/\1/p' | tail -n 1)
[ -n "$lat_refused_tx" ] || lat_fail "no refused tx in the controller's log"
[ "$(k query tx "$lat_refused_tx" | lat_field code)" != 0 ] ||
    lat_fail "tx $lat_refused_tx was not refused"
[ -z "$(lat_group_of ap-south)" ] && [ -n "$(lat_group_of us-east)" ] ||
    lat_fail "the refused update changed the deployment: $(lat_groups)"
lat_note refused_tx "$lat_refused_tx"
lat_note refused 1
say "tx $lat_refused_tx refused by the chain (KUMO_EGRANTREGION), logged; nothing changed:"
lat_groups | sed 's/^/   /'
