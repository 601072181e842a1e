//! The environment the program starts with: process.env, plus HOME when it
//! is missing (from the container's /etc/passwd, as runc does).

use std::path::Path;

/// Reads the container's /etc/passwd, so it runs after pivot_root.
pub fn with_home(env: &[String], uid: u32) -> Vec<String> {
    let mut out = env.to_vec();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        // The container's own file, after pivot_root: a plain open, as
        // runc's (a seccomp profile may allow openat and not openat2).
        let passwd = crate::spec::read_regular(Path::new("/etc/passwd"), 1 << 20).unwrap_or_default();
        let passwd = String::from_utf8_lossy(&passwd);
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
