# lib.sh - what the queue's CGI scripts share (sourced): the queue's folders, the query's
# parameters, the answer's header.
q=${QUEUE_DIR:-/data/q} # httpd passes its environment on
param() { # param NAME: the value of NAME in the query string (letters, digits, '-' only)
    echo "${QUERY_STRING:-}" | tr '&' '\n' | sed -n "s/^$1=\([0-9A-Za-z-]*\)$/\1/p" | head -n 1
}
answer() { printf 'Content-Type: text/plain\r\n\r\n'; }
# Jobs taken more than 30 s ago go back to pending (their worker is gone).
requeue() {
    now=$(date +%s)
    for f in "$q"/taken/*; do
        [ -f "$f" ] || continue
        t=$(cat "$f" 2>/dev/null || echo "$now")
        [ $((now - t)) -le 30 ] || mv "$f" "$q/pending/${f##*/}" 2>/dev/null || true
    done
}
