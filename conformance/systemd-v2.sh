#!/bin/bash
# hull's systemd cgroup driver on a host with cgroup v2 alone, what kubeadm
# sets up on every current distribution (containerd with SystemdCgroup =
# true). conformance/systemd.sh runs a real systemd on this project's v1
# hybrid machines; this test boots one on cgroup v2: Debian's kernel under
# QEMU (conformance/vm.sh) with cgroup_no_v1=all, and as its root the Debian
# bookworm image with systemd and dbus (hack/debian-image.sh, cached) plus
# the static hull and busybox bundles. systemd is pid 1; a unit of its own
# runs conformance/systemd-v2-checks.sh once the boot is done, which starts
# containers with `hull --systemd-cgroup` and checks the scopes, their
# properties and the cgroup2 files (also after a daemon-reload), and a
# rootless container (uid 1000) whose scope its own systemd makes
# (user@1000.service; dbus-user-session is in the image for its session
# bus), and containerd's runc shim with SystemdCgroup running hull (the
# host's containerd, shim and ctr copied in), then powers the VM off.
#   conformance/systemd-v2.sh [HULL_BINARY]  Prints "systemd-v2: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
HULL=$(readlink -f "${1:-target/release/hull}")
IMAGE=${HULL_CACHE:-/var/cache/hull}/systemd-user
W=$(mktemp -d /tmp/hull-conformance-systemd-v2.XXXXXX)
say() { echo "[systemd-v2] $*" >&2; }
. conformance/vm.sh
# HULL_V2_KEEP=1 keeps the VM's files and console log, and says where.
trap '[ "${HULL_V2_KEEP:-}" = 1 ] && say "kept $W" || rm -rf "$W"' EXIT
for b in qemu-system-x86_64 cpio jq apt-get dpkg-deb umoci debootstrap; do
    command -v "$b" >/dev/null || { say "missing $b: run hack/setup.sh"; exit 1; }
done
[ -x "$HULL" ] || { say "no hull binary at $HULL"; exit 1; }
ldd "$HULL" 2>&1 | grep -qE 'not a dynamic|statically linked' || { say "$HULL is not static: build it with hack/build.sh"; exit 1; }

VMLINUZ=$(vm_kernel) || { say "no kernel"; echo "systemd-v2: 0 passed, 1 failed"; exit 1; }
./hack/debian-image.sh "$IMAGE" systemd systemd-sysv dbus dbus-user-session || { say "no systemd image"; echo "systemd-v2: 0 passed, 1 failed"; exit 1; }
umoci unpack --image "$IMAGE/oci:bookworm" "$W/image" >/dev/null || { say "cannot unpack $IMAGE"; exit 1; }
R=$W/image/rootfs
tr -d '-' < /proc/sys/kernel/random/uuid > "$R/etc/machine-id"
# The console is the checks' alone: no getty on it.
for u in console-getty serial-getty@ttyS0 getty@tty1; do ln -sf /dev/null "$R/etc/systemd/system/$u.service"; done
install -m 755 "$HULL" "$R/usr/local/bin/hull"
install -m 755 conformance/systemd-v2-checks.sh "$R/usr/local/sbin/hull-checks"
cp conformance/vm-checks-lib.sh "$R/checks-lib.sh"
cat > "$R/etc/systemd/system/hull-checks.service" <<'EOF'
[Unit]
Description=hull's systemd driver checks
Requires=dbus.socket
After=dbus.socket

[Service]
Type=simple
ExecStart=/bin/sh -c 'exec /usr/local/sbin/hull-checks >/dev/console 2>&1'
EOF
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -sf ../hull-checks.service "$R/etc/systemd/system/multi-user.target.wants/hull-checks.service"

# containerd, its runc shim and ctr (Debian's: libc alone, as the image's),
# run as kubeadm sets a node up: SystemdCgroup, hull as the shim's runc.
for b in containerd containerd-shim-runc-v2 ctr; do
    install -m 755 "$(command -v $b)" "$R/usr/local/bin/$b" || { say "no $b: run hack/setup.sh"; exit 1; }
done
./hack/images.sh "$W/images" && cp "$W/images/busybox-oci.tar" "$R/busybox-oci.tar" || { say "cannot build the busybox image"; exit 1; }
cat > "$R/etc/hull-containerd.toml" <<'EOF'
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
EOF

# The containers: busybox bundles, each config a jq edit of hull's default.
./hack/mkbundle.sh "$W/bundle" true >/dev/null
T=$R/var/lib/hulltest
mkdir -p "$T"
cp -a "$W/bundle/rootfs" "$T/rootfs"
case_of() {
    mkdir -p "$T/$1"
    jq ".root.path = \"/var/lib/hulltest/rootfs\" | .root.readonly = false | .hostname = \"$1\" | $2" \
        "$W/bundle/config.json" > "$T/$1/config.json"
}
M=$((1 << 20))
case_of ct1 ".process.args = [\"sleep\", \"1000\"] | .linux.cgroupsPath = \"system.slice:hulltest:ct1\"
    | .linux.resources += {memory: {limit: $((64 * M)), swap: $((96 * M)), reservation: $((32 * M))}, pids: {limit: 50},
        cpu: {shares: 512, quota: 50000, period: 100000, burst: 10000, cpus: \"0\", mems: \"0\"},
        blockIO: {weight: 500}, unified: {\"memory.high\": \"$((60 * M))\"}}"
case_of kube '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "kubepods-besteffort.slice:cri-containerd:abc"
    | .linux.resources += {pids: {limit: 20}}'
case_of short '.process.args = ["sleep", "1"] | .linux.cgroupsPath = "system.slice:hulltest:short" | .linux.resources += {pids: {limit: 5}}'
# Rootless (uid 1000, its own id mapped), its scope made by the user's own
# systemd (user@1000.service), as rootless podman runs on a systemd host.
vm_rootless_case "$HULL" "$T/rootless" /var/lib/hulltest/rootfs user.slice:hulltest:rl \
    "{\"pids\": {\"limit\": 10}, \"memory\": {\"limit\": $((32 * M))}}" \
    || { say "cannot make the rootless case"; exit 1; }
# Rootless podman's way: its runtime runs as root of the user's own user
# namespace; the container shares it.
mkdir -p "$T/userns" && jq '.linux.cgroupsPath = "user.slice:hulltest:rlns" | del(.linux.uidMappings, .linux.gidMappings)
    | .linux.namespaces |= map(select(.type != "user"))' "$T/rootless/config.json" > "$T/userns/config.json" \
    && mkdir -p "$T/userns-free" && jq '.linux.cgroupsPath = "user.slice:hulltest:free" | del(.linux.resources)' \
        "$T/userns/config.json" > "$T/userns-free/config.json" \
    || { say "cannot make the userns case"; exit 1; }
echo 'user:x:1000:1000:user:/home/user:/bin/sh' >> "$R/etc/passwd"
echo 'user:x:1000:' >> "$R/etc/group"
echo 'user:*:19000:0:99999:7:::' >> "$R/etc/shadow"
mkdir -p "$R/home/user" && chown 1000:1000 "$R/home/user"
case_of idle '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "system.slice:hulltest:idle"
    | .linux.resources += {cpu: {idle: 1, shares: 512}, pids: {limit: 0}}'
case_of props '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "system.slice:hulltest:props"
    | .annotations += {"org.systemd.property.TimeoutStopSec": "15", "org.systemd.property.CollectMode": "'"'inactive-or-failed'"'",
        "org.systemd.property.After": "['"'dbus.service'"']"}'
case_of badprop '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "system.slice:hulltest:badprop"
    | .annotations += {"org.systemd.property.TimeoutStopSec": "soon"}'
case_of plain '.process.args = ["sleep", "1000"] | del(.linux.cgroupsPath)'
# NOTIFY_SOCKET: the container says READY=1 a second after it starts, with
# tests/fixtures/sd-notify.c (busybox has no systemd-notify).
cc -O2 -static -o "$T/rootfs/sd-notify" tests/fixtures/sd-notify.c || { say "cannot build sd-notify"; exit 1; }
for n in notify notifyd; do
    case_of $n ".process.args = [\"sh\", \"-c\", \"sleep 1; /sd-notify READY=1; exec sleep 1000\"]
        | .linux.cgroupsPath = \"system.slice:hulltest:$n\""
done
case_of bad '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "system.slice:hulltest:bad"
    | .linux.resources += {cpu: {cpus: "99"}}'
case_of devices '.process.args = ["sh", "-c", "mknod /tmp/dev c 240 0; head -c 1 /tmp/dev 2>&1; head -c 1 /dev/zero | od -An -tx1"]
    | .linux.cgroupsPath = "system.slice:hulltest:devices"
    | .process.capabilities |= with_entries(.value += ["CAP_MKNOD"])'

vm_initramfs "$R" "$W/initrd.gz" /sbin/init || { say "cannot pack the initramfs"; exit 1; }
vm_boot "$VMLINUZ" "$W/initrd.gz" "$W/console.log" 2048 500 systemd.show_status=0
rc=$?
vm_results "$W/console.log"
vm_jsoncheck "$W/console.log" stats "events --stats of a scope: memory limit and usage, pids" \
    ".data.memory.usage.limit == $((128 * M)) and .data.memory.usage.usage > 0 and .data.pids.current == 1
     and .data.pids.limit == 60 and .data.cpu.usage.total > 0"
vm_done "$W/console.log" $rc
echo "systemd-v2: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]
