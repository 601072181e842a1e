# Sourced by the tests that boot a cgroup v2 host (cgroup-v2.sh,
# systemd-v2.sh): Debian's own kernel under QEMU, from an initramfs, with
# cgroup_no_v1=all. The caller sets W (its work directory) and defines say.
# Inside, the checks print lines "V2OK what", "V2FAIL what", "V2JSON name
# document" and finally "V2DONE" on the console.
VM_CACHE=${HULL_CACHE:-/var/cache/hull}/kernel

# The newest kernel package linux-image-amd64 points at, downloaded once
# into $VM_CACHE and unpacked, never installed. Prints its vmlinuz.
vm_kernel() {
    local pkg vmlinuz
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then
        apt-get update -qq >/dev/null 2>&1
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    [ -n "$pkg" ] || { say "apt knows no linux-image-amd64 (apt-get update?)"; return 1; }
    vmlinuz=$VM_CACHE/vmlinuz-${pkg#linux-image-}
    if [ ! -s "$vmlinuz" ]; then
        mkdir -p "$VM_CACHE" || return 1
        (cd "$W" && apt-get download -q "$pkg" >/dev/null 2>"$W/apt.log") || { cat "$W/apt.log" >&2; return 1; }
        dpkg-deb --fsys-tarfile "$W"/"$pkg"_*.deb | tar -x -C "$W" ./boot || return 1
        mv "$W"/boot/vmlinuz-* "$vmlinuz.tmp" && mv "$vmlinuz.tmp" "$vmlinuz" || return 1
        rm -rf "$W/boot" "$W"/*.deb
    fi
    echo "$vmlinuz"
}

# vm_initramfs ROOT OUT PROGRAM...: packs ROOT with an /init that moves the
# root to a tmpfs (pivot_root, which every container start makes, cannot
# leave the initramfs itself) and there execs PROGRAM as pid 1.
vm_initramfs() {
    local root=$1 out=$2
    shift 2
    mkdir -p "$root/newroot"
    cat > "$root/init" <<EOF
#!/bin/sh
mount -t tmpfs -o mode=755 root /newroot
for d in /*; do
    case \$d in /newroot|/proc|/sys|/dev|/init) ;; *) cp -a "\$d" /newroot/ ;; esac
done
mkdir -p /newroot/proc /newroot/sys /newroot/dev
exec switch_root /newroot $*
EOF
    chmod +x "$root/init"
    (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$out"
}

# vm_rootless_case HULL DIR ROOT CGROUPS_PATH RESOURCES: DIR/config.json, a
# rootless bundle's config (hull spec --rootless) for uid 1000, its own id
# mapped, running sleep with ROOT as its rootfs and the JSON RESOURCES.
vm_rootless_case() {
    "$1" spec --rootless --bundle "$W" && mkdir -p "$2" \
        && jq --arg root "$3" --arg cg "$4" --argjson res "$5" '.root.path = $root | .process.terminal = false
            | .process.args = ["sleep", "1000"]
            | .linux.uidMappings = [{containerID: 0, hostID: 1000, size: 1}]
            | .linux.gidMappings = [{containerID: 0, hostID: 1000, size: 1}]
            | .linux.cgroupsPath = $cg | .linux.resources = $res' "$W/config.json" > "$2/config.json"
}

# vm_boot VMLINUZ INITRD LOG MEM_MB TIMEOUT [KERNEL ARGS...]: runs the VM
# until it powers off, its console in LOG. TCG, not KVM: this kind of
# machine has a /dev/kvm whose guests hang (no VMX underneath). The
# kernel's own messages stay off the console, where they would split the
# check lines.
vm_boot() {
    local kernel=$1 initrd=$2 log=$3 mem=$4 limit=$5
    shift 5
    say "booting $(basename "$kernel") with cgroup v2 alone"
    timeout -k 5 "$limit" qemu-system-x86_64 -accel tcg -m "$mem" -smp 2 -nographic -no-reboot \
        -nic none -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 quiet loglevel=1 panic=-1 cgroup_no_v1=all $*" \
        </dev/null > "$log.raw" 2>&1
    local rc=$?
    # A getty or systemd may clear the screen: the check lines without the
    # terminal's escapes and carriage returns.
    sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[a-zA-Z]//g; s/\r$//' "$log.raw" > "$log"
    return $rc
}

# vm_results LOG: counts the check lines into PASSED and FAILED and shows them.
vm_results() {
    PASSED=$(grep -c '^V2OK ' "$1")
    FAILED=$(grep -c '^V2FAIL ' "$1")
    grep -E '^V2(OK|FAIL) ' "$1" | sed 's/^V2OK /ok: /; s/^V2FAIL /FAILED: /' | while read -r l; do say "$l"; done
}

# vm_jsoncheck LOG NAME WHAT JQ: the V2JSON document NAME passes the jq test.
vm_jsoncheck() {
    local doc
    doc=$(sed -n "s/^V2JSON $2 //p" "$1")
    if jq -e "$4" <<<"$doc" >/dev/null 2>&1; then
        PASSED=$((PASSED + 1)); say "ok: $3"
    else
        FAILED=$((FAILED + 1)); say "FAILED: $3: $4 on ${doc:0:600}"
    fi
}

# vm_done LOG QEMU_RC: counts a run whose checks did not finish as a failure.
vm_done() {
    if ! grep -q '^V2DONE' "$1"; then
        say "the checks did not finish (qemu exit $2); console:"
        tail -n 30 "$1" >&2
        FAILED=$((FAILED + 1))
    fi
}
