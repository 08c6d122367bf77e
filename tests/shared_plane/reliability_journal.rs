//! A damaged journal under a running operator: a full disk, an unwritable
//! volume, and corrupt database files.
//!
//! Each case puts the journal on its own small tmpfs (the tests run as root,
//! as CI does here), injects the fault, and asserts that:
//! - the operator keeps reconciling: clusters created or scaled during the
//!   fault reach Ready;
//! - the damage is reported: `rayop_journal_damage_total` grows and
//!   `rayop_journal_healthy` is 0, with a Warning Event on a cluster whose
//!   decision could not be journaled;
//! - it recovers once the damage is removed: the journal is reopened
//!   without an operator restart, a later cluster's decisions are journaled
//!   again, and the journal verifies.
//!
//! A mounted volume cannot be made read-only while the journal holds files
//! open for writing (the kernel refuses with EBUSY), so the unwritable case
//! starts the operator on a volume that is already read-only, then makes it
//! writable again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::support::*;
use anyhow::{Result, bail};
use rayop::{
    controller::Settings,
    crd::{RayCluster, status::Phase},
    journaling::Opened,
};
use rayop_testenv::wait_until;
use serde_json::json;

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs> {
        let dir = tempfile::tempdir()?;
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path()))?;
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, mode: &str) -> Result<()> {
        run(Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(self.path()))
    }

    /// Writes zeros into `filler` until the file system is full.
    fn fill(&self) -> Result<PathBuf> {
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler)?;
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => bail!("filling {}: {e}", filler.display()),
            }
        }
        // Whatever a partial write left: smaller chunks until nothing fits.
        while file.write_all(&[0u8; 512]).is_ok() {}
        Ok(filler)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the journal of an aborted operator task may still be open.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn settings() -> Settings {
    Settings {
        heal_every: Duration::from_millis(500),
        ..Settings::default()
    }
}

async fn ready(client: &kube::Client, ns: &str, c: RayCluster) -> Result<RayCluster> {
    let name = c.metadata.name.clone().unwrap_or_default();
    create(client, &cluster(c, ns)).await?;
    wait_phase(client, ns, &name, Phase::Ready).await
}

fn metric(op: &Operator, series: &str) -> Option<f64> {
    op.handles
        .metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

async fn journal_warning(client: &kube::Client, ns: &str, name: &str) -> Result<()> {
    wait_event(
        client,
        ns,
        &format!("a Warning Event on {name} about the journal"),
        |e| {
            e.type_.as_deref() == Some("Warning")
                && e.involved_object.name.as_deref() == Some(name)
                && e.reason.as_deref() == Some("JournalUnavailable")
        },
    )
    .await
}

/// The journal is reopened, a new cluster's decisions are journaled, and the
/// journal verifies.
async fn recovered(op: &Operator, client: &kube::Client, ns: &str, name: &str) -> Result<()> {
    wait_until("the journal reopened", TIMEOUT, || async {
        Ok(op.handles.journal.is_healthy())
    })
    .await?;
    assert_eq!(metric(op, "rayop_journal_healthy"), Some(1.0));
    let after = ready(client, ns, workers(name, 1)).await?;
    let transitions = op.transitions(&uid(&after));
    assert!(
        transitions.iter().any(|(_, to)| to == "Ready"),
        "{name}'s decisions journaled after recovery: {transitions:?}"
    );
    let journal = must(op.handles.journal.journal(), "an open journal")?;
    let report = journal.verify()?;
    assert!(report.is_ok(), "journal verifies: {report:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_journal_disk_is_reported_reconciling_continues_and_it_heals() -> Result<()> {
    let (env, ns) = setup("journal-full").await?;
    let client = env.client();
    let volume = Tmpfs::mount("16m")?;
    let (op, opened) = Operator::start_in(
        client.clone(),
        &[&ns],
        &volume.path().join("journal"),
        settings(),
    )
    .await?;
    assert!(matches!(opened, Opened::Open(r) if r.is_clean()));
    ready(&client, &ns, workers("first", 1)).await?;
    assert_eq!(metric(&op, "rayop_journal_healthy"), Some(1.0));

    let filler = volume.fill()?;
    // Decisions keep coming while the disk is full: new clusters and a scale.
    for name in ["full-a", "full-b", "full-c"] {
        create(&client, &cluster(workers(name, 1), &ns)).await?;
    }
    patch_spec(
        &client,
        &ns,
        "first",
        json!({"workerGroupSpecs": [{"groupName": "small", "replicas": 2}]}),
    )
    .await?;
    for name in ["full-a", "full-b", "full-c", "first"] {
        wait_phase(&client, &ns, name, Phase::Ready).await?;
    }
    wait_until("two workers for first", TIMEOUT, || async {
        Ok(pods(&client, &ns, "first", "worker").await?.len() == 2)
    })
    .await?;
    assert!(
        !op.handles.journal.is_healthy(),
        "appends failed on the full disk"
    );
    assert_eq!(metric(&op, "rayop_journal_healthy"), Some(0.0));
    let damage = metric(&op, "rayop_journal_damage_total{when=\"operation\"}");
    assert!(
        damage.is_some_and(|d| d >= 1.0),
        "damage counted: {damage:?}"
    );
    let mut warned = false;
    for name in ["full-a", "full-b", "full-c", "first"] {
        if journal_warning(&client, &ns, name).await.is_ok() {
            warned = true;
            break;
        }
    }
    assert!(warned, "a Warning Event said the journal failed");

    std::fs::remove_file(filler)?;
    recovered(&op, &client, &ns, "after").await?;
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_journal_volume_is_reported_reconciling_continues_and_it_heals() -> Result<()>
{
    let (env, ns) = setup("journal-ro").await?;
    let client = env.client();
    let volume = Tmpfs::mount("16m")?;
    volume.remount("ro")?;
    let (op, opened) = Operator::start_in(
        client.clone(),
        &[&ns],
        &volume.path().join("journal"),
        settings(),
    )
    .await?;
    let Opened::Later(error) = opened else {
        bail!("a journal opened on a read-only volume");
    };
    eprintln!("open on the read-only volume: {error}");
    assert!(!op.handles.journal.is_healthy());
    assert_eq!(metric(&op, "rayop_journal_healthy"), Some(0.0));

    ready(&client, &ns, workers("readonly", 1)).await?;
    journal_warning(&client, &ns, "readonly").await?;
    let damage = metric(&op, "rayop_journal_damage_total{when=\"operation\"}");
    assert!(
        damage.is_some_and(|d| d >= 2.0),
        "damage counted: {damage:?}"
    );

    volume.remount("rw")?;
    recovered(&op, &client, &ns, "writable").await?;
    op.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_journal_is_moved_aside_and_the_operator_converges() -> Result<()> {
    let (env, ns) = setup("journal-corrupt").await?;
    let client = env.client();
    let volume = Tmpfs::mount("32m")?;
    let dir = volume.path().join("journal");
    let (op, _) = Operator::start_in(client.clone(), &[&ns], &dir, settings()).await?;
    ready(&client, &ns, workers("before", 1)).await?;
    op.stop().await?;

    // Garbage over the whole database file, as a bad disk would leave it.
    let db = dir.join(rayop_journal::DB_DIR).join("db");
    let len = std::fs::metadata(&db)?.len();
    let garbage: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(7) + 3) as u8).collect();
    std::fs::write(&db, garbage)?;

    let (op, opened) = Operator::start_in(client.clone(), &[&ns], &dir, settings()).await?;
    let Opened::Open(report) = opened else {
        bail!("the damaged journal was not replaced by a fresh one: {opened:?}");
    };
    assert!(
        report.moved_aside.is_some(),
        "the damaged database is moved aside: {report:?}"
    );
    let damage = metric(&op, "rayop_journal_damage_total{when=\"open\"}");
    assert!(
        damage.is_some_and(|d| d >= 1.0),
        "damage counted: {damage:?}"
    );

    // The cluster known before the damage still scales, from the live state.
    patch_spec(
        &client,
        &ns,
        "before",
        json!({"workerGroupSpecs": [{"groupName": "small", "replicas": 2}]}),
    )
    .await?;
    wait_until("two workers for before", TIMEOUT, || async {
        Ok(pods(&client, &ns, "before", "worker").await?.len() == 2)
    })
    .await?;
    wait_phase(&client, &ns, "before", Phase::Ready).await?;
    recovered(&op, &client, &ns, "after").await?;
    op.stop().await
}
