//! Shared parts of the real-Ray tests: the turn (one real-Ray test at a
//! time per binary), a fresh namespace on the plane with the process node,
//! an operator watching it, and ways to look into and kill Ray processes.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client, ResourceExt, api::ListParams};
use rayop_testenv::{TestEnv, wait_until};

use super::{CertManager, Operator, pods, repo, setup};

/// Real Ray is slow to start on two cores: a head and its workers take up to
/// a minute or two; a wait for any real-Ray step may take this long.
pub const RAY_TIMEOUT: Duration = Duration::from_secs(300);

/// One real-Ray test at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One real-Ray test: the shared plane with the process node, a fresh
/// namespace holding `fixture`, an operator watching it (unless the test
/// runs its own), and the turn (one test at a time).
pub struct RealRay {
    pub env: TestEnv,
    pub ns: String,
    pub client: Client,
    op: Option<Operator>,
    /// The cert-manager controller, if the test asked for it; stopped last.
    _cert_manager: Option<CertManager>,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// What a real-Ray test needs beside the operator and the process node.
#[derive(Clone, Copy, Debug, Default)]
pub struct Needs {
    /// cert-manager's CRDs and its controller, watching the test's namespace
    /// (for `tlsOptions`).
    pub cert_manager: bool,
    /// The test runs its own operator (a `rayop run` process it may kill);
    /// none runs in the test's runtime.
    pub own_operator: bool,
    /// The in-runtime operator's resync period, when not the default.
    pub resync: Option<Duration>,
}

impl RealRay {
    pub async fn start(prefix: &str, fixture: &str) -> Result<RealRay> {
        Self::start_with(prefix, fixture, Needs::default()).await
    }

    pub async fn start_with(prefix: &str, fixture: &str, needs: Needs) -> Result<RealRay> {
        let turn = SERIAL.lock().await;
        let (env, ns) = setup(prefix).await?;
        env.start_process_node().await?;
        let client = env.client();
        let cert_manager = if needs.cert_manager {
            env.apply_crd(&rayop_testenv::third_party_crds("cert-manager")?)
                .await?;
            let log = std::env::temp_dir().join(format!("cert-manager-{ns}.log"));
            Some(CertManager::start(&env, Some(&ns), &log)?)
        } else {
            None
        };
        let op = if needs.own_operator {
            None
        } else {
            let mut settings = rayop::controller::Settings::default();
            if let Some(resync) = needs.resync {
                settings.resync = resync;
            }
            let options = rayop_journal::Options::default();
            Some(Operator::start_with(client.clone(), &[&ns], options, settings).await?)
        };
        env.apply_yaml(&repo().join(fixture), Some(&ns)).await?;
        Ok(RealRay {
            env,
            ns,
            client,
            op,
            _cert_manager: cert_manager,
            _turn: turn,
        })
    }

    /// Ends the test: deletes its namespace and waits until its pods are
    /// gone, so the next test's Ray runs alone on the two cores.
    pub async fn finish(self) -> Result<()> {
        Api::<k8s_openapi::api::core::v1::Namespace>::all(self.client.clone())
            .delete(&self.ns, &Default::default())
            .await?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns);
        wait_until(
            &format!("the pods of {} gone", self.ns),
            RAY_TIMEOUT,
            || async { Ok(pods.list(&ListParams::default()).await?.items.is_empty()) },
        )
        .await?;
        match self.op {
            Some(op) => op.stop().await,
            None => Ok(()),
        }
    }

    /// The operator running in the test's runtime.
    ///
    /// # Panics
    /// When the test runs its own operator ([`Needs::own_operator`]).
    pub fn op(&self) -> &Operator {
        self.op
            .as_ref()
            .expect("this test runs its own operator, not one in its runtime")
    }
}

/// `kubectl exec` into `pod`'s `container`; its stdout, or an error with both streams.
pub fn exec(env: &TestEnv, ns: &str, pod: &str, container: &str, argv: &[&str]) -> Result<String> {
    let out = env
        .kubectl()
        .args(["exec", "-n", ns, pod, "-c", container, "--"])
        .args(argv)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "kubectl exec {pod} -- {argv:?} failed ({}): {stdout} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// `kubectl <args>` and what it printed, both streams, for a failure's text.
pub fn shown(env: &TestEnv, args: &[&str]) -> String {
    env.kubectl()
        .args(args)
        .output()
        .map(|o| {
            format!(
                "$ kubectl {}\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_else(|e| format!("kubectl {args:?}: {e}"))
}

/// What a failed wait shows: the pods, the RayCluster's workers spec,
/// `ray status` and the Ray logs (workers' also from their last run), so the failure says where Ray or rayop got stuck.
pub fn diagnose(env: &TestEnv, ns: &str, cluster: &str) -> String {
    let run = |args: &[&str]| shown(env, args);
    let selector = format!("ray.io/cluster={cluster},ray.io/node-type=head");
    let head = env
        .kubectl()
        .args(["get", "pods", "-n", ns, "-l", &selector])
        .args(["-o", "jsonpath={.items[0].metadata.name}"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let workers = env
        .kubectl()
        .args(["get", "pods", "-n", ns, "-l"])
        .arg(format!("ray.io/cluster={cluster},ray.io/node-type=worker"))
        .args(["-o", "jsonpath={.items[*].metadata.name}"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let status = "jsonpath={.spec.workerGroupSpecs} {.status}";
    let mut shown = vec![
        run(&["get", "pods", "-n", ns, "-o", "wide"]),
        run(&["get", "raycluster", cluster, "-n", ns, "-o", status]),
        run(&[
            "exec", "-n", ns, &head, "-c", "ray-head", "--", "ray", "status",
        ]),
        run(&["logs", "-n", ns, &head, "-c", "ray-head", "--tail", "30"]),
        run(&["logs", "-n", ns, &head, "-c", "autoscaler", "--tail", "30"]),
    ];
    for worker in workers.split_whitespace() {
        shown.push(run(&["logs", "-n", ns, worker, "--tail", "20"]));
        shown.push(run(&[
            "logs",
            "-n",
            ns,
            worker,
            "--previous",
            "--tail",
            "20",
        ]));
    }
    shown.join("\n")
}

/// The head pod's name.
pub async fn head_pod(client: &Client, ns: &str, cluster: &str) -> Result<Pod> {
    let heads = pods(client, ns, cluster, "head").await?;
    heads
        .into_iter()
        .find(|p| p.metadata.deletion_timestamp.is_none())
        .with_context(|| format!("no head pod of {cluster}"))
}

/// The pid (`process://<pid>` container ID) of `container` in `pod`.
pub fn container_pid(pod: &Pod, container: &str) -> Result<u32> {
    let id = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .and_then(|c| c.container_id.clone())
        .with_context(|| format!("{} has no container ID for {container}", pod.name_any()))?;
    Ok(id
        .strip_prefix("process://")
        .with_context(|| format!("container ID {id} is not a process"))?
        .parse()?)
}

/// Kills (SIGKILL) the processes in the network namespace of `pid` whose
/// command line contains `needle`; returns how many.
pub fn kill_in_pod(pid: u32, needle: &str) -> Result<usize> {
    let netns = std::fs::read_link(format!("/proc/{pid}/ns/net"))?;
    let mut killed = 0;
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Ok(other) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let same_pod =
            std::fs::read_link(format!("/proc/{other}/ns/net")).is_ok_and(|n| n == netns);
        let cmdline = std::fs::read(format!("/proc/{other}/cmdline")).unwrap_or_default();
        if same_pod && String::from_utf8_lossy(&cmdline).contains(needle) {
            let status = std::process::Command::new("kill")
                .args(["-KILL", &other.to_string()])
                .status()?;
            if status.success() {
                killed += 1;
            }
        }
    }
    Ok(killed)
}

/// Waits until the journal of `uid` shows a transition into `phase`.
pub async fn wait_entered(op: &Operator, uid: &str, phase: &str) -> Result<()> {
    wait_until(
        &format!("a journaled transition to {phase}"),
        RAY_TIMEOUT,
        || async { Ok(op.transitions(uid).iter().any(|(_, to)| to == phase)) },
    )
    .await
}

/// The RayJob `name`.
pub async fn ray_job(client: &Client, ns: &str, name: &str) -> Result<rayop::crd::rayjob::RayJob> {
    Ok(
        Api::<rayop::crd::rayjob::RayJob>::namespaced(client.clone(), ns)
            .get(name)
            .await?,
    )
}
