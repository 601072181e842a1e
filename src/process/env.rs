//! The environment the program starts with: process.env, plus HOME when it
//! is missing (from the container's /etc/passwd, as runc does).

/// The home directory of `uid` in an /etc/passwd text.
fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

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
        let home = home_of(&passwd, uid)
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "/".into());
        out.push(format!("HOME={home}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_lookup() {
        let pw = "root:x:0:0:root:/root:/bin/sh\nbad line\nu:x:1000:1000::/home/u:/bin/sh\n";
        assert_eq!(home_of(pw, 0).as_deref(), Some("/root"));
        assert_eq!(home_of(pw, 1000).as_deref(), Some("/home/u"));
        assert_eq!(home_of(pw, 5), None);
    }

    #[test]
    fn existing_home_is_kept() {
        let env = vec!["HOME=/x".to_string()];
        assert_eq!(with_home(&env, 0), env);
    }
}
