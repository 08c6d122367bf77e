//! Test journals written the way the operator writes them: a RayJob run to
//! `Complete` and a RayCluster's first decisions, each decision followed by
//! the results of its commands and a snapshot, for the tests of the read
//! path and of the `rayop journal` subcommands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use rayop_journal::{Journal, Options, Timestamp};
use rayop_machines::{
    ClusterMachine, DesiredSpec, Event, Input, Machine, Millis, Observation,
    rayjob::{
        ClusterView, JobInput, JobMachine, JobSpec, JobWorld, RayJobView, RayStatus, SubmitterView,
    },
};

use super::load::{self, StreamDump};
use crate::{
    journaling::{MachineSnapshot, StreamKind},
    record::{self, CommandResult, Record},
};

/// The RayJob stream's id.
pub const JOB_UID: &str = "uid-rayjob-1";
/// The RayCluster stream's id.
pub const CLUSTER_UID: &str = "uid-raycluster-1";

/// The RayJob stream's index key, `RayJob:ns/job`.
#[must_use]
pub fn job_key() -> String {
    StreamKind::RayJob.key("ns", "job")
}

/// The RayCluster stream's index key, `ns/cluster`.
#[must_use]
pub fn cluster_key() -> String {
    StreamKind::RayCluster.key("ns", "cluster")
}

/// The observations of a K8sJobMode RayJob that runs to `Complete`.
#[must_use]
pub fn job_inputs() -> Vec<JobInput> {
    let spec = JobSpec {
        generation: 1,
        ..JobSpec::default()
    };
    let found = |status| RayJobView::Found {
        status,
        message: String::new(),
    };
    let worlds = [
        JobWorld::default(),
        JobWorld {
            cluster: ClusterView::NotReady,
            ..JobWorld::default()
        },
        JobWorld {
            cluster: ClusterView::Ready,
            ray_job: RayJobView::NotFound,
            head_reachable: true,
            ..JobWorld::default()
        },
        JobWorld {
            cluster: ClusterView::Ready,
            submitter: SubmitterView::Running,
            ray_job: found(RayStatus::Running),
            head_reachable: true,
            published: None,
        },
        JobWorld {
            cluster: ClusterView::Ready,
            submitter: SubmitterView::Complete,
            ray_job: found(RayStatus::Succeeded),
            head_reachable: true,
            published: None,
        },
    ];
    worlds
        .into_iter()
        .map(|world| JobInput::Observed {
            spec: spec.clone(),
            world,
        })
        .collect()
}

/// Journals `inputs`, one second apart, for stream `uid` filed under `key`:
/// each decision, then the results of its commands if it issued any (all
/// succeeded), then a snapshot of the machine. Returns the machine after the last input.
pub fn write_stream<M: Machine>(
    journal: &Journal,
    uid: &str,
    key: &str,
    inputs: Vec<M::Input>,
) -> M {
    let mut machine = M::default();
    for (i, input) in inputs.into_iter().enumerate() {
        let at = Millis(1_700_000_000_000 + 1_000 * i as u64);
        let ts = Timestamp::from_millis(i64::try_from(at.0).unwrap());
        let event = Event { at, input };
        let step = machine.step(&event);
        let mut records = record::decision_records::<M>(&event, step.from, step.to, &step.commands);
        if !step.commands.is_empty() {
            records.push(Record::Results(
                step.commands
                    .iter()
                    .map(|c| CommandResult {
                        command: M::kind_of(c),
                        error: None,
                    })
                    .collect(),
            ));
        }
        let entries: Vec<(Timestamp, Record<M>)> = records.into_iter().map(|r| (ts, r)).collect();
        let seqs = journal.append(uid, key, &entries).unwrap();
        journal
            .put_snapshot(uid, seqs.end - 1, ts, &MachineSnapshot(machine.clone()))
            .unwrap();
    }
    machine
}

/// A journal in `dir` holding the RayJob stream of [`job_inputs`] and a
/// RayCluster stream of two observations.
#[must_use]
pub fn journal_with_both_kinds(dir: &Path) -> Journal {
    let (journal, _) = Journal::open(dir, Options::default()).unwrap();
    write_stream::<JobMachine>(&journal, JOB_UID, &job_key(), job_inputs());
    let observed = Input::Observed {
        spec: DesiredSpec {
            generation: 1,
            head_hash: "h".into(),
            ..DesiredSpec::default()
        },
        world: Observation::default(),
    };
    write_stream::<ClusterMachine>(
        &journal,
        CLUSTER_UID,
        &cluster_key(),
        vec![observed.clone(), observed],
    );
    journal
}

/// The RayJob stream of [`journal_with_both_kinds`], as read by the CLI.
#[must_use]
pub fn job_dump() -> StreamDump {
    let tmp = tempfile::tempdir().unwrap();
    let journal = journal_with_both_kinds(tmp.path());
    let ids = load::resolve(&journal, &job_key()).unwrap();
    load::load_streams(&journal, &ids).unwrap().remove(0)
}
