#!/bin/bash
# Installs the Debian packages hull's demo and tests need. Idempotent: does
# nothing when everything is already there. gcc and libc6-dev: the static
# release link (libc.a) and the tests' C probes.
set -euo pipefail

PKGS=(busybox-static runc jq util-linux iproute2 procps containerd bsdutils golang-github-containers-common podman conmon catatonit netavark containernetworking-plugins docker-registry skopeo apache2-utils curl debootstrap umoci openssl python3 uidmap passwd gcc libc6-dev tinyproxy python3-grpcio python3-grpc-tools docker.io tini iptables qemu-system-x86 cpio)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "[setup] installing: ${missing[*]}" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "[setup] run as root to install packages" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "[setup] cargo not found: install a Rust toolchain (rustup)" >&2; exit 1; }
file_static() { grep -q 'statically linked' < <(file -L "$1" 2>/dev/null) || [ "$(ldd "$1" 2>&1 | grep -c 'not a dynamic')" = 1 ]; }
file_static /bin/busybox || { echo "[setup] /bin/busybox is not static: install busybox-static" >&2; exit 1; }
# `hack/setup.sh fuzz` (hack/fuzz, hack/stress): cargo-fuzz builds with
# libFuzzer's sanitizer flags, which only a nightly toolchain takes.
if [ "${1:-}" = fuzz ]; then
    if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        echo "[setup] fuzzing needs a nightly Rust toolchain beside stable: rustup toolchain install nightly" >&2
        exit 1
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "[setup] installing cargo-fuzz from crates.io" >&2
        cargo install --quiet --locked cargo-fuzz
    fi
fi
echo "[setup] ok" >&2
