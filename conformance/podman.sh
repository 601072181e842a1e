#!/bin/bash
# podman 4.3 (Debian) with conmon, driving hull as its OCI runtime: run, exit
# code, tty, exec (-i, -t, -d), pause/unpause, top, stats, update, kill,
# stop, logs, rm, create/init/start/restart/wait, rm -f, containers on an
# internal network with each backend (netavark, CNI), and hull's own error
# message reaching the podman user.
#
# Everything is private to $W (storage, run root, config, hull's --root);
# containers, networks, mounts and CNI state are removed at exit, also on failure.
#   conformance/podman.sh [HULL]      (default: target/release/hull)
set -euo pipefail
cd "$(dirname "$0")/.."

HULL=$(realpath "${1:-target/release/hull}")
W=${W:-/tmp/hull-conformance-podman}
T=60
PASSED=0
FAILED=0

say() { echo "[podman] $*" >&2; }
ok() { PASSED=$((PASSED + 1)); say "ok: $*"; }
bad() { FAILED=$((FAILED + 1)); say "FAILED: $*"; }
P() { timeout $T podman "$@"; }
status_of() { P inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }

for b in podman conmon script; do command -v "$b" >/dev/null || { say "missing $b: run hack/setup.sh"; exit 1; }; done
[ -x "$HULL" ] || { say "no hull binary at $HULL"; exit 1; }

export CONTAINERS_CONF=$W/containers.conf
export CONTAINERS_STORAGE_CONF=$W/storage.conf
export CONTAINERS_REGISTRIES_CONF=$W/registries.conf
export TMPDIR=$W/tmp

stop_everything() {
    set +e
    [ -f "$W/containers.conf" ] || return 0
    for conf in "$W/containers.conf" "$W/containers-cni.conf"; do
        CONTAINERS_CONF=$conf timeout $T podman rm -a -f -t 0 >/dev/null 2>&1
        for n in hullconf-netavark hullconf-cni; do
            CONTAINERS_CONF=$conf timeout $T podman network rm -f $n >/dev/null 2>&1
        done
    done
    # host-local IPAM keeps its leases outside $W for podman-made CNI configs.
    rm -rf /var/lib/cni/networks/hullconf-cni
    rm -f /var/lib/cni/results/hullconf-cni-* 2>/dev/null
    awk -v p="$W" '$2 ~ "^"p {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    true
}
finish() {
    local rc=$?
    set +e
    stop_everything
    rm -rf "$W"
    echo "podman: $PASSED passed, $FAILED failed"
    [ $FAILED = 0 ] && [ $rc = 0 ] && exit 0
    exit 1
}

if [ -d "$W" ]; then stop_everything; set -e; fi
rm -rf "$W"
mkdir -p "$W/tmp"
trap finish EXIT
./hack/images.sh "$W/images"

# podman passes no --root: the wrapper keeps hull's state private to $W,
# and notes the flags podman gives it.
cat > "$W/hull" <<EOF
#!/bin/sh
echo "\$*" >> "$W/hull-args.log"
exec "$HULL" --root "$W/hull-root" "\$@"
EOF
chmod +x "$W/hull"

# This host lacks CAP_SYS_RESOURCE: podman's default nofile/nproc limits are
# above the hard limits, so ask for what the host allows.
HN=$(ulimit -Hn); HU=$(ulimit -Hu); [ "$HU" = unlimited ] || [ "$HU" -gt 32768 ] && HU=32768
conf() { # file network-backend [runtime_supports_json line]
    cat > "$1" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=$HN:$HN", "nproc=$HU:$HU"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/events.log"
tmp_dir = "$W/run"
volume_path = "$W/volumes"
static_dir = "$W/storage/libpod"
runtime = "hull"
${3:-}
[engine.runtimes]
hull = ["$W/hull"]
[network]
network_backend = "$2"
network_config_dir = "$W/networks-$2"
cni_plugin_dirs = ["/usr/lib/cni"]
EOF
}
conf "$W/containers.conf" netavark
conf "$W/containers-cni.conf" cni
# What the README tells podman users: name hull among the runtimes that take
# --log and --log-format json, so its messages go to the log podman reads.
conf "$W/containers-json.conf" netavark 'runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "hull"]'
printf '[storage]\ndriver = "overlay"\nrunroot = "%s/runroot"\ngraphroot = "%s/storage"\n' "$W" "$W" > "$W/storage.conf"
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' > "$W/registries.conf"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$W/policy.json"

P info --format '{{.Host.OCIRuntime.Path}}' | grep -qx "$W/hull" && ok "podman uses hull" || bad "runtime: $(P info --format '{{.Host.OCIRuntime.Path}}')"
P load --signature-policy "$W/policy.json" -q -i "$W/images/busybox-oci.tar" >/dev/null
IMG=$(P images -q | head -1)
P load --signature-policy "$W/policy.json" -q -i "$W/images/multilayer-oci.tar" >/dev/null
MULTI=$(P images -q | grep -v "^$IMG" | head -1)
[ -n "$IMG" ] && ok "image loaded" || bad "load"

out=$(P run --rm "$IMG" echo hello-from-hull) || true
[ "$out" = hello-from-hull ] && ok "run --rm prints" || bad "run: $out"
out=$(P run --rm "$MULTI") || true
grep -qx new.txt <<<"$out" && ! grep -q 'deleted.txt\|old.txt' <<<"$out" && grep -q 'layer2: modified' <<<"$out" \
    && grep -qx /data <<<"$out" && ok "multilayer image (whiteout, opaque dir, WorkingDir, Cmd)" || bad "multilayer: $out"
set +e; P run --rm "$IMG" sh -c 'exit 7'; rc=$?; set -e
[ $rc = 7 ] && ok "exit code" || bad "exit code $rc"
out=$(timeout $T script -qec "podman run --rm -t $IMG sh -c 'tty; echo tty-done'" /dev/null | tr -d '\r') || true
grep -q /dev/pts/0 <<<"$out" && grep -q tty-done <<<"$out" && ok "run -t" || bad "run -t: $out"

P run -d --name bg "$IMG" sh -c 'trap "echo got-term; exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
[ "$(status_of bg)" = running ] && ok "run -d" || bad "bg: $(status_of bg)"
out=$(P exec bg sh -c 'echo exec-done; cat /data/marker') || true
grep -q exec-done <<<"$out" && grep -q hull-image <<<"$out" && ok "exec" || bad "exec: $out"
out=$(echo through-stdin | P exec -i bg cat) || true
[ "$out" = through-stdin ] && ok "exec -i" || bad "exec -i: $out"
out=$(timeout $T script -qec "podman exec -t bg tty" /dev/null | tr -d '\r') || true
grep -q /dev/pts/ <<<"$out" && ok "exec -t" || bad "exec -t: $out"
P exec -d bg sleep 1 >/dev/null && ok "exec -d" || bad "exec -d"
P pause bg >/dev/null; [ "$(status_of bg)" = paused ] && ok "pause" || bad "pause: $(status_of bg)"
P unpause bg >/dev/null; [ "$(status_of bg)" = running ] && ok "unpause" || bad "unpause: $(status_of bg)"
P top bg >/dev/null && ok "top" || bad "top"
P stats --no-stream --format '{{.Name}}' bg | grep -qx bg && ok "stats" || bad "stats"
P update --memory 64m --cpu-shares 512 bg >/dev/null
cid=$(P inspect -f '{{.Id}}' bg)
lim=$(cat /sys/fs/cgroup/memory/libpod_parent/libpod-$cid/memory.limit_in_bytes 2>/dev/null || echo "?")
[ "$lim" = 67108864 ] && ok "update" || bad "update: memory.limit_in_bytes=$lim"
P kill -s USR1 bg >/dev/null; [ "$(status_of bg)" = running ] && ok "kill -s USR1 (trapped)" || bad "USR1"
P stop -t 5 bg >/dev/null
[ "$(P inspect -f '{{.State.ExitCode}}' bg)" = 0 ] && P logs bg | grep -q got-term && ok "stop sends SIGTERM" || bad "stop"
P rm bg >/dev/null && ok "rm" || bad "rm"

P create --name c1 "$IMG" sleep 300 >/dev/null
P init c1 >/dev/null; [ "$(status_of c1)" = initialized ] && ok "create + init" || bad "init: $(status_of c1)"
P start c1 >/dev/null; [ "$(status_of c1)" = running ] && ok "start" || bad "start: $(status_of c1)"
P restart -t 0 c1 >/dev/null; [ "$(status_of c1)" = running ] && ok "restart" || bad "restart: $(status_of c1)"
P kill c1 >/dev/null; P wait c1 >/dev/null && ok "kill + wait" || bad "wait"
P rm c1 >/dev/null
P run -d --name c2 "$IMG" sleep 300 >/dev/null; P rm -f -t 0 c2 >/dev/null && ok "rm -f" || bad "rm -f"

set +e; out=$(P run --rm "$IMG" /no/such/binary 2>&1); rc=$?; set -e
[ $rc != 0 ] && grep -q '/no/such/binary' <<<"$out" && grep -q 'process.args\[0\]' <<<"$out" \
    && ok "a failing create shows hull's error through podman" || bad "failing create: rc=$rc $out"

# The flags that change the runtime config and broke before (issue 18).
out=$(P run --rm --read-only "$IMG" sh -c 'touch /tmp/a /run/b /var/tmp/c && echo ro-ok; touch /etc/x 2>/dev/null || echo root-ro') || true
[ "$out" = "$(printf 'ro-ok\nroot-ro')" ] && ok "run --read-only (tmpfs with tmpcopyup on /run, /tmp, /var/tmp)" || bad "--read-only: $out"
out=$(P run --rm --tmpfs /data:size=1m "$IMG" sh -c 'cat /data/marker; grep " /data " /proc/mounts | grep -o "size=[0-9]*k"') || true
grep -q hull-image <<<"$out" && grep -q size=1024k <<<"$out" && ok "run --tmpfs /data:size=1m keeps the image's files" || bad "--tmpfs: $out"
out=$(P run --rm --mount type=tmpfs,destination=/scratch,tmpfs-size=2m "$IMG" sh -c 'echo x > /scratch/f && cat /scratch/f') || true
[ "$out" = x ] && ok "run --mount type=tmpfs" || bad "--mount tmpfs: $out"
out=$(P run --rm --personality LINUX32 "$IMG" sh -c 'uname -m; cat /proc/self/personality') || true
want=$([ "$(uname -m)" = x86_64 ] && echo i686 || uname -m)
[ "$out" = "$(printf '%s\n00000008' "$want")" ] && ok "run --personality LINUX32" || bad "--personality: $out"

# Both ways of configuring podman: with hull in runtime_supports_json podman
# passes --log and --log-format json, and hull's errors still reach the user.
: > "$W/hull-args.log"
set +e; out=$(CONTAINERS_CONF=$W/containers-json.conf P run --rm "$IMG" /no/such/binary 2>&1); rc=$?; set -e
[ $rc != 0 ] && grep -q 'process.args\[0\]' <<<"$out" && grep -qE -- '--log-format[= ]json' "$W/hull-args.log" \
    && ok "runtime_supports_json: --log-format json given, the error shown" || bad "json log: rc=$rc $out $(head -c 300 "$W/hull-args.log")"
out=$(CONTAINERS_CONF=$W/containers-json.conf P run --rm "$IMG" echo json-conf-ok 2>&1) || true
[ "$out" = json-conf-ok ] && ok "runtime_supports_json: hull's output stays out of the container's" || bad "json conf run: $out"

network() { # backend subnet-prefix
    local be=$1 pfx=$2 net=hullconf-$1 conf=$W/containers.conf
    [ "$be" = cni ] && conf=$W/containers-cni.conf
    CONTAINERS_CONF=$conf P network create --internal --disable-dns --subnet "$pfx.0/24" $net >/dev/null
    CONTAINERS_CONF=$conf P run -d --name srv-$be --network $net --ip "$pfx.10" "$IMG" \
        sh -c "mkdir -p /www && echo served-over-$be > /www/index.html && exec httpd -f -p 8080 -h /www" >/dev/null
    # Bounded: a few tries at the server, three pings, all inside the test's own network.
    out=$(CONTAINERS_CONF=$conf P run --rm --network $net "$IMG" sh -c "
        for i in 1 2 3 4 5 6 7 8 9 10; do
            printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 $pfx.10 8080 | tail -n 1 | grep . && break; sleep 0.3
        done
        ping -c 3 -W 1 $pfx.10 | grep -o '[0-9] packets received'") || true
    CONTAINERS_CONF=$conf P rm -f -t 0 srv-$be >/dev/null
    CONTAINERS_CONF=$conf P network rm $net >/dev/null
    grep -q "served-over-$be" <<<"$out" && grep -q '3 packets received' <<<"$out" \
        && ok "network ($be): http + ping between containers" || bad "network $be: $out"
}
network netavark 10.89.87
network cni 10.89.88

left=$(ls "$W/hull-root" 2>/dev/null | wc -l)
[ "$left" = 0 ] && ok "no container state left" || bad "state left: $(ls "$W/hull-root")"
