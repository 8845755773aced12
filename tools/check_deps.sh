#!/usr/bin/env bash
# check_deps.sh - each module may include only the public headers of the modules STYLE.md
# allows it (and its own private headers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/src"
declare -A allow=(
  [core]="core"
  [log]="log"
  [file]="core file"
  [codec]="core codec"
  [crypto]="core crypto"
  [keyring]="core codec crypto keyring"
  [store]="core store"
  [bank]="core codec crypto bank"
  [staking]="core codec crypto bank staking"
  [market]="core codec crypto bank market"
  [chain]="core codec crypto bank staking market consensus chain"
  [consensus]="core crypto consensus"
  [sdl]="core codec crypto sdl"
  [tls]="core crypto tls"
  [wal]="core crypto wal"
  [p2p]="core log crypto tls p2p"
  [runtime]="core log file runtime"
  [overlay]="core log crypto tls overlay"
  [client]="core codec crypto client"
  [provider]="core log file codec crypto keyring store bank staking market chain sdl tls runtime overlay client provider"
  [node]="core log file codec crypto keyring store bank staking market chain consensus wal tls p2p node"
  [rpc]="core log codec crypto store bank staking market chain node rpc"
  [cli]="core log file codec crypto keyring store bank staking market chain consensus sdl tls wal p2p runtime overlay client node rpc provider cli"
)
fail=0
for mod in "${!allow[@]}"; do
    [ -d "$mod" ] || continue
    while IFS= read -r line; do
        file=${line%%:*}
        inc=$(echo "$line" | sed -E 's/.*#include "([a-z_]+)\/.*/\1/')
        case " ${allow[$mod]} " in
            *" $inc "*) ;;
            *) echo "check_deps: $file includes $inc/ (not allowed for $mod)"; fail=1 ;;
        esac
    done < <(grep -HnE '#include "[a-z_]+/' "$mod"/*.[ch] 2>/dev/null || true)
done
exit $fail
