#!/bin/bash
# hull's systemd cgroup driver against a real systemd. This host has no
# systemd as init, so the test boots one: a Debian bookworm rootfs with
# systemd and dbus (hack/debian-image.sh, cached) runs /sbin/init as pid 1 in
# a container of the host's runc, with a cgroup namespace and a writable
# cgroup mount; inside it, `hull --systemd-cgroup run -d` starts a busybox
# container whose cgroupsPath is system.slice:hulltest:ct1. Checked: the
# scope unit is active with the limits as its properties, the limits are in
# the cgroup files and hold, the init is in the scope in every hierarchy, the
# device rules hold after a daemon-reload, and delete stops the unit and
# leaves no cgroup.
#   conformance/systemd.sh [HULL_BINARY]     Prints "systemd: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
HULL=$(readlink -f "${1:-target/release/hull}")
OUTER=/usr/sbin/runc
W=/tmp/hull-conformance-systemd
CT=hull-systemd-$$
IMAGE=${HULL_CACHE:-/var/cache/hull}/systemd
SCOPE=hulltest-ct1.scope
MEM=$((64 << 20))
PIDS=50
T=60
PASSED=0
FAILED=0
say() { echo "[systemd] $*" >&2; }
ok() { PASSED=$((PASSED + 1)); say "ok: $*"; }
bad() { FAILED=$((FAILED + 1)); say "FAILED: $*"; }
for b in "$OUTER" umoci jq script setsid debootstrap; do command -v "$b" >/dev/null || { say "missing $b: run hack/setup.sh"; exit 1; }; done
[ -x "$HULL" ] || { say "no hull binary at $HULL"; exit 1; }

R() { timeout -k 5 $T "$OUTER" --root "$W/state" "$@"; }
IN() { R exec "$CT" "$@"; }
status() { R state "$CT" 2>/dev/null | jq -r .status 2>/dev/null; }

teardown() {
    set +e
    if [ "$(status)" = running ]; then
        IN hull delete -f ct1 >/dev/null 2>&1
        R kill "$CT" 37 # SIGRTMIN+3: systemd powers off
        for _ in $(seq 150); do [ "$(status)" = running ] || break; sleep 0.2; done
        R kill "$CT" 9 2>/dev/null
    fi
    R delete -f "$CT" >/dev/null 2>&1
    [ -f "$W/script.pid" ] && timeout 10 tail --pid="$(cat "$W/script.pid")" -f /dev/null
    awk -v p="$W" '$2 ~ "^"p {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
}
finish() {
    local rc=$?
    [ $FAILED = 0 ] || { say "console:"; tail -n 10 "$W/console.log" >&2 2>/dev/null; }
    teardown
    echo "systemd: $PASSED passed, $FAILED failed"
    [ $FAILED = 0 ] && [ $rc = 0 ] && exit 0
    exit 1
}
teardown
mkdir -p "$W/state"
trap finish EXIT

./hack/debian-image.sh "$IMAGE" systemd systemd-sysv dbus || { bad "the systemd image"; exit 1; }
umoci unpack --image "$IMAGE/oci:bookworm" "$W/bundle" >/dev/null || { bad "unpack the systemd image"; exit 1; }
ROOTFS=$W/bundle/rootfs
tr -d '-' < /proc/sys/kernel/random/uuid > "$ROOTFS/etc/machine-id"
ln -sf /dev/null "$ROOTFS/etc/systemd/system/console-getty.service"
# The container hull runs in there: busybox, with a memory and a pids limit.
IB=$ROOTFS/var/lib/hulltest/ct1
mkdir -p "$IB/rootfs/bin"
cp /bin/busybox "$IB/rootfs/bin/busybox"
for a in sh sleep dd mknod head od; do ln -sf busybox "$IB/rootfs/bin/$a"; done
"$HULL" spec --bundle "$IB"
jq --argjson mem $MEM --argjson pids $PIDS '.process.terminal = false | .process.args = ["sleep", "3600"]
    | .linux.cgroupsPath = "system.slice:hulltest:ct1"
    | .linux.resources.memory = {limit: $mem} | .linux.resources.pids = {limit: $pids}' \
    "$IB/config.json" > "$IB/c.json" && mv "$IB/c.json" "$IB/config.json"

# systemd as pid 1: the host's capabilities, its own cgroup namespace with a
# writable cgroup mount, tmpfs on /run and /tmp, hull bound in read-only.
# Capability names in kernel order; those in this host's bounding set.
NAMES=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
    NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT
    SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
    AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ
    PERFMON BPF CHECKPOINT_RESTORE)
bnd=0x$(awk '/^CapBnd:/{print $2}' /proc/self/status)
caps=$(for i in "${!NAMES[@]}"; do (( (bnd >> i) & 1 )) && echo "CAP_${NAMES[$i]}"; done | jq -R . | jq -sc .)
hn=$(ulimit -Hn)
(cd "$W/bundle" && jq --argjson caps "$caps" --argjson hn "$hn" --arg hull "$HULL" --arg ct "$CT" '
    .process.terminal = true | .process.args = ["/sbin/init"] | .process.env += ["container=oci"]
  | .process.noNewPrivileges = false | .process.user = {uid: 0, gid: 0}
  | .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}
  | .process.rlimits = [{type: "RLIMIT_NOFILE", hard: $hn, soft: $hn}]
  | .root = {path: "rootfs", readonly: false} | .hostname = "systemd-ct"
  | .linux.namespaces = [{type: "pid"}, {type: "mount"}, {type: "ipc"}, {type: "uts"}, {type: "cgroup"}]
  | .linux.cgroupsPath = $ct | .linux.resources = {devices: [{allow: true, access: "rwm"}]}
  | .linux.maskedPaths = [] | .linux.readonlyPaths = [] | del(.linux.seccomp)
  | .mounts = [
      {destination: "/proc", type: "proc", source: "proc"},
      {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
      {destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
      {destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
      {destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]},
      {destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev"]},
      {destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "rw"]},
      {destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755", "size=64m"]},
      {destination: "/run/lock", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", "size=5m"]},
      {destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=256m"]},
      {destination: "/usr/local/bin/hull", type: "bind", source: $hull, options: ["bind", "ro"]}]
' config.json > c.json && mv c.json config.json)

# systemd writes its status only to a tty console: run it under script(1).
setsid script -q -f -c "exec $OUTER --root $W/state run --bundle $W/bundle $CT" "$W/console.log" </dev/null >/dev/null 2>&1 &
echo $! > "$W/script.pid"
st=""
for _ in $(seq 180); do
    st=$(IN systemctl is-system-running 2>/dev/null)
    case "$st" in running | degraded) break ;; esac
    sleep 0.5
done
case "$st" in running | degraded) ok "systemd booted ($st) as pid 1 of a container" ;; *) bad "systemd did not come up: '$st'"; exit 1 ;; esac

IN sh -c 'exec hull --systemd-cgroup run -d --bundle /var/lib/hulltest/ct1 ct1 </dev/null >/var/lib/hulltest/ct1.out 2>&1' \
    && ok "hull --systemd-cgroup run -d" || { bad "run: $(cat "$ROOTFS/var/lib/hulltest/ct1.out")"; exit 1; }
pid=$(IN hull state ct1 | jq -r .pid)
[ "$(IN systemctl is-active $SCOPE)" = active ] && ok "$SCOPE is active" || bad "$SCOPE: $(IN systemctl is-active $SCOPE)"
props=$(IN systemctl show -p Slice -p ControlGroup -p MemoryLimit -p TasksMax -p Delegate $SCOPE | sort | tr '\n' ' ')
[ "$props" = "ControlGroup=/system.slice/$SCOPE Delegate=yes MemoryLimit=$MEM Slice=system.slice TasksMax=$PIDS " ] \
    && ok "the unit carries the limits as its properties" || bad "properties: $props"
S=system.slice/$SCOPE
[ "$(IN cat /sys/fs/cgroup/memory/$S/memory.limit_in_bytes)" = $MEM ] && [ "$(IN cat /sys/fs/cgroup/pids/$S/pids.max)" = $PIDS ] \
    && ok "the limits are in the scope's cgroup files" || bad "cgroup files"
missing=""
for h in systemd memory pids freezer devices; do IN grep -qx "$pid" /sys/fs/cgroup/$h/$S/cgroup.procs || missing+=" $h"; done
[ -z "$missing" ] && ok "the init is in the scope in every hierarchy" || bad "init $pid not in:$missing"
# systemd writes a unit's device rules again on every reload: with none as
# the unit's properties, "a *:* rwm", every device. 240:0 has no driver: a
# refused open is EPERM, an allowed one reaches the kernel (ENXIO).
IN systemctl daemon-reload
out=$(IN hull exec --cap CAP_MKNOD ct1 sh -c 'mknod /dev/t240 c 240 0; head -c 1 /dev/t240; head -c 1 /dev/zero | od -An -tx1' 2>&1)
case "$out" in
    *"head: /dev/t240: Operation not permitted"*" 00"*) ok "after systemctl daemon-reload the device rules hold" ;;
    *) bad "after daemon-reload, a denied device: $out ($(IN cat /sys/fs/cgroup/devices/$S/devices.list | tr '\n' ' '))" ;;
esac
rc=0; err=$(IN hull exec ct1 dd if=/dev/zero of=/dev/null bs=100M count=1 2>&1 >/dev/null) || rc=$?
[ $rc = 137 ] && ok "the memory limit holds (a 100 MiB buffer is OOM-killed)" || bad "dd exited $rc: $err"
IN hull delete -f ct1 && ok "delete -f" || bad "delete -f"
[ "$(IN systemctl is-active $SCOPE)" != active ] && ! IN test -e /sys/fs/cgroup/memory/$S \
    && ok "delete stopped the unit and left no cgroup" || bad "left: $(IN systemctl is-active $SCOPE)"
