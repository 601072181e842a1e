#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/): small,
valid inputs of each kind, so that the fuzzer starts from the structure and
mutates it. Run from anywhere; rerun after changing a seed here."""
import gzip, io, json, os, sys, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "corpus")

def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, indent=1).encode()
    elif isinstance(data, str):
        data = data.encode()
    open(os.path.join(d, name), "wb").write(data)

def tar_of(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m in members:
            info = tarfile.TarInfo(m["name"])
            kind = m.get("type", "file")
            info.mode = m.get("mode", 0o644)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = m["target"]
                t.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = m["target"]
                t.addfile(info)
            else:
                data = m.get("data", b"x")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

config = json.load(open(os.path.join(HERE, "config.json")))
put("config", "hull-spec", config)
full = json.loads(json.dumps(config))
full["mounts"].append({"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro"]})
full["hooks"] = {"prestart": [{"path": "/bin/true", "args": ["true"], "env": ["A=b"], "timeout": 5}]}
full["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]
full["process"]["user"]["additionalGids"] = [1, 2]
full["linux"]["resources"] = {"memory": {"limit": 104857600}, "cpu": {"shares": 512, "quota": 50000, "period": 100000},
                              "pids": {"limit": 64}, "devices": [{"allow": False, "access": "rwm"}]}
full["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                                          "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]}]}
full["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
full["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
full["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
full["linux"]["namespaces"].append({"type": "user"})
full["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]
put("config", "full", full)

put("state", "created", json.load(open(os.path.join(HERE, "state.json"))))

for i, r in enumerate(["busybox", "docker.io/library/busybox:latest", "127.0.0.1:5000/hull/ml:v1",
                       "registry.example.com/a/b/c@sha256:" + "a" * 64, "localhost/x:y",
                       "[::1]:5000/img:tag", "oci:/var/lib/layout:tag", "docker-archive:/tmp/x.tar"]):
    put("reference", f"ref{i}", r)

layer_digest = "sha256:" + "1" * 64
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "2" * 64, "size": 100},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": 1000}]}
put("manifest", "oci-manifest", manifest)
put("manifest", "docker-manifest", dict(manifest, mediaType="application/vnd.docker.distribution.manifest.v2+json"))
put("manifest", "index", {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                          "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                         "digest": "sha256:" + "3" * 64, "size": 500,
                                         "platform": {"os": "linux", "architecture": "amd64"}}]})

layer = tar_of([{"name": "bin", "type": "dir"}, {"name": "bin/sh", "data": b"#!\n", "mode": 0o755},
                {"name": "etc", "type": "dir"}, {"name": "etc/passwd", "data": b"root:x:0:0::/:/bin/sh\n"},
                {"name": "etc/.wh.shadow"}, {"name": "lib", "type": "symlink", "target": "/usr/lib"},
                {"name": "bin/ash", "type": "hardlink", "target": "bin/sh"}, {"name": "tmp/.wh..wh..opq"}])
put("tar_layer", "plain", layer)
put("tar_layer", "gzip", gzip.compress(layer))
put("tar_layer", "escapes", tar_of([{"name": "../outside", "data": b"x"}, {"name": "/abs", "data": b"x"},
                                   {"name": "up", "type": "symlink", "target": "../../.."},
                                   {"name": "up/through", "data": b"x"}]))

cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "4" * 64]}}).encode()
archive = io.BytesIO()
with tarfile.open(fileobj=archive, mode="w") as t:
    for name, data in [("manifest.json", json.dumps([{"Config": "cfg.json", "RepoTags": ["busybox:latest"],
                                                        "Layers": ["abc/layer.tar"]}]).encode()),
                       ("cfg.json", cfg), ("abc/layer.tar", layer)]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
put("docker_archive", "save", archive.getvalue())

put("cni_result", "bridge", {"cniVersion": "1.0.0",
    "interfaces": [{"name": "cni0", "mac": "aa:bb:cc:dd:ee:ff"}, {"name": "eth0", "sandbox": "/var/run/netns/x"}],
    "ips": [{"address": "10.88.0.2/16", "gateway": "10.88.0.1", "interface": 1}, {"address": "fd00::2/64"}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["10.88.0.1"], "domain": "example.org", "search": ["example.org"], "options": ["ndots:2"]}})

put("cdi_spec", "yaml", """cdiVersion: "0.6.0"
kind: vendor.com/device
devices:
  - name: dev0
    containerEdits:
      deviceNodes:
        - path: /dev/fuse
          type: c
          major: 10
          minor: 229
containerEdits:
  env:
    - VENDOR=1
  mounts:
    - hostPath: /tmp
      containerPath: /vendor
      options: [ro, bind]
  hooks:
    - hookName: createContainer
      path: /bin/true
  additionalGIDs: [44]
""")
put("cdi_spec", "json", {"cdiVersion": "1.0.0", "kind": "vendor.com/gpu",
                         "devices": [{"name": "all", "containerEdits": {"env": ["GPU=all"]}}]})
