#!/bin/sh
# Run by a unit of systemd, pid 1 of conformance/systemd-v2.sh's VM:
# hull's systemd cgroup driver on cgroup v2 alone. Prints V2OK / V2FAIL
# lines, then V2DONE, and powers the VM off.
CG=/sys/fs/cgroup
T=/var/lib/hulltest
H="hull --systemd-cgroup"

CASES=$T
. /checks-lib.sh
# props NAME UNIT WANT PROPERTY...: systemctl show's values, one line, sorted.
props() {
    name=$1 unit=$2 want=$3
    shift 3
    got=$(for p in "$@"; do systemctl show -p "$p" "$unit"; done | sort | tr '\n' ' ')
    if [ "$got" = "$want " ]; then ok "$name"; else bad "$name: '$got', want '$want '"; fi
}
active() { systemctl is-active "$1" 2>/dev/null; }
# gone ID UNIT DIR: delete -f stops the unit and its cgroup goes.
gone() {
    $H delete -f "$1" > /tmp/delete.out 2>&1 || bad "$1: delete -f: $(cat /tmp/delete.out)"
    a=$(active "$2")
    if [ "$a" = active ] || [ -d "$3" ]; then
        bad "$1: delete left $2 ($a) or $3"
    else
        ok "$1: delete stops $2 and its cgroup goes"
    fi
}

st=$(timeout 120 systemctl is-system-running --wait 2>&1)
case "$st" in
    running) ok "systemd booted on cgroup v2 ($(stat -fc %T $CG))" ;;
    *) bad "systemd is '$st': $(systemctl --failed --no-legend --plain | tr '\n' ' ')" ;;
esac

# A scope in system.slice with every limit as a property and in its files.
U=hulltest-ct1.scope
D=$CG/system.slice/$U
if start ct1; then
    a=$(active $U)
    [ "$a" = active ] && ok "ct1: $U is active" || bad "ct1: $U is '$a'"
    grep -qx "$(pid_of ct1)" "$D/cgroup.procs" && ok "ct1: the init is in $D" \
        || bad "ct1: init $(pid_of ct1) not in $D/cgroup.procs: $(cat /proc/"$(pid_of ct1)"/cgroup)"
    props "ct1: the limits are the unit's properties" $U \
        "CPUQuotaPerSecUSec=500ms CPUQuotaPeriodUSec=100ms CPUWeight=20 ControlGroup=/system.slice/$U Delegate=yes IOWeight=4950 MemoryHigh=62914560 MemoryLow=33554432 MemoryMax=67108864 MemorySwapMax=33554432 Slice=system.slice TasksMax=50" \
        Slice ControlGroup Delegate MemoryMax MemorySwapMax MemoryLow MemoryHigh TasksMax CPUWeight CPUQuotaPerSecUSec CPUQuotaPeriodUSec IOWeight
    expect "ct1: memory.max" "$D/memory.max" 67108864
    expect "ct1: pids.max" "$D/pids.max" 50
    expect "ct1: cpu.max" "$D/cpu.max" "50000 100000"
    expect "ct1: cpu.weight" "$D/cpu.weight" 20
    expect "ct1: cpuset.cpus" "$D/cpuset.cpus" 0
    expect "ct1: cpuset.mems" "$D/cpuset.mems" 0
    expect "ct1: memory.swap.max (swap less the limit)" "$D/memory.swap.max" 33554432
    expect "ct1: memory.low" "$D/memory.low" 33554432
    expect "ct1: unified memory.high" "$D/memory.high" 62914560
    expect "ct1: blockIO.weight as io.weight" "$D/io.weight" "default 4950"
    expect "ct1: cpu.max.burst" "$D/cpu.max.burst" 10000
    rc=0
    hull exec ct1 dd if=/dev/zero of=/dev/null bs=100M count=1 > /tmp/dd.out 2>&1 || rc=$?
    [ $rc = 137 ] && ok "ct1: the memory limit holds (a 100 MiB buffer is OOM-killed)" || bad "ct1: dd exited $rc: $(cat /tmp/dd.out)"

    $H update --memory 128m --pids-limit 60 --cpu-quota 20000 ct1 > /tmp/u.out 2>&1 || bad "ct1: update: $(cat /tmp/u.out)"
    props "ct1: update changes the properties" $U "CPUQuotaPerSecUSec=200ms MemoryMax=134217728 TasksMax=60" \
        MemoryMax TasksMax CPUQuotaPerSecUSec
    expect "ct1: update: memory.max" "$D/memory.max" 134217728
    expect "ct1: update: pids.max" "$D/pids.max" 60
    expect "ct1: update: cpu.max" "$D/cpu.max" "20000 100000"
    # The period alone: systemd's per-second quota follows the cgroup's.
    $H update --cpu-period 50000 ct1 > /tmp/u.out 2>&1 || bad "ct1: update --cpu-period: $(cat /tmp/u.out)"
    props "ct1: update --cpu-period keeps the quota per period" $U "CPUQuotaPerSecUSec=400ms CPUQuotaPeriodUSec=50ms" \
        CPUQuotaPerSecUSec CPUQuotaPeriodUSec
    # A malformed unified cpu.max is refused and tells systemd nothing.
    echo '{"unified": {"cpu.max": "abc 20000"}}' > /tmp/bad.json
    $H update -r /tmp/bad.json ct1 > /tmp/u.out 2>&1 && bad "ct1: update took cpu.max 'abc 20000'"
    props "ct1: a refused cpu.max leaves the properties" $U "CPUQuotaPerSecUSec=400ms CPUQuotaPeriodUSec=50ms" \
        CPUQuotaPerSecUSec CPUQuotaPeriodUSec
    # systemd writes a unit's properties to its cgroup again on a reload:
    # they must be the container's limits, not older ones.
    systemctl daemon-reload
    expect "ct1: after daemon-reload: memory.max" "$D/memory.max" 134217728
    expect "ct1: after daemon-reload: pids.max" "$D/pids.max" 60
    expect "ct1: after daemon-reload: cpu.max" "$D/cpu.max" "20000 50000"
    expect "ct1: after daemon-reload: cpuset.cpus" "$D/cpuset.cpus" 0
    expect "ct1: after daemon-reload: memory.swap.max" "$D/memory.swap.max" 33554432
    expect "ct1: after daemon-reload: memory.low" "$D/memory.low" 33554432
    expect "ct1: after daemon-reload: memory.high" "$D/memory.high" 62914560
    expect "ct1: after daemon-reload: io.weight" "$D/io.weight" "default 4950"
    expect "ct1: after daemon-reload: cpu.max.burst" "$D/cpu.max.burst" 10000
    # 240:0 has no driver: the device program refuses its open (EPERM), or
    # lets it reach the kernel, which finds no device (ENXIO).
    out=$(hull exec --cap CAP_MKNOD ct1 sh -c 'mknod /tmp/dev c 240 0; head -c 1 /tmp/dev; head -c 1 /dev/zero | od -An -tx1' 2>&1)
    case "$out" in
        *"head: /tmp/dev: Operation not permitted"*" 00"*) ok "ct1: after daemon-reload: the device rules hold" ;;
        *) bad "ct1: after daemon-reload: a denied device: $out" ;;
    esac
    echo "V2JSON stats $($H events --stats ct1 2>&1 | tr -d '\n')"

    $H pause ct1 > /tmp/p.out 2>&1 || bad "ct1: pause: $(cat /tmp/p.out)"
    grep -qx 'frozen 1' "$D/cgroup.events" && ok "ct1: pause freezes the scope" || bad "ct1: pause: $(cat "$D/cgroup.events")"
    systemctl daemon-reload
    grep -qx 'frozen 1' "$D/cgroup.events" && [ "$(hull state ct1 | grep -c '"paused"')" = 1 ] \
        && ok "ct1: paused across a daemon-reload" || bad "ct1: a reload thawed it: $(cat "$D/cgroup.events")"
    $H resume ct1 > /tmp/p.out 2>&1 || bad "ct1: resume: $(cat /tmp/p.out)"
    grep -qx 'frozen 0' "$D/cgroup.events" && ok "ct1: resume thaws it" || bad "ct1: resume: $(cat "$D/cgroup.events")"
    gone ct1 $U "$D"
fi

# The device program on a scope: 240:0 is refused (EPERM), /dev/zero read.
if start devices; then
    sleep 1
    out=$(hull delete -f devices 2>&1; tr -d '\r' < /tmp/devices.out)
    case "$out" in
        *"head: /tmp/dev: Operation not permitted"*" 00"*) ok "devices: the default rules hold in a scope" ;;
        *) bad "devices: $out" ;;
    esac
fi

# cpu.idle (SCHED_IDLE for the whole cgroup; the shares go unwritten), also
# after a reload; a pids limit of 0.
I=$CG/system.slice/hulltest-idle.scope
if start idle; then
    expect "idle: cpu.idle" "$I/cpu.idle" 1
    # A pids limit of 0 is the file's alone: systemd has no TasksMax 0.
    expect "idle: pids.max 0" "$I/pids.max" 0
    grep -q "pids.limit: 0 has no systemd property" /tmp/idle.out && ok "idle: a warning says a reload loses pids 0" \
        || bad "idle: no warning for pids 0: $(cat /tmp/idle.out)"
    systemctl daemon-reload
    expect "idle: after daemon-reload: cpu.idle" "$I/cpu.idle" 1
    gone idle hulltest-idle.scope "$I"
fi

# Unit properties from the config's org.systemd.property.* annotations,
# as runc takes them (a ...Sec name in seconds); a bad one is refused by
# name and leaves nothing.
if start props; then
    props "props: the annotations are unit properties" hulltest-props.scope \
        "CollectMode=inactive-or-failed TimeoutStopUSec=15s" CollectMode TimeoutStopUSec
    systemctl show -p After hulltest-props.scope | grep -q dbus.service && ok "props: After= from an array" \
        || bad "props: $(systemctl show -p After hulltest-props.scope)"
    gone props hulltest-props.scope $CG/system.slice/hulltest-props.scope
fi
if $H run -d --bundle $T/badprop badprop > /tmp/badprop.out 2>&1 < /dev/null; then
    bad "badprop: TimeoutStopSec 'soon' was accepted"
    $H delete -f badprop
elif grep -q 'annotations\["org.systemd.property.TimeoutStopSec"\]: "soon"' /tmp/badprop.out \
    && [ "$(active hulltest-badprop.scope)" != active ] && [ ! -e /run/hull/badprop ]; then
    ok "badprop: a bad annotation is refused by name and leaves nothing"
else
    bad "badprop: $(cat /tmp/badprop.out) $(active hulltest-badprop.scope) $(ls /run/hull)"
fi

# Kubernetes' shape: a scope in a nested slice systemd makes on demand.
K=$CG/kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope
if start kube; then
    grep -qx "$(pid_of kube)" "$K/cgroup.procs" && ok "kube: the init is in $K" || bad "kube: not in $K: $(cat /proc/"$(pid_of kube)"/cgroup)"
    expect "kube: pids.max" "$K/pids.max" 20
    gone kube cri-containerd-abc.scope "$K"
fi

# No cgroupsPath: runc's default unit, hull-ID.scope in system.slice.
if start plain; then
    grep -qx "$(pid_of plain)" "$CG/system.slice/hull-plain.scope/cgroup.procs" && ok "plain: the init is in system.slice/hull-plain.scope" \
        || bad "plain: $(cat /proc/"$(pid_of plain)"/cgroup)"
    gone plain hull-plain.scope "$CG/system.slice/hull-plain.scope"
fi

# A Type=notify service whose ExecStart is hull: it is activating until the
# container's READY=1, then active. In the foreground hull stays its main
# process; with -d the container's init becomes it (MAINPID, taken from
# root although it is in the container's scope).
# notify_unit SERVICE ID [-d]
notify_unit() {
    systemd-run --unit "$1" -p Type=notify -p TimeoutStartSec=30 --no-block \
        $H run $3 --bundle "$T/$2" "$2" > /tmp/$2.out 2>&1 || bad "$2: systemd-run: $(cat /tmp/$2.out)"
    sleep 0.5
    a=$(active "$1")
    [ "$a" = activating ] && ok "$2: activating until READY" || bad "$2: $1 is '$a' before READY"
    for _ in $(seq 50); do [ "$(active "$1")" = active ] && break; sleep 0.2; done
    a=$(active "$1")
    [ "$a" = active ] && ok "$2: active after the container's READY=1" || bad "$2: $1 is '$a': $(journalctl -u "$1" --no-pager | tail -5)"
}
notify_unit hulltest-nsvc.service notify
main=$(systemctl show -p MainPID --value hulltest-nsvc.service)
[ "$(cat /proc/"$main"/comm 2>/dev/null)" = hull ] && ok "notify: hull run is the main process" || bad "notify: MainPID $main is '$(cat /proc/"$main"/comm 2>&1)'"
gone notify hulltest-notify.scope $CG/system.slice/hulltest-notify.scope
notify_unit hulltest-nsvcd.service notifyd -d
main=$(systemctl show -p MainPID --value hulltest-nsvcd.service)
[ "$main" = "$(pid_of notifyd)" ] && ok "notifyd: MAINPID is the container's init" || bad "notifyd: MainPID $main, init $(pid_of notifyd)"
gone notifyd hulltest-notifyd.scope $CG/system.slice/hulltest-notifyd.scope
for u in hulltest-nsvc.service hulltest-nsvcd.service; do
    systemctl stop $u 2>/dev/null
    systemctl reset-failed $u 2>/dev/null
done

# A container that ends by itself: systemd removes the emptied scope, and
# state, delete and events still answer as for any stopped container.
if start short; then
    for _ in $(seq 50); do [ "$(active hulltest-short.scope)" = active ] || break; sleep 0.2; done
    hull state short 2>&1 | grep -q '"stopped"' && ok "short: stopped once its program ended" || bad "short: $(hull state short 2>&1)"
    gone short hulltest-short.scope $CG/system.slice/hulltest-short.scope
fi

# containerd's runc shim with SystemdCgroup (kubeadm's node): the shim runs
# hull --systemd-cgroup; its task's scope, limit, metrics, exec, kill and
# delete.
containerd --config /etc/hull-containerd.toml > /tmp/containerd.log 2>&1 &
CTRD=$!
for _ in $(seq 100); do ctr version > /dev/null 2>&1 && break; sleep 0.2; done
# Subscribed long before the OOM check below.
ctr events > /tmp/events.out 2>&1 &
EV=$!
KS=$CG/system.slice/ctr-k1.scope
# ctr_run ARGS...: ctr run through the runc shim, hull as its runc, with
# SystemdCgroup.
ctr_run() {
    ctr run --snapshotter native --runtime io.containerd.runc.v2 --runc-binary /usr/local/bin/hull --runc-systemd-cgroup "$@"
}
if ctr images import --base-name localhost/hull-busybox /busybox-oci.tar > /tmp/ctr.out 2>&1 \
    && ctr_run -d --cgroup system.slice:ctr:k1 --memory-limit 67108864 \
        localhost/hull-busybox:latest k1 sleep 1000 > /tmp/ctr.out 2>&1; then
    ok "containerd: ctr run -d through the runc shim"
    kpid=$(ctr task ls | awk '$1 == "k1" {print $2}')
    grep -qx "$kpid" "$KS/cgroup.procs" 2>/dev/null && [ "$(active ctr-k1.scope)" = active ] \
        && ok "containerd: the task is in the scope ctr-k1.scope" || bad "containerd: task $kpid: $(cat /proc/$kpid/cgroup 2>&1)"
    expect "containerd: memory.max" "$KS/memory.max" 67108864
    ctr task metrics k1 > /tmp/ctr.out 2>&1
    grep -q "67108864" /tmp/ctr.out && ok "containerd: task metrics read the scope" || bad "containerd: metrics: $(cat /tmp/ctr.out)"
    out=$(ctr task exec --exec-id x1 k1 sh -c 'cat /proc/self/cgroup' 2>&1)
    [ "$out" = "0::/system.slice/ctr-k1.scope" ] && ok "containerd: exec runs in the task's scope" || bad "containerd: exec: $out"
    ctr task kill -s KILL k1 > /tmp/ctr.out 2>&1
    for _ in $(seq 50); do ctr task ls | grep -q "k1.*STOPPED" && break; sleep 0.2; done
    ctr task delete k1 > /tmp/ctr.out 2>&1 && ctr container delete k1 >> /tmp/ctr.out 2>&1 \
        || bad "containerd: delete: $(cat /tmp/ctr.out)"
    a=$(active ctr-k1.scope)
    if [ "$a" = active ] || [ -d "$KS" ] || [ -n "$(ls /run/containerd/runc/default 2>/dev/null)" ]; then
        bad "containerd: delete left $a $(ls -d "$KS" /run/containerd/runc/default/* 2>&1)"
    else
        ok "containerd: delete stops the scope and leaves no state"
    fi
    # The shim watches the scope's memory.events for the OOM killer. sh
    # outlives the killed tail a moment: systemd removes a scope as soon
    # as it is empty, which can be before the shim reads the file.
    ctr_run --rm --cgroup system.slice:ctr:k2 --memory-limit 16777216 \
        localhost/hull-busybox:latest k2 sh -c 'tail /dev/zero; sleep 2; exit 7' > /tmp/ctr.out 2>&1
    rc=$?
    sleep 1
    [ $rc = 7 ] && grep -q "/tasks/oom" /tmp/events.out && [ ! -d $CG/system.slice/ctr-k2.scope ] && ok "containerd: the OOM killer in a scope is a /tasks/oom event" \
        || bad "containerd: oom: exit $rc: $(grep -o '/tasks/[a-z]*' /tmp/events.out | tr '\n' ' ') $(ls -d $CG/system.slice/ctr-k2.scope 2>&1)"
else
    bad "containerd: ctr run: $(cat /tmp/ctr.out; tail -n 5 /tmp/containerd.log)"
fi
kill $EV $CTRD 2>/dev/null && wait $CTRD

# Rootless: uid 1000 asks its own systemd (user@1000.service) for the scope.
systemctl start user@1000.service || bad "rootless: user@1000.service did not start: $(journalctl -b --no-pager -u user@1000.service -u user-runtime-dir@1000.service | tail -n 8 | tr "\n" " ")"
# asuser CMD...: as uid 1000, with its session bus.
asuser() {
    setpriv --reuid=1000 --regid=1000 --init-groups env HOME=/home/user XDG_RUNTIME_DIR=/run/user/1000 \
        DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus "$@"
}
UM=$CG/user.slice/user-1000.slice/user@1000.service
RL=$UM/user.slice/hulltest-rl.scope
if asuser $H run -d --bundle $T/rootless rl > /tmp/rl.out 2>&1 < /dev/null; then
    ok "rootless: run -d"
    rlpid=$(asuser hull state rl | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
    grep -qx "$rlpid" "$RL/cgroup.procs" && ok "rootless: the init is in the user's scope $RL" \
        || bad "rootless: init $rlpid: $(cat /proc/$rlpid/cgroup)"
    a=$(asuser systemctl --user is-active hulltest-rl.scope)
    [ "$a" = active ] && ok "rootless: the user's systemd has the scope" || bad "rootless: hulltest-rl.scope is '$a'"
    expect "rootless: pids.max" "$RL/pids.max" 10
    expect "rootless: memory.max" "$RL/memory.max" 33554432
    asuser $H update --pids-limit 12 rl > /tmp/rl.out 2>&1 || bad "rootless: update: $(cat /tmp/rl.out)"
    expect "rootless: update" "$RL/pids.max" 12
    asuser $H delete -f rl > /tmp/rl.out 2>&1 || bad "rootless: delete: $(cat /tmp/rl.out)"
    a=$(asuser systemctl --user is-active hulltest-rl.scope)
    [ "$a" != active ] && [ ! -d "$RL" ] && ok "rootless: delete stops the scope" || bad "rootless: delete left $a $RL"
else
    bad "rootless: run -d: $(cat /tmp/rl.out)"
fi

# As under rootless podman: root of the user's own user namespace.
NS=$UM/user.slice/hulltest-rlns.scope
if asuser unshare --user --map-root-user $H run -d --bundle $T/userns rlns > /tmp/rlns.out 2>&1 < /dev/null; then
    ok "userns: run -d as root of the user's namespace"
    expect "userns: pids.max in the user's scope" "$NS/pids.max" 10
    asuser unshare --user --map-root-user $H delete -f rlns > /tmp/rlns.out 2>&1 || bad "userns: delete: $(cat /tmp/rlns.out)"
    [ ! -d "$NS" ] && ok "userns: delete stops the scope" || bad "userns: delete left $NS"
else
    bad "userns: run -d: $(cat /tmp/rlns.out)"
fi
# Without limits too (podman's default): the scope is what podman's stats,
# top and pause work on.
FREE=$UM/user.slice/hulltest-free.scope
if asuser unshare --user --map-root-user $H run -d --bundle $T/userns-free free > /tmp/free.out 2>&1 < /dev/null; then
    grep -q . "$FREE/cgroup.procs" 2>/dev/null && ok "userns: a container without limits has its scope too" || bad "userns: no $FREE"
    asuser unshare --user --map-root-user $H delete -f free > /tmp/free.out 2>&1 || bad "userns: delete free: $(cat /tmp/free.out)"
    [ ! -d "$FREE" ] && ok "userns: delete stops that scope" || bad "userns: delete left $FREE"
else
    bad "userns: run -d without limits: $(cat /tmp/free.out)"
fi

# A failed create leaves no unit, cgroup or state.
if $H run -d --bundle $T/bad bad > /tmp/bad.out 2>&1 < /dev/null; then
    bad "bad: cpus 99 was accepted"
    $H delete -f bad
else
    grep -q cpus /tmp/bad.out && ok "bad: the error names the field" || bad "bad: $(cat /tmp/bad.out)"
    a=$(active hulltest-bad.scope)
    if [ "$a" = active ] || [ -d $CG/system.slice/hulltest-bad.scope ] || [ -e /run/hull/bad ]; then
        bad "bad: a failed create left $a, $(ls -d $CG/system.slice/hulltest-bad.scope /run/hull/bad 2>&1)"
    else
        ok "bad: a failed create leaves no unit, cgroup or state"
    fi
fi

[ -z "$(ls /run/hull 2>/dev/null)" ] && ok "no state left" || bad "state left: $(ls /run/hull)"
left=$(systemctl list-units --all --no-legend --plain 'hulltest-*' 'hull-*' 'cri-containerd-*' | grep -v hull-checks)
[ -z "$left" ] && ok "no unit left" || bad "units left: $left"
echo V2DONE
systemctl poweroff --force --force
