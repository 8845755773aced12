#!/bin/sh
# render.sh TEMPLATE WORKERS GEN - prints the ml-batch stack for WORKERS workers: the template
# with @WORKERS@ and @GEN@ (the worker group's generation: a removed group's name cannot come
# back, so each return of the group takes a new one) filled in and the marker lines dropped;
# with 0 workers, without the lines between the markers (no worker group at all).
set -eu
template=$1 workers=$2 gen=$3
case "$workers$gen" in *[!0-9]*) echo "render.sh: counts are numbers" >&2; exit 2 ;; esac
if [ "$workers" -eq 0 ]; then
    sed '/^ *#@workers$/,/^ *#@end$/d' "$template"
else
    sed -e '/^ *#@workers$/d' -e '/^ *#@end$/d' -e "s/@WORKERS@/$workers/g" -e "s/@GEN@/$gen/g" \
        "$template"
fi
