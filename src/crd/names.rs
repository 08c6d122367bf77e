//! Names and labels of every object rayop derives from a RayCluster, and the
//! name-length bounds they imply.
//!
//! Role: the single place that spells derived names, so the operator, the CRD's
//! CEL rules and [`validate`](crate::crd::validation::validate) agree on them.
//! Every function here is pure.
//!
//! | Object | Name |
//! |---|---|
//! | head StatefulSet | `<cluster>-head`, its pod `<cluster>-head-0` |
//! | head Service | `<cluster>-head-svc` |
//! | worker StatefulSet or Deployment | `<cluster>-<group>` |
//! | worker StatefulSet pods | `<cluster>-<group>-<ordinal>` |
//! | worker Deployment pods | `<cluster>-<group>-<rs-hash>-<pod-hash>`, truncated by Kubernetes |
//! | worker (headless) Service | `<cluster>-<group>-svc` |
//! | autoscaler ServiceAccount, Role, RoleBinding | `<cluster>` |
//! | token Secret (`authOptions.mode: token`) | [`auth_secret_name`]: `<cluster>`, as KubeRay's name rule gives it |
//!
//! Invariants:
//! - A cluster name of at most [`MAX_CLUSTER_NAME`] characters, and a cluster
//!   and group name of at most [`MAX_CLUSTER_AND_GROUP_NAME`] together, keep
//!   every derived name and label value within Kubernetes' limits (the
//!   constants' docs show the arithmetic). The StatefulSet bound holds for
//!   Deployment groups too: a group's workload kind can change (it follows
//!   `enableInTreeAutoscaling` unless set), and a name must fit both kinds.
//! - Cluster and group names are DNS-1035 labels (they begin Service names),
//!   and no group takes one of [`RESERVED_GROUP_NAMES`].
//!
//! Not covered: names can collide *across* clusters in one namespace (cluster
//! `a` with group `b-c` and cluster `a-b` with group `c` both derive `a-b-c`).
//! A CRD rule cannot see other objects; the operator must check owner
//! references before it adopts an existing object.

use std::collections::BTreeMap;

use thiserror::Error;

/// Longest DNS-1035 / DNS-1123 label, and longest label value: the limit of a
/// Service name, a pod's hostname and a label value.
pub const MAX_DNS_LABEL: usize = 63;
/// Characters the StatefulSet controller appends for the `controller-revision-hash`
/// label value: `-` plus a hash of at most 10 characters (the decimal form of a
/// 32-bit FNV hash).
pub const CONTROLLER_REVISION_SUFFIX: usize = 11;
/// Longest StatefulSet name whose pods can be labelled: `63 - 11` = 52. Each
/// pod is labelled `controller-revision-hash = <statefulset>-<hash>`, and a
/// value over 63 characters fails every pod creation. The pods' hostnames
/// `<statefulset>-<ordinal>` (an `i32` ordinal has at most 10 digits) then fit
/// 63 too, so this is the binding bound.
pub const MAX_STATEFULSET_NAME: usize = MAX_DNS_LABEL - CONTROLLER_REVISION_SUFFIX;
/// Suffix that makes the head StatefulSet `<cluster>-head` (5 characters).
pub const HEAD_SUFFIX: &str = "-head";
/// Suffix of every Service rayop creates, after the name of the workload it
/// serves: `<cluster>-head-svc` and `<cluster>-<group>-svc`, at most 56
/// characters within the bounds below.
pub const SERVICE_SUFFIX: &str = "-svc";
/// Longest RayCluster name: the head StatefulSet `<cluster>-head` must fit
/// [`MAX_STATEFULSET_NAME`]. Equals 47. KubeRay allows 53, but rayop's head is
/// a StatefulSet, and `<53 chars>-head-<10-char hash>` would be a 69-character
/// label value that the API server refuses on every head pod.
pub const MAX_CLUSTER_NAME: usize = MAX_STATEFULSET_NAME - HEAD_SUFFIX.len();
/// Longest `len(cluster) + len(group)`: the worker StatefulSet `<cluster>-<group>`
/// must fit [`MAX_STATEFULSET_NAME`]. Equals 51.
pub const MAX_CLUSTER_AND_GROUP_NAME: usize = MAX_STATEFULSET_NAME - 1;
/// Longest group name, reached with a one-character cluster name. Equals 50.
pub const MAX_GROUP_NAME: usize = MAX_CLUSTER_AND_GROUP_NAME - 1;
/// A DNS-1035 label, as an RE2 / OpenAPI pattern (length is checked apart).
pub const DNS1035_LABEL_PATTERN: &str = "^[a-z]([-a-z0-9]*[a-z0-9])?$";

/// What `rayVersion` may be: an image tag (OCI distribution grammar), since
/// the default image is `rayproject/ray:<rayVersion>`.
pub const RAY_VERSION_PATTERN: &str = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

/// Whether `version` matches [`RAY_VERSION_PATTERN`].
#[must_use]
pub fn is_image_tag(version: &str) -> bool {
    let mut chars = version.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok
        && version.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
/// Group names a worker group may not take: `head` would own `<cluster>-head`
/// and `<cluster>-head-svc`, the head's names; `headgroup` would carry the
/// head's `ray.io/group` label value, which the Ray autoscaler reads.
pub const RESERVED_GROUP_NAMES: [&str; 2] = ["head", HEAD_GROUP_LABEL_VALUE];
/// The cluster DNS domain unless the operator is configured otherwise.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// Label: the RayCluster's name. Users may not override it.
pub const LABEL_CLUSTER: &str = "ray.io/cluster";
/// The kind that created a RayCluster (`RayJob`, `RayService`), on the
/// cluster and on what is made for it.
pub const LABEL_ORIGINATED_FROM_CRD: &str = "ray.io/originated-from-crd";
/// The name of the object of [`LABEL_ORIGINATED_FROM_CRD`] that created it.
pub const LABEL_ORIGINATED_FROM_CR_NAME: &str = "ray.io/originated-from-cr-name";
/// Label: the RayCronJob that created a RayJob (KubeRay's).
pub const LABEL_CRONJOB_NAME: &str = "ray.io/cronjob-name";
/// Annotation on a RayCronJob's RayJob: the tick it was created for, in UTC
/// RFC 3339 (KubeRay's).
pub const CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION: &str = "ray.io/cronjob-scheduled-timestamp";
/// Value of [`LABEL_ORIGINATED_FROM_CRD`] on what a RayService creates.
pub const ORIGIN_RAYSERVICE: &str = "RayService";
/// Annotation on a RayService's RayCluster: the hash of `rayClusterConfig`
/// with the fields the autoscaler and Kueue change muted (KubeRay's key).
pub const HASH_WITHOUT_REPLICAS_ANNOTATION: &str =
    "ray.io/hash-without-replicas-and-workers-to-delete";
/// Annotation on a RayService's RayCluster: how many worker groups it was
/// built with, so appended groups can be told from other changes (KubeRay's).
pub const NUM_WORKER_GROUPS_ANNOTATION: &str = "ray.io/num-worker-groups";
/// Annotation on a RayService's RayCluster: the hash of the whole
/// `rayClusterConfig` it was built from, replicas included (rayop's own).
pub const CLUSTER_CONFIG_FULL_HASH_ANNOTATION: &str = "ray.io/rayop-cluster-config-hash";
/// Label on a Ray pod: `true` while its Serve proxy may take traffic; the
/// serve Service selects it. On the serve Service itself: `<rs>-serve`.
pub const LABEL_SERVE: &str = "ray.io/serve";
/// Annotation on every object rayop applies: the hash of its set's desired
/// content, replicas excluded (see `crate::desired`).
pub const SPEC_HASH_ANNOTATION: &str = "ray.io/rayop-spec-hash";
/// Annotation that, set to `"true"` (any case) on the RayCluster or on a
/// group's pod template, keeps the Ray container's command and args exactly as
/// given: rayop does not wrap them in its `ray start` script.
pub const OVERWRITE_CONTAINER_CMD_ANNOTATION: &str = "ray.io/overwrite-container-cmd";

/// Whether `annotations` ask to keep the container command as given
/// ([`OVERWRITE_CONTAINER_CMD_ANNOTATION`] is `true`, case-insensitive).
#[must_use]
pub fn overwrites_container_cmd(annotations: Option<&BTreeMap<String, String>>) -> bool {
    annotations
        .and_then(|a| a.get(OVERWRITE_CONTAINER_CMD_ANNOTATION))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}
/// Label: `head` or `worker`. Users may not override it.
pub const LABEL_NODE_TYPE: &str = "ray.io/node-type";
/// Label: `headgroup` or the worker group's name. Users may not override it.
pub const LABEL_GROUP: &str = "ray.io/group";
/// Label: [`IS_RAY_NODE_VALUE`] on every Ray pod, and on no other object.
pub const LABEL_IS_RAY_NODE: &str = "ray.io/is-ray-node";
/// Label: the application name, [`APP_NAME_VALUE`].
pub const LABEL_APP_NAME: &str = "app.kubernetes.io/name";
/// Label: the creating controller, [`CREATED_BY_VALUE`].
pub const LABEL_CREATED_BY: &str = "app.kubernetes.io/created-by";
/// Value of [`LABEL_NODE_TYPE`] on the head pod.
pub const NODE_TYPE_HEAD: &str = "head";
/// Value of [`LABEL_NODE_TYPE`] on worker pods.
pub const NODE_TYPE_WORKER: &str = "worker";
/// Value of [`LABEL_GROUP`] on the head pod.
pub const HEAD_GROUP_LABEL_VALUE: &str = "headgroup";
/// Value of [`LABEL_IS_RAY_NODE`], KubeRay's.
pub const IS_RAY_NODE_VALUE: &str = "yes";
/// Value of [`LABEL_APP_NAME`]; KubeRay's value, kept so existing dashboards and
/// selectors keep matching.
pub const APP_NAME_VALUE: &str = "kuberay";
/// Value of [`LABEL_CREATED_BY`]; KubeRay writes `kuberay-operator`, so the
/// label tells the two operators' objects apart.
pub const CREATED_BY_VALUE: &str = "rayop";
/// Labels users may not set in a pod template: rayop owns their values.
pub const PROTECTED_LABELS: [&str; 3] = [LABEL_CLUSTER, LABEL_NODE_TYPE, LABEL_GROUP];

/// Which Ray node a pod or object belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RayNode<'a> {
    /// The head pod; its group label is [`HEAD_GROUP_LABEL_VALUE`].
    Head,
    /// A worker pod of the named group.
    Worker(&'a str),
}

impl<'a> RayNode<'a> {
    /// Value of [`LABEL_NODE_TYPE`].
    #[must_use]
    pub fn node_type(self) -> &'static str {
        match self {
            RayNode::Head => NODE_TYPE_HEAD,
            RayNode::Worker(_) => NODE_TYPE_WORKER,
        }
    }

    /// Value of [`LABEL_GROUP`].
    #[must_use]
    pub fn group_label(self) -> &'a str {
        match self {
            RayNode::Head => HEAD_GROUP_LABEL_VALUE,
            RayNode::Worker(group) => group,
        }
    }
}

/// Name of the head StatefulSet: `<cluster>-head`.
#[must_use]
pub fn head_statefulset_name(cluster: &str) -> String {
    format!("{cluster}{HEAD_SUFFIX}")
}

/// Name of the single head pod: `<cluster>-head-0`.
#[must_use]
pub fn head_pod_name(cluster: &str) -> String {
    statefulset_pod_name(&head_statefulset_name(cluster), 0)
}

/// Name of the head Service: `<cluster>-head-svc`.
#[must_use]
pub fn head_service_name(cluster: &str) -> String {
    format!("{cluster}{HEAD_SUFFIX}{SERVICE_SUFFIX}")
}

/// Host name of the head Service `service` inside the cluster:
/// `<service>.<namespace>.svc.<domain>`.
#[must_use]
pub fn head_service_host(service: &str, namespace: &str, domain: &str) -> String {
    format!("{service}.{namespace}.svc.{domain}")
}

/// Name of a worker group's StatefulSet or Deployment: `<cluster>-<group>`.
#[must_use]
pub fn worker_workload_name(cluster: &str, group: &str) -> String {
    format!("{cluster}-{group}")
}

/// Name of a worker group's headless Service: `<cluster>-<group>-svc`.
#[must_use]
pub fn worker_service_name(cluster: &str, group: &str) -> String {
    format!("{}{SERVICE_SUFFIX}", worker_workload_name(cluster, group))
}

/// Name of a worker pod of a StatefulSet group: `<cluster>-<group>-<ordinal>`.
#[must_use]
pub fn worker_pod_name(cluster: &str, group: &str, ordinal: u32) -> String {
    statefulset_pod_name(&worker_workload_name(cluster, group), ordinal)
}

/// Longest token Secret name KubeRay derives: the last 50 characters of the
/// cluster name.
pub const MAX_AUTH_SECRET_NAME: usize = 50;

/// The token Secret rayop creates under `authOptions.mode: token`: the
/// cluster name, trimmed to its last [`MAX_AUTH_SECRET_NAME`] characters, and
/// a leading digit or punctuation mark replaced by `r` (KubeRay's rule, so a
/// cluster KubeRay created finds its Secret under the same name).
#[must_use]
pub fn auth_secret_name(cluster: &str) -> String {
    let skip = cluster.chars().count().saturating_sub(MAX_AUTH_SECRET_NAME);
    let mut name: String = cluster.chars().skip(skip).collect();
    if name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c.is_ascii_punctuation())
    {
        name.replace_range(..1, "r");
    }
    name
}

/// Name of the ServiceAccount, Role and RoleBinding of the autoscaler: the cluster's name.
#[must_use]
pub fn autoscaler_service_account_name(cluster: &str) -> String {
    cluster.to_owned()
}

/// Name the StatefulSet controller gives a pod: `<statefulset>-<ordinal>`.
#[must_use]
pub fn statefulset_pod_name(statefulset: &str, ordinal: u32) -> String {
    format!("{statefulset}-{ordinal}")
}

/// The labels every Ray pod of `node` in `cluster` carries.
#[must_use]
pub fn pod_labels(cluster: &str, node: RayNode<'_>) -> BTreeMap<String, String> {
    let mut labels = selector_labels(cluster, node);
    labels.insert(LABEL_IS_RAY_NODE.to_owned(), IS_RAY_NODE_VALUE.to_owned());
    labels.insert(LABEL_APP_NAME.to_owned(), APP_NAME_VALUE.to_owned());
    labels.insert(LABEL_CREATED_BY.to_owned(), CREATED_BY_VALUE.to_owned());
    labels
}

/// The labels that select the pods of `node` in `cluster`: cluster, node type
/// and group. These are what the Ray autoscaler matches on.
#[must_use]
pub fn selector_labels(cluster: &str, node: RayNode<'_>) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_CLUSTER.to_owned(), cluster.to_owned()),
        (LABEL_NODE_TYPE.to_owned(), node.node_type().to_owned()),
        (LABEL_GROUP.to_owned(), node.group_label().to_owned()),
    ])
}

/// Whether `name` is a DNS-1035 label: 1 to 63 characters of `[a-z0-9-]`,
/// starting with a letter and not ending with `-`.
#[must_use]
pub fn is_dns1035_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= MAX_DNS_LABEL
        && first.is_ascii_lowercase()
        && *last != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Why a cluster or group name cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum NameError {
    /// Not a DNS-1035 label.
    #[error(
        "{name:?} must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and not ending with '-'"
    )]
    NotDns1035 {
        /// The offending name.
        name: String,
    },
    /// The cluster name is longer than [`MAX_CLUSTER_NAME`].
    #[error(
        "cluster name {name:?} has {len} characters, at most {MAX_CLUSTER_NAME} fit: the head StatefulSet '<name>-head' must stay within {MAX_STATEFULSET_NAME} characters"
    )]
    ClusterNameTooLong {
        /// The offending name.
        name: String,
        /// Its length in bytes (characters, for a valid name).
        len: usize,
    },
    /// Cluster and group name together are longer than [`MAX_CLUSTER_AND_GROUP_NAME`].
    #[error(
        "cluster name and group name {group:?} have {len} characters together, at most {MAX_CLUSTER_AND_GROUP_NAME} fit: the worker StatefulSet '<cluster>-<group>' must stay within {MAX_STATEFULSET_NAME} characters"
    )]
    WorkerNameTooLong {
        /// The group name.
        group: String,
        /// `len(cluster) + len(group)`.
        len: usize,
    },
    /// The group name is one of [`RESERVED_GROUP_NAMES`].
    #[error("group name {group:?} is reserved for the head")]
    ReservedGroupName {
        /// The reserved name the group took.
        group: String,
    },
}

/// Checks a RayCluster's own name: DNS-1035 and at most [`MAX_CLUSTER_NAME`].
///
/// # Errors
/// Every rule the name breaks, in a stable order.
pub fn check_cluster_name(name: &str) -> Result<(), Vec<NameError>> {
    let mut errors = Vec::new();
    if !is_dns1035_label(name) {
        errors.push(NameError::NotDns1035 {
            name: name.to_owned(),
        });
    }
    if name.len() > MAX_CLUSTER_NAME {
        errors.push(NameError::ClusterNameTooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    into_result(errors)
}

/// Checks a worker group's name within `cluster`: DNS-1035, not reserved, and
/// short enough that `<cluster>-<group>` fits [`MAX_STATEFULSET_NAME`].
///
/// # Errors
/// Every rule the name breaks, in a stable order.
pub fn check_group_name(cluster: &str, group: &str) -> Result<(), Vec<NameError>> {
    let mut errors = Vec::new();
    if !is_dns1035_label(group) {
        errors.push(NameError::NotDns1035 {
            name: group.to_owned(),
        });
    }
    if RESERVED_GROUP_NAMES.contains(&group) {
        errors.push(NameError::ReservedGroupName {
            group: group.to_owned(),
        });
    }
    let len = cluster.len() + group.len();
    if len > MAX_CLUSTER_AND_GROUP_NAME {
        errors.push(NameError::WorkerNameTooLong {
            group: group.to_owned(),
            len,
        });
    }
    into_result(errors)
}

fn into_result(errors: Vec<NameError>) -> Result<(), Vec<NameError>> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ray_versions_are_image_tags() {
        for ok in [
            "2.46.0",
            "nightly",
            "2.9.0-py310",
            "latest",
            "_x",
            &"a".repeat(128),
        ] {
            assert!(is_image_tag(ok), "{ok}");
        }
        for bad in [
            "",
            "2.46.0 ",
            "../../etc/passwd",
            ".hidden",
            "-x",
            "a:b",
            "a@b",
            &"a".repeat(129),
        ] {
            assert!(!is_image_tag(bad), "{bad}");
        }
    }

    #[test]
    fn bounds_are_the_worked_out_numbers() {
        assert_eq!(MAX_STATEFULSET_NAME, 52);
        assert_eq!(MAX_CLUSTER_NAME, 47);
        assert_eq!(MAX_CLUSTER_AND_GROUP_NAME, 51);
        assert_eq!(MAX_GROUP_NAME, 50);
    }

    #[test]
    fn derived_names() {
        assert_eq!(head_statefulset_name("rc"), "rc-head");
        assert_eq!(head_pod_name("rc"), "rc-head-0");
        assert_eq!(head_service_name("rc"), "rc-head-svc");
        assert_eq!(
            head_service_host(&head_service_name("rc"), "ns", DEFAULT_CLUSTER_DOMAIN),
            "rc-head-svc.ns.svc.cluster.local"
        );
        assert_eq!(worker_workload_name("rc", "gpu"), "rc-gpu");
        assert_eq!(worker_service_name("rc", "gpu"), "rc-gpu-svc");
        assert_eq!(worker_pod_name("rc", "gpu", 3), "rc-gpu-3");
        assert_eq!(autoscaler_service_account_name("rc"), "rc");
    }

    #[test]
    fn a_cluster_name_at_the_limit_fits_every_derived_name() {
        let cluster = "a".repeat(MAX_CLUSTER_NAME);
        assert_eq!(check_cluster_name(&cluster), Ok(()));
        let sts = head_statefulset_name(&cluster);
        // controller-revision-hash label value: <sts>-<10 char hash>
        assert_eq!(sts.len() + CONTROLLER_REVISION_SUFFIX, MAX_DNS_LABEL);
        assert!(is_dns1035_label(&head_service_name(&cluster)));
        assert!(head_pod_name(&cluster).len() <= MAX_DNS_LABEL);
    }

    #[test]
    fn a_cluster_name_over_the_limit_fails() {
        let cluster = "a".repeat(MAX_CLUSTER_NAME + 1);
        assert_eq!(
            check_cluster_name(&cluster),
            Err(vec![NameError::ClusterNameTooLong {
                name: cluster.clone(),
                len: 48
            }])
        );
    }

    #[test]
    fn a_group_name_at_the_limit_fits_and_one_more_fails() {
        let cluster = "c".repeat(20);
        let group = "g".repeat(MAX_CLUSTER_AND_GROUP_NAME - 20);
        assert_eq!(check_group_name(&cluster, &group), Ok(()));
        let sts = worker_workload_name(&cluster, &group);
        assert_eq!(sts.len() + CONTROLLER_REVISION_SUFFIX, MAX_DNS_LABEL);
        // the largest ordinal of an i32 replica count still fits a hostname
        assert!(statefulset_pod_name(&sts, i32::MAX as u32).len() <= MAX_DNS_LABEL);
        assert!(is_dns1035_label(&worker_service_name(&cluster, &group)));

        let longer = format!("{group}g");
        let errors = check_group_name(&cluster, &longer).unwrap_err();
        assert!(matches!(
            errors.as_slice(),
            [NameError::WorkerNameTooLong { len: 52, .. }]
        ));
    }

    #[test]
    fn dns1035() {
        assert!(is_dns1035_label("a"));
        assert!(is_dns1035_label("small-worker"));
        assert!(is_dns1035_label("gpu2"));
        assert!(!is_dns1035_label(""));
        assert!(!is_dns1035_label("2gpu"));
        assert!(!is_dns1035_label("gpu-"));
        assert!(!is_dns1035_label("Small"));
        assert!(!is_dns1035_label("small_worker"));
        assert!(!is_dns1035_label(&"a".repeat(64)));
    }

    #[test]
    fn reserved_group_names_are_refused() {
        for group in RESERVED_GROUP_NAMES {
            let errors = check_group_name("rc", group).unwrap_err();
            assert!(matches!(
                errors.as_slice(),
                [NameError::ReservedGroupName { .. }]
            ));
        }
    }

    #[test]
    fn labels() {
        let head = pod_labels("rc", RayNode::Head);
        assert_eq!(head[LABEL_CLUSTER], "rc");
        assert_eq!(head[LABEL_NODE_TYPE], "head");
        assert_eq!(head[LABEL_GROUP], "headgroup");
        assert_eq!(head[LABEL_IS_RAY_NODE], "yes");
        let worker = selector_labels("rc", RayNode::Worker("small"));
        assert_eq!(worker.len(), 3);
        assert_eq!(worker[LABEL_GROUP], "small");
        assert_eq!(worker[LABEL_NODE_TYPE], "worker");
        for key in PROTECTED_LABELS {
            assert!(worker.contains_key(key));
        }
    }

    #[test]
    fn auth_secret_names_follow_kuberay() {
        assert_eq!(auth_secret_name("rc"), "rc");
        let long = format!("a{}", "b".repeat(55));
        assert_eq!(auth_secret_name(&long), "b".repeat(50));
        let dashed = format!("xyz-{}", "a".repeat(49));
        assert_eq!(auth_secret_name(&dashed), format!("r{}", "a".repeat(49)));
        assert_eq!(auth_secret_name("1abc"), "rabc");
    }
}
