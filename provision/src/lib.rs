//! hull-provision: image references in, OCI bundles out. It knows nothing of
//! processes. So far: applying layers, reading OCI image layouts, and
//! bundles made with the copy backend.

pub mod backend;
pub mod bundle;
pub mod cache;
pub mod layer;
pub mod oci_layout;
