# shellcheck shell=bash
# scenario.sh - the latency example's scenario (README "The latency example", docs/design.md
# §10), sourced by tools/example.sh once the deployment runs: web in us-east, the controller
# in us-west, a grant to update it in us-east, us-west and eu-central. It uses what the runner
# sets: kumo, tenant_home, k (kumo as the tenant), dir, stack, DSEQ, OWNER, wait_for, say.
#   1. load rises in eu-central: the controller adds a web group there; the provider in
#      eu-central leases it and it serves;
#   2. load falls in eu-central: the controller removes it, its lease closes;
#   3. load rises in ap-south, outside the grant: the controller's update is refused by the
#      chain (KUMO_EGRANTREGION), it logs so, and nothing changes.
# Each step waits for the controller's log line and checks the chain (the tx's events, the
# groups and leases). LATENCY_RESULTS (a file, when set) gets "key value" lines of what was
# seen, which tests/e2e/test_example_latency.sh reads.
# shellcheck disable=SC2154 # kumo, tenant_home, dir, stack, DSEQ, OWNER: the runner's
# shellcheck disable=SC2015 # "check && check || fail" is meant

lat_results=${LATENCY_RESULTS:-/dev/null}

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
lat_note() { echo "$1 $2" >>"$lat_results"; }
lat_logs() { k deploy logs "$stack" controller --tail 400 2>/dev/null || true; }
lat_log_has() { lat_logs | grep -q -- "$1"; }
# The region's load file in the controller's state volume (the container may be replaced by
# an update at that moment: tried until it takes).
lat_load_write() { # (k puts --home last, which a shell's command would take)
    "$kumo" deploy shell --home "$tenant_home" "$stack" controller -- \
        sh -c "mkdir -p /var/lib/latency/load && echo $2 >/var/lib/latency/load/$1" >"$dir/shell.out" 2>&1
}
lat_load() {
    say "load in $1: $2 clients"
    wait_for 60 "the load of $1 written" lat_load_write "$1" "$2" ||
        lat_fail "kumo deploy shell: $(cat "$dir/shell.out")"
}
lat_groups() { k query groups --owner "$OWNER" --dseq "$DSEQ" --all; }
# The live web group's row of a region ("" when none).
lat_group_of() { lat_groups | awk -v r="$1" '$2 ~ /^edge-/ && $3 == r && $4 != "CLOSED"'; }
# The tx hash of the controller's last update line.
lat_last_tx() { lat_logs | sed -n 's/.*updated to version .* (tx \([0-9a-f]*\)).*/\1/p' | tail -n 1; }

lat_note owner "$OWNER"
lat_note dseq "$DSEQ"
wait_for 120 "the controller's first round" lat_log_has "latency: height .* web in: us-east"

say "load rises in eu-central"
lat_load us-east 80
lat_load eu-central 90
wait_for 180 "the controller to add eu-central" lat_log_has "latency: decision: add eu-central"
lat_eu_leased() { lat_group_of eu-central | awk '$4 == "ACTIVE"' | grep -q .; }
wait_for 180 "a web group leased in eu-central" lat_eu_leased
lat_add_tx=$(lat_last_tx)
[ -n "$lat_add_tx" ] || lat_fail "no tx hash in the controller's log"
lat_note add_tx "$lat_add_tx"
lat_tx_events "$lat_add_tx" >"$dir/add.events"
grep -q "^group.created name=edge-eu-central region=eu-central" "$dir/add.events" &&
    grep -q "^grant.used msg=" "$dir/add.events" ||
    lat_fail "tx $lat_add_tx: no group created in eu-central under the grant: $(cat "$dir/add.events")"
lat_note add_events_ok 1
lat_eu_group=$(lat_group_of eu-central | awk '{ print $1 }') # owner/dseq/gseq
say "eu-central added by tx $lat_add_tx (events: group.created in eu-central, grant.used)"
say "its group: $(lat_group_of eu-central)"
# The new region's web tier serves: its endpoint answers with its region.
lat_serves() {
    k deploy status "$stack" | sed -n 's/.*endpoint web-eu-central:8080 → \(http:[^ ]*\).*/\1/p' |
        head -n 1 | xargs -r curl -fsS --max-time 3 | grep -q "web tier in eu-central"
}
wait_for 180 "the eu-central web tier to serve" lat_serves
lat_note eu_served 1
say "the eu-central web tier answers at its endpoint: web tier in eu-central"
say "kumo deploy status (groups, leases, endpoints):"
k deploy status "$stack" | grep -E "^ *(group|lease|workload|endpoint) " | sed 's/^/   /'

say "load falls in eu-central"
lat_load eu-central 3
wait_for 180 "the controller to remove eu-central" lat_log_has "latency: decision: remove eu-central"
lat_eu_gone() { ! lat_group_of eu-central | grep -q .; }
wait_for 180 "the eu-central group closed" lat_eu_gone
lat_remove_tx=$(lat_last_tx)
[ "$lat_remove_tx" != "$lat_add_tx" ] || lat_fail "no tx hash of the removal in the controller's log"
lat_note remove_tx "$lat_remove_tx"
lat_tx_events "$lat_remove_tx" >"$dir/remove.events"
grep -q "^group.closed .*reason=group_removed" "$dir/remove.events" &&
    grep -q "^grant.used msg=" "$dir/remove.events" ||
    lat_fail "tx $lat_remove_tx: no group removed under the grant: $(cat "$dir/remove.events")"
lat_note remove_events_ok 1
# Its lease ends: the eu-central provider releases it (its containers gone).
lat_eu_lease_closed() {
    k query leases --owner "$OWNER" --dseq "$DSEQ" | awk -v g="$lat_eu_group/" '
        index($1, g) == 1 { n++; if ($2 == "RELEASED" || $2 == "CLOSED") c++ }
        END { exit !(n > 0 && n == c) }'
}
wait_for 120 "the eu-central lease to be released" lat_eu_lease_closed
lat_note eu_lease_closed 1
say "eu-central removed by tx $lat_remove_tx (events: group.closed reason=group_removed, grant.used); its provider released the lease"

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
say "the controller's decisions (kumo deploy logs STACK controller):"
lat_logs | grep -E "latency: (decision|done|refused|update failed|update: .*updated to version)" | sed 's/^/   /'
