//! The observed state of a RayCronJob.
//!
//! Role: KubeRay v1.7.0's status shape. Invariant: `lastScheduleTime` is the
//! tick the last RayJob was created for, not when it was created.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the operator observed of a RayCronJob.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RayCronJobStatus {
    /// The schedule tick the last RayJob was created for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_schedule_time_is_camel_case() {
        let wire = json!({"lastScheduleTime": "2026-01-01T00:05:00Z"});
        let status: RayCronJobStatus = serde_json::from_value(wire.clone()).unwrap();
        assert!(status.last_schedule_time.is_some());
        assert_eq!(serde_json::to_value(&status).unwrap(), wire);
        assert_eq!(
            serde_json::to_value(RayCronJobStatus::default()).unwrap(),
            json!({})
        );
    }
}
