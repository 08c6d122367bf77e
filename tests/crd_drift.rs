//! The committed CRD, `deploy/crd/rayclusters.ray.io.yaml`, is exactly what
//! `rayop crd` prints. Regenerate it after any change to the API types:
//!
//! ```sh
//! cargo run -- crd > deploy/crd/rayclusters.ray.io.yaml
//! ```

// Test helpers outside #[test] functions unwrap and panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

const COMMITTED: &str = "deploy/crd/rayclusters.ray.io.yaml";

#[test]
fn committed_crd_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let generated = rayop::crd::crd_yaml().unwrap();
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
            "{COMMITTED} is out of date with the RayCluster types (first difference at line {line}).\n\
             Regenerate it with:\n\n    cargo run -- crd > {COMMITTED}\n"
        );
    }
}

#[test]
fn rayop_crd_prints_the_same_yaml() {
    let cli = <rayop::cli::Cli as clap::Parser>::try_parse_from(["rayop", "crd"]).unwrap();
    let mut out = Vec::new();
    rayop::cli::run(cli, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        rayop::crd::crd_yaml().unwrap()
    );
}
