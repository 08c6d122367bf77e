//! Real Ray under rayop: every pod of these tests runs as real processes on
//! the harness's process node (`rayop_testenv::process_node`), with Ray from
//! PyPI. Nothing here fakes Ray: `ray status` comes from the head, scaling
//! decisions from Ray's own autoscaler in the head pod's sidecar.
//!
//! The tests share one plane and run one at a time (the machine has two
//! cores; a Ray node is a handful of processes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client, ResourceExt, api::ListParams};
use rayop::crd::{RayCluster, status::Phase};
use rayop::record::Record;
use rayop_machines::{Command, DeleteReason};
use rayop_testenv::{TestEnv, wait_until};
use support::{real_ray::*, *};

/// The healthy Ray nodes `ray status` lists, by node type: the lines under
/// `Healthy:` (`Active:` in newer Ray) look like ` 2 small-worker`.
fn healthy_nodes(status: &str) -> Result<Vec<(u32, String)>> {
    let mut lines = status
        .lines()
        .skip_while(|l| !matches!(l.trim(), "Healthy:" | "Active:"))
        .skip(1);
    let mut nodes = Vec::new();
    for line in lines.by_ref() {
        let line = line.trim();
        let Some((count, kind)) = line.split_once(' ') else {
            break;
        };
        let Ok(count) = count.parse() else { break };
        nodes.push((count, kind.trim().to_owned()));
    }
    if nodes.is_empty() {
        bail!("no healthy nodes in `ray status`:\n{status}");
    }
    Ok(nodes)
}

/// `ray status` on the head of `cluster`.
async fn ray_status(env: &TestEnv, ns: &str, cluster: &str) -> Result<String> {
    let head = head_pod(&env.client(), ns, cluster).await?;
    exec(env, ns, &head.name_any(), "ray-head", &["ray", "status"])
}

/// Waits until `ray status` on the head counts `workers` healthy worker nodes
/// (all nodes but the head), and returns the output.
async fn wait_ray_workers(env: &TestEnv, ns: &str, cluster: &str, workers: u32) -> Result<String> {
    wait_ray_workers_where(
        env,
        ns,
        cluster,
        &format!("{workers} workers"),
        |_| async move { Ok(workers) },
    )
    .await
    .map(|(status, _)| status)
}

/// Waits until `ray status` on the head counts as many healthy worker nodes
/// as the RayCluster's worker groups ask for at that moment (Ray's own
/// autoscaler may change `replicas` meanwhile), and returns that number.
async fn wait_ray_workers_as_spec(env: &TestEnv, ns: &str, cluster: &str) -> Result<u32> {
    let client = env.client();
    let desired = |_| {
        let client = client.clone();
        async move {
            let groups = group_scaling(&client, ns, cluster).await?;
            Ok(groups.values().map(|(n, _)| (*n).max(0) as u32).sum())
        }
    };
    wait_ray_workers_where(env, ns, cluster, "the workers its spec asks for", desired)
        .await
        .map(|(_, n)| n)
}

/// Polls `ray status` until its healthy worker nodes number what `desired`
/// says at the same poll; a timeout shows the last status and [`diagnose`].
async fn wait_ray_workers_where<F, Fut>(
    env: &TestEnv,
    ns: &str,
    cluster: &str,
    what: &str,
    desired: F,
) -> Result<(String, u32)>
where
    F: Fn(()) -> Fut,
    Fut: std::future::Future<Output = Result<u32>>,
{
    let last = std::sync::Mutex::new((String::new(), 0));
    let waited = wait_until(
        &format!("ray status on {cluster} showing {what}"),
        RAY_TIMEOUT,
        || async {
            let want = desired(()).await?;
            let status = ray_status(env, ns, cluster).await?;
            let nodes = healthy_nodes(&status);
            *last.lock().unwrap() = (status, want);
            let total: u32 = nodes?.iter().map(|(n, _)| n).sum();
            Ok(total == want + 1)
        },
    )
    .await;
    let (status, want) = last.into_inner().unwrap();
    waited.with_context(|| {
        format!(
            "last ray status (wanted {want} workers):\n{status}\n{}",
            diagnose(env, ns, cluster)
        )
    })?;
    Ok((status, want))
}

/// Waits until `cluster` reports `phase` for its current generation; a
/// timeout shows what [`diagnose`] sees.
async fn wait_ray_phase(
    env: &TestEnv,
    ns: &str,
    cluster: &str,
    phase: Phase,
) -> Result<RayCluster> {
    wait_phase_within(&env.client(), ns, cluster, phase, RAY_TIMEOUT)
        .await
        .with_context(|| diagnose(env, ns, cluster))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_is_ready_when_real_ray_is_and_ray_status_agrees() -> Result<()> {
    let t = RealRay::start("real-seed", "tests/fixtures/seed-raycluster.yaml").await?;
    let (env, ns, client) = (&t.env, &t.ns, &t.client);
    let name = "basic-ray-cluster";

    let ready = wait_ray_phase(env, ns, name, Phase::Ready).await?;
    // Ready means the Ray processes answer: the head's GCS and the workers'
    // raylets pass their probes, so Ray itself lists every node.
    let status = ray_status(env, ns, name).await?;
    let nodes = healthy_nodes(&status)?;
    let ready_workers = ready
        .status
        .and_then(|s| s.ready_worker_replicas)
        .unwrap_or(0);
    let workers: u32 = nodes
        .iter()
        .filter(|(_, kind)| kind == "small-worker")
        .map(|(n, _)| n)
        .sum();
    assert_eq!(
        i64::from(workers),
        i64::from(ready_workers),
        "ray status and status.readyWorkerReplicas disagree:\n{status}"
    );
    assert_eq!(ready_workers, 2, "the seed asks for 2 workers:\n{status}");
    // Every pod is a real Ray node on the process node.
    for pod in Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
    {
        assert_eq!(
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some(rayop_testenv::process_node::NODE_NAME),
            "{} did not run on the process node",
            pod.name_any()
        );
    }
    t.finish().await
}

/// The pod names of `group`.
async fn group_pods(
    client: &Client,
    ns: &str,
    cluster: &str,
    group: &str,
) -> Result<BTreeSet<String>> {
    Ok(Api::<Pod>::namespaced(client.clone(), ns)
        .list(
            &ListParams::default()
                .labels(&format!("ray.io/cluster={cluster},ray.io/group={group}")),
        )
        .await?
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| p.name_any())
        .collect())
}

/// Each worker group's `replicas` and the pods the autoscaler has put in its
/// `scaleStrategy.workersToDelete`, by group name, as the RayCluster spec says now.
async fn group_scaling(
    client: &Client,
    ns: &str,
    cluster: &str,
) -> Result<std::collections::BTreeMap<String, (i32, Vec<String>)>> {
    let c = clusters(client, ns).get(cluster).await?;
    Ok(c.spec
        .worker_group_specs
        .into_iter()
        .map(|g| {
            let named = g
                .scale_strategy
                .map(|s| s.workers_to_delete)
                .unwrap_or_default();
            (g.group_name, (g.replicas, named))
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_autoscaler_scales_up_for_tasks_and_removes_exactly_the_idle_workers_it_names()
-> Result<()> {
    let t = RealRay::start("real-as", "tests/fixtures/real-ray/autoscale.yaml").await?;
    let (env, ns, client) = (&t.env, &t.ns, &t.client);
    let name = "autoscale";
    wait_ray_phase(env, ns, name, Phase::Ready).await?;
    wait_ray_workers(env, ns, name, 1).await?;

    // A job whose tasks need two `dep` workers at once and one `sts` worker;
    // the cluster has one `dep` worker and no `sts` worker.
    let head = head_pod(client, ns, name).await?.name_any();
    let driver = r#"
import socket, time, ray
ray.init(address="auto")
@ray.remote(num_cpus=1, resources={"dep": 1})
def on_dep(barrier_s):
    time.sleep(barrier_s)
    return socket.gethostname()
@ray.remote(num_cpus=1, resources={"sts": 1})
def on_sts():
    return socket.gethostname()
hosts = ray.get([on_dep.remote(20), on_dep.remote(20), on_sts.remote()])
print("HOSTS", " ".join(hosts))
"#;
    let env2 = env.clone();
    let (ns2, head2) = (ns.clone(), head.clone());
    let job = tokio::task::spawn_blocking(move || {
        // Bounded, so a stuck job ends the exec too.
        exec(
            &env2,
            &ns2,
            &head2,
            "ray-head",
            &["timeout", "280", "python", "-c", driver],
        )
    });

    // The autoscaler, not the test, raises replicas; rayop starts the
    // workers; once the tasks are done and the workers idle, the autoscaler
    // names the workers to remove and rayop removes exactly those. Watched
    // as one story: a worker idle early may go before the job ends.
    let seen = std::sync::Mutex::new(BTreeSet::<String>::new());
    let named = std::sync::Mutex::new(BTreeSet::<String>::new());
    let raised = std::sync::Mutex::new(false);
    wait_until(
        "scale-up, the job, then minReplicas again",
        RAY_TIMEOUT,
        || async {
            let groups = group_scaling(client, ns, name).await?;
            let replicas = |group: &str| groups.get(group).map(|(r, _)| *r);
            named
                .lock()
                .unwrap()
                .extend(groups.values().flat_map(|(_, named)| named.iter().cloned()));
            let dep = group_pods(client, ns, name, "dep").await?;
            seen.lock().unwrap().extend(dep.iter().cloned());
            if replicas("dep") == Some(2) && replicas("sts") == Some(1) {
                *raised.lock().unwrap() = true;
            }
            Ok(job.is_finished()
                && *raised.lock().unwrap()
                && dep.len() == 1
                && group_pods(client, ns, name, "sts").await?.is_empty()
                && replicas("dep") == Some(1))
        },
    )
    .await
    .with_context(|| {
        format!(
            "raised both groups: {}; job finished: {}; dep pods seen {:?}; named {:?}\n{}",
            raised.lock().unwrap(),
            job.is_finished(),
            seen.lock().unwrap(),
            named.lock().unwrap(),
            diagnose(env, ns, name)
        )
    })?;
    let out = job.await??;
    let hosts: BTreeSet<&str> = out
        .lines()
        .find_map(|l| l.strip_prefix("HOSTS "))
        .with_context(|| format!("the job printed no HOSTS line: {out}"))?
        .split(' ')
        .collect();
    assert_eq!(
        hosts.len(),
        3,
        "the tasks ran on three different workers: {out}"
    );
    let (seen, named) = (seen.into_inner().unwrap(), named.into_inner().unwrap());
    // The autoscaler may also replace a worker (name it while keeping the
    // count) and a worker may end; either gives the group a third pod. What
    // rayop must never do is remove a worker nobody named and that did not end.
    let c = clusters(client, ns).get(name).await?;
    let records = t.op().records(&uid(&c));
    let deleted_for = |wanted: DeleteReason| -> BTreeSet<String> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Commands(cs) => Some(cs),
                _ => None,
            })
            .flatten()
            .filter_map(|c| match c {
                Command::DeletePods { reason, pods } if *reason == wanted => Some(pods),
                _ => None,
            })
            .flatten()
            .map(|p| p.name.clone())
            .collect()
    };
    let ended = deleted_for(DeleteReason::WorkerPodFinished);
    assert!(seen.len() >= 2, "the dep group ran two workers: {seen:?}");
    let kept = group_pods(client, ns, name, "dep").await?;
    let removed: BTreeSet<String> = seen.difference(&kept).cloned().collect();
    assert!(
        removed.iter().any(|p| named.contains(p)),
        "no named dep worker went: removed {removed:?}, named {named:?}"
    );
    assert!(
        removed
            .iter()
            .all(|p| named.contains(p) || ended.contains(p)),
        "rayop removed {removed:?}, but the autoscaler named only {named:?} and only {ended:?} ended"
    );
    assert!(
        kept.iter().all(|p| !named.contains(p)),
        "a named worker is still there: kept {kept:?}, named {named:?}"
    );
    wait_ray_workers(env, ns, name, 1).await?;

    // The journal tells the story: the scale-up, and the named pod's removal.
    let story = serde_json::to_string(&records)?;
    for pod in &removed {
        assert!(
            story.contains(pod.as_str()),
            "the journal never mentions {pod}"
        );
    }
    assert!(
        story.contains("\"replicas\":2"),
        "the journal never shows the scale-up"
    );
    t.finish().await
}

/// Restart counts of the Ray container of each worker pod, by pod UID.
async fn worker_restarts(client: &Client, ns: &str, cluster: &str) -> Result<Vec<(String, i32)>> {
    Ok(pods(client, ns, cluster, "worker")
        .await?
        .into_iter()
        .map(|p| {
            let restarts = p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.name == "ray-worker"))
                .map_or(0, |c| c.restart_count);
            (p.uid().unwrap_or_default(), restarts)
        })
        .collect())
}

/// The restart counts of `cluster`'s workers (Ready with `workers` of
/// them) before and after its head's `gcs_server` is killed and the cluster
/// goes through Recovering back to Ready with the workers its spec then asks for.
async fn restarts_around_a_killed_gcs(
    t: &RealRay,
    cluster: &str,
    workers: u32,
) -> Result<(Vec<(String, i32)>, Vec<(String, i32)>)> {
    let (env, ns, client) = (&t.env, &t.ns, &t.client);
    let c = wait_ray_phase(env, ns, cluster, Phase::Ready).await?;
    wait_ray_workers(env, ns, cluster, workers).await?;
    let before = worker_restarts(client, ns, cluster).await?;

    let head = head_pod(client, ns, cluster).await?;
    let killed = kill_in_pod(container_pid(&head, "ray-head")?, "gcs_server")?;
    assert!(killed > 0, "no gcs_server process in the head pod");

    wait_entered(t.op(), &uid(&c), "Recovering").await?;
    wait_ray_phase(env, ns, cluster, Phase::Ready).await?;
    // The seed's autoscaler may lower an idle group to its minimum (1)
    // while the head restarts; Ray must then have what the spec says.
    let rejoined = wait_ray_workers_as_spec(env, ns, cluster).await?;
    assert!(rejoined >= 1, "no worker rejoined the restarted head");
    let after = worker_restarts(client, ns, cluster).await?;
    Ok((before, after))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_head_recovers_and_its_workers_rejoin() -> Result<()> {
    let t = RealRay::start("real-head", "tests/fixtures/seed-raycluster.yaml").await?;
    let (before, after) = restarts_around_a_killed_gcs(&t, "basic-ray-cluster", 2).await?;
    // Without GCS fault tolerance the workers could not rejoin the new GCS:
    // they were restarted or replaced.
    assert_ne!(
        before, after,
        "the workers were neither restarted nor replaced"
    );
    t.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_gcs_fault_tolerance_on_real_redis_workers_survive_a_head_restart() -> Result<()> {
    rayop_testenv::process_node::redis_server()?;
    let t = RealRay::start("real-ft", "tests/fixtures/real-ray/gcs-ft.yaml").await?;
    let (before, after) = restarts_around_a_killed_gcs(&t, "ft", 1).await?;
    assert_eq!(
        before, after,
        "with GCS in Redis the same worker pods run on, never restarted"
    );
    t.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth_group_labels_and_resources_are_what_real_ray_accepts() -> Result<()> {
    let t = RealRay::start("real-auth", "tests/fixtures/real-ray/auth.yaml").await?;
    let (env, ns, client) = (&t.env, &t.ns, &t.client);
    let name = "auth";
    wait_ray_phase(env, ns, name, Phase::Ready).await?;
    // `ray status` inside the head runs with the pod's token.
    let status = wait_ray_workers(env, ns, name, 1).await?;
    assert!(
        status.contains("accelerator-x"),
        "the group's custom resource reached Ray:\n{status}"
    );

    // The dashboard refuses a request without the token and serves one with it.
    let head = head_pod(client, ns, name).await?;
    let ip = head
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .context("the head has no IP")?;
    let secret_name = head
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == "ray-head"))
        .and_then(|c| c.env.as_ref())
        .and_then(|env| env.iter().find(|e| e.name == "RAY_AUTH_TOKEN"))
        .and_then(|e| e.value_from.as_ref())
        .and_then(|v| v.secret_key_ref.as_ref())
        .map(|r| r.name.clone())
        .context("the head reads RAY_AUTH_TOKEN from no Secret")?;
    let secret: k8s_openapi::api::core::v1::Secret = Api::namespaced(client.clone(), ns)
        .get(&secret_name)
        .await?;
    let token = secret
        .data
        .as_ref()
        .and_then(|d| d.get("auth_token"))
        .map(|t| String::from_utf8_lossy(&t.0).into_owned())
        .context("the token Secret has no auth_token")?;
    let code = |auth: Option<&str>| -> Result<String> {
        let mut curl = std::process::Command::new("curl");
        curl.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10"]);
        if let Some(token) = auth {
            curl.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        let out = curl.arg(format!("http://{ip}:8265/api/version")).output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    assert_eq!(code(Some(&token))?, "200", "the token opens the dashboard");
    let refused = code(None)?;
    assert!(
        refused == "401" || refused == "403",
        "no token, no dashboard: got {refused}"
    );
    // The worker's group labels are Ray node labels.
    let labels = exec(
        env,
        ns,
        &head.name_any(),
        "ray-head",
        &[
            "python",
            "-c",
            "import ray; ray.init(address='auto'); \
             print([n['Labels'].get('zone') for n in ray.nodes() if n['Alive']])",
        ],
    )?;
    assert!(labels.contains("zone-a"), "{labels}");
    t.finish().await
}

/// A real gRPC client (the Ray venv's `grpcio` and Ray's own generated GCS
/// stubs) asking the GCS at `argv[1]` for its nodes, once per way of
/// connecting; prints one `<way> OK <alive nodes>` or `<way> REFUSED <code>`
/// line each. `argv[2..5]`: the cluster's CA, a certificate it signed and its
/// key; `argv[5..7]`: a certificate and key of a stranger's CA.
const GCS_CLIENT: &str = r#"
import sys, grpc
from ray.core.generated import gcs_service_pb2 as pb, gcs_service_pb2_grpc as rpc
addr, ca, cert, key, other_cert, other_key = sys.argv[1:7]
read = lambda path: open(path, "rb").read()
ways = {
    "mutual": grpc.ssl_channel_credentials(read(ca), read(key), read(cert)),
    "no-client-cert": grpc.ssl_channel_credentials(read(ca)),
    "stranger-cert": grpc.ssl_channel_credentials(read(ca), read(other_key), read(other_cert)),
    "plaintext": None,
}
for way, creds in ways.items():
    options = [("grpc.enable_http_proxy", 0)]
    channel = (grpc.secure_channel(addr, creds, options) if creds
               else grpc.insecure_channel(addr, options))
    try:
        reply = rpc.NodeInfoGcsServiceStub(channel).GetAllNodeInfo(
            pb.GetAllNodeInfoRequest(), timeout=10)
        alive = [n for n in reply.node_info_list if n.state == 0]
        print(way, "OK", len(alive))
    except grpc.RpcError as e:
        print(way, "REFUSED", e.code().name)
    channel.close()
"#;

/// `key` of Secret `name`, written to `dir/<name>-<key>`; returns that path.
async fn secret_file(
    client: &Client,
    ns: &str,
    name: &str,
    key: &str,
    dir: &std::path::Path,
) -> Result<std::path::PathBuf> {
    let secret: k8s_openapi::api::core::v1::Secret =
        Api::namespaced(client.clone(), ns).get(name).await?;
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .with_context(|| format!("Secret {name} has no {key}"))?;
    let path = dir.join(format!("{name}-{key}"));
    std::fs::write(&path, &data.0)?;
    Ok(path)
}

/// Runs `program` with `args`; its stdout and stderr, and whether it succeeded.
fn run(program: &std::path::Path, args: &[&std::ffi::OsStr]) -> Result<(bool, String)> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_cluster_runs_real_ray_and_refuses_a_client_without_certificates() -> Result<()> {
    let needs = Needs {
        cert_manager: true,
        ..Needs::default()
    };
    let t = RealRay::start_with("real-mtls", "tests/fixtures/real-ray/mtls.yaml", needs).await?;
    let (env, ns, client) = (&t.env, &t.ns, &t.client);
    let name = "mtls";

    // Ready, and the worker's raylet registered with the head's GCS: every
    // connection between them is mutual TLS with cert-manager's certificates.
    let ready = wait_ray_phase(env, ns, name, Phase::Ready).await?;
    wait_ray_workers(env, ns, name, 1).await?;
    let head = head_pod(client, ns, name).await?;
    let head_name = head.name_any();
    let ray_env = head
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == "ray-head"))
        .and_then(|c| c.env.clone())
        .unwrap_or_default();
    assert!(
        ray_env
            .iter()
            .any(|e| e.name == "RAY_USE_TLS" && e.value.as_deref() == Some("1")),
        "the head runs without RAY_USE_TLS=1: {ray_env:?}"
    );
    // A driver in the head runs a task on the worker (the head has no CPU).
    let task = exec(
        env,
        ns,
        &head_name,
        "ray-head",
        &[
            "timeout",
            "120",
            "python",
            "-c",
            "import socket, ray; ray.init(address='auto'); \
             print('RAN ON', ray.get(ray.remote(num_cpus=1)(lambda: socket.gethostname()).remote()))",
        ],
    )?;
    let worker = pods(client, ns, name, "worker")
        .await?
        .into_iter()
        .next()
        .context("no worker pod")?
        .name_any();
    assert!(
        task.contains(&format!("RAN ON {worker}")),
        "the task did not run on {worker}: {task}"
    );

    // From the host, over the process node's bridge, to the head's GCS port.
    let ip = head
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .context("the head has no IP")?;
    let names = rayop::crd::tls::PkiNames::of(name, &uid(&ready));
    let dir = tempfile::tempdir()?;
    let ca = secret_file(client, ns, &names.ca_secret, "tls.crt", dir.path()).await?;
    let cert = secret_file(client, ns, &names.worker_secret, "tls.crt", dir.path()).await?;
    let key = secret_file(client, ns, &names.worker_secret, "tls.key", dir.path()).await?;
    let (stranger_cert, stranger_key) = (
        dir.path().join("stranger.crt"),
        dir.path().join("stranger.key"),
    );
    let openssl = std::path::Path::new("openssl");
    let (made, out) = run(
        openssl,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=stranger",
            "-keyout",
        ]
        .map(std::ffi::OsStr::new)
        .into_iter()
        .chain([
            stranger_key.as_os_str(),
            "-out".as_ref(),
            stranger_cert.as_os_str(),
        ])
        .collect::<Vec<_>>(),
    )?;
    assert!(made, "openssl req: {out}");

    // The GCS speaks TLS and presents the head's certificate: signed by the
    // cluster's CA and naming the head pod's IP.
    let address = format!("{ip}:6379");
    let handshake = |ca_file: &std::path::Path| -> Result<String> {
        // Exits non-zero either way: the GCS closes a connection that
        // sends no HTTP/2.
        run(
            openssl,
            &[
                "s_client".as_ref(),
                "-connect".as_ref(),
                address.as_ref(),
                "-CAfile".as_ref(),
                ca_file.as_os_str(),
                "-cert".as_ref(),
                cert.as_os_str(),
                "-key".as_ref(),
                key.as_os_str(),
                "-verify_return_error".as_ref(),
                "-verify_ip".as_ref(),
                ip.as_ref(),
                "-brief".as_ref(),
            ],
        )
        .map(|(_, out)| out)
    };
    let verified = handshake(&ca)?;
    assert!(
        verified.contains("CONNECTION ESTABLISHED") && verified.contains("Verification: OK"),
        "no TLS handshake verified by the cluster's CA: {verified}"
    );
    let unverified = handshake(&stranger_cert)?;
    assert!(
        !unverified.contains("CONNECTION ESTABLISHED") && unverified.contains("verify error"),
        "the head's certificate passed for a stranger's CA: {unverified}"
    );

    // Real Ray enforces mutual TLS: a gRPC client is answered only with a
    // certificate the cluster's CA signed.
    let python = rayop_testenv::process_node::ray_venv()?.join("bin/python");
    let (_, answers) = run(
        &python,
        &[
            "-c".as_ref(),
            GCS_CLIENT.as_ref(),
            address.as_ref(),
            ca.as_os_str(),
            cert.as_os_str(),
            key.as_os_str(),
            stranger_cert.as_os_str(),
            stranger_key.as_os_str(),
        ],
    )?;
    let answer = |way: &str| {
        answers
            .lines()
            .find_map(|l| l.strip_prefix(way)?.strip_prefix(' '))
            .unwrap_or("no answer")
            .to_owned()
    };
    assert_eq!(answer("mutual"), "OK 2", "{answers}");
    for way in ["no-client-cert", "stranger-cert", "plaintext"] {
        assert_eq!(answer(way), "REFUSED UNAVAILABLE", "{way}: {answers}");
    }
    t.finish().await
}
