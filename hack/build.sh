#!/bin/bash
# The release build, as it ships: hack/build.sh [CARGO FLAGS...] (e.g. --target-dir DIR)
# hull is linked static-pie: each of its runs is short, and a dynamic one
# spends them loading and faulting in the shared libc (create's peak RSS 3.4
# -> 2.5 MiB, see hack/bench). Only the final link takes crt-static, so the
# dependencies, the symbol names hack/hull.order lists and target/release/hull
# are the same as a plain `cargo build --release`, which still works but makes
# the dynamic binary. hull-engine stays dynamic: it resolves registry names,
# which a static glibc could only do by loading the host's NSS modules.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet "$@" -p hull-engine --bin hull-engine
cargo rustc --release --quiet "$@" --bin hull -- -C target-feature=+crt-static
# Shipped without its symbols, which go to hull.debug beside it (as
# distributions ship them; gdb finds them through the debuglink). Stripping
# after the link keeps the symbol names hack/hull.order lists unchanged.
# A binary cargo did not relink is stripped already.
if readelf -S target/release/hull | grep -q '\.symtab'; then
    objcopy --only-keep-debug target/release/hull target/release/hull.debug
    objcopy --strip-all --add-gnu-debuglink=target/release/hull.debug target/release/hull
fi
