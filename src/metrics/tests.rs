//! Unit tests of the metric families and their text encoding.

use std::{sync::Arc, time::Duration};

use super::*;

fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[test]
fn every_family_is_present_before_any_activity() {
    let text = Metrics::new().encode();
    for family in [
        "rayop_reconciles_total",
        "rayop_reconcile_duration_seconds_bucket",
        "rayop_clusters{phase=\"Ready\"} 0",
        "rayop_journal_append_duration_seconds_count 0",
        "rayop_journal_append_bytes_total 0",
        "rayop_journal_damage_total{when=\"open\"} 0",
        "rayop_journal_damage_total{when=\"operation\"} 0",
        "rayop_journal_healthy 1",
        "rayop_leader 0",
        "rayop_build_info{version=",
    ] {
        assert!(text.contains(family), "{family} missing in:\n{text}");
    }
    // Families labelled by transition or by write appear with their first
    // observation (prometheus-client encodes no empty family).
    for family in ["rayop_transitions", "rayop_api_writes"] {
        assert!(!text.contains(family), "{family} should be empty:\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn phases_move_between_series_and_deletion_forgets() {
    let m = Metrics::new();
    m.cluster_phase("a", "Pending");
    m.cluster_phase("b", "Pending");
    m.cluster_phase("a", "HeadStarting");
    m.cluster_phase("a", "HeadStarting");
    let text = m.encode();
    assert_eq!(
        line(&text, "rayop_clusters{phase=\"Pending\"}"),
        Some("rayop_clusters{phase=\"Pending\"} 1")
    );
    assert_eq!(
        line(&text, "rayop_clusters{phase=\"HeadStarting\"}"),
        Some("rayop_clusters{phase=\"HeadStarting\"} 1")
    );
    m.cluster_phase("a", "Deleted");
    m.forget_cluster("b");
    m.forget_cluster("never-seen");
    let text = m.encode();
    assert_eq!(
        line(&text, "rayop_clusters{phase=\"HeadStarting\"}"),
        Some("rayop_clusters{phase=\"HeadStarting\"} 0")
    );
    assert_eq!(
        line(&text, "rayop_clusters{phase=\"Pending\"}"),
        Some("rayop_clusters{phase=\"Pending\"} 0")
    );
}

#[test]
fn counters_and_histograms_record() {
    let m = Metrics::new();
    m.reconciled(ReconcileResult::Ok, Duration::from_millis(3));
    m.reconciled(ReconcileResult::Error, Duration::from_millis(3));
    m.transition("Pending", "HeadStarting");
    m.api_write("apply", "StatefulSet");
    m.api_write("apply", "StatefulSet");
    m.api_write_refused("delete", "Pod");
    m.journal_append(Duration::from_micros(250), 512);
    m.journal_opened(&rayop_journal::OpenReport {
        quarantined: vec!["a".into(), "b".into()],
        ..rayop_journal::OpenReport::default()
    });
    m.set_leader(true);
    let text = m.encode();
    for expected in [
        "rayop_reconciles_total{result=\"ok\"} 1",
        "rayop_reconciles_total{result=\"error\"} 1",
        "rayop_reconciles_total{result=\"skipped\"} 0",
        "rayop_reconcile_duration_seconds_count{result=\"ok\"} 1",
        "rayop_transitions_total{from=\"Pending\",to=\"HeadStarting\"} 1",
        "rayop_api_writes_total{verb=\"apply\",kind=\"StatefulSet\"} 2",
        "rayop_api_writes_refused_total{verb=\"delete\",kind=\"Pod\"} 1",
        "rayop_journal_append_duration_seconds_count 1",
        "rayop_journal_append_bytes_total 512",
        "rayop_journal_damage_total{when=\"open\"} 2",
        "rayop_leader 1",
    ] {
        assert!(text.contains(expected), "{expected} missing in:\n{text}");
    }
    assert!(m.is_leader());
}

#[test]
fn damage_reads_the_journal_handle() {
    let m = Metrics::new();
    m.watch_journal(Arc::new(JournalHandle::disabled()));
    assert!(
        m.encode()
            .contains("rayop_journal_damage_total{when=\"operation\"} 0")
    );
}

#[test]
fn an_unavailable_journal_reads_as_unhealthy_and_damaged() {
    let m = Metrics::new();
    let dir = tempfile::tempdir().unwrap();
    m.watch_journal(Arc::new(JournalHandle::unavailable(
        dir.path(),
        rayop_journal::Options::default(),
    )));
    let text = m.encode();
    assert!(text.contains("rayop_journal_healthy 0"), "{text}");
    assert!(
        text.contains("rayop_journal_damage_total{when=\"operation\"} 1"),
        "{text}"
    );
}
