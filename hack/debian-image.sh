#!/bin/bash
# A real distribution image for hull's tests and benchmarks: Debian bookworm
# (debootstrap --variant=minbase, through apt's mirror), one gzip layer in an
# OCI image layout made with umoci.
#   hack/debian-image.sh [OUT_DIR [PACKAGE...]]  ->  OUT_DIR/oci, ref name "bookworm"
# PACKAGEs are installed into it too (the application tests: PostgreSQL,
# nginx, a JVM); each package list has its own cached tree.
# The debootstrap tree is cached as $HULL_CACHE/bookworm-minbase.tar (default
# /var/cache/hull): only the first run needs the mirror (about 2 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-/var/cache/hull/debian}
shift $(($# > 0 ? 1 : 0))
CACHE=${HULL_CACHE:-/var/cache/hull}
SUITE=bookworm
INCLUDE=$(IFS=,; echo "$*")
[ -f "$OUT/.complete" ] && exit 0
for b in debootstrap umoci; do
    command -v "$b" >/dev/null || { echo "[debian-image] missing $b: run hack/setup.sh" >&2; exit 1; }
done
mkdir -p "$CACHE"
TARBALL=$CACHE/$SUITE-minbase${INCLUDE:+-$(sha256sum <<<"$INCLUDE" | cut -c1-12)}.tar
if [ ! -s "$TARBALL" ]; then
    W=$(mktemp -d "$CACHE/.debootstrap.XXXXXX")
    trap 'rm -rf "$W"' EXIT
    echo "[debian-image] debootstrap $SUITE (minbase)" >&2
    if ! timeout 1500 debootstrap --variant=minbase ${INCLUDE:+--include="$INCLUDE"} "$SUITE" "$W/rootfs" > "$W/log" 2>&1; then
        tail -20 "$W/log" >&2
        exit 1
    fi
    R=$W/rootfs
    # An image has no device nodes (the runtime makes /dev), caches or logs.
    find "$R/dev" -mindepth 1 -delete
    rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/var/log/* "$R"/tmp/* "$R"/run/*
    : > "$R/etc/machine-id"
    (cd "$R" && tar --numeric-owner --xattrs --xattrs-include='security.capability' -cf "$TARBALL.tmp" $(ls -A))
    mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$W"
    trap - EXIT
fi

rm -rf "$OUT"
mkdir -p "$OUT"
IMG=$OUT/oci:$SUITE
umoci init --layout "$OUT/oci"
umoci new --image "$IMG"
umoci raw add-layer --image "$IMG" "$TARBALL"
umoci config --image "$IMG" --os linux --architecture amd64 --created 2024-01-01T00:00:00Z \
    --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --config.env LANG=C.UTF-8 --config.cmd /bin/bash --config.workingdir /
touch "$OUT/.complete"
