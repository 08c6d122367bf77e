//! The pure state machine (skeleton).
