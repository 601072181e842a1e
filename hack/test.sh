#!/bin/bash
# Installs what the tests need, builds, and runs every test (as root: the
# tests run real containers). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

./hack/setup.sh
if [ "$(id -u)" != 0 ]; then
    echo "[test] the tests run real containers: run as root" >&2
    exit 1
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
cargo build --workspace --quiet
cargo test --workspace -- --test-threads="${TEST_THREADS:-4}"
# Crashes at every step: hull, and the provisioner under hull-engine, built
# with their fault points (tests/faults.rs, engine/tests/faults.rs).
cargo test --features fault-injection --test faults
cargo test -p hull-engine --features fault-injection --test faults
# The real clients, driving the binary as it ships (static-pie, LTO): the
# tests above ran the debug build.
./hack/build.sh
# Linked statically, a glibc user or host lookup would dlopen the host's NSS
# modules: hull must not make one (src/passwd.rs reads /etc/passwd itself).
if nm target/release/hull.debug | grep -E ' [TtWw] (getpw(nam|uid|ent)|getgr(nam|gid|ent)|getgrouplist|getaddrinfo|gethostby|initgroups)'; then
    echo "[test] target/release/hull links the NSS lookups above" >&2
    exit 1
fi
./conformance/containerd.sh target/release/hull
./conformance/podman.sh target/release/hull
./conformance/flag-matrix.sh podman target/release/hull
./conformance/flag-matrix.sh docker target/release/hull
./conformance/flag-matrix.sh ctr target/release/hull
./conformance/flag-matrix.sh rootless target/release/hull
./conformance/cri.sh target/release/hull
./conformance/apps.sh target/release/hull
./conformance/systemd.sh target/release/hull
./conformance/cgroup-v2.sh target/release/hull
./conformance/systemd-v2.sh target/release/hull
