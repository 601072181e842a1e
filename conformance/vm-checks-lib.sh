# Sourced inside the VMs of cgroup-v2.sh and systemd-v2.sh (as
# /checks-lib.sh; busybox sh or dash): the check lines vm.sh reads back.
# The caller sets H (how to run hull) and CASES (where the bundles are).
ok() { echo "V2OK $*"; }
bad() { echo "V2FAIL $*"; }
# expect NAME FILE WANT: the file's contents are WANT.
expect() {
    got=$(cat "$2" 2>&1)
    if [ "$got" = "$3" ]; then ok "$1"; else bad "$1: $2 is '$got', want '$3'"; fi
}
# start NAME: a detached container of case NAME; its output in /tmp/NAME.out.
start() {
    if $H run -d --bundle "$CASES/$1" "$1" > "/tmp/$1.out" 2>&1 < /dev/null; then
        ok "$1: run -d"
    else
        bad "$1: run -d failed: $(cat "/tmp/$1.out")"
        return 1
    fi
}
pid_of() { $H state "$1" 2>/dev/null | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'; }
