//! The child RayJob of one RayCronJob tick.
//!
//! [`child_rayjob`] copies `spec.jobTemplate` verbatim into a RayJob named
//! [`child_name`] (`<cronjob>-<tick in whole minutes since the epoch>`, as
//! KubeRay), in the RayCronJob's namespace, with:
//! - the label `ray.io/cronjob-name: <cronjob>`;
//! - the annotation `ray.io/cronjob-scheduled-timestamp: <tick, UTC RFC 3339>`;
//! - one controller owner reference to the RayCronJob (with
//!   `blockOwnerDeletion`), so deleting it deletes every child.
//!
//! Invariant: pure and deterministic; the same RayCronJob and tick give the
//! same RayJob, and every tick of one minute gives the same name.

use std::collections::BTreeMap;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::ObjectMeta, jiff::Timestamp};
use kube::Resource;
use rayop_machines::{Millis, raycronjob::minute_of};

use super::CronBuildError;
use crate::crd::{
    names::{CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION, LABEL_CRONJOB_NAME},
    raycronjob::RayCronJob,
    rayjob::RayJob,
};

/// The child RayJob's name for `tick`: `<cronjob>-<tick minutes since the epoch>`.
#[must_use]
pub fn child_name(cronjob: &str, tick: Millis) -> String {
    format!("{cronjob}-{}", minute_of(tick))
}

/// `tick` in UTC RFC 3339 with whole seconds (Go's `time.RFC3339`).
///
/// # Errors
/// [`CronBuildError::Tick`] beyond what a timestamp holds.
pub fn scheduled_timestamp(tick: Millis) -> Result<String, CronBuildError> {
    let seconds = i64::try_from(tick.0 / 1000).map_err(|_| CronBuildError::Tick(tick.0))?;
    let at = Timestamp::from_second(seconds).map_err(|_| CronBuildError::Tick(tick.0))?;
    Ok(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The RayJob of `tick` of `cron` (see the module docs).
///
/// # Errors
/// A missing name, namespace or UID of the RayCronJob, or a tick beyond
/// year 9999.
pub fn child_rayjob(cron: &RayCronJob, tick: Millis) -> Result<RayJob, CronBuildError> {
    let present = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    let name = present(&cron.metadata.name).ok_or(CronBuildError::MissingName)?;
    let namespace = present(&cron.metadata.namespace).ok_or(CronBuildError::MissingNamespace)?;
    present(&cron.metadata.uid).ok_or(CronBuildError::MissingUid)?;
    let mut owner = cron
        .controller_owner_ref(&())
        .ok_or(CronBuildError::MissingUid)?;
    owner.block_owner_deletion = Some(true);
    let mut job = RayJob::new(&child_name(&name, tick), cron.spec.job_template.clone());
    job.metadata = ObjectMeta {
        name: job.metadata.name.take(),
        namespace: Some(namespace),
        labels: Some(BTreeMap::from([(LABEL_CRONJOB_NAME.to_owned(), name)])),
        annotations: Some(BTreeMap::from([(
            CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION.to_owned(),
            scheduled_timestamp(tick)?,
        )])),
        owner_references: Some(vec![owner]),
        ..ObjectMeta::default()
    };
    Ok(job)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// `2026-03-07T10:01:00Z`.
    const TICK: Millis = Millis(1_772_877_660_000);

    fn cron() -> RayCronJob {
        let mut c = RayCronJob::new(
            "nightly",
            serde_json::from_value(json!({
                "schedule": "* * * * *",
                "jobTemplate": {"entrypoint": "python x.py", "shutdownAfterJobFinishes": true,
                                "rayClusterSpec": {"rayVersion": "2.52.0"}}
            }))
            .unwrap(),
        );
        c.metadata.namespace = Some("ns".into());
        c.metadata.uid = Some("uid-cron".into());
        c.metadata.labels = Some(BTreeMap::from([("team".into(), "a".into())]));
        c
    }

    #[test]
    fn names_are_per_minute_as_kuberays() {
        assert_eq!(child_name("nightly", TICK), "nightly-29547961");
        assert_eq!(child_name("nightly", TICK.plus(59_999)), "nightly-29547961");
        assert_eq!(child_name("nightly", TICK.plus(60_000)), "nightly-29547962");
    }

    #[test]
    fn the_child_is_the_template_owned_labelled_and_stamped() {
        let c = cron();
        let job = child_rayjob(&c, TICK).unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some("nightly-29547961"));
        assert_eq!(job.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(job.spec, c.spec.job_template, "the template verbatim");
        let labels = job.metadata.labels.unwrap();
        assert_eq!(labels.len(), 1);
        assert_eq!(labels["ray.io/cronjob-name"], "nightly");
        assert_eq!(
            job.metadata.annotations.unwrap()["ray.io/cronjob-scheduled-timestamp"],
            "2026-03-07T10:01:00Z"
        );
        let owner = &job.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (
                owner.api_version.as_str(),
                owner.kind.as_str(),
                owner.name.as_str(),
                owner.uid.as_str()
            ),
            ("ray.io/v1", "RayCronJob", "nightly", "uid-cron")
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
    }

    #[test]
    fn identity_is_required() {
        let mut c = cron();
        c.metadata.uid = None;
        assert_eq!(
            child_rayjob(&c, TICK).err(),
            Some(CronBuildError::MissingUid)
        );
        c.metadata.namespace = None;
        assert_eq!(
            child_rayjob(&c, TICK).err(),
            Some(CronBuildError::MissingNamespace)
        );
        c.metadata.name = Some(String::new());
        assert_eq!(
            child_rayjob(&c, TICK).err(),
            Some(CronBuildError::MissingName)
        );
        assert_eq!(
            child_rayjob(&cron(), Millis(u64::MAX)).err(),
            Some(CronBuildError::Tick(u64::MAX))
        );
    }
}
