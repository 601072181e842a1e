//! hull-engine's command line. `hull` execs this binary with its own
//! command line for every verb that is not runc's, so hull's global flags
//! (--root, --log, --debug...) are accepted here too.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hull",
    about = "hull's engine: images, bundles, and containers launched with isolators"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: hull::cli::GlobalOpts,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bundles made from images
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Images in the store: pull, ls, inspect, rm, gc
    #[command(subcommand)]
    Image(ImageCommand),
    /// Launch a container from an image (or none) with resources and isolators
    Launch(Box<LaunchArgs>),
    /// An engine container's record as JSON
    Inspect(EngineIdArgs),
    /// An engine container's resource statistics as JSON (Mesos's ResourceStatistics)
    Usage(EngineIdArgs),
    /// Change an engine container's limits (hull forwards `update` here for them)
    Update(EngineUpdateArgs),
    /// Kill an engine container, clean up after it and forget it
    Destroy(EngineIdArgs),
    /// Adopt engine containers that still run, clean up after those that died
    Recover(EngineDirArgs),
    /// List the engine's containers
    Containers(EngineListArgs),
    /// (internal) supervise a container found without its supervisor
    #[command(hide = true)]
    Supervise(EngineIdArgs),
}

#[derive(Debug, Clone, Args)]
pub struct EngineDirArgs {
    /// Where the engine keeps each container's record, bundle and sandbox
    #[arg(long = "engine-dir", default_value = hull::commands::update::DEFAULT_ENGINE_DIR)]
    pub engine_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct EngineIdArgs {
    #[command(flatten)]
    pub dir: EngineDirArgs,
    /// The container's id
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct EngineListArgs {
    #[command(flatten)]
    pub dir: EngineDirArgs,
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Clone, Args)]
pub struct EngineUpdateArgs {
    #[command(flatten)]
    pub dir: EngineDirArgs,
    /// CPUs (fractional): CFS quota and shares
    #[arg(long)]
    pub cpus: Option<String>,
    /// Memory limit: a size (bytes, or with k, m, g)
    #[arg(long)]
    pub memory: Option<String>,
    /// Limit on the number of processes
    #[arg(long)]
    pub pids: Option<String>,
    /// The container's id
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub dir: EngineDirArgs,
    /// The image: registry/repo:tag, oci:PATH[:TAG] or docker-archive:PATH[:NAME:TAG]
    #[arg(long, required_unless_present = "no_image", conflicts_with = "no_image")]
    pub image: Option<String>,
    /// No image: the host's root read-only, with the container's own /tmp
    #[arg(long = "no-image")]
    pub no_image: bool,
    /// The container's id (default: a fresh one)
    #[arg(long)]
    pub name: Option<String>,
    /// Print the id and leave the container to a supervisor of its own
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Give the container a terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep the container's stdin open
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// CPUs (fractional): CFS quota and shares (cgroups/cpu)
    #[arg(long)]
    pub cpus: Option<String>,
    /// Memory limit, e.g. 32m (cgroups/mem); OOM ends the container with reason oom
    #[arg(long)]
    pub memory: Option<String>,
    /// Limit on the number of processes (cgroups/pids)
    #[arg(long)]
    pub pids: Option<String>,
    /// Disk quota of the sandbox and the rootfs's writes, e.g. 10m (disk/du)
    #[arg(long)]
    pub disk: Option<String>,
    /// Isolators, comma separated, by Mesos's names (default: what the flags need)
    #[arg(long)]
    pub isolation: Option<String>,
    /// linux (namespaces) or posix (the host's namespaces, cgroups still applied)
    #[arg(long, default_value = "linux")]
    pub launcher: String,
    /// HOST:CTR[:ro] bind mount, or sandbox:NAME:CTR[:ro] a shared sandbox directory (repeatable)
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// A CNI network to attach to (repeatable), by its name in --cni-config-dir;
    /// `none`: a network namespace with loopback only. Without it, the host's network
    #[arg(long = "network")]
    pub networks: Vec<String>,
    /// Where CNI network configurations are (.conf, .conflist, .json)
    #[arg(long = "cni-config-dir", default_value = "/etc/cni/net.d")]
    pub cni_config_dir: PathBuf,
    /// Where CNI plugins are
    #[arg(long = "cni-plugin-dir", default_value = "/usr/lib/cni")]
    pub cni_plugin_dir: PathBuf,
    /// [IP:]HOST:CTR[/tcp|udp]: a host port to the container's, through the
    /// portmap plugin (repeatable)
    #[arg(short = 'p', long = "publish")]
    pub ports: Vec<String>,
    /// The container's hostname (default: its id)
    #[arg(long)]
    pub hostname: Option<String>,
    /// Join the pod NAME (made by its first container): its network, IPC and
    /// UTS namespaces and its shared directory /mnt/pod
    #[arg(long)]
    pub pod: Option<String>,
    /// A CDI device, vendor.com/class=name (repeatable; devices/cdi)
    #[arg(long = "device")]
    pub devices: Vec<String>,
    /// Where CDI specs are (repeatable; replaces /etc/cdi and /var/run/cdi)
    #[arg(long = "cdi-spec-dir")]
    pub cdi_spec_dirs: Vec<PathBuf>,
    /// IMAGE:CTR: another image's rootfs, read-only at CTR (volume/image; repeatable)
    #[arg(long = "image-volume")]
    pub image_volumes: Vec<String>,
    /// FILE:CTR: the file's bytes on a tmpfs, read-only at CTR (repeatable)
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// NAME=FILE: the variable NAME holds the file's contents (environment_secret)
    #[arg(long = "env-secret")]
    pub env_secrets: Vec<String>,
    /// NAME=SOFT[:HARD] resource limit, e.g. nofile=1024:2048 (posix/rlimits)
    #[arg(long = "rlimit")]
    pub rlimits: Vec<String>,
    /// The capabilities to hold, comma separated (linux/capabilities)
    #[arg(long)]
    pub capabilities: Option<String>,
    /// Size of the private /dev/shm (namespaces/ipc), e.g. 64m
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// NAME=VALUE (repeatable)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// user[:group] by name or number
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Rootfs backend: auto, overlay, copy, bind
    #[arg(long, default_value = "auto")]
    pub backend: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The command, instead of the image's
    #[arg(last = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Where images and unpacked layers are kept
    #[arg(long, default_value = "/var/lib/hull")]
    pub store: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry credentials: a docker-style config.json (default: $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    /// CA certificates per registry: DIR/HOST[:PORT]/*.crt
    #[arg(long = "cert-dir", default_value = "/etc/hull/certs.d")]
    pub cert_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Copy an image into the store and unpack its layers
    Pull(ImagePullArgs),
    /// List the images in the store
    Ls(ImageLsArgs),
    /// Show an image's manifest, config and layers (with their reference counts)
    Inspect(ImageRefArgs),
    /// Remove images from the store (their layers go at the next gc)
    Rm(ImageRmArgs),
    /// Remove blobs and layers no image and no live bundle uses
    Gc(StoreArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImagePullArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// No progress output
    #[arg(short, long)]
    pub quiet: bool,
    /// registry/repo:tag, repo@sha256:..., oci:PATH[:TAG] or docker-archive:PATH[:NAME:TAG]
    pub image: String,
}

#[derive(Debug, Clone, Args)]
pub struct ImageLsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only the names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ImageRefArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The image, as pulled
    pub image: String,
}

#[derive(Debug, Clone, Args)]
pub struct ImageRmArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The images, as pulled
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Make an OCI bundle (rootfs + config.json) from an image
    Create(Box<BundleCreateArgs>),
    /// Unmount and remove what `bundle create` made
    Rm(BundleRmArgs),
}

#[derive(Debug, Clone, Args)]
pub struct BundleRmArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The bundle directory
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct BundleCreateArgs {
    /// The image: registry/repo:tag, repo@sha256:..., oci:PATH[:TAG] or
    /// docker-archive:PATH[:NAME:TAG] (a registry image not in the store is pulled)
    #[arg(long, required_unless_present = "no_image", conflicts_with = "no_image")]
    pub image: Option<String>,
    /// No image: the host's root read-only, with the container's own /proc, /dev and /tmp
    #[arg(long = "no-image")]
    pub no_image: bool,
    /// Rootfs backend: auto, overlay, aufs, copy, bind
    #[arg(long, default_value = "auto")]
    pub backend: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Replace the image's Entrypoint (a JSON array, or one word)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// NAME=VALUE, over the image's environment (repeatable)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory, instead of the image's
    #[arg(long)]
    pub cwd: Option<String>,
    /// user[:group] by name (looked up in the image) or number, instead of the image's
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Directory to make the bundle in
    pub dir: PathBuf,
    /// The command, instead of the image's Cmd
    #[arg(last = true)]
    pub cmd: Vec<String>,
}
