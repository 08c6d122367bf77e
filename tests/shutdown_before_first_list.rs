//! A shutdown that arrives before the first RayCluster list completes still
//! ends the operator: an unreachable API server at start-up, or a Lease
//! lost while the leader was starting (the CI failure of stop 11, where a
//! paused leader resumed, stepped down, and then hung for good).
//!
//! No control plane is needed: the API server is a loopback port nothing
//! listens on, so the first list never completes.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::Read as _,
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail, ensure};
use rayop::{
    controller::{self, Handles, Settings},
    journaling::JournalHandle,
};

/// Longer than any graceful stop takes; a hang fails here instead of forever.
const DEADLINE: Duration = Duration::from_secs(60);

/// A loopback address where nothing listens.
fn closed_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_returns_when_shut_down_before_the_first_list() -> Result<()> {
    let url = format!("http://127.0.0.1:{}", closed_port()?);
    let client = kube::Client::try_from(kube::Config::new(url.parse()?))?;
    let dir = tempfile::tempdir()?;
    let (journal, _) = JournalHandle::open(dir.path(), rayop_journal::Options::default())?;
    let handles = Handles::new(Arc::new(journal));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(controller::run(
        client,
        Settings {
            namespaces: vec!["a".into(), "b".into()],
            ..Settings::default()
        },
        handles.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let _ = stop.send(());
    tokio::time::timeout(DEADLINE, run)
        .await
        .context("controller::run still running after the stop")??;
    ensure!(
        !handles.health.caches_synced(),
        "never claimed to be synced"
    );
    Ok(())
}

fn kubeconfig_for(dir: &Path, port: u16) -> Result<std::path::PathBuf> {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: nowhere\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: nowhere\n  context:\n    cluster: nowhere\n    user: nobody\ncurrent-context: nowhere\nusers:\n- name: nobody\n  user: {{}}\n"
        ),
    )?;
    Ok(path)
}

/// Waits for `child` to exit, polling, up to [`DEADLINE`].
fn wait_exit(child: &mut Child) -> Result<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            bail!("rayop still running {DEADLINE:?} after SIGTERM");
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_ends_rayop_run_when_the_api_server_was_never_reached() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let kubeconfig = kubeconfig_for(dir.path(), closed_port()?)?;
    let log_path = dir.path().join("rayop.log");
    let log = std::fs::File::create(&log_path)?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rayop"))
        .args([
            "run",
            "--namespace",
            "nowhere",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--journal")
        .arg(dir.path().join("journal"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let read_log = || -> Result<String> {
        let mut text = String::new();
        std::fs::File::open(&log_path)?.read_to_string(&mut text)?;
        Ok(text)
    };
    // Polled until the controller has started; its first list cannot complete.
    let started = Instant::now();
    while !read_log()?.contains("controller starting") {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            bail!("the controller never started:\n{}", read_log()?);
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
    let sent = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()?;
    ensure!(sent.success(), "SIGTERM sent");
    let status = wait_exit(&mut child)?;
    let log = read_log()?;
    ensure!(status.success(), "exit 0 after SIGTERM ({status}):\n{log}");
    ensure!(
        log.contains("before the first RayCluster list"),
        "says why nothing was finished:\n{log}"
    );
    Ok(())
}
