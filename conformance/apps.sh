#!/bin/bash
# Real applications through podman, with hull and with runc: PostgreSQL 15
# (initdb, start, a query, a parallel query, fast stop) with its data on a
# --tmpfs and on the container's own filesystem; nginx serving a second
# container on a podman network, reloaded with SIGHUP and stopped by
# `podman stop` well before the timeout; a JVM's view of --memory and --cpus.
# Each must print the same under both runtimes, and what a user expects.
# The image is Debian bookworm with the three packages, built with
# debootstrap through apt's mirror the first time (hack/debian-image.sh,
# cached in /var/cache/hull).
#   conformance/apps.sh [HULL_BINARY]      Prints "apps: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
CLIENT=podman
HULL=$(readlink -f "${1:-target/release/hull}")
RUNC=/usr/sbin/runc
W=/tmp/hull-apps
APPS_DIR=${HULL_CACHE:-/var/cache/hull}/apps
T=180
PASSED=0
FAILED=0
say() { echo "[apps] $*" >&2; }
ok() { PASSED=$((PASSED + 1)); say "ok: $*"; }
bad() { FAILED=$((FAILED + 1)); say "FAILED: $*"; }
for b in podman conmon debootstrap umoci "$RUNC"; do command -v "$b" >/dev/null || { say "missing $b: run hack/setup.sh"; exit 1; }; done
[ -x "$HULL" ] || { say "no hull binary at $HULL"; exit 1; }

. conformance/clients.sh

finish() {
    local rc=$?
    P network rm -f hullapps >/dev/null 2>&1
    clients_cleanup
    echo "apps: $PASSED passed, $FAILED failed"
    [ $FAILED = 0 ] && [ $rc = 0 ] && exit 0
    exit 1
}
clients_cleanup
mkdir -p "$W/tmp"
trap finish EXIT
./hack/images.sh "$W/images" >/dev/null
setup_podman
./hack/debian-image.sh "$APPS_DIR" postgresql-15 nginx-light openjdk-17-jre-headless || { bad "the Debian image"; exit 1; }
APPS=$(P pull -q --signature-policy "$W/policy.json" "oci:$APPS_DIR/oci:bookworm") || { bad "pull the Debian image"; exit 1; }

# Same output under both runtimes, and it shows what it must.
same() { # name, expected (grep -E), runc's output, hull's output
    if [ "$3" = "$4" ] && tr '\n' ' ' <<<"$4" | grep -qE "$2"; then
        ok "$1"
    else
        bad "$1"; diff <(echo "$3") <(echo "$4") | sed 's/^</  runc:/; s/^>/  hull:/' >&2; echo "$4" | tail -5 | sed 's/^/  hull: /' >&2
    fi
}

PG='set -e
B=/usr/lib/postgresql/15/bin; D=/var/lib/postgresql/data
$B/initdb -D $D >/dev/null 2>/tmp/initdb.err || { cat /tmp/initdb.err; exit 1; }
$B/pg_ctl -D $D -o "-c listen_addresses= -k /tmp" -w -l /tmp/pg.log start >/dev/null
Q() { psql -h /tmp -At -d postgres "$@"; }
Q -c "select 40 + 2"
Q -c "create table t as select g from generate_series(1, 300000) g" -c "analyze t" >/dev/null
Q -c "set parallel_setup_cost = 0" -c "set parallel_tuple_cost = 0" -c "set min_parallel_table_scan_size = 0" \
  -c "explain (costs off) select count(*) from t" -c "select count(*) from t" | grep -E "Gather|Workers|^[0-9]+$"
$B/pg_ctl -D $D -m fast -w stop >/dev/null && echo stopped-fast'
PG_OK='^42 .*Gather .*300000 stopped-fast'
r=$(P run --rm --runtime runc "$APPS" su postgres -s /bin/sh -c "$PG" 2>&1)
h=$(P run --rm --runtime hull "$APPS" su postgres -s /bin/sh -c "$PG" 2>&1)
same "PostgreSQL on the container's filesystem: initdb, start, query, parallel query, fast stop" "$PG_OK" "$r" "$h"
# With its data on a --tmpfs (podman adds tmpcopyup). hull gives the tmpfs
# the covered directory's owner and mode with its files, so postgres owns
# it as in the image (as a Docker volume's first use does); runc 1.1.5 leaves
# it root's and initdb cannot make its directory there: a deliberate
# difference, checked as such.
r=$(P run --rm --runtime runc --tmpfs /var/lib/postgresql:rw,size=512m "$APPS" su postgres -s /bin/sh -c "$PG" 2>&1)
h=$(P run --rm --runtime hull --tmpfs /var/lib/postgresql:rw,size=512m "$APPS" su postgres -s /bin/sh -c "$PG" 2>&1)
if tr '\n' ' ' <<<"$h" | grep -qE "$PG_OK" && grep -q 'could not create directory "/var/lib/postgresql/data": Permission denied' <<<"$r"; then
    ok "PostgreSQL on a --tmpfs: runs under hull (runc 1.1.5 leaves the tmpfs root-owned: initdb fails, as explained)"
elif [ "$r" = "$h" ] && tr '\n' ' ' <<<"$h" | grep -qE "$PG_OK"; then
    ok "PostgreSQL on a --tmpfs: initdb, start, query, parallel query, fast stop"
else
    bad "PostgreSQL on a --tmpfs"; echo "$h" | tail -5 | sed 's/^/  hull: /' >&2; echo "$r" | tail -3 | sed 's/^/  runc: /' >&2
fi

P network create --internal --disable-dns --subnet 10.89.92.0/24 hullapps >/dev/null
# busybox-static's wget resolves through glibc's NSS, which a static binary cannot load: nc.
fetch() { P run --rm --runtime "$1" --network hullapps "$IMG" sh -c \
    'for i in $(seq 20); do printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 10.89.92.10 80 | tail -n 1 | grep . && exit 0; sleep 0.3; done; exit 1' 2>&1; }
for rt in runc hull; do
    P run -d --name "web-$rt" --runtime "$rt" --network hullapps --ip 10.89.92.10 "$APPS" \
        sh -c 'mkdir -p /var/log/nginx && echo served-by-nginx > /var/www/html/index.html && exec nginx -g "daemon off;"' >/dev/null
    out=$(fetch "$rt") || say "web-$rt: $(P logs "web-$rt" 2>&1 | tail -3)"
    P kill -s HUP "web-$rt" >/dev/null
    out+=" $(fetch "$rt") $(P inspect -f '{{.State.Status}}' "web-$rt")"
    t0=$(date +%s.%N)
    P stop -t 20 "web-$rt" >/dev/null
    quick=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print (b - a < 10) ? 1 : 0 }')
    out+=" $(P inspect -f '{{.State.ExitCode}}' "web-$rt") $quick"
    P rm "web-$rt" >/dev/null
    eval "nginx_$rt=\$out"
done
# shellcheck disable=SC2154
same "nginx: served to a second container, reloaded with SIGHUP, podman stop well before the timeout" \
    '^served-by-nginx served-by-nginx running 0 1 ?$' "$nginx_runc" "$nginx_hull"

jvm() { P run --rm --runtime "$1" --memory 512m --cpus 1.5 "$APPS" java -XshowSettings:system -version 2>&1 |
    grep -E 'Provider|Effective CPU Count|Memory Limit'; }
same "a JVM sees its --memory and --cpus" 'Effective CPU Count: 2 .*Memory Limit: 512.00M' "$(jvm runc)" "$(jvm hull)"
