//! Placeholder, replaced by the append benchmarks.
fn main() {}
