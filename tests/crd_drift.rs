//! The committed CRDs under `deploy/crd/` are exactly what `rayop crd
//! [--kind ...]` prints. Regenerate them after any change to the API types:
//!
//! ```sh
//! cargo run -- crd > deploy/crd/rayclusters.ray.io.yaml
//! cargo run -- crd --kind rayjob > deploy/crd/rayjobs.ray.io.yaml
//! cargo run -- crd --kind raycronjob > deploy/crd/raycronjobs.ray.io.yaml
//! cargo run -- crd --kind rayservice > deploy/crd/rayservices.ray.io.yaml
//! ```

// Test helpers outside #[test] functions unwrap and panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use rayop::cli::crd::CrdKind;

/// Fails with the regeneration command when the committed file of `kind`
/// differs from the generated CRD.
fn assert_committed_matches(kind: CrdKind, flag: &str) {
    let committed_file = kind.committed_file();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(committed_file);
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let generated = kind.yaml().unwrap();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || committed.lines().count().min(generated.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "{committed_file} is out of date with the API types (first difference at line {line}).\n\
             Regenerate it with:\n\n    cargo run -- crd{flag} > {committed_file}\n"
        );
    }
}

/// What `rayop <args>` writes to stdout.
fn rayop_output(args: &[&str]) -> String {
    let cli = <rayop::cli::Cli as clap::Parser>::try_parse_from(args).unwrap();
    let mut out = Vec::new();
    rayop::cli::run(cli, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn committed_crd_matches_the_code() {
    assert_committed_matches(CrdKind::Raycluster, "");
}

#[test]
fn committed_rayjob_crd_matches_the_code() {
    assert_committed_matches(CrdKind::Rayjob, " --kind rayjob");
}

#[test]
fn committed_raycronjob_crd_matches_the_code() {
    assert_committed_matches(CrdKind::Raycronjob, " --kind raycronjob");
}

#[test]
fn committed_rayservice_crd_matches_the_code() {
    assert_committed_matches(CrdKind::Rayservice, " --kind rayservice");
}

#[test]
fn rayop_crd_prints_the_same_yaml() {
    assert_eq!(
        rayop_output(&["rayop", "crd"]),
        rayop::crd::crd_yaml().unwrap()
    );
    assert_eq!(
        rayop_output(&["rayop", "crd", "--kind", "raycluster"]),
        rayop::crd::crd_yaml().unwrap()
    );
    assert_eq!(
        rayop_output(&["rayop", "crd", "--kind", "rayjob"]),
        rayop::crd::rayjob::crd_yaml().unwrap()
    );
    assert_eq!(
        rayop_output(&["rayop", "crd", "--kind", "raycronjob"]),
        rayop::crd::raycronjob::crd_yaml().unwrap()
    );
    assert_eq!(
        rayop_output(&["rayop", "crd", "--kind", "rayservice"]),
        rayop::crd::rayservice::crd_yaml().unwrap()
    );
    assert!(
        <rayop::cli::Cli as clap::Parser>::try_parse_from(["rayop", "crd", "--kind", "raystuff"])
            .is_err(),
        "an unknown kind is refused"
    );
}
