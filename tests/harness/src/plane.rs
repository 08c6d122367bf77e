//! One running control plane: start-up in dependency order with readiness
//! checks, restarts for chaos tests, and teardown.
//!
//! Start order: etcd → kube-apiserver → fake Nodes → kube-controller-manager,
//! kube-scheduler and kwok (started together, then awaited one by one).
//! Each component must pass its readiness probe before its deadline; if it
//! does not, or if it exits first, start-up fails with the component's last
//! log lines. A start-up that failed because a port was taken in the meantime
//! is retried with fresh ports.
//!
//! Invariants: the processes are owned by the [`ControlPlane`] (behind a
//! mutex that is never held across an `.await`); dropping the plane stops
//! them (unless they were [`ControlPlane::detach`]ed), and for planes of the
//! test lifetime the kernel stops them anyway when the test process ends.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use kube::Client;

use crate::binaries::Binaries;
use crate::components::{self, Component, Layout, Ports};
use crate::process::{Lifetime, Process};
use crate::process_node::ProcessNode;

/// How many log lines a start-up error shows.
const LOG_TAIL_LINES: usize = 40;
/// How long a stopped component may take to exit after SIGTERM before it is
/// killed. Short: kube-apiserver and etcd otherwise wait for long-running
/// watches to close, and nothing here needs a clean shutdown.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Start-up attempts when a port turned out to be taken.
const PORT_ATTEMPTS: usize = 3;
/// How long a component may take to become ready. Generous: the machine has
/// two cores and other builds may run beside the tests.
fn ready_timeout(c: Component) -> Duration {
    Duration::from_secs(match c {
        Component::Etcd => 60,
        Component::ApiServer => 180,
        Component::ControllerManager | Component::Scheduler | Component::Kwok => 120,
    })
}

/// A running local control plane; unless detached, dropping it stops every component.
#[derive(Debug)]
pub struct ControlPlane {
    layout: Layout,
    ports: Ports,
    binaries: Binaries,
    lifetime: Lifetime,
    procs: Mutex<[Option<Process>; 5]>,
    /// The second scheduler and its `/healthz` port, once started.
    batch_schedulers: Mutex<Option<(Process, u16)>>,
    /// The process node, once started.
    process_node: tokio::sync::Mutex<Option<ProcessNode>>,
    remove_dir_on_drop: bool,
}

impl ControlPlane {
    /// Starts a plane whose files live in `dir` (created; should be empty).
    /// `remove_dir_on_drop` deletes `dir` when the plane is dropped.
    pub async fn start(
        dir: &Path,
        binaries: Binaries,
        lifetime: Lifetime,
        remove_dir_on_drop: bool,
    ) -> Result<ControlPlane> {
        std::fs::create_dir_all(dir)?;
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)?;
        let certs = crate::certs::generate(&dir.join("pki"))?;
        let layout = Layout {
            dir: dir.to_path_buf(),
            certs,
            kubeconfig: dir.join("kubeconfig"),
            logs,
            etcd_data: dir.join("etcd"),
        };
        let mut attempt = 1;
        loop {
            let mut plane = ControlPlane {
                layout: layout.clone(),
                ports: Ports::free()?,
                binaries: binaries.clone(),
                lifetime,
                procs: Mutex::new(Default::default()),
                batch_schedulers: Mutex::new(None),
                process_node: tokio::sync::Mutex::new(None),
                remove_dir_on_drop,
            };
            crate::kubeconfig::write_admin(
                &layout.kubeconfig,
                plane.ports.apiserver,
                &layout.certs,
            )?;
            let Err(e) = plane.start_all().await else {
                return Ok(plane);
            };
            // Stop what did start, whatever its lifetime: a failed start-up
            // must not leave detached components behind either.
            plane.stop_all();
            if attempt >= PORT_ATTEMPTS || !is_port_clash(&e) {
                return Err(e);
            }
            eprintln!("rayop-testenv: a port was taken, retrying with fresh ports: {e:#}");
            // Keep the directory for the next attempt; only etcd's data is
            // per attempt.
            plane.remove_dir_on_drop = false;
            drop(plane);
            let _ = std::fs::remove_dir_all(&layout.etcd_data);
            attempt += 1;
        }
    }

    async fn start_all(&self) -> Result<()> {
        self.start_and_wait(Component::Etcd).await?;
        self.start_and_wait(Component::ApiServer).await?;
        let client = self.client().await?;
        crate::nodes::create_fake_nodes(&client).await?;
        for c in [
            Component::ControllerManager,
            Component::Scheduler,
            Component::Kwok,
        ] {
            self.spawn(c)?;
        }
        for c in [
            Component::ControllerManager,
            Component::Scheduler,
            Component::Kwok,
        ] {
            self.wait_ready(c).await?;
        }
        Ok(())
    }

    /// The admin kubeconfig (system:masters), also used by the components themselves.
    pub fn kubeconfig(&self) -> &Path {
        &self.layout.kubeconfig
    }

    /// The plane's directory (certificates, kubeconfig, logs, etcd data).
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// The built binaries the plane runs (and `kubectl`).
    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// The kube-apiserver URL, `https://127.0.0.1:<port>`.
    pub fn apiserver_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.ports.apiserver)
    }

    /// The log file of a component.
    pub fn log_path(&self, c: Component) -> PathBuf {
        self.layout.log(c)
    }

    /// A fresh admin client bound to the calling tokio runtime.
    pub async fn client(&self) -> Result<Client> {
        crate::kubeconfig::client(&self.layout.kubeconfig).await
    }

    /// The pids of the running components.
    pub fn pids(&self) -> Vec<(Component, u32)> {
        match self.procs() {
            Ok(procs) => Component::ALL
                .iter()
                .zip(procs.iter())
                .filter_map(|(c, p)| p.as_ref().map(|p| (*c, p.pid())))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Stops kube-apiserver and starts it again on the same port, waiting
    /// until it is ready. Clients reconnect by themselves.
    pub async fn restart_apiserver(&self) -> Result<()> {
        self.stop(Component::ApiServer)?;
        self.start_and_wait(Component::ApiServer).await
    }

    /// Stops etcd (the API server stays up but cannot serve storage).
    pub fn stop_etcd(&self) -> Result<()> {
        self.stop(Component::Etcd)
    }

    /// Starts etcd again on the same data and port, waiting until it is ready.
    pub async fn start_etcd(&self) -> Result<()> {
        self.start_and_wait(Component::Etcd).await
    }

    /// Stops one component (SIGTERM, then SIGKILL after a short grace period).
    pub fn stop(&self, c: Component) -> Result<()> {
        let taken = self.procs()?[c as usize].take();
        if let Some(mut p) = taken {
            p.stop(STOP_GRACE)?;
        }
        Ok(())
    }

    /// Starts the second kube-scheduler of [`crate::batch_schedulers`] (once
    /// per plane; later calls only wait for it) and waits until it is ready.
    pub async fn start_batch_schedulers(&self) -> Result<()> {
        let port = {
            let mut slot = self
                .batch_schedulers
                .lock()
                .map_err(|_| anyhow!("batch-scheduler slot poisoned"))?;
            match slot.as_mut() {
                Some((process, port)) => {
                    if let Some(status) = process.exited() {
                        bail!("the batch-scheduler kube-scheduler exited ({status})");
                    }
                    *port
                }
                None => {
                    let [port] = crate::ports::free_ports::<1>()?;
                    let config = crate::batch_schedulers::write_config(&self.layout)?;
                    let process = Process::spawn(
                        crate::batch_schedulers::NAME,
                        &self.binaries.kube_scheduler,
                        &crate::batch_schedulers::args(&self.layout, &config, port),
                        &self.batch_schedulers_log(),
                        self.lifetime,
                    )?;
                    *slot = Some((process, port));
                    port
                }
            }
        };
        let deadline = Instant::now() + ready_timeout(Component::Scheduler);
        loop {
            let why = match components::healthz(&self.layout, port).await {
                Ok(()) => return Ok(()),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "the batch-scheduler kube-scheduler is not ready (last probe: {why}); last lines of {}:\n{}",
                    self.batch_schedulers_log().display(),
                    crate::process::log_tail(&self.batch_schedulers_log(), LOG_TAIL_LINES)
                );
            }
            // Pause between polls; the deadline above bounds the wait.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The log file of the second scheduler.
    pub fn batch_schedulers_log(&self) -> PathBuf {
        self.layout
            .logs
            .join(format!("{}.log", crate::batch_schedulers::NAME))
    }

    /// Starts the process node (once per plane; later calls check it still
    /// runs) and cordons the fake nodes: pods created from now on run as
    /// real processes. See [`crate::process_node`].
    pub async fn start_process_node(&self) -> Result<()> {
        let mut slot = self.process_node.lock().await;
        if slot.is_none() {
            let client = self.client().await?;
            let node = ProcessNode::start(
                &client,
                &self.layout.kubeconfig,
                self.ports.apiserver,
                &self.layout.dir.join("process-node"),
                self.lifetime,
            )
            .await?;
            *slot = Some(node);
        }
        Ok(())
    }

    /// Leaves the process node running beyond this value (for
    /// [`Lifetime::Detached`] planes) and returns its pid, if it runs.
    pub fn detach_process_node(&self) -> Option<u32> {
        self.process_node
            .try_lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .map(ProcessNode::release)
    }

    /// The process node's log file, once started.
    pub fn process_node_log(&self) -> PathBuf {
        self.layout.dir.join("process-node/process-node.log")
    }

    /// Stops every component, in reverse start order.
    pub fn stop_all(&self) {
        if let Ok(mut slot) = self.process_node.try_lock()
            && let Some(node) = slot.take()
        {
            let _ = node.stop();
        }
        if let Ok(mut slot) = self.batch_schedulers.lock()
            && let Some((mut process, _)) = slot.take()
        {
            let _ = process.stop(STOP_GRACE);
        }
        for c in Component::ALL.iter().rev() {
            let _ = self.stop(*c);
        }
    }

    /// Leaves the components running beyond this value (for
    /// [`Lifetime::Detached`] planes) and returns their pids.
    pub fn detach(self) -> Vec<(Component, u32)> {
        let mut out = Vec::new();
        if let Ok(mut slot) = self.batch_schedulers.lock()
            && let Some((process, _)) = slot.take()
        {
            out.push((Component::Scheduler, process.release()));
        }
        if let Ok(mut procs) = self.procs() {
            for (c, slot) in Component::ALL.iter().zip(procs.iter_mut()) {
                if let Some(p) = slot.take() {
                    out.push((*c, p.release()));
                }
            }
        }
        out
    }

    fn procs(&self) -> Result<MutexGuard<'_, [Option<Process>; 5]>> {
        self.procs
            .lock()
            .map_err(|_| anyhow!("control-plane process table poisoned"))
    }

    fn spawn(&self, c: Component) -> Result<()> {
        let args = components::args(c, &self.layout, &self.ports, &self.binaries);
        let p = Process::spawn(
            c.name(),
            c.program(&self.binaries),
            &args,
            &self.layout.log(c),
            self.lifetime,
        )?;
        let old = self.procs()?[c as usize].replace(p);
        if let Some(mut old) = old {
            old.stop(STOP_GRACE)?;
        }
        Ok(())
    }

    async fn start_and_wait(&self, c: Component) -> Result<()> {
        self.spawn(c)?;
        self.wait_ready(c).await
    }

    /// Polls `c`'s readiness probe until it passes, `c` exits, or its
    /// deadline passes.
    async fn wait_ready(&self, c: Component) -> Result<()> {
        let timeout = ready_timeout(c);
        let deadline = Instant::now() + timeout;
        let log = self.layout.log(c);
        let tail = || crate::process::log_tail(&log, LOG_TAIL_LINES);
        loop {
            let exited = self.procs()?[c as usize]
                .as_mut()
                .map_or(Some("not started".to_string()), Process::exited);
            if let Some(status) = exited {
                bail!(
                    "{} exited ({status}) before it was ready; last lines of {}:\n{}",
                    c.name(),
                    log.display(),
                    tail()
                );
            }
            let why = match tokio::time::timeout(
                Duration::from_secs(5),
                components::probe(c, &self.layout, &self.ports),
            )
            .await
            {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => format!("{e:#}"),
                Err(_) => "readiness probe timed out".to_string(),
            };
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready after {timeout:?} (last probe: {why}); last lines of {}:\n{}",
                    c.name(),
                    log.display(),
                    tail()
                );
            }
            // Pause between polls; the deadline above bounds the wait.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if self.lifetime == Lifetime::TiedToTestProcess {
            self.stop_all();
            if self.remove_dir_on_drop {
                let _ = std::fs::remove_dir_all(&self.layout.dir);
            }
        }
    }
}

fn is_port_clash(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    text.contains("address already in use") || text.contains("bind: ")
}
