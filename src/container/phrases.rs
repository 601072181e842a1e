//! runc's error phrases that clients match on (containerd, go-runc, CRI-O,
//! podman): part of the command-line contract. hull's messages start with
//! the phrase and add their detail after it.

pub const NOT_EXIST: &str = "container does not exist";
pub const NOT_RUNNING: &str = "container not running";
pub const NOT_PAUSED: &str = "container not paused";
pub const START_RUNNING: &str = "cannot start an already running container";
pub const START_STOPPED: &str = "cannot start a container that has stopped";
pub const START_PAUSED: &str = "cannot start a container in the paused state";
pub const DELETE_NOT_STOPPED: &str = "cannot delete container";
pub const EXEC_STOPPED: &str = "cannot exec in a stopped container";
pub const EXEC_PAUSED: &str = "cannot exec in a paused container (use --ignore-paused to override)";
/// runc's exec prefixes its own failures with this and exits 255.
pub const EXEC_FAILED: &str = "exec failed";
pub const EXISTS: &str = "container with given ID already exists";
pub const BAD_ID: &str = "invalid container ID format";
/// A signal to an init that has just exited (ESRCH).
pub const NO_SUCH_PROCESS: &str = "unable to signal init: no such process";
