//! The RayCronJob machine (work in progress).

pub mod go_duration;
pub mod schedule;
pub mod standard;
