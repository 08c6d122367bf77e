//! Semantic validation of a RayCronJob, in Rust.
//!
//! Role: [`validate`] mirrors the CRD's rules (name, schedule without `TZ`,
//! non-empty `timeZone`), checks the schedule's shape, and checks
//! `jobTemplate` with the RayJob rules under `spec.jobTemplate`.
//!
//! The schedule check is syntactic: five whitespace-separated fields of cron
//! characters, or a descriptor (`@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly`, `@every <duration>`). Value
//! ranges and whether `timeZone` names a real zone are left to the scheduler
//! that will compute ticks.

use kube::ResourceExt;

use super::spec::RayCronJob;
use crate::crd::{
    rayjob::validation::{name_problems, spec_problems},
    validation::SpecProblem,
};

/// Longest RayCronJob name: each RayJob `<name>-<11 digits>` must fit in 47.
pub const MAX_CRONJOB_NAME: usize = 36;

/// The descriptors a schedule may be instead of five fields.
pub const DESCRIPTORS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Checks a RayCronJob: its name, schedule, time zone and job template.
///
/// # Errors
/// Every problem found, in field order.
pub fn validate(cron: &RayCronJob) -> Result<(), Vec<SpecProblem>> {
    let mut out = name_problems(&cron.name_any(), MAX_CRONJOB_NAME);
    out.extend(spec_problems(&cron.spec.job_template, "spec.jobTemplate"));
    if cron.spec.schedule.contains("TZ") {
        out.push(SpecProblem::new(
            "spec.schedule",
            "schedule must not set TZ or CRON_TZ: use timeZone",
        ));
    } else if !schedule_is_well_formed(&cron.spec.schedule) {
        out.push(SpecProblem::new(
            "spec.schedule",
            "must be five cron fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly or @every 1h",
        ));
    }
    if cron.spec.time_zone.as_deref().is_some_and(str::is_empty) {
        out.push(SpecProblem::new(
            "spec.timeZone",
            "must not be empty; unset it for the operator's local time",
        ));
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Whether `schedule` has the shape of a standard cron expression.
#[must_use]
pub fn schedule_is_well_formed(schedule: &str) -> bool {
    let schedule = schedule.trim();
    if let Some(duration) = schedule.strip_prefix("@every ") {
        return is_duration(duration.trim());
    }
    if schedule.starts_with('@') {
        return DESCRIPTORS.contains(&schedule);
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '/' | ',' | '-' | '?'))
        })
}

/// Whether `text` is a Go duration such as `1h30m` or `90s`.
fn is_duration(text: &str) -> bool {
    let mut rest = text;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) = ["ns", "us", "µs", "ms", "h", "m", "s"]
            .into_iter()
            .find(|u| rest.starts_with(u))
        else {
            return false;
        };
        rest = &rest[unit.len()..];
        parts += 1;
    }
    parts > 0
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
