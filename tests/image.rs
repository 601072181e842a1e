//! The image store end to end: `hull image pull` from a real docker-registry
//! (anonymous, Basic, Bearer tokens, HTTPS), from `docker save` archives in
//! their three forms and from OCI layouts; bundles through overlay, copy,
//! bind and with no image; refcounts and gc. Faults a real registry cannot be
//! made to produce (wrong digests, truncated blobs, 500s, a redirect to
//! another host) come from a small fake registry, and say so.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{stderr, stdout, HULL};
use serde_json::Value;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes bundles (unmounting them) when the test ends, failed or not.
struct Bundles(Vec<PathBuf>);

impl Drop for Bundles {
    fn drop(&mut self) {
        for b in &self.0 {
            let _ = Command::new(HULL).args(["bundle", "rm"]).arg(b).output();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16) {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {port}");
}

fn hull(args: &[&str]) -> Output {
    Command::new(HULL).args(args).output().unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

fn sh(cmd: &str) -> String {
    let o = Command::new("sh").args(["-ec", cmd]).output().unwrap();
    assert!(o.status.success(), "{cmd}: {}", stderr(&o));
    stdout(&o)
}

/// hack/images.sh's images, and the multilayer one unpacked as a layout.
fn images(t: &Path) -> PathBuf {
    let dir = t.join("images");
    let o = Command::new("./hack/images.sh").arg(&dir).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::create_dir_all(t.join("ml")).unwrap();
    sh(&format!(
        "tar -C {}/ml -xf {}/multilayer-oci.tar",
        t.display(),
        dir.display()
    ));
    dir
}

enum Auth {
    Anonymous,
    Basic,
    Bearer,
    Tls,
}

/// A docker-registry of the test's own on loopback.
struct Registry {
    port: u16,
    dir: PathBuf,
    _procs: Vec<Proc>,
}

const USER: &str = "hull";
const PASS: &str = "s3cret";

/// key.pem and cert.pem (for the address `ip`) signed by ca.pem, all made here.
fn cert(dir: &Path, ip: &str) {
    sh(&format!(
        "cd {} && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=hull-test-ca 2>/dev/null \
         && openssl req -newkey rsa:2048 -nodes -keyout key.pem -out req.csr -subj /CN={ip} 2>/dev/null \
         && printf 'subjectAltName=IP:{ip}\\nbasicConstraints=CA:FALSE\\n' > ext.cnf \
         && openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile ext.cnf 2>/dev/null",
        dir.display()
    ));
}

fn registry(t: &Path, auth: Auth) -> Registry {
    let port = free_port();
    let dir = t.join(format!("registry-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut procs = vec![];
    let extra = match auth {
        Auth::Anonymous => String::new(),
        Auth::Basic => {
            sh(&format!(
                "htpasswd -Bbc {}/htpasswd {USER} {PASS} 2>/dev/null",
                dir.display()
            ));
            format!(
                "auth: {{htpasswd: {{realm: hull-test, path: {}/htpasswd}}}}",
                dir.display()
            )
        }
        Auth::Bearer => {
            cert(&dir, "127.0.0.1");
            let tport = free_port();
            let key = dir.join("key.pem");
            let crt = dir.join("cert.pem");
            let child = Command::new("python3")
                .arg("tests/fixtures/token-server.py")
                .arg(tport.to_string())
                .args([&key, &crt])
                .args(["hull-issuer", "hull-registry", USER, PASS])
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            procs.push(Proc(child));
            wait_port(tport);
            format!(
                "auth: {{token: {{realm: \"http://127.0.0.1:{tport}/token\", service: hull-registry, \
                 issuer: hull-issuer, rootcertbundle: {}}}}}",
                crt.display()
            )
        }
        Auth::Tls => {
            cert(&dir, "127.0.0.1");
            String::new()
        }
    };
    let tls = match auth {
        Auth::Tls => format!(", tls: {{certificate: {0}/cert.pem, key: {0}/key.pem}}", dir.display()),
        _ => String::new(),
    };
    let config = format!(
        "version: 0.1\nlog: {{level: info, accesslog: {{disabled: false}}}}\nstorage: {{filesystem: {{rootdirectory: {}/data}}}}\n\
         http: {{addr: 127.0.0.1:{port}{tls}}}\n{extra}\n",
        dir.display()
    );
    std::fs::write(dir.join("config.yml"), config).unwrap();
    let (child, port) = serve_registry(&dir, port);
    procs.push(child);
    Registry {
        port,
        dir,
        _procs: procs,
    }
}

/// Starts docker-registry on `dir`'s config.yml and waits until it says it
/// listens. free_port's port can be taken by another test's server before
/// ours binds it (ours then exits, and a bare port check would find theirs):
/// then it starts again on another port. Returns it and the port it has.
fn serve_registry(dir: &Path, mut port: u16) -> (Proc, u16) {
    let config = dir.join("config.yml");
    for _ in 0..3 {
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let mut child = Proc(
            Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let listening = format!("listening on 127.0.0.1:{port}");
        for _ in 0..200 {
            if std::fs::read_to_string(dir.join("log"))
                .unwrap_or_default()
                .contains(&listening)
            {
                wait_port(port);
                return (child, port);
            }
            if child.0.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let next = free_port();
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            text.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{next}")),
        )
        .unwrap();
        port = next;
    }
    panic!(
        "docker-registry did not start: {}",
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    );
}

impl Registry {
    fn name(&self, repo: &str) -> String {
        format!("127.0.0.1:{}/{repo}", self.port)
    }

    fn push(&self, archive: &Path, repo: &str) {
        let creds = format!("{USER}:{PASS}");
        let o = Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", &creds])
            .arg(format!("oci-archive:{}", archive.display()))
            .arg(format!("docker://{}", self.name(repo)))
            .output()
            .unwrap();
        assert!(o.status.success(), "skopeo: {}", stderr(&o));
    }

    /// How many times the registry served the blob with a 200.
    fn blob_gets(&self, digest: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap();
        log.lines()
            .filter(|l| l.contains(&format!("GET /v2/hull/ml/blobs/{digest} ")) && l.contains("\" 200 "))
            .count()
    }
}

fn authfile(t: &Path, reg: &str) -> PathBuf {
    let f = t.join("auth.json");
    let auth = sh(&format!("printf %s {USER}:{PASS} | base64")).trim().to_string();
    std::fs::write(&f, format!(r#"{{"auths":{{"{reg}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    f
}

/// Every entry under `root`: path, type and mode, owner, and the content
/// (or link target) — what two backends must agree on.
fn tree(root: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let content = if m.file_type().is_symlink() {
                std::fs::read_link(&p).unwrap().display().to_string()
            } else if m.is_file() {
                format!("{:x}", fnv(&std::fs::read(&p).unwrap()))
            } else {
                String::new()
            };
            if m.is_dir() {
                stack.push(p.clone());
            }
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.push(format!("{rel} {:o} {}:{} {content}", m.mode(), m.uid(), m.gid()));
        }
    }
    out.sort();
    out
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

fn run_bundle(t: &Path, bundle: &Path, id: &str) -> Output {
    Command::new(HULL)
        .arg("--root")
        .arg(t.join("state"))
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .output()
        .unwrap()
}

/// `hull bundle create` of `image` with `backend` into `dir`.
fn bundle_create(store: &str, backend: &str, image: &str, dir: &str) -> Output {
    hull(&[
        "bundle",
        "create",
        "--store",
        store,
        "--backend",
        backend,
        "--image",
        image,
        dir,
    ])
}

/// Every blob in the store hashes to its name: nothing bad or half-written was kept.
fn assert_blobs_match_their_names(store: &Path) {
    for e in std::fs::read_dir(store.join("blobs/sha256"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let d = sh(&format!("sha256sum {} | cut -d' ' -f1", e.path().display()));
        assert_eq!(
            d.trim(),
            e.file_name().to_string_lossy(),
            "a blob that is not what its name says"
        );
    }
}

fn layer_dirs(store: &Path) -> usize {
    std::fs::read_dir(store.join("layers")).map(|r| r.count()).unwrap_or(0)
}

/// A test's own directory with hack/images.sh's images, and a registry of
/// its own holding one of them as `repo`.
struct Pushed {
    t: tempfile::TempDir,
    reg: Registry,
    store: PathBuf,
}

fn pushed(auth: Auth, archive: &str, repo: &str) -> Pushed {
    let t = tempfile::tempdir().unwrap();
    let imgs = images(t.path());
    let reg = registry(t.path(), auth);
    reg.push(&imgs.join(archive), repo);
    let store = t.path().join("store");
    Pushed { t, reg, store }
}

#[test]
fn registry_pull_then_overlay_and_copy_bundles_match_and_gc_keeps_what_is_used() {
    let p = pushed(Auth::Anonymous, "multilayer-oci.tar", "hull/ml:v1");
    let (t, reg, store) = (p.t.path(), &p.reg, &p.store);
    let s = store.to_str().unwrap();
    let name = reg.name("hull/ml:v1");
    assert_eq!(ok(hull(&["image", "pull", "-q", "--store", s, &name])).trim(), name);
    let ls = ok(hull(&["image", "ls", "--store", s, "--format", "json"]));
    let ls: Value = serde_json::from_str(&ls).unwrap();
    assert_eq!(ls[0]["name"], name.as_str());
    assert_eq!(ls[0]["layers"], 3);
    assert_eq!(layer_dirs(store), 3, "a pull unpacks the layers");

    let ov = t.join("ov");
    let cp = t.join("cp");
    let _cleanup = Bundles(vec![ov.clone(), cp.clone()]);
    ok(bundle_create(s, "overlay", &name, ov.to_str().unwrap()));
    ok(bundle_create(s, "copy", &name, cp.to_str().unwrap()));
    assert_eq!(
        tree(&ov.join("rootfs")),
        tree(&cp.join("rootfs")),
        "overlay and copy give one file tree"
    );
    for (b, id) in [(&ov, "ov"), (&cp, "cp")] {
        let o = run_bundle(t, b, id);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("layer2: modified") && !stdout(&o).contains("deleted.txt"),
            "{}",
            stdout(&o)
        );
    }

    let inspect: Value = serde_json::from_str(&ok(hull(&["image", "inspect", "--store", s, &name]))).unwrap();
    for l in inspect["layers"].as_array().unwrap() {
        assert_eq!((l["images"].as_u64(), l["bundles"].as_u64()), (Some(1), Some(1)), "{l}");
    }
    // By digest: the same image under a second name, sharing every layer.
    let by_digest = format!("{}@{}", reg.name("hull/ml"), inspect["digest"].as_str().unwrap());
    assert_eq!(
        ok(hull(&["image", "pull", "-q", "--store", s, &by_digest])).trim(),
        by_digest
    );
    let inspect: Value = serde_json::from_str(&ok(hull(&["image", "inspect", "--store", s, &by_digest]))).unwrap();
    assert_eq!(inspect["layers"][0]["images"], 2);
    ok(hull(&["image", "rm", "--store", s, &by_digest]));
    // gc with the image and the bundle in place removes nothing used.
    ok(hull(&["image", "gc", "--store", s]));
    assert_eq!(layer_dirs(store), 3);
    ok(hull(&["image", "rm", "--store", s, &name]));
    ok(hull(&["image", "gc", "--store", s]));
    assert_eq!(layer_dirs(store), 3, "the live overlay bundle keeps its layers");
    assert!(run_bundle(t, &ov, "ov2").status.success());
    ok(hull(&["bundle", "rm", ov.to_str().unwrap()]));
    ok(hull(&["image", "gc", "--store", s]));
    assert_eq!(layer_dirs(store), 0);
    assert_eq!(std::fs::read_dir(store.join("blobs/sha256")).unwrap().count(), 0);
    assert!(!ov.join("rootfs").exists() && !ov.join("upper").exists());
}

#[test]
fn registry_basic_auth_needs_the_authfile() {
    let p = pushed(Auth::Basic, "busybox-oci.tar", "hull/busybox:latest");
    let (t, reg, store) = (p.t.path(), &p.reg, &p.store);
    let s = store.to_str().unwrap();
    let name = reg.name("hull/busybox");
    let o = hull(&[
        "image",
        "pull",
        "-q",
        "--store",
        s,
        "--authfile",
        "/dev/null/none",
        &name,
    ]);
    assert!(!o.status.success());
    let o = Command::new(HULL)
        .args(["image", "pull", "-q", "--store", s, &name])
        .env("HOME", t)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DOCKER_CONFIG")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("credentials"), "{}", stderr(&o));
    assert!(ok(hull(&["image", "ls", "-q", "--store", s])).trim().is_empty());
    let auth = authfile(t, &format!("127.0.0.1:{}", reg.port));
    ok(hull(&[
        "image",
        "pull",
        "-q",
        "--store",
        s,
        "--authfile",
        auth.to_str().unwrap(),
        &name,
    ]));
    let b = t.join("b");
    let _cleanup = Bundles(vec![b.clone()]);
    ok(hull(&[
        "bundle",
        "create",
        "--store",
        s,
        "--image",
        &name,
        b.to_str().unwrap(),
        "--",
        "cat",
        "/data/marker",
    ]));
    assert_eq!(ok(run_bundle(t, &b, "basic")).trim(), "hull-image");
}

#[test]
fn registry_bearer_token_auth() {
    let p = pushed(Auth::Bearer, "busybox-oci.tar", "hull/busybox:v2");
    let (t, reg, store) = (p.t.path(), &p.reg, &p.store);
    let s = store.to_str().unwrap();
    let name = reg.name("hull/busybox:v2");
    let o = hull(&["image", "pull", "-q", "--store", s, "--authfile", "/dev/null", &name]);
    assert!(!o.status.success(), "no credentials: the token server refuses");
    let auth = authfile(t, &format!("127.0.0.1:{}", reg.port));
    ok(hull(&[
        "image",
        "pull",
        "-q",
        "--store",
        s,
        "--authfile",
        auth.to_str().unwrap(),
        &name,
    ]));
    assert_eq!(ok(hull(&["image", "ls", "-q", "--store", s])).trim(), name);
}

#[test]
fn registry_over_https_trusts_the_cert_dir() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let imgs = images(t);
    let reg = registry(t, Auth::Tls);
    let o = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci-archive:{}", imgs.join("busybox-oci.tar").display()))
        .arg(format!("docker://{}", reg.name("hull/busybox:tls")))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let store = t.join("store");
    let s = store.to_str().unwrap();
    let name = reg.name("hull/busybox:tls");
    let certs = t.join("certs.d");
    let o = hull(&[
        "image",
        "pull",
        "-q",
        "--store",
        s,
        "--cert-dir",
        certs.to_str().unwrap(),
        &name,
    ]);
    assert!(!o.status.success(), "an unknown CA is refused");
    assert!(stderr(&o).to_lowercase().contains("certificate"), "{}", stderr(&o));
    let host = certs.join(format!("127.0.0.1:{}", reg.port));
    std::fs::create_dir_all(&host).unwrap();
    std::fs::copy(reg.dir.join("ca.pem"), host.join("ca.crt")).unwrap();
    ok(hull(&[
        "image",
        "pull",
        "-q",
        "--store",
        s,
        "--cert-dir",
        certs.to_str().unwrap(),
        &name,
    ]));
}

/// Not loopback, so proxies apply to it: from the benchmarking range, on
/// the loopback device of a network namespace of the test's own.
const PROXIED_ADDR: &str = "198.18.0.1";

/// That namespace; deleted, with everything still in it, when dropped.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("hull-proxy-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh(&format!("ip netns add {name}"));
        let ns = Netns(name);
        sh(&format!(
            "ip -n {0} link set lo up && ip -n {0} addr add {PROXIED_ADDR}/32 dev lo",
            ns.0
        ));
        ns
    }

    /// `program` run in the namespace, with this process's environment.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }

    fn wait_port(&self, addr: &str, port: u16) {
        let probe = format!("import socket; socket.create_connection(('{addr}', {port}), 1)");
        for _ in 0..100 {
            if self
                .cmd("python3")
                .args(["-c", &probe])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nothing listens on {addr}:{port} in {}", self.0);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// HTTPS_PROXY is used for a registry that is not loopback, NO_PROXY
/// bypasses it, and a proxy that is not there is named in the error,
/// without its credentials. The
/// registry (HTTPS) and the proxy (Debian's tinyproxy) are real, in a
/// network namespace of the test's own.
#[test]
fn registries_are_reached_through_the_environments_proxy() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let imgs = images(t);
    let ns = Netns::new();
    let dir = t.join("proxied");
    std::fs::create_dir_all(&dir).unwrap();
    cert(&dir, PROXIED_ADDR);
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: info}}\nstorage: {{filesystem: {{rootdirectory: {0}/data}}}}\n\
             http: {{addr: {PROXIED_ADDR}:5000, tls: {{certificate: {0}/cert.pem, key: {0}/key.pem}}}}\n",
            dir.display()
        ),
    )
    .unwrap();
    // Their output goes to files here, for a failure to show.
    let logged = |c: &mut Command, log: &str| {
        let f = std::fs::File::create(dir.join(log)).unwrap();
        c.stdout(f.try_clone().unwrap()).stderr(f).spawn().unwrap()
    };
    let _registry = Proc(logged(
        ns.cmd("docker-registry").arg("serve").arg(&config),
        "registry.log",
    ));
    // tinyproxy drops to nobody, who must be able to write its log.
    let logs = dir.join("proxy");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::set_permissions(&logs, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let conf = logs.join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port 8888\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}/tinyproxy.log\"\nLogLevel Connect\n\
             MaxClients 10\nAllow 127.0.0.1\nConnectPort 5000\nUser nobody\nGroup nogroup\n",
            logs.display()
        ),
    )
    .unwrap();
    let _proxy = Proc(logged(
        ns.cmd("tinyproxy").args(["-d", "-c"]).arg(&conf),
        "tinyproxy.out",
    ));
    ns.wait_port(PROXIED_ADDR, 5000);
    ns.wait_port("127.0.0.1", 8888);

    let name = format!("{PROXIED_ADDR}:5000/hull/busybox:proxy");
    let proxy_vars = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ];
    let mut skopeo = ns.cmd("skopeo");
    for v in proxy_vars {
        skopeo.env_remove(v);
    }
    let o = skopeo
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci-archive:{}", imgs.join("busybox-oci.tar").display()))
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "skopeo: {}", stderr(&o));
    let certs = t.join("certs.d");
    std::fs::create_dir_all(certs.join(format!("{PROXIED_ADDR}:5000"))).unwrap();
    std::fs::copy(dir.join("ca.pem"), certs.join(format!("{PROXIED_ADDR}:5000/ca.crt"))).unwrap();
    let pull = |store: &str, env: &[(&str, &str)]| {
        let mut c = ns.cmd(HULL);
        for v in proxy_vars {
            c.env_remove(v);
        }
        c.envs(env.iter().copied())
            .args(["image", "pull", "-q", "--store"])
            .arg(t.join(store))
            .arg("--cert-dir")
            .arg(&certs)
            .arg(&name)
            .output()
            .unwrap()
    };
    let connects = || {
        std::fs::read_to_string(logs.join("tinyproxy.log"))
            .unwrap_or_default()
            .matches(&format!("CONNECT {PROXIED_ADDR}:5000"))
            .count()
    };
    let proxy = ("HTTPS_PROXY", "http://127.0.0.1:8888");
    ok(pull("through", &[proxy]));
    let through = connects();
    assert!(through > 0, "the pull did not go through the proxy");
    ok(pull("direct", &[proxy, ("NO_PROXY", "example.com,198.18.0.1")]));
    assert_eq!(
        connects(),
        through,
        "NO_PROXY named the registry, yet the proxy was used"
    );
    // A proxy that is not there is named, without its credentials.
    let o = pull("nowhere", &[("HTTPS_PROXY", "http://user:s3cret@127.0.0.1:1")]);
    assert!(!o.status.success(), "a proxy that is not there");
    let err = stderr(&o);
    assert!(
        err.contains("through the proxy http://127.0.0.1:1") && !err.contains("s3cret"),
        "{err}"
    );
}

#[test]
fn two_pulls_at_once_fetch_each_blob_once() {
    let p = pushed(Auth::Anonymous, "multilayer-oci.tar", "hull/ml:v1");
    let (reg, store) = (&p.reg, &p.store);
    let name = reg.name("hull/ml:v1");
    let pulls: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(HULL)
                .args(["image", "pull", "-q", "--store"])
                .arg(store)
                .arg(&name)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for p in pulls {
        let o = p.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let inspect: Value = serde_json::from_str(&ok(hull(&[
        "image",
        "inspect",
        "--store",
        store.to_str().unwrap(),
        &name,
    ])))
    .unwrap();
    for l in inspect["layers"].as_array().unwrap() {
        let d = l["digest"].as_str().unwrap();
        assert_eq!(reg.blob_gets(d), 1, "blob {d} fetched once");
    }
    assert_tmp_empty(store);
}

/// The multilayer image in the three `docker save` forms.
fn docker_archives(t: &Path, imgs: &Path) -> Vec<(String, PathBuf)> {
    let classic = t.join("classic.tar");
    let o = Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci-archive:{}", imgs.join("multilayer-oci.tar").display()))
        .arg(format!("docker-archive:{}:localhost/ml:v1", classic.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let ml = t.join("ml");
    let index: Value = serde_json::from_slice(&std::fs::read(ml.join("index.json")).unwrap()).unwrap();
    let blob = |d: &str| ml.join("blobs/sha256").join(d.trim_start_matches("sha256:"));
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let manifest: Value = serde_json::from_slice(&std::fs::read(blob(&mdigest)).unwrap()).unwrap();
    let config = manifest["config"]["digest"].as_str().unwrap().to_string();
    let layers: Vec<String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();

    // Docker 25+: the OCI layout itself plus a manifest.json naming its blobs.
    let d25 = t.join("d25");
    sh(&format!("cp -a {} {}", ml.display(), d25.display()));
    let path = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
    let m = serde_json::json!([{"Config": path(&config), "RepoTags": ["localhost/ml:v25"],
        "Layers": layers.iter().map(|l| path(l)).collect::<Vec<_>>()}]);
    std::fs::write(d25.join("manifest.json"), m.to_string()).unwrap();
    let docker25 = t.join("docker25.tar");
    sh(&format!("tar -C {} -cf {} .", d25.display(), docker25.display()));

    // Legacy: repositories, and <id>/{json,layer.tar,VERSION} parent chains.
    let leg = t.join("leg");
    let cfg: Value = serde_json::from_slice(&std::fs::read(blob(&config)).unwrap()).unwrap();
    let mut parent = String::new();
    for (i, l) in layers.iter().enumerate() {
        let id = format!("{:064x}", i + 1);
        let d = leg.join(&id);
        std::fs::create_dir_all(&d).unwrap();
        sh(&format!("gzip -dc {} > {}/layer.tar", blob(l).display(), d.display()));
        std::fs::write(d.join("VERSION"), "1.0").unwrap();
        let mut j = serde_json::json!({"id": id, "created": "2024-01-01T00:00:00Z", "os": "linux"});
        if !parent.is_empty() {
            j["parent"] = Value::from(parent.clone());
        }
        if i + 1 == layers.len() {
            j["config"] = cfg["config"].clone();
            j["architecture"] = cfg["architecture"].clone();
        }
        std::fs::write(d.join("json"), j.to_string()).unwrap();
        parent = id;
    }
    std::fs::write(
        leg.join("repositories"),
        format!(r#"{{"localhost/ml":{{"legacy":"{parent}"}}}}"#),
    )
    .unwrap();
    let legacy = t.join("legacy.tar");
    sh(&format!("tar -C {} -cf {} .", leg.display(), legacy.display()));
    vec![
        ("localhost/ml:v1".into(), classic),
        ("localhost/ml:v25".into(), docker25),
        ("localhost/ml:legacy".into(), legacy),
    ]
}

#[test]
fn docker_archives_in_all_three_forms_run() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let imgs = images(t);
    let store = t.join("store");
    let s = store.to_str().unwrap();
    let mut bundles = Bundles(vec![]);
    for (i, (name, archive)) in docker_archives(t, &imgs).into_iter().enumerate() {
        let r = format!("docker-archive:{}", archive.display());
        assert_eq!(ok(hull(&["image", "pull", "-q", "--store", s, &r])).trim(), name);
        let b = t.join(format!("b{i}"));
        bundles.0.push(b.clone());
        let with_name = format!("{r}:{name}");
        ok(bundle_create(s, "copy", &with_name, b.to_str().unwrap()));
        let o = run_bundle(t, &b, &format!("da{i}"));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("layer2: modified") && stdout(&o).contains("new.txt"),
            "{name}: {}",
            stdout(&o)
        );
    }
    let o = hull(&[
        "image",
        "pull",
        "--store",
        s,
        &format!("docker-archive:{}/nope.tar", t.display()),
    ]);
    assert!(!o.status.success() && stderr(&o).contains("nope.tar"), "{}", stderr(&o));
}

/// A fake registry: serves one image from an OCI layout, with a fault.
/// docker-registry never sends a wrong blob, a short one, endless 500s or a
/// redirect to another host, so these come from here.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    WrongDigest,
    Truncated,
    Always500,
    /// Basic auth required; blobs redirect to a second server on 127.0.0.2.
    RedirectElsewhere,
    /// Half the first layer, then nothing (until the puller is killed).
    Stall,
}

struct Request {
    path: String,
    authorization: Option<String>,
}

fn read_request(s: &mut TcpStream) -> Option<Request> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let path = line.split(' ').nth(1)?.to_string();
    let mut authorization = None;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
        }
    }
    Some(Request { path, authorization })
}

fn respond(s: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

fn serve(addr: &str, handler: impl Fn(Request, &mut TcpStream) + Send + 'static) -> u16 {
    let l = TcpListener::bind(addr).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            if let Some(req) = read_request(&mut s) {
                handler(req, &mut s);
            }
        }
    });
    port
}

fn fake_registry(layout: &Path, fault: Fault, seen_elsewhere: Arc<Mutex<Vec<Option<String>>>>) -> u16 {
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let blobs = layout.join("blobs/sha256");
    let manifest: Value = serde_json::from_slice(&std::fs::read(blobs.join(&manifest_digest[7..])).unwrap()).unwrap();
    let first_layer = manifest["layers"][0]["digest"].as_str().unwrap().to_string();
    let b2 = blobs.clone();
    let other = serve("127.0.0.2:0", move |req, s| {
        seen_elsewhere.lock().unwrap().push(req.authorization.clone());
        let d = req.path.rsplit('/').next().unwrap_or_default().to_string();
        let data = std::fs::read(b2.join(d.trim_start_matches("sha256:"))).unwrap_or_default();
        respond(s, "200 OK", &[], &data);
    });
    let basic = format!("Basic {}", sh(&format!("printf %s {USER}:{PASS} | base64")).trim());
    serve("127.0.0.1:0", move |req, s| {
        if fault == Fault::Always500 {
            return respond(s, "500 Internal Server Error", &[], b"broken");
        }
        if fault == Fault::RedirectElsewhere && req.authorization.as_deref() != Some(basic.as_str()) {
            let h = [("WWW-Authenticate", "Basic realm=\"fake\"".to_string())];
            return respond(s, "401 Unauthorized", &h, b"");
        }
        if req.path == "/v2/" {
            return respond(s, "200 OK", &[], b"{}");
        }
        let d = req.path.rsplit('/').next().unwrap_or_default().to_string();
        let is_manifest = req.path.contains("/manifests/");
        let want = if is_manifest {
            manifest_digest.clone()
        } else {
            d.clone()
        };
        let mut data = std::fs::read(blobs.join(want.trim_start_matches("sha256:"))).unwrap_or_default();
        let ct = [(
            "Content-Type",
            manifest["mediaType"].as_str().unwrap_or_default().to_string(),
        )];
        if is_manifest {
            return respond(s, "200 OK", &ct, &data);
        }
        if d == first_layer {
            match fault {
                Fault::WrongDigest => data[100] ^= 0xff,
                Fault::Truncated => data.truncate(data.len() / 2),
                Fault::RedirectElsewhere => {
                    let to = [("Location", format!("http://127.0.0.2:{other}/elsewhere/{d}"))];
                    return respond(s, "307 Temporary Redirect", &to, b"");
                }
                Fault::Stall => {
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len());
                    let _ = s.write_all(head.as_bytes());
                    let _ = s.write_all(&data[..data.len() / 2]);
                    let _ = s.flush();
                    std::thread::sleep(Duration::from_secs(30));
                    return;
                }
                Fault::Always500 => {}
            }
        }
        respond(s, "200 OK", &[], &data);
    })
}

#[test]
fn faulty_registries_store_nothing_bad() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    images(t);
    for (fault, expect) in [
        (Fault::WrongDigest, "hashes to"),
        (Fault::Truncated, "bytes where"),
        (Fault::Always500, "HTTP 500"),
    ] {
        let port = fake_registry(&t.join("ml"), fault, Arc::default());
        let store = t.join(format!("store-{port}"));
        let o = hull(&[
            "image",
            "pull",
            "-q",
            "--store",
            store.to_str().unwrap(),
            &format!("127.0.0.1:{port}/hull/ml:v1"),
        ]);
        assert!(!o.status.success(), "{expect}");
        assert!(stderr(&o).contains(expect), "{expect}: {}", stderr(&o));
        let index = std::fs::read_to_string(store.join("index.json")).unwrap_or_default();
        assert!(
            !index.contains("hull/ml"),
            "no image named after a failed pull: {index}"
        );
        assert_eq!(std::fs::read_dir(store.join("tmp")).map(|r| r.count()).unwrap_or(0), 0);
        assert_eq!(layer_dirs(&store), 0);
        // The bad blob (the first layer) is not stored.
        assert_blobs_match_their_names(&store);
    }
}

#[test]
fn redirects_to_another_host_carry_no_credentials() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    images(t);
    let seen = Arc::new(Mutex::new(vec![]));
    let port = fake_registry(&t.join("ml"), Fault::RedirectElsewhere, seen.clone());
    let auth = authfile(t, &format!("127.0.0.1:{port}"));
    let store = t.join("store");
    ok(hull(&[
        "image",
        "pull",
        "-q",
        "--store",
        store.to_str().unwrap(),
        "--authfile",
        auth.to_str().unwrap(),
        &format!("127.0.0.1:{port}/hull/ml:v1"),
    ]));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "the redirected blob was fetched from the other host");
    assert_eq!(seen[0], None, "credentials went to another host");
}

#[test]
fn bind_backend_takes_single_layer_images_read_only() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let imgs = images(t);
    std::fs::create_dir_all(t.join("bb")).unwrap();
    sh(&format!(
        "tar -C {}/bb -xf {}/busybox-oci.tar",
        t.display(),
        imgs.display()
    ));
    let store = t.join("store");
    let s = store.to_str().unwrap();
    let b = t.join("bind");
    let multi = t.join("multi");
    let _cleanup = Bundles(vec![b.clone(), multi.clone()]);
    let image = format!("oci:{}/bb:latest", t.display());
    ok(hull(&[
        "bundle",
        "create",
        "--store",
        s,
        "--backend",
        "bind",
        "--image",
        &image,
        b.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "cat /data/marker; touch /new 2>&1 || true",
    ]));
    let out = ok(run_bundle(t, &b, "bind"));
    assert!(
        out.contains("hull-image") && out.contains("Read-only file system"),
        "{out}"
    );
    // The overrides, each seen from inside: user by name (the image's
    // /etc/passwd), env, cwd and the command.
    let over = t.join("over");
    let _cleanup2 = Bundles(vec![over.clone()]);
    let args = ["--user", "nobody", "-e", "X=1", "--cwd", "/data"];
    let o = Command::new(HULL)
        .args(["bundle", "create", "--store", s, "--backend", "copy", "--image", &image])
        .args(args)
        .arg(&over)
        .args(["--", "sh", "-c", "id -u; id -g; echo $X; pwd"])
        .output()
        .unwrap();
    ok(o);
    assert_eq!(ok(run_bundle(t, &over, "over")), "65534\n65534\n1\n/data\n");
    let ml = format!("oci:{}/ml:multilayer", t.display());
    let o = hull(&[
        "bundle",
        "create",
        "--store",
        s,
        "--backend",
        "bind",
        "--image",
        &ml,
        multi.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("single-layer"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_dir(&multi).map(|r| r.count()).unwrap_or(0),
        0,
        "a failed create leaves nothing"
    );
    let o = hull(&[
        "bundle",
        "create",
        "--store",
        s,
        "--backend",
        "aufs",
        "--image",
        &ml,
        multi.to_str().unwrap(),
    ]);
    assert!(
        stderr(&o).contains("aufs is not supported by this kernel"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn no_image_bundles_run_on_the_host_root_read_only() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let b = t.join("noimg");
    let _cleanup = Bundles(vec![b.clone()]);
    ok(hull(&[
        "bundle",
        "create",
        "--no-image",
        b.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo $$; touch /etc/hull-x 2>&1; touch /tmp/ok && echo tmp-ok; cat /proc/1/comm",
    ]));
    let out = ok(run_bundle(t, &b, "noimg"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "{out}");
    assert!(out.contains("Read-only file system") && out.contains("tmp-ok"), "{out}");
    assert!(!Path::new("/etc/hull-x").exists());
    ok(hull(&["bundle", "rm", b.to_str().unwrap()]));
    assert_eq!(std::fs::read_dir(&b).unwrap().count(), 0);
    let o = hull(&["bundle", "create", "--no-image", b.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("command"), "{}", stderr(&o));
}

#[test]
fn many_layers_mount_through_short_links() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let dirs: Vec<PathBuf> = (0..48).map(|i| t.join(format!("l{i}"))).collect();
    common::make_rootfs(&dirs[0]);
    for (i, d) in dirs.iter().enumerate().skip(1) {
        std::fs::create_dir_all(d.join("layers")).unwrap();
        std::fs::write(d.join("layers").join(i.to_string()), "x").unwrap();
    }
    let layout = t.join("many");
    let o = Command::new("./hack/images.sh")
        .args(["--layout"])
        .arg(&layout)
        .args(["many", r#""Cmd":["sh","-c","ls /layers | wc -l"]"#])
        .args(&dirs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A long store path: 48 lower dirs of it are far over a page.
    let store = t.join("s".repeat(120)).join("t".repeat(120));
    let b = t.join("b");
    let _cleanup = Bundles(vec![b.clone()]);
    let image = format!("oci:{}:many", layout.display());
    ok(bundle_create(
        store.to_str().unwrap(),
        "overlay",
        &image,
        b.to_str().unwrap(),
    ));
    assert_eq!(ok(run_bundle(t, &b, "many")).trim(), "47");
    assert_eq!(
        std::fs::read_dir(store.join("tmp")).unwrap().count(),
        0,
        "the links are gone after the mount"
    );
}

#[test]
fn a_debian_image_from_the_registry_runs_through_overlay_and_copy() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let o = Command::new("./hack/debian-image.sh").output().unwrap();
    assert!(o.status.success(), "hack/debian-image.sh: {}", stderr(&o));
    let reg = registry(t, Auth::Anonymous);
    let name = reg.name("hull/debian:bookworm");
    let o = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "oci:/var/cache/hull/debian/oci:bookworm",
        ])
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let store = t.join("store");
    let s = store.to_str().unwrap();
    ok(hull(&["image", "pull", "-q", "--store", s, &name]));
    let script = ". /etc/os-release; echo $PRETTY_NAME; dpkg -l | grep -c ^ii; id -un; echo $LANG";
    let mut outputs = vec![];
    let bundles: Vec<PathBuf> = ["ov", "cp"].iter().map(|n| t.join(n)).collect();
    let _cleanup = Bundles(bundles.clone());
    for (b, backend) in bundles.iter().zip(["overlay", "copy"]) {
        ok(hull(&[
            "bundle",
            "create",
            "--store",
            s,
            "--backend",
            backend,
            "--image",
            &name,
            b.to_str().unwrap(),
            "--",
            "/bin/bash",
            "-c",
            script,
        ]));
        outputs.push(ok(run_bundle(t, b, backend)));
    }
    assert!(
        outputs[0].starts_with("Debian GNU/Linux 12 (bookworm)\n"),
        "{}",
        outputs[0]
    );
    assert!(outputs[0].contains("\nroot\nC.UTF-8"), "{}", outputs[0]);
    assert_eq!(outputs[0], outputs[1], "overlay and copy run the same image");
}

#[test]
fn a_pull_killed_midway_leaves_no_entry_and_gc_clears_its_leftovers() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    images(t);
    let port = fake_registry(&t.join("ml"), Fault::Stall, Arc::default());
    let store = t.join("store");
    let mut pull = Proc(
        Command::new(HULL)
            .args(["image", "pull", "-q", "--store"])
            .arg(&store)
            .arg(format!("127.0.0.1:{port}/hull/ml:v1"))
            .spawn()
            .unwrap(),
    );
    let part = || part_bytes(&store) > 0;
    for _ in 0..200 {
        if part() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(part(), "the pull never got halfway");
    pull.0.kill().unwrap();
    pull.0.wait().unwrap();
    let index = std::fs::read_to_string(store.join("index.json")).unwrap();
    assert!(!index.contains("hull/ml"), "{index}");
    assert_blobs_match_their_names(&store);
    assert_eq!(layer_dirs(&store), 0);
    ok(hull(&["image", "gc", "--store", store.to_str().unwrap()]));
    assert_tmp_empty(&store);
}

#[test]
fn bundle_rm_removes_only_what_create_made() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    images(t);
    let store = t.join("store");
    // A path with a space (escaped in mountinfo), removed through a relative path.
    let b = t.join("with space").join("b");
    let _cleanup = Bundles(vec![b.clone()]);
    let image = format!("oci:{}/ml:multilayer", t.display());
    ok(bundle_create(
        store.to_str().unwrap(),
        "overlay",
        &image,
        b.to_str().unwrap(),
    ));
    assert!(std::fs::read_dir(b.join("rootfs/data")).is_ok());
    let o = Command::new(HULL)
        .args(["bundle", "rm", "with space/b"])
        .current_dir(t)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&b).unwrap().count(), 0, "all of it gone");
    assert_eq!(layer_dirs(&store), 3, "the cached layers stay");

    // A directory hull did not make a bundle in is not touched.
    let mine = t.join("mine");
    std::fs::create_dir_all(mine.join("rootfs")).unwrap();
    std::fs::create_dir_all(mine.join("work")).unwrap();
    std::fs::write(mine.join("rootfs/precious"), "x").unwrap();
    let o = hull(&["bundle", "rm", mine.to_str().unwrap()]);
    assert!(
        !o.status.success() && stderr(&o).contains("not a bundle hull made"),
        "{}",
        stderr(&o)
    );
    assert!(mine.join("rootfs/precious").exists() && mine.join("work").exists());
    // Nor is create allowed to start in it.
    let o = hull(&[
        "bundle",
        "create",
        "--store",
        store.to_str().unwrap(),
        "--image",
        &image,
        mine.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(mine.join("rootfs/precious").exists() && mine.join("work").exists());
}

/// An OCI layout `name` holding one image, `v1`, of one uncompressed layer:
/// the directory the shell lines `fill` make in `$R`, and `config` as the
/// image config's `config`.
fn one_layer_image(t: &Path, name: &str, fill: &str, config: &str) -> PathBuf {
    let lay = t.join(name);
    sh(&format!(
        r#"L={lay}; W={w}; R=$W/root; mkdir -p $L/blobs/sha256 $R
        {fill}
        tar --numeric-owner --owner=0 --group=0 -C $R -cf $W/layer.tar .
        put() {{ d=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" $L/blobs/sha256/$d; echo $d; }}
        layer=$(put $W/layer.tar); lsize=$(stat -c %s $W/layer.tar)
        printf '{{"architecture":"amd64","os":"linux","config":%s,"rootfs":{{"type":"layers","diff_ids":["sha256:%s"]}}}}' '{config}' $layer > $W/config.json
        config=$(put $W/config.json); csize=$(stat -c %s $W/config.json)
        printf '{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}}]}}' $config $csize $layer $lsize > $W/manifest.json
        m=$(put $W/manifest.json); msize=$(stat -c %s $W/manifest.json)
        echo '{{"imageLayoutVersion":"1.0.0"}}' > $L/oci-layout
        printf '{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}' $m $msize > $L/index.json
        rm -rf $W"#,
        lay = lay.display(),
        w = t.join(format!("{name}-work")).display(),
    ));
    lay
}

/// An OCI layout holding one image of one uncompressed layer: `mb` MB of
/// random bytes, so that a pull of it takes long enough to be cut.
fn big_image(t: &Path, mb: u32) -> PathBuf {
    one_layer_image(t, "big", &format!("head -c {mb}M /dev/urandom > $R/noise"), "{}")
}

/// A gc whose removal of a layer fails half-way (a file in it immutable,
/// as a crash or a full disk could stop it) leaves no part of the layer
/// where the next use takes it for all of it: the layer is moved out of
/// the store's layers first. Before, the next bundle of the image had the
/// files the failed gc had not reached, and nothing more.
#[test]
fn a_gc_that_fails_half_way_leaves_no_part_of_a_layer() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let fill = "for i in $(seq 1 40); do echo $i > $R/f$i; done";
    let lay = one_layer_image(t, "gc", fill, r#"{"Cmd":["true"]}"#);
    let image = format!("oci:{}:v1", lay.display());
    let (store, bundle) = (t.join("store"), t.join("b"));
    let (s, b) = (store.to_str().unwrap(), bundle.to_str().unwrap());
    ok(bundle_create(s, "overlay", &image, b));
    ok(hull(&["bundle", "rm", b]));
    let layer = std::fs::read_dir(store.join("layers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // Made mutable again wherever it went, also when the test fails.
    struct Immutable(PathBuf);
    impl Drop for Immutable {
        fn drop(&mut self) {
            let _ = Command::new("chattr").arg("-R").arg("-i").arg(&self.0).status();
        }
    }
    let guard = Immutable(store.clone());
    let stuck = layer.join("rootfs/f20");
    assert!(Command::new("chattr").arg("+i").arg(&stuck).status().unwrap().success());
    let o = hull(&["image", "gc", "--store", s]);
    assert!(!o.status.success(), "gc removed an immutable file");
    drop(guard);
    let _cleanup = Bundles(vec![bundle.clone()]);
    ok(bundle_create(s, "overlay", &image, b));
    let files = std::fs::read_dir(bundle.join("rootfs")).unwrap().count();
    assert_eq!(
        files, 40,
        "the bundle after a failed gc has {files} of the image's 40 files"
    );
    // What the failed gc left is removed by the next.
    ok(hull(&["bundle", "rm", b]));
    ok(hull(&["image", "gc", "--store", s]));
    assert_tmp_empty(&store);
}

/// An image's /etc/passwd and /etc/group are its own data, read inside its
/// rootfs: a link to a host file finds nothing of the host's (before, the
/// host file was read, and its users became the container's), and a FIFO
/// is no file to read (before, `bundle create` blocked on it for good; the
/// FIFO is GNU tar's, whose device fields the tar crate could not read).
/// The failed create removes the bundle directory it made.
#[test]
fn an_images_account_files_are_read_inside_the_image() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let _cleanup = Bundles(vec![t.join("linked"), t.join("fifo")]);
    let host = t.join("host-passwd");
    std::fs::write(&host, "hostonly:x:4321:4321::/:/bin/sh\n").unwrap();
    let user = r#"{"User":"hostonly","Cmd":["true"]}"#;
    let linked = one_layer_image(
        t,
        "l",
        &format!("mkdir $R/etc; ln -s {} $R/etc/passwd", host.display()),
        user,
    );
    let fifo = one_layer_image(t, "f", "mkdir $R/etc; mkfifo $R/etc/passwd", user);
    let store = t.join("store");
    for (lay, backend, dir) in [(&linked, "overlay", "linked"), (&fifo, "copy", "fifo")] {
        let image = format!("oci:{}:v1", lay.display());
        let dir = t.join(dir);
        let o = Command::new("timeout")
            .arg("20")
            .arg(HULL)
            .args(["bundle", "create", "--backend", backend, "--image", &image, "--store"])
            .args([&store, &dir])
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(124), "bundle create of {dir:?} blocked");
        assert!(
            !o.status.success() && stderr(&o).contains("user \"hostonly\" is not in the image's /etc/passwd"),
            "{dir:?}: {} {}",
            stderr(&o),
            std::fs::read_to_string(dir.join("config.json")).unwrap_or_default()
        );
        assert!(!dir.exists(), "a failed bundle create left {dir:?}, which it made");
    }
}

/// Nothing is left in the store's tmp/.
fn assert_tmp_empty(store: &Path) {
    let left: Vec<_> = std::fs::read_dir(store.join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in {}: {left:?}", store.join("tmp").display());
}

/// Bytes in the store's part-written blobs.
fn part_bytes(store: &Path) -> u64 {
    std::fs::read_dir(store.join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// docker-registry SIGKILLed while it sends a 96 MB layer: the pull fails
/// and says so, the store keeps no image, no layer and no blob that is not
/// what its name says; once the registry is back the same pull completes.
/// The pull is stopped (SIGSTOP) from the moment its blob has data until
/// the registry is dead, so that the registry dies mid-blob every run
/// rather than only when loopback is slow.
#[test]
fn a_registry_killed_mid_blob_stores_nothing_half_written() {
    let t = tempfile::tempdir().unwrap();
    let t = t.path();
    let lay = big_image(t, 96);
    let mut reg = registry(t, Auth::Anonymous);
    let o = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:v1", lay.display()))
        .arg(format!("docker://{}:v1", reg.name("hull/big")))
        .output()
        .unwrap();
    assert!(o.status.success(), "skopeo: {}", stderr(&o));
    let store = t.join("store");
    let err = t.join("pull.err");
    let pull = |reg: &Registry| {
        Command::new(HULL)
            .args(["image", "pull", "-q", "--store"])
            .arg(&store)
            .arg(format!("{}:v1", reg.name("hull/big")))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap()
    };
    let mut first = Proc(pull(&reg));
    let pid = nix::unistd::Pid::from_raw(first.0.id() as i32);
    let started = std::time::Instant::now();
    let mut ended = None;
    // Past 1 MiB the .part is the big layer's: the small config blob's was
    // renamed into place (and gone) by the time the check below looked, in
    // a CI run.
    while part_bytes(&store) < (1 << 20) && ended.is_none() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
        ended = first.0.try_wait().unwrap();
    }
    if ended.is_none() {
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    }
    assert!(
        ended.is_none() && part_bytes(&store) > 0,
        "the pull never started the layer (after {:?}, the pull {}): {}",
        started.elapsed(),
        ended.map_or("still running".to_string(), |s| format!("ended with {s}")),
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    let mut registry = reg._procs.pop().unwrap();
    registry.0.kill().unwrap();
    registry.0.wait().unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let status = first.0.wait().unwrap();
    let why = std::fs::read_to_string(&err).unwrap();
    assert!(!status.success(), "a pull from a registry killed mid-blob succeeded");
    assert!(why.contains("sha256:"), "the error names no blob: {why}");
    let index = std::fs::read_to_string(store.join("index.json")).unwrap_or_default();
    assert!(!index.contains("hull/big"), "{index}");
    assert_eq!(layer_dirs(&store), 0);
    assert_blobs_match_their_names(&store);

    let (child, port) = serve_registry(&reg.dir, reg.port);
    reg._procs.push(child);
    reg.port = port;
    let status = pull(&reg).wait().unwrap();
    assert!(status.success(), "{}", std::fs::read_to_string(&err).unwrap());
    assert_blobs_match_their_names(&store);
    assert_eq!(layer_dirs(&store), 1);
    assert_eq!(part_bytes(&store), 0);
    let ls = ok(hull(&["image", "ls", "--store", store.to_str().unwrap()]));
    assert!(ls.contains("hull/big"), "{ls}");
}
