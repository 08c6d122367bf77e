//! The one place a RayCluster's status is written.
//!
//! Invariants: the status is patched only when it differs from the live one
//! beyond timestamps, at the pace [`super::pacing`] allows, by server-side
//! apply of the status subresource under rayop's field manager.

use std::time::{Duration, Instant};

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams},
};
use rayop_machines::StatusSummary;
use serde_json::json;

use super::{
    LiveFacts, desired_status, differs,
    pacing::{self, Pace},
};
use crate::{crd::RayCluster, owned::FIELD_MANAGER};

/// What [`publish`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// The live status already says it.
    Unchanged,
    /// The status was written.
    Written,
    /// Held to coalesce writes; try again after this long.
    Held(Duration),
}

/// Writes the status `summary` and `live` describe, if it differs from the
/// cluster's and pacing allows; `last_write` is when this process last
/// wrote this cluster's status.
///
/// # Errors
/// The API server's refusal of the patch.
pub async fn publish(
    client: &Client,
    cluster: &RayCluster,
    summary: &StatusSummary,
    live: &LiveFacts<'_>,
    last_write: Option<Instant>,
) -> Result<Published, kube::Error> {
    let now = Timestamp::now();
    let mut desired = desired_status(cluster, summary, live, now);
    if !differs(cluster.status.as_ref(), &desired) {
        return Ok(Published::Unchanged);
    }
    if let Pace::After(wait) = pacing::pace(
        cluster.status.as_ref(),
        &desired,
        last_write,
        Instant::now(),
    ) {
        return Ok(Published::Held(wait));
    }
    desired.last_update_time = Some(Time(now));
    let api: Api<RayCluster> =
        Api::namespaced(client.clone(), &cluster.namespace().unwrap_or_default());
    let patch = json!({"apiVersion": "ray.io/v1", "kind": "RayCluster", "status": desired});
    api.patch_status(
        &cluster.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(Published::Written)
}
