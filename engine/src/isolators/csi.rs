//! volume/csi (`-v csi:SOCKET:VOLUME_ID:CTR[:ro]`): each volume is staged
//! (when the plugin stages) and published by its node plugin into the
//! container's directory before create, bound at CTR, and unpublished and
//! unstaged at cleanup, also after a crash. What was done is kept in
//! `csi.json`, so cleanup undoes exactly that.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::volumes::bind;
use crate::csi::Plugin;
use crate::isolator::{Isolator, Spec};
use crate::record::{Record, Sandbox};
use crate::request::{Request, VolumeSource};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Published {
    socket: PathBuf,
    volume_id: String,
    staging: Option<PathBuf>,
    target: PathBuf,
    published: bool,
}

fn state_file(sb: &Sandbox) -> PathBuf {
    sb.dir.join("csi.json")
}

fn load(sb: &Sandbox) -> Vec<Published> {
    std::fs::read(state_file(sb))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default()
}

fn save(sb: &Sandbox, done: &[Published]) -> Result<()> {
    hull_sys::file::write_atomic(&state_file(sb), &serde_json::to_vec_pretty(done)?, 0o600)
}

pub struct Csi;

impl Isolator for Csi {
    fn prepare(&self, req: &Request, sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        let mut done = load(sb);
        for (i, v) in req.volumes.iter().enumerate() {
            let VolumeSource::Csi { socket, volume_id } = &v.source else {
                continue;
            };
            let what = format!("-v csi:{}:{volume_id}:{}", socket.display(), v.target);
            let dir = sb.dir.join("csi").join(i.to_string());
            // The volume's data, under a container directory that may let
            // its user through (filesystem.rs): no one else's to read.
            hull_sys::file::private_dir(&sb.dir.join("csi")).with_context(|| what.clone())?;
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            let readonly = v.options.iter().any(|o| o == "ro");
            let plugin = Plugin::connect(socket).with_context(|| what.clone())?;
            let staging = if plugin.stages().with_context(|| what.clone())? {
                let s = dir.join("staging");
                std::fs::create_dir_all(&s)?;
                plugin.stage(volume_id, &s, readonly).with_context(|| what.clone())?;
                Some(s)
            } else {
                None
            };
            let target = dir.join("target");
            done.push(Published {
                socket: socket.clone(),
                volume_id: volume_id.clone(),
                staging: staging.clone(),
                target: target.clone(),
                published: false,
            });
            save(sb, &done)?;
            plugin
                .publish(volume_id, staging.as_deref(), &target, readonly)
                .with_context(|| what.clone())?;
            if let Some(last) = done.last_mut() {
                last.published = true;
            }
            save(sb, &done)?;
            bind(spec, &target, v)?;
        }
        Ok(())
    }

    fn cleanup(&self, _rec: &Record, sb: &Sandbox) -> Result<()> {
        let mut left = load(sb);
        let mut first = None;
        while let Some(p) = left.pop() {
            if let Err(e) = undo(&p) {
                first.get_or_insert(e);
                left.push(p);
                break;
            }
            save(sb, &left)?;
        }
        if let Some(e) = first {
            // Kept for the next try (destroy, recover).
            return Err(e);
        }
        let _ = std::fs::remove_file(state_file(sb));
        crate::record::remove_unmounted(&sb.dir.join("csi"))
    }
}

fn undo(p: &Published) -> Result<()> {
    let what = format!("CSI volume {} of {}", p.volume_id, p.socket.display());
    let plugin = Plugin::connect(&p.socket).with_context(|| what.clone())?;
    if p.published {
        plugin
            .unpublish(&p.volume_id, &p.target)
            .with_context(|| what.clone())?;
    }
    if let Some(s) = &p.staging {
        plugin.unstage(&p.volume_id, s).with_context(|| what.clone())?;
    }
    Ok(())
}
