//! The TLS gate: with a PKI hash in the spec, the machine applies the
//! cert-manager objects first and creates no workload until the observation
//! says both leaf certificates are usable; it says so in `CertificatesReady`
//! and Events, and never holds back a workload that already exists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use rayop_machines::{
    Applied, ClusterMachine, Command, CommandKind, Observation, PkiObservation, Step, status,
};
use support::*;

fn tls_spec() -> rayop_machines::DesiredSpec {
    let mut s = spec();
    s.pki_hash = Some("pki-v1".into());
    s
}

fn pki(waiting: Option<&str>) -> Option<PkiObservation> {
    Some(PkiObservation {
        applied: Some(Applied::new("pki-v1", 0)),
        waiting: waiting.map(str::to_owned),
        ..PkiObservation::default()
    })
}

fn announced(step: &Step) -> Vec<String> {
    step.commands
        .iter()
        .filter_map(|c| match c {
            Command::Announce(n) => Some(n.reason.clone()),
            _ => None,
        })
        .collect()
}

fn certificates_condition(m: &ClusterMachine) -> status::ConditionSummary {
    m.cluster()
        .last_status
        .as_ref()
        .and_then(|s| s.condition(status::CERTIFICATES_READY).cloned())
        .expect("CertificatesReady is published")
}

#[test]
fn nothing_but_the_pki_before_the_certificates_are_ready() {
    let s = tls_spec();
    let mut m = ClusterMachine::new();
    let first = m.step(&observed(at(1), &s, &Observation::default()));
    let kinds = kinds(&first);
    assert!(kinds.contains(&CommandKind::EnsurePki), "{kinds:?}");
    assert!(!kinds.contains(&CommandKind::EnsureHead), "{kinds:?}");
    assert!(!kinds.contains(&CommandKind::EnsureGroup), "{kinds:?}");
    assert!(!certificates_condition(&m).status);

    let waiting = Observation {
        pki: pki(Some("Certificate ray-worker-cert-c: Issuing")),
        ..Observation::default()
    };
    let second = m.step(&observed(at(2), &s, &waiting));
    assert!(!kinds_of(&second).contains(&CommandKind::EnsurePki));
    assert!(!kinds_of(&second).contains(&CommandKind::EnsureHead));
    let condition = certificates_condition(&m);
    assert_eq!(condition.reason, "CertificatesNotReady");
    assert!(
        condition.message.contains("ray-worker-cert-c"),
        "{condition:?}"
    );
    assert_eq!(announced(&second), ["MTLSCertsNotReady"]);
    // The same reason again is no news.
    let again = m.step(&observed(at(3), &s, &waiting));
    assert!(announced(&again).is_empty(), "{:?}", announced(&again));

    let ready = Observation {
        pki: pki(None),
        ..Observation::default()
    };
    let open = m.step(&observed(at(4), &s, &ready));
    let kinds = kinds_of(&open);
    assert!(kinds.contains(&CommandKind::EnsureHead), "{kinds:?}");
    assert!(kinds.contains(&CommandKind::EnsureGroup), "{kinds:?}");
    assert!(certificates_condition(&m).status);
    assert!(announced(&open).contains(&"MTLSPKIReady".to_owned()));
}

#[test]
fn existing_workloads_keep_scaling_while_a_certificate_is_reissued() {
    let s = tls_spec();
    let mut m = ClusterMachine::new();
    let mut world = converged(&s);
    world.pki = pki(None);
    m.step(&observed(at(1), &s, &world));
    let mut scaled = s.clone();
    scaled.groups[0].replicas = 3;
    scaled.pki_hash = Some("pki-v2".into());
    world.pki = pki(Some("Certificate ray-worker-cert-c is being re-issued"));
    let step = m.step(&observed(at(2), &scaled, &world));
    let kinds = kinds_of(&step);
    assert!(kinds.contains(&CommandKind::EnsurePki), "{kinds:?}");
    assert!(kinds.contains(&CommandKind::EnsureGroup), "{kinds:?}");
    assert!(
        announced(&step).contains(&"MTLSCertificatesUpdated".to_owned()),
        "{:?}",
        announced(&step)
    );
}

#[test]
fn a_certificate_near_its_end_is_announced_once_per_expiry() {
    let s = tls_spec();
    let mut m = ClusterMachine::new();
    let hour = 60 * 60 * 1000;
    let mut world = converged(&s);
    world.pki = pki(None);
    let not_after = |name: &str, ms: u64| [(name.to_owned(), at(0).plus(ms))].into_iter().collect();
    // 30 hours left: nothing to say.
    world.pki.as_mut().unwrap().not_after = not_after("ray-head-cert-c", 30 * hour);
    let quiet = m.step(&observed(at(0), &s, &world));
    assert!(!announced(&quiet).contains(&"MTLSCertificateExpiringSoon".to_owned()));
    // 7 hours later, 23 hours left: one Warning that says how long.
    let warned = m.step(&observed(at(0).plus(7 * hour), &s, &world));
    let warning = warned
        .commands
        .iter()
        .find_map(|c| match c {
            Command::Announce(n) if n.reason == "MTLSCertificateExpiringSoon" => Some(n.clone()),
            _ => None,
        })
        .expect("the Warning");
    assert_eq!(warning.severity, rayop_machines::Severity::Warning);
    assert!(
        warning
            .message
            .contains("ray-head-cert-c expires in 23 h 0 min"),
        "{}",
        warning.message
    );
    // Not again for the same certificate.
    let again = m.step(&observed(at(0).plus(8 * hour), &s, &world));
    assert!(!announced(&again).contains(&"MTLSCertificateExpiringSoon".to_owned()));
    // Renewed, then near its new end: announced again.
    world.pki.as_mut().unwrap().not_after = not_after("ray-head-cert-c", 40 * hour);
    let renewed = m.step(&observed(at(0).plus(9 * hour), &s, &world));
    assert!(!announced(&renewed).contains(&"MTLSCertificateExpiringSoon".to_owned()));
    let near = m.step(&observed(at(0).plus(39 * hour), &s, &world));
    assert!(announced(&near).contains(&"MTLSCertificateExpiringSoon".to_owned()));
}

#[test]
fn without_tls_there_is_no_pki_and_no_condition() {
    let s = spec();
    let mut m = ClusterMachine::new();
    let step = m.step(&observed(at(1), &s, &Observation::default()));
    assert!(!kinds_of(&step).contains(&CommandKind::EnsurePki));
    assert!(
        m.cluster()
            .last_status
            .as_ref()
            .unwrap()
            .condition(status::CERTIFICATES_READY)
            .is_none()
    );
}

fn kinds_of(step: &Step) -> Vec<CommandKind> {
    kinds(step)
}
