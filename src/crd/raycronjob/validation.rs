//! Semantic validation of a RayCronJob, in Rust.
//!
//! Role: [`validate`] mirrors the CRD's rules (name, schedule without `TZ`,
//! non-empty `timeZone`), checks the schedule and zone with the scheduler
//! itself ([`rayop_machines::raycronjob::validate`]: robfig's standard
//! syntax, value ranges, a date that comes, an IANA zone from the bundled
//! database), and checks `jobTemplate` with the RayJob rules under
//! `spec.jobTemplate`. Every problem names its field.

use kube::ResourceExt;
use rayop_machines::raycronjob::{ScheduleError, validate as validate_schedule};

use super::spec::RayCronJob;
use crate::crd::{
    rayjob::validation::{name_problems, spec_problems},
    validation::SpecProblem,
};

/// Longest RayCronJob name: each RayJob `<name>-<11 digits>` must fit in 47.
pub const MAX_CRONJOB_NAME: usize = 36;

/// Checks a RayCronJob: its name, schedule, time zone and job template.
///
/// # Errors
/// Every problem found, in field order.
pub fn validate(cron: &RayCronJob) -> Result<(), Vec<SpecProblem>> {
    let mut out = name_problems(&cron.name_any(), MAX_CRONJOB_NAME);
    out.extend(spec_problems(&cron.spec.job_template, "spec.jobTemplate"));
    let zone = cron.spec.time_zone.as_deref();
    if cron.spec.schedule.contains("TZ") {
        out.push(SpecProblem::new(
            "spec.schedule",
            "schedule must not set TZ or CRON_TZ: use timeZone",
        ));
    } else if let Err(e @ ScheduleError::Schedule(_)) = validate_schedule(&cron.spec.schedule, None)
    {
        out.push(SpecProblem::from(&e));
    }
    match zone {
        Some("") => out.push(SpecProblem::new(
            "spec.timeZone",
            "must not be empty; unset it for the operator's local time",
        )),
        Some(_) => {
            if let Err(e @ ScheduleError::TimeZone(_)) = validate_schedule("@hourly", zone) {
                out.push(SpecProblem::from(&e));
            }
        }
        None => {}
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cron(name: &str, schedule: &str) -> RayCronJob {
        RayCronJob::new(
            name,
            serde_json::from_value(json!({
                "schedule": schedule,
                "jobTemplate": {"entrypoint": "python x.py", "rayClusterSpec": {"rayVersion": "2.52.0"}}
            }))
            .unwrap(),
        )
    }

    fn fields(c: &RayCronJob) -> Vec<String> {
        validate(c)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn value_ranges_impossible_dates_and_zones_are_checked() {
        for s in [
            "60 * * * *",
            "0 0 30 2 *",
            "0 0 * * MONDAY",
            "@every 0s",
            "0 0 L * *",
        ] {
            assert_eq!(fields(&cron("c", s)), ["spec.schedule"], "{s:?}");
        }
        let mut c = cron("c", "@hourly");
        c.spec.time_zone = Some("America/New_Yrok".into());
        assert_eq!(fields(&c), ["spec.timeZone"]);
        let problems = validate(&c).unwrap_err();
        assert!(
            problems[0].message.contains("America/New_Yrok"),
            "{}",
            problems[0].message
        );
        for zone in ["America/New_York", "UTC", "Local", "Asia/Kolkata"] {
            c.spec.time_zone = Some(zone.into());
            assert!(fields(&c).is_empty(), "{zone}");
        }
    }

    #[test]
    fn kuberays_schedules_are_well_formed() {
        for s in [
            "*/5 * * * *",
            "0 9 * * MON-FRI",
            "@hourly",
            "@every 1h30m",
            "0 0 1,15 * ?",
        ] {
            assert!(fields(&cron("c", s)).is_empty(), "{s}");
        }
    }

    #[test]
    fn malformed_schedules_are_refused() {
        for s in [
            "* * * *",
            "every minute",
            "@often",
            "@every soon",
            "* * * * * *",
            "",
        ] {
            assert_eq!(fields(&cron("c", s)), ["spec.schedule"], "{s:?}");
        }
        assert_eq!(fields(&cron("c", "TZ=UTC */5 * * * *")), ["spec.schedule"]);
    }

    #[test]
    fn names_fit_the_child_rayjobs() {
        assert!(fields(&cron(&"a".repeat(36), "@hourly")).is_empty());
        assert_eq!(fields(&cron(&"a".repeat(37), "@hourly")), ["metadata.name"]);
    }

    #[test]
    fn the_job_template_is_checked_as_a_rayjob_spec() {
        let mut c = cron("c", "@hourly");
        c.spec.job_template.suspend = true;
        c.spec.time_zone = Some(String::new());
        assert_eq!(fields(&c), ["spec.jobTemplate.suspend", "spec.timeZone"]);
    }
}
