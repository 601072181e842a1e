#!/bin/bash
# Regenerates hack/hull.order: the functions a container's lifecycle runs,
# which build.rs has the linker lay out together in the hull binary (fewer
# code pages resident per run; see hack/bench's peak RSS rows). Sources:
# callgrind's exhaustive list for what runs before the first openat2 (valgrind
# 3.19 does not know it), perf cpu-clock samples of whole lifecycles, and then
# rounds of perf page-fault sampling: a code fault's address is the function
# that touched a new page, and those go first, so the lifecycle's code packs
# into as few 64 KiB fault-around windows as it can.
# Needs: valgrind, linux-perf, jq, busybox-static. Run as root; takes ~8 min.
set -euo pipefail
cd "$(dirname "$0")/.."
W=$(mktemp -d)
trap 'target/order/release/hull --root "$W/state" delete -f sleeper >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
./hack/build.sh --target-dir target/order
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
# hull is static-pie: libc's functions are in the binary and ordered too.
grep -hE '^c?fn=' "$W"/cg.* | sed 's/^c\?fn=//' | grep -vE '^(0x|\?|\(below)' | awk '!seen[$0]++' > "$W/order"
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

lifecycle() {
    for i in $(seq 1 5); do
        "$H" "${R[@]}" run --bundle "$W/b" "pr$i" >/dev/null 2>&1
        "$H" "${R[@]}" create --bundle "$W/b" "pc$i" </dev/null >/dev/null 2>&1
        "$H" "${R[@]}" start "pc$i"
        "$H" "${R[@]}" state "pc$i" >/dev/null
        "$H" "${R[@]}" delete -f "pc$i"
        "$H" "${R[@]}" exec sleeper true
    done
}
# The functions at which hull's processes faulted a page of their own code.
code_faults() {
    perf script -i "$1" --no-demangle -F comm,ip,sym,dso,addr 2>/dev/null | python3 -c '
import re, sys
seen = set()
for l in sys.stdin:
    m = re.match(r"\s*hull\s+([0-9a-f]+) .*? \((.*?)\)\s+([0-9a-f]+) (\S+?)(\+\S+)? \((.*?)\)\s*$", l)
    if m and m.group(1) == m.group(3) and m.group(6).endswith("/hull") and not m.group(4).startswith("["):
        if m.group(4) not in seen:
            seen.add(m.group(4))
            print(m.group(4))'
}
for round in 1 2 3; do
    ./hack/build.sh --target-dir target/order
    perf record -q -a -e page-faults -c 1 -d -o "$W/faults.data" -- sleep 6 >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
    lifecycle
    wait "$perf_pid" || true
    code_faults "$W/faults.data" > "$W/first"
    # Round 1's faulting functions lead; later rounds' follow them.
    if [ "$round" = 1 ]; then cp "$W/first" "$W/lead"; else cat "$W/first" >> "$W/lead"; fi
    cat "$W/lead" hack/hull.order | awk '!seen[$0]++' > "$W/next"
    mv "$W/next" hack/hull.order
    echo "[order] round $round: $(wc -l < "$W/first") functions faulted code pages" >&2
done
echo "[order] $(wc -l < hack/hull.order) functions in hack/hull.order" >&2
