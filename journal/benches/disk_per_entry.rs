//! Placeholder, replaced by the disk-per-entry measurement.
fn main() {}
