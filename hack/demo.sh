#!/bin/bash
# Quickstart: installs what is needed, builds hull, builds a busybox image (an
# OCI layout, no image tools), pulls it into a store, makes a bundle from it
# with the overlay backend and runs a container that shows it is isolated;
# then the engine: `hull launch` of the image with a memory limit and a
# volume, a detached one inspected, its limit updated, and destroyed.
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

echo
echo "+ hull launch --image oci:$W/layout:latest --memory 32m --cpus 0.5 -v $W/shared:/shared:ro -- sh -c ..."
ENGINE=$W/engine
mkdir -p "$W/shared"
echo "a file from the host" > "$W/shared/hello"
"$HULL" --root "$ROOT" destroy --engine-dir "$ENGINE" demo-bg >/dev/null 2>&1 || true
"$HULL" --root "$ROOT" launch --engine-dir "$ENGINE" --store "$STORE" --image "oci:$W/layout:latest" \
    --memory 32m --cpus 0.5 -v "$W/shared:/shared:ro" -- sh -c '
echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
echo "cpu quota:    $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) of $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
echo "volume:       $(cat /shared/hello)"
touch /shared/x 2>&1 | sed "s/^/write:        /"
echo "sandbox:      $HULL_SANDBOX"'
echo "+ hull launch -d --name demo-bg --memory 32m -- sh -c 'x=a; while true; do x=\$x\$x; done'"
"$HULL" --root "$ROOT" launch --engine-dir "$ENGINE" --store "$STORE" --image "oci:$W/layout:latest" \
    -d --name demo-bg --memory 32m -- sh -c 'x=a; while true; do x=$x$x; done'
for _ in $(seq 50); do
    "$HULL" --root "$ROOT" inspect --engine-dir "$ENGINE" demo-bg | grep -q '"status": "exited"' && break
    sleep 0.2
done
echo "+ hull inspect demo-bg"
"$HULL" --root "$ROOT" inspect --engine-dir "$ENGINE" demo-bg | grep -E '"(status|exit_code|reason)"'
"$HULL" --root "$ROOT" destroy --engine-dir "$ENGINE" demo-bg
