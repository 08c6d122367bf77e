//! Component processes: spawning with logs to a file, stopping, log tails.
//!
//! Two lifetimes exist:
//! - [`Lifetime::TiedToTestProcess`] (what tests use): the child gets the
//!   Linux parent-death signal SIGKILL. The kernel sends it when the *thread*
//!   that forked the child ends, so all such children are forked from one
//!   dedicated thread that lives until the process exits (see
//!   `spawner`). Whatever way the test process ends — normal exit, a
//!   panic, SIGKILL — the kernel kills every component, leaving no orphans,
//!   even though Rust never drops statics.
//! - [`Lifetime::Detached`] (what `deploy/local/up.sh` uses): the child gets
//!   its own session and outlives the program that started it; `down.sh`
//!   stops it by the pid written to a file.
//!
//! Invariants: stdin is `/dev/null`; stdout and stderr are appended to one
//! log file per component; a [`Process`] that is dropped kills and reaps its
//! child (a detached one is left running on purpose).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

/// How long a started component lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Killed by the kernel when the process that started it ends.
    TiedToTestProcess,
    /// Runs in its own session until stopped explicitly.
    Detached,
}

/// A running component: its child, log file and [`Lifetime`]; stop it with [`Process::stop`].
#[derive(Debug)]
pub struct Process {
    name: String,
    log: PathBuf,
    child: Option<Child>,
    pid: u32,
    lifetime: Lifetime,
}

impl Process {
    /// Starts `program args…` with output appended to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
        lifetime: Lifetime,
    ) -> Result<Process> {
        Self::spawn_with(name, program, args, log, lifetime, sys::DeathSignal::Kill)
    }

    /// Like [`Process::spawn`], but a child tied to the test process gets
    /// SIGTERM, not SIGKILL, when the test process ends: for a component that
    /// must clean up after itself (the process node's pods and namespaces).
    pub fn spawn_graceful(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
        lifetime: Lifetime,
    ) -> Result<Process> {
        Self::spawn_with(name, program, args, log, lifetime, sys::DeathSignal::Term)
    }

    fn spawn_with(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
        lifetime: Lifetime,
        death: sys::DeathSignal,
    ) -> Result<Process> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening log {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = match lifetime {
            Lifetime::TiedToTestProcess => {
                sys::die_with_parent(&mut cmd, death);
                spawner::spawn(cmd)?
            }
            Lifetime::Detached => {
                sys::new_session(&mut cmd);
                cmd.spawn()
            }
        }
        .with_context(|| format!("starting {name} ({})", program.display()))?;
        Ok(Process {
            name: name.to_string(),
            log: log.to_path_buf(),
            pid: child.id(),
            child: Some(child),
            lifetime,
        })
    }

    /// The component's name (`etcd`, `kube-apiserver`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id; [`Process::release`] returns it too, for a detached component.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its log file: stdout and stderr together, opened for append.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// `Some(description)` when the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Ok(None)) => None,
            Some(Err(e)) => Some(format!("unknown state: {e}")),
            None => Some("stopped".to_string()),
        }
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// Stops it: SIGTERM, then SIGKILL after `grace`; reaps it.
    pub fn stop(&mut self, grace: Duration) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        sys::terminate(self.pid);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Forgets the child without stopping it (detached components outlive us).
    pub fn release(mut self) -> u32 {
        self.child = None;
        self.pid
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.lifetime == Lifetime::TiedToTestProcess
            && let Some(mut child) = self.child.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The last `lines` lines of a log file (reads at most its last 64 KiB).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Sends SIGTERM to `pid`, then SIGKILL if it is still alive after `grace`.
/// For processes this program did not start (pid files of `down.sh`).
pub fn stop_pid(pid: u32, grace: Duration) {
    if !pid_alive(pid) {
        return;
    }
    sys::terminate(pid);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pid_alive(pid) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if pid_alive(pid) {
        sys::kill(pid);
    }
}

/// The one long-lived thread that forks every [`Lifetime::TiedToTestProcess`]
/// child, because the parent-death signal follows the forking thread, not the
/// process: a child forked from a short-lived thread (a tokio blocking-pool
/// thread, say) would be killed when that thread ends.
mod spawner {
    use super::*;

    type Job = Box<dyn FnOnce() + Send>;

    fn queue() -> Result<&'static Mutex<mpsc::Sender<Job>>> {
        static QUEUE: OnceLock<std::result::Result<Mutex<mpsc::Sender<Job>>, String>> =
            OnceLock::new();
        QUEUE
            .get_or_init(|| {
                let (tx, rx) = mpsc::channel::<Job>();
                std::thread::Builder::new()
                    .name("rayop-testenv-spawner".into())
                    // The sender lives in a static and is never dropped, so
                    // this loop (and the thread) lasts until the process exits.
                    .spawn(move || rx.into_iter().for_each(|job| job()))
                    .map(|_| Mutex::new(tx))
                    .map_err(|e| format!("starting the spawner thread: {e}"))
            })
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    /// Spawns `cmd` on the spawner thread.
    pub(super) fn spawn(mut cmd: Command) -> Result<std::io::Result<Child>> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(cmd.spawn());
        });
        queue()?
            .lock()
            .map_err(|_| anyhow!("spawner queue poisoned"))?
            .send(job)
            .map_err(|_| anyhow!("spawner thread is gone"))?;
        rx.recv()
            .map_err(|_| anyhow!("spawner thread dropped a job"))
    }
}

/// Thin wrappers over the few libc calls needed; the only `unsafe` code in the
/// crate.
#[allow(unsafe_code)]
mod sys {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// The signal a child tied to the test process gets when it ends.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum DeathSignal {
        Kill,
        Term,
    }

    /// Makes the child receive `death` when the thread that forked it ends.
    ///
    /// Between fork and exec the closure calls only `prctl`, `getppid` and
    /// `_exit`, which are async-signal-safe, as `pre_exec` requires. If the
    /// parent already died before `prctl` took effect, the child would be
    /// orphaned without a signal, so it checks its parent and exits instead.
    pub(super) fn die_with_parent(cmd: &mut Command, death: DeathSignal) {
        let parent = std::process::id();
        let signal = match death {
            DeathSignal::Kill => libc::SIGKILL,
            DeathSignal::Term => libc::SIGTERM,
        };
        // SAFETY: see above; no allocation, no locks, only async-signal-safe calls.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }

    /// Puts the child in a new session, detached from our terminal and
    /// process group, so it survives the script that started it.
    pub(super) fn new_session(cmd: &mut Command) {
        // SAFETY: `setsid` is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    pub(super) fn terminate(pid: u32) {
        signal(pid, libc::SIGTERM);
    }

    pub(super) fn kill(pid: u32) {
        signal(pid, libc::SIGKILL);
    }

    fn signal(pid: u32, sig: libc::c_int) {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return;
        };
        if pid > 0 {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_logs_tail_and_stop() {
        let dir = std::env::temp_dir().join(format!("rayop-testenv-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("sh.log");
        let mut p = Process::spawn(
            "sh",
            Path::new("/bin/sh"),
            &["-c".into(), "echo one; echo two; exec sleep 30".into()],
            &log,
            Lifetime::TiedToTestProcess,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !p.log_tail(5).contains("two") {
            assert!(Instant::now() < deadline, "log never showed output");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(p.log_tail(1), "two");
        assert!(pid_alive(p.pid()));
        assert!(p.exited().is_none());
        p.stop(Duration::from_secs(5)).unwrap();
        assert!(!pid_alive(p.pid()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pid_alive_is_false_for_reaped_child() {
        let mut c = Command::new("/bin/true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        assert!(!pid_alive(pid));
        assert!(pid_alive(std::process::id()));
    }
}
