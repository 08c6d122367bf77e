//! The RayCronJob summarized for the state machine
//! ([`rayop_machines::raycronjob::CronSpec`] and [`CronWorld`]).
//!
//! Role: [`summarize`] is the spec part of what the controller feeds the
//! machine each reconcile; [`world`] the rest, from the status and the child
//! RayJobs (each one's tick read back by [`child_tick`]). The operator's zone
//! (its `TZ`, else UTC) is passed in, so nothing here reads the environment.
//!
//! Invariant: `problems` is empty iff the RayCronJob can run: the rules of
//! [`crate::crd::raycronjob::validate`], then (only when those pass, so
//! nothing is said twice) what the RayJob machine would refuse of a child
//! built from `jobTemplate` ([`job_spec::problems`]), its fields
//! moved under `spec.jobTemplate`. Each problem names the field to fix.

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use rayop_machines::{
    Millis, SpecProblem,
    raycronjob::{CronSpec, CronWorld},
};

use super::child::child_rayjob;
use crate::{
    build::rayjob::job_spec,
    crd::{
        names::CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION,
        raycronjob::{RayCronJob, validate},
    },
};

/// A UID for the child built only to be checked (a real child gets its own).
const CHECKED_CHILD_UID: &str = "raycronjob-template-check";

/// `cron`'s spec as the machine reads it; `operator_zone` stands for an
/// unset `timeZone`.
#[must_use]
pub fn summarize(cron: &RayCronJob, operator_zone: &str) -> CronSpec {
    let creation = cron
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| millis(t.0))
        .unwrap_or_default();
    CronSpec {
        generation: cron.metadata.generation.unwrap_or(0),
        schedule: cron.spec.schedule.clone(),
        time_zone: cron.spec.time_zone.clone(),
        operator_zone: operator_zone.to_owned(),
        suspend: cron.spec.suspend.unwrap_or(false),
        creation,
        problems: problems(cron, creation),
    }
}

/// What the machine sees of the world: `status.lastScheduleTime` and the
/// ticks of `children` (the RayJobs labelled with the RayCronJob's name;
/// one without a readable tick is left out).
#[must_use]
pub fn world<K: ResourceExt>(cron: &RayCronJob, children: &[K]) -> CronWorld {
    let mut ticks: Vec<Millis> = children.iter().filter_map(child_tick).collect();
    ticks.sort_unstable();
    ticks.dedup();
    CronWorld {
        last_schedule: cron
            .status
            .as_ref()
            .and_then(|s| s.last_schedule_time.as_ref())
            .and_then(|t| millis(t.0)),
        children: ticks,
    }
}

/// The tick a child RayJob was created for, from its
/// `ray.io/cronjob-scheduled-timestamp`.
#[must_use]
pub fn child_tick<K: ResourceExt>(job: &K) -> Option<Millis> {
    job.annotations()
        .get(CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION)
        .and_then(|text| text.parse::<Timestamp>().ok())
        .and_then(millis)
}

fn millis(t: Timestamp) -> Option<Millis> {
    u64::try_from(t.as_millisecond()).ok().map(Millis)
}

/// Validation's problems, else those of a child built from the template.
fn problems(cron: &RayCronJob, creation: Millis) -> Vec<SpecProblem> {
    if let Err(problems) = validate(cron) {
        return problems;
    }
    let Ok(mut child) = child_rayjob(cron, creation) else {
        return Vec::new();
    };
    child.metadata.uid = Some(CHECKED_CHILD_UID.to_owned());
    job_spec::problems(&child)
        .iter()
        .map(|p| {
            let (field, message) = p.split_once(": ").unwrap_or(("spec.jobTemplate", p));
            match field.strip_prefix("spec") {
                Some(rest) => SpecProblem::new(format!("spec.jobTemplate{rest}"), message),
                None => SpecProblem::new("spec.jobTemplate", p.as_str()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{build::raycronjob::child_name, crd::raycronjob::RayCronJobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::{Value, json};

    /// `2026-03-07T10:00:00Z`.
    const T0: Millis = Millis(1_772_877_600_000);

    fn cron(spec: Value) -> RayCronJob {
        let mut c = RayCronJob::new("nightly", serde_json::from_value(spec).unwrap());
        c.metadata.namespace = Some("ns".into());
        c.metadata.uid = Some("uid".into());
        c.metadata.generation = Some(3);
        c.metadata.creation_timestamp = Some(Time("2026-03-07T10:00:00Z".parse().unwrap()));
        c
    }

    fn valid() -> Value {
        json!({
            "schedule": "*/5 * * * *",
            "timeZone": "Europe/Paris",
            "suspend": true,
            "jobTemplate": {"entrypoint": "python x.py", "shutdownAfterJobFinishes": true,
                            "rayClusterSpec": {"rayVersion": "2.52.0", "headGroupSpec": {
                                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}}}}}
        })
    }

    #[test]
    fn the_spec_is_read_as_the_machine_needs_it() {
        let s = summarize(&cron(valid()), "UTC");
        assert_eq!(s.problems, [], "{:?}", s.problems);
        assert_eq!(s.generation, 3);
        assert_eq!(s.schedule, "*/5 * * * *");
        assert_eq!(s.time_zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(s.operator_zone, "UTC");
        assert!(s.suspend);
        assert_eq!(s.creation, T0);
    }

    #[test]
    fn problems_name_their_field() {
        let mut bad = valid();
        bad["schedule"] = json!("0 0 31 2 *");
        bad["timeZone"] = json!("Europe/Pariss");
        let fields: Vec<String> = summarize(&cron(bad), "UTC")
            .problems
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["spec.schedule", "spec.timeZone"]);
    }

    #[test]
    fn a_template_whose_rayjob_would_be_refused_is_a_problem() {
        let mut bad = valid();
        bad["jobTemplate"]["runtimeEnvYAML"] = json!("pip: [unclosed");
        let problems = summarize(&cron(bad), "UTC").problems;
        assert!(
            problems
                .iter()
                .any(|p| p.field.starts_with("spec.jobTemplate")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_world_is_the_status_and_the_childrens_ticks() {
        let mut c = cron(valid());
        c.status = Some(RayCronJobStatus {
            last_schedule_time: Some(Time("2026-03-07T10:05:00Z".parse().unwrap())),
        });
        let tick = T0.plus(5 * 60_000);
        let child = child_rayjob(&c, tick).unwrap();
        assert_eq!(
            child.metadata.name.as_deref(),
            Some(child_name("nightly", tick).as_str())
        );
        let mut stray = child.clone();
        stray.metadata.annotations = None;
        let w = world(&c, &[child.clone(), child, stray]);
        assert_eq!(w.last_schedule, Some(tick));
        assert_eq!(w.children, [tick]);
    }
}
