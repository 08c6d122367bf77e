//! The names of a RayJob attempt's children, derived from the RayJob and the
//! attempt number (from 1) alone.
//!
//! | What | Name |
//! |---|---|
//! | RayCluster | `clusterSelector`'s `ray.io/cluster`, else `<rayjob>-<suffix>`, the RayJob name cut to [`MAX_CLUSTER_PREFIX`] |
//! | submitter Job (K8sJobMode) | `<rayjob>-<suffix>` |
//! | Ray submission id | `spec.jobId` when set (every attempt), else `<rayjob>-<suffix>`; none in InteractiveMode until the user sets `spec.jobId` |
//!
//! The suffix ([`attempt_suffix`]) is 5 characters of KubeRay's alphabet
//! ([`SUFFIX_ALPHABET`]) taken from a SHA-256 of the RayJob's UID (its name
//! when it has none) and the attempt: KubeRay draws it at random and stores
//! it in `status`; rayop derives it, so a replayed or restarted reconcile
//! finds the same objects, and a retry (next attempt) gets new ones.
//!
//! Decisions:
//! - **Submitter per attempt.** KubeRay names the submitter Job after the
//!   RayJob, so a retry must wait until the old Job is gone; rayop's is
//!   `<rayjob>-<suffix>`, the same suffix as the attempt's cluster, so a
//!   retry never waits on the previous attempt's Job and `kubectl get
//!   job,raycluster` pairs them by name.
//! - **`spec.jobId` on every attempt**, as KubeRay: each attempt has a new
//!   cluster, so a fixed id never meets itself in one Ray (a retry needs a
//!   cluster of the RayJob's own: `backoffLimit` is 0 with `clusterSelector`).
//! - **Cluster names fit rayop's bound.** KubeRay allows `47 + 6 = 53`
//!   characters; rayop's head StatefulSet allows a cluster name of at most
//!   [`MAX_CLUSTER_NAME`] (47), so the RayJob part is cut to 41 characters
//!   (and a trailing `-` dropped). The hash still covers the whole identity.

use kube::ResourceExt;
use sha2::{Digest, Sha256};

use crate::crd::{names::MAX_CLUSTER_NAME, rayjob::RayJob};

/// KubeRay's alphabet for random name suffixes (that of Kubernetes'
/// `rand.String`: no vowels, no look-alike digits).
pub const SUFFIX_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";
/// Characters of an attempt's suffix.
pub const SUFFIX_LEN: usize = 5;
/// Longest RayJob part of a generated cluster name: `47 - 1 - 5` = 41, so
/// `<part>-<suffix>` fits [`MAX_CLUSTER_NAME`].
pub const MAX_CLUSTER_PREFIX: usize = MAX_CLUSTER_NAME - 1 - SUFFIX_LEN;

/// The 5-character suffix of `attempt` of `job`: base-27 digits, in
/// [`SUFFIX_ALPHABET`], of the first 8 bytes of SHA-256(`<uid or name>/<attempt>`).
#[must_use]
pub fn attempt_suffix(job: &RayJob, attempt: u32) -> String {
    let key = job
        .metadata
        .uid
        .as_deref()
        .filter(|uid| !uid.is_empty())
        .map_or_else(|| job.name_any(), str::to_owned);
    let digest = Sha256::digest(format!("{key}/{attempt}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    let mut n = u64::from_be_bytes(bytes);
    let base = SUFFIX_ALPHABET.len() as u64;
    (0..SUFFIX_LEN)
        .map(|_| {
            let digit = (n % base) as usize;
            n /= base;
            char::from(SUFFIX_ALPHABET[digit])
        })
        .collect()
}

/// The RayCluster `attempt` of `job` runs on: the one `clusterSelector`
/// names, else `<rayjob cut to 41>-<suffix>`.
#[must_use]
pub fn cluster_name(job: &RayJob, attempt: u32) -> String {
    if let Some(selected) = job.spec.selected_cluster() {
        return selected.to_owned();
    }
    let name = job.name_any();
    let cut = name.get(..MAX_CLUSTER_PREFIX).unwrap_or(&name);
    format!(
        "{}-{}",
        cut.trim_end_matches('-'),
        attempt_suffix(job, attempt)
    )
}

/// The submitter Job of `attempt` (K8sJobMode): `<rayjob>-<suffix>`, at
/// most 53 characters for a valid RayJob name.
#[must_use]
pub fn submitter_job_name(job: &RayJob, attempt: u32) -> String {
    format!("{}-{}", job.name_any(), attempt_suffix(job, attempt))
}

/// The Ray submission id of `attempt`: `spec.jobId` when set, else
/// `<rayjob>-<suffix>`. `None` in InteractiveMode without `spec.jobId`:
/// the user submits, and names the id afterwards.
#[must_use]
pub fn submission_id(job: &RayJob, attempt: u32) -> Option<String> {
    let given = job.spec.job_id.trim();
    if !given.is_empty() {
        return Some(given.to_owned());
    }
    if job.spec.submission_mode == crate::crd::rayjob::SubmissionMode::InteractiveMode {
        return None;
    }
    Some(submitter_job_name(job, attempt))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crd::{names::check_cluster_name, rayjob::SubmissionMode};
    use serde_json::json;

    fn job(name: &str, uid: Option<&str>, spec: serde_json::Value) -> RayJob {
        let mut job = RayJob::new(name, serde_json::from_value(spec).unwrap());
        job.metadata.uid = uid.map(str::to_owned);
        job
    }

    #[test]
    fn suffixes_are_replayable_per_attempt_and_look_like_kuberays() {
        let j = job("sample", Some("u-1"), json!({}));
        let one = attempt_suffix(&j, 1);
        assert_eq!(one, attempt_suffix(&j, 1), "deterministic");
        assert_ne!(one, attempt_suffix(&j, 2), "a retry gets a new suffix");
        assert_eq!(one.len(), SUFFIX_LEN);
        assert!(one.bytes().all(|b| SUFFIX_ALPHABET.contains(&b)));
        let suffixes: std::collections::BTreeSet<_> =
            (1..=200).map(|a| attempt_suffix(&j, a)).collect();
        assert_eq!(suffixes.len(), 200, "no collision over 200 attempts");
    }

    #[test]
    fn the_uid_decides_and_the_name_stands_in_without_one() {
        let a = job("sample", Some("u-1"), json!({}));
        let b = job("sample", Some("u-2"), json!({}));
        assert_ne!(
            attempt_suffix(&a, 1),
            attempt_suffix(&b, 1),
            "a recreated RayJob does not meet its predecessor's leftovers"
        );
        let no_uid = job("sample", None, json!({}));
        let other = job("other", None, json!({}));
        assert_ne!(attempt_suffix(&no_uid, 1), attempt_suffix(&other, 1));
    }

    #[test]
    fn cluster_names_fit_rayops_bound() {
        let j = job("sample", Some("u"), json!({}));
        let name = cluster_name(&j, 1);
        assert_eq!(name, format!("sample-{}", attempt_suffix(&j, 1)));
        let long = "a".repeat(40) + "-bcdef";
        let j = job(&long, Some("u"), json!({}));
        let name = cluster_name(&j, 3);
        assert_eq!(
            name.len(),
            MAX_CLUSTER_NAME - 1,
            "cut at 41, trailing '-' dropped"
        );
        assert!(name.starts_with(&"a".repeat(40)) && !name.contains("--"));
        assert!(check_cluster_name(&name).is_ok());
        let longest = job(&"b".repeat(47), Some("u"), json!({}));
        assert_eq!(cluster_name(&longest, 1).len(), MAX_CLUSTER_NAME);
        assert!(check_cluster_name(&cluster_name(&longest, 1)).is_ok());
    }

    #[test]
    fn a_selector_names_the_cluster_for_every_attempt() {
        let j = job(
            "sample",
            Some("u"),
            json!({"clusterSelector": {"ray.io/cluster": "shared"}}),
        );
        assert_eq!(cluster_name(&j, 1), "shared");
        assert_eq!(cluster_name(&j, 2), "shared");
    }

    #[test]
    fn submitter_and_id_are_per_attempt_unless_the_user_fixed_the_id() {
        let j = job(&"c".repeat(47), Some("u"), json!({}));
        let submitter = submitter_job_name(&j, 1);
        assert_eq!(submitter.len(), 53);
        assert_ne!(submitter, submitter_job_name(&j, 2));
        assert_eq!(submission_id(&j, 1), Some(submitter));

        let fixed = job("sample", Some("u"), json!({"jobId": " my-id "}));
        assert_eq!(submission_id(&fixed, 1).as_deref(), Some("my-id"));
        assert_eq!(submission_id(&fixed, 2).as_deref(), Some("my-id"));
    }

    #[test]
    fn interactive_mode_waits_for_the_users_id() {
        let mut j = job(
            "sample",
            Some("u"),
            json!({"submissionMode": "InteractiveMode"}),
        );
        assert_eq!(j.spec.submission_mode, SubmissionMode::InteractiveMode);
        assert_eq!(submission_id(&j, 1), None);
        j.spec.job_id = "raysubmit_abc".into();
        assert_eq!(submission_id(&j, 1).as_deref(), Some("raysubmit_abc"));
    }
}
