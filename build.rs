// Records the git commit for `hull --version`, as runc prints its own.
use std::process::Command;

/// Syscall names to numbers for the three x86 ABIs, from the kernel's uapi
/// headers, for the seccomp compiler: linux-libc-dev ships them wherever a C
/// toolchain is. x32 numbers carry __X32_SYSCALL_BIT, as the kernel sees them.
fn syscall_tables() {
    let mut out = String::new();
    for (abi, file) in [
        ("X86_64", "unistd_64.h"),
        ("I386", "unistd_32.h"),
        ("X32", "unistd_x32.h"),
    ] {
        let header = format!("/usr/include/x86_64-linux-gnu/asm/{file}");
        let text =
            std::fs::read_to_string(&header).unwrap_or_else(|e| panic!("{header}: {e} (install linux-libc-dev)"));
        let mut rows: Vec<(String, i64)> = text
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("#define __NR_")?;
                let (name, num) = rest.split_once(char::is_whitespace)?;
                let num = num.trim();
                let value = match num.strip_prefix("(__X32_SYSCALL_BIT + ") {
                    Some(n) => 0x4000_0000 + n.trim_end_matches(')').trim().parse::<i64>().ok()?,
                    None => num.parse().ok()?,
                };
                Some((name.to_string(), value))
            })
            .collect();
        rows.sort();
        let body: String = rows.iter().map(|(n, v)| format!("    (\"{n}\", {v}),\n")).collect();
        out.push_str(&format!("pub const {abi}: &[(&str, i64)] = &[\n{body}];\n"));
        println!("cargo:rerun-if-changed={header}");
    }
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("syscalls.rs");
    std::fs::write(path, out).expect("write syscall tables");
}

/// The functions a container's lifecycle runs, laid out together in the
/// hull binary (hack/hull.order, made by hack/order.sh): the kernel maps code
/// 64 KiB around each page fault, so scattered functions make most of the
/// binary resident for a run that uses a few hundred of them.
fn symbol_order() {
    let order = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/hull.order");
    if order.exists() {
        println!(
            "cargo:rustc-link-arg-bin=hull=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // A stale list names functions that are gone: that costs only order.
        println!("cargo:rustc-link-arg-bin=hull=-Wl,--no-warn-symbol-ordering");
    }
    println!("cargo:rerun-if-changed=hack/hull.order");
}

fn main() {
    syscall_tables();
    symbol_order();
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
