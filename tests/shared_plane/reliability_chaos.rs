//! The chaos storm: the operator binary is killed with SIGKILL at random
//! moments while a storm of creates, scales, template changes, head-pod
//! deletions and RayCluster deletions runs against it.
//!
//! The short variant runs in `cargo test`: 20 clusters, 10 kills. The long
//! one is `RAYOP_CHAOS_LONG=1` (50 clusters, 40 kills, 400 actions);
//! `RAYOP_CHAOS_SEED` picks another storm (the default seed is fixed, so a
//! failure reproduces the same sequence of actions; the moments of the
//! kills relative to the operator's work still vary from run to run).
//!
//! At the end:
//! - every surviving cluster is Ready at its latest generation, with exactly
//!   its desired objects: one head StatefulSet, one StatefulSet or
//!   Deployment per group, two Services, one head pod and its replicas of
//!   worker pods, and nothing twice;
//! - every deleted cluster has nothing left;
//! - `rayop journal verify` passes;
//! - no acknowledged entry is lost: every entry present in the journal
//!   after any kill (that is, made durable before the kill) is still there,
//!   byte for byte, at the end;
//! - `rayop journal replay` matches for every stream;
//! - every phase the operator published in a status is journaled as a
//!   transition of that cluster (decisions are journaled before they act).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use crate::support::*;
use anyhow::{Context as _, Result, bail, ensure};
use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::{Pod, Service},
};
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use rayop::crd::{RayCluster, WorkloadKind, status::Phase, test_builders::group};
use rayop_testenv::wait_until;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// SplitMix64: a fixed, dependency-free PRNG, so a seed names a storm.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get(self.below(items.len() as u64) as usize)
    }
}

struct Storm {
    clusters: usize,
    kills: usize,
    actions: usize,
    seed: u64,
}

impl Storm {
    fn from_env() -> Storm {
        let long = std::env::var("RAYOP_CHAOS_LONG").is_ok_and(|v| v == "1");
        let seed = std::env::var("RAYOP_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5EED_CAFE);
        if long {
            Storm {
                clusters: 50,
                kills: 40,
                actions: 400,
                seed,
            }
        } else {
            Storm {
                clusters: 20,
                kills: 10,
                actions: 80,
                seed,
            }
        }
    }
}

/// The operator binary under test, killed and restarted on demand.
struct Process {
    kubeconfig: PathBuf,
    ns: String,
    journal: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(env!("CARGO_BIN_EXE_rayop"))
            .args(["run", "--namespace", &self.ns, "--resync-seconds", "10"])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--journal")
            .arg(&self.journal)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, and wait until the process is gone.
    async fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// SIGTERM, and wait for a clean exit.
    async fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().context("a running operator")?;
            std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()?;
            let status = tokio::time::timeout(TIMEOUT, child.wait()).await??;
            ensure!(status.success(), "the operator exited with {status}");
        }
        Ok(())
    }
}

fn journal_cli(args: &[&str], journal: &Path) -> Result<std::process::Output> {
    Ok(std::process::Command::new(env!("CARGO_BIN_EXE_rayop"))
        .arg("journal")
        .args(args)
        .arg("--journal")
        .arg(journal)
        .output()?)
}

/// Every entry of the journal as exported: (stream, seq) → its line.
fn entries(journal: &Path) -> Result<BTreeMap<(String, u64), String>> {
    let out = journal_cli(&["export"], journal)?;
    ensure!(
        out.status.success(),
        "journal export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found = BTreeMap::new();
    for line in String::from_utf8(out.stdout)?.lines() {
        let v: Value = serde_json::from_str(line)?;
        if v["kind"] == "entry" {
            let stream = v["stream"].as_str().unwrap_or_default().to_owned();
            let seq = v["seq"].as_u64().unwrap_or_default();
            found.insert((stream, seq), line.to_owned());
        }
    }
    Ok(found)
}

/// What the test expects of a cluster that still exists.
#[derive(Clone, Debug)]
struct Expected {
    replicas: i32,
    kind: WorkloadKind,
}

fn new_cluster(name: &str, index: usize, replicas: i32) -> (RayCluster, Expected) {
    let kind = if index % 3 == 2 {
        WorkloadKind::Deployment
    } else {
        WorkloadKind::StatefulSet
    };
    let c = RayCluster::test(name).with_group(
        group("small")
            .with_replicas(replicas)
            .bounds(0, 3)
            .with_kind(kind),
    );
    (c, Expected { replicas, kind })
}

/// Changes the spec with get, edit, replace, retrying on conflicts (the
/// operator's status writes move the resourceVersion too), like `kubectl edit`.
async fn edit(
    client: &Client,
    ns: &str,
    name: &str,
    change: impl Fn(&mut RayCluster),
) -> Result<()> {
    let api = clusters(client, ns);
    for _ in 0..20 {
        let mut c = api.get(name).await?;
        change(&mut c);
        match api.replace(name, &PostParams::default(), &c).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    bail!("{name}: 20 conflicts in a row")
}

async fn owned<K>(client: &Client, ns: &str, name: &str) -> Result<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    Ok(api
        .list(&ListParams::default().labels(&format!("ray.io/cluster={name}")))
        .await?
        .items)
}

/// Whether `name` has exactly its desired objects; the reason when not.
async fn exactly_desired(
    client: &Client,
    ns: &str,
    name: &str,
    e: &Expected,
) -> Result<Option<String>> {
    let sts = owned::<StatefulSet>(client, ns, name).await?.len();
    let deploys = owned::<Deployment>(client, ns, name).await?.len();
    let services = owned::<Service>(client, ns, name).await?.len();
    let all_pods = owned::<Pod>(client, ns, name).await?;
    let live: Vec<&Pod> = all_pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let of = |t: &str| {
        live.iter()
            .filter(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("ray.io/node-type"))
                    .is_some_and(|v| v == t)
            })
            .count()
    };
    let (want_sts, want_deploys) = match e.kind {
        WorkloadKind::Deployment => (1, 1),
        WorkloadKind::StatefulSet => (2, 0),
    };
    let got = (
        sts,
        deploys,
        services,
        of("head"),
        of("worker"),
        all_pods.len(),
    );
    let want = (
        want_sts,
        want_deploys,
        2,
        1,
        e.replicas as usize,
        1 + e.replicas as usize,
    );
    Ok((got != want).then(|| {
        format!(
            "{name}: (statefulsets, deployments, services, head pods, worker pods, all pods) = {got:?}, want {want:?}"
        )
    }))
}

async fn ready_now(client: &Client, ns: &str, name: &str) -> Result<bool> {
    let c = clusters(client, ns).get(name).await?;
    let status = c.status.clone().unwrap_or_default();
    Ok(status.phase == Some(Phase::Ready) && status.observed_generation == c.metadata.generation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_with_kill_9_leaves_exact_objects_and_a_sound_journal() -> Result<()> {
    let storm = Storm::from_env();
    let (env, ns) = setup("chaos").await?;
    let client = env.client();
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("journal");
    let mut op = Process {
        kubeconfig: env.kubeconfig().to_path_buf(),
        ns: ns.clone(),
        journal: journal.clone(),
        log: dir.path().join("rayop.log"),
        child: None,
    };
    let started = Instant::now();
    op.start()?;

    let mut rng = Rng(storm.seed);
    let mut live: BTreeMap<String, Expected> = BTreeMap::new();
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    let mut created = 0usize;
    let mut kills = 0usize;
    let mut acknowledged: BTreeMap<(String, u64), String> = BTreeMap::new();
    // Phases seen in status, by cluster UID: each must be journaled.
    let mut published: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let kill_every = (storm.actions / storm.kills).max(1);
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let api = clusters(&client, &ns);

    let mut step = 0usize;
    while step < storm.actions || kills < storm.kills {
        let creates_left = storm.clusters.saturating_sub(created);
        let action =
            if created < storm.clusters / 2 || storm.actions.saturating_sub(step) <= creates_left {
                0
            } else {
                rng.below(100)
            };
        let names: Vec<String> = live.keys().cloned().collect();
        match action {
            // Create, while fewer than the storm's clusters exist.
            0..=19 if created < storm.clusters => {
                let name = format!("c{created:02}");
                let replicas = rng.below(3) as i32 + 1;
                let (c, expected) = new_cluster(&name, created, replicas);
                create(&client, &cluster(c, &ns)).await?;
                live.insert(name, expected);
                created += 1;
                *counts.entry("create").or_default() += 1;
            }
            // Scale a group.
            0..=44 => {
                if let Some(name) = rng.pick(&names).cloned() {
                    let replicas = rng.below(4) as i32;
                    edit(&client, &ns, &name, |c| {
                        c.spec.worker_group_specs[0].replicas = replicas;
                    })
                    .await?;
                    if let Some(e) = live.get_mut(&name) {
                        e.replicas = replicas;
                    }
                    *counts.entry("scale").or_default() += 1;
                }
            }
            // A template change: the head's or the workers' pods roll.
            45..=64 => {
                if let Some(name) = rng.pick(&names).cloned() {
                    let rev = rng.next().to_string();
                    if rng.below(2) == 0 {
                        let patch = json!({"spec": {"headGroupSpec": {"template": {"metadata": {"annotations": {"chaos/rev": rev}}}}}});
                        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                            .await?;
                    } else {
                        edit(&client, &ns, &name, |c| {
                            let meta = c.spec.worker_group_specs[0]
                                .template
                                .get_or_insert_with(Default::default)
                                .metadata
                                .get_or_insert_with(Default::default);
                            meta.annotations
                                .get_or_insert_with(Default::default)
                                .insert("chaos/rev".into(), rev.clone());
                        })
                        .await?;
                    }
                    *counts.entry("template").or_default() += 1;
                }
            }
            // Lose the head pod.
            65..=84 => {
                if let Some(name) = rng.pick(&names).cloned() {
                    for p in pods(&client, &ns, &name, "head").await? {
                        let pod = p.metadata.name.clone().unwrap_or_default();
                        let _ = pods_api.delete(&pod, &DeleteParams::default()).await;
                    }
                    *counts.entry("head-pod-delete").or_default() += 1;
                }
            }
            // Delete a cluster, keeping at least half of those created.
            _ => {
                if live.len() > created / 2
                    && let Some(name) = rng.pick(&names).cloned()
                {
                    api.delete(&name, &DeleteParams::default()).await?;
                    live.remove(&name);
                    deleted.insert(name);
                    *counts.entry("delete").or_default() += 1;
                }
            }
        }
        step += 1;

        // Remember the phases published so far.
        for c in api.list(&ListParams::default()).await?.items {
            if let (Some(uid), Some(phase)) = (
                c.metadata.uid.clone(),
                c.status.as_ref().and_then(|s| s.phase),
            ) {
                published
                    .entry(uid)
                    .or_default()
                    .insert(format!("{phase:?}"));
            }
        }

        if step.is_multiple_of(kill_every) && kills < storm.kills {
            // At a random moment within the next half second.
            tokio::time::sleep(Duration::from_millis(rng.below(500))).await; // fault timing, not synchronisation
            op.kill().await?;
            kills += 1;
            // What the killed operator made durable must survive everything after.
            for (key, line) in entries(&journal)? {
                if let Some(before) = acknowledged.get(&key) {
                    ensure!(
                        *before == line,
                        "entry {key:?} changed after kill {kills}:\n{before}\n{line}"
                    );
                }
                acknowledged.insert(key, line);
            }
            op.start()?;
        } else {
            tokio::time::sleep(Duration::from_millis(rng.below(150))).await; // storm pacing
        }
    }
    let storm_time = started.elapsed();

    // Convergence.
    for (name, expected) in &live {
        wait_until(
            &format!("{name} Ready with exactly its objects"),
            TIMEOUT * 2,
            || async {
                Ok(ready_now(&client, &ns, name).await?
                    && exactly_desired(&client, &ns, name, expected)
                        .await?
                        .is_none())
            },
        )
        .await
        .map_err(|e| e.context(format!("{name}: expected {expected:?}")))?;
    }
    for name in &deleted {
        wait_until(
            &format!("{name} leaves nothing behind"),
            TIMEOUT * 2,
            || async {
                Ok(owned::<StatefulSet>(&client, &ns, name).await?.is_empty()
                    && owned::<Deployment>(&client, &ns, name).await?.is_empty()
                    && owned::<Service>(&client, &ns, name).await?.is_empty()
                    && owned::<Pod>(&client, &ns, name).await?.is_empty())
            },
        )
        .await?;
    }
    let converged = started.elapsed();
    // Exact, not merely eventually: a final look at every survivor.
    for (name, expected) in &live {
        if let Some(problem) = exactly_desired(&client, &ns, name, expected).await? {
            bail!("after convergence: {problem}");
        }
    }
    op.stop().await?;

    // The journal.
    let verify = journal_cli(&["verify"], &journal)?;
    ensure!(
        verify.status.success(),
        "journal verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let end = entries(&journal)?;
    let mut lost = Vec::new();
    for (key, line) in &acknowledged {
        if end.get(key) != Some(line) {
            lost.push(key.clone());
        }
    }
    ensure!(
        lost.is_empty(),
        "acknowledged entries lost or changed: {lost:?}"
    );
    let streams: BTreeSet<String> = end.keys().map(|(s, _)| s.clone()).collect();
    for uid in &streams {
        let replay = journal_cli(&["replay", uid], &journal)?;
        if !replay.status.success() {
            // What the diagnosis needs: the stream's timeline and what the
            // operators said about the journal.
            let show = journal_cli(&["show", uid], &journal)?;
            let said: Vec<String> = std::fs::read_to_string(&op.log)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("journal") || l.contains(uid.as_str()))
                .map(str::to_owned)
                .collect();
            bail!(
                "replay of {uid}: {}{}\n--- journal show\n{}\n--- operator log lines about the journal\n{}",
                String::from_utf8_lossy(&replay.stdout),
                String::from_utf8_lossy(&replay.stderr),
                String::from_utf8_lossy(&show.stdout),
                said.join("\n")
            );
        }
    }
    for (uid, phases) in &published {
        let journaled: BTreeSet<String> = end
            .iter()
            .filter(|((s, _), _)| s == uid)
            .filter_map(|(_, line)| {
                let v: Value = serde_json::from_str(line).ok()?;
                let to = v["payload"]["transition"]["to"].as_str()?;
                Some(to.to_owned())
            })
            .collect();
        for phase in phases {
            // Pending is the machine's start, not a transition.
            ensure!(
                phase == "Pending" || journaled.contains(phase),
                "{uid}: phase {phase} was published but never journaled ({journaled:?})"
            );
        }
    }

    eprintln!(
        "chaos storm (seed {:#x}): {} clusters created, {} deleted, {} kills, actions {counts:?}; \
         storm {storm_time:.1?}, all converged at {converged:.1?}; {} streams, {} acknowledged entries, 0 lost, 0 duplicates",
        storm.seed,
        created,
        deleted.len(),
        kills,
        streams.len(),
        acknowledged.len()
    );
    ensure!(kills >= storm.kills && created >= storm.clusters.min(20));
    Ok(())
}
