#!/usr/bin/env bash
# images.sh - builds the example workloads' container images offline: each program in
# examples/webapp/src is compiled statically and imported with `podman import` as a one-file
# rootfs (the binary as its entrypoint). Images are tagged with the binary's hash
# (kumo.sha256 label) and rebuilt only when it changed.
#   localhost/kumo-webapp-web:1       web tier, port 8080 (COUNTER_URL or COUNTER_HOST/PORT)
#   localhost/kumo-webapp-counter:1   counter database, port 7000
# usage: tools/images.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
podman="podman --runtime /usr/sbin/runc"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for prog in web counter; do
    image=localhost/kumo-webapp-$prog:1
    mkdir -p "$work/$prog/rootfs/etc"
    gcc -static -O2 -Wall -Wextra -Werror -o "$work/$prog/rootfs/$prog" \
        "$root/examples/webapp/src/$prog.c"
    sum=$(sha256sum "$work/$prog/rootfs/$prog" | cut -c1-64)
    have=$($podman image inspect --format '{{index .Labels "kumo.sha256"}}' "$image" 2>/dev/null ||
        true)
    if [ "$have" = "$sum" ]; then
        echo "images: $image is up to date"
        continue
    fi
    tar -C "$work/$prog/rootfs" -cf "$work/$prog.tar" .
    $podman import --quiet --change "CMD [\"/$prog\"]" --change "LABEL kumo.sha256=$sum" \
        "$work/$prog.tar" "$image" >/dev/null
    echo "images: built $image ($(du -h "$work/$prog/rootfs/$prog" | cut -f1))"
done
