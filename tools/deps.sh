#!/usr/bin/env bash
# deps.sh - installs the Debian packages kumo needs that are missing. Idempotent; apt-get
# runs only when something is missing. Must run as root on Debian 12.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev clang-format
      clang-tidy cppcheck libcmocka-dev libevent-dev libssl-dev libsodium-dev liblmdb-dev
      lmdb-utils libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libjansson-dev
      libyaml-dev podman runc busybox-static uidmap nftables chromium nodejs
      gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to apt-get install ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
