#!/bin/sh
# render.sh TEMPLATE [NAME:REGION | REGION]... - prints the latency example's stack with these
# web groups: TEMPLATE (stack.tmpl, its other placeholders filled) with each "#@edge" ...
# "#@end" block repeated once per web group, @NAME@ and @REGION@ in it replaced (a plain
# REGION names the group after its region), groups sorted by name. tools/example.sh renders
# the first stack with it (example.conf RENDER_ARGS), the controller every later one.
set -eu
template=$1
shift
for g in "$@"; do
    case $g in
    *[!a-z0-9:-]* | :* | *: | *:*:*)
        echo "render.sh: '$g' is not NAME:REGION" >&2
        exit 2
        ;;
    esac
done
groups=$(printf '%s\n' "$@" | sort -u | tr '\n' ' ')
awk -v groups="$groups" '
    /^#@edge$/ { inblock = 1; block = ""; next }
    /^#@end$/ {
        n = split(groups, g, " ")
        for (i = 1; i <= n; i++) {
            name = g[i]; region = g[i]; c = index(g[i], ":")
            if (c > 0) { name = substr(g[i], 1, c - 1); region = substr(g[i], c + 1) }
            t = block; gsub(/@NAME@/, name, t); gsub(/@REGION@/, region, t); printf "%s", t
        }
        inblock = 0
        next
    }
    inblock { block = block $0 "\n"; next }
    { print }
' "$template"
