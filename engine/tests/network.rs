//! CNI networks and pods with Debian's plugins (bridge, host-local,
//! portmap): only on the test's own bridge and subnet, with no default
//! route in the containers and no masquerade; everything the test made
//! (containers, bridge, IP reservations) is removed when it ends.

mod common;

use std::io::{Read, Write};
use std::process::Command;

use common::{kill9, ok, stderr, stdout, Engine};
use serde_json::{json, Value};

/// A bridge network of the test's own, on 10.213.N.0/24.
struct Net {
    e: Engine,
    bridge: String,
    subnet: u8,
}

impl Net {
    fn new(n: u8) -> Net {
        let e = Engine::new();
        let bridge = format!("hull{}-{n}", std::process::id() % 10000);
        let subnet = 100 + n;
        let (conf, ipam) = (e.tmp.path().join("cni"), e.tmp.path().join("ipam"));
        common::bridge_network(&conf, "testnet", &bridge, &ipam, &format!("10.213.{subnet}.0/24"));
        Net { e, bridge, subnet }
    }

    fn launch(&self, args: &[&str]) -> std::process::Output {
        let conf = self.e.tmp.path().join("cni");
        let mut all = vec![
            "--cni-config-dir",
            conf.to_str().unwrap(),
            "--capabilities",
            "NET_RAW,NET_BIND_SERVICE",
        ];
        all.extend_from_slice(args);
        self.e.launch(&all)
    }

    fn ip(&self, id: &str) -> String {
        let r = self.e.inspect(id);
        let ip = r["networks"][0]["ips"][0]
            .as_str()
            .unwrap_or_else(|| panic!("no address: {r}"));
        ip.split('/').next().unwrap().to_string()
    }

    fn gateway(&self) -> String {
        format!("10.213.{}.1", self.subnet)
    }

    /// Reservations host-local still holds.
    fn reserved(&self) -> Vec<String> {
        common::reserved(&self.e.tmp.path().join("ipam"), "testnet")
    }

    /// No veth on the bridge, no IP reserved, no iptables rule naming `ids`.
    fn nothing_left(&self, ids: &[&str]) {
        common::assert_no_veths(&self.bridge);
        assert_eq!(self.reserved(), Vec::<String>::new(), "IP reservations left");
        let nat = Command::new("iptables").args(["-t", "nat", "-S"]).output().unwrap();
        for id in ids {
            assert!(
                !stdout(&nat).contains(id),
                "iptables rules of {id} left:\n{}",
                stdout(&nat)
            );
            assert!(!self.e.dir().join(id).exists(), "{id}'s directory is left");
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let tmp = self.e.tmp.path().to_str().unwrap();
        let left: Vec<&str> = mounts.lines().filter(|l| l.contains(tmp)).collect();
        assert!(left.is_empty(), "mounts left: {left:#?}");
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Their DEL needs the bridge: the containers go first.
        self.e.destroy_all();
        let _ = Command::new("ip").args(["link", "del", &self.bridge]).output();
    }
}

fn http_get(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), std::time::Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("{addr}: {e}"));
    s.set_read_timeout(Some(std::time::Duration::from_secs(3))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

const HTTPD: &str = "echo served-by-$(hostname) > /tmp/index.html; exec httpd -f -p 80 -h /tmp";

#[test]
fn two_containers_on_a_bridge_reach_each_other_and_a_published_port() {
    let n = Net::new(1);
    ok(n.launch(&[
        "--network",
        "testnet",
        "-d",
        "--name",
        "web",
        "--hostname",
        "web",
        "-p",
        "18181:80",
        "--",
        "sh",
        "-c",
        HTTPD,
    ]));
    let web = n.ip("web");
    assert!(web.starts_with(&format!("10.213.{}.", n.subnet)), "{web}");
    let script = format!("ping -c 3 -W 1 {web} >/dev/null && echo pinged; wget -qO- http://{web}/index.html; ip route");
    let out = ok(n.launch(&["--network", "testnet", "--name", "client", "--", "sh", "-c", &script]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["pinged", "served-by-web"], "{out}");
    assert!(!out.contains("default"), "a container has a route out: {out}");
    // The host's side of the test: the bridge's address, the published port.
    let got = http_get(&format!("{}:18181", n.gateway()));
    assert!(got.contains("served-by-web"), "{got}");
    let usage: Value = serde_json::from_str(&ok(n.e.out("usage", &["web"]))).unwrap();
    assert!(usage["net_rx_bytes"].as_u64().unwrap() > 0, "{usage}");
    ok(n.e.out("destroy", &["web"]));
    n.nothing_left(&["web", "client"]);
}

#[test]
fn recover_after_kill_9_releases_the_address_and_the_namespace() {
    let n = Net::new(2);
    ok(n.launch(&[
        "--network",
        "testnet",
        "-d",
        "--name",
        "lost",
        "-p",
        "18182:80",
        "--",
        "sleep",
        "60",
    ]));
    let r = n.e.inspect("lost");
    assert_eq!(n.reserved().len(), 1);
    for which in ["supervisor", "pid"] {
        kill9(&r, which);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let said = ok(n.e.out("recover", &[]));
    assert!(said.contains("lost: cleaned up"), "{said}");
    ok(n.e.out("destroy", &["lost"]));
    n.nothing_left(&["lost"]);
}

#[test]
fn containers_of_a_pod_share_localhost_and_the_pod_goes_with_the_last() {
    let n = Net::new(3);
    ok(n.launch(&[
        "--network",
        "testnet",
        "--pod",
        "p1",
        "-d",
        "--name",
        "p1-web",
        "--",
        "sh",
        "-c",
        HTTPD,
    ]));
    let script = "wget -qO- http://127.0.0.1/index.html; hostname; echo shared > /mnt/pod/x";
    let out = ok(n.launch(&["--pod", "p1", "--name", "p1-side", "--", "sh", "-c", script]));
    assert_eq!(out, "served-by-p1\np1\n");
    let pod = n.e.dir().join(".pods/p1");
    assert_eq!(std::fs::read_to_string(pod.join("shared/x")).unwrap(), "shared\n");
    assert_eq!(n.e.inspect("p1-web")["pod"], "p1");
    let o = n.launch(&["--network", "other", "--pod", "p1", "--", "true"]);
    assert!(!o.status.success() && stderr(&o).contains("--pod p1"), "{}", stderr(&o));
    ok(n.e.out("destroy", &["p1-web"]));
    assert!(!pod.exists(), "the pod outlived its last container");
    n.nothing_left(&["p1-web", "p1-side"]);
}

/// Launches that make, join and tear down one pod at once: each finds a
/// whole pod (an address on its network), none joins a pod its last
/// member is tearing down, and the last one leaves nothing.
#[test]
fn many_launches_into_one_pod_at_once_each_find_it_whole() {
    let n = Net::new(5);
    let one = |name: String| {
        let script = "ip -4 -o addr show eth0";
        n.launch(&[
            "--network",
            "testnet",
            "--pod",
            "busy",
            "--name",
            &name,
            "--",
            "sh",
            "-c",
            script,
        ])
    };
    // The image is pulled once, before the race.
    ok(one("busy-first".into()));
    let outs: Vec<(String, std::process::Output)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..6)
            .map(|t| {
                s.spawn(move || {
                    (0..4)
                        .map(|r| format!("busy-{t}-{r}"))
                        .map(|name| (name.clone(), one(name)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    for (name, o) in &outs {
        assert!(
            o.status.success() && stdout(o).contains(&format!("inet 10.213.{}.", n.subnet)),
            "{name}: {}{}",
            stdout(o),
            stderr(o)
        );
    }
    assert!(
        !n.e.dir().join(".pods/busy").exists(),
        "the pod outlived its last container"
    );
    let names: Vec<&str> = outs.iter().map(|(name, _)| name.as_str()).collect();
    n.nothing_left(&names);
}

#[test]
fn network_none_has_loopback_only_and_errors_name_the_network() {
    let n = Net::new(4);
    let out = ok(n.launch(&[
        "--network",
        "none",
        "--",
        "sh",
        "-c",
        "ip -o link | cut -d: -f2; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo lo-up",
    ]));
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo", "lo-up"]);
    let o = n.launch(&["--network", "nosuch", "--", "true"]);
    assert!(
        !o.status.success() && stderr(&o).contains("\"nosuch\""),
        "{}",
        stderr(&o)
    );
    // A plugin's own error reaches the user with its code and message.
    let conf = n.e.tmp.path().join("cni");
    let bad = json!({"cniVersion": "1.0.0", "name": "bad", "plugins": [
        {"type": "bridge", "bridge": n.bridge, "ipam": {"type": "host-local", "ranges": [[{"subnet": "not-a-subnet"}]]}}]});
    std::fs::write(conf.join("20-bad.conflist"), bad.to_string()).unwrap();
    let o = n.launch(&["--network", "bad", "--", "true"]);
    assert!(!o.status.success(), "a broken network was accepted");
    assert!(
        stderr(&o).contains("network \"bad\": plugins[0] (bridge) ADD"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("not-a-subnet"), "{}", stderr(&o));
    // A pod that cannot be made leaves no pod behind.
    let o = n.launch(&["--network", "bad", "--pod", "badpod", "--", "true"]);
    assert!(
        !o.status.success() && stderr(&o).contains("--pod badpod"),
        "{}",
        stderr(&o)
    );
    assert!(
        !n.e.dir().join(".pods/badpod").exists(),
        "a pod that failed to be made is left"
    );
    n.nothing_left(&[]);
    // The bridge plugin's ADD succeeds and the next one fails: the veth and
    // the address the first made go too.
    let half = json!({"cniVersion": "1.0.0", "name": "half", "plugins": [
        {"type": "bridge", "bridge": n.bridge, "ipam": {"type": "host-local",
         "dataDir": n.e.tmp.path().join("ipam"), "ranges": [[{"subnet": format!("10.213.{}.0/24", n.subnet)}]]}},
        {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.no_such_knob": "1"}}]});
    std::fs::write(conf.join("30-half.conflist"), half.to_string()).unwrap();
    let o = n.launch(&["--network", "half", "--", "true"]);
    assert!(
        stderr(&o).contains("network \"half\": plugins[1] (tuning) ADD"),
        "{}",
        stderr(&o)
    );
    let reserved = std::fs::read_dir(n.e.tmp.path().join("ipam/half")).map(|rd| {
        rd.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("10."))
            .count()
    });
    assert_eq!(
        reserved.unwrap_or(0),
        0,
        "the bridge plugin's address is still reserved"
    );
    n.nothing_left(&[]);
}
