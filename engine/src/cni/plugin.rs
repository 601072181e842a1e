//! Running one plugin: its binary from the plugin dir, the CNI_* variables,
//! its config on stdin, a result or an error on stdout.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::{Dirs, Target};

pub fn kind(plugin: &Value) -> &str {
    plugin["type"].as_str().unwrap_or("?")
}

pub fn run(dirs: &Dirs, command: &str, conf: &Value, t: &Target) -> Result<Value> {
    let bin = dirs.plugins.join(kind(conf));
    if !bin.is_file() {
        bail!(
            "plugin {:?} is not in --cni-plugin-dir {}",
            kind(conf),
            dirs.plugins.display()
        );
    }
    let mut child = Command::new(&bin)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", t.container_id)
        .env("CNI_NETNS", t.netns)
        .env("CNI_IFNAME", t.ifname)
        .env("CNI_PATH", &dirs.plugins)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {}", bin.display()))?;
    let input = serde_json::to_vec(conf)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&input)
            .with_context(|| format!("{}: write its config", bin.display()))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("wait for {}", bin.display()))?;
    if !out.status.success() {
        bail!("{}", error_text(&out.stdout, &out.stderr, out.status));
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{}: its result is not JSON: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// VERSION: the protocol versions the plugin speaks.
pub fn versions(dirs: &Dirs, plugin: &Value) -> Result<Vec<String>> {
    let t = Target {
        container_id: "",
        netns: std::path::Path::new(""),
        ifname: "",
        runtime_config: &Value::Null,
    };
    let v = run(
        dirs,
        "VERSION",
        &serde_json::json!({"cniVersion": "1.0.0", "type": kind(plugin)}),
        &t,
    )?;
    Ok(v["supportedVersions"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default())
}

/// The plugin's error object as the spec defines it ({code, msg, details}),
/// or what it printed.
fn error_text(stdout: &[u8], stderr: &[u8], status: std::process::ExitStatus) -> String {
    if let Ok(e) = serde_json::from_slice::<Value>(stdout) {
        if let Some(msg) = e["msg"].as_str() {
            let details = e["details"]
                .as_str()
                .filter(|d| !d.is_empty())
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return format!("error {}: {msg}{details}", e["code"]);
        }
    }
    let said = String::from_utf8_lossy(if stderr.is_empty() { stdout } else { stderr });
    format!("{status}: {}", said.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn a_plugins_error_object_is_its_code_and_msg() {
        let e = error_text(
            br#"{"cniVersion":"1.0.0","code":11,"msg":"failed to allocate","details":"range full"}"#,
            b"",
            std::process::ExitStatus::from_raw(256),
        );
        assert_eq!(e, "error 11: failed to allocate (range full)");
        let e = error_text(b"", b"boom\n", std::process::ExitStatus::from_raw(256));
        assert!(e.ends_with(": boom"), "{e}");
    }
}
