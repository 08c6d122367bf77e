//! The observed state of a RayService: `status`, and the strings KubeRay
//! writes there.
//!
//! Role: the JSON shape of KubeRay v1.7.0's RayService status
//! (`RayServiceStatuses`), so a status written by either operator reads back,
//! and the one definition of every condition type, reason and status string
//! ([`ConditionType`], [`ConditionReason`], [`ServiceStatus`],
//! [`ApplicationStatus`], [`DeploymentStatus`], each with `ALL` and
//! `as_str`). Only the operator writes the status.
//!
//! Invariants: the status fields are strings, as in KubeRay's schema, so a
//! status an older operator wrote (or a Ray Serve status string newer than
//! this list) still decodes; the enums name the values rayop writes and
//! reads. `conditions` is a list-map keyed by `type`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::status::RayClusterStatus;

/// Declares a string enum with `ALL`, `as_str` and `parse`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as written in the status.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value spelled `text`, if it is one of [`Self::ALL`].
            #[must_use]
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// A condition's `type` in `status.conditions`.
    ConditionType {
        /// Requests can be served: the serve Service has endpoints.
        Ready => "Ready",
        /// A new cluster is being prepared next to the active one.
        UpgradeInProgress => "UpgradeInProgress",
        /// An incremental upgrade is being undone (the spec went back).
        RollbackInProgress => "RollbackInProgress",
        /// `suspend` was set; the owned objects are being deleted.
        Suspending => "Suspending",
        /// Every owned object is deleted.
        Suspended => "Suspended",
    }
}

string_enum! {
    /// A condition's `reason` in `status.conditions`.
    ConditionReason {
        /// No cluster has served yet (also after a resume).
        Initializing => "Initializing",
        /// The `ray.io/initializing-timeout` annotation expired; terminal.
        InitializingTimeout => "InitializingTimeout",
        /// The serve Service lost its last endpoint.
        ZeroServeEndpoints => "ZeroServeEndpoints",
        /// The serve Service has endpoints.
        NonZeroServeEndpoints => "NonZeroServeEndpoints",
        /// An active and a pending cluster both exist.
        BothActivePendingClustersExist => "BothActivePendingClustersExist",
        /// Only the active cluster exists.
        NoPendingCluster => "NoPendingCluster",
        /// No active cluster, unexpectedly.
        NoActiveCluster => "NoActiveCluster",
        /// The spec or metadata is invalid; the message names the field.
        ValidationFailed => "ValidationFailed",
        /// The goal spec moved away from the pending cluster (rollback).
        DesiredClusterSpecChanged => "DesiredClusterSpecChanged",
        /// `suspend` was just set.
        SuspendRequested => "SuspendRequested",
        /// Owned objects are being deleted.
        SuspendInProgress => "SuspendInProgress",
        /// Every owned object is deleted.
        SuspendComplete => "SuspendComplete",
        /// `suspend` was unset after a completed suspension.
        RayServiceResumed => "RayServiceResumed",
    }
}

string_enum! {
    /// `status.serviceStatus` (deprecated; the `Ready` condition in one word).
    ServiceStatus {
        /// The `Ready` condition is True.
        Running => "Running",
        /// Anything else: written as the empty string, so the field is omitted.
        NotRunning => "",
    }
}

string_enum! {
    /// A Serve application's status, copied verbatim from Ray Serve.
    ApplicationStatus {
        /// Not deployed yet.
        NotStarted => "NOT_STARTED",
        /// Being deployed or updated.
        Deploying => "DEPLOYING",
        /// Every deployment is healthy.
        Running => "RUNNING",
        /// The deployment failed; the message says why.
        DeployFailed => "DEPLOY_FAILED",
        /// Being deleted.
        Deleting => "DELETING",
        /// A deployment became unhealthy after running.
        Unhealthy => "UNHEALTHY",
    }
}

string_enum! {
    /// A Serve deployment's status, copied verbatim from Ray Serve: KubeRay's
    /// three values and the three current Ray Serve also reports.
    DeploymentStatus {
        /// Replicas are being updated.
        Updating => "UPDATING",
        /// Every replica is healthy.
        Healthy => "HEALTHY",
        /// A replica is unhealthy.
        Unhealthy => "UNHEALTHY",
        /// The deployment failed.
        DeployFailed => "DEPLOY_FAILED",
        /// Replicas are being added.
        Upscaling => "UPSCALING",
        /// Replicas are being removed.
        Downscaling => "DOWNSCALING",
    }
}

/// What the operator observed of a RayService.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RayServiceStatuses {
    /// Conditions, one per type: Ready, UpgradeInProgress,
    /// RollbackInProgress, Suspending, Suspended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["type"],
    ))]
    pub conditions: Vec<Condition>,

    /// When the status was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,

    /// Deprecated, use the `Ready` condition: `Running` when it is True,
    /// else empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_status: String,

    /// The cluster traffic is served by.
    #[serde(default, skip_serializing_if = "RayServiceStatus::is_empty")]
    pub active_service_status: RayServiceStatus,

    /// The cluster being created or warmed up to replace the active one.
    #[serde(default, skip_serializing_if = "RayServiceStatus::is_empty")]
    pub pending_service_status: RayServiceStatus,

    /// Ray pods behind the serve Service that are ready to serve (counted
    /// from its EndpointSlices).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_serve_endpoints: i32,

    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl RayServiceStatuses {
    /// The condition of type `kind`, if set.
    #[must_use]
    pub fn condition(&self, kind: ConditionType) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == kind.as_str())
    }

    /// `serviceStatus` as a known value; `None` for a string rayop does not
    /// write (left by an older operator).
    #[must_use]
    pub fn service_status(&self) -> Option<ServiceStatus> {
        ServiceStatus::parse(&self.service_status)
    }
}

/// The state of one of the RayService's clusters (active or pending).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RayServiceStatus {
    /// The Serve applications on this cluster, by name (`default` for an
    /// unnamed one).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        rename = "applicationStatuses"
    )]
    pub application_statuses: BTreeMap<String, AppStatus>,

    /// Ray Serve's `target_capacity` on this cluster, in percent (incremental
    /// upgrade only): every deployment's replica counts are scaled by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_capacity: Option<i32>,

    /// Percent of the traffic routed to this cluster (incremental upgrade
    /// only), the weight of its HTTPRoute backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_routed_percent: Option<i32>,

    /// When `trafficRoutedPercent` last changed (incremental upgrade only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_traffic_migrated_time: Option<Time>,

    /// Name of the RayCluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ray_cluster_name: String,

    /// A copy of the RayCluster's status, for observability only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ray_cluster_status: Option<RayClusterStatus>,
}

impl RayServiceStatus {
    /// Whether nothing is set (the field is then omitted).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A Serve application's status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// The application's deployments, by name.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        rename = "serveDeploymentStatuses"
    )]
    pub serve_deployment_statuses: BTreeMap<String, ServeDeploymentStatus>,

    /// Ray Serve's status of the application, such as `RUNNING` (see
    /// [`ApplicationStatus`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,

    /// Ray Serve's explanation of the status.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A Serve deployment's status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServeDeploymentStatus {
    /// Ray Serve's status of the deployment, such as `HEALTHY` (see
    /// [`DeploymentStatus`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,

    /// Ray Serve's explanation of the status.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &i32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kuberay_status_round_trips_with_its_names() {
        let wire = json!({
            "conditions": [{"type": "Ready", "status": "True", "reason": "NonZeroServeEndpoints",
                            "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}],
            "lastUpdateTime": "2026-01-01T00:00:10Z",
            "serviceStatus": "Running",
            "activeServiceStatus": {
                "applicationStatuses": {"fruit_app": {"status": "RUNNING", "message": "deployed",
                    "serveDeploymentStatuses": {"FruitMarket": {"status": "HEALTHY"}}}},
                "targetCapacity": 100,
                "trafficRoutedPercent": 100,
                "lastTrafficMigratedTime": "2026-01-01T00:00:05Z",
                "rayClusterName": "rayservice-sample-abcde",
                "rayClusterStatus": {"state": "ready"}
            },
            "pendingServiceStatus": {"rayClusterName": "rayservice-sample-fghjk"},
            "numServeEndpoints": 2,
            "observedGeneration": 1
        });
        let status: RayServiceStatuses = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(status.service_status(), Some(ServiceStatus::Running));
        assert_eq!(status.num_serve_endpoints, 2);
        let app = &status.active_service_status.application_statuses["fruit_app"];
        assert_eq!(
            ApplicationStatus::parse(&app.status),
            Some(ApplicationStatus::Running)
        );
        assert_eq!(
            DeploymentStatus::parse(&app.serve_deployment_statuses["FruitMarket"].status),
            Some(DeploymentStatus::Healthy)
        );
        assert!(status.condition(ConditionType::Ready).is_some());
        assert!(status.condition(ConditionType::Suspended).is_none());
        assert_eq!(serde_json::to_value(&status).unwrap(), wire);
    }

    #[test]
    fn an_empty_status_serializes_to_nothing() {
        assert_eq!(
            serde_json::to_value(RayServiceStatuses::default()).unwrap(),
            json!({})
        );
        let status: RayServiceStatuses = serde_json::from_value(json!({})).unwrap();
        assert_eq!(status.service_status(), Some(ServiceStatus::NotRunning));
        assert!(status.pending_service_status.is_empty());
    }

    #[test]
    fn strings_rayop_does_not_know_still_decode() {
        let status: RayServiceStatuses = serde_json::from_value(json!({
            "serviceStatus": "WaitForServeDeploymentReady",
            "activeServiceStatus": {"applicationStatuses": {"a": {"status": "SOMETHING_NEW"}}}
        }))
        .unwrap();
        assert_eq!(status.service_status(), None);
        assert_eq!(
            ApplicationStatus::parse(
                &status.active_service_status.application_statuses["a"].status
            ),
            None
        );
    }

    #[test]
    fn every_string_is_kuberays_and_parses_back() {
        let types: Vec<_> = ConditionType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            types,
            [
                "Ready",
                "UpgradeInProgress",
                "RollbackInProgress",
                "Suspending",
                "Suspended"
            ]
        );
        assert_eq!(ConditionReason::ALL.len(), 13);
        assert_eq!(ServiceStatus::NotRunning.as_str(), "");
        assert_eq!(ApplicationStatus::DeployFailed.as_str(), "DEPLOY_FAILED");
        for r in ConditionReason::ALL {
            assert_eq!(ConditionReason::parse(r.as_str()), Some(*r));
        }
        for s in ApplicationStatus::ALL {
            assert_eq!(ApplicationStatus::parse(s.as_str()), Some(*s));
        }
        for s in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(&s.to_string()), Some(*s));
        }
        assert_eq!(ConditionReason::parse("initializing"), None);
    }
}
