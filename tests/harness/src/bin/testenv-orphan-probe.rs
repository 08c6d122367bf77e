//! A helper program for the harness's no-orphans test: it starts the shared
//! control plane exactly as a test binary does, prints each component's pid
//! (`<component> <pid>` lines, then `READY`), and then ends abruptly:
//! - `panic`: panics (as a failing test would);
//! - `wait`: blocks until it is killed (the test sends SIGKILL).
//!
//! The test then checks that every printed pid is gone.

use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let env = rayop_testenv::TestEnv::shared().await?;
        let plane = env
            .control_plane()
            .ok_or_else(|| anyhow::anyhow!("no local plane (is RAYOP_TEST_KUBECONFIG set?)"))?;
        let mut out = std::io::stdout().lock();
        for (component, pid) in plane.pids() {
            writeln!(out, "{} {pid}", component.name())?;
        }
        writeln!(out, "READY")?;
        out.flush()?;
        drop(out);
        match mode.as_str() {
            "panic" => deliberate_panic(),
            "wait" => std::future::pending::<anyhow::Result<()>>().await,
            other => anyhow::bail!("usage: testenv-orphan-probe panic|wait (got {other:?})"),
        }
    })
}

/// The whole point of the `panic` mode: end the way a failing test does.
#[allow(clippy::panic)]
fn deliberate_panic() -> ! {
    panic!("testenv-orphan-probe: deliberate panic with the control plane running");
}
