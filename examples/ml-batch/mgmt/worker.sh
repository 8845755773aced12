#!/bin/sh
# worker.sh - an ml-batch worker: pops a job from the queue ($QUEUE), works on it ($WORK_S
# seconds of simulated work), reports it done, and again; waits a second when none is pending.
set -u
echo "worker: $(hostname) polling $QUEUE"
while true; do
    # (busybox 1.35's wget -T crashes: timeout(1) bounds each request instead)
    id=$(timeout 10 wget -q -O - "$QUEUE/cgi-bin/pop" 2>/dev/null || true)
    if [ -z "$id" ]; then
        sleep 1
        continue
    fi
    echo "worker: job $id"
    sleep "${WORK_S:-2}"
    until timeout 10 wget -q -O /dev/null "$QUEUE/cgi-bin/done?id=$id" 2>/dev/null; do
        sleep 1 # the queue is restarting: keep the result until it answers
    done
    echo "worker: job $id done"
done
