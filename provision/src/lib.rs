//! hull-provision: image references in, OCI bundles out; it knows nothing
//! of processes. Stores (oci_layout, docker_archive, registry) are sources of
//! images; `store` keeps pulled images as an OCI layout with the layer
//! `cache`; `bundle` turns an image into a bundle through a `backend`, with
//! the conversion rules of `convert`.

pub mod backend;
pub mod bundle;
pub mod cache;
pub mod convert;
pub mod docker_archive;
pub mod layer;
pub mod oci_layout;
pub mod platform;
pub mod progress;
pub mod proxy;
pub mod reference;
pub mod registry;
pub mod source;
pub mod store;
