#!/bin/bash
# Builds hull's test image with no network and no image tools: a busybox-static
# rootfs packed as an OCI image layout, tarred (an "OCI archive" that
# `ctr images import` and podman load).
#   hack/images.sh OUT_DIR   ->  OUT_DIR/busybox-oci.tar  (ref name "latest")
# Idempotent: rebuilt only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-/tmp/hull-images}
[ -f "$OUT/busybox-oci.tar" ] && exit 0
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

L=$W/layout
mkdir -p "$L/blobs/sha256"
blob() { # file -> prints digest hex, stores the blob
    local d; d=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$L/blobs/sha256/$d"; echo "$d"
}
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$R" -cf "$W/layer.tar" .
diff_id=$(sha256sum "$W/layer.tar" | cut -d' ' -f1)
gzip -n -c "$W/layer.tar" > "$W/layer.tar.gz"
layer=$(blob "$W/layer.tar.gz"); layer_size=$(stat -c %s "$W/layer.tar.gz")

cat > "$W/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created":"2024-01-01T00:00:00Z","created_by":"hack/images.sh"}]}
JSON
config=$(blob "$W/config.json"); config_size=$(stat -c %s "$W/config.json")

cat > "$W/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config","size":$config_size},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer","size":$layer_size}]}
JSON
manifest=$(blob "$W/manifest.json"); manifest_size=$(stat -c %s "$W/manifest.json")

echo '{"imageLayoutVersion":"1.0.0"}' > "$L/oci-layout"
cat > "$L/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
 "manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest","size":$manifest_size,
   "annotations":{"org.opencontainers.image.ref.name":"latest"}}]}
JSON
mkdir -p "$OUT"
tar -C "$L" -cf "$OUT/busybox-oci.tar.tmp" .
mv "$OUT/busybox-oci.tar.tmp" "$OUT/busybox-oci.tar"
