#!/usr/bin/env python3
"""hull against runc and crun, side by side, in one run on one machine.

A benchmark, not a test: it prints a markdown table (medians, p90, min and
the ratios hull/crun and hull/runc) and writes every sample to a JSON file.
Every runtime runs the same bundles in interleaved rounds (hull, crun, runc,
hull, ...), in the same private mount namespace (see hack/bench).
"""

import argparse
import resource
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

DEVNULL = subprocess.DEVNULL


def run_timed(argv, stdin=DEVNULL):
    """Runs argv; returns (seconds, peak RSS of that process in KiB); fails on a non-zero exit."""
    # stderr goes to a file: a container's init inherits it, and a pipe would
    # stay open for as long as the container lives.
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.Popen(argv, stdin=stdin, stdout=DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {err.read().decode(errors='replace').strip()}")
    return elapsed, usage.ru_maxrss


def make_bundle(root, name, args, edit=None):
    d = os.path.join(root, name)
    rootfs = os.path.join(d, "rootfs")
    for sub in ["bin", "etc", "proc", "sys", "dev", "tmp"]:
        os.makedirs(os.path.join(rootfs, sub), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
    for applet in ["sh", "true", "sleep"]:
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    subprocess.check_call([RUNTIMES["hull"], "spec", "--bundle", d])
    with open(os.path.join(d, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["hostname"] = "bench"
    # crun 1.8 knows runtime-spec 1.0 only; the bundle is 1.0-compatible.
    spec["ociVersion"] = "1.0.2"
    if edit:
        edit(spec)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(spec, f)
    return d


def make_runc_spec_bundle(root, name):
    """A bundle as `runc spec` writes it (no cgroup namespace, runc's
    capabilities), with terminal false and `true` to run."""
    d = make_bundle(root, name, ["/bin/true"])
    os.remove(os.path.join(d, "config.json"))
    subprocess.check_call(["runc", "spec", "--bundle", d])
    with open(os.path.join(d, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(spec, f)
    return d


def no_netns(spec):
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]


def no_pidns(spec):
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "pid"]


def limits(spec):
    spec["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 100},
                                  "devices": [{"allow": False, "access": "rwm"}]}


def no_cgroup_limits(spec):
    spec["linux"].pop("resources", None)


class Bench:
    def __init__(self, work, rounds):
        self.work = work
        self.rounds = rounds
        self.samples = {}  # (case, runtime) -> [seconds]
        self.rss = {}      # (case, runtime) -> [KiB]
        self.n = 0

    def root(self, rt):
        return os.path.join(self.work, "state-" + rt)

    def cid(self):
        self.n += 1
        return f"b{self.n}"

    def rt(self, rt, *args):
        return [RUNTIMES[rt], "--root", self.root(rt), *args]

    def record(self, case, rt, secs, _kib):
        self.samples.setdefault((case, rt), []).append(secs)

    def peak_rss(self, rt, args):
        """Peak RSS of the runtime process alone, through GNU time: a child of
        Python would carry Python's own RSS across fork into ru_maxrss."""
        with tempfile.NamedTemporaryFile(mode="r") as out:
            run_timed(["/usr/bin/time", "-f", "%M", "-o", out.name, *self.rt(rt, *args)])
            return int(out.read().split()[-1])

    def memory(self, rt, bundle, sleeper_id, samples=5):
        for _ in range(samples):
            cid = self.cid()
            for case, args in [("create", ["create", "--bundle", bundle, cid]), ("start", ["start", cid])]:
                self.rss.setdefault((case, rt), []).append(self.peak_rss(rt, args))
            self.wait_stopped(rt, cid)
            self.rss.setdefault(("delete", rt), []).append(self.peak_rss(rt, ["delete", cid]))
            self.rss.setdefault(("exec", rt), []).append(self.peak_rss(rt, ["exec", sleeper_id, "/bin/true"]))
            self.rss.setdefault(("run (no cgroup limits)", rt), []).append(
                self.peak_rss(rt, ["run", "--bundle", bundle, self.cid()]))

    def lifecycle(self, rt, bundles):
        """One round of every lifecycle case for one runtime."""
        for case, bundle in bundles.items():
            cid = self.cid()
            s, k = run_timed(self.rt(rt, "run", "--bundle", bundle, cid))
            self.record(f"run ({case})", rt, s, k)
        b = bundles["no cgroup limits"]
        cid = self.cid()
        s, k = run_timed(self.rt(rt, "create", "--bundle", b, cid))
        self.record("create", rt, s, k)
        s, k = run_timed(self.rt(rt, "start", cid))
        self.record("start", rt, s, k)
        self.wait_stopped(rt, cid)
        s, k = run_timed(self.rt(rt, "delete", cid))
        self.record("delete", rt, s, k)

    def interleaved(self, order, bundles):
        """The other order: one run per runtime in turn for each bundle,
        `delete -f` after each (what showed a slow mode by runtime order)."""
        for case, bundle in bundles.items():
            for rt in order:
                cid = self.cid()
                s, k = run_timed(self.rt(rt, "run", "--bundle", bundle, cid))
                self.record(f"run ({case}), interleaved", rt, s, k)
                subprocess.call(self.rt(rt, "delete", "-f", cid), stdout=DEVNULL, stderr=DEVNULL)

    def wait_stopped(self, rt, cid):
        for _ in range(2000):
            out = subprocess.run(self.rt(rt, "state", cid), capture_output=True, text=True)
            if out.returncode != 0 or json.loads(out.stdout)["status"] == "stopped":
                return
            time.sleep(0.001)

    def exec_round(self, rt, cid):
        s, k = run_timed(self.rt(rt, "exec", cid, "/bin/true"))
        self.record("exec", rt, s, k)

    def throughput(self, rt, bundle, total, parallel):
        def one(_):
            cid = self.cid()
            run_timed(self.rt(rt, "create", "--bundle", bundle, cid))
            run_timed(self.rt(rt, "start", cid))
            self.wait_stopped(rt, cid)
            run_timed(self.rt(rt, "delete", cid))
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(one, range(total)))
        return time.perf_counter() - start


def provisioning(work, rounds):
    """Bundle creation from an OCI layout: hull's overlay backend with a warm
    layer cache, hull's copy backend, and umoci unpack of the same image."""
    images = os.path.join(work, "images")
    subprocess.check_call(["./hack/images.sh", images])
    layout = os.path.join(work, "layout")
    os.makedirs(layout)
    subprocess.check_call(["tar", "-C", layout, "-xf", os.path.join(images, "multilayer-oci.tar")])
    store = os.path.join(work, "store")
    hull = RUNTIMES["hull"]
    image = f"oci:{layout}:multilayer"
    out = {"overlay (cached)": [], "copy": [], "umoci unpack": []}
    size = 0
    for i in range(rounds):
        for name, argv, cleanup in [
            ("overlay (cached)", [hull, "bundle", "create", "--backend", "overlay", "--store", store, "--image", image],
             lambda d: subprocess.check_call([hull, "bundle", "rm", d])),
            ("copy", [hull, "bundle", "create", "--backend", "copy", "--store", store, "--image", image],
             lambda d: subprocess.check_call([hull, "bundle", "rm", d])),
            ("umoci unpack", ["umoci", "unpack", "--image", f"{layout}:multilayer"] if shutil.which("umoci") else None,
             lambda d: None),
        ]:
            if argv is None:
                continue
            d = os.path.join(work, f"b-{i}-{name.split()[0]}")
            if name == "overlay (cached)" and i == 0:
                # Warm the cache once; only cached creates are timed.
                subprocess.check_call(argv + [d + "-warm"])
                subprocess.check_call([hull, "bundle", "rm", d + "-warm"])
            # As in the Debian rows: no case pays for the last one's writes.
            os.sync()
            secs, _ = run_timed(argv + [d])
            out[name].append(secs)
            if name == "copy" and not size:
                size = int(subprocess.check_output(["du", "-sb", os.path.join(d, "rootfs")]).split()[0])
            cleanup(d)
            shutil.rmtree(d, ignore_errors=True)
    return out, size


DEBIAN = "/var/cache/hull/debian/oci"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work):
    """An anonymous docker-registry of the bench's own on loopback."""
    port = free_port()
    d = os.path.join(work, "registry")
    os.makedirs(d)
    with open(os.path.join(d, "config.yml"), "w") as f:
        f.write(f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {d}/data}}}}\n"
                f"http: {{addr: 127.0.0.1:{port}}}\n")
    p = subprocess.Popen(["docker-registry", "serve", os.path.join(d, "config.yml")], stdout=DEVNULL, stderr=DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("docker-registry did not start")


def distribution(work, layout, rounds):
    """Unpacking the Debian image (hull's copy backend against umoci unpack,
    and into hull's layer cache), and pulls from a local registry: hull image
    pull (fetch, verify, unpack into the cache) against skopeo copy to an OCI
    layout (fetch, verify) and skopeo copy + umoci unpack (the same work as
    hull's pull)."""
    subprocess.check_call(["./hack/debian-image.sh"], stdout=DEVNULL)
    hull = RUNTIMES["hull"]
    reg, port = start_registry(work)
    out, sizes = {}, {}
    try:
        # The disk here is a rate-limited virtual one: a row's time on it
        # depends on how much the cases before it wrote. The same Debian
        # rows on a tmpfs (in bench's private mount namespace) show the
        # unpackers' own cost, without the disk's.
        ram = os.path.join(work, "tmpfs")
        os.makedirs(ram)
        subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=4g", "tmpfs", ram])
        images = {"busybox, 3 layers": (f"{layout}:multilayer", "hull/ml:v1", work),
                  "Debian bookworm": (f"{DEBIAN}:bookworm", "hull/debian:bookworm", work),
                  "Debian bookworm, on tmpfs": (f"{DEBIAN}:bookworm", "hull/debian:bookworm", ram)}
        for label, (src, repo, _) in images.items():
            subprocess.check_call(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{src}",
                                   f"docker://127.0.0.1:{port}/{repo}"])
        for i in range(rounds):
            for label, (src, repo, base) in images.items():
                ref = f"127.0.0.1:{port}/{repo}"
                d = os.path.join(base, f"d-{i}")
                store = os.path.join(base, f"dstore-{i}")
                cases = [
                    ("hull bundle create --backend copy", [hull, "bundle", "create", "--backend", "copy", "--store", store,
                                                           "--image", f"oci:{src}", d + "-copy"]),
                    ("umoci unpack", ["umoci", "unpack", "--image", src, d + "-umoci"]),
                    ("hull image pull oci: (unpack into the cache)", [hull, "image", "pull", "-q", "--store", store + "-oci",
                                                                     f"oci:{src}"]),
                    ("hull image pull (registry)", [hull, "image", "pull", "-q", "--store", store + "-reg", ref]),
                    ("skopeo copy (registry to OCI layout)", ["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                                                              f"docker://{ref}", f"oci:{d}-skopeo:x"]),
                    ("umoci unpack of that copy", ["umoci", "unpack", "--image", f"{d}-skopeo:x", d + "-skopeo-unpacked"]),
                ]
                if i % 2:
                    # Whoever goes first in a round also meets the I/O the
                    # last round's clean-up left: hull and umoci take turns.
                    cases[0], cases[1] = cases[1], cases[0]
                for name, argv in cases:
                    # The previous case's writes and deletions (a discard-
                    # mounted disk trims at each journal commit) are not
                    # this one's to pay for.
                    os.sync()
                    secs, _ = run_timed(argv)
                    out.setdefault((label, name), []).append(secs)
                if label not in sizes:
                    sizes[label] = int(subprocess.check_output(["du", "-sb", d + "-copy/rootfs"]).split()[0])
                subprocess.check_call([hull, "bundle", "rm", d + "-copy"])
                for x in [d + "-umoci", d + "-skopeo", d + "-skopeo-unpacked", store, store + "-oci", store + "-reg"]:
                    shutil.rmtree(x, ignore_errors=True)
                for x in [d + "-copy"]:
                    shutil.rmtree(x, ignore_errors=True)
    finally:
        reg.kill()
        reg.wait()
        subprocess.call(["umount", "-l", ram])
    for label in sizes:
        out[(label, "skopeo copy + umoci unpack")] = [
            a + b for a, b in zip(out[(label, "skopeo copy (registry to OCI layout)")], out[(label, "umoci unpack of that copy")])]
    return out, sizes


def first_line(argv):
    """Seconds from the start of argv to the first line on its stdout, and
    the whole run; the exit must be 0."""
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=DEVNULL, stdin=DEVNULL)
    p.stdout.readline()
    first = time.perf_counter() - start
    p.stdout.read()
    if p.wait() != 0:
        raise RuntimeError(f"{argv}: exit {p.returncode}")
    return first


def launch(work, rounds):
    """The engine: `hull launch` of a cached image to the first line of
    output, against hull's own bundle create + run, and podman run of the
    same image (host network for both: hull launch shares the host's
    network unless asked otherwise)."""
    hull = RUNTIMES["hull"]
    images = os.path.join(work, "images")
    bb = os.path.join(work, "bb")
    os.makedirs(bb)
    subprocess.check_call(["tar", "-C", bb, "-xf", os.path.join(images, "busybox-oci.tar")])
    store, engine, root = (os.path.join(work, x) for x in ["lstore", "engine", "lroot"])
    image = f"oci:{bb}"
    base = [hull, "--root", root]
    hull_launch = base + ["launch", "--engine-dir", engine, "--store", store, "--image", image, "--", "echo", "hi"]
    subprocess.check_call(hull_launch, stdout=DEVNULL)  # the store gets the image once
    podman = None
    if shutil.which("podman"):
        out = subprocess.check_output(["podman", "pull", "-q", f"oci-archive:{images}/busybox-oci.tar"], text=True)
        # This host lacks CAP_SYS_RESOURCE: podman's default nofile and
        # nproc limits are above the hard ones (as in conformance/podman.sh).
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        podman = ["podman", "run", "--rm", "--network", "host", "--ulimit", f"nofile={nofile}:{nofile}",
                  "--ulimit", "nproc=32768:32768", out.strip().splitlines()[-1], "echo", "hi"]
        subprocess.check_call(podman, stdout=DEVNULL)
    out = {"hull launch": [], "hull bundle create + run + bundle rm": [], "podman run --rm": []}
    for i in range(rounds):
        out["hull launch"].append(first_line(hull_launch))
        d = os.path.join(work, f"lb-{i}")
        t0 = time.perf_counter()
        subprocess.check_call([hull, "bundle", "create", "--store", store, "--image", image, d, "--", "echo", "hi"])
        t = time.perf_counter() - t0
        out["hull bundle create + run + bundle rm"].append(t + first_line(base + ["run", "--bundle", d, f"lb-{i}"]))
        subprocess.check_call([hull, "bundle", "rm", d])
        if podman:
            out["podman run --rm"].append(first_line(podman))
    return {k: v for k, v in out.items() if v}


def stats(xs):
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return {"median": statistics.median(xs), "p90": p90, "min": xs[0], "max": xs[-1], "n": len(xs)}


def version(rt):
    try:
        return subprocess.check_output([RUNTIMES[rt], "--version"], text=True).splitlines()[0]
    except Exception as e:  # a missing runtime shows in the table, not as a crash
        return f"unavailable ({e})"


RUNTIMES = {}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hull", default="target/release/hull")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--dist-rounds", type=int, default=5, help="rounds of the Debian and registry rows")
    ap.add_argument("--json", default="bench.json")
    a = ap.parse_args()
    RUNTIMES.update({"hull": os.path.abspath(a.hull), "crun": shutil.which("crun"), "runc": shutil.which("runc")})
    order = [rt for rt in ["hull", "crun", "runc"] if RUNTIMES[rt]]
    work = tempfile.mkdtemp(prefix="hull-bench-")
    try:
        bundles = {
            "no cgroup limits": make_bundle(work, "plain", ["/bin/true"], no_cgroup_limits),
            "memory+pids limits": make_bundle(work, "limits", ["/bin/true"], limits),
            "no network namespace": make_bundle(work, "nonet", ["/bin/true"], lambda s: (no_cgroup_limits(s), no_netns(s))),
            "no pid namespace": make_bundle(work, "nopid", ["/bin/true"], lambda s: (no_cgroup_limits(s), no_pidns(s))),
        }
        bundles["runc spec bundle"] = make_runc_spec_bundle(work, "runcspec")
        sleeper = make_bundle(work, "sleeper", ["/bin/sleep", "3600"], no_cgroup_limits)
        b = Bench(work, a.rounds)
        running = {}
        for rt in order:
            cid = b.cid()
            subprocess.check_call(b.rt(rt, "run", "-d", "--bundle", sleeper, cid), stdout=DEVNULL, stderr=DEVNULL)
            running[rt] = cid
        for _ in range(a.rounds):
            for rt in order:
                b.lifecycle(rt, bundles)
                b.exec_round(rt, running[rt])
            b.interleaved(order, {k: bundles[k] for k in ["no cgroup limits", "runc spec bundle"]})
        for rt in order:
            b.memory(rt, bundles["no cgroup limits"], running[rt])
        for rt in order:
            subprocess.call(b.rt(rt, "delete", "-f", running[rt]), stdout=DEVNULL, stderr=DEVNULL)
        through = {}
        for parallel in [1, 2]:
            for rt in order:
                secs = b.throughput(rt, bundles["no cgroup limits"], a.containers, parallel)
                through[(parallel, rt)] = secs
        prov, size = provisioning(work, 10)
        dist, sizes = distribution(work, os.path.join(work, "layout"), a.dist_rounds)
        engine = launch(work, a.rounds)
        report(b, order, through, a, prov, size, dist, sizes, engine)
    finally:
        for rt in order:
            for d in os.listdir(os.path.join(work, "state-" + rt)) if os.path.isdir(os.path.join(work, "state-" + rt)) else []:
                subprocess.call([RUNTIMES[rt], "--root", os.path.join(work, "state-" + rt), "delete", "-f", d],
                                stdout=DEVNULL, stderr=DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def ms(x):
    return f"{x * 1000:.2f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"


def report(b, order, through, a, prov, size, dist, sizes, engine):
    cases = []
    for (case, _rt) in b.samples:
        if case not in cases:
            cases.append(case)
    out = []
    out.append(f"hull benchmark, {time.strftime('%Y-%m-%d')}, {platform.node()}: kernel {platform.release()}, "
               f"{os.cpu_count()} cores; " + "; ".join(f"{rt}: {version(rt)}" for rt in order))
    out.append("")
    out.append("| operation | " + " | ".join(f"{rt} median / p90 / max (ms)" for rt in order) +
               " | hull/crun median, p90 | hull/runc |")
    out.append("|---|" + "---|" * len(order) + "---|---|")
    st = {k: stats(v) for k, v in b.samples.items()}
    for case in cases:
        cells = [f"{ms(st[(case, rt)]['median'])} / {ms(st[(case, rt)]['p90'])} / {ms(st[(case, rt)]['max'])}"
                 for rt in order]
        h = st[(case, "hull")]["median"]
        hp = st[(case, "hull")]["p90"]
        out.append(f"| {case} | " + " | ".join(cells) +
                   f" | {ratio(h, st.get((case, 'crun'), {}).get('median', 0))}, "
                   f"{ratio(hp, st.get((case, 'crun'), {}).get('p90', 0))}"
                   f" | {ratio(h, st.get((case, 'runc'), {}).get('median', 0))} |")
    sealed = st[("run (no pid namespace)", "hull")]["median"] - st[("run (no cgroup limits)", "hull")]["median"]
    notes = [f"hull's CVE-2019-5736 re-exec from a read-only view of its binary is in `exec` and in `run (no pid "
             f"namespace)` (a pid namespace others are in), not in the other runs. `run (no pid namespace)` minus "
             f"`run (no cgroup limits)`, which differs from it only by making a pid namespace: {ms(sealed)} ms."]
    for parallel in [1, 2]:
        cells = [f"{a.containers / through[(parallel, rt)]:.1f}/s" for rt in order]
        h = through[(parallel, "hull")]
        out.append(f"| {a.containers} containers, {parallel} at a time (create+start+delete) | " + " | ".join(cells) +
                   f" | {ratio(h, through.get((parallel, 'crun'), 0))} | {ratio(h, through.get((parallel, 'runc'), 0))} |")
    out.append("")
    out.extend(notes)
    out.append("")
    rss = {k: statistics.median(v) for k, v in b.rss.items()}
    out.append("| peak RSS of the runtime process, median (KiB) | " + " | ".join(order) + " |")
    out.append("|---|" + "---|" * len(order))
    for case in ["create", "start", "delete", "exec", "run (no cgroup limits)"]:
        out.append(f"| {case} | " + " | ".join(f"{rss[(case, rt)]:.0f}" for rt in order) + " |")
    out.append("| binary size (bytes) | " + " | ".join(str(os.path.getsize(RUNTIMES[rt])) for rt in order) + " |")
    out.append("")
    out.append(f"| bundle from an OCI layout (busybox, 3 layers, {size / 1e6:.1f} MB unpacked) | median / min (ms) | MB/s |")
    out.append("|---|---|---|")
    pst = {k: stats(v) for k, v in prov.items() if v}
    for k, v in pst.items():
        out.append(f"| {k} | {ms(v['median'])} / {ms(v['min'])} | {size / 1e6 / v['median']:.0f} |")
    out.append("")
    dst = {k: stats(v) for k, v in dist.items()}
    for label, unpacked in sizes.items():
        out.append(f"| {label} ({unpacked / 1e6:.0f} MB unpacked), {a.dist_rounds} rounds | median / min (ms) | MB/s | ratio |")
        out.append("|---|---|---|---|")
        for name, base in [("hull bundle create --backend copy", "umoci unpack"), ("umoci unpack", None),
                           ("hull image pull oci: (unpack into the cache)", "umoci unpack"),
                           ("hull image pull (registry)", "skopeo copy + umoci unpack"),
                           ("skopeo copy (registry to OCI layout)", None), ("skopeo copy + umoci unpack", None)]:
            v = dst[(label, name)]
            r = f"{v['median'] / dst[(label, base)]['median']:.2f}x {base}" if base else ""
            out.append(f"| {name} | {ms(v['median'])} / {ms(v['min'])} | {unpacked / 1e6 / v['median']:.0f} | {r} |")
        out.append("")
    est = {k: stats(v) for k, v in engine.items()}
    out.append(f"| the engine: a cached busybox to its first line of output, {a.rounds} rounds | median / p90 / min (ms) | ratio |")
    out.append("|---|---|---|")
    for k, v in est.items():
        r = f"{v['median'] / est['podman run --rm']['median']:.2f}x podman" if "podman run --rm" in est else ""
        out.append(f"| {k} | {ms(v['median'])} / {ms(v['p90'])} / {ms(v['min'])} | {r} |")
    out.append("")
    def vs_crun(case, key, factor):
        c = st.get((case, "crun"))
        return c is not None and st[(case, "hull")][key] <= factor * c[key]

    targets = [("hull launch median <= 0.5x podman run",
                "podman run --rm" in est and est["hull launch"]["median"] <= 0.5 * est["podman run --rm"]["median"])]
    for case in ["run (no cgroup limits)", "run (runc spec bundle)",
                 "run (no cgroup limits), interleaved", "run (runc spec bundle), interleaved"]:
        targets.append((f"{case}: median <= 0.8x crun", vs_crun(case, "median", 0.8)))
        targets.append((f"{case}: p90 <= 1.0x crun's p90", vs_crun(case, "p90", 1.0)))
    targets += [
        ("exec median <= 0.5x crun", vs_crun("exec", "median", 0.5)),
        ("hull binary <= 3 MB on disk (symbols in hull.debug)", os.path.getsize(RUNTIMES["hull"]) <= 3_000_000),
        ("peak RSS of create <= crun's", ("crun" in order) and rss[("create", "hull")] <= rss[("create", "crun")]),
        ("cached overlay bundle create < 10 ms", pst["overlay (cached)"]["median"] < 0.010),
        ("unpack throughput >= 1.5x umoci (busybox, 3 layers)",
         ("umoci unpack" in pst) and pst["copy"]["median"] * 1.5 <= pst["umoci unpack"]["median"]),
        ("unpack throughput >= 1.5x umoci (Debian)",
         dst[("Debian bookworm", "hull bundle create --backend copy")]["median"] * 1.5
         <= dst[("Debian bookworm", "umoci unpack")]["median"]),
        ("unpack throughput >= 1.5x umoci (Debian, on tmpfs)",
         dst[("Debian bookworm, on tmpfs", "hull bundle create --backend copy")]["median"] * 1.5
         <= dst[("Debian bookworm, on tmpfs", "umoci unpack")]["median"]),
    ]
    out.append("| target | met |")
    out.append("|---|---|")
    for name, met in targets:
        out.append(f"| {name} | {'met' if met else 'NOT met'} |")
    text = "\n".join(out)
    print(text)
    with open(a.json, "w") as f:
        json.dump({"machine": {"kernel": platform.release(), "cores": os.cpu_count(),
                               "versions": {rt: version(rt) for rt in order}},
                   "samples": {f"{c} / {rt}": v for (c, rt), v in b.samples.items()},
                   "peak_rss_kib": {f"{c} / {rt}": v for (c, rt), v in b.rss.items()},
                   "throughput_seconds": {f"{p} at a time / {rt}": v for (p, rt), v in through.items()},
                   "provisioning_seconds": prov, "unpacked_bytes": size,
                   "distribution_seconds": {f"{l} / {n}": v for (l, n), v in dist.items()}, "distribution_unpacked_bytes": sizes,
                   "launch_seconds": engine,
                   "table": text}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
