//! The command line: runc's surface, flag for flag.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_ROOT: &str = "/run/hull";

/// Where state lives unless --root says: /run/hull for the host's root; an
/// unprivileged user (or root of a user namespace, as under rootless podman)
/// cannot write there, so its own runtime dir (or /tmp) instead.
pub fn default_root() -> PathBuf {
    if crate::privilege::is_host_root() {
        return PathBuf::from(DEFAULT_ROOT);
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("hull"),
        None => PathBuf::from(format!("/tmp/hull-{}", nix::unistd::geteuid())),
    }
}

#[derive(Debug, Parser)]
#[command(name = "hull", about = "hull: a runc-compatible OCI container runtime")]
#[command(
    after_help = "The engine's commands (run by hull-engine, next to hull; `hull COMMAND --help`):\n  \
    launch      Launch a container from an image (or none) with resources and isolators\n  \
    inspect     An engine container's record\n  \
    usage       An engine container's resource statistics\n  \
    destroy     Kill an engine container and clean up after it\n  \
    containers  List the engine's containers\n  \
    recover     Adopt engine containers that still run, clean up after the dead\n  \
    image       Images in the store: pull, ls, inspect, rm, gc\n  \
    bundle      Bundles made from images: create, rm\n\n\
`update` of a container made by `launch` goes through the engine (--cpus, --memory, --pids)."
)]
#[command(disable_version_flag = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Root directory for container state (default /run/hull; for an unprivileged
    /// user $XDG_RUNTIME_DIR/hull, as runc does)
    #[arg(long, global = true, default_value_os_t = default_root())]
    pub root: PathBuf,

    /// Log file (default: stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,

    /// Log format
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,

    /// Use systemd to manage cgroups
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,

    /// Rootless mode: true, false or auto (before the subcommand: `spec --rootless` is its own flag)
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container, leaving its process waiting for `start`
    Create(CreateArgs),
    /// Start a created container
    Start(IdArg),
    /// Print the state of a container
    State(IdArg),
    /// Send a signal to the container's init process
    Kill(KillArgs),
    /// Delete a container and what it holds
    Delete(DeleteArgs),
    /// Create and start a container
    Run(RunArgs),
    /// List containers
    #[command(alias = "ls")]
    List(ListArgs),
    /// Write a default config.json
    Spec(SpecArgs),
    /// Freeze every process of the container
    Pause(IdArg),
    /// Thaw a paused container
    Resume(IdArg),
    /// List the container's processes
    Ps(PsArgs),
    /// Change the resource limits of a running container
    Update(UpdateArgs),
    /// Stream the container's stats and OOM events as JSON lines
    Events(EventsArgs),
    /// Run a new process in a running container
    Exec(ExecArgs),
    /// Print what this runtime supports (runtime-spec features document)
    Features,
    /// The engine's verbs (image, bundle, launch, inspect, usage, update of
    /// an engine container, destroy, recover, containers) run in hull-engine,
    /// next to hull, with the same command line
    #[command(external_subcommand)]
    Engine(Vec<OsString>),
}

#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// An OCI process object (JSON) to run instead of the command line
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Environment variable NAME=VALUE (repeatable)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// uid[:gid]
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Supplementary group (repeatable)
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Add a capability (repeatable; never to the inheritable set)
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass N extra fds (3..3+N)
    #[arg(long = "preserve-fds", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=65536))]
    pub preserve_fds: u32,
    /// Return once the process started
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's pid to this file
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master on
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Unix socket to receive a pidfd of the process on
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Exec even into a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// AppArmor profile for the process (not with --process)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process (not with --process)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// An existing sub-cgroup of the container to run in: PATH (every
    /// controller) or CONTROLLER[,CONTROLLER]:PATH (cgroup v1; repeatable)
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    /// Container id
    pub id: String,
    /// Command and arguments (without --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// Print the stats once and exit
    #[arg(long)]
    pub stats: bool,
    /// Time between stats lines (Go duration: 5s, 500ms, 1m)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct PsArgs {
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = PsFormat::Table)]
    pub format: PsFormat,
    /// Container id
    pub id: String,
    /// Options for ps(1) in table format (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// CPUs, fractional (a container made by `hull launch` only)
    #[arg(long)]
    pub cpus: Option<String>,
    /// Process limit (a container made by `hull launch` only)
    #[arg(long)]
    pub pids: Option<String>,
    /// The engine's directory (a container made by `hull launch` only)
    #[arg(long = "engine-dir", hide = true)]
    pub engine_dir: Option<PathBuf>,
    /// LinuxResources JSON from a file, or - for stdin
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k/m/g); -1 for none
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-shares", visible_alias = "cpu-share")]
    pub cpu_shares: Option<u64>,
    /// CFS burst in microseconds (cgroup v2 cpu.max.burst)
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// 1 for SCHED_IDLE as a whole, 0 for the default
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    /// Real-time period in microseconds
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Real-time runtime in microseconds per period
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// Kernel memory limit: obsolete, ignored with a warning
    #[arg(long = "kernel-memory", hide = true, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP memory limit (cgroup v1)
    #[arg(long = "kernel-memory-tcp", hide = true, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Intel RDT L3 cache schema (refused: hull has no linux.intelRdt)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (refused: hull has no linux.intelRdt)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// CFS quota in microseconds; -1 for none
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPUs to run on (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes; -1 for none
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Container id
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct IdArg {
    /// Container id
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct CreateOpts {
    /// Bundle directory (holds config.json)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,

    /// Write the init's pid to this file
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,

    /// Unix socket to receive the pty master on
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,

    /// Unix socket to receive a pidfd of the container's init on
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,

    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,

    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,

    /// Pass N extra fds (3..3+N) into the container
    #[arg(long = "preserve-fds", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=65536))]
    pub preserve_fds: u32,
}

impl CreateOpts {
    pub fn plain(&self) -> crate::container::CreateOpts {
        crate::container::CreateOpts {
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            pidfd_socket: self.pidfd_socket.clone(),
            notify: crate::container::notify::asked(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Container id
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Return once the container is started
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the state after the container exits (accepted for runc compatibility)
    #[arg(long = "keep")]
    pub keep: bool,
    /// Accepted for runc compatibility: hull stays a child subreaper, as the
    /// container's init can be its grandchild (made through a first stage)
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Container id
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// Send the signal to every process of the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal: name (KILL, SIGKILL) or number; default SIGTERM
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    /// Kill a running container first
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Print only ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Bundle directory to write config.json into
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for an unprivileged user
    #[arg(long)]
    pub rootless: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn runc_argv_forms_parse() {
        let c = Cli::try_parse_from([
            "hull",
            "--root",
            "/r",
            "--log",
            "/l.json",
            "--log-format=json",
            "create",
            "--bundle=/b",
            "--pid-file",
            "/p",
            "id1",
        ])
        .unwrap();
        assert_eq!(c.global.root, PathBuf::from("/r"));
        assert_eq!(c.global.log_format, LogFormat::Json);
        let Some(Command::Create(a)) = c.command else {
            panic!("not create")
        };
        assert_eq!(a.opts.bundle, PathBuf::from("/b"));
        assert_eq!(a.id, "id1");
        let c = Cli::try_parse_from(["hull", "kill", "--all", "id1", "9"]).unwrap();
        let Some(Command::Kill(k)) = c.command else {
            panic!("not kill")
        };
        assert!(k.all && k.signal == "9");
        let c = Cli::try_parse_from(["hull", "spec", "--rootless"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Spec(SpecArgs { rootless: true, .. }))
        ));
    }
}
