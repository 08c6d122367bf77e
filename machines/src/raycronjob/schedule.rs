//! A RayCronJob's ticks: `spec.schedule` in `spec.timeZone` (or the
//! operator's zone), as milliseconds since the epoch.
//!
//! Role: [`Schedule::parse`] reads the schedule ([`super::standard`]: robfig's
//! `ParseStandard` syntax) and loads the zone; [`Schedule::next_after`] is the
//! first tick strictly after a moment, [`Schedule::latest_up_to`] the last
//! tick at or before one. [`next_after`] does both steps at once.
//!
//! Invariants:
//! - Pure: zones come from the IANA database bundled into the binary (jiff's),
//!   never from the host, so the same inputs give the same ticks anywhere.
//! - Cron ticks fall on whole minutes; `@every d` ticks at the previous
//!   tick (its whole second) plus `d` cut to whole seconds, at least one
//!   second, as robfig does.
//! - Daylight saving (croner's rule): a wall-clock time skipped by a
//!   spring-forward runs at the first instant after the gap; a fixed time
//!   repeated by a fall-back runs once (the first), an interval pattern
//!   (`*/15 * * * *`) runs in both repeats. robfig instead skips a fixed
//!   time in the gap and runs it twice in the repeat.

use croner::{
    Cron,
    parser::{CronParser, Seconds, Year},
};
use jiff::{
    Timestamp,
    tz::{TimeZone, TimeZoneDatabase},
};

use super::{
    go_duration,
    standard::{self, Standard},
};
use crate::{Millis, SpecProblem};

/// The JSON path of the schedule, named by its errors.
pub const SCHEDULE_FIELD: &str = "spec.schedule";
/// The JSON path of the time zone, named by its errors.
pub const TIME_ZONE_FIELD: &str = "spec.timeZone";
/// Go's name of the process's own zone; it means the operator's zone here.
pub const LOCAL_ZONE: &str = "Local";

/// Why a schedule gives no ticks. Each message starts with the field to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleError {
    /// `spec.schedule` does not parse.
    Schedule(String),
    /// `spec.timeZone` names no IANA zone.
    TimeZone(String),
    /// The operator's zone (used when `spec.timeZone` is unset) names no
    /// IANA zone: the operator is misconfigured.
    OperatorZone(String),
}

impl ScheduleError {
    /// The field the error is about (the operator's zone counts as `spec.timeZone`:
    /// setting it works around the misconfiguration).
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            ScheduleError::Schedule(_) => SCHEDULE_FIELD,
            ScheduleError::TimeZone(_) | ScheduleError::OperatorZone(_) => TIME_ZONE_FIELD,
        }
    }
}

impl ScheduleError {
    /// What is wrong, without the field.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            ScheduleError::Schedule(why) => why.clone(),
            ScheduleError::TimeZone(name) => {
                format!("{name:?} is not an IANA time zone such as America/New_York")
            }
            ScheduleError::OperatorZone(name) => format!(
                "unset, and the operator's zone {name:?} is not an IANA time zone; set timeZone"
            ),
        }
    }
}

impl From<&ScheduleError> for SpecProblem {
    fn from(e: &ScheduleError) -> SpecProblem {
        SpecProblem::new(e.field(), e.message())
    }
}

impl std::fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field(), self.message())
    }
}

impl std::error::Error for ScheduleError {}

/// How ticks recur.
#[derive(Clone, Debug)]
pub enum Recurrence {
    /// A cron pattern (five fields, descriptors expanded).
    Cron(Box<Cron>),
    /// `@every`: a fixed period, whole seconds, at least one.
    Every {
        /// The period in milliseconds.
        period_ms: u64,
    },
}

/// A parsed schedule in its zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// How ticks recur.
    pub recurrence: Recurrence,
    /// The zone cron fields are read in (unused by `@every`).
    pub zone: TimeZone,
}

/// Reads `schedule` alone, without a zone.
///
/// # Errors
/// [`ScheduleError::Schedule`] when it is not robfig's standard syntax, a
/// value is out of range, or an `@every` duration is not a positive Go duration.
pub fn parse_recurrence(schedule: &str) -> Result<Recurrence, ScheduleError> {
    match standard::read(schedule).map_err(ScheduleError::Schedule)? {
        Standard::Every(text) => {
            let nanos = go_duration::parse_nanos(text).ok_or_else(|| {
                ScheduleError::Schedule(format!(
                    "@every takes a Go duration such as 1h30m or 90s, not {text:?}"
                ))
            })?;
            if nanos <= 0 {
                return Err(ScheduleError::Schedule(format!(
                    "@every needs a positive duration, not {text:?}"
                )));
            }
            let whole_seconds = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
            Ok(Recurrence::Every {
                period_ms: whole_seconds.max(1).saturating_mul(1000),
            })
        }
        Standard::Fields(fields) => CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&fields)
            .map(|cron| Recurrence::Cron(Box::new(cron)))
            .map_err(|e| ScheduleError::Schedule(e.to_string())),
    }
}

/// The IANA zone `name` from the bundled database (case-insensitive).
#[must_use]
pub fn load_zone(name: &str) -> Option<TimeZone> {
    TimeZoneDatabase::bundled().get(name).ok()
}

impl Schedule {
    /// Reads `schedule` in `time_zone`, or in `operator_zone` when it is
    /// unset or Go's `Local`.
    ///
    /// # Errors
    /// A [`ScheduleError`] naming the schedule (also one that never ticks,
    /// such as `0 0 30 2 *`), the zone, or the operator's zone.
    pub fn parse(
        schedule: &str,
        time_zone: Option<&str>,
        operator_zone: &str,
    ) -> Result<Schedule, ScheduleError> {
        let recurrence = parse_recurrence(schedule)?;
        let zone = match time_zone.filter(|z| *z != LOCAL_ZONE) {
            Some(name) => {
                load_zone(name).ok_or_else(|| ScheduleError::TimeZone(name.to_owned()))?
            }
            None => load_zone(operator_zone)
                .ok_or_else(|| ScheduleError::OperatorZone(operator_zone.to_owned()))?,
        };
        let parsed = Schedule { recurrence, zone };
        if parsed.next_after(Millis(0)).is_none() {
            return Err(ScheduleError::Schedule(format!(
                "{schedule:?} names no date that ever comes (such as 30 February)"
            )));
        }
        Ok(parsed)
    }

    /// The first tick strictly after `t`; `None` when there is none (a
    /// pattern such as `0 0 30 2 *` that names no real date).
    #[must_use]
    pub fn next_after(&self, t: Millis) -> Option<Millis> {
        match &self.recurrence {
            Recurrence::Every { period_ms } => Some(Millis(t.0 - t.0 % 1000).plus(*period_ms)),
            Recurrence::Cron(cron) => {
                let start = self.zoned(t)?;
                let next = cron.find_next_occurrence(&start, false).ok()?;
                millis_of(next.timestamp())
            }
        }
    }

    /// The last tick at or before `now` among the ticks that follow `first`
    /// (itself a tick), and how many ticks between them were passed over,
    /// counted up to [`MAX_COUNTED`]; `None` when `first` is after `now`.
    #[must_use]
    pub fn latest_up_to(&self, first: Millis, now: Millis) -> Option<(Millis, u32)> {
        if first > now {
            return None;
        }
        match &self.recurrence {
            Recurrence::Every { period_ms } => {
                let periods = now.since(first) / period_ms.max(&1);
                let latest = first.plus(periods.saturating_mul(*period_ms));
                Some((latest, u32::try_from(periods).unwrap_or(u32::MAX)))
            }
            Recurrence::Cron(cron) => {
                let latest = self
                    .zoned(now)
                    .and_then(|z| cron.find_previous_occurrence(&z, true).ok())
                    .and_then(|z| millis_of(z.timestamp()))
                    .filter(|latest| *latest >= first)
                    .unwrap_or(first);
                let mut skipped = 0;
                let mut tick = first;
                while tick < latest && skipped < MAX_COUNTED {
                    skipped += 1;
                    match self.next_after(tick) {
                        Some(next) => tick = next,
                        None => break,
                    }
                }
                Some((latest, skipped))
            }
        }
    }

    fn zoned(&self, t: Millis) -> Option<jiff::Zoned> {
        let millis = i64::try_from(t.0).ok()?;
        Some(
            Timestamp::from_millisecond(millis)
                .ok()?
                .to_zoned(self.zone.clone()),
        )
    }
}

/// Missed ticks are counted up to this many (an every-minute schedule
/// down for a week passes over ten thousand).
pub const MAX_COUNTED: u32 = 1000;

fn millis_of(t: Timestamp) -> Option<Millis> {
    u64::try_from(t.as_millisecond()).ok().map(Millis)
}

/// Checks `schedule` and `time_zone` as a spec's validation does, without
/// the operator's zone (UTC stands in for it).
///
/// # Errors
/// As [`Schedule::parse`].
pub fn validate(schedule: &str, time_zone: Option<&str>) -> Result<(), ScheduleError> {
    Schedule::parse(schedule, time_zone, "UTC").map(|_| ())
}

/// The first tick of `schedule` in `time_zone` (or `operator_zone`)
/// strictly after `t`.
///
/// # Errors
/// As [`Schedule::parse`].
pub fn next_after(
    schedule: &str,
    time_zone: Option<&str>,
    operator_zone: &str,
    t: Millis,
) -> Result<Option<Millis>, ScheduleError> {
    Ok(Schedule::parse(schedule, time_zone, operator_zone)?.next_after(t))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// `2026-03-07T10:00:00Z`, a Saturday.
    const SAT: u64 = 1_772_877_600_000;
    const MIN: u64 = 60_000;
    const HOUR: u64 = 60 * MIN;

    fn at(text: &str) -> Millis {
        millis_of(text.parse::<Timestamp>().unwrap()).unwrap()
    }

    fn ticks(schedule: &str, zone: Option<&str>, from: Millis, n: usize) -> Vec<Millis> {
        let s = Schedule::parse(schedule, zone, "UTC").unwrap();
        let mut out = Vec::new();
        let mut t = from;
        for _ in 0..n {
            t = s.next_after(t).unwrap();
            out.push(t);
        }
        out
    }

    #[test]
    fn every_minute_ticks_strictly_after_on_whole_minutes() {
        assert_eq!(at("2026-03-07T10:00:00Z"), Millis(SAT));
        let t = ticks("* * * * *", None, Millis(SAT), 3);
        assert_eq!(
            t,
            [
                Millis(SAT + MIN),
                Millis(SAT + 2 * MIN),
                Millis(SAT + 3 * MIN)
            ]
        );
        assert_eq!(
            ticks("* * * * *", None, Millis(SAT + 500), 1),
            [Millis(SAT + MIN)]
        );
        assert_eq!(ticks("* * * * *", None, Millis(SAT - 1), 1), [Millis(SAT)]);
    }

    #[test]
    fn hourly_and_the_other_descriptors() {
        assert_eq!(
            ticks("@hourly", None, Millis(SAT + 5 * MIN), 2),
            [Millis(SAT + HOUR), Millis(SAT + 2 * HOUR)]
        );
        assert_eq!(
            ticks("@daily", None, Millis(SAT), 1),
            [at("2026-03-08T00:00:00Z")]
        );
        assert_eq!(
            ticks("@midnight", None, Millis(SAT), 1),
            [at("2026-03-08T00:00:00Z")]
        );
        assert_eq!(
            ticks("@weekly", None, Millis(SAT), 1),
            [at("2026-03-08T00:00:00Z")]
        );
        assert_eq!(
            ticks("@monthly", None, Millis(SAT), 1),
            [at("2026-04-01T00:00:00Z")]
        );
        assert_eq!(
            ticks("@yearly", None, Millis(SAT), 1),
            [at("2027-01-01T00:00:00Z")]
        );
        assert_eq!(
            ticks("@annually", None, Millis(SAT), 1),
            [at("2027-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn every_ticks_at_the_last_tick_plus_the_period_in_whole_seconds() {
        assert_eq!(
            ticks("@every 90s", None, Millis(SAT + 250), 3),
            [
                Millis(SAT + 90_000),
                Millis(SAT + 180_000),
                Millis(SAT + 270_000)
            ]
        );
        assert_eq!(
            ticks("@every 1h30m", None, Millis(SAT), 1),
            [Millis(SAT + 90 * MIN)]
        );
        assert_eq!(
            ticks("@every 1.9s", None, Millis(SAT), 1),
            [Millis(SAT + 1000)]
        );
        assert_eq!(
            ticks("@every 300ms", None, Millis(SAT), 1),
            [Millis(SAT + 1000)]
        );
        for bad in ["@every 0s", "@every -1m", "@every soon", "@every "] {
            assert!(
                matches!(parse_recurrence(bad), Err(ScheduleError::Schedule(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn day_of_week_and_month_names() {
        // Saturday 10:00 UTC: the next weekday 09:00 is Monday.
        assert_eq!(
            ticks("0 9 * * MON-FRI", None, Millis(SAT), 2),
            [at("2026-03-09T09:00:00Z"), at("2026-03-10T09:00:00Z")]
        );
        assert_eq!(
            ticks("0 9 * * sun", None, Millis(SAT), 1),
            [at("2026-03-08T09:00:00Z")]
        );
        assert_eq!(
            ticks("0 9 * * 7", None, Millis(SAT), 1),
            [at("2026-03-08T09:00:00Z")]
        );
        assert_eq!(
            ticks("0 0 1 jan,JUL ?", None, Millis(SAT), 1),
            [at("2026-07-01T00:00:00Z")]
        );
        // Day of month and day of week both restricted: either matches (robfig, Vixie).
        assert_eq!(
            ticks("0 0 13 * FRI", None, Millis(SAT), 2),
            [at("2026-03-13T00:00:00Z"), at("2026-03-20T00:00:00Z")]
        );
    }

    #[test]
    fn new_york_across_the_march_change() {
        let ny = Some("America/New_York");
        // 2026-03-08: 02:00 EST becomes 03:00 EDT.
        let before = at("2026-03-08T05:30:00Z"); // 00:30 EST
        assert_eq!(
            ticks("0 * * * *", ny, before, 3),
            [
                at("2026-03-08T06:00:00Z"), // 01:00 EST
                at("2026-03-08T07:00:00Z"), // 03:00 EDT: 02:00 does not exist
                at("2026-03-08T08:00:00Z"), // 04:00 EDT
            ]
        );
        assert_eq!(
            ticks("0 9 * * *", ny, before, 2),
            [at("2026-03-08T13:00:00Z"), at("2026-03-09T13:00:00Z")],
            "09:00 local is 14:00Z before the change and 13:00Z after"
        );
        assert_eq!(
            ticks("30 2 * * *", ny, before, 2),
            [at("2026-03-08T07:00:00Z"), at("2026-03-09T06:30:00Z")],
            "a time in the gap runs at the first instant after it"
        );
    }

    #[test]
    fn new_york_across_the_november_change_runs_a_fixed_time_once() {
        let ny = Some("America/New_York");
        // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice.
        let before = at("2026-11-01T04:00:00Z"); // 00:00 EDT
        assert_eq!(
            ticks("30 1 * * *", ny, before, 2),
            [at("2026-11-01T05:30:00Z"), at("2026-11-02T06:30:00Z")]
        );
    }

    #[test]
    fn the_operator_zone_stands_in_for_an_unset_or_local_zone() {
        let tokyo = Schedule::parse("0 9 * * *", None, "Asia/Tokyo").unwrap();
        let local = Schedule::parse("0 9 * * *", Some("Local"), "Asia/Tokyo").unwrap();
        let utc = Schedule::parse("0 9 * * *", None, "UTC").unwrap();
        assert_eq!(
            tokyo.next_after(Millis(SAT)),
            Some(at("2026-03-08T00:00:00Z"))
        );
        assert_eq!(local.next_after(Millis(SAT)), tokyo.next_after(Millis(SAT)));
        assert_eq!(
            utc.next_after(Millis(SAT)),
            Some(at("2026-03-08T09:00:00Z"))
        );
    }

    #[test]
    fn errors_name_their_field() {
        let err = |s: &str, z: Option<&str>, op: &str| Schedule::parse(s, z, op).unwrap_err();
        let e = err("61 * * * *", None, "UTC");
        assert_eq!(e.field(), "spec.schedule");
        assert!(e.to_string().starts_with("spec.schedule: "), "{e}");
        let e = err("@hourly", Some("Mars/Olympus"), "UTC");
        assert_eq!(e, ScheduleError::TimeZone("Mars/Olympus".into()));
        assert!(e.to_string().starts_with("spec.timeZone: "), "{e}");
        let e = err("@hourly", None, "Nowhere");
        assert_eq!(e.field(), "spec.timeZone");
        for bad in [
            "0 24 * * *",
            "0 0 32 * *",
            "0 0 * 13 *",
            "0 0 * * 8",
            "*/0 * * * *",
        ] {
            assert_eq!(err(bad, None, "UTC").field(), "spec.schedule", "{bad}");
        }
    }

    #[test]
    fn a_date_that_never_comes_is_refused() {
        let e = Schedule::parse("0 0 30 2 *", None, "UTC").unwrap_err();
        assert_eq!(e.field(), "spec.schedule");
        assert!(validate("0 0 29 2 *", None).is_ok(), "29 February comes");
        assert!(validate("@hourly", Some("Local")).is_ok());
        assert!(validate("@hourly", Some("Europe/Nowhere")).is_err());
    }

    #[test]
    fn the_latest_missed_tick_and_the_count_passed_over() {
        let s = Schedule::parse("* * * * *", None, "UTC").unwrap();
        let first = Millis(SAT + MIN);
        assert_eq!(s.latest_up_to(first, Millis(SAT + 30)), None);
        assert_eq!(s.latest_up_to(first, first), Some((first, 0)));
        assert_eq!(
            s.latest_up_to(first, Millis(SAT + 3 * MIN + 5)),
            Some((Millis(SAT + 3 * MIN), 2))
        );
        let (latest, skipped) = s.latest_up_to(first, Millis(SAT + 3 * 24 * HOUR)).unwrap();
        assert_eq!(latest, Millis(SAT + 3 * 24 * HOUR));
        assert_eq!(skipped, MAX_COUNTED, "counted up to the bound");
        let every = Schedule::parse("@every 90s", None, "UTC").unwrap();
        assert_eq!(
            every.latest_up_to(Millis(SAT), Millis(SAT + 10 * 90_000 + 1)),
            Some((Millis(SAT + 900_000), 10))
        );
    }
}
