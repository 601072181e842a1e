#!/bin/bash
# Makes an OCI bundle with a busybox-static rootfs: hack/mkbundle.sh DIR [ARGS...]
# The config is `hull spec` with terminal off and process.args set to ARGS.
set -euo pipefail

HULL=${HULL:-$(dirname "$0")/../target/release/hull}
dir=$1; shift
[ $# -gt 0 ] || set -- sh
rm -rf "$dir"
mkdir -p "$dir/rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
chmod 1777 "$dir/rootfs/tmp"
install -m 0755 /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/rootfs/etc/group"
"$HULL" spec --bundle "$dir"
args=$(jq -cn '$ARGS.positional' --args -- "$@")
jq --argjson a "$args" '.process.terminal=false | .process.args=$a' "$dir/config.json" > "$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
