//! The operator under test: a shell command, run with `exec` so that its pid
//! is the operator's own, and its memory and CPU read from `/proc/<pid>`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

/// Peak and current memory and CPU time of a process, from `/proc`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Usage {
    /// `VmHWM`: peak resident set size, in KiB.
    pub peak_rss_kib: u64,
    /// `VmRSS`: current resident set size, in KiB.
    pub rss_kib: u64,
    /// `utime + stime`, in seconds.
    pub cpu_seconds: f64,
}

/// A running operator.
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

    /// The operator's pid.
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

    /// SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) -> Result<()> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await.context("killing the operator")?;
        }
        Ok(())
    }
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/stat`.
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
