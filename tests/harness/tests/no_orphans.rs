//! Proves the teardown invariant: when a process that started the shared
//! control plane ends — by a panic, or by SIGKILL — every component process
//! ends too. Each case runs `testenv-orphan-probe` (a program that starts the
//! plane exactly as a test binary does and prints the components' pids),
//! makes it end, and checks every pid.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rayop_testenv::process::pid_alive;

const PROBE: &str = env!("CARGO_BIN_EXE_testenv-orphan-probe");

const COMPONENTS: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

/// Starts the probe and returns it with the `(component, pid)` lines it
/// printed before `READY`.
fn start_probe(mode: &str) -> Result<(Child, Vec<(String, u32)>)> {
    let mut child = Command::new(PROBE)
        .arg(mode)
        // Always a plane of its own, even when the suite targets a cluster.
        .env_remove("RAYOP_TEST_KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting testenv-orphan-probe")?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut pids = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "READY" {
                let _ = tx.send(Some(pids));
                return;
            }
            if let Some((name, pid)) = line.split_once(' ')
                && let Ok(pid) = pid.parse::<u32>()
            {
                pids.push((name.to_string(), pid));
            }
        }
        let _ = tx.send(None);
    });
    match rx.recv_timeout(Duration::from_secs(600)) {
        Ok(Some(mut pids)) => {
            pids.sort();
            let names: Vec<&str> = pids.iter().map(|(n, _)| n.as_str()).collect();
            ensure!(names == COMPONENTS, "unexpected components {names:?}");
            Ok((child, pids))
        }
        other => {
            let _ = child.kill();
            bail!("the probe did not report a ready plane: {other:?}")
        }
    }
}

/// Waits (bounded) until none of `pids` is alive; the kernel delivers the
/// parent-death signal asynchronously.
fn all_gone(pids: &[(String, u32)]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alive: Vec<_> = pids.iter().filter(|(_, pid)| pid_alive(*pid)).collect();
        if alive.is_empty() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "components still running after their parent ended: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn components_die_when_the_test_process_panics() -> Result<()> {
    let (mut child, pids) = start_probe("panic")?;
    let status = child.wait()?;
    assert_eq!(status.code(), Some(101), "exit code of a Rust panic");
    all_gone(&pids)
}

#[test]
fn components_die_when_the_test_process_is_killed() -> Result<()> {
    let (mut child, pids) = start_probe("wait")?;
    for (name, pid) in &pids {
        assert!(
            pid_alive(*pid),
            "{name} ({pid}) not running while the probe runs"
        );
    }
    child.kill()?; // SIGKILL: no Rust code runs, no destructor, no atexit.
    child.wait()?;
    all_gone(&pids)
}
