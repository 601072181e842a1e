//! CDI devices: specs the test writes (JSON and YAML) for device nodes it
//! makes with mknod, applied by `--device`; and the errors that name the
//! spec file.

mod common;

use std::path::Path;

use common::{ok, stderr, Engine};
use serde_json::json;

fn mknod(path: &Path, major: u64, minor: u64) {
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(major, minor),
    )
    .unwrap();
}

struct Cdi {
    e: Engine,
}

impl Cdi {
    /// Two device nodes (1:3, as /dev/null, and 1:5, as /dev/zero) and two
    /// specs for them: test.example/null as JSON, test.example/zero as YAML.
    fn new() -> Cdi {
        let e = Engine::new();
        let t = e.tmp.path();
        std::fs::create_dir_all(t.join("nodes")).unwrap();
        std::fs::create_dir_all(t.join("cdi")).unwrap();
        mknod(&t.join("nodes/null0"), 1, 3);
        mknod(&t.join("nodes/zero0"), 1, 5);
        let null = json!({"cdiVersion": "0.6.0", "kind": "test.example/null",
            "containerEdits": {"env": ["CDI_VENDOR=test.example"]},
            "devices": [{"name": "n0", "containerEdits": {
                "env": ["CDI_DEVICE=n0"],
                "deviceNodes": [{"path": "/dev/cdi-null", "hostPath": t.join("nodes/null0"), "permissions": "rw"}]}}]});
        std::fs::write(t.join("cdi/null.json"), null.to_string()).unwrap();
        let zero = format!(
            "cdiVersion: \"1.0.0\"\nkind: test.example/zero\ndevices:\n  - name: z0\n    containerEdits:\n      env: [\"CDI_DEVICE=z0\"]\n      deviceNodes:\n        - path: /dev/cdi-zero\n          hostPath: {}\n",
            t.join("nodes/zero0").display()
        );
        std::fs::write(t.join("cdi/zero.yaml"), zero).unwrap();
        Cdi { e }
    }

    fn launch(&self, args: &[&str]) -> std::process::Output {
        let dir = self.e.tmp.path().join("cdi");
        let mut all = vec!["--cdi-spec-dir", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        self.e.launch(&all)
    }
}

#[test]
fn cdi_devices_and_their_env_are_inside() {
    let c = Cdi::new();
    let script = "echo $CDI_VENDOR $CDI_DEVICE; stat -c '%t:%T' /dev/cdi-null /dev/cdi-zero; echo x > /dev/cdi-null && head -c 3 /dev/cdi-zero | od -An -tx1";
    let out = ok(c.launch(&[
        "--device",
        "test.example/null=n0",
        "--device",
        "test.example/zero=z0",
        "--",
        "sh",
        "-c",
        script,
    ]));
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, ["test.example z0", "1:3", "1:5", "00 00 00"], "{out}");
}

#[test]
fn cdi_errors_name_the_spec_file() {
    let c = Cdi::new();
    let t = c.e.tmp.path();
    let o = c.launch(&["--device", "test.example/null=nope", "--", "true"]);
    assert!(
        stderr(&o).contains("null.json has no device \"nope\""),
        "{}",
        stderr(&o)
    );
    let o = c.launch(&["--device", "other.example/x=1", "--", "true"]);
    assert!(
        stderr(&o).contains("no CDI spec of kind \"other.example/x\""),
        "{}",
        stderr(&o)
    );
    // A second spec defining the same device: a conflict naming both files.
    std::fs::copy(t.join("cdi/null.json"), t.join("cdi/null-again.json")).unwrap();
    let o = c.launch(&["--device", "test.example/null=n0", "--", "true"]);
    assert!(
        stderr(&o).contains("null-again.json and") && stderr(&o).contains("null.json all define it"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(t.join("cdi/null-again.json")).unwrap();
    // A device node that is not on this host.
    std::fs::remove_file(t.join("nodes/zero0")).unwrap();
    let o = c.launch(&["--device", "test.example/zero=z0", "--", "true"]);
    assert!(
        stderr(&o).contains("zero.yaml") && stderr(&o).contains("is missing on this host"),
        "{}",
        stderr(&o)
    );
    assert!(
        std::fs::read_dir(c.e.dir()).map_or(true, |mut d| d.next().is_none()),
        "a failed launch left something"
    );
}
