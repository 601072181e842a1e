#!/bin/bash
# hull on a host with cgroup v2 alone, the layout of every current
# distribution. This project's machines are v1 hybrids, so the test boots
# one: Debian's own kernel (linux-image-amd64, downloaded once into
# $HULL_CACHE/kernel and unpacked, never installed) under QEMU, with
# cgroup_no_v1=all, from an initramfs holding busybox, the hull binary and
# a busybox bundle. Inside, conformance/cgroup-v2-checks.sh runs containers
# with limits, updates, pause, kill --all, device rules and an OOM kill,
# and reads back the cgroup2 files. Nothing is left on the host but the
# cached kernel: the VM has no disk and no network.
#   conformance/cgroup-v2.sh [HULL_BINARY]   Prints "cgroup-v2: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
HULL=$(readlink -f "${1:-target/release/hull}")
W=$(mktemp -d /tmp/hull-conformance-cgroup-v2.XXXXXX)
say() { echo "[cgroup-v2] $*" >&2; }
. conformance/vm.sh
# HULL_V2_KEEP=1 keeps the VM's files and console log, and says where.
trap '[ "${HULL_V2_KEEP:-}" = 1 ] && say "kept $W" || rm -rf "$W"' EXIT
for b in qemu-system-x86_64 cpio jq apt-get dpkg-deb; do
    command -v "$b" >/dev/null || { say "missing $b: run hack/setup.sh"; exit 1; }
done
[ -x "$HULL" ] || { say "no hull binary at $HULL"; exit 1; }
# The VM has no libc: the binary as it ships (hack/build.sh), static.
ldd "$HULL" 2>&1 | grep -qE 'not a dynamic|statically linked' || { say "$HULL is not static: build it with hack/build.sh"; exit 1; }

VMLINUZ=$(vm_kernel) || { say "no kernel"; echo "cgroup-v2: 0 passed, 1 failed"; exit 1; }

# The VM's root: busybox, hull, the checks, and the container's rootfs.
R=$W/root
./hack/mkbundle.sh "$W/bundle" true >/dev/null
mkdir -p "$R"/{proc,sys,dev,run,tmp,newroot,cases,etc}
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp/u1000:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' > "$R/etc/group"
cp -a "$W/bundle/rootfs/bin" "$R/"
cp -a "$W/bundle/rootfs" "$R/ctr"
cp "$HULL" "$R/hull"
# The engine (dynamic: it resolves registry names) with its libraries.
ENGINE=$(dirname "$HULL")/hull-engine
[ -x "$ENGINE" ] || { say "no hull-engine beside $HULL"; exit 1; }
cp "$ENGINE" "$R/hull-engine"
for lib in $(ldd "$ENGINE" | grep -o '/[^ ]*'); do
    mkdir -p "$R$(dirname "$lib")" && cp -L "$lib" "$R$lib"
done
cp conformance/cgroup-v2-checks.sh "$R/checks.sh"
cp conformance/vm-checks-lib.sh "$R/checks-lib.sh"
# Each case is the bundle's config.json with an edit, its rootfs /ctr.
case_of() {
    mkdir -p "$R/cases/$1"
    jq --arg name "$1" ".root.path = \"/ctr\" | .root.readonly = false | .hostname = \$name | $2" "$W/bundle/config.json" > "$R/cases/$1/config.json"
}
M=$((1 << 20))
case_of limits ".process.args = [\"sleep\", \"1000\"] | .linux.resources += {
    memory: {limit: $((64 * M)), swap: $((128 * M)), reservation: $((32 * M))},
    cpu: {shares: 512, quota: 50000, period: 100000, burst: 20000, cpus: \"0\", mems: \"0\"},
    pids: {limit: 42},
    hugepageLimits: [{pageSize: \"2MB\", limit: $((4 * M))}],
    unified: {\"memory.high\": \"$((60 * M))\"}}"
case_of burn '.process.args = ["sh", "-c", "while :; do :; done"] | .linux.resources += {cpu: {quota: 10000, period: 100000}}'
case_of blkio '.process.args = ["sleep", "1000"] | .linux.resources += {blockIO: {weight: 500}}'
case_of throttle '.linux.resources += {blockIO: {throttleReadBpsDevice: [{major: 1, minor: 3, rate: 1000}]}}'
case_of rt '.process.args = ["true"] | .linux.resources += {cpu: {realtimeRuntime: 10000, realtimePeriod: 100000}}'
case_of nested '.process.args = ["sleep", "1000"] | .linux.cgroupsPath = "/outer/inner/c" | .linux.resources += {pids: {limit: 9}}'
case_of allow '.process.args = ["sh", "-c", "mknod /tmp/dev c 240 0; head -c 1 /tmp/dev"]
    | .process.capabilities |= with_entries(.value += ["CAP_MKNOD"])
    | .linux.resources.devices += [{allow: true, type: "c", major: 240, minor: 0, access: "rw"}]'
case_of hole '.process.args = ["sh", "-c", "mknod /tmp/dev c 240 0; head -c 1 /tmp/dev"]
    | .process.capabilities |= with_entries(.value += ["CAP_MKNOD"])
    | .linux.resources.devices += [{allow: true, type: "c", major: 240, access: "rw"},
        {allow: false, type: "c", major: 240, minor: 0, access: "rw"}]'
case_of idle '.process.args = ["sleep", "1000"] | .linux.resources += {cpu: {idle: 1, shares: 512}}'
case_of limitonly ".process.args = [\"sleep\", \"1000\"] | .linux.resources += {memory: {limit: $((48 * M)), reservation: $((16 * M))}}"
case_of low ".process.args = [\"sleep\", \"1000\"] | .linux.resources += {memory: {reservation: $((32 * M))}}"
case_of nolimit '.process.args = ["sleep", "1000"] | .linux.resources += {memory: {swappiness: 10, kernel: 1000000}}'
case_of family '.process.args = ["sh", "-c", "sleep 1000 & sleep 1000 & echo up > /tmp/up; wait"] | del(.linux.namespaces[] | select(.type == "pid"))'
case_of oom ".process.args = [\"tail\", \"/dev/zero\"] | .linux.resources += {memory: {limit: $((16 * M)), swap: $((16 * M))}}"
# 240:0 has no driver: the device program refuses its open (EPERM) or lets
# it reach the kernel, which finds no device (ENXIO).
case_of devices '.process.args = ["sh", "-c", "mknod /tmp/dev c 240 0; head -c 1 /tmp/dev 2>&1; head -c 1 /dev/zero | od -An -tx1"]
    | .process.capabilities |= with_entries(.value += ["CAP_MKNOD"])'
case_of rdma '.linux.resources += {rdma: {"no-such-hca": {hcaHandles: 3, hcaObjects: 100}}}'
# Rootless (uid 1000, its own id mapped) in a cgroup delegated to it, as
# systemd delegates a user's: the rootless spec's namespaces and mounts.
vm_rootless_case "$HULL" "$R/cases/rootless" /ctr /deleg/c "{\"pids\": {\"limit\": 10}, \"memory\": {\"reservation\": $((32 * M))}}" \
    || { say "cannot make the rootless case"; exit 1; }
case_of own-view '.process.args = ["sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.max"] | .linux.resources += {pids: {limit: 7}}'

vm_initramfs "$R" "$W/initrd.gz" /bin/sh /checks.sh || { say "cannot pack the initramfs"; exit 1; }

vm_boot "$VMLINUZ" "$W/initrd.gz" "$W/console.log" 1024 400 hugepages=4
rc=$?
vm_results "$W/console.log"
vm_jsoncheck "$W/console.log" stats "events --stats: memory usage, limit and memory.stat, pids" \
    ".data.memory.usage.usage > 0 and .data.memory.usage.limit == $((64 * M)) and .data.memory.raw.anon > 0
     and .data.memory.swap.limit == $((128 * M)) and .data.pids.current == 1 and .data.pids.limit == 42"
vm_jsoncheck "$W/console.log" burn "events --stats: CPU time and throttling at a 10% quota" \
    ".data.cpu.usage.total > 0 and .data.cpu.usage.user > 0 and .data.cpu.throttling.periods > 0
     and .data.cpu.throttling.throttledPeriods > 0 and .data.cpu.throttling.throttledTime > 0"
vm_jsoncheck "$W/console.log" usage "engine usage: limits, memory, processes" \
    ".mem_limit_bytes == $((32 * M)) and .mem_total_bytes > 0 and .mem_rss_bytes > 0 and .processes == 1
     and .cpus_limit == 0.5 and .pids_limit == 20"
vm_jsoncheck "$W/console.log" inspect-oom "engine: a memory hog ends with reason oom" '.status == "exited" and .reason == "oom"'
vm_done "$W/console.log" $rc
echo "cgroup-v2: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]
