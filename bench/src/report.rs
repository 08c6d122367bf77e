//! The result of one run, as JSON and as a Markdown table.
//!
//! Durations are seconds, memory KiB in [`Usage`] and MiB in the table;
//! percentiles use the nearest rank, so every reported value is a sample.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::apf::Counts;
use crate::operator::Usage;

/// p50, p99 and max of a set of durations, in seconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Percentiles {
    /// How many samples: normally one per cluster.
    pub count: usize,
    /// Median (nearest rank), seconds.
    pub p50: f64,
    /// 99th percentile (nearest rank), seconds.
    pub p99: f64,
    /// Largest sample, seconds; 0 without samples.
    pub max: f64,
}

impl Percentiles {
    /// Of these samples; all zero for none.
    pub fn of(samples: &[Duration]) -> Percentiles {
        let mut s: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        s.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            if s.is_empty() {
                0.0
            } else {
                let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
                s[i]
            }
        };
        Percentiles {
            count: s.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: s.last().copied().unwrap_or(0.0),
        }
    }
}

/// Requests, CPU and memory of one phase.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Phase {
    /// Wall-clock seconds the phase lasted.
    pub seconds: f64,
    /// The operator's requests in the phase, by verb, as APF counted them.
    pub requests: Counts,
    /// Writes among them (create, update, patch, delete, deletecollection).
    pub writes: u64,
    /// Operator CPU seconds in the phase.
    pub cpu_seconds: f64,
}

/// One run: the JSON written to `--out` and the source of its Markdown table.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// RayClusters created (`--clusters`).
    pub clusters: usize,
    /// The `--operator-cmd` template, placeholders not filled in.
    pub operator_cmd: String,
    /// Create rate (clusters/s; 0 = all at once).
    pub rate: f64,
    /// Objects (workloads + Services) expected per cluster.
    pub objects_per_cluster: usize,
    /// The machine: cores, CPU model and RAM, from `/proc`.
    pub machine: String,
    /// When the run started (UTC, RFC 3339).
    pub started: String,
    /// Create → all objects exist, per cluster.
    pub create_to_objects: Percentiles,
    /// Create → all pods exist, per cluster.
    pub create_to_pods: Percentiles,
    /// Create → Ready, per cluster: request sent until the first Ready seen.
    pub create_to_ready: Percentiles,
    /// First create → last cluster Ready.
    pub all_ready_seconds: f64,
    /// First create sent → every create answered, seconds.
    pub create_send_seconds: f64,
    /// First scale patch → last cluster Ready with the new worker count.
    pub scale_seconds: f64,
    /// First delete → all RayClusters gone.
    pub delete_rayclusters_seconds: f64,
    /// First delete → all pods gone.
    pub delete_pods_seconds: f64,
    /// Phases: `startup`, `create`, `idle`, `scale`, `delete`.
    pub phases: BTreeMap<String, Phase>,
    /// All the operator's requests over the run, by verb.
    pub requests_total: Counts,
    /// Writes per cluster from the first create to all Ready.
    pub writes_per_cluster_to_ready: f64,
    /// Operator memory and CPU at the end of the run.
    pub usage: Usage,
    /// Journal size on disk at the end, bytes.
    pub journal_bytes: u64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Writes by verb and resource, e.g. `patch.statefulsets 30`.
fn detail(c: &Counts) -> String {
    let parts: Vec<String> =
        c.0.iter()
            .filter(|(k, v)| **v > 0 && k.contains('.'))
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

fn verbs(c: &Counts) -> String {
    let parts: Vec<String> =
        c.0.iter()
            .filter(|(k, v)| **v > 0 && !k.contains('.'))
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        format!("{} ({})", c.total(), parts.join(", "))
    }
}

impl Report {
    /// The Markdown table of the run, as committed under `bench-results/`.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### N = {} RayClusters (1 head + 3 workers, scaled to 5)\n",
            self.clusters
        );
        let _ = writeln!(
            s,
            "Started {}; machine: {}; operator: `{}`; create rate: {}.\n",
            self.started,
            self.machine,
            self.operator_cmd,
            if self.rate > 0.0 {
                format!("{}/s", self.rate)
            } else {
                "all at once".to_string()
            }
        );
        let _ = writeln!(s, "| Measure | Value |\n|---|---|");
        let p =
            |x: &Percentiles| format!("p50 {:.2} s, p99 {:.2} s, max {:.2} s", x.p50, x.p99, x.max);
        let rows: Vec<(String, String)> = vec![
            (
                format!(
                    "Create → all {} objects exist, per cluster",
                    self.objects_per_cluster
                ),
                p(&self.create_to_objects),
            ),
            (
                "Create → all 4 pods exist, per cluster".into(),
                p(&self.create_to_pods),
            ),
            (
                "Create → Ready, per cluster".into(),
                p(&self.create_to_ready),
            ),
            (
                format!("First create → all {} Ready", self.clusters),
                format!(
                    "{:.1} s (creates sent in {:.1} s)",
                    self.all_ready_seconds, self.create_send_seconds
                ),
            ),
            (
                "Scale 3 → 5 workers, all clusters Ready again".into(),
                format!("{:.1} s", self.scale_seconds),
            ),
            (
                "Delete → RayClusters gone / pods gone".into(),
                format!(
                    "{:.1} s / {:.1} s",
                    self.delete_rayclusters_seconds, self.delete_pods_seconds
                ),
            ),
            (
                "Writes per cluster to reach Ready".into(),
                format!("{:.2}", self.writes_per_cluster_to_ready),
            ),
            (
                "Writes during the idle window".into(),
                self.phases.get("idle").map_or("n/a".into(), |p| {
                    format!("{} (in {:.0} s)", p.writes, p.seconds)
                }),
            ),
            (
                "Operator peak RSS (VmHWM)".into(),
                format!("{:.1} MiB", mib(self.usage.peak_rss_kib)),
            ),
            (
                "Operator CPU, whole run (utime + stime)".into(),
                format!("{:.1} s", self.usage.cpu_seconds),
            ),
            (
                "Journal size on disk".into(),
                format!("{:.1} MiB", self.journal_bytes as f64 / 1048576.0),
            ),
            (
                "Operator API requests, whole run".into(),
                format!(
                    "{}; writes by resource: {}",
                    verbs(&self.requests_total),
                    detail(&self.requests_total)
                ),
            ),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        let _ = writeln!(
            s,
            "\n| Phase | Seconds | Operator requests by verb | Writes | Writes by resource | CPU s |\n|---|---|---|---|---|---|"
        );
        for name in ["startup", "create", "idle", "scale", "delete"] {
            if let Some(ph) = self.phases.get(name) {
                let _ = writeln!(
                    s,
                    "| {name} | {:.1} | {} | {} | {} | {:.1} |",
                    ph.seconds,
                    verbs(&ph.requests),
                    ph.writes,
                    detail(&ph.requests),
                    ph.cpu_seconds
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_secs).collect();
        let p = Percentiles::of(&d);
        assert_eq!((p.p50, p.p99, p.max, p.count), (50.0, 99.0, 100.0, 100));
        assert_eq!(Percentiles::of(&[]).count, 0);
    }
}
