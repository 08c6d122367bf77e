//! The schedule syntax of robfig/cron's `ParseStandard`, which KubeRay uses,
//! read into what croner parses.
//!
//! Accepted: five fields `minute hour day-of-month month day-of-week` of
//! numbers, `*`, `?` (same as `*`, in any field), ranges `a-b`, steps `/n`
//! and lists `,`; month names `JAN`…`DEC` in the month field and day names
//! `SUN`…`SAT` in the day-of-week field, in any case. The descriptors
//! `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and
//! `@hourly` stand for their five fields; `@every <Go duration>` is handed
//! back to the caller.
//!
//! Refused although croner knows them, since robfig refuses them: `L`, `W`,
//! `#`, a `+` before the day of week, seconds or a year field, a name
//! outside its field. croner then checks the value ranges. Accepted beyond
//! robfig: `7` for Sunday.

/// The descriptors and the five fields each stands for.
pub const DESCRIPTORS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The prefix of a fixed-interval schedule.
pub const EVERY: &str = "@every ";

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/// A schedule's text, sorted out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standard<'a> {
    /// Five fields for croner (descriptors expanded, `?` made `*`).
    Fields(String),
    /// `@every`'s duration text, untrimmed of nothing but the prefix.
    Every(&'a str),
}

/// Sorts `schedule` out, or says what is wrong with it.
///
/// # Errors
/// A sentence naming the offending part, for `spec.schedule`.
pub fn read(schedule: &str) -> Result<Standard<'_>, String> {
    let schedule = schedule.trim();
    if let Some(duration) = schedule.strip_prefix(EVERY) {
        return Ok(Standard::Every(duration.trim()));
    }
    if schedule.starts_with('@') {
        return DESCRIPTORS
            .iter()
            .find(|(name, _)| *name == schedule)
            .map(|(_, fields)| Standard::Fields((*fields).to_owned()))
            .ok_or_else(|| {
                format!(
                    "unknown descriptor {schedule:?}: use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>"
                )
            });
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "has {} field(s); expected exactly 5 (minute hour day-of-month month day-of-week) or a descriptor such as @hourly",
            fields.len()
        ));
    }
    let mut out = Vec::with_capacity(5);
    for (index, field) in fields.iter().enumerate() {
        check_field(index, field)?;
        out.push(field.replace('?', "*"));
    }
    Ok(Standard::Fields(out.join(" ")))
}

/// Refuses characters robfig does not know and names outside their field.
fn check_field(index: usize, field: &str) -> Result<(), String> {
    let what = FIELD_NAMES.get(index).copied().unwrap_or("field");
    if let Some(bad) = field
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '/' | ',' | '-')))
    {
        return Err(format!("the {what} field {field:?} has {bad:?}"));
    }
    let names: &[&str] = match index {
        3 => &MONTHS,
        4 => &DAYS,
        _ => &[],
    };
    for word in field
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
    {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(word)) {
            return Err(format!(
                "the {what} field {field:?} has the unknown name {word:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> String {
        match read(text) {
            Ok(Standard::Fields(f)) => f,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn descriptors_expand_and_question_marks_become_stars() {
        assert_eq!(fields("@midnight"), "0 0 * * *");
        assert_eq!(fields(" @weekly "), "0 0 * * 0");
        assert_eq!(fields("0 0 1,15 * ?"), "0 0 1,15 * *");
        assert_eq!(fields("?/5 * * jan-Mar mon-FRI"), "*/5 * * jan-Mar mon-FRI");
        assert_eq!(read("@every 1h30m"), Ok(Standard::Every("1h30m")));
    }

    #[test]
    fn what_robfig_refuses_is_refused() {
        for bad in [
            "* * * *",
            "0 * * * * *",
            "@often",
            "@HOURLY",
            "0 0 L * *",
            "0 0 15W * *",
            "0 0 * * 5#2",
            "0 0 * * +MON",
            "0 JAN * * *",
            "0 0 * MON *",
            "0 0 * * MONDAY",
            "",
        ] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
    }
}
