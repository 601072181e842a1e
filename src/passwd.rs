//! /etc/passwd lookups by reading the file, as runc does. hull is linked
//! statically, so glibc's getpwuid would dlopen the host's NSS modules; and a
//! container's /etc/passwd is data to parse, never configuration to obey.

/// One /etc/passwd line's fields that hull uses.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub home: &'a str,
}

/// The first entry for `uid` in an /etc/passwd text; malformed lines are skipped.
pub fn by_uid(passwd: &str, uid: u32) -> Option<Entry<'_>> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| Entry { name: f[0], home: f[5] })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_uid() {
        let pw = "root:x:0:0:root:/root:/bin/sh\nbad line\nu:x:1000:1000::/home/u:/bin/sh\n";
        assert_eq!(
            by_uid(pw, 0),
            Some(Entry {
                name: "root",
                home: "/root"
            })
        );
        assert_eq!(by_uid(pw, 1000).map(|e| e.home), Some("/home/u"));
        assert_eq!(by_uid(pw, 5), None);
        assert_eq!(by_uid("x:x:notanumber:0::/h:/bin/sh", 0), None);
    }
}
