//! Applying layers: whiteouts, opaque directories in any tar order, links,
//! modes, compression, and the entries that must be refused.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use hull_provision::layer::{apply, Compression};

/// A tar built entry by entry: (path, kind).
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a str, u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::File(p, body, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(body.len() as u64);
                b.append_data(&mut h, p, body.as_bytes()).unwrap();
            }
            E::Symlink(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Hardlink(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Char(p, major, minor) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_size(0);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn layers_stack_with_whiteouts_and_opaque_dirs() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    let base = tar_of(&[
        E::Dir("data"),
        E::File("data/deleted.txt", "lower", 0o644),
        E::File("data/kept.txt", "lower", 0o644),
        E::Dir("opaque"),
        E::File("opaque/old.txt", "lower", 0o644),
        E::Dir("opaque/sub"),
        E::File("opaque/sub/old2.txt", "lower", 0o644),
    ]);
    let r = apply(gzip(&base).as_slice(), Compression::Gzip, d).unwrap();
    assert_eq!(r.entries, 7);
    // The opaque marker comes after this layer's own file: the order must not matter.
    let upper = tar_of(&[
        E::File("data/.wh.deleted.txt", "", 0o644),
        E::File("data/kept.txt", "upper", 0o644),
        E::File("opaque/new.txt", "upper", 0o644),
        E::File("opaque/.wh..wh..opq", "", 0o644),
    ]);
    let zst = zstd::encode_all(upper.as_slice(), 3).unwrap();
    let r = apply(zst.as_slice(), Compression::Zstd, d).unwrap();
    assert_eq!((r.whiteouts, r.opaque_dirs), (1, 1));
    assert!(!d.join("data/deleted.txt").exists());
    assert_eq!(read(&d.join("data/kept.txt")), "upper");
    let mut left: Vec<String> = std::fs::read_dir(d.join("opaque"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["new.txt"], "opaque hides lower entries only");
    assert!(
        !d.join("data/.wh.deleted.txt").exists(),
        "whiteouts are not themselves written"
    );
}

#[test]
fn links_modes_and_devices() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    let layer = tar_of(&[
        E::Dir("bin"),
        E::File("bin/tool", "#!/bin/sh\n", 0o4755),
        E::Hardlink("bin/tool-hard", "bin/tool"),
        E::Symlink("bin/tool-sym", "tool"),
        E::Dir("dev"),
        E::Char("dev/null", 1, 3),
    ]);
    apply(layer.as_slice(), Compression::None, d).unwrap();
    let m = std::fs::metadata(d.join("bin/tool")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!(
        m.ino(),
        std::fs::metadata(d.join("bin/tool-hard")).unwrap().ino(),
        "a real hardlink"
    );
    assert_eq!(std::fs::read_link(d.join("bin/tool-sym")).unwrap(), Path::new("tool"));
    assert_eq!(m.mtime(), 1_700_000_000);
    let dev = std::fs::metadata(d.join("dev/null")).unwrap();
    assert_eq!(dev.rdev(), libc::makedev(1, 3));
}

#[test]
fn a_missing_end_of_archive_is_tolerated() {
    let root = tempfile::tempdir().unwrap();
    let mut layer = tar_of(&[E::File("a.txt", "body", 0o644)]);
    layer.truncate(layer.len() - 1024);
    apply(layer.as_slice(), Compression::None, root.path()).unwrap();
    assert_eq!(read(&root.path().join("a.txt")), "body");
}

/// Builds a raw tar header by hand: the tar crate's builder refuses the very
/// paths these tests need to feed in.
fn raw_entry(path: &str, kind: u8, link: &str, body: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{:011o}", body.len()).as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[test]
fn escapes_are_refused_with_the_entry_name() {
    let outside = tempfile::tempdir().unwrap();
    for (layer, needle) in [
        (raw_entry("../escape.txt", b'0', "", b"x"), "../escape.txt"),
        (raw_entry("/abs.txt", b'0', "", b"x"), "/abs.txt"),
        (raw_entry("hl", b'1', "../../../../etc/hostname", b""), "hl"),
    ] {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("layer");
        std::fs::create_dir(&d).unwrap();
        let err = apply(layer.as_slice(), Compression::None, &d).unwrap_err();
        assert!(format!("{err:#}").contains(needle), "{err:#}");
        assert!(!root.path().join("escape.txt").exists());
    }
    // A lower layer's symlink to the host, then an entry written through it.
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
    let layer = raw_entry("link/planted.txt", b'0', "", b"x");
    let err = apply(layer.as_slice(), Compression::None, root.path()).unwrap_err();
    assert!(format!("{err:#}").contains("link/planted.txt"), "{err:#}");
    assert!(
        !outside.path().join("planted.txt").exists(),
        "wrote through a symlink to outside"
    );

    // A dangling symlink to a place outside that does not exist yet.
    let root = tempfile::tempdir().unwrap();
    let target = outside.path().join("made-by-layer");
    std::os::unix::fs::symlink(&target, root.path().join("dangling")).unwrap();
    let layer = raw_entry("dangling/sub/file.txt", b'0', "", b"x");
    let err = apply(layer.as_slice(), Compression::None, root.path()).unwrap_err();
    assert!(format!("{err:#}").contains("dangling"), "{err:#}");
    assert!(
        !target.exists(),
        "a directory was made outside through a dangling symlink"
    );
}

#[test]
fn a_directory_swapped_for_a_symlink_midlayer_is_not_trusted() {
    // Entries under a/b are written (so a/b is known to be inside), then the
    // same layer replaces a with a symlink to the host and writes under a/b again.
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join("b")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let target = outside.path().to_str().unwrap().to_string();
    let layer = tar_of(&[
        E::Dir("a"),
        E::Dir("a/b"),
        E::File("a/b/first", "x", 0o644),
        E::Symlink("a", &target),
        E::File("a/b/second", "x", 0o644),
    ]);
    let err = apply(layer.as_slice(), Compression::None, root.path()).unwrap_err();
    assert!(format!("{err:#}").contains("a/b/second"), "{err:#}");
    assert!(
        !outside.path().join("b/second").exists(),
        "wrote through the swapped symlink"
    );
}

#[test]
fn whiteouts_of_dot_and_dotdot_are_refused_and_dot_entries_skipped() {
    for (name, path) in [(".wh..", "sub/.wh.."), (".wh...", "sub/.wh...")] {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("layer");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/keep"), "x").unwrap();
        std::fs::write(root.path().join("sibling"), "x").unwrap();
        let layer = raw_entry(path, b'0', "", b"");
        let err = apply(layer.as_slice(), Compression::None, &d).unwrap_err();
        assert!(format!("{err:#}").contains(name), "{err:#}");
        assert!(d.join("sub/keep").exists() && root.path().join("sibling").exists());
    }
    // An entry for "." (the layer's root) changes nothing.
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("keep"), "x").unwrap();
    let layer = raw_entry(".", b'2', "/etc", b"");
    apply(layer.as_slice(), Compression::None, root.path()).unwrap();
    assert!(root.path().join("keep").exists() && root.path().is_dir());
}

#[test]
fn compression_is_told_by_media_type_or_magic() {
    use hull_provision::layer::Compression as C;
    assert_eq!(
        C::from_media_type("application/vnd.oci.image.layer.v1.tar+gzip"),
        Some(C::Gzip)
    );
    assert_eq!(
        C::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
        Some(C::Zstd)
    );
    assert_eq!(
        C::from_media_type("application/vnd.oci.image.layer.v1.tar"),
        Some(C::None)
    );
    assert_eq!(
        C::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
        Some(C::Gzip)
    );
    assert_eq!(C::sniff(&[0x1f, 0x8b, 8]), C::Gzip);
    assert_eq!(C::sniff(&[0x28, 0xb5, 0x2f, 0xfd]), C::Zstd);
    assert_eq!(C::sniff(b"plain"), C::None);
}

/// An extension header (a PAX record set, a GNU long name) is read into
/// memory whole: one that declares a gigabyte is refused once the headers
/// before an entry pass 4 MiB (before, the whole gigabyte was read into
/// memory, and an image could exhaust the host's). Long names that are
/// only long still unpack.
#[test]
fn an_extension_header_of_a_gigabyte_is_refused_early() {
    let root = tempfile::tempdir().unwrap();
    for kind in [b'x', b'L'] {
        let size = 1u64 << 30;
        let mut head = raw_entry("ext", kind, "", b"");
        head[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        head[148..156].copy_from_slice(b"        ");
        let sum: u32 = head.iter().map(|b| *b as u32).sum();
        head[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let stream = std::io::Read::chain(head.as_slice(), std::io::Read::take(std::io::repeat(b'a'), size));
        let err = apply(stream, Compression::None, root.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("the headers before an entry are past 4 MiB"),
            "{}: {err:#}",
            kind as char
        );
    }
    let long = format!("{}/{}", "d".repeat(200), "f".repeat(200));
    let layer = tar_of(&[E::Dir(&long[..200]), E::File(&long, "long", 0o644)]);
    apply(layer.as_slice(), Compression::None, root.path()).unwrap();
    assert_eq!(read(&root.path().join(&long)), "long");
}

/// A GNU sparse entry that is not unpacked (here a whiteout) whose file
/// would be 2^62 bytes of holes: only its data in the stream (none) is
/// passed over, not the file it describes, and the layer applies at once.
#[test]
fn a_sparse_whiteout_is_passed_over_by_its_bytes_in_the_stream() {
    let root = tempfile::tempdir().unwrap();
    let mut h = raw_entry(".wh.gone", b'S', "", b"");
    h[257..265].copy_from_slice(b"ustar  \0");
    let huge: u64 = 1 << 62;
    let mut base256 = [0u8; 12];
    base256[0] = 0x80;
    base256[4..].copy_from_slice(&huge.to_be_bytes());
    h[386..398].copy_from_slice(&base256); // the first hole ends at 2^62,
    h[398..410].copy_from_slice(b"00000000000\0"); // where 0 bytes of data follow,
    h[483..495].copy_from_slice(&base256); // in a file of 2^62 bytes
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut layer = h;
    layer.extend_from_slice(&tar_of(&[E::File("after", "still here", 0o644)]));
    let dest = root.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(apply(layer.as_slice(), Compression::None, &dest).map(|_| ())));
    let applied = rx.recv_timeout(std::time::Duration::from_secs(20));
    assert!(applied.is_ok(), "applying the layer did not end");
    applied.unwrap().unwrap();
    assert_eq!(read(&root.path().join("after")), "still here");
}

/// A sparse entry whose header claims 2^62 bytes of data while its PAX
/// record says none (the tar crate takes the record) does not widen the
/// next step's budget to 2^62: the extension header of a gigabyte after it
/// is still refused at 4 MiB.
#[test]
fn a_sparse_entry_cannot_lift_the_header_budget() {
    let root = tempfile::tempdir().unwrap();
    let checksum = |h: &mut Vec<u8>| {
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h[..512].iter().map(|b| *b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    };
    let mut stream = raw_entry("pax", b'x', "", b"10 size=0\n");
    let mut sparse = raw_entry(".wh.y", b'S', "", b"");
    sparse[257..265].copy_from_slice(b"ustar  \0");
    sparse[124] = 0x80;
    sparse[128..136].copy_from_slice(&(1u64 << 62).to_be_bytes());
    sparse[483..495].copy_from_slice(b"00000000000\0");
    checksum(&mut sparse);
    stream.extend_from_slice(&sparse);
    let size = 1u64 << 30;
    let mut ext = raw_entry("ext", b'x', "", b"");
    ext[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    checksum(&mut ext);
    stream.extend_from_slice(&ext);
    let stream = std::io::Read::chain(stream.as_slice(), std::io::Read::take(std::io::repeat(b'a'), size));
    let err = apply(stream, Compression::None, root.path()).unwrap_err();
    assert!(
        format!("{err:#}").contains("the headers before an entry are past 4 MiB"),
        "{err:#}"
    );
}
