#!/bin/bash
# The Kubernetes path: a private containerd 1.6 with its CRI plugin and a
# runtime handler "hull" (io.containerd.runc.v2, BinaryName = the runtime
# under test), CNI bridge + host-local + loopback on a private subnet with no
# masquerade, driven over CRI by conformance/cri/client.py as a kubelet
# would; then nothing may be left: no shim, task, container, active
# snapshot, netns, mount, cgroup, runtime state or IP reservation.
#   conformance/cri.sh [RUNTIME_BINARY]   (runc works too: that is how the
#                                          test itself is checked)
# Prints "cri: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
RUNTIME=$(readlink -f "${1:-target/release/hull}")
W=/tmp/hull-conformance-cri
SOCK=$W/containerd.sock
NS=k8s.io
PARENT=/hull-cri-$$
SUBNET=10.89.91
T=60
PASSED=0
FAILED=0
say() { echo "[cri] $*" >&2; }
ok() { PASSED=$((PASSED + 1)); say "ok: $*"; }
bad() { FAILED=$((FAILED + 1)); say "FAILED: $*"; }
CTR() { timeout $T ctr -a "$SOCK" -n $NS "$@"; }
PY=/usr/bin/python3

for b in containerd ctr containerd-shim-runc-v2 umoci; do command -v "$b" >/dev/null || { say "missing $b: run hack/setup.sh"; exit 1; }; done
$PY -c 'import grpc, grpc_tools' 2>/dev/null || { say "missing python3-grpcio/python3-grpc-tools: run hack/setup.sh"; exit 1; }
[ -x "$RUNTIME" ] || { say "no runtime binary at $RUNTIME"; exit 1; }

netns_list() { ls /var/run/netns 2>/dev/null | sort; }
stop_everything() {
    set +e
    if [ -S "$SOCK" ]; then
        for t in $(CTR task ls -q 2>/dev/null); do CTR task kill -a -s SIGKILL "$t" >/dev/null 2>&1; CTR task rm -f "$t" >/dev/null 2>&1; done
        for c in $(CTR c ls -q 2>/dev/null); do CTR c rm "$c" >/dev/null 2>&1; done
    fi
    if [ -f "$W/containerd.pid" ]; then
        p=$(cat "$W/containerd.pid"); kill "$p" 2>/dev/null
        timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null
        rm -f "$W/containerd.pid"
    fi
    for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    for n in $(comm -13 <(cat "$W/netns.before" 2>/dev/null) <(netns_list)); do ip netns delete "$n" 2>/dev/null; done
    ip link delete hullcri0 2>/dev/null
    awk -v p="$W" '$2 ~ "^"p {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    for h in /sys/fs/cgroup/*; do find "$h${PARENT}" -depth -type d -exec rmdir {} \; 2>/dev/null; done
    true
}
finish() {
    local rc=$?
    set +e
    [ $FAILED = 0 ] || { say "containerd log tail:"; tail -n 20 "$W/containerd.log" >&2 2>/dev/null; }
    stop_everything
    rm -rf "$W"
    echo "cri: $PASSED passed, $FAILED failed"
    [ $FAILED = 0 ] && [ $rc = 0 ] && exit 0
    exit 1
}
[ -d "$W" ] && stop_everything
rm -rf "$W"
mkdir -p "$W/cni" "$W/images" "$W/logs" "$W/hostpath" "$W/emptydir-memory"
echo from-the-host > "$W/hostpath/file"
trap finish EXIT
# An emptyDir with medium Memory, as the kubelet makes it: a tmpfs on the host, bound in.
mount -t tmpfs -o size=4m tmpfs "$W/emptydir-memory" && chmod 1777 "$W/emptydir-memory"
netns_list > "$W/netns.before"

# The images: busybox, and a sandbox ("pause") image whose command sleeps.
./hack/images.sh "$W/images" >/dev/null
mkdir -p "$W/layout" && tar -xf "$W/images/busybox-oci.tar" -C "$W/layout"
umoci config --image "$W/layout:latest" --tag latest --config.cmd sleep --config.cmd 2000000000 >/dev/null
(cd "$W/layout" && tar -cf "$W/images/pause-oci.tar" .)

cat > "$W/runtime" <<EOF
#!/bin/sh
echo "\$*" >> "$W/runtime-argv.log"
exec "$RUNTIME" "\$@"
EOF
chmod +x "$W/runtime"

cat > "$W/cni/10-hullcri.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "hullcri",
  "plugins": [
    {"type": "bridge", "bridge": "hullcri0", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "dataDir": "$W/ipam",
              "ranges": [[{"subnet": "$SUBNET.0/24", "gateway": "$SUBNET.1"}]]}},
    {"type": "loopback"}
  ]
}
EOF

cat > "$W/config.toml" <<EOF
version = 2
root = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$W/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/pause:latest"
    # This host lacks CAP_SYS_RESOURCE: no oom_score_adj below containerd's own.
    restrict_oom_score_adj = true
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$W/cni"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull.options]
          BinaryName = "$W/runtime"
          Root = "$W/runtime-root"
          SystemdCgroup = false
EOF
containerd --config "$W/config.toml" > "$W/containerd.log" 2>&1 &
echo $! > "$W/containerd.pid"
for _ in $(seq 1 100); do timeout 2 ctr -a "$SOCK" version >/dev/null 2>&1 && break; sleep 0.1; done
timeout 2 ctr -a "$SOCK" version >/dev/null 2>&1 && ok "containerd with CRI up" || { bad "containerd did not start"; exit 1; }

CTR images import --base-name localhost/busybox "$W/images/busybox-oci.tar" >/dev/null
CTR images import --base-name localhost/pause "$W/images/pause-oci.tar" >/dev/null
imgs=$(CTR images ls -q)
grep -qx localhost/busybox:latest <<<"$imgs" && grep -qx localhost/pause:latest <<<"$imgs" \
    && ok "images imported into k8s.io" || bad "import: $imgs"

timeout 300 $PY conformance/cri/client.py "$SOCK" "$W" hull "$PARENT" > "$W/client.out" 2> "$W/client.err"
rc=$?
while read -r line; do
    case "$line" in
        ok:*) ok "${line#ok: }" ;;
        FAILED:*) bad "${line#FAILED: }" ;;
    esac
done < "$W/client.out"
[ $rc = 0 ] || bad "the CRI client exited $rc: $(tail -n 5 "$W/client.err")"
# The pod ran through the handler's binary: create, exec, update, kill --all.
for verb in create start exec update "kill --all"; do
    grep -q -- " $verb " "$W/runtime-argv.log" 2>/dev/null || bad "the runtime was never asked to $verb"
done

# Nothing left once the pod is removed.
left=""
[ -z "$(CTR task ls -q 2>/dev/null)" ] || left+=" tasks: $(CTR task ls -q | tr '\n' ' ')"
[ -z "$(CTR c ls -q 2>/dev/null)" ] || left+=" containers: $(CTR c ls -q | tr '\n' ' ')"
active=$(CTR snapshots --snapshotter overlayfs ls 2>/dev/null | awk 'NR>1 && $3=="Active"')
[ -z "$active" ] || left+=" active snapshots: $active"
shims=$(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK")
for _ in $(seq 1 50); do [ -z "$shims" ] && break; sleep 0.1; shims=$(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK"); done
[ -z "$shims" ] || left+=" shims: $shims"
newns=$(comm -13 "$W/netns.before" <(netns_list))
[ -z "$newns" ] || left+=" netns: $newns"
mounts=$(awk -v p="$W/state" '$2 ~ "^"p {print $2}' /proc/self/mounts)
[ -z "$mounts" ] || left+=" mounts: $mounts"
cg=$(for h in /sys/fs/cgroup/*; do [ -d "$h$PARENT" ] && find "$h$PARENT" -mindepth 1 -type d; done)
[ -z "$cg" ] || left+=" cgroups: $cg"
state=$(ls "$W/runtime-root/$NS" 2>/dev/null)
[ -z "$state" ] || left+=" runtime state: $state"
ips=$(ls "$W/ipam/hullcri" 2>/dev/null | grep -E '^[0-9]+\.' )
[ -z "$ips" ] || left+=" IP reservations: $ips"
[ -z "$left" ] && ok "nothing left after the pod is removed" || bad "left behind:$left"
