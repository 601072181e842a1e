//! Whether hull runs as the host's root. uid 0 is not enough: rootless
//! podman runs its runtime as uid 0 of a user namespace of its own, where
//! /run and the cgroup tree are still the host's and not writable. runc
//! makes the same distinction for its state dir and its cgroup manager.

/// uid 0 in the initial user namespace.
pub fn is_host_root() -> bool {
    nix::unistd::geteuid().is_root() && in_initial_user_namespace()
}

/// The initial namespace maps every id onto itself: "0 0 4294967295".
/// Read once per process (four times a create before). A child that moved
/// into a user namespace of the container's may hold its parent's answer or
/// read its own: init.rs, the one caller there, also asks the config.
pub fn in_initial_user_namespace() -> bool {
    static INITIAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INITIAL.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
            .unwrap_or(true)
    })
}

/// `--rootless`: Some(true) or Some(false) as given, None for auto (by euid).
static ROOTLESS: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();

/// Sets `--rootless` for this command (once, from the command line).
pub fn set_rootless_mode(mode: Option<bool>) {
    let _ = ROOTLESS.set(mode);
}

/// Whether the container's cgroups are the caller's own (`--rootless`, or
/// by default anyone but the host's root): no cgroup without limits, and
/// under --systemd-cgroup the caller's own systemd.
pub fn rootless() -> bool {
    ROOTLESS.get().copied().flatten().unwrap_or_else(|| !is_host_root())
}
