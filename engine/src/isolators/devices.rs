//! devices/cdi: `--device vendor.com/class=name`, through CDI specs (cdi.rs).

use anyhow::Result;

use crate::isolator::{Isolator, Spec};
use crate::record::Sandbox;
use crate::request::Request;

pub struct Cdi;

impl Isolator for Cdi {
    fn prepare(&self, req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        crate::cdi::apply(&req.devices, &req.cdi_dirs, spec)
    }
}
