//! Options of the in-tree Ray autoscaler: `spec.autoscalerOptions`.
//!
//! Role: data only, plus the effective values rayop derives from them.
//! KubeRay's fields keep their names; the seed adds `idleTimeoutMinutes` and
//! `upscalingSpeed` (the Ray autoscaler's own `idle_timeout_minutes` and
//! `upscaling_speed`). A CEL rule refuses setting both spellings of one setting.
//!
//! The autoscaler container reads `idleTimeoutSeconds` and `upscalingMode`
//! from the RayCluster object itself; the effective values below are what
//! rayop means by the options, for the code that configures the sidecar.

use k8s_openapi::api::core::v1::{
    EnvFromSource, EnvVar, ResourceRequirements, SecurityContext, VolumeMount,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::{cel, defaults};

/// How the autoscaler sidecar runs and decides.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::autoscaler_rules)]
pub struct AutoscalerOptions {
    /// Resources of the autoscaler container. Defaults to 500m CPU and 512Mi
    /// of memory, requests equal to limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Image of the autoscaler container. Defaults to the image of the head's
    /// Ray container, which ships the autoscaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// When the kubelet pulls the autoscaler image: Always, IfNotPresent (the
    /// default) or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,

    /// Environment variables of the autoscaler container, after rayop's own
    /// (`RAY_CLUSTER_NAME`, `RAY_CLUSTER_NAMESPACE`, `RAY_HEAD_POD_NAME`,
    /// `KUBERAY_CRD_VER`); a variable of the same name replaces rayop's.
    /// `KUBERAY_GEN_AUTOSCALER_START_CMD` is refused: rayop sets it to the
    /// generated start command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,

    /// ConfigMaps and Secrets whose keys become environment variables of the
    /// autoscaler container, as in a container's `envFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_from: Option<Vec<EnvFromSource>>,

    /// Volume mounts of the autoscaler container, after the `/tmp/ray` log
    /// mount it shares with Ray; the volumes must be in the head's template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<VolumeMount>>,

    /// Security context of the autoscaler container, used as given; rayop sets
    /// none of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,

    /// Command of the autoscaler container; when non-empty it replaces
    /// rayop's (`ray`). The generated start command is in the container's
    /// env `KUBERAY_GEN_AUTOSCALER_START_CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,

    /// Arguments of the autoscaler container; when non-empty they replace
    /// rayop's (`kuberay-autoscaler --cluster-name ... --cluster-namespace
    /// ...`), for example `["echo hi; $KUBERAY_GEN_AUTOSCALER_START_CMD"]`
    /// after a `command` of `["/bin/bash", "-lc", "--"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,

    /// Seconds a worker may idle before the autoscaler removes it. Defaults
    /// to 60. Do not set together with `idleTimeoutMinutes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub idle_timeout_seconds: Option<i32>,

    /// How fast the autoscaler scales up: `Default` and `Aggressive` add as
    /// many workers as pending work needs, `Conservative` at most as many as
    /// are running. Do not set together with `upscalingSpeed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upscaling_mode: Option<UpscalingMode>,

    /// Which Ray autoscaler runs: `v2` sets `RAY_enable_autoscaler_v2=true` on
    /// the head's Ray container; `v1` or unset keeps Ray's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<AutoscalerVersion>,

    /// Minutes a worker may idle before the autoscaler removes it: the seed's
    /// spelling of `idleTimeoutSeconds`. Stored, but the Ray autoscaler reads
    /// only `idleTimeoutSeconds`, so set that instead. Do not set both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub idle_timeout_minutes: Option<i32>,

    /// The Ray autoscaler's `upscaling_speed`: the most workers to add at once,
    /// as a multiple of the running ones. Stored, but the Ray autoscaler reads
    /// only `upscalingMode` (Conservative is 1, Default and Aggressive are
    /// 1000), so set that instead. Do not set both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub upscaling_speed: Option<f64>,
}

/// Image pull policy of the autoscaler container, as in a Kubernetes
/// container's `imagePullPolicy`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum PullPolicy {
    /// Pull on every container start, so a moved tag takes effect.
    Always,
    /// Pull when the node lacks the image.
    IfNotPresent,
    /// Never pull: the image must already be on the node.
    Never,
}

/// KubeRay's upscaling modes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum UpscalingMode {
    /// Upscaling speed 1000.
    Default,
    /// Upscaling speed 1000, as Default.
    Aggressive,
    /// Upscaling speed 1: at most double the workers per round.
    Conservative,
}

/// Versions of the Ray autoscaler, as `autoscalerOptions.version` spells them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum AutoscalerVersion {
    /// The original autoscaler, Ray's default.
    #[serde(rename = "v1")]
    V1,
    /// The v2 autoscaler: rayop sets `RAY_enable_autoscaler_v2=true` on the
    /// head.
    #[serde(rename = "v2")]
    V2,
}

impl UpscalingMode {
    /// The Ray autoscaler's `upscaling_speed` for this mode.
    #[must_use]
    pub fn upscaling_speed(self) -> f64 {
        match self {
            UpscalingMode::Conservative => 1.0,
            UpscalingMode::Default | UpscalingMode::Aggressive => 1000.0,
        }
    }
}

impl AutoscalerOptions {
    /// Idle timeout in seconds: `idleTimeoutSeconds`, else `idleTimeoutMinutes`
    /// times 60, else 60.
    #[must_use]
    pub fn effective_idle_timeout_seconds(&self) -> i32 {
        match (self.idle_timeout_seconds, self.idle_timeout_minutes) {
            (Some(seconds), _) => seconds,
            (None, Some(minutes)) => minutes.saturating_mul(60),
            (None, None) => defaults::AUTOSCALER_IDLE_TIMEOUT_SECONDS,
        }
    }

    /// Upscaling speed: `upscalingSpeed`, else that of `upscalingMode`, else
    /// that of `Default`.
    #[must_use]
    pub fn effective_upscaling_speed(&self) -> f64 {
        self.upscaling_speed.unwrap_or_else(|| {
            self.upscaling_mode
                .unwrap_or(UpscalingMode::Default)
                .upscaling_speed()
        })
    }

    /// Resources of the autoscaler container: the given ones, else the default.
    #[must_use]
    pub fn effective_resources(&self) -> ResourceRequirements {
        self.resources
            .clone()
            .unwrap_or_else(defaults::autoscaler_resources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_timeout() {
        let mut options = AutoscalerOptions::default();
        assert_eq!(options.effective_idle_timeout_seconds(), 60);
        options.idle_timeout_minutes = Some(5);
        assert_eq!(options.effective_idle_timeout_seconds(), 300);
        options.idle_timeout_seconds = Some(7);
        assert_eq!(options.effective_idle_timeout_seconds(), 7);
    }

    #[test]
    fn upscaling_speed() {
        let mut options = AutoscalerOptions::default();
        assert_eq!(options.effective_upscaling_speed(), 1000.0);
        options.upscaling_mode = Some(UpscalingMode::Conservative);
        assert_eq!(options.effective_upscaling_speed(), 1.0);
        options.upscaling_speed = Some(2.5);
        assert_eq!(options.effective_upscaling_speed(), 2.5);
    }
}
