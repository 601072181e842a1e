#!/bin/bash
# Quickstart: installs what is needed, builds hull, makes a busybox bundle and
# runs a container that shows it is isolated. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

./hack/setup.sh
cargo build --release --quiet
HULL=$PWD/target/release/hull
export HULL

B=${DEMO_BUNDLE:-/tmp/hull-demo}
ROOT=${DEMO_ROOT:-/run/hull-demo}
./hack/mkbundle.sh "$B" sh -c '
echo "hostname:  $(hostname)"
echo "my pid:    $$"
echo "processes: $(ls -d /proc/[0-9]* | wc -l)"
echo "id:        $(id)"
echo "mounts:"
sed "s/^/  /" /proc/self/mounts
echo "root is read-only: $(touch /x 2>/dev/null && echo no || echo yes)"'
"$HULL" --root "$ROOT" delete --force hull-demo 2>/dev/null || true
echo "+ hull run hull-demo ($B)"
"$HULL" --root "$ROOT" run --bundle "$B" hull-demo
