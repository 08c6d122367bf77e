//! `rayop journal …` run as the real binary on real journals.
//!
//! - A **crash-produced journal**: a child process (this test binary
//!   re-executed with `RAYOP_JOURNAL_CLI_CHILD` set; see
//!   [`child_process_entry`]) runs the operator's journaling loop on one
//!   cluster: it restores the machine from the journal like the operator,
//!   feeds it random observations, and journals each decision through
//!   [`JournalHandle`] (decision records in one append, snapshots when due,
//!   results, command failures). The parent SIGKILLs it at random moments,
//!   several times, then checks every CLI subcommand on what is left: verify
//!   is clean, every acknowledged entry is there, list/show/replay work,
//!   export → import reproduces the journal byte for byte.
//! - A **doctored journal** (a golden fixture with one transition changed):
//!   replay exits 1 and prints the divergence.
//! - Help texts with examples, the locked-journal error, usage errors, a
//!   name reused by two UIDs, a pruned stream replayed from its snapshot, and
//!   the promise that inspection changes nothing.
//! - A **RayJob stream** beside a cluster's, journaled as the operator does:
//!   listed with its kind and phase, shown, verified and replayed through the
//!   RayJob machine.
//!
//! The child's acknowledgements are the synchronisation: the parent kills
//! after a random number of them, never after a sleep.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../machines/tests/support/mod.rs"]
mod support;

#[path = "../machines/tests/job_support/mod.rs"]
mod job_support;

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use rayop::{
    decide,
    journaling::{JournalHandle, StreamKind},
    record::{self, CommandResult, Record},
};
use rayop_journal::{Journal, Options, Timestamp};
use rayop_machines::{
    ClusterMachine, CommandKind, DesiredSpec, Event, Input, Millis, Observation, PodPhase,
};
use serde_json::Value;
use support::*;

const CHILD_ENV: &str = "RAYOP_JOURNAL_CLI_CHILD";
const DIR_ENV: &str = "RAYOP_JOURNAL_CLI_DIR";
const SEED_ENV: &str = "RAYOP_JOURNAL_CLI_SEED";
const UID: &str = "3f1c2a9e-crash-0000-0000-000000000001";
const KEY: &str = "crash/raycluster-kill9";
const SNAPSHOT_EVERY: u64 = 10;

fn options() -> Options {
    Options {
        snapshot_every: SNAPSHOT_EVERY,
        ..Options::default()
    }
}

// ---- running the binary ----

fn rayop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rayop"))
        .args(args)
        .output()
        .unwrap()
}

fn rayop_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rayop"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `rayop journal <args…> --journal <dir>` and checks the exit code.
fn journal_cmd(dir: &Path, args: &[&str], code: i32) -> (String, String) {
    let mut all: Vec<&str> = vec!["journal"];
    all.extend_from_slice(args);
    let d = dir.to_str().unwrap();
    all.extend_from_slice(&["--journal", d]);
    let out = rayop(&all);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "rayop {all:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

// ---- the operator's journaling, as the child runs it ----

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random but plausible event at `at`.
fn random_event(rng: &mut XorShift, at: Millis) -> Event {
    if rng.below(10) == 0 {
        return Event {
            at,
            input: Input::Tick,
        };
    }
    let base = spec();
    let spec = match rng.below(12) {
        0 => invalid(spec()),
        1 => DesiredSpec {
            suspend: true,
            ..spec()
        },
        2 => DesiredSpec {
            gcs_fault_tolerance: true,
            ..spec()
        },
        3 | 4 => {
            let mut bigger = spec();
            bigger.generation = 2;
            bigger.groups[0].replicas = 3;
            bigger
        }
        _ => spec(),
    };
    let world = match rng.below(9) {
        0 => Observation::default(),
        1 => applied(&spec),
        2 => with_head(applied(&spec), "head-1"),
        3 => {
            let mut lost = converged(&base);
            lost.head.pod = None;
            lost
        }
        4 => {
            let mut w = converged(&base);
            w.groups[0].pods.pop();
            w
        }
        5 => {
            let mut w = converged(&base);
            let mut head = pod("c-head-0", "head-9", false, at);
            head.phase = PodPhase::Failed;
            w.head.pod = Some(head);
            w
        }
        6 => with_head(converged(&spec), "head-2"),
        _ => converged(&spec),
    };
    observed(at, &spec, &world)
}

fn ack(journal: &Journal) {
    let seq = journal.stream_info(UID).unwrap().last_seq;
    // The real stdout: the test harness captures `println!`.
    let mut out = std::io::stdout().lock();
    writeln!(out, "ACK {seq}").unwrap();
    out.flush().unwrap();
}

/// One reconcile's journaling, as `controller::reconcile` does it: the
/// decision before its commands, the results after them (some fail, at
/// random), then each failure as a `CommandFailed` decision.
async fn reconcile(
    handle: &JournalHandle,
    machine: &mut ClusterMachine,
    event: &Event,
    rng: &mut XorShift,
) {
    let journal = handle.journal().unwrap();
    let decision = decide::decide(machine, event);
    let step = decision.step;
    if decision.worth_journaling {
        let records = record::decision_records(event, step.from, step.to, &step.commands);
        handle
            .append(UID, KEY, event.at, records, machine)
            .await
            .unwrap();
        ack(&journal);
    }
    let mut failures = Vec::new();
    let results: Vec<CommandResult> = step
        .commands
        .iter()
        .map(|c| {
            let error = (c.kind() != CommandKind::PublishStatus && rng.below(8) == 0)
                .then(|| "the server rejected the request (simulated)".to_owned());
            if let Some(message) = &error {
                failures.push(Event {
                    at: event.at,
                    input: Input::CommandFailed {
                        command: c.kind(),
                        reason: "SimulatedFailure".into(),
                        message: message.clone(),
                    },
                });
            }
            CommandResult {
                command: c.kind(),
                error,
            }
        })
        .collect();
    if results.iter().any(|r| r.command.writes_at_once()) {
        handle
            .append(UID, KEY, event.at, vec![Record::Results(results)], machine)
            .await
            .unwrap();
        ack(&journal);
    }
    for failure in failures {
        let decision = decide::decide(machine, &failure);
        if decision.worth_journaling {
            let s = &decision.step;
            let records = record::decision_records(&failure, s.from, s.to, &s.commands);
            handle
                .append(UID, KEY, failure.at, records, machine)
                .await
                .unwrap();
            ack(&journal);
        }
    }
}

/// Child-process mode (a no-op unless re-executed by the crash test):
/// - `append`: restore the machine from the journal, then journal random
///   reconciles forever, printing `ACK <last seq>` after each durable append;
/// - `finish`: journal the cluster's deletion like the operator, then exit.
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = std::env::var(DIR_ENV).unwrap();
    let seed: u64 = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (handle, report) = JournalHandle::open(Path::new(&dir), options()).unwrap();
        assert!(report.is_clean(), "{report:?}");
        // As the operator does on first sight of a cluster.
        let mut machine = handle.restore(UID).await.unwrap();
        let journal = handle.journal().unwrap();
        let mut now = journal
            .stream_info(UID)
            .ok()
            .and_then(|i| i.last_ts)
            .map_or(T0, |t| {
                Millis(u64::try_from(t.as_millis()).unwrap()).plus(1_000)
            });
        let mut rng = XorShift(seed | 1);
        match mode.as_str() {
            "append" => loop {
                now = now.plus(1_000 + rng.below(60_000));
                let event = random_event(&mut rng, now);
                reconcile(&handle, &mut machine, &event, &mut rng).await;
            },
            "finish" => {
                let event = Event {
                    at: now,
                    input: Input::Deleted,
                };
                let step = machine.step(&event);
                let records = record::decision_records(&event, step.from, step.to, &step.commands);
                handle
                    .append(UID, KEY, now, records, &machine)
                    .await
                    .unwrap();
                handle.mark_deleted(UID, now).await.unwrap();
                ack(&journal);
            }
            other => panic!("unknown child mode {other}"),
        }
    });
    std::process::exit(0);
}

fn spawn_child(mode: &str, dir: &Path, seed: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .env(SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn parse_ack(line: &str) -> Option<u64> {
    // The first line may start with libtest's "test child_process_entry ... ".
    let start = line.find("ACK ")?;
    line[start + 4..].trim().parse().ok()
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut s);
    }
    s
}

/// Runs a child until it has acknowledged `kill_after` appends, then
/// SIGKILLs it (`None`: lets it finish). Returns the highest acknowledged seq.
fn run_child(mode: &str, dir: &Path, seed: u64, kill_after: Option<u64>) -> u64 {
    let mut child = spawn_child(mode, dir, seed);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = 0;
    let mut seen = 0;
    if let Some(kill_after) = kill_after {
        // A guard against a hung child, not a synchronisation.
        let deadline = Instant::now() + Duration::from_secs(120);
        while seen < kill_after {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(seq) = parse_ack(&line) {
                        acked = acked.max(seq);
                        seen += 1;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    assert!(Instant::now() < deadline, "child made no progress");
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("child exited early: {}", stderr_of(&mut child))
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child should have been killed");
    } else {
        let status = child.wait().unwrap();
        assert!(status.success(), "child {mode}: {}", stderr_of(&mut child));
    }
    reader.join().unwrap();
    for line in rx.try_iter() {
        if let Some(seq) = parse_ack(&line) {
            acked = acked.max(seq);
        }
    }
    let stderr = stderr_of(&mut child);
    assert!(!stderr.contains("panicked"), "child panicked: {stderr}");
    acked
}

// ---- (a) the crash-produced journal ----

#[test]
fn every_subcommand_works_on_a_journal_left_by_sigkills() {
    let kills: u64 = std::env::var("RAYOP_CLI_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let seed = std::env::var("RAYOP_CLI_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("journal CLI crash test: {kills} kills, RAYOP_CLI_CRASH_SEED={seed}");
    let mut rng = XorShift(seed | 1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    std::fs::create_dir(&dir).unwrap();
    let started = Instant::now();
    let mut acked = 0;
    for _ in 0..kills {
        let kill_after = 1 + rng.below(40);
        acked = acked.max(run_child("append", &dir, rng.next(), Some(kill_after)));
    }
    let finished = run_child("finish", &dir, rng.next(), None);
    assert!(finished > acked);
    eprintln!(
        "journal CLI crash test: {kills} SIGKILLs survived, {finished} entries in {:?}",
        started.elapsed()
    );

    // verify: clean.
    let (out, _) = journal_cmd(&dir, &["verify"], 0);
    assert!(out.contains("1 streams") && out.ends_with("OK\n"), "{out}");

    // list: the stream, every acknowledged entry, the restored phase, deleted.
    let (out, _) = journal_cmd(&dir, &["list"], 0);
    assert!(out.starts_with("KIND "), "{out}");
    assert!(out.contains(KEY) && out.contains(UID), "{out}");
    let (json, _) = journal_cmd(&dir, &["list", "--json"], 0);
    let rows: Value = serde_json::from_str(&json).unwrap();
    let row = &rows.as_array().unwrap()[0];
    assert_eq!(row["kind"], "RayCluster");
    assert_eq!(row["name"], KEY);
    assert_eq!(row["uid"], UID);
    assert_eq!(row["firstSeq"], 1);
    assert_eq!(row["lastSeq"], finished);
    assert_eq!(row["entries"], finished);
    assert!(finished >= acked, "an acknowledged entry was lost");
    assert_eq!(row["phase"], "Deleted");
    assert_eq!(row["deleted"], true);
    assert_eq!(row["quarantined"], false);

    // show: one line per entry, with the snapshots, in seq order.
    let (out, _) = journal_cmd(&dir, &["show", KEY], 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("== {KEY}  uid {UID}")),
        "{out}"
    );
    let seqs: Vec<u64> = lines[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(seqs, (1..=finished).collect::<Vec<_>>());
    assert!(out.contains("Observed gen="), "{out}");
    assert!(out.contains("commands: "), "{out}");
    assert!(out.contains("snapshot of the machine after seq"), "{out}");
    assert!(out.contains("→ Deleted"), "{out}");
    // --since/--until keep a window of it.
    let times: Vec<&str> = lines[1..]
        .iter()
        .filter(|l| !l.contains("snapshot of"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let (since, until) = (times[times.len() / 4], times[times.len() / 2]);
    let (window, _) = journal_cmd(&dir, &["show", UID, "--since", since, "--until", until], 0);
    let shown: Vec<&str> = window
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(!shown.is_empty() && shown.len() < times.len(), "{window}");
    assert!(shown.iter().all(|t| *t >= since && *t <= until), "{window}");
    let (json, _) = journal_cmd(&dir, &["show", KEY, "--json"], 0);
    let streams: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        streams[0]["entries"].as_array().unwrap().len() as u64,
        finished
    );

    // replay: identical, from the beginning, snapshots compared.
    let (out, _) = journal_cmd(&dir, &["replay", KEY], 0);
    assert!(out.contains("replayed from the beginning"), "{out}");
    assert!(out.contains("identical"), "{out}");
    assert!(out.contains("phase Deleted"), "{out}");
    let events = number_before(&out, " events replayed");
    let snapshots = number_before(&out, " snapshots compared");
    assert!(events > 0 && snapshots > 0, "{out}");
    eprintln!(
        "journal CLI crash test: replay: {}",
        out.lines().nth(2).unwrap().trim()
    );

    // export → import (file and stdin) → the same journal.
    let (export, stderr) = journal_cmd(&dir, &["export"], 0);
    assert!(stderr.contains("exported 1 streams"), "{stderr}");
    assert!(
        export
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    assert_eq!(
        export
            .lines()
            .filter(|l| l.contains("\"kind\":\"entry\""))
            .count() as u64,
        finished
    );
    let file = tmp.path().join("export.jsonl");
    std::fs::write(&file, &export).unwrap();
    let copy = tmp.path().join("imported");
    let (out, _) = journal_cmd(&copy, &["import", file.to_str().unwrap()], 0);
    assert!(
        out.contains(&format!("1 streams, {finished} entries")),
        "{out}"
    );
    journal_cmd(&copy, &["verify"], 0);
    journal_cmd(&copy, &["replay", UID], 0);
    let (again, _) = journal_cmd(&copy, &["export"], 0);
    assert_eq!(again, export, "export → import → export must be exact");
    let piped = tmp.path().join("piped");
    let out = rayop_stdin(
        &[
            "journal",
            "import",
            "-",
            "--journal",
            piped.to_str().unwrap(),
        ],
        export.as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (single, _) = journal_cmd(&piped, &["export", "--stream", KEY], 0);
    assert_eq!(single, export);
}

/// Runs `write` on a journal opened in `dir` as the operator opens it.
fn journaled<F: std::future::Future<Output = ()>>(
    dir: &Path,
    write: impl FnOnce(JournalHandle) -> F,
) {
    let (handle, _) = JournalHandle::open(dir, options()).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(write(handle));
}

fn number_before(text: &str, marker: &str) -> u64 {
    let end = text.find(marker).unwrap();
    let start = text[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    text[start..end].parse().unwrap()
}

// ---- (b) a doctored journal ----

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/journals")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import_text(dir: &Path, jsonl: &str) {
    let file = dir.with_extension("jsonl");
    std::fs::write(&file, jsonl).unwrap();
    journal_cmd(dir, &["import", file.to_str().unwrap()], 0);
}

#[test]
fn replay_exits_1_on_a_doctored_journal_and_0_on_the_true_one() {
    let tmp = tempfile::tempdir().unwrap();
    let original = fixture("pending-start--Pending.jsonl");
    let true_dir = tmp.path().join("true");
    import_text(&true_dir, &original);
    let (out, _) = journal_cmd(&true_dir, &["replay", "golden/pending-start-pending"], 0);
    assert!(
        out.contains("1 events replayed") && out.contains("identical"),
        "{out}"
    );

    let doctored = original.replace(
        r#"{"transition":{"from":"Pending","to":"HeadStarting"}}"#,
        r#"{"transition":{"from":"Pending","to":"Ready"}}"#,
    );
    assert_ne!(doctored, original);
    let bad_dir = tmp.path().join("doctored");
    import_text(&bad_dir, &doctored);
    let (out, err) = journal_cmd(&bad_dir, &["replay", "golden/pending-start-pending"], 1);
    assert!(
        out.contains(
            "DIVERGENCE at record 1 (seq 2, 2023-11-14T22:13:21.000Z, a Transition record)"
        ),
        "{out}"
    );
    assert!(
        out.contains("deciding event seq 1: Observed gen=1"),
        "{out}"
    );
    assert!(
        out.contains("-  \"Ready\"") && out.contains("+  \"HeadStarting\""),
        "{out}"
    );
    assert!(err.contains("replay diverged"), "{err}");
    // Inspection of the doctored journal still works, and verify does not
    // mind: the journal is intact, only the decision differs.
    journal_cmd(&bad_dir, &["verify"], 0);
    let (show, _) = journal_cmd(&bad_dir, &["show", "golden/pending-start-pending"], 0);
    assert!(show.contains("Pending → Ready"), "{show}");
}

// ---- (c) help ----

#[test]
fn every_subcommand_explains_itself_with_an_example() {
    let out = rayop(&["--help"]);
    assert!(
        text(&out.stdout).contains("journal"),
        "{}",
        text(&out.stdout)
    );
    let out = rayop(&["journal", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in ["list", "show", "replay", "verify", "export", "import"] {
        assert!(help.contains(&format!("rayop journal {sub} ")), "{help}");
        let out = rayop(&["journal", sub, "--help"]);
        let help = text(&out.stdout);
        assert!(out.status.success(), "{sub}: {}", text(&out.stderr));
        assert!(help.contains("Example"), "{sub}: {help}");
        assert!(
            help.contains(&format!("rayop journal {sub} ")),
            "{sub}: {help}"
        );
        assert!(help.contains("--journal <DIR>"), "{sub}: {help}");
    }
}

// ---- (d) a locked journal ----

#[test]
fn a_journal_in_use_is_refused_with_what_to_do_instead() {
    let tmp = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(tmp.path(), Options::default()).unwrap();
    journal
        .append_one(
            UID,
            KEY,
            Timestamp::from_millis(1),
            &Record::<rayop_machines::ClusterMachine>::Results(vec![]),
        )
        .unwrap();
    for args in [
        vec!["list"],
        vec!["replay", KEY],
        vec!["verify"],
        vec!["import", "-"],
    ] {
        let (_, err) = journal_cmd(tmp.path(), &args, 2);
        assert!(
            err.contains(&format!("is in use by pid {}", std::process::id())),
            "{args:?}: {err}"
        );
        assert!(err.contains("copy the directory"), "{err}");
        assert!(err.contains("debug endpoint"), "{err}");
    }
    drop(journal);
}

// ---- usage errors, read-only inspection ----

#[test]
fn usage_errors_exit_2_and_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let (_, err) = journal_cmd(&missing, &["list"], 2);
    assert!(
        err.contains("no journal at") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!missing.exists(), "inspection must not create a journal");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (_, err) = journal_cmd(&empty, &["verify"], 2);
    assert!(err.contains("has no db/"), "{err}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);

    let dir = tmp.path().join("j");
    import_text(&dir, &fixture("steady--Ready.jsonl"));
    let (_, err) = journal_cmd(&dir, &["show", "nowhere/nothing"], 2);
    assert!(err.contains("no stream for nowhere/nothing"), "{err}");
    let (_, err) = journal_cmd(&dir, &["replay", "no-such-uid"], 2);
    assert!(err.contains("no stream for no-such-uid"), "{err}");
    let (_, err) = journal_cmd(
        &dir,
        &["show", "golden/steady-ready", "--since", "yesterday"],
        2,
    );
    assert!(err.contains("RFC 3339"), "{err}");
    let out = rayop(&["journal", "list"]);
    assert_eq!(out.status.code(), Some(2), "--journal is required");
    let (_, err) = journal_cmd(&dir, &["import", "/nonexistent/export.jsonl"], 2);
    assert!(err.contains("/nonexistent/export.jsonl"), "{err}");
}

#[test]
fn records_that_do_not_decode_fail_verify_and_replay_but_are_not_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let original = fixture("pending-start--Pending.jsonl");
    // Entry 2 becomes valid JSON that is not a Record.
    let doctored: String = original
        .lines()
        .map(|l| {
            if l.contains("\"seq\":2,") && l.contains("\"kind\":\"entry\"") {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v["payload"] = serde_json::json!({"not": "a record"});
                format!("{v}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let dir = tmp.path().join("j");
    import_text(&dir, &doctored);
    let before = journal_cmd(&dir, &["export"], 0).0;
    let (out, err) = journal_cmd(&dir, &["verify"], 1);
    assert!(
        out.contains("PROBLEM stream golden-pending-start-pending (golden/pending-start-pending): entry 2 does not decode as a record"),
        "{out}"
    );
    assert!(err.contains("1 problem(s)"), "{err}");
    let (_, err) = journal_cmd(&dir, &["replay", "golden/pending-start-pending"], 2);
    assert!(err.contains("entry 2 does not decode"), "{err}");
    let (show, _) = journal_cmd(&dir, &["show", "golden/pending-start-pending"], 0);
    assert!(show.contains("<does not decode as a record"), "{show}");
    let (list, _) = journal_cmd(&dir, &["list"], 0);
    assert!(list.contains("unknown: entry 2 does not decode"), "{list}");
    // Nothing was written: no quarantine, byte-identical export.
    let (json, _) = journal_cmd(&dir, &["list", "--json"], 0);
    assert!(json.contains("\"quarantined\": false"), "{json}");
    assert_eq!(journal_cmd(&dir, &["export"], 0).0, before);
}

#[test]
fn a_reused_name_shows_every_stream_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let old = fixture("deleted--Ready.jsonl");
    let new = fixture("pending-start--Pending.jsonl")
        .replace("golden/pending-start-pending", "golden/deleted-ready")
        .replace("golden-pending-start-pending", "uid-recreated");
    import_text(
        &dir,
        &format!(
            "{old}{}",
            new.lines().skip(1).collect::<Vec<_>>().join("\n")
        ),
    );
    let (out, _) = journal_cmd(&dir, &["show", "golden/deleted-ready"], 0);
    let headers: Vec<&str> = out.lines().filter(|l| l.starts_with("== ")).collect();
    assert_eq!(headers.len(), 2, "{out}");
    assert!(headers[0].contains("uid uid-recreated"), "{out}");
    assert!(headers[1].contains("uid golden-deleted-ready") && headers[1].contains("deleted "));
    let (list, _) = journal_cmd(&dir, &["list"], 0);
    assert_eq!(list.matches("golden/deleted-ready").count(), 2, "{list}");
    let (replay, _) = journal_cmd(&dir, &["replay", "golden/deleted-ready"], 0);
    assert_eq!(replay.matches("identical").count(), 2, "{replay}");
    let (one, _) = journal_cmd(&dir, &["replay", "uid-recreated"], 0);
    assert_eq!(one.matches("identical").count(), 1, "{one}");
}

#[test]
fn a_pruned_stream_replays_from_its_snapshot_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    journaled(&dir, |handle| async move {
        let mut machine = ClusterMachine::new();
        let mut rng = XorShift(42);
        let mut now = T0;
        while handle
            .journal()
            .unwrap()
            .stream_info(UID)
            .map_or(0, |i| i.last_seq)
            < 60
        {
            now = now.plus(1_000);
            let event = random_event(&mut rng, now);
            let step = machine.step(&event);
            let records = record::decision_records(&event, step.from, step.to, &step.commands);
            handle
                .append(UID, KEY, now, records, &machine)
                .await
                .unwrap();
        }
    });
    {
        let (journal, _) = Journal::open(
            &dir,
            Options {
                keep_entries: 5,
                keep_for: Duration::ZERO,
                ..options()
            },
        )
        .unwrap();
        let pruned = journal.prune(Timestamp::from_millis(i64::MAX)).unwrap();
        assert!(pruned.entries_removed > 0, "{pruned:?}");
    }
    let (out, _) = journal_cmd(&dir, &["replay", KEY], 0);
    assert!(
        out.contains("replayed from the snapshot after seq"),
        "{out}"
    );
    assert!(out.contains("were pruned by retention"), "{out}");
    assert!(out.contains("identical"), "{out}");
    let (show, _) = journal_cmd(&dir, &["show", KEY], 0);
    assert!(show.lines().next().unwrap().contains("pruned)"), "{show}");
    journal_cmd(&dir, &["verify"], 0);
}

// ---- a RayJob stream ----

#[test]
fn a_rayjob_stream_is_listed_shown_verified_and_replayed_with_its_machine() {
    use job_support::{absent, done, not_ready, obs, ready, running};
    use rayop_machines::rayjob::{JobMachine, RayStatus};

    const JOB_UID: &str = "7a0e4c1d-rayjob-0000-0000-000000000001";
    let job_key = StreamKind::RayJob.key("jobs", "rayjob-sample");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let key = job_key.clone();
    journaled(&dir, |handle| async move {
        // A cluster stream beside it, so kinds are told apart in one journal.
        let mut cluster = ClusterMachine::new();
        let event = observed(T0, &spec(), &Observation::default());
        let step = cluster.step(&event);
        let records = record::decision_records(&event, step.from, step.to, &step.commands);
        handle
            .append(UID, KEY, T0, records, &cluster)
            .await
            .unwrap();
        // The RayJob, as the operator journals it: decisions worth
        // journaling, then the results of the commands that write.
        let mut job = JobMachine::new();
        let spec = job_support::spec();
        let inputs = [
            obs(&spec, absent()),
            obs(&spec, not_ready()),
            obs(&spec, ready()),
            obs(&spec, running(RayStatus::Running)),
            obs(&spec, done(RayStatus::Succeeded)),
        ];
        for (i, input) in inputs.into_iter().enumerate() {
            let at = T0.plus(1_000 * (i as u64 + 1));
            let event = Event { at, input };
            let decision = decide::decide(&mut job, &event);
            if !decision.worth_journaling {
                continue;
            }
            let s = &decision.step;
            let mut records = record::decision_records(&event, s.from, s.to, &s.commands);
            records.push(Record::Results(
                s.commands
                    .iter()
                    .map(|c| CommandResult {
                        command: c.kind(),
                        error: None,
                    })
                    .collect(),
            ));
            handle
                .append(JOB_UID, &key, at, records, &job)
                .await
                .unwrap();
        }
    });

    let (list, _) = journal_cmd(&dir, &["list"], 0);
    let header = list.lines().next().unwrap();
    assert!(
        header.starts_with("KIND ") && header.contains(" PHASE "),
        "{list}"
    );
    let row = list
        .lines()
        .find(|l| l.contains(JOB_UID))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        row.starts_with("RayJob ") && row.contains(&job_key) && row.contains(" Complete "),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("RayCluster ") && l.contains(KEY)),
        "{list}"
    );
    assert!(!list.contains("unknown"), "{list}");
    let (json, _) = journal_cmd(&dir, &["list", "--json"], 0);
    let rows: Value = serde_json::from_str(&json).unwrap();
    let job_row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uid"] == JOB_UID)
        .unwrap();
    assert_eq!(job_row["kind"], "RayJob", "{json}");
    assert_eq!(job_row["phase"], "Complete", "{json}");

    let (show, _) = journal_cmd(&dir, &["show", &job_key], 0);
    assert!(
        show.starts_with(&format!("== {job_key}  uid {JOB_UID}")),
        "{show}"
    );
    for expected in [
        "Observed gen=1 K8sJobMode cluster=ready submitter=running ray=RUNNING",
        "New → Initializing",
        "CreateCluster(attempt 1)",
        "→ Complete",
    ] {
        assert!(show.contains(expected), "{expected:?} missing:\n{show}");
    }
    assert!(!show.contains("does not decode"), "{show}");

    journal_cmd(&dir, &["verify"], 0);
    let (replay, _) = journal_cmd(&dir, &["replay", &job_key], 0);
    assert!(
        replay.contains("identical") && replay.contains("phase Complete"),
        "{replay}"
    );
    let (by_uid, _) = journal_cmd(&dir, &["replay", JOB_UID], 0);
    assert!(by_uid.contains("identical"), "{by_uid}");

    // A doctored decision of the job diverges like a cluster's.
    let (export, _) = journal_cmd(&dir, &["export", "--stream", &job_key], 0);
    let doctored = export.replace(r#""to":"Complete""#, r#""to":"Failed""#);
    assert_ne!(doctored, export);
    let bad = tmp.path().join("doctored");
    import_text(&bad, &doctored);
    let (out, err) = journal_cmd(&bad, &["replay", &job_key], 1);
    assert!(out.contains("a Transition record"), "{out}");
    assert!(
        out.contains("-  \"Failed\"") && out.contains("+  \"Complete\""),
        "{out}"
    );
    assert!(err.contains("replay diverged"), "{err}");
}
