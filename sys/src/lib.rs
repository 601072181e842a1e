//! Host primitives that both the runtime (`hull`) and the provisioner
//! (`hull-provision`) need, and that belong to neither: advisory locks and
//! all-or-nothing writes (state dirs, image stores), mount_setattr(2)
//! (recursive mount options, read-only and idmapped mounts), the mount
//! points mountinfo lists, and openat2 inside a root.

pub mod fault;
pub mod file;
pub mod inroot;
pub mod mount_attr;
pub mod mountinfo;
