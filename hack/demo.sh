#!/bin/bash
# Quickstart: installs what is needed, builds hull, builds a busybox image (an
# OCI layout, no image tools), pulls it into a store, makes a bundle from it
# with the overlay backend and runs a container that shows it is isolated.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

./hack/setup.sh
./hack/build.sh
HULL=$PWD/target/release/hull

W=${DEMO_DIR:-/tmp/hull-demo}
ROOT=${DEMO_ROOT:-/run/hull-demo}
STORE=$W/store
"$HULL" --root "$ROOT" delete --force hull-demo 2>/dev/null || true
[ -d "$W/bundle" ] && "$HULL" bundle rm "$W/bundle"
mkdir -p "$W/layout"
./hack/images.sh "$W/images"
tar -C "$W/layout" -xf "$W/images/busybox-oci.tar"

echo "+ hull image pull oci:$W/layout:latest"
"$HULL" image pull --store "$STORE" "oci:$W/layout:latest"
"$HULL" image ls --store "$STORE"
echo "+ hull bundle create --image oci:$W/layout:latest $W/bundle -- sh -c ..."
"$HULL" bundle create --store "$STORE" --image "oci:$W/layout:latest" "$W/bundle" -- sh -c '
echo "hostname:  $(hostname)"
echo "my pid:    $$"
echo "processes: $(ls -d /proc/[0-9]* | wc -l)"
echo "id:        $(id)"
echo "image:     $(cat /data/marker)"
echo "mounts:"
sed "s/^/  /" /proc/self/mounts'
echo "+ hull run hull-demo"
"$HULL" --root "$ROOT" run --bundle "$W/bundle" hull-demo
"$HULL" bundle rm "$W/bundle"
