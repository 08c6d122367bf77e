//! rayop library (skeleton).
