//! Shared helpers for the journal's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use rayop_journal::{Journal, Options, Timestamp, Versioned};
use serde::{Deserialize, Serialize};

/// A small event payload, about the size of an operator decision record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub n: u64,
    pub kind: String,
}

impl Versioned for Event {
    const VERSION: u32 = 1;
}

/// A small state payload for snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub applied: u64,
}

impl Versioned for State {
    const VERSION: u32 = 1;
}

pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

pub fn event(n: u64) -> Event {
    Event {
        n,
        kind: format!("observed-{}", n % 7),
    }
}

/// Opens a journal and asserts nothing was found wrong.
pub fn open_clean(dir: &Path, options: Options) -> Journal {
    let (journal, report) = Journal::open(dir, options).expect("open journal");
    assert!(report.is_clean(), "unexpected open report: {report:?}");
    journal
}

/// Polls `f` until it returns `Some`, failing after `limit`.
pub fn poll_until<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(2));
    }
}
