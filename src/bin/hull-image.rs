//! hull-image: `hull image ...` and `hull bundle ...` (the provisioner), in a
//! binary of their own so that the runtime containerd and podman execute as
//! root carries no HTTP, TLS or archive code. `hull` execs it, next to
//! itself, for those commands; it takes hull's whole command line.

fn main() -> std::process::ExitCode {
    hull::entry::main(hull::commands::dispatch_images)
}
