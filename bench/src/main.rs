//! `rayop-bench`: the scale benchmark of a Ray operator on the local control
//! plane (issue 9).
//!
//! Scenario: create N RayClusters of 1 head + 3 workers, wait until all are
//! Ready, stay idle, scale every cluster to 5 workers, wait until Ready again,
//! delete them all and wait until they and their pods are gone. It measures
//! per-cluster latencies through watches ([`track`]), the operator's API
//! requests by verb through per-verb API Priority and Fairness FlowSchemas
//! ([`apf`]), and the operator's memory, CPU and journal size from `/proc`
//! and the disk ([`operator`]); it writes a Markdown table and JSON
//! ([`report`]) into `--out`.
//!
//! The operator under test is any command (`--operator-cmd`); it runs as a
//! ServiceAccount of its own, with a kubeconfig the bench writes.
//!
//! ```text
//! cargo build --release --bin rayop && cargo build --release -p rayop-bench
//! target/release/rayop-bench --clusters 100            # starts its own plane
//! target/release/rayop-bench --kubeconfig .local/plane/kubeconfig --clusters 10
//! ```

mod apf;
mod operator;
mod report;
mod track;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use operator::Operator;
use report::{Percentiles, Phase, Report};
use track::{Stage, Tracker};

/// Field manager of the bench's applies.
const MANAGER: &str = "rayop-bench";
/// Workers per cluster at creation and after the scale step.
const WORKERS: i64 = 3;
const SCALED_WORKERS: i64 = 5;
/// Pods per fake node the bench adds (the harness's nodes take 1000 each).
const PODS_PER_NODE: u64 = 1000;

/// Command-line arguments of `rayop-bench`.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Scale benchmark of a Ray operator on the local control plane"
)]
struct Args {
    /// Kubeconfig of a running control plane (`deploy/local/up.sh --no-operator`);
    /// without it the bench starts its own plane through rayop-testenv.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// RayClusters to create (1 head + 3 workers each).
    #[arg(long, default_value_t = 10)]
    clusters: usize,
    /// Create rate in clusters per second; 0 sends all at once (16 in flight).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds to stay idle between Ready and the scale step.
    #[arg(long, default_value_t = 60)]
    idle_seconds: u64,
    /// The operator under test. `{rayop}`, `{kubeconfig}`, `{journal}` and
    /// `{namespace}` are filled in; it runs through `sh -c "exec …"` with
    /// KUBECONFIG set to the operator's own kubeconfig.
    #[arg(
        long,
        default_value = "{rayop} run --kubeconfig {kubeconfig} --namespace {namespace} --journal {journal} --concurrency 32"
    )]
    operator_cmd: String,
    /// The rayop binary for `{rayop}` (default: target/release/rayop).
    #[arg(long)]
    rayop: Option<PathBuf>,
    /// Workloads + Services the operator makes per cluster (rayop: head
    /// StatefulSet and Service, worker StatefulSet and headless Service).
    #[arg(long, default_value_t = 4)]
    objects_per_cluster: usize,
    /// Longest wait for each step, in seconds.
    #[arg(long, default_value_t = 1200)]
    timeout_seconds: u64,
    /// Give the head Service a ClusterIP (a real allocation) instead of making
    /// it headless. The harness's Service CIDR is a /24, so only about 250
    /// clusters fit with ClusterIPs; headless is the default so N = 1000 runs.
    #[arg(long)]
    head_cluster_ip: bool,
    /// Output directory for the summary (Markdown, JSON) and `raw/`.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.clusters == 0 {
        bail!("--clusters must be at least 1");
    }
    let root = rayop_testenv::binaries::repo_root()?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let raw = args
        .out
        .join("raw")
        .join(format!("n{}-{stamp}", args.clusters));
    std::fs::create_dir_all(&raw).with_context(|| format!("creating {}", raw.display()))?;
    let raw = raw.canonicalize()?;

    // The plane: given, or our own (stopped when this process ends).
    let (_plane, admin_kubeconfig) = match &args.kubeconfig {
        Some(path) => (None, path.clone()),
        None => {
            let started = Instant::now();
            let binaries = rayop_testenv::Binaries::ensure_built()?;
            let dir = rayop_testenv::tempdir::fresh("rayop-bench")?;
            let plane = rayop_testenv::ControlPlane::start(
                &dir,
                binaries,
                rayop_testenv::Lifetime::TiedToTestProcess,
                true,
            )
            .await
            .context("starting the control plane")?;
            eprintln!(
                "rayop-bench: control plane ready in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let kc = plane.kubeconfig().to_path_buf();
            (Some(plane), kc)
        }
    };
    let client = rayop_testenv::kubeconfig::client(&admin_kubeconfig).await?;

    apply_crds(&client, &root.join("deploy/crd")).await?;
    ensure_capacity(&client, args.clusters as u64 * (1 + SCALED_WORKERS as u64)).await?;
    let ns = format!("rayop-bench-{}-{stamp}", args.clusters);
    create_namespace(&client, &ns).await?;
    let op_kubeconfig = raw.join("operator.kubeconfig");
    apf::set_up(&client, &admin_kubeconfig, &op_kubeconfig).await?;

    let rc = track::rayclusters();
    let tracker = Tracker::new(
        args.objects_per_cluster,
        1 + WORKERS as usize,
        SCALED_WORKERS,
    );
    let watches = tracker.spawn_watches(&client, &ns, &rc);
    let rc_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &rc);

    let rayop = args
        .rayop
        .clone()
        .unwrap_or_else(|| root.join("target/release/rayop"));
    let journal = raw.join("journal");
    let command = operator::render(&args.operator_cmd, &op_kubeconfig, &journal, &ns)
        .replace("{rayop}", &rayop.display().to_string());
    let timeout = Duration::from_secs(args.timeout_seconds);
    let mut report = Report {
        clusters: args.clusters,
        operator_cmd: args.operator_cmd.clone(),
        rate: args.rate,
        objects_per_cluster: args.objects_per_cluster,
        machine: machine(),
        started: utc_now(),
        ..Report::default()
    };

    // Start-up: until the operator's watches are established and its request
    // counts stay still for 2 s.
    let c0 = apf::scrape(&client).await?;
    let base = c0.clone();
    let t0 = Instant::now();
    let mut op = Operator::start(&command, &op_kubeconfig, &raw.join("operator.log"))?;
    eprintln!("rayop-bench: operator pid {} — {command}", op.pid());
    let mut last = c0.clone();
    let mut still_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        op.check_alive()?;
        let now = apf::scrape(&client).await?;
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if now.since(&c0).get("watch") > 0 && still_since.elapsed() >= Duration::from_secs(2)
        {
            break;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            bail!(
                "the operator opened no watch within 120 s; see {}",
                op.log.display()
            );
        }
    }
    let mut mark = (c0, 0.0, t0);
    let mut phase = |name: &str, report: &mut Report, now: apf::Counts, cpu: f64| {
        let requests = now.since(&mark.0);
        report.phases.insert(
            name.to_string(),
            Phase {
                seconds: mark.2.elapsed().as_secs_f64(),
                writes: requests.writes(),
                requests,
                cpu_seconds: cpu - mark.1,
            },
        );
        mark = (now, cpu, Instant::now());
    };
    phase(
        "startup",
        &mut report,
        apf::scrape(&client).await?,
        op.usage()?.cpu_seconds,
    );

    // Create.
    let names: Vec<String> = (0..args.clusters)
        .map(|i| format!("bench-{i:05}"))
        .collect();
    eprintln!("rayop-bench: creating {} RayClusters in {ns}", names.len());
    let first_create = Instant::now();
    let in_flight = if args.rate > 0.0 { names.len() } else { 16 };
    futures::stream::iter(names.iter().enumerate())
        .map(|(i, name)| {
            let api = rc_api.clone();
            let tracker = tracker.clone();
            let ns = ns.clone();
            let rate = args.rate;
            let headless = !args.head_cluster_ip;
            async move {
                if rate > 0.0 {
                    let at = first_create + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(at.into()).await;
                }
                tracker.lock()?.created.insert(name.clone(), Instant::now());
                apply_cluster(&api, &ns, name, WORKERS, headless).await
            }
        })
        .buffer_unordered(in_flight)
        .try_collect::<Vec<()>>()
        .await?;
    report.create_send_seconds = first_create.elapsed().as_secs_f64();
    wait_all(&mut op, &tracker, timeout, "Ready", |s| s.ready_at.len()).await?;
    report.all_ready_seconds = first_create.elapsed().as_secs_f64();
    let created = phase_now(&client, &op).await?;
    phase("create", &mut report, created.0, created.1);
    {
        let s = tracker.lock()?;
        let lat = |at: &std::collections::BTreeMap<String, Instant>| -> Vec<Duration> {
            at.iter()
                .filter_map(|(k, t)| s.created.get(k).map(|c| t.saturating_duration_since(*c)))
                .collect()
        };
        report.create_to_objects = Percentiles::of(&lat(&s.objects_at));
        report.create_to_pods = Percentiles::of(&lat(&s.pods_at));
        report.create_to_ready = Percentiles::of(&lat(&s.ready_at));
    }
    report.writes_per_cluster_to_ready =
        report.phases.get("create").map_or(0, |p| p.writes) as f64 / args.clusters as f64;

    // Idle.
    tracker.lock()?.stage = Stage::Idle;
    eprintln!("rayop-bench: all Ready; idle for {} s", args.idle_seconds);
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    op.check_alive()?;
    let idle = phase_now(&client, &op).await?;
    phase("idle", &mut report, idle.0, idle.1);

    // Scale.
    tracker.lock()?.stage = Stage::Scale;
    eprintln!("rayop-bench: scaling every cluster to {SCALED_WORKERS} workers");
    let first_scale = Instant::now();
    futures::stream::iter(names.iter())
        .map(|name| apply_cluster(&rc_api, &ns, name, SCALED_WORKERS, !args.head_cluster_ip))
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    wait_all(&mut op, &tracker, timeout, "scaled", |s| s.scaled_at.len()).await?;
    report.scale_seconds = first_scale.elapsed().as_secs_f64();
    let scaled = phase_now(&client, &op).await?;
    phase("scale", &mut report, scaled.0, scaled.1);

    // Delete.
    tracker.lock()?.stage = Stage::Delete;
    eprintln!("rayop-bench: deleting every cluster");
    let first_delete = Instant::now();
    futures::stream::iter(names.iter())
        .map(|name| {
            let api = rc_api.clone();
            async move {
                api.delete(name, &DeleteParams::background())
                    .await
                    .with_context(|| format!("deleting RayCluster {name}"))
                    .map(|_| ())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut rc_gone = None;
    loop {
        op.check_alive()?;
        let rcs = rc_api
            .list_metadata(&ListParams::default())
            .await?
            .items
            .len();
        let left = pods
            .list_metadata(&ListParams::default())
            .await?
            .items
            .len();
        if rcs == 0 && rc_gone.is_none() {
            rc_gone = Some(first_delete.elapsed());
        }
        if rcs == 0 && left == 0 {
            break;
        }
        if first_delete.elapsed() > timeout {
            bail!("{rcs} RayClusters and {left} pods still there after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.delete_rayclusters_seconds = rc_gone.map_or(0.0, |d| d.as_secs_f64());
    report.delete_pods_seconds = first_delete.elapsed().as_secs_f64();
    let deleted = phase_now(&client, &op).await?;
    phase("delete", &mut report, deleted.0.clone(), deleted.1);

    report.usage = op.usage()?;
    report.requests_total = deleted.0.since(&base);
    op.stop(Duration::from_secs(10)).await?;
    report.journal_bytes = operator::dir_size(&journal);

    let md = report.markdown();
    println!("{md}");
    std::fs::create_dir_all(&args.out)?;
    let base = args.out.join(format!("n{}", args.clusters));
    std::fs::write(base.with_extension("md"), &md)?;
    std::fs::write(
        base.with_extension("json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(raw.join("report.md"), &md)?;
    eprintln!(
        "rayop-bench: wrote {} and .json (raw files in {})",
        base.with_extension("md").display(),
        raw.display()
    );
    for w in watches {
        w.abort();
    }
    let _ = Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await;
    Ok(())
}

async fn phase_now(client: &Client, op: &Operator) -> Result<(apf::Counts, f64)> {
    Ok((apf::scrape(client).await?, op.usage()?.cpu_seconds))
}

/// Waits until `count(state)` reaches the number of created clusters,
/// printing progress every 10 s.
async fn wait_all(
    op: &mut Operator,
    tracker: &Tracker,
    timeout: Duration,
    what: &str,
    count: impl Fn(&track::State) -> usize,
) -> Result<()> {
    let start = Instant::now();
    let mut last_print = Instant::now();
    loop {
        op.check_alive()?;
        let (done, want) = {
            let s = tracker.lock()?;
            (count(&s), s.created.len())
        };
        if done >= want {
            return Ok(());
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "rayop-bench: {done}/{want} {what} after {:.0} s",
                start.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        if start.elapsed() > timeout {
            bail!("only {done} of {want} clusters {what} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Server-side-applies one RayCluster of 1 head and `workers` workers.
async fn apply_cluster(
    api: &Api<DynamicObject>,
    ns: &str,
    name: &str,
    workers: i64,
    headless: bool,
) -> Result<()> {
    let mut obj = json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "rayVersion": "2.9.0",
            "workerGroupSpecs": [{
                "groupName": "workers",
                "replicas": workers,
                "minReplicas": 0,
                "maxReplicas": 10,
            }],
        },
    });
    if headless {
        obj["spec"]["headGroupSpec"] = json!({"headService": {"spec": {"clusterIP": "None"}}});
    }
    let obj: DynamicObject = serde_json::from_value(obj)?;
    api.patch(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await
    .with_context(|| format!("applying RayCluster {name}"))?;
    Ok(())
}

/// Applies every CRD in `dir` and waits until each is Established.
async fn apply_crds(client: &Client, dir: &Path) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for doc in rayop_testenv::yaml::documents(&path)? {
            let crd: CustomResourceDefinition = serde_json::from_value(doc)
                .with_context(|| format!("{} holds a non-CRD document", path.display()))?;
            let name = crd.name_any();
            api.patch(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .with_context(|| format!("applying CRD {name}"))?;
            names.push(name);
        }
    }
    for name in names {
        rayop_testenv::wait_until(
            &format!("CRD {name} Established"),
            Duration::from_secs(60),
            || async {
                let crd = api.get(&name).await?;
                Ok(crd.status.and_then(|s| s.conditions).is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                }))
            },
        )
        .await?;
    }
    Ok(())
}

/// Adds fake Nodes, shaped like the harness's, until the nodes take `pods`
/// pods with 20% to spare.
async fn ensure_capacity(client: &Client, pods: u64) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let existing = nodes.list(&ListParams::default()).await?.items;
    let capacity: u64 = existing
        .iter()
        .filter_map(|n| n.status.as_ref()?.allocatable.as_ref()?.get("pods"))
        .filter_map(|q| count(&q.0))
        .sum();
    let want = pods + pods / 5;
    if capacity >= want {
        return Ok(());
    }
    let extra = (want - capacity).div_ceil(PODS_PER_NODE);
    eprintln!("rayop-bench: adding {extra} fake nodes ({capacity} pods fit, {want} wanted)");
    let mut i = existing.len();
    for _ in 0..extra {
        let name = loop {
            let n = rayop_testenv::nodes::node_name(i);
            i += 1;
            if !existing.iter().any(|e| e.name_any() == n) {
                break n;
            }
        };
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node-role.kubernetes.io/agent": "",
                },
            },
        }))?;
        match nodes.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e).with_context(|| format!("creating node {name}")),
        }
        let cap = json!({
            "cpu": rayop_testenv::nodes::CPU_PER_NODE,
            "memory": rayop_testenv::nodes::MEMORY_PER_NODE,
            "pods": PODS_PER_NODE.to_string(),
        });
        nodes
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"capacity": cap, "allocatable": cap}})),
            )
            .await
            .with_context(|| format!("setting the capacity of node {name}"))?;
    }
    rayop_testenv::wait_until("the fake nodes Ready", Duration::from_secs(120), || async {
        Ok(rayop_testenv::components::nodes_ready(client).await.is_ok())
    })
    .await
}

/// A plain count quantity: `1000`, `1k`, `2M`.
fn count(q: &str) -> Option<u64> {
    let (digits, factor) = match q.strip_suffix('k') {
        Some(d) => (d, 1_000),
        None => match q.strip_suffix('M') {
            Some(d) => (d, 1_000_000),
            None => (q, 1),
        },
    };
    digits.parse::<u64>().ok().map(|n| n * factor)
}

async fn create_namespace(client: &Client, ns: &str) -> Result<()> {
    let obj: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &obj)
        .await
        .with_context(|| format!("creating namespace {ns}"))?;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    rayop_testenv::wait_until(
        &format!("ServiceAccount {ns}/default"),
        Duration::from_secs(60),
        || async { Ok(sas.get_opt("default").await?.is_some()) },
    )
    .await
}

/// CPU model, cores and memory, from /proc.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1048576.0);
    format!("{cores} cores ({model}), {mem_gib:.0} GiB RAM")
}

/// The current UTC time, RFC 3339, from `date` (no clock crate needed).
fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_quantities() {
        assert_eq!(super::count("1k"), Some(1000));
        assert_eq!(super::count("110"), Some(110));
        assert_eq!(super::count("2M"), Some(2_000_000));
        assert_eq!(super::count("1.5k"), None);
    }
}
