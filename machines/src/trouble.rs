//! Troubles: pod-level failures put in words that name the RayCluster field
//! to fix, with the scheduler's, kubelet's or controller's text as detail.
//!
//! Invariants:
//! - Pure over the spec and the observation: the same inputs give the same
//!   troubles in the same order (head first, then groups in spec order).
//! - One trouble per subject (the head, or one group) and [`category`], so
//!   ten worker pods failing alike are one trouble, and a container that
//!   flips between `ErrImagePull` and `ImagePullBackOff` stays one.
//! - Every message is bounded ([`MAX_MESSAGE`] characters).

use crate::{DesiredSpec, FailedCreate, ObjectName, Observation, PodProblem, PodView};

/// The longest message a trouble carries, in characters.
pub(crate) const MAX_MESSAGE: usize = 600;

/// The reason scheduling problems carry.
const UNSCHEDULABLE: &str = "Unschedulable";
/// The container the autoscaler sidecar runs as, which no template has.
const AUTOSCALER_CONTAINER: &str = "autoscaler";

/// Where a trouble is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    /// The head pod or its StatefulSet.
    Head,
    /// A worker group, by name.
    Group(String),
}

/// One problem, ready for a condition and an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Trouble {
    /// Where it is.
    pub subject: Subject,
    /// `<subject>/<category>`: what makes two troubles the same problem.
    pub key: String,
    /// CamelCase reason, for the condition and the Event.
    pub reason: String,
    /// The sentence: the field to fix first, the reporter's text as detail.
    pub message: String,
    /// A pod could not be created at all (`ReplicaFailure`), rather than a
    /// pod that exists failing to run.
    pub failed_create: bool,
    /// The pod or workload the problem was seen on, for the Event's
    /// `related`, so problems of different groups never fold into one Event.
    pub related: Option<ObjectName>,
}

impl Subject {
    /// The subject part of a trouble's key.
    pub(crate) fn key_part(&self) -> String {
        match self {
            Subject::Head => "head".to_owned(),
            Subject::Group(name) => format!("group:{name}"),
        }
    }
}

/// The subject part of a key made by [`find`].
pub(crate) fn subject_of_key(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(subject, _)| subject)
}

/// What makes two reasons the same problem: the kubelet alternates
/// `ErrImagePull` and `ImagePullBackOff` for one image.
#[must_use]
pub(crate) fn category(reason: &str) -> &str {
    match reason {
        "ErrImagePull" | "ImagePullBackOff" => "ImagePull",
        other => other,
    }
}

/// Cuts `text` to at most `max` characters, marking the cut: the one
/// bound every message taken from the API server goes through.
#[must_use]
pub fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Every trouble of the cluster, head first, then the groups in spec order.
#[must_use]
pub(crate) fn find(spec: &DesiredSpec, world: &Observation) -> Vec<Trouble> {
    let mut out = Vec::new();
    let head_prefix = "spec.headGroupSpec";
    match &world.head.pod {
        None => {
            if let Some(failed) = &world.head.failed_create {
                out.push(creation(
                    Subject::Head,
                    "FailedCreateHeadPod",
                    head_prefix,
                    failed,
                ));
            }
        }
        Some(pod) => {
            if let Some(problem) = troubled(pod) {
                out.push(pod_trouble(
                    Subject::Head,
                    head_prefix,
                    "head",
                    pod,
                    problem,
                    0,
                ));
            }
        }
    }
    for (index, group) in spec.groups.iter().enumerate() {
        let Some(live) = world.groups.iter().find(|g| g.name == group.name) else {
            continue;
        };
        let prefix = format!("spec.workerGroupSpecs[{index}]");
        let subject = Subject::Group(group.name.clone());
        if let Some(failed) = &live.failed_create {
            out.push(creation(
                subject.clone(),
                "FailedCreateWorkerPod",
                &prefix,
                failed,
            ));
        }
        // One trouble per category, about the first pod (by name) that has it.
        let mut seen: Vec<(&str, &PodView, &PodProblem, usize)> = Vec::new();
        for pod in &live.pods {
            let Some(problem) = troubled(pod) else {
                continue;
            };
            let cat = category(&problem.reason);
            match seen.iter_mut().find(|(c, ..)| *c == cat) {
                Some(entry) => entry.3 += 1,
                None => seen.push((cat, pod, problem, 0)),
            }
        }
        for (_, pod, problem, more) in seen {
            out.push(pod_trouble(
                subject.clone(),
                &prefix,
                "worker",
                pod,
                problem,
                more,
            ));
        }
    }
    out
}

/// A pod's problem, if the pod is still meant to run and is not serving.
fn troubled(pod: &PodView) -> Option<&PodProblem> {
    if pod.terminating || pod.is_serving() || pod.is_finished() {
        return None;
    }
    pod.problem.as_deref()
}

fn pod_trouble(
    subject: Subject,
    prefix: &str,
    role: &str,
    pod: &PodView,
    problem: &PodProblem,
    more: usize,
) -> Trouble {
    let field = problem_field(prefix, problem);
    let detail = if problem.message.is_empty() {
        String::new()
    } else {
        format!(": {}", problem.message)
    };
    let what = match &problem.container {
        Some(container) => format!(
            "{role} pod {}: container {container} {}{detail}",
            pod.name, problem.reason
        ),
        None => format!("{role} pod {} is {}{detail}", pod.name, problem.reason),
    };
    let others = if more == 0 {
        String::new()
    } else {
        format!(" (and {more} more pod(s) alike)")
    };
    let message = format!("{} ({field}){others}", bounded(&what, MAX_MESSAGE - 120));
    Trouble {
        key: format!("{}/{}", subject.key_part(), category(&problem.reason)),
        subject,
        reason: problem.reason.clone(),
        message: bounded(&message, MAX_MESSAGE),
        failed_create: false,
        related: Some(ObjectName {
            kind: "Pod".to_owned(),
            name: pod.name.clone(),
        }),
    }
}

/// The RayCluster field a pod problem is most likely fixed in.
#[must_use]
pub(crate) fn problem_field(prefix: &str, problem: &PodProblem) -> String {
    if problem.reason == UNSCHEDULABLE {
        return format!("{prefix}.template.spec resources/nodeSelector/affinity/tolerations");
    }
    let container = match (problem.container_index, problem.container.as_deref()) {
        (Some(index), _) => format!("{prefix}.template.spec.containers[{index}]"),
        (None, Some(AUTOSCALER_CONTAINER)) => return "spec.autoscalerOptions".to_owned(),
        (None, _) => format!("{prefix}.template.spec.containers"),
    };
    match problem.reason.as_str() {
        "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull" => {
            format!("{container}.image")
        }
        "CreateContainerConfigError" => format!("{container} env/envFrom/volumeMounts"),
        "CrashLoopBackOff" | "RunContainerError" | "CreateContainerError" => {
            format!("{container} command/args/resources")
        }
        _ => container,
    }
}

fn creation(subject: Subject, reason: &str, prefix: &str, failed: &FailedCreate) -> Trouble {
    let (field, cause) = creation_field(&failed.message);
    let message = format!(
        "{prefix}.{field}: {} (FailedCreate from {}: {})",
        bounded(cause, 200),
        failed.reporter,
        bounded(&failed.message, 300)
    );
    Trouble {
        key: format!("{}/FailedCreate", subject.key_part()),
        subject,
        reason: reason.to_owned(),
        message: bounded(&message, MAX_MESSAGE),
        failed_create: true,
        related: failed
            .reporter
            .split_once(' ')
            .map(|(kind, name)| ObjectName {
                kind: kind.to_owned(),
                name: name.to_owned(),
            }),
    }
}

/// The template field a workload controller's `FailedCreate` message points
/// at, relative to the group spec, and the cause in the API server's words.
#[must_use]
pub(crate) fn creation_field(message: &str) -> (String, &str) {
    let last = message.rsplit(": ").next().unwrap_or(message).trim();
    let lower = message.to_ascii_lowercase();
    if lower.contains("serviceaccount") || lower.contains("service account") {
        return ("template.spec.serviceAccountName".to_owned(), last);
    }
    if let Some(at) = message.find("exceeded quota") {
        return (
            "template.spec.containers[*].resources".to_owned(),
            message[at..].trim(),
        );
    }
    if let Some(at) = message.find("violates PodSecurity") {
        return (
            "template.spec securityContext".to_owned(),
            message[at..].trim(),
        );
    }
    if let Some(at) = message.find("is invalid: ") {
        let rest = &message[at + "is invalid: ".len()..];
        if let Some(path) = rest.strip_prefix("spec.")
            && let Some((path, cause)) = path.split_once(": ")
        {
            return (format!("template.spec.{path}"), cause.trim());
        }
        if let Some(path) = rest.strip_prefix("metadata.")
            && let Some((path, cause)) = path.split_once(": ")
        {
            return (format!("template.metadata.{path}"), cause.trim());
        }
        return ("template".to_owned(), rest.trim());
    }
    ("template".to_owned(), last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_service_account_names_service_account_name() {
        let message = "create Pod c-head-0 in StatefulSet c-head failed error: pods \"c-head-0\" \
                       is forbidden: error looking up service account ns/nope: serviceaccount \
                       \"nope\" not found";
        let (field, cause) = creation_field(message);
        assert_eq!(field, "template.spec.serviceAccountName");
        assert_eq!(cause, "serviceaccount \"nope\" not found");
    }

    #[test]
    fn an_invalid_pod_field_is_mapped_into_the_template() {
        let message = "pods \"x\" is invalid: spec.containers[0].image: Required value";
        assert_eq!(
            creation_field(message),
            (
                "template.spec.containers[0].image".to_owned(),
                "Required value"
            )
        );
    }

    #[test]
    fn a_quota_names_resources() {
        let (field, cause) =
            creation_field("pods \"x\" is forbidden: exceeded quota: q, requested: cpu=2");
        assert_eq!(field, "template.spec.containers[*].resources");
        assert!(cause.starts_with("exceeded quota"));
    }

    #[test]
    fn bounded_cuts_on_characters_not_bytes() {
        let text = "é".repeat(10);
        let cut = bounded(&text, 4);
        assert_eq!(cut.chars().count(), 4);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("short", 10), "short");
    }

    #[test]
    fn image_pull_reasons_share_a_category() {
        assert_eq!(category("ErrImagePull"), category("ImagePullBackOff"));
        assert_ne!(category("CrashLoopBackOff"), category("ImagePullBackOff"));
    }
}
