use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{Capability, Process};
use serde_json::Value;

use crate::cli::{ExecArgs, GlobalOpts};
use crate::spec::Bundle;
use crate::state::ContainerDir;

/// --process FILE, read and checked like config.json.
fn process_file(path: &std::path::Path) -> Result<Process> {
    let file = path.display();
    let text = std::fs::read(path).with_context(|| format!("--process {file}: cannot read"))?;
    let mut v: Value = serde_json::from_slice(&text).with_context(|| format!("--process {file}: not valid JSON"))?;
    let mut wrapped = serde_json::json!({ "process": v.take() });
    crate::process::caps::strip_unknown(&mut wrapped)?;
    serde_path_to_error::deserialize(wrapped["process"].take())
        .map_err(|e| anyhow!("--process {file}: {}: {}", e.path(), e.inner()))
}

/// What a --process file leaves out, the container's process gives, as in
/// runc: its capabilities, AppArmor profile, SELinux label, rlimits and
/// no_new_privs. A file without them must not run its process with fewer
/// confinements than the container's own (unconfined, every rlimit the
/// caller's).
fn with_the_containers(mut p: Process, base: Option<&Process>) -> Process {
    let Some(base) = base else {
        return p;
    };
    if p.capabilities().is_none() {
        p.set_capabilities(base.capabilities().clone());
    }
    // An empty name is none, as in runc (Go's omitempty writes none).
    if p.apparmor_profile().as_deref().is_none_or(str::is_empty) {
        p.set_apparmor_profile(base.apparmor_profile().clone());
    }
    if p.selinux_label().as_deref().is_none_or(str::is_empty) {
        p.set_selinux_label(base.selinux_label().clone());
    }
    if p.rlimits().as_ref().is_none_or(|r| r.is_empty()) {
        p.set_rlimits(base.rlimits().clone());
    }
    if p.no_new_privileges().is_none() {
        p.set_no_new_privileges(base.no_new_privileges());
    }
    p
}

/// The container's own process, changed by runc's exec flags.
fn from_flags(base: &Process, a: &ExecArgs) -> Result<Process> {
    if a.command.is_empty() {
        bail!("exec: give a command, or --process FILE");
    }
    let mut p = base.clone();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.into());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for e in &a.env {
        let name = e.split('=').next().unwrap_or_default();
        if !e.contains('=') {
            bail!("--env: {e:?} is not NAME=VALUE");
        }
        env.retain(|old| old.split('=').next() != Some(name));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(u) = &a.user {
        // uid[:gid]; without a gid the config's stays, as in runc.
        let parse = |s: &str| s.parse::<u32>().map_err(|_| anyhow!("--user: {u:?} is not uid[:gid]"));
        let (uid, gid) = match u.split_once(':') {
            Some((uid, gid)) => (parse(uid)?, Some(parse(gid)?)),
            None => (parse(u)?, None),
        };
        p.user_mut().set_uid(uid);
        if let Some(gid) = gid {
            p.user_mut().set_gid(gid);
        }
    }
    if !a.additional_gids.is_empty() {
        let mut gids = p.user().additional_gids().clone().unwrap_or_default();
        gids.extend(a.additional_gids.iter().copied());
        p.user_mut().set_additional_gids(Some(gids));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    // As in runc: empty is unset, and --process takes neither.
    if let Some(profile) = a.apparmor.as_ref().filter(|v| !v.is_empty()) {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = a.process_label.as_ref().filter(|v| !v.is_empty()) {
        p.set_selinux_label(Some(label.clone()));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let full = if name.starts_with("CAP_") {
                name.clone()
            } else {
                format!("CAP_{name}")
            };
            if crate::process::caps::number_of_name(&full).is_none() {
                bail!("--cap: {name:?} is not a capability");
            }
            let cap: Capability = serde_json::from_value(Value::String(full))?;
            // Bounding, effective and permitted; never inheritable (CVE-2022-29162).
            let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut s = set.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// What this host cannot apply is refused, named by the flag or the file
/// it came from.
fn check_lsm(process: &Process, a: &ExecArgs) -> Result<()> {
    let from = match &a.process {
        Some(f) => format!("--process {}", f.display()),
        None if [&a.apparmor, &a.process_label]
            .iter()
            .any(|v| v.as_ref().is_some_and(|v| !v.is_empty())) =>
        {
            "--apparmor/--process-label".into()
        }
        None => "config.json".into(),
    };
    crate::process::lsm::check(Some(process), None).with_context(|| from)
}

/// Whether any of the process's capability sets holds CAP_SYS_PTRACE.
fn may_ptrace(p: &Process) -> bool {
    let Some(c) = p.capabilities() else { return false };
    [c.bounding(), c.effective(), c.permitted(), c.inheritable(), c.ambient()]
        .iter()
        .any(|set| set.as_ref().is_some_and(|s| s.contains(&Capability::SysPtrace)))
}

pub fn run(g: &GlobalOpts, a: &ExecArgs) -> Result<i32> {
    // The process joins a pid namespace whose members may hold CAP_SYS_PTRACE.
    crate::launcher::sealed_exe::ensure(&crate::container::foreground::mask_for(false)?)?;
    let (st, process, bundle, state_dir) = {
        let dir = ContainerDir::open(&g.root, &a.id)?;
        let st = dir.load()?;
        let status = dir.status(&st);
        match status {
            crate::state::Status::Running | crate::state::Status::Created => {}
            crate::state::Status::Paused if a.ignore_paused => {}
            crate::state::Status::Paused => bail!("{}: {:?}", crate::container::phrases::EXEC_PAUSED, a.id),
            _ => bail!("{}: {:?}", crate::container::phrases::EXEC_STOPPED, a.id),
        }
        let bundle = Bundle::load_kept(&st.bundle, &dir.path.join(crate::state::KEPT_CONFIG))?;
        let mut process = match &a.process {
            Some(f) => with_the_containers(process_file(f)?, bundle.spec.process().as_ref()),
            None => {
                let base = bundle.spec.process().clone().context("config.json: process: missing")?;
                from_flags(&base, a)?
            }
        };
        let source = a
            .process
            .as_ref()
            .map_or("exec".into(), |f| format!("--process {}", f.display()));
        crate::spec::check_process(&process).with_context(|| source)?;
        check_lsm(&process, a)?;
        let userns = crate::spec::has_namespace(&bundle.spec, oci_spec::runtime::LinuxNamespaceType::User);
        crate::process::caps::leave_out_ungrantable(&mut process, userns)?;
        if status == crate::state::Status::Created && !userns && may_ptrace(&process) {
            // The init of a created container is still the hull binary it
            // was forked from (the sealed re-exec is for pid namespaces that
            // exist already): CAP_SYS_PTRACE over the host would reach it
            // through /proc/1/exe (CVE-2019-5736).
            bail!(
                "exec: container {:?} is created, not started, and its init is still hull: a process with \
                 CAP_SYS_PTRACE could reach the hull binary through it (CVE-2019-5736); start the container first",
                a.id
            );
        }
        (st, process, bundle, dir.path.clone())
    };
    let o = crate::container::ExecOptions {
        state_dir: &state_dir,
        detach: a.detach,
        preserve_fds: a.preserve_fds,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        sub_cgroup: crate::cgroups::sub::parse(&a.cgroup)?,
        pidfd_socket: a.pidfd_socket.as_deref(),
    };
    crate::container::exec(&st, &process, &bundle, &o)
}
