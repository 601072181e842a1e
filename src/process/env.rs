//! The environment the program starts with: process.env, plus HOME when it
//! is missing (from the container's /etc/passwd, as runc does).

/// Reads a file only if it is a regular one: the image could make it a FIFO
/// and block create forever.
fn read_regular(path: &str) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut s = String::new();
    f.take(1 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// Reads the container's /etc/passwd, so it runs after pivot_root.
pub fn with_home(env: &[String], uid: u32) -> Vec<String> {
    let mut out = env.to_vec();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let passwd = read_regular("/etc/passwd").unwrap_or_default();
        let home = crate::passwd::by_uid(&passwd, uid)
            .map(|e| e.home)
            .filter(|h| !h.is_empty())
            .unwrap_or("/");
        out.push(format!("HOME={home}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_home_is_kept() {
        let env = vec!["HOME=/x".to_string()];
        assert_eq!(with_home(&env, 0), env);
    }
}
