//! The journal (skeleton).
