#!/usr/bin/python3
"""A kubelet's calls over CRI, against a containerd whose runtime handler is
the runtime under test: conformance/cri/client.py SOCKET WORKDIR HANDLER
CGROUP_PARENT. Last, one probe container with the security settings and
volumes a pod spec puts in CRI runs under HANDLER and under "runc", and what
each observes must match. Prints "ok: ..." or "FAILED: ..." per check and exits 1 on
the first failure that leaves nothing further to check. Debian's
python3-grpcio and python3-grpc-tools; the stubs are generated from
runtime.proto (beside this file) into WORKDIR."""

import os
import subprocess
import sys
import time
import urllib.request

SOCK, WORK, HANDLER, PARENT = sys.argv[1:5]
HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(WORK, "cri-stubs")
os.makedirs(GEN, exist_ok=True)
subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I", HERE, "--python_out", GEN,
                       "--grpc_python_out", GEN, os.path.join(HERE, "runtime.proto")])
sys.path.insert(0, GEN)
import grpc  # noqa: E402
import runtime_pb2 as pb  # noqa: E402
import runtime_pb2_grpc as pbg  # noqa: E402

FAILED = []


def check(cond, what, detail=""):
    if cond:
        print(f"ok: {what}", flush=True)
    else:
        print(f"FAILED: {what} {detail}", flush=True)
        FAILED.append(what)
    return cond


rt = pbg.RuntimeServiceStub(grpc.insecure_channel("unix://" + SOCK))
T = 60


def wait(what, pred, secs=30):
    end = time.time() + secs
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


v = rt.Version(pb.VersionRequest(), timeout=T)
check(v.runtime_name == "containerd" and v.runtime_api_version, "Version", str(v))
st = rt.Status(pb.StatusRequest(), timeout=T)
conds = {c.type: c.status for c in st.status.conditions}
check(conds.get("RuntimeReady") and conds.get("NetworkReady"), "Status: runtime and network ready", str(conds))

logs = os.path.join(WORK, "pod-logs")
os.makedirs(logs, exist_ok=True)
sandbox_config = pb.PodSandboxConfig(
    metadata=pb.PodSandboxMetadata(name="web", uid="hull-cri-uid-1", namespace="default"),
    hostname="cri-pod",
    log_directory=logs,
    linux=pb.LinuxPodSandboxConfig(
        cgroup_parent=PARENT,
        security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))),
)
pod = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=sandbox_config, runtime_handler=HANDLER), timeout=T).pod_sandbox_id


def remove_pod():
    """What the kubelet does last, also after a failure: the pod's containers go with it."""
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=T)
    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=T)


def main():
    ps = rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod), timeout=T).status
    ip = ps.network.ip
    check(ps.state == pb.SANDBOX_READY and ip, "RunPodSandbox: ready, with the pod IP", ip)


    def container(name, cmd, pid_mode, memory=0):
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name),
            image=pb.ImageSpec(image="localhost/busybox:latest"),
            command=["sh", "-c", cmd],
            log_path=f"{name}.log",
            linux=pb.LinuxContainerConfig(
                resources=pb.LinuxContainerResources(memory_limit_in_bytes=memory),
                security_context=pb.LinuxContainerSecurityContext(
                    namespace_options=pb.NamespaceOption(network=pb.POD, pid=pid_mode, ipc=pb.POD))),
        )
        cid = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod, config=cfg, sandbox_config=sandbox_config),
                                 timeout=T).container_id
        rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=T)
        return cid


    def status(cid):
        return rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid), timeout=T).status


    def exec_sync(cid, cmd):
        return rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=20), timeout=T)


    web = container("web", "mkdir -p /www && echo served-over-cri > /www/index.html && echo web-up && "
                           "exec httpd -f -p 8080 -h /www", pb.POD, 64 << 20)
    # Ignores SIGTERM, so StopContainer has to SIGKILL it after the timeout.
    sleeper = container("sleeper", "trap '' TERM; echo sleeper-up; while :; do sleep 1; done", pb.CONTAINER)
    check(wait("running", lambda: status(web).state == pb.CONTAINER_RUNNING and status(sleeper).state == pb.CONTAINER_RUNNING),
          "two containers running in the pod")

    r = wait("http", lambda: (lambda x: x if b"served-over-cri" in x.stdout else None)(
        exec_sync(sleeper, ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])), 15)
    check(r and b"served-over-cri" in r.stdout, "ExecSync: one container reaches the other over 127.0.0.1")
    r = exec_sync(sleeper, ["hostname"])
    check(r.stdout.strip() == b"cri-pod", "ExecSync: the pod's hostname", r.stdout)
    r = exec_sync(sleeper, ["sh", "-c", "echo to-err >&2; exit 3"])
    check(r.exit_code == 3 and r.stderr.strip() == b"to-err", "ExecSync: exit code and stderr passed through", str(r))
    r = exec_sync(sleeper, ["sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '"])
    check(b"while" in r.stdout, "pid namespace CONTAINER: pid 1 is the container's own command", r.stdout)
    r = exec_sync(web, ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"])
    check(b"sleep" in r.stdout or b"pause" in r.stdout, "pid namespace POD: pid 1 is the sandbox's", r.stdout)

    try:
        body = urllib.request.urlopen(f"http://{ip}:8080/", timeout=5).read()
    except OSError as e:
        body = str(e).encode()
    check(b"served-over-cri" in body, "HTTP from the host to the pod IP", body)

    web_log = os.path.join(logs, "web.log")
    text = wait("log", lambda: open(web_log).read() if os.path.exists(web_log) and "web-up" in open(web_log).read() else "")
    check(text and " stdout F web-up" in text, "logs in the CRI format in the pod's log directory", text[:200])

    rt.UpdateContainerResources(pb.UpdateContainerResourcesRequest(
        container_id=sleeper, linux=pb.LinuxContainerResources(memory_limit_in_bytes=96 << 20)), timeout=T)
    limit_file = f"/sys/fs/cgroup/memory/{PARENT.strip('/')}/{sleeper}/memory.limit_in_bytes"
    limit = open(limit_file).read().strip() if os.path.exists(limit_file) else "missing " + limit_file
    check(limit == str(96 << 20), "UpdateContainerResources: the host sees the new memory limit", limit)

    stats = rt.ContainerStats(pb.ContainerStatsRequest(container_id=sleeper), timeout=T).stats
    check(stats.cpu.usage_core_nano_seconds.value > 0 and stats.memory.working_set_bytes.value > 0,
          "ContainerStats: cpu and memory figures", str(stats))

    hog = container("hog", "echo hog-up; head -c 200m /dev/zero | tail", pb.CONTAINER, 32 << 20)
    s = wait("oom", lambda: (lambda x: x if x.state == pb.CONTAINER_EXITED else None)(status(hog)), 30)
    check(s and s.reason == "OOMKilled", "a container over its memory limit: reason OOMKilled", str(s))

    t0 = time.time()
    rt.StopContainer(pb.StopContainerRequest(container_id=sleeper, timeout=2), timeout=T)
    s = status(sleeper)
    check(s.state == pb.CONTAINER_EXITED and s.exit_code == 137 and 1.5 < time.time() - t0 < 15,
          "StopContainer: SIGKILL after the timeout for one that ignores SIGTERM", f"{s} after {time.time() - t0:.1f}s")
    rt.StopContainer(pb.StopContainerRequest(container_id=web, timeout=10), timeout=T)
    check(status(web).state == pb.CONTAINER_EXITED, "StopContainer: SIGTERM stops httpd")
    for cid in (web, sleeper, hog):
        rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=T)
    remove_pod()
    print("ok: RemoveContainer, StopPodSandbox, RemovePodSandbox", flush=True)


# What a container sees of what a pod spec asks: readOnlyRootFilesystem,
# runAsUser/runAsGroup, capabilities, seccomp RuntimeDefault, a hostPath
# volume (read-only), an emptyDir with medium Memory (the kubelet's tmpfs,
# bound in), and a pod sysctl.
PROBE = r"""
echo "id: $(id)"
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
touch /probe 2>/dev/null && echo 'root: rw' || echo 'root: ro'
cat /host/file; touch /host/w 2>/dev/null && echo 'host: rw' || echo 'host: ro'
echo mem > /mem/f && cat /mem/f && grep ' /mem ' /proc/self/mounts | cut -d' ' -f3
echo "port_start: $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
awk '{print "mount:", $2, $3}' /proc/self/mounts | grep -v -E ' /(etc/(hosts|hostname|resolv.conf)|dev/termination-log)$' | sort
ls -ln /dev | awk 'NR>1 {print "dev:", $1, $3, $4, $NF}'
"""


def probe_pod(handler):
    config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=f"probe-{handler}", uid=f"hull-cri-probe-{handler}", namespace="default"),
        hostname="probe",
        log_directory=os.path.join(WORK, f"probe-logs-{handler}"),
        linux=pb.LinuxPodSandboxConfig(cgroup_parent=PARENT, sysctls={"net.ipv4.ip_unprivileged_port_start": "80"}),
    )
    os.makedirs(config.log_directory, exist_ok=True)
    pid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=config, runtime_handler=handler), timeout=T).pod_sandbox_id
    try:
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name="probe"),
            image=pb.ImageSpec(image="localhost/busybox:latest"),
            command=["sh", "-c", PROBE],
            log_path="probe.log",
            mounts=[pb.Mount(container_path="/host", host_path=os.path.join(WORK, "hostpath"), readonly=True),
                    pb.Mount(container_path="/mem", host_path=os.path.join(WORK, "emptydir-memory"))],
            linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
                capabilities=pb.Capability(drop_capabilities=["ALL"], add_capabilities=["NET_BIND_SERVICE", "CHOWN"]),
                run_as_user=pb.Int64Value(value=1000), run_as_group=pb.Int64Value(value=1000),
                readonly_rootfs=True,
                seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))),
        )
        cid = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pid, config=cfg, sandbox_config=config),
                                 timeout=T).container_id
        rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=T)
        wait("probe", lambda: rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid), timeout=T)
             .status.state == pb.CONTAINER_EXITED)
        log = open(os.path.join(config.log_directory, "probe.log")).read()
        # CRI log lines: TIME STREAM TAG text
        return sorted(line.split(" ", 3)[3] for line in log.splitlines() if line.count(" ") >= 3)
    finally:
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pid), timeout=T)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=T)


def compare_probes():
    ours, runc = probe_pod(HANDLER), probe_pod("runc")
    diff = sorted(set(ours) ^ set(runc))
    check(ours == runc and len(ours) > 20, f"a pod spec's security settings and volumes: {HANDLER} sees what runc sees",
          f"\n  only {HANDLER}: {[x for x in diff if x in ours]}\n  only runc: {[x for x in diff if x in runc]}")


try:
    main()
    compare_probes()
except Exception:
    # Leave nothing behind for the checks that follow, then report.
    try:
        remove_pod()
    except grpc.RpcError:
        pass
    raise
sys.exit(1 if FAILED else 0)
