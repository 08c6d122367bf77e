//! What every RayCronJob reconcile in one watch scope shares, and each
//! RayCronJob's memory.
//!
//! Invariant: a RayCronJob's memory is only touched by its own reconcile or
//! deletion; the lock is held only to take it out and put it back.

use std::sync::Arc;

use kube::{Client, runtime::events::Recorder};
use rayop_machines::{Millis, raycronjob::CronMachine};

use super::caches::CronCaches;
use crate::{controller::context::WriteCounters, journaling::JournalHandle, metrics::Metrics};

/// What the RayCronJob interpreter remembers between reconciles.
#[derive(Clone, Debug, Default)]
pub struct CronCarried {
    /// The last `PatchStatus`: the tick of the last RayJob created.
    pub last_schedule: Option<Millis>,
    /// The last `WakeAt`.
    pub wake: Option<Millis>,
    /// `Forget` was carried out.
    pub forgotten: bool,
}

impl CronCarried {
    /// Whether the wake-up is due at `now`; clears it if so.
    pub fn take_due_wake(&mut self, now: Millis) -> bool {
        crate::interpret::take_due_wake(&mut self.wake, now)
    }
}

/// One RayCronJob's machine and what its interpreter carries.
pub type CronMemory = crate::controller::turn::Memory<CronMachine, CronCarried>;

/// Shared state of the RayCronJob controller in one scope.
pub struct CronContext {
    /// The API client.
    pub client: Client,
    /// The RayJobs RayCronJobs made.
    pub caches: CronCaches,
    /// The journal.
    pub journal: Arc<JournalHandle>,
    /// Each RayCronJob's memory, by UID.
    pub memory: crate::controller::turn::Memories<CronMachine, CronCarried>,
    /// Records Kubernetes Events.
    pub recorder: Recorder,
    /// The zone of a schedule without `timeZone`: the operator's `TZ`, else UTC.
    pub operator_zone: String,
    /// The longest wait between two reconciles of a RayCronJob.
    pub resync: std::time::Duration,
    /// Writes made.
    pub writes: Arc<WriteCounters>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// True once the scope's caches have their first full list.
    pub synced: tokio::sync::watch::Receiver<bool>,
}

/// The zone of a schedule without `timeZone`: the operator process's `TZ`
/// (an IANA name; a leading `:` as in `TZ=:Europe/Paris` is dropped), else
/// UTC. Read once per scope, when its RayCronJob controller starts.
#[must_use]
pub fn operator_zone() -> String {
    zone_of(std::env::var("TZ").ok().as_deref())
}

fn zone_of(tz: Option<&str>) -> String {
    match tz.map(|z| z.trim_start_matches(':').trim()) {
        Some(zone) if !zone.is_empty() => zone.to_owned(),
        _ => "UTC".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_or_empty_tz_is_utc_and_a_set_one_is_kept() {
        assert_eq!(zone_of(None), "UTC");
        assert_eq!(zone_of(Some("")), "UTC");
        assert_eq!(zone_of(Some(":Europe/Paris")), "Europe/Paris");
        assert_eq!(zone_of(Some("Asia/Tokyo")), "Asia/Tokyo");
    }
}
