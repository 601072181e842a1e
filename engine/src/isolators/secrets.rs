//! volume/secret (`--secret FILE:CTR`): the bytes go on a tmpfs of the
//! container's own, mounted read-only at CTR, and are never written to a
//! disk; environment_secret (`--env-secret NAME=FILE`): the file's bytes as
//! a variable of the container's environment.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use serde_json::json;

use super::array;
use crate::isolator::{Isolator, Spec};
use crate::record::{Record, Sandbox};
use crate::request::Request;

pub struct Secrets;

impl Isolator for Secrets {
    fn prepare(&self, req: &Request, sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        let dir = sb.secrets();
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let total: u64 = req
            .secrets
            .iter()
            .map(|s| std::fs::metadata(&s.file).map(|m| m.len()).unwrap_or(0) + 4096)
            .sum();
        let data = format!("mode=0700,size={}", total + 65536);
        mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(data.as_str()),
        )
        .with_context(|| format!("mount a tmpfs for the secrets on {}", dir.display()))?;
        for (i, s) in req.secrets.iter().enumerate() {
            let bytes = std::fs::read(&s.file).with_context(|| format!("--secret: read {}", s.file.display()))?;
            let copy = dir.join(i.to_string());
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o444)
                .open(&copy)
                .and_then(|mut f| f.write_all(&bytes))
                .with_context(|| format!("--secret: write {}", copy.display()))?;
            array(spec, &["mounts"])?.push(json!({
                "destination": s.target, "type": "bind", "source": copy,
                "options": ["bind", "ro", "nosuid", "nodev", "noexec"]
            }));
        }
        Ok(())
    }

    fn cleanup(&self, _rec: &Record, sb: &Sandbox) -> Result<()> {
        crate::record::unmount_and_remove(&sb.secrets())
    }
}

pub struct EnvironmentSecret;

impl Isolator for EnvironmentSecret {
    fn prepare(&self, req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        for (name, file) in &req.env_secrets {
            let bytes = std::fs::read(file).with_context(|| format!("--env-secret {name}: read {}", file.display()))?;
            let text = String::from_utf8(bytes)
                .with_context(|| format!("--env-secret {name}: {} is not UTF-8 text", file.display()))?;
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let env = array(spec, &["process", "env"])?;
            env.retain(|e| !e.as_str().is_some_and(|e| e.starts_with(&format!("{name}="))));
            env.push(json!(format!("{name}={value}")));
        }
        Ok(())
    }
}
