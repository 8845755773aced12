#!/usr/bin/env bash
# test_shell.sh - `kumo deploy shell`, `kumo deploy logs` and `kumo deploy events` end to end with real processes and real containers: a
# kumo node (1 validator, 300 ms blocks), a private podman API service, one provider daemon,
# the tenant's deployment of a busybox workload (2 instances) and a second tenant's.
#
# Shown, in order:
#   1. an interactive session scripted through a pseudo-terminal: the prompt, a command and
#      its output, the window size as `stty size` sees it, again after the terminal was
#      resized (SIGWINCH), and the exit code of `exit 7` as the command's;
#   2. one-shot commands: stdin piped to the process and its end delivered, stdout and stderr
#      apart, the exit code passed back, another instance (WORKLOAD/1);
#   3. refusals with clear errors: a workload the stack does not have, an instance that does
#      not run, `kumo deploy shell` with another tenant's key, another tenant's deployment (403 at the provider, raw request with the
#      tenant's certificate), no client certificate (401), without the upgrade (400);
#   4. logs: `kumo deploy logs --follow` of a workload that crashes every few seconds, while
#      the provider daemon is killed (-9) and restarted: every line of every replaced
#      container once, in order, and the follower resumes by itself; a new shell session
#      works after the restart;
#   5. events: the chain's (the lease) and the provider's (ticker started, exited with code 3,
#      restarted) merged in time order; followed across the crashes and the daemon restart of
#      4: every event once, none lost; and --follow printing new ones as they happen.
# Every container and network of this run's provider is removed on exit, pass or fail.
#
# Usage: tests/e2e/test_shell.sh path/to/kumo   (KUMO_E2E_KEEP=1 keeps the files)
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh" shell "$1"
other_home=$LOCALDC_TN/provider7 # a funded key nobody else uses: the other tenant
ks() { "$kumo" deploy shell --home "$tenant_home" "$@"; } # options before `--`

# ---- set-up: an image with busybox's applets (stty among them) ----
image=localhost/kumo-e2e-shell:1
if ! podman image exists "$image" 2>/dev/null; then
    mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
    cp /bin/busybox "$work/rootfs/bin/"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"
    done
    echo "root:x:0:0:root:/:/bin/sh" >"$work/rootfs/etc/passwd"
    tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
    podman --runtime /usr/sbin/runc import --quiet --change 'CMD ["/bin/sleep", "3600"]' \
        "$work/rootfs.tar" "$image" >/dev/null
fi
localdc_podman_start
localdc_testnet_start 1 300 1000 # leases confirmed within 300 s: a loaded machine starts containers slowly
localdc_provider_add dc us-east
tenant=$(k keys show tenant --address)
other=$("$kumo" keys show provider --address --home "$other_home")
stack() { # stack FILE WORKLOAD COUNT
    cat >"$1" <<EOF
version: "1"
groups:
  main:
    region: us-east
    resources:
      - cpu: 100m
        memory: 64Mi
        storage: 64Mi
        count: $3
        price: 100
        collateral: 1000
workloads:
  $2:
    image: $image
    command: ["/bin/sleep", "3600"]
    compute:
      cpu: 100m
      memory: 64Mi
      storage: 64Mi
    count: $3
    group: main
wait_blocks: 3
deposit: 5000000
EOF
}
# The tenant's stack: box (2 instances) and ticker, which counts to 30 and then crashes
# (exit 3), so the provider replaces its container every few seconds.
cat >"$work/stack.yml" <<EOF
version: "1"
groups:
  main:
    region: us-east
    resources:
      - cpu: 100m
        memory: 64Mi
        storage: 64Mi
        count: 3
        price: 100
        collateral: 1000
workloads:
  box:
    image: $image
    command: ["/bin/sleep", "3600"]
    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}
    count: 2
    group: main
  ticker:
    image: $image
    command: ["/bin/sh", "-c", "echo boot; i=0; while :; do i=\$((i+1)); echo n=\$i; sleep 0.2; [ \$i -ge 30 ] && exit 3; done"]
    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}
    count: 1
    group: main
wait_blocks: 3
deposit: 5000000
EOF
mkdir -p "$work/other"
stack "$work/other/stack.yml" secret 1
# Both tenants deploy at once (the test stays short).
"$kumo" deploy create "$work/other/stack.yml" --from provider --home "$other_home" --timeout 400 \
    >"$work/create-other.out" 2>&1 &
other_create=$!
k deploy create "$work/stack.yml" --from tenant --timeout 400 >"$work/create.out" 2>&1 ||
    { cat "$work/create.out"; fail "kumo deploy create"; }
wait "$other_create" || { cat "$work/create-other.out"; fail "the other tenant's create"; }
dseq=$(grep -o '"dseq": *"[0-9]*' "$work/.kumo-deploy-stack.yml.json" | grep -o '[0-9]*$')
other_dseq=$(grep -o '"dseq": *"[0-9]*' "$work/other/.kumo-deploy-stack.yml.json" | grep -o '[0-9]*$')
log "tenant $tenant deployment $dseq; other $other deployment $other_dseq"

# ---- 1. an interactive session through a pseudo-terminal ----
# term.py runs the command on a pseudo-terminal of 30x100, then: waits for the prompt, sends
# "stty size", resizes the terminal to 41x132, sends "stty size" and "exit 7"; it prints
# everything the terminal showed and exits with the command's exit code.
cat >"$work/term.py" <<'EOF'
import fcntl, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def size(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
size(30, 100)
seen = b""
def until(needle, secs=60):
    global seen
    deadline = time.time() + secs
    while needle not in seen:
        if time.time() > deadline:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit(100)
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                break
            seen += data
until(b"# ")
os.write(fd, b"stty size; echo mark-$((6*7))\r")
until(b"mark-42")
size(41, 132)
os.kill(pid, 28)  # SIGWINCH, as the kernel sends to the foreground group
time.sleep(1)
os.write(fd, b"stty size; echo mark-$((7*7))\r")
until(b"mark-49")
os.write(fd, b"exit 7\r")
_, status = os.waitpid(pid, 0)
try:
    while True:
        data = os.read(fd, 4096)
        if not data:
            break
        seen += data
except OSError:
    pass
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 101)
EOF
set +e
python3 "$work/term.py" "$kumo" deploy shell "$work/stack.yml" box --home "$tenant_home" \
    >"$work/pty.out" 2>&1
code=$?
set -e
cat "$work/pty.out"
check "interactive: the exit code of 'exit 7' is the command's" test "$code" -eq 7
check "interactive: the command ran (its output came back)" grep -q "mark-42" "$work/pty.out"
check "interactive: the window size at the start" grep -q "30 100" "$work/pty.out"
check "interactive: the window size after the resize" grep -q "41 132" "$work/pty.out"

# ---- 2. one-shot commands ----
set +e
out=$(printf 'one\ntwo\n' | ks "$work/stack.yml" box -- sh -c 'cat; echo to-stderr >&2; exit 3' 2>"$work/err.out")
code=$?
set -e
printf 'piped: exit %s, stdout [%s], stderr [%s]\n' "$code" "$out" "$(cat "$work/err.out")"
check "piped: stdin reached the process and its end was delivered" test "$out" = "$(printf 'one\ntwo')"
check "piped: stderr apart" grep -qx "to-stderr" "$work/err.out"
check "piped: the exit code passed back" test "$code" -eq 3
check "instance 1 by WORKLOAD/1" test "$(ks "$work/stack.yml" box/1 -- hostname </dev/null)" != "$(ks "$work/stack.yml" box/0 -- hostname </dev/null)"

# ---- 3. refusals ----
set +e
ks "$work/stack.yml" nosuch -- true </dev/null >/dev/null 2>"$work/r1.out"
c1=$?
ks "$work/stack.yml" box/5 -- true </dev/null >/dev/null 2>"$work/r2.out"
c2=$?
set -e
cat "$work/r1.out" "$work/r2.out"
check "a workload the stack does not have: refused" test "$c1" -ne 0
check "  with a clear error" grep -q "has no workload 'nosuch'" "$work/r1.out"
check "an instance that does not run: refused" test "$c2" -ne 0
check "  with a clear error" grep -q "no instance 5 of workload 'box'" "$work/r2.out"
set +e
"$kumo" deploy shell "$work/stack.yml" box --home "$other_home" --from provider -- true \
    </dev/null >/dev/null 2>"$work/r3.out"
c3=$?
set -e
cat "$work/r3.out"
check "kumo deploy shell with another tenant's key: refused" test "$c3" -ne 0
check "  naming the owner" grep -q "belongs to $tenant" "$work/r3.out"
# Raw requests with the tenant's certificate (made like kumo deploy makes it).
seed=$(k keys export tenant --unsafe-export-seed | tr -d '\n')
der_hex="302e020100300506032b657004220420$seed"
{
    echo "-----BEGIN PRIVATE KEY-----"
    printf '%b' "$(echo "$der_hex" | sed 's/../\\x&/g')" | base64 -w0
    printf '\n%s\n' "-----END PRIVATE KEY-----"
} >"$work/tenant.key"
chmod 600 "$work/tenant.key"
openssl req -x509 -new -key "$work/tenant.key" -subj /CN=tenant -days 1 -out "$work/tenant.crt" 2>/dev/null
api=$(awk '$1 == "api_listen:" { gsub(/"/, "", $2); print $2 }' "$LOCALDC_TN/dc/config.yaml")
shell_put() { # shell_put AUTH OWNER DSEQ BODY [UPGRADE]: prints status and body
    local auth=() up=(-H "Connection: Upgrade" -H "Upgrade: kumo-shell/1")
    [ "$1" = none ] || auth=(--cert "$work/tenant.crt" --key "$work/tenant.key")
    [ "${5:-yes}" = yes ] || up=()
    curl -s -w ' %{http_code}' --max-time 20 --cacert "$LOCALDC_TN/dc/ca.crt" "${auth[@]}" \
        "${up[@]}" -X PUT --data "$4" "https://$api/deployments/$2/$3/shell" || true
}
r=$(shell_put tenant "$other" "$other_dseq" '{"workload":"secret"}')
echo "$r"
check "another tenant's deployment: 403" test "${r##* }" = 403
check "  only the owner" grep -q "only the deployment's owner" <<<"$r"
r=$(shell_put none "$tenant" "$dseq" '{"workload":"box"}')
check "no client certificate: 401" test "${r##* }" = 401
r=$(shell_put tenant "$tenant" "$dseq" '{"workload":"box"}' no)
check "without the upgrade: 400" test "${r##* }" = 400
r=$(shell_put tenant "$tenant" "$dseq" '{"workload":"box","env":[]}')
check "a malformed request: 400" test "${r##* }" = 400
r=$(shell_put tenant "$tenant" 999999 '{"workload":"box"}')
check "a deployment that does not exist: 404" test "${r##* }" = 404

# ---- 4. logs followed across container crashes and a daemon restart ----
# ticker prints boot, n=1..30 and crashes; every replaced container's lines must come through
# once each, in order, while the follower also rides out a kill -9 and restart of the daemon.
"$kumo" deploy logs "$work/stack.yml" ticker --follow --since 1 --home "$tenant_home" \
    >"$work/follow.out" 2>"$work/follow.err" &
follower=$!
# The events too, followed from before the crashes and the restart (checked in 5).
"$kumo" deploy events "$work/stack.yml" --follow --home "$tenant_home" \
    >"$work/events-restart.out" 2>"$work/events-restart.err" &
ev_follower=$!
boots() { [ "$(grep -c '^ticker/0 boot$' "$work/follow.out")" -ge "$1" ]; }
wait_for 90 "two boots of ticker in the followed logs" boots 2 || fail "no crash seen in the logs"
kill -9 "${DC_PID[dc]}"
wait "${DC_PID[dc]}" 2>/dev/null || true
sleep 3 # ticker goes on writing (and may crash) while nobody serves its logs
restart_at=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
localdc_provider_start dc
listening_again() { [ "$(grep -c api_listening "$work/dc.log")" -ge 2 ]; }
wait_for 60 "the daemon's API again" listening_again || fail "the daemon did not come back"
check "after a daemon restart a new session works" test "$(ks "$work/stack.yml" box -- echo again </dev/null)" = again
before=$(grep -c '^ticker/0 boot$' "$work/follow.out")
wait_for 90 "another boot after the restart" boots $((before + 1)) || fail "the follower stopped"
# The events follower, likewise: an exit and a restart of ticker after the daemon's.
ev_after() {
    awk -v t="$restart_at" '$1 > t && $2 == "provider" && $3 == "restarted"' \
        "$work/events-restart.out" | grep -q . &&
        awk -v t="$restart_at" '$1 > t && $2 == "provider" && $3 == "exited"' \
            "$work/events-restart.out" | grep -q .
}
wait_for 90 "ticker's events after the restart" ev_after || fail "the events follower stopped"
kill "$follower" "$ev_follower"
wait "$follower" 2>/dev/null || true
wait "$ev_follower" 2>/dev/null || true
cat "$work/follow.err"
check "the follower noticed the restart and resumed" grep -q "resumed" "$work/follow.err"
# Every segment from one boot to the next is n=1..30 exactly (the last one n=1..k).
seq_ok() {
    awk '$1 != "ticker/0" { bad = 1 }
         $2 == "boot" { if (seen && n != 30) bad = 1; seen = 1; n = 0; next }
         { split($2, kv, "="); if (kv[2] != n + 1) bad = 1; n = kv[2] }
         END { exit bad || !seen }' "$work/follow.out"
}
check "logs: $(grep -c '^ticker/0 boot$' "$work/follow.out") containers of ticker, every line once, in order" seq_ok

# ---- 5. events: the chain's and the provider's, merged in time order ----
"$kumo" deploy events "$work/stack.yml" --home "$tenant_home" >"$work/events.out" 2>&1 ||
    { cat "$work/events.out"; fail "kumo deploy events"; }
cat "$work/events.out"
check "events: the lease from the chain" grep -q "chain .*lease.created" "$work/events.out"
check "events: ticker started at the provider" grep -q "provider started ticker/0" "$work/events.out"
check "events: ticker exited with its code" grep -q "provider exited ticker/0 code=3" "$work/events.out"
check "events: ticker restarted" grep -q "provider restarted ticker/0" "$work/events.out"
check "events: in time order" sh -c "cut -d' ' -f1 '$work/events.out' | sort -c"
# What the follower printed across the crashes and the daemon restart: no line twice, and
# every event before its last line's millisecond (the listing above) exactly once, none lost.
cat "$work/events-restart.err"
last=$(tail -n 1 "$work/events-restart.out" | cut -d' ' -f1)
awk -v last="$last" '$1 < last' "$work/events.out" | sort >"$work/events-upto.sorted"
awk -v last="$last" '$1 < last' "$work/events-restart.out" | sort >"$work/events-restart.sorted"
check "events followed across the restart: $(wc -l <"$work/events-restart.out") events, none twice" \
    test -z "$(sort "$work/events-restart.out" | uniq -d)"
check "  the restart was seen (the follower resumed)" grep -q "resumed" "$work/events-restart.err"
check "  and crashes before and after it: several exits" \
    test "$(grep -c 'provider exited ticker/0 code=3' "$work/events-restart.out")" -ge 2
check "  none lost: the same events as the listing up to its last line" \
    cmp -s "$work/events-upto.sorted" "$work/events-restart.sorted"
"$kumo" deploy events "$work/stack.yml" --follow --home "$tenant_home" >"$work/events-follow.out" 2>&1 &
evf=$!
exits() { [ "$(grep -c 'exited ticker/0' "$work/events-follow.out")" -gt "$(grep -c 'exited ticker/0' "$work/events.out")" ]; }
wait_for 60 "a new exit in the followed events" exits || fail "events --follow printed no new exit"
kill "$evf"
wait "$evf" 2>/dev/null || true
check "events --follow: new exits arrive" exits

log "all $checks checks passed"
