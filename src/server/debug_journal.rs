//! `/debug/journal/<namespace>/<name>`: one cluster's journal streams as the
//! same JSON lines `rayop journal export --stream <namespace>/<name>` writes.
//!
//! Role: sled lets one process open a journal, so a running operator's
//! journal can only be read through the operator. This reads it in place.
//!
//! Invariants:
//! - Read-only: it uses [`crate::journal_view::load::export_target`], the
//!   read path `rayop journal export --stream` uses too (the journal crate's
//!   export, which reads and never quarantines, of every stream ever filed
//!   under the name, newest first), so the bytes equal the CLI's export.
//! - Runs on the blocking pool; a reconcile never waits for it.
//! - Served only on the debug listener, behind [`super::auth::Guard`].

use std::sync::Arc;

use crate::{
    journal_view::{ViewError, load},
    journaling::JournalHandle,
};

/// The outcome of one export request.
#[derive(Debug, PartialEq, Eq)]
pub enum Export {
    /// The export's JSON lines, served as 200 [`super::routes::JSON_LINES`].
    Lines(Vec<u8>),
    /// The path does not name a cluster.
    BadTarget(String),
    /// No stream is filed under that name.
    NotFound(String),
    /// This replica has no open journal.
    Unavailable(&'static str),
    /// The journal could not be read or the task panicked; served as 500.
    Failed(String),
}

/// True for a Kubernetes object name or namespace (DNS-1123 subdomain:
/// alphanumeric at both ends, so `.` and `..` are never names).
fn valid_name(s: &str) -> bool {
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    !s.is_empty()
        && s.len() <= 253
        && bytes.first().is_some_and(|b| alphanumeric(*b))
        && bytes.last().is_some_and(|b| alphanumeric(*b))
        && bytes
            .iter()
            .all(|&b| alphanumeric(b) || b == b'-' || b == b'.')
}

/// Exports the streams of `namespace/name` from `journal`.
pub async fn export(journal: Option<Arc<JournalHandle>>, namespace: &str, name: &str) -> Export {
    if !valid_name(namespace) || !valid_name(name) {
        return Export::BadTarget(format!(
            "{namespace}/{name} is not a namespace and a RayCluster name"
        ));
    }
    let Some(handle) = journal else {
        return Export::Unavailable(
            "this replica has no open journal (a standby, or running with --no-journal); ask the leader",
        );
    };
    let Some(journal) = handle.journal() else {
        return Export::Unavailable("the operator runs without a journal");
    };
    let target = format!("{namespace}/{name}");
    let task = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        load::export_target(&journal, &target, &mut lines)?;
        Ok::<_, ViewError>(lines)
    });
    match task.await {
        Ok(Ok(lines)) => Export::Lines(lines),
        Ok(Err(ViewError::UnknownTarget { target, .. })) => {
            Export::NotFound(format!("no journal stream for {target}"))
        }
        Ok(Err(error)) => Export::Failed(error.to_string()),
        Err(error) => Export::Failed(format!("export task failed: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(valid_name("ray-system"));
        assert!(valid_name("a.b-1"));
        assert!(!valid_name(""));
        assert!(!valid_name("A"));
        assert!(!valid_name("../etc"));
        assert!(!valid_name("a%2f"));
        assert!(!valid_name(".."));
        assert!(!valid_name("."));
        assert!(!valid_name("-a"));
        assert!(!valid_name("a."));
    }

    #[tokio::test]
    async fn without_a_journal_the_endpoint_says_so() {
        assert!(matches!(
            export(None, "ns", "c").await,
            Export::Unavailable(_)
        ));
        let disabled = Some(Arc::new(JournalHandle::disabled()));
        assert!(matches!(
            export(disabled, "ns", "c").await,
            Export::Unavailable(_)
        ));
        assert!(matches!(
            export(None, "NS", "c").await,
            Export::BadTarget(_)
        ));
    }
}
