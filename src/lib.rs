//! hull: a runc-compatible OCI runtime.
//!
//! The runtime layer: a bundle in, a container out. See ARCHITECTURE in the
//! project notes for how the provisioner and engine sit on top of it.

pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod console;
pub mod container;
pub mod entry;
pub mod fdpass;
pub mod hooks;
pub mod launcher;
pub mod logging;
pub mod netlink;
pub mod passwd;
pub mod pidfd;
pub mod privilege;
pub mod process;
pub mod rootfs;
pub mod spec;
pub mod state;
pub mod units;

/// The runtime-spec version hull implements.
pub const SPEC_VERSION: &str = "1.3.0";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("HULL_COMMIT");
