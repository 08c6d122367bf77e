//! The pod-count limits of a RayCluster, and the arithmetic that respects them.
//!
//! Role: the single place that defines how many pods a spec may ask for, so
//! the CRD's CEL rules ([`cel`](crate::crd::cel), whose numbers a test checks
//! against these constants), [`validate`](crate::crd::validation::validate)
//! and the builders agree. A leaf: imports no `crd` module.
//!
//! | Limit | Value | Enforced |
//! |---|---|---|
//! | `numOfHosts` | [`MAX_NUM_OF_HOSTS`] | schema `maximum` |
//! | `replicas × numOfHosts`, `minReplicas × numOfHosts` per group | [`MAX_PODS_PER_GROUP`] | CEL and `validate` |
//! | `maxReplicas × numOfHosts` per group, unless `maxReplicas` is unset | [`MAX_PODS_PER_GROUP`] | CEL and `validate` |
//! | worker pods over all groups (clamped replicas × numOfHosts) | [`MAX_WORKER_PODS_PER_CLUSTER`] | CEL and `validate` |
//!
//! An unset `maxReplicas` is stored as [`UNSET_MAX_REPLICAS`] (KubeRay's
//! default, so KubeRay manifests apply unchanged). It means "as many as the
//! group limit allows": [`effective_max_replicas`] caps it, and rayop says so
//! in a `SpecAdjusted` condition when an autoscaler could ask for that many.
//!
//! Invariant: every count computed here is exact; none saturates. A spec
//! whose counts would not fit is refused (a problem naming the field) before
//! any count reaches an API object.

/// Most pods in one worker group: `replicas × numOfHosts` and
/// `minReplicas × numOfHosts` may not exceed it, nor
/// `maxReplicas × numOfHosts` unless `maxReplicas` is unset. 10,000 is twice
/// the largest node count Kubernetes supports (5,000) and far above any Ray
/// group seen in practice; a StatefulSet or HPA this large is still cheap for
/// the control plane.
pub const MAX_PODS_PER_GROUP: i32 = 10_000;

/// Most worker pods in one RayCluster, summed over its groups (suspended ones
/// included), each group's `replicas` clamped into `[minReplicas,
/// maxReplicas]` and multiplied by `numOfHosts`. The head adds one pod.
pub const MAX_WORKER_PODS_PER_CLUSTER: i32 = 20_000;

/// Largest `numOfHosts`: pods per replica of a multi-host group. Above the
/// host count of the largest multi-host accelerator slices (a few thousand),
/// and within [`MAX_PODS_PER_GROUP`], so one replica always fits a group.
pub const MAX_NUM_OF_HOSTS: i32 = 4_096;

/// `maxReplicas` as stored when the user left it out: KubeRay's default,
/// 2147483647. rayop treats it as "no limit of the user's", capped by
/// [`effective_max_replicas`].
pub const UNSET_MAX_REPLICAS: i32 = i32::MAX;

/// Most bytes of a pod template's annotations, keys and values together: the
/// API server's limit on any object's annotations (256 KiB).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

// The limits nest: one replica fits a group, one group fits the cluster.
const _: () = assert!(MAX_NUM_OF_HOSTS <= MAX_PODS_PER_GROUP);
const _: () = assert!(MAX_PODS_PER_GROUP <= MAX_WORKER_PODS_PER_CLUSTER);

/// Longest HPA `stabilizationWindowSeconds` the API server accepts (one hour).
pub const MAX_HPA_STABILIZATION_SECONDS: i32 = 3_600;

/// Longest HPA scaling policy `periodSeconds` the API server accepts (30 minutes).
pub const MAX_HPA_PERIOD_SECONDS: i32 = 1_800;

/// The HPA's `selectPolicy` values.
pub const HPA_SELECT_POLICIES: [&str; 3] = ["Max", "Min", "Disabled"];

/// The HPA's scaling policy types.
pub const HPA_POLICY_TYPES: [&str; 2] = ["Pods", "Percent"];

/// `count × hosts` exactly, or `None` when it does not fit an `i32`.
#[must_use]
pub fn pods(count: i32, hosts: i32) -> Option<i32> {
    count.checked_mul(hosts)
}

/// Whether `count × hosts` pods fit one group: at most [`MAX_PODS_PER_GROUP`].
#[must_use]
pub fn fits_group(count: i32, hosts: i32) -> bool {
    i64::from(count) * i64::from(hosts) <= i64::from(MAX_PODS_PER_GROUP)
}

/// Most replicas of `hosts` pods that fit one group.
#[must_use]
pub fn group_cap(hosts: i32) -> i32 {
    MAX_PODS_PER_GROUP / hosts.max(1)
}

/// The `maxReplicas` rayop works with: the given one, or, when it is unset
/// ([`UNSET_MAX_REPLICAS`]), the most replicas that fit one group
/// ([`group_cap`]).
#[must_use]
pub fn effective_max_replicas(max_replicas: i32, hosts: i32) -> i32 {
    if max_replicas == UNSET_MAX_REPLICAS {
        group_cap(hosts)
    } else {
        max_replicas
    }
}

/// The pods one group contributes to the cluster limit, as the CEL rule
/// computes them: `replicas` raised to `minReplicas` or lowered to
/// `maxReplicas`, times `hosts`. In `i64`, so it never overflows.
#[must_use]
pub fn cluster_share(replicas: i32, min: i32, max: i32, hosts: i32) -> i64 {
    let clamped = if replicas < min {
        min
    } else if replicas > max {
        max
    } else {
        replicas
    };
    i64::from(clamped) * i64::from(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(pods(2, i32::MAX), None);
        assert_eq!(pods(3, 4), Some(12));
        assert!(fits_group(10_000, 1));
        assert!(!fits_group(2, i32::MAX));
        assert!(!fits_group(i32::MAX, i32::MAX));
        assert_eq!(group_cap(4), 2_500);
        assert_eq!(group_cap(0), MAX_PODS_PER_GROUP);
        assert_eq!(effective_max_replicas(UNSET_MAX_REPLICAS, 3), 3_333);
        assert_eq!(effective_max_replicas(7, 3), 7);
        assert_eq!(cluster_share(0, 2, 5, 4), 8);
        assert_eq!(cluster_share(9, 2, 5, 4), 20);
        assert_eq!(
            cluster_share(i32::MAX, 0, i32::MAX, i32::MAX),
            i64::from(i32::MAX) * i64::from(i32::MAX)
        );
    }
}
