#!/usr/bin/env bash
# images.sh - builds the example workloads' container images offline and imports each with
# `podman import` as a rootfs tarball. Every image is labelled with the hash of its inputs
# (kumo.sha256) and rebuilt only when they changed.
#   localhost/kumo-webapp-web:1       web tier, port 8080 (COUNTER_URL or COUNTER_HOST/PORT):
#                                     examples/webapp/src/web.c compiled statically, alone
#   localhost/kumo-webapp-counter:1   counter database, port 7000 (counter.c, the same way)
#   localhost/kumo-mgmt:1             with KUMO given: a management tier's image (docs/design.md
#                                     §10 "Management workloads"): busybox (sh, wget, sleep,
#                                     httpd, ... from the Debian package busybox-static) in
#                                     /bin, the kumo CLI KUMO (stripped) in /usr/bin with the
#                                     shared libraries ldd lists for it, and each example's
#                                     management scripts, examples/NAME/mgmt/ as /opt/kumo/NAME/.
#                                     No CA certificates, no package manager, no shell but
#                                     busybox's; PATH=/bin:/usr/bin.
# usage: tools/images.sh [path/to/kumo]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kumo=${1:-}
podman="podman --runtime /usr/sbin/runc"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# import NAME IMAGE SUM CHANGE...: imports $work/NAME/rootfs as IMAGE labelled SUM unless the
# image already carries SUM.
import() {
    local name=$1 image=$2 sum=$3 have
    shift 3
    have=$($podman image inspect --format '{{index .Labels "kumo.sha256"}}' "$image" 2>/dev/null ||
        true)
    if [ "$have" = "$sum" ]; then
        echo "images: $image is up to date"
        return 0
    fi
    tar -C "$work/$name/rootfs" -cf "$work/$name.tar" .
    local changes=()
    for c in "$@" "LABEL kumo.sha256=$sum"; do changes+=(--change "$c"); done
    $podman import --quiet "${changes[@]}" "$work/$name.tar" "$image" >/dev/null
    echo "images: built $image ($(du -sh "$work/$name/rootfs" | cut -f1))"
}

for prog in web counter; do
    mkdir -p "$work/$prog/rootfs/etc"
    gcc -static -O2 -Wall -Wextra -Werror -o "$work/$prog/rootfs/$prog" \
        "$root/examples/webapp/src/$prog.c"
    sum=$(sha256sum "$work/$prog/rootfs/$prog" | cut -c1-64)
    import "$prog" "localhost/kumo-webapp-$prog:1" "$sum" "CMD [\"/$prog\"]"
done

[ -n "$kumo" ] || exit 0
# ---- the management image ----
[ -x "$kumo" ] || { echo "images: $kumo is not an executable" >&2; exit 1; }
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    echo "images: a static /bin/busybox is needed (apt-get install busybox-static)" >&2
    exit 1
fi
r=$work/mgmt/rootfs
mkdir -p "$r/bin" "$r/usr/bin" "$r/etc" "$r/tmp" "$r/opt/kumo"
cp /bin/busybox "$r/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$r/bin/$applet"
done
strip -o "$r/usr/bin/kumo" "$kumo"
# Every library the dynamic loader resolves for kumo, and the loader itself, at its own path.
ldd "$kumo" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
    while read -r lib; do
        mkdir -p "$r$(dirname "$lib")"
        cp -L "$lib" "$r$lib"
    done
# Names: /etc/hosts (the runtime writes the workloads' names there), then DNS.
echo 'hosts: files dns' >"$r/etc/nsswitch.conf"
echo 'root:x:0:0:root:/tmp:/bin/sh' >"$r/etc/passwd"
for d in "$root"/examples/*/mgmt; do
    [ -d "$d" ] || continue
    name=$(basename "$(dirname "$d")")
    cp -R "$d" "$r/opt/kumo/$name"
done
# The hash of every path, link target and content (a directory listing in a fixed order).
sum=$(cd "$r" && find . -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
    if [ -L "$f" ]; then
        echo "l $f $(readlink "$f")"
    elif [ -f "$f" ]; then
        echo "f $f $(stat -c %a "$f") $(sha256sum <"$f" | cut -c1-64)"
    else
        echo "d $f"
    fi
done | sha256sum | cut -c1-64)
import mgmt localhost/kumo-mgmt:1 "$sum" "ENV PATH=/bin:/usr/bin" 'CMD ["/bin/sh"]'
