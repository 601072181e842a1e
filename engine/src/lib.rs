//! hull-engine as a library: the binary (main.rs) is its command line; the
//! fuzz targets (fuzz/) reach the parsers of what plugins and spec files
//! hand it (CNI results, CDI specs).

pub mod cdi;
pub mod cli;
pub mod cni;
pub mod commands;
mod csi;
mod isolator;
mod isolators;
mod launcher;
mod netns;
mod pod;
mod record;
mod recover;
mod request;
mod size;
mod supervisor;
