#!/usr/bin/env bash
# test_latency_controller.sh - the latency example's controller (examples/latency/mgmt/controller.sh)
# without a network: its rule on a table of cases, the stacks it renders (read by the real
# `kumo deploy quote`, which checks a stack before it asks the node), and its rounds against
# a stand-in `kumo` that keeps the live web regions in a file, counts blocks, and refuses an
# update touching a region outside its grant as the chain does (KUMO_EGRANTREGION).
# usage: test_latency_controller.sh path/to/kumo
# shellcheck disable=SC2015 # "check && check || fail" is meant
set -euo pipefail
kumo=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
ctl=$root/examples/latency/mgmt/controller.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-latency-XXXXXX")
trap 'rm -rf "$work"' EXIT
checks=0
ok() {
    checks=$((checks + 1))
    echo "ok $checks - $1"
}
fail() {
    echo "FAILED: $*" >&2
    exit 1
}

# ---- the rule ----
expect() { # expect WHAT INPUT DECISION
    local got
    got=$(printf '%s' "$2" | LATENCY_HIGH=50 LATENCY_LOW=10 sh "$ctl" decide)
    [ "$got" = "$3" ] || fail "$1: decided '$got', expected '$3'"
    ok "$1"
}
expect "a region at the high threshold gets a web group" $'us-east 30 1 0\neu-west 50 0 0\n' "add eu-west"
expect "the busiest region first" $'us-east 30 1 0\neu-west 60 0 0\nap-south 70 0 0\n' "add ap-south"
expect "a tie goes to the first name" $'us-east 30 1 0\neu-west 70 0 0\nap-south 70 0 0\n' "add ap-south"
expect "below the high threshold no region is added" $'us-east 30 1 0\neu-west 49 0 0\n' "hold"
expect "a live region at the low threshold stays" $'us-east 30 1 0\neu-west 10 1 0\n' "hold"
expect "below the low threshold a region is removed" $'us-east 30 1 0\neu-west 9 1 0\n' "remove eu-west"
expect "the quietest region goes first" $'us-east 5 1 0\neu-west 3 1 0\n' "remove eu-west"
expect "the last region is never removed" $'us-east 0 1 0\neu-west 0 0 0\n' "hold"
expect "a refused region is not tried again" $'us-east 30 1 0\nap-south 90 0 1\n' "hold"
expect "adding comes before removing" $'us-east 5 1 0\neu-west 1 1 0\nap-south 90 0 0\n' "add ap-south"
expect "no regions: nothing to do" '' "hold"

# ---- the stacks it renders ----
mkdir -p "$work/tmpl"
sed -e 's|@DC_US_WEST@|kumo1kde5sj42ljefumtfucganwhh4jsx5ep29c67q7|' -e 's|@NODE@|http://127.0.0.1:9|' \
    -e 's|@OWNER@|kumo1kde5sj42ljefumtfucganwhh4jsx5ep29c67q7|' -e 's|@DSEQ@|7|' \
    "$root/examples/latency/stack.tmpl" >"$work/tmpl/stack.tmpl"
render=$root/examples/latency/mgmt/render.sh
quote() { # a stack error names file:line; a good stack gets as far as asking the node
    local out
    out=$(KUMO_NODE=http://127.0.0.1:9 "$kumo" deploy quote "$1" 2>&1 || true)
    echo "$out" | grep -q "cannot reach the node" || {
        echo "$out" >&2
        return 1
    }
}
for regions in "us-east" "us-east eu-west-2:eu-west" "ap-south eu-west us-east"; do
    # shellcheck disable=SC2086 # a list of regions
    sh "$render" "$work/tmpl/stack.tmpl" $regions >"$work/tmpl/stack.yml"
    quote "$work/tmpl/stack.yml" || fail "the stack for '$regions' does not read"
    for r in $regions; do
        n=${r%%:*}
        grep -q "^  edge-$n:" "$work/tmpl/stack.yml" && grep -q "^  web-$n:" "$work/tmpl/stack.yml" &&
            grep -q "web tier in ${r#*:}" "$work/tmpl/stack.yml" || fail "no web group or workload for $r"
    done
    [ "$(grep -c '^  edge-' "$work/tmpl/stack.yml")" = "$(echo "$regions" | wc -w)" ] ||
        fail "web groups of other regions in the stack for '$regions'"
    ok "the stack for '$regions' reads, with one web group and workload per region"
done
grep -qE "@[A-Z_]+@" "$work/tmpl/stack.yml" && fail "a placeholder is left in the rendered stack"
ok "no placeholder is left"
sh "$render" "$work/tmpl/stack.tmpl" "us-east" "eu west" >/dev/null 2>&1 && fail "a bad group was rendered"
ok "render.sh refuses what is not NAME:REGION"

# ---- rounds against a stand-in kumo ----
# It keeps the deployment's web groups in $work/groups ("NAME REGION STATE"), closes those an
# update leaves out, refuses a removed group's name as the CLI does and a region outside the
# grant (us-east, eu-west) as the chain does.
mkdir -p "$work/bin" "$work/state/load"
echo "us-east us-east ACTIVE" >"$work/groups"
echo 10 >"$work/height"
: >"$work/calls"
cat >"$work/bin/kumo" <<STUB
#!/usr/bin/env bash
set -euo pipefail
g=$work/groups
case "\$1 \$2" in
"query status")
    h=\$(cat $work/height); echo \$((h + 3)) >$work/height; echo "height         \$h" ;;
"query groups")
    echo "GROUP  NAME  REGION  STATE  LEASED TO  CLOSED (why at)"
    echo "o/7/0  mgmt  us-east  ACTIVE  kumo1p  -"
    while read -r n r st; do echo "o/7/9  edge-\$n  \$r  \$st  -  -"; done <\$g ;;
"deploy update")
    echo "\$*" >>$work/calls
    [ -n "\${KUMO_KEY:-}" ] && grep -q "from_env: KUMO_KEY" "\$3" || { echo "no key for the secret"; exit 1; }
    new=\$(awk '/^  edge-.*:\$/ { n = substr(\$1, 6); sub(/:\$/, "", n) } /^    region: / && n != "" { print n, \$2; n = "" }' "\$3")
    while read -r n r; do
        if awk -v n="\$n" '\$1 == n && \$3 == "CLOSED" { f = 1 } END { exit !f }' \$g; then
            echo "kumo: deploy update: group edge-\$n was removed from deployment 7 (KUMO_EINVAL)"; exit 1
        fi
        case \$r in us-east | eu-west) ;; *)
            echo "kumo: deploy update: tx 00aa committed at height 9 but failed: region \$r (KUMO_EGRANTREGION)"
            exit 1 ;;
        esac
    done <<<"\$new"
    awk -v keep="\$(echo \$new)" 'BEGIN { n = split(keep, k, " "); for (i = 1; i <= n; i += 2) live[k[i]] = 1 }
        { if (\$3 != "CLOSED" && !(\$1 in live)) \$3 = "CLOSED"; print; seen[\$1] = 1 }
        END { for (i = 1; i <= n; i += 2) if (!(k[i] in seen)) print k[i], k[i + 1], "ACTIVE" }' \$g >\$g.new
    mv \$g.new \$g
    echo "[height 9] deployment 7 updated to version ab… (tx 00bb)" ;;
*) echo "unexpected: \$*" >&2; exit 1 ;;
esac
STUB
chmod +x "$work/bin/kumo"
round() {
    KUMO_KEY=seed KUMO_NODE=x LATENCY_OWNER=o LATENCY_DSEQ=7 LATENCY_REGIONS="us-east eu-west ap-south" \
        LATENCY_KUMO="$work/bin/kumo" LATENCY_STATE="$work/state" LATENCY_TEMPLATE="$work/tmpl/stack.tmpl" \
        sh "$ctl" once >"$work/round.log" 2>&1 || fail "a round failed: $(cat "$work/round.log")"
    cat "$work/round.log"
}
live() { awk '$3 != "CLOSED" { print $1 }' "$work/groups" | sort | tr '\n' ' ' | sed 's/ $//'; }

echo 80 >"$work/state/load/us-east"
round
grep -q "load ap-south=0 eu-west=0 us-east=80; web in: us-east" "$work/round.log" &&
    [ ! -s "$work/calls" ] || fail "a quiet round changed something"
ok "loads are logged; nothing to change, no update"

echo 75 >"$work/state/load/eu-west"
round
grep -q "decision: add eu-west (load 75 >= 50) as group edge-eu-west" "$work/round.log" &&
    grep -q "latency: update: .*(tx 00bb)" "$work/round.log" && [ "$(live)" = "eu-west us-east" ] ||
    fail "eu-west was not added"
grep -q -- "--granter o --dseq 7" "$work/calls" || fail "the update is not under the grant"
ok "load rises in eu-west: its web group is added by an update under the grant, tx logged"

echo 30 >"$work/state/load/eu-west"
round
[ "$(live)" = "eu-west us-east" ] && grep -q "web in: eu-west us-east" "$work/round.log" ||
    fail "eu-west changed between the thresholds"
ok "between the thresholds eu-west stays"

echo 4 >"$work/state/load/eu-west"
round
grep -q "decision: remove eu-west (load 4 < 10)" "$work/round.log" && [ "$(live)" = "us-east" ] ||
    fail "eu-west was not removed"
ok "load falls in eu-west: its web group is removed"

echo 90 >"$work/state/load/ap-south"
calls=$(wc -l <"$work/calls")
round
grep -q "refused by the chain: add ap-south: KUMO_EGRANTREGION (nothing changed)" "$work/round.log" &&
    [ "$(live)" = "us-east" ] || fail "the refusal of ap-south is not logged"
ok "ap-south, outside the grant: refused by the chain, logged, nothing changed"
round
[ "$(wc -l <"$work/calls")" = $((calls + 1)) ] || fail "ap-south was tried again at the same load"
ok "a refused region is not tried again while its load stays high"
echo 20 >"$work/state/load/ap-south"
round
echo 95 >"$work/state/load/ap-south"
round
[ "$(wc -l <"$work/calls")" = $((calls + 2)) ] || fail "ap-south was not tried again after a new rise"
ok "after its load fell and rose again, the region is tried again"

echo 0 >"$work/state/load/ap-south"
echo 60 >"$work/state/load/eu-west"
round
grep -q "decision: add eu-west (load 60 >= 50) as group edge-eu-west-2" "$work/round.log" &&
    [ "$(live)" = "eu-west-2 us-east" ] || fail "eu-west did not come back under a new name"
ok "a region that comes back gets a group of a new name (a removed group's cannot return)"
echo 2 >"$work/state/load/eu-west"
round
[ "$(live)" = "us-east" ] || fail "edge-eu-west-2 was not removed"
ok "and that group is removed like the first"

echo 0 >"$work/state/load/us-east"
calls=$(wc -l <"$work/calls")
round
[ "$(live)" = "us-east" ] && [ "$(wc -l <"$work/calls")" = "$calls" ] || fail "the last region went"
ok "no load anywhere: the last region stays"

echo "x1" >"$work/state/load/us-east"
round
grep -q "load of us-east is not a whole number ('x1'): taken as 0" "$work/round.log" ||
    fail "a bad load file is not reported"
ok "a load that is not a whole number reads as 0, and says so"

echo "test_latency_controller: $checks checks passed"
