//! The operator under test: a shell command, run with `exec` so that its pid
//! is the operator's own, and its memory and CPU read from `/proc/<pid>`.
//!
//! Invariant: stopping it stops every process it started too, so a wrapper
//! that forks (a profiler's launcher script) leaves no operator running.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rayop_testenv::process::pid_alive;
use tokio::process::{Child, Command};

/// Peak and current memory and CPU time of a process, from `/proc`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Usage {
    /// `VmHWM`: peak resident set size, in KiB.
    pub peak_rss_kib: u64,
    /// `VmRSS`: current resident set size, in KiB.
    pub rss_kib: u64,
    /// `utime + stime` from `/proc/<pid>/stat`, in seconds.
    pub cpu_seconds: f64,
}

/// A running operator, killed when dropped.
pub struct Operator {
    child: Child,
    pid: u32,
    clock_ticks: f64,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

/// Fills `{kubeconfig}`, `{journal}` and `{namespace}` into `template`.
pub fn render(template: &str, kubeconfig: &Path, journal: &Path, namespace: &str) -> String {
    template
        .replace("{kubeconfig}", &kubeconfig.display().to_string())
        .replace("{journal}", &journal.display().to_string())
        .replace("{namespace}", namespace)
}

impl Operator {
    /// Starts `sh -c "exec <command>"` with `KUBECONFIG` set, logging to `log`.
    pub fn start(command: &str, kubeconfig: &Path, log: &Path) -> Result<Operator> {
        let out = std::fs::File::create(log)
            .with_context(|| format!("creating the operator log {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .env("KUBECONFIG", kubeconfig)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting the operator: {command}"))?;
        let pid = child.id().context("the operator exited at once")?;
        Ok(Operator {
            child,
            pid,
            clock_ticks: clock_ticks(),
            log: log.to_path_buf(),
        })
    }

    /// The operator's pid: the `sh -c exec` child, which became the operator.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Fails when the operator has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the operator exited ({status}); see {}", self.log.display());
        }
        Ok(())
    }

    /// Its memory and CPU so far.
    pub fn usage(&self) -> Result<Usage> {
        usage(self.pid, self.clock_ticks)
    }

    /// SIGTERM to the operator and every process under it, then SIGKILL to
    /// whatever is left after `grace`.
    pub async fn stop(mut self, grace: Duration) -> Result<()> {
        let mut tree = descendants(self.pid);
        tree.insert(0, self.pid);
        signal(&tree, "TERM");
        let deadline = tokio::time::Instant::now() + grace;
        if tokio::time::timeout_at(deadline, self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await.context("killing the operator")?;
        }
        // Processes under a wrapper are not our children: poll until they go.
        let mut left: Vec<u32> = tree.into_iter().filter(|p| pid_alive(*p)).collect();
        while !left.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            left.retain(|p| pid_alive(*p));
        }
        signal(&left, "KILL");
        Ok(())
    }
}

/// Sends `sig` to each of `pids` (those already gone are skipped by `kill`).
fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// The parent pid from a `/proc/<pid>/stat` line.
fn parent_pid(stat: &str) -> Option<u32> {
    // The command name is in parentheses and may hold spaces: split after it;
    // the state comes first, then the parent pid.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every process below `root`, parents before children.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some(ppid) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .as_deref()
                .and_then(parent_pid)
            {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Reads `/proc/<pid>/status` (memory, KiB) and `/proc/<pid>/stat` (CPU ticks over `clock_ticks`).
pub fn usage(pid: u32, clock_ticks: f64) -> Result<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses:
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after ")".
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Usage {
        peak_rss_kib: kib("VmHWM:"),
        rss_kib: kib("VmRSS:"),
        cpu_seconds: (ticks(11) + ticks(12)) as f64 / clock_ticks,
    })
}

/// Total size in bytes of the files under `dir` (0 when it does not exist).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_usage() {
        let u = usage(std::process::id(), 100.0).unwrap();
        assert!(u.peak_rss_kib > 0 && u.rss_kib > 0);
    }

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let line = "42 (tokio runtime) S 7 42 42 0 -1 4194560";
        assert_eq!(parent_pid(line), Some(7));
        assert_eq!(parent_pid("garbage"), None);
    }

    #[tokio::test]
    async fn stop_also_ends_what_a_wrapper_started() {
        let dir = tempfile::tempdir().unwrap();
        // A wrapper that forks its "operator" and waits, as a profiler's
        // launcher does; SIGTERM ends the wrapper but not its child.
        let op = Operator::start(
            "sh -c 'sleep 300 & wait'",
            Path::new("/nonexistent"),
            &dir.path().join("log"),
        )
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let sleeper = loop {
            if let Some(&pid) = descendants(op.pid()).last() {
                break pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the child never started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(pid_alive(sleeper));
        op.stop(Duration::from_secs(10)).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while pid_alive(sleeper) {
            assert!(
                std::time::Instant::now() < deadline,
                "pid {sleeper} outlived stop"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn renders_placeholders() {
        let s = render(
            "op --kubeconfig {kubeconfig} --journal {journal} -n {namespace}",
            Path::new("/k"),
            Path::new("/j"),
            "ns",
        );
        assert_eq!(s, "op --kubeconfig /k --journal /j -n ns");
    }
}
