#!/bin/bash
# Builds hull's test image with no network and no image tools: a busybox-static
# rootfs packed as an OCI image layout, tarred (an "OCI archive" that
# `ctr images import` and podman load).
#   hack/images.sh OUT_DIR   ->  OUT_DIR/busybox-oci.tar     (ref name "latest")
#                                OUT_DIR/multilayer-oci.tar  (ref name "multilayer": three layers
#                                with a whiteout and an opaque directory)
# Idempotent: rebuilt only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-/tmp/hull-images}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

R=$W/rootfs
mkdir -p "$R"/{bin,etc,proc,sys,dev,tmp,root,data}
chmod 1777 "$R/tmp"
install -m 0755 /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
echo hull-image > "$R/data/marker"

blob() { # layout file -> prints digest hex, stores the blob
    local d; d=$(sha256sum "$2" | cut -d' ' -f1); mkdir -p "$1/blobs/sha256"; cp "$2" "$1/blobs/sha256/$d"; echo "$d"
}
layer() { # layout dir -> "digest size diff_id" of dir as a gzip layer
    tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$2" -cf "$W/l.tar" .
    local diff; diff=$(sha256sum "$W/l.tar" | cut -d' ' -f1)
    gzip -n -c "$W/l.tar" > "$W/l.tar.gz"
    echo "$(blob "$1" "$W/l.tar.gz") $(stat -c %s "$W/l.tar.gz") $diff"
}
# image LAYOUT REF CONFIG-EXTRA DIR... : an OCI layout with one image of these layers.
image() {
    local lay=$1 ref=$2 cfg=$3; shift 3
    local diffs="" descs="" d size diff
    for dir in "$@"; do
        read -r d size diff < <(layer "$lay" "$dir")
        diffs="$diffs${diffs:+,}\"sha256:$diff\""
        descs="$descs${descs:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$size}"
    done
    cat > "$W/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
 "config":{$cfg},
 "rootfs":{"type":"layers","diff_ids":[$diffs]},
 "history":[{"created":"2024-01-01T00:00:00Z","created_by":"hack/images.sh"}]}
JSON
    local config config_size manifest manifest_size
    config=$(blob "$lay" "$W/config.json"); config_size=$(stat -c %s "$W/config.json")
    cat > "$W/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$config_size},
 "layers":[$descs]}
JSON
    manifest=$(blob "$lay" "$W/manifest.json"); manifest_size=$(stat -c %s "$W/manifest.json")
    echo '{"imageLayoutVersion":"1.0.0"}' > "$lay/oci-layout"
    cat > "$lay/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
 "manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest","size":$manifest_size,
   "annotations":{"org.opencontainers.image.ref.name":"$ref"}}]}
JSON
}
archive() { # layout -> OUT/name
    mkdir -p "$OUT"
    tar -C "$1" -cf "$OUT/$2.tmp" .
    mv "$OUT/$2.tmp" "$OUT/$2"
}

#   hack/images.sh --layout LAYOUT REF CONFIG-JSON-FIELDS DIR...  -> an OCI layout of these
#                                directories as layers (for the tests' own images)
if [ "$OUT" = --layout ]; then
    shift
    image "$@"
    exit 0
fi
[ -f "$OUT/busybox-oci.tar" ] && [ -f "$OUT/multilayer-oci.tar" ] && exit 0

PATHENV='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
image "$W/layout1" latest "$PATHENV,\"Cmd\":[\"/bin/sh\"],\"WorkingDir\":\"/\"" "$R"
archive "$W/layout1" busybox-oci.tar

# The multilayer image: a file deleted by a whiteout, a directory made opaque.
mkdir -p "$W/m1/data" "$W/m1/opaque" "$W/m2/data" "$W/m3/opaque"
cp -a "$R/." "$W/m1/"
echo "layer1: deleted later" > "$W/m1/data/deleted.txt"
echo "layer1: kept" > "$W/m1/data/kept.txt"
echo "layer1: hidden by the opaque dir" > "$W/m1/opaque/old.txt"
: > "$W/m2/data/.wh.deleted.txt"
echo "layer2: modified" > "$W/m2/data/kept.txt"
: > "$W/m3/opaque/.wh..wh..opq"
echo "layer3: the only file" > "$W/m3/opaque/new.txt"
image "$W/layout2" multilayer "$PATHENV,\"Cmd\":[\"sh\",\"-c\",\"ls -A /data /opaque; cat /data/kept.txt; pwd\"],\"WorkingDir\":\"/data\"" "$W/m1" "$W/m2" "$W/m3"
archive "$W/layout2" multilayer-oci.tar
