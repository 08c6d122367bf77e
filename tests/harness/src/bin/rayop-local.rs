//! `rayop-local`: starts and stops a detached local control plane for
//! `deploy/local/up.sh` and `down.sh`, with the same binaries, flags and
//! readiness checks as the test harness.
//!
//! ```text
//! rayop-local up   --state-dir DIR [--real-ray]  # start (or find running) → prints KUBECONFIG=…, KUBECTL=…
//! rayop-local down --state-dir DIR   # stop every component whose pid file is in DIR/pids
//! ```
//!
//! Components run in their own sessions, log to `DIR/plane/logs/*.log`, and
//! keep running after this program exits; their pids are in `DIR/pids/`.
//! With `--real-ray` the plane also runs the process node (pods as real
//! processes, with real Ray), and the fake nodes are cordoned.
//! Only `KEY=value` lines go to stdout; progress goes to stderr.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rayop_testenv::process::{pid_alive, stop_pid};
use rayop_testenv::{Binaries, Component, ControlPlane, Lifetime};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, state, real_ray) = match args.as_slice() {
        [cmd, flag, dir] if flag == "--state-dir" => (cmd.as_str(), PathBuf::from(dir), false),
        [cmd, flag, dir, real] if flag == "--state-dir" && real == "--real-ray" => {
            (cmd.as_str(), PathBuf::from(dir), true)
        }
        _ => bail!("usage: rayop-local up|down --state-dir DIR [--real-ray]"),
    };
    match cmd {
        "up" => up(&state, real_ray),
        "down" => down(&state),
        other => bail!(
            "unknown command {other:?}; usage: rayop-local up|down --state-dir DIR [--real-ray]"
        ),
    }
}

fn pid_dir(state: &Path) -> PathBuf {
    state.join("pids")
}

fn plane_dir(state: &Path) -> PathBuf {
    state.join("plane")
}

/// Pids recorded in `DIR/pids/*.pid`, with their file names.
fn recorded_pids(state: &Path) -> Vec<(PathBuf, u32)> {
    let Ok(entries) = std::fs::read_dir(pid_dir(state)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid = std::fs::read_to_string(e.path())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((e.path(), pid))
        })
        .collect()
}

fn print_result(state: &Path, bins: &Binaries) {
    println!(
        "KUBECONFIG={}",
        plane_dir(state).join("kubeconfig").display()
    );
    println!("KUBECTL={}", bins.kubectl.display());
    println!("LOGS={}", plane_dir(state).join("logs").display());
}

/// The pid file of the process node (`--real-ray`).
const PROCESS_NODE_PID: &str = "process-node.pid";
/// How long the process node may take to stop its pods.
const PROCESS_NODE_GRACE: Duration = Duration::from_secs(45);

fn up(state: &Path, real_ray: bool) -> Result<()> {
    std::fs::create_dir_all(state)?;
    let state = state.canonicalize()?;
    let bins = Binaries::ensure_built()?;
    let pids = recorded_pids(&state);
    let has_node = pid_dir(&state).join(PROCESS_NODE_PID).exists();
    let expected = Component::ALL.len() + usize::from(real_ray);
    if pids.len() == expected && has_node == real_ray && pids.iter().all(|(_, pid)| pid_alive(*pid))
    {
        eprintln!(
            "rayop-local: control plane already running (pids in {})",
            pid_dir(&state).display()
        );
        print_result(&state, &bins);
        return Ok(());
    }
    if !pids.is_empty() {
        eprintln!("rayop-local: a previous plane is partly running; stopping it first");
        down(&state)?;
    }
    let dir = plane_dir(&state);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let plane = rt.block_on(ControlPlane::start(
        &dir,
        bins.clone(),
        Lifetime::Detached,
        false,
    ))?;
    let url = plane.apiserver_url();
    std::fs::create_dir_all(pid_dir(&state))?;
    if real_ray {
        eprintln!("rayop-local: starting the process node (real Ray; first run builds it) …");
        if let Err(e) = rt.block_on(plane.start_process_node()) {
            plane.stop_all();
            return Err(e);
        }
        if let Some(pid) = plane.detach_process_node() {
            std::fs::write(pid_dir(&state).join(PROCESS_NODE_PID), format!("{pid}\n"))?;
        }
    }
    for (component, pid) in plane.detach() {
        let file = pid_dir(&state).join(format!("{}.pid", component.name()));
        std::fs::write(&file, format!("{pid}\n"))?;
    }
    eprintln!(
        "rayop-local: control plane ready in {:.1}s at {url} (logs in {})",
        started.elapsed().as_secs_f64(),
        dir.join("logs").display()
    );
    print_result(&state, &bins);
    Ok(())
}

fn down(state: &Path) -> Result<()> {
    let pids = recorded_pids(state);
    if pids.is_empty() {
        eprintln!(
            "rayop-local: nothing recorded in {}; nothing to stop",
            pid_dir(state).display()
        );
        return Ok(());
    }
    // The process node first, while the API server still answers: its
    // pods get their grace period and it removes what it made.
    let node_file = pid_dir(state).join(PROCESS_NODE_PID);
    if let Some((_, pid)) = pids.iter().find(|(f, _)| *f == node_file)
        && runs_program(*pid, "rayop-process-node")
    {
        stop_pid(*pid, PROCESS_NODE_GRACE);
        eprintln!("rayop-local: stopped rayop-process-node (pid {pid})");
    }
    // Stop in reverse start order: kwok, scheduler, controller-manager,
    // apiserver, etcd.
    for component in Component::ALL.iter().rev() {
        let file = pid_dir(state).join(format!("{}.pid", component.name()));
        if let Some((_, pid)) = pids.iter().find(|(f, _)| *f == file) {
            // A stale pid file (after a reboot, say) may name a pid that now
            // belongs to something else: only stop a process running our binary.
            if runs_component(*pid, *component) {
                stop_pid(*pid, Duration::from_secs(5));
                eprintln!("rayop-local: stopped {} (pid {pid})", component.name());
            }
        }
    }
    for (file, pid) in &pids {
        let ours = Component::ALL.iter().any(|c| runs_component(*pid, *c))
            || runs_program(*pid, "rayop-process-node");
        if ours && pid_alive(*pid) {
            bail!("pid {pid} from {} is still alive", file.display());
        }
        std::fs::remove_file(file)?;
    }
    Ok(())
}

/// Whether `pid` is alive and runs `component`'s binary.
fn runs_component(pid: u32, component: Component) -> bool {
    runs_program(pid, component.name())
}

/// Whether `pid` is alive and its program's file name is `name`.
fn runs_program(pid: u32, name: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    pid_alive(pid) && Path::new(&*String::from_utf8_lossy(argv0)).ends_with(name)
}
