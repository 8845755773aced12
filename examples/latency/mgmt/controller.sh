#!/bin/sh
# controller.sh - the latency example's management tier (docs/design.md §10, "The latency
# example"). It runs in the deployment itself (image localhost/kumo-mgmt:1: busybox, kumo and
# this script as /opt/kumo/latency/controller.sh) with the grantee key of its owner's grant
# in KUMO_KEY (a sealed secret), and every
# LATENCY_EVERY_BLOCKS blocks:
#   1. reads which regions the web tier is in: the deployment's live groups on chain named
#      edge-NAME, NAME the region (REGION-2, -3, ... for a region that comes back: a removed
#      group's name cannot); nothing is remembered between rounds but the refused regions;
#   2. reads the client load of each region: $LATENCY_STATE/load/REGION, a whole number of
#      active clients the scenario writes (0 when absent);
#   3. decides (decide below): add the region of highest load at or above LATENCY_HIGH that has
#      no web group; else remove the web group of lowest load below LATENCY_LOW, never the
#      last one; else hold. The gap between the two thresholds is the hysteresis: a region
#      between them stays as it is;
#   4. renders the stack for the new set of regions from its template (stack.tmpl, a file of
#      the stack at /etc/latency/stack.tmpl) and runs `kumo deploy update --granter OWNER`: the chain checks the grant
#      (regions, price, expiry) and refuses what it does not allow. A refused region is
#      not tried again until its load has fallen below LATENCY_HIGH and risen again.
# Each round logs one line of loads and one decision; an update's own progress lines follow
# (its tx hash among them). The update replaces this container too (its deployment's version
# changed): the new one carries on from the chain, and the state volume keeps the loads and
# the refused regions. The management group's name sorts after the web groups', so `kumo
# deploy update` delivers the new manifest to the web tier's providers before its own.
#
# usage: controller.sh run                 the loop (the container's command)
#        controller.sh once                one round now
#        controller.sh decide              stdin "REGION LOAD LIVE REFUSED" lines -> one of
#                                          "add R", "remove R", "hold"
set -u

TEMPLATE=${LATENCY_TEMPLATE:-/etc/latency/stack.tmpl}
STATE=${LATENCY_STATE:-/var/lib/latency}
HIGH=${LATENCY_HIGH:-50}
LOW=${LATENCY_LOW:-10}
EVERY=${LATENCY_EVERY_BLOCKS:-3}
KUMO=${LATENCY_KUMO:-kumo}

log() { echo "latency: $*"; }

# The stack with these web groups (NAME:REGION...): render.sh, next to this script.
render() { sh "$(dirname "$0")/render.sh" "$TEMPLATE" "$@"; }

# The rule. Ties go to the region first by name, so the same input always decides the same.
decide() {
    awk -v high="$HIGH" -v low="$LOW" '
        NF == 4 { load[$1] = $2 + 0; live[$1] = $3; refused[$1] = $4; nlive += $3 }
        END {
            best = ""
            for (r in load) {
                if (live[r] || refused[r] || load[r] < high) continue
                if (best == "" || load[r] > load[best] || (load[r] == load[best] && r < best))
                    best = r
            }
            if (best != "") { print "add " best; exit }
            worst = ""
            for (r in load) {
                if (!live[r] || load[r] >= low || nlive < 2) continue
                if (worst == "" || load[r] < load[worst] || (load[r] == load[worst] && r < worst))
                    worst = r
            }
            if (worst != "") { print "remove " worst; exit }
            print "hold"
        }'
}

# The deployment's web groups on chain, every one it had: "NAME REGION STATE" lines (NAME
# without its "edge-").
web_groups() {
    out=$("$KUMO" query groups --owner "$LATENCY_OWNER" --dseq "$LATENCY_DSEQ" --all 2>&1) || {
        echo "$out" >&2
        return 1
    }
    echo "$out" | awk '$1 ~ /\// && $2 ~ /^edge-/ { print substr($2, 6), $3, $4 }'
}

# A name for a web group in region $1: the region, or REGION-N when a group had that name (a
# removed group's name cannot come back).
new_name() {
    name=$1
    i=1
    while printf '%s\n' "$groups" | awk -v n="$name" '$1 == n { f = 1 } END { exit !f }'; do
        i=$((i + 1))
        name=$1-$i
    done
    echo "$name"
}

# A region's load: digits only (anything else reads as 0, and says so).
load_of() {
    v=
    [ ! -f "$STATE/load/$1" ] || v=$(tr -d ' \n' <"$STATE/load/$1")
    case $v in
    '' | *[!0-9]*)
        [ -z "$v" ] || log "load of $1 is not a whole number ('$v'): taken as 0" >&2
        echo 0
        ;;
    *) echo "$v" ;;
    esac
}

is_in() { # is_in WORD LIST...
    w=$1
    shift
    for x in "$@"; do [ "$x" = "$w" ] && return 0; done
    return 1
}

# Runs the update for the web groups given (NAME:REGION); its progress lines go to the log as
# they come.
update() {
    mkdir -p "$STATE/work"
    cp "$TEMPLATE" "$STATE/work/stack.tmpl" # the stack's file, next to the stack
    render "$@" >"$STATE/work/stack.yml"
    # The stack's secret is the grantee key itself: kumo deploy reads it from KUMO_KEY and
    # seals it again for the management group. Its lines go to the log as they come (the
    # update may end this container before it returns: kumo deploy writes its progress a line
    # at a time), and to update.out for the round's verdict.
    : >"$STATE/work/update.out"
    rm -f "$STATE/work/update.rc"
    {
        "$KUMO" deploy update "$STATE/work/stack.yml" --granter "$LATENCY_OWNER" \
            --dseq "$LATENCY_DSEQ" --timeout 120 2>&1
        echo $? >"$STATE/work/update.rc"
    } | while IFS= read -r line; do
        echo "latency: update: $line"
        echo "$line" >>"$STATE/work/update.out"
    done
    [ "$(cat "$STATE/work/update.rc" 2>/dev/null)" = 0 ]
}

round() {
    groups=$(web_groups) || {
        log "cannot read the deployment's groups: next round"
        return 0
    }
    # The live web groups as NAME:REGION, and their regions.
    web=$(printf '%s\n' "$groups" | awk 'NF == 3 && $3 != "CLOSED" { print $1 ":" $2 }')
    live=$(printf '%s\n' "$web" | sed -n 's/^.*://p' | sort -u)
    # shellcheck disable=SC2046,SC2086 # lists of words
    set -- $(printf '%s\n' $LATENCY_REGIONS $live | sort -u)
    loads=""
    input=""
    for r in "$@"; do
        l=$(load_of "$r")
        # shellcheck disable=SC2086
        is_in "$r" $live && v=1 || v=0
        f=0
        if grep -qx "$r" "$STATE/refused" 2>/dev/null; then
            if [ "$l" -lt "$HIGH" ]; then # fell: the next rise may try again
                grep -vx "$r" "$STATE/refused" >"$STATE/refused.new" || true
                mv "$STATE/refused.new" "$STATE/refused"
            else
                f=1
            fi
        fi
        loads="$loads $r=$l"
        input="$input$r $l $v $f
"
    done
    log "height $height load$loads; web in: $(printf '%s' "$live" | tr '\n' ' ')"
    d=$(printf '%s' "$input" | decide)
    case $d in
    hold) return 0 ;;
    "add "*)
        r=${d#add }
        name=$(new_name "$r")
        log "decision: add $r (load $(load_of "$r") >= $HIGH) as group edge-$name"
        # shellcheck disable=SC2086
        set -- $web "$name:$r"
        ;;
    "remove "*)
        r=${d#remove }
        log "decision: remove $r (load $(load_of "$r") < $LOW)"
        # shellcheck disable=SC2046,SC2086
        set -- $(printf '%s\n' $web | grep -v ":$r\$")
        ;;
    esac
    if update "$@"; then
        log "done: $d"
        return 0
    fi
    code=$(grep -o 'KUMO_E[A-Z]*' "$STATE/work/update.out" | tail -n 1)
    case $code in
    KUMO_EGRANT*) # the chain refused the tx: nothing of it happened
        log "refused by the chain: $d: $code (nothing changed)"
        case $d in "add "*) echo "$r" >>"$STATE/refused" ;; esac
        ;;
    *) log "update failed: $d: ${code:-see above} (tried again next round)" ;;
    esac
}

height_now() {
    "$KUMO" query status 2>/dev/null | awk '$1 == "height" || $1 == "height:" { print $2; exit }'
}

run() {
    for v in KUMO_KEY KUMO_NODE LATENCY_OWNER LATENCY_DSEQ LATENCY_REGIONS; do
        eval "[ -n \"\${$v:-}\" ]" || {
            log "$v is not set"
            exit 2
        }
    done
    [ "$LOW" -lt "$HIGH" ] || {
        log "LATENCY_LOW ($LOW) must be below LATENCY_HIGH ($HIGH)"
        exit 2
    }
    mkdir -p "$STATE/load"
    log "watching deployment $LATENCY_DSEQ of $LATENCY_OWNER in $LATENCY_REGIONS every $EVERY blocks (add at >= $HIGH, remove below $LOW)"
    last=0
    while :; do
        height=$(height_now)
        if [ -n "$height" ] && [ "$height" -ge $((last + EVERY)) ]; then
            last=$height
            round
        fi
        sleep 1
    done
}

case ${1:-run} in
run) run ;;
once)
    height=$(height_now)
    round
    ;;
decide) decide ;;
*)
    echo "usage: controller.sh [run] | once | decide" >&2
    exit 2
    ;;
esac
