# Sourced inside the VMs of cgroup-v2.sh and systemd-v2.sh (as
# /checks-lib.sh; busybox sh or dash): the check lines vm.sh reads back.
ok() { echo "V2OK $*"; }
bad() { echo "V2FAIL $*"; }
# expect NAME FILE WANT: the file's contents are WANT.
expect() {
    got=$(cat "$2" 2>&1)
    if [ "$got" = "$3" ]; then ok "$1"; else bad "$1: $2 is '$got', want '$3'"; fi
}
