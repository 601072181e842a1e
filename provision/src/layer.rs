//! Applying one image layer (tar, tar+gzip, tar+zstd) onto a directory, as
//! the image spec says: apply, don't just extract. Whiteouts (`.wh.NAME`)
//! delete what lower layers put there, an opaque marker (`.wh..wh..opq`) hides
//! everything lower layers put in its directory whatever the tar order, and no
//! entry may land outside the directory: `..`, absolute paths, writes through
//! symlinks and hardlinks to outside are refused with the entry's name.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE: &str = ".wh..wh..opq";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// From an OCI or Docker layer media type.
    pub fn from_media_type(mt: &str) -> Option<Compression> {
        if mt.ends_with("+gzip") || mt.ends_with(".tar.gzip") || mt.ends_with("diff.tar.gzip") {
            Some(Compression::Gzip)
        } else if mt.ends_with("+zstd") {
            Some(Compression::Zstd)
        } else if mt.ends_with(".tar") || mt.ends_with("layer.v1.tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// From the first bytes of the blob (docker-archive layers carry no media type).
    pub fn sniff(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// What whiteouts become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// Applied: what they hide is deleted from the directory (the copy backend).
    Apply,
    /// Kept for overlayfs: a 0/0 character device per deleted name, and
    /// trusted.overlay.opaque=y on opaque directories (one directory per layer).
    Overlay,
}

/// What one application did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub entries: usize,
    pub whiteouts: usize,
    pub opaque_dirs: usize,
    /// sha256 of the uncompressed tar stream: the layer's DiffID.
    pub diff_id: String,
}

fn mknod_whiteout(path: &Path) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: a valid C path; a 0/0 character device is overlayfs's whiteout.
    if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, libc::makedev(0, 0)) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("whiteout {}", path.display()));
    }
    Ok(())
}

fn set_opaque(dir: &Path) -> Result<()> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())?;
    // SAFETY: valid C strings and a one-byte value.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("mark {} opaque", dir.display()));
    }
    Ok(())
}

/// A relative path made of normal components only; anything else is refused.
fn clean(entry: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in entry.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => bail!("entry {:?}: \"..\" would leave the layer", entry.display().to_string()),
            Component::RootDir | Component::Prefix(_) => {
                bail!(
                    "entry {:?}: absolute paths are not allowed in a layer",
                    entry.display().to_string()
                )
            }
        }
    }
    Ok(out)
}

/// The path `rel` names under `dest`, checked to be inside it once symlinks
/// are followed (a lower layer's symlink must not carry us out). When `rel`
/// does not exist yet, its deepest existing ancestor is checked, and a
/// dangling symlink on the way is refused: creating through it could make
/// directories outside.
fn inside(dest: &Path, rel: &Path, entry: &Path) -> Result<Option<PathBuf>> {
    let name = || entry.display().to_string();
    let mut probe = rel.to_path_buf();
    let mut exact = true;
    loop {
        let p = dest.join(&probe);
        if std::fs::symlink_metadata(&p).is_ok() {
            let real = match std::fs::canonicalize(&p) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    bail!(
                        "entry {:?}: goes through a dangling symlink at {}",
                        name(),
                        probe.display()
                    )
                }
                Err(e) => return Err(e).with_context(|| format!("entry {:?}", name())),
            };
            if !real.starts_with(dest) {
                bail!(
                    "entry {:?}: resolves to {} outside the layer's directory",
                    name(),
                    real.display()
                );
            }
            return Ok(exact.then_some(real));
        }
        exact = false;
        if !probe.pop() {
            return Ok(None);
        }
    }
}

/// `inside` for parent directories, remembered: most entries share their
/// parent with the one before. What is remembered stays true until a
/// directory or a symlink is removed (or a directory emptied); then all of
/// it is forgotten, so no path is ever trusted through something replaced.
struct Parents {
    dest: PathBuf,
    known: HashMap<PathBuf, PathBuf>,
}

impl Parents {
    fn resolve(&mut self, rel: &Path, entry: &Path) -> Result<Option<PathBuf>> {
        if let Some(real) = self.known.get(rel) {
            return Ok(Some(real.clone()));
        }
        let found = inside(&self.dest, rel, entry)?;
        if let Some(real) = &found {
            self.known.insert(rel.to_path_buf(), real.clone());
        }
        Ok(found)
    }

    /// Removes `p` (anything), forgetting what it may have been part of.
    fn remove(&mut self, p: &Path) -> std::io::Result<()> {
        if std::fs::symlink_metadata(p).is_ok_and(|m| !m.is_file()) {
            self.known.clear();
        }
        remove_any(p)
    }
}

fn remove_any(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Applies a layer stream onto `dest` (which holds the layers below it).
pub fn apply(blob: impl Read + Send, compression: Compression, dest: &Path) -> Result<Applied> {
    apply_with(blob, compression, dest, Whiteouts::Apply)
}

/// Applies a layer stream onto `dest`, whiteouts handled as `mode` says.
/// Decompressing and hashing run on a thread of their own, ahead of the
/// writing: the writing is mostly the kernel's time, so the two overlap.
pub fn apply_with(blob: impl Read + Send, compression: Compression, dest: &Path, mode: Whiteouts) -> Result<Applied> {
    let dest = std::fs::canonicalize(dest).with_context(|| format!("{}: cannot open", dest.display()))?;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let producer = s.spawn(move || decompress(blob, compression, tx));
        let meter = std::rc::Rc::new(Meter::default());
        let mut archive = tar::Archive::new(Budgeted {
            inner: Chunks {
                rx,
                chunk: vec![],
                pos: 0,
            },
            meter: std::rc::Rc::clone(&meter),
        });
        archive.set_preserve_permissions(true);
        archive.set_preserve_mtime(true);
        archive.set_preserve_ownerships(true);
        archive.set_unpack_xattrs(true);
        archive.set_overwrite(true);
        let applied = unpack_entries(&mut archive, &meter, &dest, mode).and_then(|done| {
            // The DiffID covers the whole stream, end-of-archive blocks included.
            std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).context("read the layer's end")?;
            Ok(done)
        });
        // The receiver is gone by now, so a producer still sending stops.
        let diff_id = producer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the decompressing thread panicked")));
        let mut done = applied?;
        done.diff_id = diff_id?;
        Ok(done)
    })
}

const CHUNK: usize = 256 << 10;

/// The producer: decompressed chunks (or the read error) down `tx`; the
/// sha256 of all of it (the DiffID) at the end.
fn decompress(
    blob: impl Read,
    compression: Compression,
    tx: std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
) -> Result<String> {
    let mut reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(blob),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(blob)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(blob).context("zstd stream")?),
    };
    let mut hash = Sha256::new();
    loop {
        let mut buf = vec![0u8; CHUNK];
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                hash.update(&buf);
                if tx.send(Ok(buf)).is_err() {
                    bail!("the layer's reader stopped");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let msg = e.to_string();
                let _ = tx.send(Err(e));
                bail!("{msg}");
            }
        }
    }
    Ok(format!("sha256:{:x}", hash.finalize()))
}

/// Reads what the producer sends.
struct Chunks {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.chunk = next?;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The most one step to the next entry may read: its header and the
/// extension headers before it (GNU long names and links, PAX records),
/// which the tar crate reads whole into memory. Go's archive/tar, which
/// containerd and Docker unpack with, caps each at 1 MiB.
const HEADERS_MAX: u64 = 4 << 20;

/// How much of the layer's stream has been read, and how much more may be
/// while the tar crate looks for the next entry (see HEADERS_MAX).
#[derive(Default)]
struct Meter {
    read: std::cell::Cell<u64>,
    left: std::cell::Cell<Option<u64>>,
}

/// The layer's stream, read under a budget while the tar crate looks for the
/// next entry: an image's extension header declaring gigabytes would
/// otherwise be read into memory whole.
struct Budgeted<R> {
    inner: R,
    meter: std::rc::Rc<Meter>,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = match self.meter.left.get() {
            None => buf.len(),
            Some(0) => {
                let msg = format!("the headers before an entry are past {} MiB", HEADERS_MAX >> 20);
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, msg));
            }
            Some(left) => buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
        };
        let n = self.inner.read(&mut buf[..want])?;
        self.meter.read.set(self.meter.read.get() + n as u64);
        if let Some(left) = self.meter.left.get() {
            self.meter.left.set(Some(left - n as u64));
        }
        Ok(n)
    }
}

/// How many bytes of the stream the entry's data takes, padded to tar's
/// 512-byte blocks: the step to the next entry may read that much past its
/// budget, as the tar crate reads what the entry left unread. A sparse
/// entry's data in the stream is its header's size (or its PAX record's),
/// not the file's.
fn data_in_stream<R: Read>(entry: &mut tar::Entry<R>) -> Option<u64> {
    let size = match entry.header().entry_type().is_gnu_sparse() {
        false => entry.size(),
        true => match pax_size(entry) {
            Some(size) => size,
            None => entry.header().entry_size().ok()?,
        },
    };
    size.checked_next_multiple_of(512)
}

fn pax_size<R: Read>(entry: &mut tar::Entry<R>) -> Option<u64> {
    let records = entry.pax_extensions().ok()??;
    let size = records.flatten().find(|r| r.key() == Ok("size"))?;
    size.value().ok()?.parse().ok()
}

/// Every entry of the layer, in order.
fn unpack_entries<R: Read>(
    archive: &mut tar::Archive<Budgeted<R>>,
    meter: &Meter,
    dest: &Path,
    mode: Whiteouts,
) -> Result<Applied> {
    let dest = dest.to_path_buf();
    let mut done = Applied::default();
    // What this layer wrote: an opaque marker or a whiteout only hides what lower layers put there.
    let mut ours: HashSet<PathBuf> = HashSet::new();
    let mut parents = Parents {
        dest: dest.clone(),
        known: HashMap::new(),
    };
    let mut entries = archive.entries().context("read the layer")?;
    let mut end: u64 = 0;
    loop {
        // What the last entry left unread (a whiteout's data) is no header.
        let unread = end.saturating_sub(meter.read.get());
        meter.left.set(Some(HEADERS_MAX.saturating_add(unread)));
        let next = entries.next();
        meter.left.set(None);
        let mut entry = match next {
            None => break,
            Some(Ok(e)) => e,
            // A layer cut short of its end-of-archive blocks (umoci 0.4.7 writes those) ends here.
            Some(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Some(Err(e)) => return Err(e).context("read the layer"),
        };
        // The crate has read the entry's headers and none of its data.
        let data =
            data_in_stream(&mut entry).context("read the layer: an entry's size is past what a stream can hold")?;
        end = meter.read.get().saturating_add(data);
        unpack_one(&mut entry, &dest, mode, &mut ours, &mut parents, &mut done)?;
    }
    Ok(done)
}

/// One entry of the layer onto `dest`.
fn unpack_one<R: Read>(
    entry: &mut tar::Entry<R>,
    dest: &Path,
    mode: Whiteouts,
    ours: &mut HashSet<PathBuf>,
    parents: &mut Parents,
    done: &mut Applied,
) -> Result<()> {
    let raw = entry.path().context("entry path")?.into_owned();
    let rel = clean(&raw)?;
    if rel.as_os_str().is_empty() {
        // "." or "./": the layer's root itself, which is not the layer's to replace.
        return Ok(());
    }
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
    if name == OPAQUE && mode == Whiteouts::Overlay {
        parents.resolve(&parent, &raw)?;
        std::fs::create_dir_all(dest.join(&parent))?;
        set_opaque(&dest.join(&parent))?;
        done.opaque_dirs += 1;
        return Ok(());
    }
    if name == OPAQUE {
        if let Some(dir) = parents.resolve(&parent, &raw)? {
            for child in std::fs::read_dir(&dir).with_context(|| format!("entry {:?}", raw.display().to_string()))? {
                let child = child?;
                if !ours.contains(&parent.join(child.file_name())) {
                    parents.remove(&child.path())?;
                }
            }
        }
        done.opaque_dirs += 1;
        return Ok(());
    }
    if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            bail!("entry {:?}: a whiteout must name one entry", raw.display().to_string());
        }
        if mode == Whiteouts::Overlay {
            parents.resolve(&parent, &raw)?;
            std::fs::create_dir_all(dest.join(&parent))?;
            mknod_whiteout(&dest.join(&parent).join(hidden))?;
        } else if let Some(dir) = parents.resolve(&parent, &raw)? {
            if !ours.contains(&parent.join(hidden)) {
                parents.remove(&dir.join(hidden))?;
            }
        }
        done.whiteouts += 1;
        return Ok(());
    }
    let dir = parents.resolve(&parent, &raw)?;
    if let Some(dir) = &dir {
        // Replace whatever a lower layer had here unless both are directories.
        let target = dir.join(rel.file_name().unwrap_or_default());
        let existing = std::fs::symlink_metadata(&target).ok();
        if existing.is_some_and(|m| !(m.is_dir() && entry.header().entry_type().is_dir())) {
            parents.remove(&target)?;
        }
    }
    if entry.header().entry_type().is_hard_link() {
        let link = entry
            .link_name()
            .context("hardlink target")?
            .unwrap_or_default()
            .into_owned();
        let link_rel = clean(&link).with_context(|| format!("entry {:?}: hardlink", raw.display().to_string()))?;
        inside(dest, &link_rel, &raw)?;
    }
    let kind = entry.header().entry_type();
    if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
        make_node(entry, dest, &rel).with_context(|| format!("entry {:?}", raw.display().to_string()))?;
        ours.insert(rel);
        done.entries += 1;
        return Ok(());
    }
    let what = || format!("entry {:?}", raw.display().to_string());
    if kind.is_hard_link() {
        // The tar crate checks the link's source against `dest` itself.
        if !entry.unpack_in(dest).with_context(what)? {
            bail!("{}: would land outside the layer's directory", what());
        }
    } else {
        // The parent was checked above (or its deepest existing ancestor
        // was, and what is missing below it is made as plain directories).
        let dir = match dir {
            Some(d) => d,
            None => {
                let d = dest.join(&parent);
                std::fs::create_dir_all(&d).with_context(what)?;
                d
            }
        };
        entry
            .unpack(dir.join(rel.file_name().unwrap_or_default()))
            .with_context(what)?;
    }
    ours.insert(rel);
    done.entries += 1;
    Ok(())
}

/// Device nodes and FIFOs, which the tar crate does not make: mknod in a parent
/// checked to be inside `dest`, then the entry's owner and mode.
fn make_node<R: Read>(entry: &tar::Entry<R>, dest: &Path, rel: &Path) -> Result<()> {
    let h = entry.header();
    let parent = rel.parent().unwrap_or(Path::new(""));
    let Some(dir) = inside(dest, parent, rel)? else {
        bail!("its parent directory is not in the layer")
    };
    let path = dir.join(rel.file_name().unwrap_or_default());
    let kind = h.entry_type();
    let fmt = if kind.is_character_special() {
        libc::S_IFCHR
    } else if kind.is_block_special() {
        libc::S_IFBLK
    } else {
        libc::S_IFIFO
    };
    // GNU tar leaves a FIFO's device fields all NUL, which the tar crate
    // cannot read as numbers: a FIFO has none.
    let (major, minor) = match fmt {
        libc::S_IFIFO => (0, 0),
        _ => (h.device_major()?.unwrap_or(0), h.device_minor()?.unwrap_or(0)),
    };
    let mode = h.mode()? & 0o7777;
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: a valid C path; mknod does not follow a symlink at the last component.
    if unsafe { libc::mknod(c.as_ptr(), fmt | mode, libc::makedev(major, minor)) } != 0 {
        return Err(std::io::Error::last_os_error()).context("mknod");
    }
    let (uid, gid) = (h.uid()? as libc::uid_t, h.gid()? as libc::gid_t);
    // SAFETY: as above; lchown does not follow links.
    if unsafe { libc::lchown(c.as_ptr(), uid, gid) } != 0 {
        return Err(std::io::Error::last_os_error()).context("chown");
    }
    // SAFETY: as above; the node was just made, so it is not a symlink.
    if unsafe { libc::chmod(c.as_ptr(), mode) } != 0 {
        return Err(std::io::Error::last_os_error()).context("chmod");
    }
    Ok(())
}

/// Applies a layer stream, its compression taken from the media type if
/// known, else from its first bytes. The stream is read to its end, so a
/// checking reader (source::Verified) sees all of it.
pub fn apply_stream(blob: impl Read + Send, media_type: Option<&str>, dest: &Path, mode: Whiteouts) -> Result<Applied> {
    let mut r = BufReader::new(blob);
    let compression = match media_type.and_then(Compression::from_media_type) {
        Some(c) => c,
        None => Compression::sniff(r.fill_buf().context("read the layer")?),
    };
    let done = apply_with(&mut r, compression, dest, mode)?;
    std::io::copy(&mut r, &mut std::io::sink()).context("read the layer's end")?;
    Ok(done)
}
