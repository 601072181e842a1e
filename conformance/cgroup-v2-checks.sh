#!/bin/sh
# Run as pid 1 of conformance/cgroup-v2.sh's VM (busybox sh): hull on a
# host with cgroup v2 alone. Prints V2OK / V2FAIL lines, then V2DONE.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
CG=/sys/fs/cgroup
H="/hull --root /run/hull"

CASES=/cases
. /checks-lib.sh
status() { $H state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
gone() {
    $H delete -f "$1" > /tmp/delete.out 2>&1 || bad "$1: delete -f: $(cat /tmp/delete.out)"
    if [ -d "$CG/hull/$1" ]; then bad "$1: delete left $CG/hull/$1"; else ok "$1: delete removes its cgroup"; fi
}

echo "controllers: $(cat $CG/cgroup.controllers)"

# Every limit of the config in its cgroup2 file; the init in the cgroup.
if start limits; then
    D=$CG/hull/limits
    grep -qx "$(pid_of limits)" "$D/cgroup.procs" && ok "limits: the init is in hull/limits" \
        || bad "limits: init $(pid_of limits) not in $D/cgroup.procs ($(cat "$D/cgroup.procs"))"
    expect "limits: memory.limit" "$D/memory.max" 67108864
    expect "limits: memory.swap (swap.max is swap less the limit)" "$D/memory.swap.max" 67108864
    expect "limits: memory.reservation" "$D/memory.low" 33554432
    expect "limits: cpu.quota and period" "$D/cpu.max" "50000 100000"
    expect "limits: cpu.burst" "$D/cpu.max.burst" 20000
    expect "limits: cpu.shares as a weight" "$D/cpu.weight" 20
    expect "limits: cpu.cpus" "$D/cpuset.cpus" 0
    expect "limits: cpu.mems" "$D/cpuset.mems" 0
    expect "limits: pids.limit" "$D/pids.max" 42
    expect "limits: hugepageLimits" "$D/hugetlb.2MB.max" 4194304
    expect "limits: unified memory.high" "$D/memory.high" 62914560

    # JSON is checked on the host, with jq (V2JSON lines).
    echo "V2JSON stats $($H events --stats limits 2>&1 | tr -d '\n')"
    # CPU time and throttling: the burner runs at a 10% quota for a second.
    if start burn; then
        sleep 1
        echo "V2JSON burn $($H events --stats burn 2>&1 | tr -d '\n')"
        gone burn
    fi
    $H update --memory 100m --cpu-quota 20000 --pids-limit 50 limits > /tmp/u.out 2>&1 || bad "update: $(cat /tmp/u.out)"
    expect "update: --memory" "$D/memory.max" 104857600
    expect "update: --memory alone keeps the swap limit" "$D/memory.swap.max" 67108864
    expect "update: --cpu-quota" "$D/cpu.max" "20000 100000"
    expect "update: --pids-limit" "$D/pids.max" 50
    # The kernel refuses a quota below the burst and a burst above the quota.
    echo '{"cpu": {"quota": 10000, "burst": 5000}}' > /tmp/cpu.json
    $H update -r /tmp/cpu.json limits > /tmp/u.out 2>&1 || bad "update: lower quota and burst: $(cat /tmp/u.out)"
    expect "update: the quota goes below the old burst" "$D/cpu.max" "10000 100000"
    expect "update: and the burst with it" "$D/cpu.max.burst" 5000
    echo '{"cpu": {"quota": 100000, "burst": 80000}}' > /tmp/cpu.json
    $H update -r /tmp/cpu.json limits > /tmp/u.out 2>&1 || bad "update: raise quota and burst: $(cat /tmp/u.out)"
    expect "update: the burst goes above the old quota" "$D/cpu.max.burst" 80000
    $H update --pids-limit 0 limits > /tmp/u.out 2>&1 || bad "update: $(cat /tmp/u.out)"
    expect "update: --pids-limit 0 is a limit" "$D/pids.max" 0
    $H update --memory -1 --memory-swap -1 limits > /tmp/u.out 2>&1 || bad "update -1: $(cat /tmp/u.out)"
    expect "update: --memory -1 lifts the limit" "$D/memory.max" max

    $H pause limits && [ "$(status limits)" = paused ] && ok "pause: paused" || bad "pause: $(status limits)"
    expect "pause: cgroup.freeze" "$D/cgroup.freeze" 1
    $H resume limits && [ "$(status limits)" = running ] && ok "resume: running" || bad "resume: $(status limits)"
    expect "resume: cgroup.freeze" "$D/cgroup.freeze" 0

    $H ps limits | grep -q sleep && ok "ps lists the init" || bad "ps: $($H ps limits 2>&1)"
    gone limits
fi

# blockIO's weight goes to io.bfq.weight, or io.weight scaled to 1-10000, or
# is skipped with a warning where the kernel has neither (no BFQ, no iocost).
if start blkio; then
    D=$CG/hull/blkio
    if [ -e "$D/io.bfq.weight" ]; then
        expect "blkio: weight in io.bfq.weight" "$D/io.bfq.weight" "default 500"
    elif [ -e "$D/io.weight" ]; then
        expect "blkio: weight in io.weight" "$D/io.weight" "default 4950"
    else
        grep -q "blockIO.weight: io.bfq.weight / io.weight does not exist in this kernel" /tmp/blkio.out \
            && ok "blkio: no weight file in this kernel, and a warning says so" || bad "blkio: no warning: $(cat /tmp/blkio.out)"
    fi
    gone blkio
fi
# A throttle goes to io.max: the kernel refuses one for 1:3, not a disk.
out=$($H run --bundle /cases/throttle throttle 2>&1 < /dev/null)
case $out in
*'linux.resources.blockIO.throttleReadBpsDevice: write "1:3 rbps=1000" to /sys/fs/cgroup/hull/throttle/io.max: No such device'*) ok "throttle: written to io.max (refused for a non-disk)" ;;
*) bad "throttle: $out" ;;
esac
[ -d "$CG/hull/throttle" ] && bad "throttle: the refused create left its cgroup" || ok "throttle: no cgroup left"
# cgroup v2 has no real-time budget: refused by field, nothing left.
out=$($H run --bundle /cases/rt rt 2>&1 < /dev/null)
case $out in
*"linux.resources.cpu.realtimeRuntime: 10000: cgroup v2 has no real-time CPU budget"*) ok "rt: refused by field" ;;
*) bad "rt: $out" ;;
esac
[ -d "$CG/hull/rt" ] && bad "rt: the refused create left its cgroup" || ok "rt: no cgroup left"
# An absolute cgroupsPath: its parents made with the controllers enabled
# down to it.
if start nested; then
    expect "nested: the limit under parents create made" "$CG/outer/inner/c/pids.max" 9
    $H delete -f nested
    # As runc: the container's own cgroup goes, the parents stay.
    [ -d "$CG/outer/inner/c" ] && bad "nested: delete left $CG/outer/inner/c" || ok "nested: delete removes its cgroup"
    [ -d "$CG/outer/inner" ] && ok "nested: delete keeps the parents" || bad "nested: delete removed $CG/outer/inner"
    rmdir "$CG/outer/inner" "$CG/outer"
fi
if start idle; then
    expect "idle: cpu.idle" "$CG/hull/idle/cpu.idle" 1
    # An idle cgroup takes no weight: leaving idle, the weight comes after.
    echo '{"cpu": {"idle": 0, "shares": 1024}}' > /tmp/idle.json
    $H update -r /tmp/idle.json idle > /tmp/idle.out 2>&1 || bad "idle: update to a weight: $(cat /tmp/idle.out)"
    expect "idle: update: cpu.idle" "$CG/hull/idle/cpu.idle" 0
    expect "idle: update: cpu.weight" "$CG/hull/idle/cpu.weight" 39
    gone idle
fi
if start low; then
    expect "low: a reservation without a limit" "$CG/hull/low/memory.low" 33554432
    expect "low: no limit" "$CG/hull/low/memory.max" max
    gone low
fi
# A limit without swap leaves swap as the kernel has it, as runc does.
if start limitonly; then
    expect "limitonly: memory.max" "$CG/hull/limitonly/memory.max" 50331648
    expect "limitonly: swap untouched" "$CG/hull/limitonly/memory.swap.max" max
    expect "limitonly: memory.reservation" "$CG/hull/limitonly/memory.low" 16777216
    gone limitonly
fi
# rdma.max is written: the kernel refuses a device it does not have, and
# create fails naming the field, leaving nothing.
if $H run --bundle /cases/rdma rdma > /tmp/rdma.out 2>&1 < /dev/null; then
    bad "rdma: a device the host lacks was accepted"
else
    grep -q 'linux.resources.rdma: write "no-such-hca hca_handle=3 hca_object=100"' /tmp/rdma.out \
        && ok "rdma: refused naming the field: $(cat /tmp/rdma.out)" || bad "rdma: $(cat /tmp/rdma.out)"
fi
[ -d "$CG/hull/rdma" ] && bad "rdma: the failed create left its cgroup" || ok "rdma: no cgroup left"
# Fields with no cgroup v2 file are named in a warning, and the rest runs.
if start nolimit; then
    for f in memory.swappiness memory.kernel; do
        grep -q "$f" /tmp/nolimit.out && ok "nolimit: $f named in a warning" || bad "nolimit: no warning for $f: $(cat /tmp/nolimit.out)"
    done
    gone nolimit
fi

# kill --all reaches every process (no pid namespace: they outlive the init).
if start family; then
    i=0; while [ ! -e /ctr/tmp/up ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    n=$(wc -l < "$CG/hull/family/cgroup.procs")
    [ "$n" -ge 3 ] && ok "family: $n processes" || bad "family: $n processes in the cgroup"
    # A signal other than KILL goes to each process hull finds in the
    # cgroup (KILL goes through cgroup.kill).
    $H kill --all family STOP
    i=0; while [ $i -lt 50 ]; do
        s=0; for p in $(cat "$CG/hull/family/cgroup.procs"); do [ "$(cut -d' ' -f3 /proc/$p/stat)" = T ] && s=$((s + 1)); done
        [ "$s" -ge "$n" ] && break; sleep 0.1; i=$((i + 1))
    done
    [ "$s" -ge "$n" ] && ok "kill --all STOP: all $n stopped" || bad "kill --all STOP: $s of $n stopped"
    $H kill --all family KILL
    i=0; while [ -s "$CG/hull/family/cgroup.procs" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$CG/hull/family/cgroup.procs" ] && bad "kill --all: left $(cat "$CG/hull/family/cgroup.procs")" || ok "kill --all: none left"
    rm -f /ctr/tmp/up
    gone family
fi

# The OOM killer ends a memory hog at its limit.
$H run --bundle /cases/oom oom > /tmp/oom.out 2>&1 < /dev/null
rc=$?
[ $rc = 137 ] && ok "oom: killed (137)" || bad "oom: exit $rc: $(tail -c 300 /tmp/oom.out)"
[ -d "$CG/hull/oom" ] && bad "oom: run left its cgroup" || ok "oom: run removes its cgroup"

# The BPF device program: 240:0 is not allowed, /dev/zero is; then 240:0
# allowed by a rule.
out=$($H run --bundle /cases/devices devices 2>&1 < /dev/null)
case $out in
*"head: /tmp/dev: Operation not permitted"*" 00"*) ok "devices: a node not allowed cannot be opened; /dev/zero can" ;;
*) bad "devices: $out" ;;
esac

out=$($H run --bundle /cases/allow allow 2>&1 < /dev/null)
case $out in
*"No such device or address"*) ok "devices: a node allowed by a rule opens (and finds no driver)" ;;
*) bad "devices: allowed by a rule: $out" ;;
esac

# A deny inside a wider allow (which v1 refuses): the program plays it.
out=$($H run --bundle /cases/hole hole 2>&1 < /dev/null)
case $out in
*"head: /tmp/dev: Operation not permitted"*) ok "devices: a deny of one node inside an allowed major holds" ;;
*) bad "devices: a deny inside an allowed major: $out" ;;
esac

# The container's own cgroup view (cgroup namespace), its limit inside.
out=$($H run --bundle /cases/own-view own-view 2>&1 < /dev/null)
[ "$out" = "$(printf '0::/\n7')" ] && ok "own-view: 0::/ and its own pids.max" || bad "own-view: $out"

# The engine: a launch's limits in its cgroup2 files, usage, update, an
# OOM kill's reason, destroy.
E=/hull
if $E launch --no-image --name e1 -d --memory 32m --cpus 0.5 --pids 20 -- sleep 1000 > /tmp/e1.out 2>&1; then
    ok "engine: launch -d"
    expect "engine: --memory" "$CG/hull/e1/memory.max" 33554432
    expect "engine: --cpus" "$CG/hull/e1/cpu.max" "50000 100000"
    expect "engine: --pids" "$CG/hull/e1/pids.max" 20
    echo "V2JSON usage $($E usage e1 2>&1 | tr -d '\n')"
    $E update e1 --memory 64m > /tmp/eu.out 2>&1 || bad "engine: update: $(cat /tmp/eu.out)"
    expect "engine: update --memory" "$CG/hull/e1/memory.max" 67108864
    $E destroy e1 > /tmp/ed.out 2>&1 || bad "engine: destroy: $(cat /tmp/ed.out)"
    [ -d "$CG/hull/e1" ] && bad "engine: destroy left its cgroup" || ok "engine: destroy removes its cgroup"
else
    bad "engine: launch: $(cat /tmp/e1.out)"
fi
if $E launch --no-image --name e2 -d --memory 16m -- tail /dev/zero > /tmp/e2.out 2>&1; then
    i=0
    while [ $i -lt 100 ]; do
        $E inspect e2 2>/dev/null | grep -q '"status": *"exited"' && break
        sleep 0.2; i=$((i + 1))
    done
    echo "V2JSON inspect-oom $($E inspect e2 2>&1 | tr -d '\n')"
    $E destroy e2 > /dev/null 2>&1
else
    bad "engine: launch of a memory hog: $(cat /tmp/e2.out)"
fi

# Rootless in a delegated cgroup: the parents' controllers were enabled by
# whoever delegated it (root here), and are not the user's to write.
echo "+pids +memory" > $CG/cgroup.subtree_control
mkdir -p $CG/deleg/shell /tmp/u1000 && chown -R 1000:1000 $CG/deleg /tmp/u1000
# asuser CMD...: as uid 1000, from a cgroup inside the delegated one.
asuser() {
    sh -c 'echo $$ > /sys/fs/cgroup/deleg/shell/cgroup.procs && exec su -s /bin/sh -c "$0" user' \
        "XDG_RUNTIME_DIR=/tmp/u1000 HOME=/tmp/u1000 $*"
}
if asuser /hull run -d --bundle /cases/rootless rl > /tmp/rl.out 2>&1 < /dev/null; then
    ok "rootless: run -d in a delegated cgroup"
    expect "rootless: pids.limit" "$CG/deleg/c/pids.max" 10
    expect "rootless: memory.reservation" "$CG/deleg/c/memory.low" 33554432
    asuser /hull delete -f rl > /tmp/rl.out 2>&1 || bad "rootless: delete: $(cat /tmp/rl.out)"
    [ -d "$CG/deleg/c" ] && bad "rootless: delete left its cgroup" || ok "rootless: delete removes its cgroup"
else
    bad "rootless: run -d: $(cat /tmp/rl.out)"
fi

[ -z "$(ls /run/hull 2>/dev/null)" ] && ok "no state left" || bad "state left: $(ls /run/hull)"
[ -z "$(ls -d $CG/hull/*/ 2>/dev/null)" ] && ok "no cgroup left" || bad "cgroups left: $(ls -d $CG/hull/*/)"
echo V2DONE
poweroff -f
