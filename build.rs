// Records the git commit for `hull --version`, as runc prints its own.
use std::process::Command;

/// x86_64 syscall names to numbers, from the kernel's uapi header, for the
/// seccomp compiler: linux-libc-dev ships it wherever a C toolchain is.
fn syscall_table() {
    let header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
    let text = std::fs::read_to_string(header).unwrap_or_else(|e| panic!("{header}: {e} (install linux-libc-dev)"));
    let mut rows: Vec<(String, i64)> = text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("#define __NR_")?;
            let (name, num) = rest.split_once(char::is_whitespace)?;
            Some((name.to_string(), num.trim().parse().ok()?))
        })
        .collect();
    rows.sort();
    let body: String = rows.iter().map(|(n, v)| format!("    (\"{n}\", {v}),\n")).collect();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("syscalls_x86_64.rs");
    std::fs::write(out, format!("pub const SYSCALLS: &[(&str, i64)] = &[\n{body}];\n")).expect("write syscall table");
    println!("cargo:rerun-if-changed={header}");
}

fn main() {
    syscall_table();
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HULL_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
