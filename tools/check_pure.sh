#!/usr/bin/env bash
# check_pure.sh - the pure modules (STYLE.md section 1) must not call the clock, randomness,
# files, sockets, threads, the event loop, curl or LMDB. Checks the undefined symbols of each
# pure static library of a build directory (the OS RNG helpers of crypto included).
# usage: tools/check_pure.sh build/debug
set -euo pipefail
dir=${1:?usage: check_pure.sh BUILD_DIR}
banned='^(time|clock_gettime|gettimeofday|rand|srand|random|getrandom|open|open64|openat|fopen|fopen64|socket|connect|pthread_.*|event_.*|evhttp_.*|curl_.*|mdb_.*|kumo_crypto_key_generate|kumo_crypto_random_fill)$'
fail=0
for mod in core codec crypto bank staking market chain consensus sdl; do
    lib="$dir/libkumo_$mod.a"
    [ -f "$lib" ] || { echo "check_pure: $lib missing"; fail=1; continue; }
    bad=$(nm -u "$lib" 2>/dev/null | awk '{print $2}' | sed 's/@.*//' | grep -E "$banned" | sort -u || true)
    if [ -n "$bad" ]; then
        echo "check_pure: $mod is pure but uses:" $bad
        fail=1
    fi
done
exit $fail
