use anyhow::{bail, Context, Result};

use crate::cli::SpecArgs;

pub fn run(a: &SpecArgs) -> Result<()> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("{}: already exists; remove it first", path.display());
    }
    let spec = if a.rootless {
        crate::spec::rootless_spec(nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())
    } else {
        crate::spec::default_spec()
    };
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("{}: cannot write", path.display()))
}
