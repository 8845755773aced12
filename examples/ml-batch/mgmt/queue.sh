#!/bin/sh
# queue.sh - ml-batch's job queue: busybox httpd on port 8000 serving the CGI scripts of
# www/cgi-bin, the jobs as files under /data/q (a persistent volume: they outlive container
# restarts, which a new version brings when it changes the queue's spec: its port's rules
# name the worker group, so the group going or coming back restarts it; a resize does not):
#   GET /cgi-bin/push?n=N    adds N jobs (1..1000), prints their ids
#   GET /cgi-bin/pop         takes the oldest pending job for a worker: prints its id, or
#                            nothing when none waits
#   GET /cgi-bin/done?id=ID  the job is done
#   GET /cgi-bin/stats       "pending P taken T done D"; a job taken more than 30 s ago
#                            (its worker went away: the group was resized) is pending again
# QUEUE_DIR and QUEUE_LISTEN (defaults /data/q and 8000) let tests run it outside a container.
set -eu
q=${QUEUE_DIR:-/data/q}
mkdir -p "$q/pending" "$q/taken" "$q/done"
echo "queue: serving on ${QUEUE_LISTEN:-8000}, $(find "$q/pending" -type f | wc -l) jobs pending"
exec busybox httpd -f -p "${QUEUE_LISTEN:-8000}" -h "$(cd "$(dirname "$0")" && pwd)/www"
