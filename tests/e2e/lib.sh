# lib.sh - what every e2e script shares: its kumo binary, a work folder with a local network
# and datacenters (tools/localdc.sh), checks counted one per line, and an exit that stops
# everything it started, fails on any sanitizer report in the logs and keeps the files of a
# failed run (or of any run with KUMO_E2E_KEEP=1).
#
# Usage, first thing in a script:  . "$(dirname "$0")/lib.sh" NAME path/to/kumo
# A script that starts more processes defines e2e_exit_hook, run first on exit.
# shellcheck shell=bash

kumo=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kumo-e2e-$1-XXXXXX")
# shellcheck source=tools/localdc.sh
. "$root/tools/localdc.sh"
localdc_init "$work" "$kumo"
tenant_home=$LOCALDC_TN/tenant
checks=0

k() { "$kumo" "$@" --home "$tenant_home"; }
log() { printf 'e2e: %s\n' "$*"; }
fail() {
    echo "e2e: FAILED: $*" >&2
    exit 1
}
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    "$@" || fail "$what"
    checks=$((checks + 1))
    log "ok $checks - $what"
}
wait_or_fail() { wait_for "$@" || fail "$2"; }

# The busybox image of the tests (tests/helpers/podman.c makes the same one).
busybox_image() {
    podman --runtime /usr/sbin/runc image exists localhost/kumo-test-busybox:1 && return 0
    local d
    d=$(mktemp -d)
    mkdir -p "$d/rootfs/bin" "$d/rootfs/www"
    cp /bin/busybox "$d/rootfs/bin/"
    for c in sh httpd echo sleep cat; do ln -sf busybox "$d/rootfs/bin/$c"; done
    echo 'hello from kumo' >"$d/rootfs/www/index.html"
    tar -C "$d/rootfs" -cf "$d/img.tar" .
    podman --runtime /usr/sbin/runc import --change ENV=PATH=/bin "$d/img.tar" \
        localhost/kumo-test-busybox:1 >/dev/null
    rm -rf "$d"
}

e2e_on_exit() {
    local rc=$?
    if declare -F e2e_exit_hook >/dev/null; then
        e2e_exit_hook || true
    fi
    [ $rc -eq 0 ] || localdc_logs
    localdc_cleanup
    # Sanitizer builds: every daemon and node stopped above; none may have reported anything.
    if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$work"/*.log \
        "$LOCALDC_TN"/node*/node.log 2>/dev/null; then
        echo "e2e: FAILED: a sanitizer report in the logs above" >&2
        rc=1
    fi
    if [ $rc -eq 0 ] && [ "${KUMO_E2E_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    else
        echo "e2e: files kept in $work" >&2
    fi
    exit $rc
}
trap e2e_on_exit EXIT
