# Sourced by the conformance scripts that drive podman or Docker's engine
# with hull and runc side by side: a private configuration for each client
# under $W, the client call P, setup_podman / setup_docker (which load the
# busybox test image as $IMG) and clients_cleanup. Needs W, CLIENT, HULL,
# RUNC, T and say(); sets IMG and NET (the network flags every run gets).

export CONTAINERS_CONF=$W/containers.conf CONTAINERS_STORAGE_CONF=$W/storage.conf
export CONTAINERS_REGISTRIES_CONF=$W/registries.conf TMPDIR=$W/tmp
# Debian's docker CLI: another one earlier in PATH may not speak to 20.10.
DOCKER=(timeout $T /usr/bin/docker -H "unix://$W/docker.sock")
P() {
    case $CLIENT in
        podman) timeout $T podman "$@" ;;
        docker) "${DOCKER[@]}" "$@" ;;
        ctr) timeout $T ctr -a "$W/containerd.sock" -n hull "$@" ;;
        rootless) (cd /tmp && runuser -u "$RL_USER" -- env HOME="/home/$RL_USER" XDG_RUNTIME_DIR="/run/user/$RL_UID" TMPDIR="/run/user/$RL_UID" \
            CONTAINERS_CONF="$W/rootless/containers.conf" CONTAINERS_STORAGE_CONF="$W/rootless/storage.conf" \
            timeout $T podman "$@") ;;
    esac
}
RL_USER=hullrl$$

clients_cleanup() {
    set +e
    if [ "$CLIENT" = podman ] && [ -f "$W/containers.conf" ]; then
        P rm -a -f -t 0 >/dev/null 2>&1; P volume rm -a -f >/dev/null 2>&1
    fi
    if id "$RL_USER" >/dev/null 2>&1; then
        RL_UID=$(id -u "$RL_USER")
        P rm -a -f -t 0 >/dev/null 2>&1
        pkill -9 -u "$RL_USER" 2>/dev/null
        userdel -r "$RL_USER" >/dev/null 2>&1
        rm -rf "/run/user/$RL_UID"
    fi
    if [ -f "$W/containerd.pid" ]; then
        for t in $(P task ls -q 2>/dev/null); do P task kill -a -s SIGKILL "$t" >/dev/null 2>&1; P task rm -f "$t" >/dev/null 2>&1; done
        for c in $(P c ls -q 2>/dev/null); do P c rm "$c" >/dev/null 2>&1; done
        p=$(cat "$W/containerd.pid"); kill "$p" 2>/dev/null
        timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null
        for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $W/containerd.sock" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    fi
    if [ -f "$W/docker.pid" ]; then
        P rm -f $(P ps -aq 2>/dev/null) >/dev/null 2>&1; P volume prune -f >/dev/null 2>&1
        p=$(cat "$W/docker.pid"); kill "$p" 2>/dev/null
        timeout 20 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null
        pkill -9 -f "containerd.*$W/exec" 2>/dev/null
    fi
    awk -v p="$W" '$2 ~ "^"p {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
}
# This host lacks CAP_SYS_RESOURCE: the clients' default nofile/nproc limits
# are above the hard limits, so ask for what the host allows.
HN=$(ulimit -Hn); HU=$(ulimit -Hu); [ "$HU" = unlimited ] || [ "$HU" -gt 32768 ] && HU=32768

setup_podman() {
    # podman passes no --root: the wrapper keeps hull's state private to $W.
    printf '#!/bin/sh\nexec "%s" --root "%s" "$@"\n' "$HULL" "$W/hull-root" > "$W/hull"
    chmod +x "$W/hull"
    cat > "$W/containers.conf" <<EOF
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
    runtime_supports_json = ["crun", "runc", "hull"]
    [engine.runtimes]
    hull = ["$W/hull"]
    runc = ["$RUNC"]
EOF
    printf '[storage]\ndriver = "overlay"\nrunroot = "%s/runroot"\ngraphroot = "%s/storage"\n' "$W" "$W" > "$W/storage.conf"
    printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' > "$W/registries.conf"
    echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$W/policy.json"
    P load --signature-policy "$W/policy.json" -q -i "$W/images/busybox-oci.tar" >/dev/null
    IMG=$(P images -q | head -1)
}

setup_docker() {
    # The shim gives every runtime --root and --log: the wrapper adds nothing.
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$HULL" > "$W/hull"
    chmod +x "$W/hull"
    cat > "$W/daemon.json" <<EOF
{"runtimes": {"hull": {"path": "$W/hull"}},
 "default-ulimits": {"nofile": {"Name": "nofile", "Soft": $HN, "Hard": $HN}}}
EOF
    dockerd --config-file "$W/daemon.json" --data-root "$W/data" --exec-root "$W/exec" \
        -H "unix://$W/docker.sock" --pidfile "$W/docker.pid" --iptables=false --ip-forward=false \
        --ip-masq=false --bridge=none --storage-driver overlay2 > "$W/dockerd.log" 2>&1 &
    for _ in $(seq 1 100); do P version >/dev/null 2>&1 && break; sleep 0.2; done
    P version >/dev/null 2>&1 || { say "dockerd did not start: $(tail -n 5 "$W/dockerd.log")"; exit 1; }
    skopeo copy -q oci-archive:"$W/images/busybox-oci.tar" docker-archive:"$W/images/busybox-docker.tar":localhost/busybox:latest
    P load -q -i "$W/images/busybox-docker.tar" >/dev/null
    # dockerd refuses rshared volumes whose source is not on a shared mount.
    mkdir -p "$W/vol" && mount --bind "$W/vol" "$W/vol" && mount --make-shared "$W/vol"
    IMG=localhost/busybox:latest
    # No bridge: every container gets a network namespace of its own, loopback only.
    NET=(--network none)
}

setup_rootless() {
    # Rootless podman: an unprivileged user made for the run (useradd gives it
    # subordinate ids), its own runtime dir, storage and configuration; the
    # runtimes run as root of podman's user namespace.
    useradd -m -s /bin/sh "$RL_USER" || { say "useradd failed"; exit 1; }
    RL_UID=$(id -u "$RL_USER")
    mkdir -p "/run/user/$RL_UID" "$W/rootless"
    chown "$RL_USER:" "/run/user/$RL_UID" && chmod 700 "/run/user/$RL_UID"
    cp "$HULL" "$W/rootless/hull"
    chmod 755 "$W" "$W/rootless" "$W/rootless/hull" && chmod -R a+rX "$W/images" "$W/vol"
    cat > "$W/rootless/containers.conf" <<EOF
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["crun", "runc", "hull"]
[engine.runtimes]
hull = ["$W/rootless/hull"]
runc = ["$RUNC"]
EOF
    printf '[storage]\ndriver = "vfs"\n' > "$W/rootless/storage.conf"
    printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' > "$W/registries.conf"
    P load -q -i "$W/images/busybox-oci.tar" >/dev/null || say "podman load as $RL_USER failed"
    IMG=$(P images -q | head -1)
}

setup_ctr() {
    # ctr names the runtime binary per run (--runc-binary); hull's and runc's
    # state stay apart with --runc-root.
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$HULL" > "$W/hull"
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$RUNC" > "$W/runc"
    chmod +x "$W/hull" "$W/runc"
    cat > "$W/config.toml" <<EOF
version = 2
root = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$W/containerd.sock"
[ttrpc]
  address = "$W/containerd.sock.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$W/opt"
EOF
    containerd --config "$W/config.toml" > "$W/containerd.log" 2>&1 &
    echo $! > "$W/containerd.pid"
    for _ in $(seq 1 100); do P version >/dev/null 2>&1 && break; sleep 0.1; done
    P images import --base-name localhost/busybox "$W/images/busybox-oci.tar" >/dev/null
    IMG=localhost/busybox:latest
}

NET=()
