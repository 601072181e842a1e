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
[ -e "$W/bundle/.hull-bundle.json" ] && "$HULL" bundle rm "$W/bundle"
rmdir "$W/bundle" 2>/dev/null || true
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

echo
echo "+ a two-container pod on a CNI bridge of the demo's own (10.213.250.0/24, no masquerade, no route out)"
CNI=$W/cni
mkdir -p "$CNI"
cat > "$CNI/10-demo.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "demo", "plugins": [
  {"type": "bridge", "bridge": "hulldemo0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$W/ipam", "ranges": [[{"subnet": "10.213.250.0/24"}]]}},
  {"type": "portmap", "snat": false, "capabilities": {"portMappings": true}}]}
JSON
L=("$HULL" --root "$ROOT" launch --engine-dir "$ENGINE" --store "$STORE" --image "oci:$W/layout:latest" --cni-config-dir "$CNI")
"$HULL" --root "$ROOT" destroy --engine-dir "$ENGINE" demo-web >/dev/null 2>&1 || true
echo "+ hull launch -d --name demo-web --pod demo --network demo -p 18250:80 -- httpd"
"${L[@]}" -d --name demo-web --pod demo --network demo -p 18250:80 -- \
    sh -c 'echo "hello from $(hostname)" > /tmp/index.html; exec httpd -f -p 80 -h /tmp'
"$HULL" --root "$ROOT" inspect --engine-dir "$ENGINE" demo-web | grep -A3 '"ips"'
IP=$("$HULL" --root "$ROOT" inspect --engine-dir "$ENGINE" demo-web | sed -n 's/.*"\(10\.213\.250\.[0-9]*\)\/24".*/\1/p' | head -1)
echo "+ hull launch --pod demo -- wget -qO- http://127.0.0.1/   (the pod's second container)"
"${L[@]}" --pod demo -- wget -qO- http://127.0.0.1/index.html
echo "+ hull launch --network demo -- wget -qO- http://$IP/   (another container on the bridge)"
"${L[@]}" --network demo -- wget -qO- "http://$IP/index.html"
echo "+ from the host, through portmap: 10.213.250.1:18250"
curl -s --max-time 3 http://10.213.250.1:18250/index.html
"$HULL" --root "$ROOT" destroy --engine-dir "$ENGINE" demo-web
ip link del hulldemo0 2>/dev/null || true
