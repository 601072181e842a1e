#!/usr/bin/env python3
"""Churn, contention and hostile containers against the release hull, each
with a look before and after for anything leaked (see hack/stress, which
also runs the bad bundles, the crash points and the fuzz targets)."""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HULL = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/hull")
RUNS = int(os.environ.get("STRESS_RUNS", "2000"))
CYCLES = int(os.environ.get("STRESS_CYCLES", "500"))
LAUNCHES = int(os.environ.get("STRESS_LAUNCHES", "200"))
DEVNULL = subprocess.DEVNULL


def snapshot(work):
    """What a leak would show: mounts, cgroup dirs, processes outside our
    namespaces, zombies, state entries, the memory the machine has free."""
    mounts = sorted(l.split(" - ")[0].split()[4] for l in open("/proc/self/mountinfo"))
    cgroups = set()
    for l in open("/proc/self/mountinfo"):
        left, right = l.split(" - ")
        if right.split()[0] in ("cgroup", "cgroup2"):
            for d, _, _ in os.walk(left.split()[4]):
                cgroups.add(d)
    me_mnt = os.readlink("/proc/self/ns/mnt")
    foreign, zombies = set(), set()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{p}/ns/mnt") != me_mnt and open(f"/proc/{p}/cmdline").read():
                foreign.add(p)
            if ") Z " in open(f"/proc/{p}/stat").read():
                zombies.add(p)
        except OSError:
            pass
    state = set(os.listdir(os.path.join(work, "state"))) if os.path.isdir(os.path.join(work, "state")) else set()
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemAvailable:"))
    return {"mounts": mounts, "cgroups": cgroups, "foreign": foreign, "zombies": zombies, "state": state, "mem": mem}


def leaks(before, after):
    out = []
    extra = list(after["mounts"])
    for m in before["mounts"]:
        if m in extra:
            extra.remove(m)
    out += [f"mount {m}" for m in extra]
    out += [f"cgroup {c}" for c in sorted(after["cgroups"] - before["cgroups"])]
    out += [f"process {p}" for p in sorted(after["foreign"] - before["foreign"])]
    out += [f"zombie {p}" for p in sorted(after["zombies"] - before["zombies"])]
    out += [f"state {s}" for s in sorted(after["state"] - before["state"])]
    return out


def settle_and_compare(work, before, what):
    """Leaks after `what`, given a few seconds for the kernel to catch up."""
    for _ in range(50):
        left = leaks(before, snapshot(work))
        if not left:
            break
        time.sleep(0.1)
    mem = (snapshot(work)["mem"] - before["mem"]) // 1024
    print(f"[stress] {what}: {len(left)} leaked{': ' + ', '.join(left[:5]) if left else ''}; "
          f"MemAvailable {mem:+d} MiB from where it started", flush=True)
    return len(left)


def make_bundle(work, args, edit=None):
    d = tempfile.mkdtemp(dir=work, prefix="bundle-")
    rootfs = os.path.join(d, "rootfs")
    for sub in ["bin", "etc", "proc", "sys", "dev", "tmp"]:
        os.makedirs(os.path.join(rootfs, sub), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
    for applet in ["sh", "true", "sleep", "yes", "head"]:
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    subprocess.check_call([HULL, "spec", "--bundle", d])
    spec = json.load(open(os.path.join(d, "config.json")))
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    if edit:
        edit(spec)
    json.dump(spec, open(os.path.join(d, "config.json"), "w"))
    return d


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def hull(work, *args, timeout=60, stdout=DEVNULL, stdin=DEVNULL):
    """hull with this run's --root. Its stderr (and stdout, when asked for)
    goes through files: a container's init inherits them, and a pipe would
    stay open as long as the container lives."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        r = subprocess.run([HULL, "--root", os.path.join(work, "state"), *args], stdin=stdin,
                           stdout=out if stdout == subprocess.PIPE else stdout, stderr=err, timeout=timeout)
        err.seek(0)
        out.seek(0)
        return Result(r.returncode, out.read(), err.read())


def churn_runs(work):
    bundle = make_bundle(work, ["true"])
    before = snapshot(work)
    failed = 0
    start = time.perf_counter()
    for i in range(RUNS):
        if hull(work, "run", "--bundle", bundle, f"churn{i}").returncode != 0:
            failed += 1
    secs = time.perf_counter() - start
    print(f"[stress] churn: {RUNS} runs in {secs:.1f} s ({RUNS / secs:.0f}/s), {failed} failed", flush=True)
    return failed + settle_and_compare(work, before, f"after {RUNS} runs")


def churn_cycles(work):
    bundle = make_bundle(work, ["sleep", "100"])
    before = snapshot(work)
    errors = []

    def worker(w):
        for i in range(CYCLES // 2):
            cid = f"cycle{w}-{i}"
            steps = [("create", "--bundle", bundle, cid), ("start", cid), ("exec", cid, "true"),
                     ("kill", cid, "KILL"), ("delete", "--force", cid)]
            for s in steps:
                r = hull(work, *s)
                if r.returncode != 0:
                    errors.append(f"{' '.join(s)}: {r.stderr.decode().strip()}")
                    hull(work, "delete", "--force", cid)
                    break

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - start
    print(f"[stress] churn: {CYCLES} create/start/exec/kill/delete cycles two at a time in {secs:.1f} s "
          f"({CYCLES / secs:.0f}/s), {len(errors)} failed{': ' + errors[0] if errors else ''}", flush=True)
    return len(errors) + settle_and_compare(work, before, f"after {CYCLES} cycles")


def contention(work, rounds=10):
    """20 commands at once on one id: every failure says why, the end state
    is one of the lifecycle's, and delete --force clears it."""
    bundle = make_bundle(work, ["sleep", "100"])
    before = snapshot(work)
    ops = [("create", "--bundle", bundle, "busy"), ("start", "busy"), ("kill", "busy", "KILL"),
           ("delete", "busy"), ("delete", "--force", "busy"), ("exec", "busy", "true"), ("state", "busy"),
           ("pause", "busy"), ("resume", "busy")]
    bad = []
    for _ in range(rounds):
        results = []

        def one(op):
            r = hull(work, *op, timeout=30)
            results.append((op, r))

        chosen = [random.choice(ops) for _ in range(20)]
        threads = [threading.Thread(target=one, args=(op,)) for op in chosen]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # An exec'd process dies with the container when a kill or delete
        # --force of the same round takes it down: exec then returns 137 and
        # says nothing, as runc exec does; the exit status is the reason.
        killed = any(op[0] == "kill" or op[:2] == ("delete", "--force") for op in chosen)
        for op, r in results:
            err = r.stderr.decode()
            explained = op[0] == "exec" and r.returncode == 137 and killed
            if "panicked" in err or (r.returncode != 0 and not err.strip() and not explained):
                bad.append(f"{' '.join(op)}: exit {r.returncode} {err.strip()!r}")
        st = hull(work, "state", "busy", stdout=subprocess.PIPE)
        if st.returncode == 0:
            status = json.loads(st.stdout)["status"]
            if status not in ("created", "running", "paused", "stopped"):
                bad.append(f"state after the round: {status}")
        hull(work, "resume", "busy")
        hull(work, "delete", "--force", "busy")
    print(f"[stress] contention: {rounds} rounds of 20 commands at once on one id, "
          f"{len(bad)} unexplained{': ' + bad[0] if bad else ''}", flush=True)
    return len(bad) + settle_and_compare(work, before, "after contention")


def hostile(work):
    """Containers that fork to their pids limit, fill their memory, flood
    stdout or never read stdin: hull and its caller return."""
    def limit(spec):
        spec["linux"]["resources"] = {"pids": {"limit": 32}, "memory": {"limit": 32 << 20}}
    cases = [
        ("forks to its pids limit", ["sh", "-c", "f() { f | f & }; f; sleep 30"], 2),
        ("fills its memory", ["sh", "-c", "x=a; while :; do x=$x$x; done"], 30),
        ("floods stdout", ["sh", "-c", "yes | head -c 200000000"], 60),
        ("never reads stdin", ["sleep", "100"], 2),
    ]
    before = snapshot(work)
    bad = 0
    for i, (what, args, secs) in enumerate(cases):
        bundle = make_bundle(work, args, limit)
        cid = f"hostile{i}"
        start = time.perf_counter()
        p = subprocess.Popen([HULL, "--root", os.path.join(work, "state"), "run", "--bundle", bundle, cid],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if what == "never reads stdin":
            # A pipe the container never reads, kept full: hull must not block on it.
            try:
                p.stdin.write(b"x" * 65536)
            except BrokenPipeError:
                pass
        if what == "floods stdout":
            n = 0
            while chunk := p.stdout.read(1 << 20):
                n += len(chunk)
        try:
            p.wait(timeout=secs)
        except subprocess.TimeoutExpired:
            hull(work, "kill", cid, "KILL")
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                bad += 1
                p.kill()
                print(f"[stress] hostile: {what}: hull run did not return after kill", flush=True)
        hull(work, "delete", "--force", cid)
        print(f"[stress] hostile: {what}: hull run returned {p.returncode} after {time.perf_counter() - start:.1f} s",
              flush=True)
    return bad + settle_and_compare(work, before, "after the hostile containers")


def network_launches(work):
    """`hull launch` with a CNI network, over and over: afterwards no veth on
    the bridge, no IP reserved, no container directory, no netns mount."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    images = os.path.join(work, "images")
    subprocess.run([os.path.join(root, "hack/images.sh"), images], check=True, stdout=DEVNULL, stderr=DEVNULL)
    layout = os.path.join(images, "busybox")
    os.makedirs(layout, exist_ok=True)
    subprocess.run(["tar", "-C", layout, "-xf", os.path.join(images, "busybox-oci.tar")], check=True)
    conf, bridge = os.path.join(work, "cni"), "hullstress0"
    os.makedirs(conf, exist_ok=True)
    json.dump({"cniVersion": "1.0.0", "name": "stressnet", "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "dataDir": os.path.join(work, "ipam"),
                  "ranges": [[{"subnet": "10.214.7.0/24"}]]}}]}, open(os.path.join(conf, "10-stress.conflist"), "w"))
    engine_dir = os.path.join(work, "engine")
    launch = ["launch", "--engine-dir", engine_dir, "--store", os.path.join(work, "store"),
              "--image", f"oci:{layout}", "--cni-config-dir", conf, "--network", "stressnet", "--", "true"]
    hull(work, *launch)  # the image pulled once, outside the count
    before = snapshot(work)
    failed = 0
    start = time.perf_counter()
    for _ in range(LAUNCHES):
        if hull(work, *launch).returncode != 0:
            failed += 1
    secs = time.perf_counter() - start
    veths = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True, text=True).stdout
    ipam = os.path.join(work, "ipam", "stressnet")
    reserved = [n for n in os.listdir(ipam) if n.startswith("10.")] if os.path.isdir(ipam) else []
    left = [n for n in os.listdir(engine_dir) if not n.startswith(".")] if os.path.isdir(engine_dir) else []
    extra = len(veths.splitlines()) + len(reserved) + len(left)
    print(f"[stress] network: {LAUNCHES} launches on a CNI bridge in {secs:.1f} s ({LAUNCHES / secs:.1f}/s), "
          f"{failed} failed; {len(veths.splitlines())} veths, {len(reserved)} IP reservations, "
          f"{len(left)} container directories left", flush=True)
    subprocess.run(["ip", "link", "del", bridge], stdout=DEVNULL, stderr=DEVNULL)
    return failed + extra + settle_and_compare(work, before, f"after {LAUNCHES} launches")


def main():
    work = tempfile.mkdtemp(prefix="hull-stress-")
    os.makedirs(os.path.join(work, "state"))
    try:
        problems = churn_runs(work) + churn_cycles(work) + contention(work) + hostile(work) + network_launches(work)
    finally:
        for cid in os.listdir(os.path.join(work, "state")):
            hull(work, "delete", "--force", cid)
        shutil.rmtree(work, ignore_errors=True)
    print(f"[stress] churn, contention, hostile containers, network launches: {problems} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
