#!/bin/bash
# Every everyday `podman run` (or `docker run`, or `ctr run`) flag that
# changes the runtime config, run through hull and through runc: what the
# container observes about itself must be the same (issue 18).
#   conformance/flag-matrix.sh podman|docker|ctr|rootless [HULL_BINARY]
# podman with conmon and a private storage; Docker's engine (Debian's
# docker.io) as a private dockerd with its own data-root, exec-root and
# socket, no iptables and no bridge, hull registered in its runtimes;
# containerd's ctr with a private containerd and --runc-binary; rootless
# podman as a user made for the run.
# Prints one line per case and "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
CLIENT=${1:?podman or docker}
HULL=$(readlink -f "${2:-target/release/hull}")
RUNC=/usr/sbin/runc
W=/tmp/hull-$CLIENT-matrix
T=60
PASSED=0
FAILED=0
say() { echo "[$CLIENT-matrix] $*" >&2; }

case $CLIENT in
    podman) NEED=(podman conmon) ;;
    docker) NEED=(dockerd /usr/bin/docker docker-init skopeo) ;;
    ctr) NEED=(containerd ctr containerd-shim-runc-v2) ;;
    rootless) NEED=(podman conmon useradd runuser newuidmap) ;;
    *) say "the client is podman, docker, ctr or rootless, not $CLIENT"; exit 2 ;;
esac
for b in "${NEED[@]}" "$RUNC"; do command -v "$b" >/dev/null || { say "missing $b: run hack/setup.sh"; exit 1; }; done
[ -x "$HULL" ] || { say "no hull binary at $HULL"; exit 1; }

. conformance/clients.sh

finish() {
    local rc=$?
    clients_cleanup
    [ -n "${ADDED_SUBIDS:-}" ] && sed -i "/^$ADDED_SUBIDS\$/d" /etc/subuid /etc/subgid
    echo "$CLIENT-matrix: $PASSED passed, $FAILED failed"
    [ $FAILED = 0 ] && [ $rc = 0 ] && exit 0
    exit 1
}
clients_cleanup
mkdir -p "$W/tmp" "$W/vol"
echo volume-file > "$W/vol/f"
trap finish EXIT
./hack/images.sh "$W/images" >/dev/null

setup_$CLIENT

# What the container can see of its own configuration, one fact a line.
PROBE='
echo "id: $(id)"
grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status
echo "hostname: $(hostname) cwd: $(pwd) umask: $(umask)"
env | grep -v -E "^(HOSTNAME|PWD|SHLVL|_)=" | sort | sed "s/^/env: /"
awk "{ if (\$2 == \"/\") print \"mount: / \" \$3; else print \"mount:\", \$2, \$3, \$4 }" /proc/self/mounts | sort
grep -v "^Limit" /proc/self/limits | sed "s/  */ /g; s/^/limit: /"
for f in memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.shares; do echo "cgroup $f: $(cat /sys/fs/cgroup/$f 2>&1)"; done
echo "ip_forward: $(cat /proc/sys/net/ipv4/ip_forward)"
echo "oom: $(cat /proc/self/oom_score_adj)"
ls -ln /dev | awk "NR>1 {print \"dev:\", \$1, \$3, \$4, \$NF}"
for n in pid net ipc uts cgroup user mnt; do echo "ns $n: $(readlink /proc/self/ns/$n)"; done
echo "pid1: $(cat /proc/1/comm)"
touch /probe-rw 2>/dev/null && echo "root: rw" || echo "root: ro"
df -k /dev/shm | awk "NR==2 {print \"shm:\", \$2}"
ls -ln /vol 2>/dev/null | awk "NR>1 {print \"vol:\", \$1, \$3, \$4, \$NF}"
touch /vol/w 2>/dev/null && echo "vol: rw" && rm -f /vol/w
'
# Host namespaces and the container's id-like names differ from run to run.
HOSTNS=$(for n in pid net ipc uts cgroup user mnt; do readlink /proc/self/ns/$n; done | tr '\n' '|' | sed 's/|$//; s/\[/\\[/g; s/\]/\\]/g')
normalise() {
    sed -E "s/($HOSTNS)/host-ns/; s/^(ns [a-z]+: )[a-z]+:\[[0-9]+\]/\1own/; s/hostname: [0-9a-f]{12} /hostname: <id> /
            s/[0-9a-f]{64}/<id>/g; s#/overlay/[0-9]+/#/overlay/<n>/#g" | sort
}

observe() { # runtime, flags..., image, command...
    local rt=$1; shift
    if [ "$CLIENT" = ctr ]; then
        # ctr run [flags] IMAGE ID COMMAND...: the id goes after the image.
        local args=() a
        for a in "$@"; do args+=("$a"); [ "$a" = "$IMG" ] && args+=("m$RANDOM$RANDOM"); done
        P run --rm --runc-binary "$W/$rt" --runc-root "$W/$rt-root" --fifo-dir "$W/fifo" "${args[@]}" 2>&1
        echo "exit: $?"
        return
    fi
    local net=("${NET[@]}")
    [[ " $* " == *" --network "* ]] && net=()
    P run --rm --runtime "$rt" "${net[@]}" "$@" 2>&1 | sed 's/^docker: //'
    echo "exit: ${PIPESTATUS[0]}"
}
podman_only() { [ "$CLIENT" = podman ]; }

check() { # name, flags...: the command is sh -c PROBE
    local name=$1; shift
    local h r
    h=$(observe hull "$@" "$IMG" sh -c "$PROBE" | normalise | grep -v -E "${IGNORE:-^$}")
    r=$(observe runc "$@" "$IMG" sh -c "$PROBE" | normalise | grep -v -E "${IGNORE:-^$}")
    [ -n "${SHOW:-}" ] && echo "$h" >&2
    # Docker grants every capability it knows to --privileged, CAP_SYS_RESOURCE
    # too, which this host's bounding set lacks: runc 1.1 fails capset;
    # config.md says the container MUST start with what can be granted.
    if [ -n "${BEYOND_HOST:-}" ] && grep -q "unable to apply caps" <<<"$r" && grep -q "^id: uid=" <<<"$h"; then
        PASSED=$((PASSED + 1)); say "as explained (runc fails capset, hull starts without CAP_SYS_RESOURCE): $name"
        return
    fi
    # A case both runtimes could not even start proves nothing.
    if [ "$h" = "$r" ] && grep -q "^id: uid=" <<<"$r"; then
        PASSED=$((PASSED + 1)); say "same: $name"
    else
        FAILED=$((FAILED + 1)); say "DIFF: $name ($*)"
        diff <(echo "$r") <(echo "$h") | sed 's/^</  runc:/; s/^>/  hull:/' | grep '^  ' >&2 || echo "$h" | sed 's/^/  hull: /' >&2
    fi
}

check default
if [ "$CLIENT" = rootless ]; then
    # The mqueue difference of a user namespace, as in the uidmap case below.
    IGNORE='^dev: drwxrwxrwt 0 [0-9]+ mqueue$' check keep-id --userns keep-id
    IGNORE='^dev: drwxrwxrwt 0 [0-9]+ mqueue$' check keep-id-user --userns keep-id --user 1000:1000
    check read-only --read-only
    check tmpfs --tmpfs /data:size=1m
    check v-ro -v "$W/vol:/vol:ro"
    check cap-drop --cap-drop ALL --cap-add CHOWN
    check no-new-privileges --security-opt no-new-privileges
    check env --env A=1 --workdir /tmp --hostname rootless-host
    check ulimit --ulimit nofile=1000:1000
    check shm-size --shm-size 8m
    exit
fi
if [ "$CLIENT" = ctr ]; then
    check read-only --read-only
    check mount-bind-ro --mount "type=bind,src=$W/vol,dst=/vol,options=rbind:ro"
    check mount-tmpfs --mount "type=tmpfs,src=tmpfs,dst=/scratch,options=size=2m:mode=1777"
    check env --env A=1 --env "B=two words"
    check cwd --cwd /tmp
    check privileged --privileged
    check cap-add --cap-add CAP_NET_ADMIN
    check cap-drop --cap-drop CAP_CHOWN --cap-drop CAP_KILL
    check memory --memory-limit 67108864
    check cpus --cpus 0.5
    check cpu-quota --cpu-quota 25000 --cpu-period 100000 --cpu-shares 512
    check net-host --net-host
    check seccomp --seccomp
    check allow-new-privs --allow-new-privs
    check device --device /dev/fuse
    check rootfs-propagation --rootfs-propagation rslave
    check no-pivot --no-pivot
    exit
fi
check read-only --read-only
podman_only && check read-only-tmpfs-false --read-only --read-only-tmpfs=false
check tmpfs --tmpfs /data:size=1m
check tmpfs-mode --tmpfs /data:rw,size=2m,mode=1770,noexec
check mount-bind-ro --mount "type=bind,src=$W/vol,dst=/vol,ro"
check mount-tmpfs --mount type=tmpfs,dst=/scratch,tmpfs-size=2m
check mount-volume --mount type=volume,src=matrixvol,dst=/v
podman_only && check mount-devpts --mount type=devpts,destination=/dev/pts2
check v-ro -v "$W/vol:/vol:ro"
check v-z -v "$W/vol:/vol:z"
podman_only && check v-U -v "$W/vol:/vol:U" --user 1000:1000
podman_only && check v-O -v "$W/vol:/vol:O"
check v-rshared -v "$W/vol:/vol:rshared"
podman_only && check v-noexec -v "$W/vol:/vol:noexec,nosuid,nodev"
check device --device /dev/fuse
check device-ro --device /dev/fuse:/dev/fuse:r
check cap-add --cap-add NET_ADMIN --cap-add SYS_TIME
check cap-drop --cap-drop ALL
check cap-drop-add --cap-drop ALL --cap-add CHOWN
BEYOND_HOST=$([ "$CLIENT" = docker ] && echo 1) check privileged --privileged
check seccomp-unconfined --security-opt seccomp=unconfined
check no-new-privileges --security-opt no-new-privileges
podman_only && check mask --security-opt mask=/etc/passwd
podman_only && check unmask --security-opt unmask=ALL
check userns-host --userns host
# With a user namespace runc 1.1.5 mounts mqueue before it becomes gid 0 in
# it, so its /dev/mqueue shows the overflow gid; hull switches first and it
# is the container's root group's (conformance/differential.rs has the same).
# --userns auto takes its ranges from the subordinate ids of the user
# "containers" (podman's root-auto-userns-user): added for this run when the
# host has none, removed after. (--userns keep-id is rootless podman's: as
# root podman refuses it itself. Docker has neither, nor --uidmap.)
if podman_only && ! grep -q '^containers:' /etc/subuid /etc/subgid 2>/dev/null; then
    ADDED_SUBIDS="containers:300000:200000"
    echo "$ADDED_SUBIDS" >> /etc/subuid
    echo "$ADDED_SUBIDS" >> /etc/subgid
fi
podman_only && IGNORE='^dev: drwxrwxrwt 0 [0-9]+ mqueue$' check userns-auto --userns auto
podman_only && IGNORE='^dev: drwxrwxrwt 0 [0-9]+ mqueue$' check uidmap --uidmap 0:100000:65536 --gidmap 0:100000:65536
check cgroupns-private --cgroupns private
check cgroupns-host --cgroupns host
check pid-host --pid host
check ipc-host --ipc host
check uts-host --uts host
check net-host --network host
check memory --memory 64m
check cpus --cpus 0.5
check pids-limit --pids-limit 42
# podman's "no limit": podman 4.3 writes it as 0 in a 1.0.2-dev config.
check pids-unlimited --pids-limit -1
check ulimit --ulimit nofile=1000:1000 --ulimit core=0:0 --ulimit "nproc=$HU:$HU"
check sysctl --sysctl net.ipv4.ip_forward=1
check shm-size --shm-size 8m
check init --init
check group-add --group-add 27 --group-add 100
check oom-score-adj --oom-score-adj 300
check hostname --hostname matrix-host
check env --env A=1 --env "B=two words"
check workdir --workdir /tmp
check entrypoint --entrypoint /bin/env
check user --user 1000:1000
check user-name --user nobody
