//! hull-provision: image references in, OCI bundles out. It knows nothing of
//! processes. So far: applying one layer onto a directory.

pub mod layer;
