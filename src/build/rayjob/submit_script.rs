//! The bash script the submitter runs (K8sJobMode's Job, SidecarMode's head
//! container): wait for the dashboard, submit once, follow the logs.
//!
//! Shape (one line per step, run by `/bin/bash -ce --`):
//! 1. `until python -c '<GET …/api/gcs_healthz, exit 0 iff the body says success>' <url> >/dev/null 2>&1 ; do echo … ; sleep 2 ; done`
//!    (Python, because slim Ray images have no curl or wget);
//! 2. `if ! ray job status --address <addr> <id> >/dev/null 2>&1 ; then`
//!    `ray job submit --address <addr> --no-wait [--runtime-env-json <json>] [--metadata-json <json>] --submission-id <id> [--entrypoint-num-cpus <n>] [--entrypoint-num-gpus <n>] [--entrypoint-resources <json>] -- <entrypoint>`
//! 3. `fi ; ray job logs --address <addr> --follow <id>`.
//!
//! Invariants:
//! - **Submitted at most once per id.** A restarted submitter (a new Job
//!   pod, a restarted container) finds the id known and only re-attaches to
//!   the logs. rayop uses this guard in SidecarMode too (KubeRay only under
//!   its `SidecarSubmitterRestart` gate): rayop's head is a StatefulSet pod,
//!   whose containers restart.
//! - **Only the entrypoint is shell text.** It goes in unquoted after `--`,
//!   as in KubeRay (its quotes and `$VARS` are the shell's); it ends its own
//!   line, so a `#` comment in it cannot swallow the `fi`. Every other value
//!   is one inert word: bare when [`is_shell_safe`], else single-quoted
//!   ([`single_quote`]).
//! - Amounts have 6 decimals (`1.500000`), as KubeRay prints them.

use super::{JobBuildError, submission::JobSubmission};
use crate::{
    build::shell_quote::single_quote,
    crd::{auth::ray_version_at_least, rayjob::RayJob, validation::is_shell_safe},
};

/// The oldest Ray whose `ray job submit` takes `--metadata-json`.
pub const METADATA_MIN_RAY: (u64, u64, u64) = (2, 6, 0);
/// The dashboard's GCS health path.
pub const GCS_HEALTH_PATH: &str = "/api/gcs_healthz";
/// Address of the dashboard from inside the head pod (SidecarMode).
pub const LOCAL_DASHBOARD_HOST: &str = "127.0.0.1";
/// The health check: GET `sys.argv[1]` with a 10 s timeout, exit 0 iff the
/// body contains `success`.
const HEALTH_CHECK: &str = "import sys, urllib.request; \
sys.exit(0 if b\"success\" in urllib.request.urlopen(sys.argv[1], timeout=10).read() else 1)";

/// Where the submitter reaches the dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DashboardTarget<'a> {
    /// Through the head Service: `host:port` (no scheme), as
    /// [`super::cluster::dashboard_address`] gives it.
    Service(&'a str),
    /// In the head pod itself (SidecarMode), on this port.
    Local(u16),
}

impl DashboardTarget<'_> {
    /// The dashboard's base URL, `http://<host>:<port>`.
    #[must_use]
    pub fn url(self) -> String {
        match self {
            Self::Service(address) => format!("http://{address}"),
            Self::Local(port) => format!("http://{LOCAL_DASHBOARD_HOST}:{port}"),
        }
    }
}

/// The script submitting `attempt` of `job` to the dashboard at `target`.
///
/// # Errors
/// Those of [`JobSubmission::of`], and [`JobBuildError::MetadataNeedsNewerRay`]
/// when `metadata` is set and `rayClusterSpec.rayVersion` is older than
/// 2.6.0.
pub fn submit_script(
    job: &RayJob,
    attempt: u32,
    target: DashboardTarget<'_>,
) -> Result<String, JobBuildError> {
    let submission = JobSubmission::of(job, attempt)?;
    if submission.metadata.is_some()
        && let Some(version) = job
            .spec
            .ray_cluster_spec
            .as_ref()
            .map(|c| c.ray_version.as_str())
            .filter(|v| !v.is_empty())
        && ray_version_at_least(version, METADATA_MIN_RAY) == Ok(false)
    {
        return Err(JobBuildError::MetadataNeedsNewerRay(version.to_owned()));
    }
    Ok(render(&submission, &target.url()))
}

/// One word that bash reads back as `value`.
fn word(value: &str) -> String {
    if is_shell_safe(value) {
        value.to_owned()
    } else {
        single_quote(value)
    }
}

fn render(s: &JobSubmission, url: &str) -> String {
    let addr = word(url);
    let id = word(&s.submission_id);
    let wait = format!(
        "until python -c {} {} >/dev/null 2>&1 ; do echo {} ; sleep 2 ; done",
        single_quote(HEALTH_CHECK),
        word(&format!("{url}{GCS_HEALTH_PATH}")),
        single_quote(&format!(
            "Waiting for the Ray dashboard at {url} to report the GCS healthy ..."
        )),
    );
    let mut submit = vec![
        "ray job submit --address".to_owned(),
        addr.clone(),
        "--no-wait".to_owned(),
    ];
    let mut flag = |name: &str, value: String| {
        submit.push(name.to_owned());
        submit.push(value);
    };
    if let Some(env) = &s.runtime_env {
        flag("--runtime-env-json", json_word(env));
    }
    if let Some(metadata) = &s.metadata {
        flag("--metadata-json", json_word(metadata));
    }
    flag("--submission-id", id.clone());
    if let Some(cpus) = s.entrypoint_num_cpus {
        flag("--entrypoint-num-cpus", format!("{cpus:.6}"));
    }
    if let Some(gpus) = s.entrypoint_num_gpus {
        flag("--entrypoint-num-gpus", format!("{gpus:.6}"));
    }
    if let Some(resources) = &s.entrypoint_resources {
        flag("--entrypoint-resources", json_word(resources));
    }
    format!(
        "{wait} ;\nif ! ray job status --address {addr} {id} >/dev/null 2>&1 ; then\n{} -- {}\nfi ; ray job logs --address {addr} --follow {id}",
        submit.join(" "),
        s.entrypoint,
    )
}

/// `value` as compact JSON, single-quoted.
fn json_word<T: serde::Serialize>(value: &T) -> String {
    // Maps of strings and numbers always serialize.
    single_quote(&serde_json::to_string(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::{Value, json};
    use std::{fs, os::unix::fs::PermissionsExt, path::Path, process::Command};

    fn job(spec: Value) -> RayJob {
        let mut job = RayJob::new("sample", serde_json::from_value(spec).unwrap());
        job.metadata.uid = Some("u".into());
        job
    }

    fn script(spec: Value) -> String {
        submit_script(
            &job(spec),
            1,
            DashboardTarget::Service("rc-head-svc.ns.svc.cluster.local:8265"),
        )
        .unwrap()
    }

    /// Runs `script` as the submitter container does, with fake `python`
    /// and `ray` that log their arguments (one `[arg]` each) and answer
    /// `ray job status` with `status_rc`. `None` without /bin/bash.
    fn run(script: &str, status_rc: i32) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let fake = |name: &str, extra: &str| {
            let path = dir.path().join(name);
            fs::write(
                &path,
                format!("#!/bin/bash\n{{ printf '{name}'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; }} >> \"$LOG\"\n{extra}"),
            )
            .unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        };
        fake("python", "exit 0\n");
        fake(
            "ray",
            &format!("[ \"$2\" = status ] && exit {status_rc}\nexit 0\n"),
        );
        if !Path::new("/bin/bash").exists() {
            return None;
        }
        let out = Command::new("/bin/bash")
            .args(["-ce", "--", script])
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .env("LOG", &log)
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(fs::read_to_string(log).unwrap())
    }

    #[test]
    fn waits_submits_once_and_follows() {
        let s = script(json!({"entrypoint": "python /home/ray/job.py"}));
        let id = format!(
            "sample-{}",
            crate::build::rayjob::names::attempt_suffix(&job(json!({})), 1)
        );
        let addr = "http://rc-head-svc.ns.svc.cluster.local:8265";
        let Some(log) = run(&s, 1) else { return };
        let lines: Vec<_> = log.lines().collect();
        assert_eq!(lines.len(), 4, "{log}");
        assert!(
            lines[0].starts_with("python [-c] [import sys"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with(&format!("[{addr}/api/gcs_healthz]")));
        assert_eq!(
            lines[1],
            format!("ray [job] [status] [--address] [{addr}] [{id}]")
        );
        assert_eq!(
            lines[2],
            format!(
                "ray [job] [submit] [--address] [{addr}] [--no-wait] [--submission-id] [{id}] [--] [python] [/home/ray/job.py]"
            )
        );
        assert_eq!(
            lines[3],
            format!("ray [job] [logs] [--address] [{addr}] [--follow] [{id}]")
        );
    }

    #[test]
    fn a_known_id_is_not_submitted_again() {
        let s = script(json!({"entrypoint": "python job.py"}));
        let Some(log) = run(&s, 0) else { return };
        assert!(!log.contains("[submit]"), "{log}");
        assert!(log.contains("[logs]"));
    }

    #[test]
    fn options_are_single_words_in_kuberays_order() {
        let s = script(json!({
            "entrypoint": "python -c \"import ray; print('it''s')\" # a comment",
            "jobId": "my id; $(touch /tmp/pwned)",
            "runtimeEnvYAML": "env_vars:\n  GREETING: \"it's $HOME\"\n",
            "metadata": {"owner": "me"},
            "entrypointNumCpus": 1.5,
            "entrypointNumGpus": 0.25,
            "entrypointResources": "{\"Custom_1\": 1}",
        }));
        let Some(log) = run(&s, 1) else { return };
        let submit = log.lines().find(|l| l.contains("[submit]")).unwrap();
        assert_eq!(
            submit,
            "ray [job] [submit] [--address] [http://rc-head-svc.ns.svc.cluster.local:8265] [--no-wait] \
[--runtime-env-json] [{\"env_vars\":{\"GREETING\":\"it's $HOME\"}}] [--metadata-json] [{\"owner\":\"me\"}] \
[--submission-id] [my id; $(touch /tmp/pwned)] [--entrypoint-num-cpus] [1.500000] \
[--entrypoint-num-gpus] [0.250000] [--entrypoint-resources] [{\"Custom_1\":1.0}] \
[--] [python] [-c] [import ray; print('it''s')]"
        );
        assert!(log.contains("[--follow] [my id; $(touch /tmp/pwned)]"));
    }

    #[test]
    fn the_sidecar_targets_its_own_pod() {
        let s = submit_script(
            &job(json!({"entrypoint": "python job.py"})),
            2,
            DashboardTarget::Local(8265),
        )
        .unwrap();
        assert!(s.contains("--address http://127.0.0.1:8265 "));
        assert!(s.contains("http://127.0.0.1:8265/api/gcs_healthz"));
        assert!(
            s.contains("if ! ray job status"),
            "guarded in SidecarMode too"
        );
    }

    #[test]
    fn metadata_needs_ray_2_6() {
        let spec = |version: &str| {
            json!({"entrypoint": "x", "metadata": {"a": "b"},
                   "rayClusterSpec": {"rayVersion": version, "headGroupSpec": {"rayStartParams": {}}}})
        };
        let target = DashboardTarget::Local(8265);
        assert_eq!(
            submit_script(&job(spec("2.5.1")), 1, target),
            Err(JobBuildError::MetadataNeedsNewerRay("2.5.1".into()))
        );
        assert!(submit_script(&job(spec("2.6.0")), 1, target).is_ok());
        let mut old_without_metadata = spec("2.5.1");
        old_without_metadata["metadata"] = json!({});
        assert!(submit_script(&job(old_without_metadata), 1, target).is_ok());
    }
}
