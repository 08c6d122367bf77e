//! The fixed windows of the RayJob machine, KubeRay's defaults. A leaf, so
//! the machine and its timers both read them.

/// How long the job's state may be unknown while Running (head or
/// dashboard unreachable, or a submitted job unknown to the dashboard)
/// before the attempt fails: KubeRay's default status-check timeout, 300 s.
pub const CHECK_WINDOW_MS: u64 = 300_000;

/// How long Ray may report a terminal status while the submitter still
/// runs before the job is finished anyway: KubeRay's default grace, 300 s.
pub const TERMINAL_GRACE_MS: u64 = 300_000;
