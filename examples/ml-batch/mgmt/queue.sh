#!/bin/sh
# queue.sh - ml-batch's job queue: busybox httpd on port 8000 serving the CGI scripts of
# www/cgi-bin, the jobs as files under /data/q (a persistent volume: they outlive container
# restarts, which every new version of the deployment brings):
#   GET /cgi-bin/push?n=N    adds N jobs (1..1000), prints their ids
#   GET /cgi-bin/pop         takes the oldest pending job for a worker: prints its id, or
#                            nothing when none waits
#   GET /cgi-bin/done?id=ID  the job is done
#   GET /cgi-bin/stats       "pending P taken T done D"; a job taken more than 30 s ago
#                            (its worker went away: the group was resized) is pending again
set -eu
mkdir -p /data/q/pending /data/q/taken /data/q/done
echo "queue: serving on :8000, $(ls /data/q/pending | wc -l) jobs pending"
exec httpd -f -p 8000 -h /opt/kumo/ml-batch/www
