#!/bin/bash
# Regenerates hack/hull.order: the functions a container's lifecycle runs,
# which build.rs has the linker lay out together in the hull binary (fewer
# code pages resident per run; see hack/bench's peak RSS rows). Two sources:
# callgrind's exhaustive list for what runs before the first openat2 (valgrind
# 3.19 does not know it), and perf cpu-clock samples of whole lifecycles.
# Needs: valgrind, linux-perf, jq, busybox-static. Run as root; takes ~4 min.
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(mktemp -d)
trap 'target/order/release/hull --root "$W/state" delete -f sleeper >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
CARGO_PROFILE_RELEASE_STRIP=false cargo build --release -q --target-dir target/order --bin hull
H=$PWD/target/order/release/hull
HULL=$H ./hack/mkbundle.sh "$W/b" true >/dev/null
HULL=$H ./hack/mkbundle.sh "$W/s" sleep 600 >/dev/null
R=(--root "$W/state")
for args in "create --bundle $W/b cg" "state cg" "list" "delete nope" "spec --bundle $W/spec"; do
    mkdir -p "$W/spec"
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --demangle=no --compress-strings=no --callgrind-out-file="$W/cg.%p" \
        "$H" "${R[@]}" $args >/dev/null 2>&1 || true
done
grep -hE '^c?fn=' "$W"/cg.* | sed 's/^c\?fn=//' | grep -E '^(_R|_ZN)' | awk '!seen[$0]++' > "$W/order"
"$H" "${R[@]}" run -d --bundle "$W/s" sleeper </dev/null >/dev/null 2>&1
perf record -q -a -e cpu-clock -F 20000 -o "$W/perf.data" -- sleep 30 >/dev/null 2>&1 &
perf_pid=$!
for i in $(seq 1 100); do
    "$H" "${R[@]}" run --bundle "$W/b" "r$i" >/dev/null 2>&1
    "$H" "${R[@]}" create --bundle "$W/b" "c$i" </dev/null >/dev/null 2>&1
    "$H" "${R[@]}" start "c$i"
    "$H" "${R[@]}" delete -f "c$i"
    "$H" "${R[@]}" exec sleeper true
done
wait "$perf_pid" || true
perf report -i "$W/perf.data" --no-demangle --dsos hull --sort sym --stdio 2>/dev/null |
    grep -F '[.]' | sed 's/.*\[\.\] //; s/ *$//' >> "$W/order"
awk '!seen[$0]++' "$W/order" > hack/hull.order
echo "[order] $(wc -l < hack/hull.order) functions in hack/hull.order" >&2
