//! The embedded GCS store's claim, ensured as the first step of `EnsureHead`.
//!
//! Role: part of the interpreter. A claim is not server-side applied like
//! the sets' objects: its spec is fixed at creation (a PVC's class and
//! access modes are immutable, and a resize is not what a changed spec
//! should silently do), so:
//! - a managed `<cluster>-gcs-pvc` that is absent is created (Event
//!   `CreatedPVC`); one that exists is adopted, and only its owner
//!   references are written, to match `deletionPolicy` (the cluster's
//!   controller reference, or none with `Retain`). A size, class or access
//!   modes that differ from the spec are named in a Warning
//!   `FailedToCreatePVC` and left as they are;
//! - a claim of the user's own (`claimName`) is only read: when it does not
//!   exist, a Warning `FailedToCreatePVC` says so, and the head pod stays
//!   Pending until it does.
//!
//! Invariant: a claim controlled by another object is never written
//! (`NameConflict`).

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
    runtime::events::{Event as KubeEvent, EventType},
};

use super::{ApplyError, Interpreter, Writes};
use crate::{build::gcs_storage::GcsClaim, owned::ApiError};

/// Reason of the Event on a created claim.
pub const CREATED_PVC: &str = "CreatedPVC";
/// Reason of the Warning on a missing own claim or a drifted managed one.
pub const FAILED_TO_CREATE_PVC: &str = "FailedToCreatePVC";

impl Interpreter<'_> {
    /// Ensures `claim` as the module docs say.
    ///
    /// # Errors
    /// The API server's refusal, or [`ApplyError::Foreign`].
    pub(super) async fn ensure_claim(
        &self,
        claim: &GcsClaim,
        writes: &mut Writes,
    ) -> Result<(), ApplyError> {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), self.namespace);
        let name = claim.name().to_owned();
        let live = api.get_opt(&name).await.map_err(|source| ApiError {
            verb: "get",
            kind: "PersistentVolumeClaim",
            name: name.clone(),
            source,
        })?;
        let GcsClaim::Managed { claim, retained } = claim else {
            if live.is_none() {
                self.warn_claim(
                    writes,
                    format!(
                        "PersistentVolumeClaim {name} (gcsFaultToleranceOptions.storage.claimName) \
                         does not exist; the head pod stays Pending until it does"
                    ),
                )
                .await;
            }
            return Ok(());
        };
        let Some(live) = live else {
            api.create(&PostParams::default(), claim)
                .await
                .map_err(|source| ApiError {
                    verb: "create",
                    kind: "PersistentVolumeClaim",
                    name: name.clone(),
                    source,
                })?;
            writes.applies += 1;
            self.event(
                writes,
                EventType::Normal,
                CREATED_PVC,
                format!("created PersistentVolumeClaim {name} for the embedded GCS store"),
            )
            .await;
            return Ok(());
        };
        let controller = crate::owned::api::controller(&live.metadata).map(|r| r.uid.as_str());
        if controller.is_some_and(|uid| uid != self.owner_uid) {
            return Err(ApplyError::Foreign {
                kind: "PersistentVolumeClaim",
                name,
            });
        }
        let want_owned = !retained;
        if want_owned != controller.is_some() {
            let owners = claim.metadata.owner_references.clone().unwrap_or_default();
            let patch = serde_json::json!({ "metadata": { "ownerReferences": owners } });
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|source| ApiError {
                    verb: "patch",
                    kind: "PersistentVolumeClaim",
                    name: name.clone(),
                    source,
                })?;
            writes.applies += 1;
        }
        let drift = claim_drift(claim, &live);
        if !drift.is_empty() {
            self.warn_claim(
                writes,
                format!(
                    "PersistentVolumeClaim {name} differs from gcsFaultToleranceOptions.storage \
                     ({}); a claim is never changed in place: delete it, or use claimName",
                    drift.join("; ")
                ),
            )
            .await;
        }
        Ok(())
    }

    async fn warn_claim(&self, writes: &mut Writes, message: String) {
        self.event(writes, EventType::Warning, FAILED_TO_CREATE_PVC, message)
            .await;
    }

    pub(super) async fn event(
        &self,
        writes: &mut Writes,
        type_: EventType,
        reason: &str,
        message: String,
    ) {
        let event = KubeEvent {
            type_,
            reason: reason.to_owned(),
            note: Some(message),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, self.reference).await {
            tracing::warn!(%error, reason, "could not record Event");
        } else {
            writes.events += 1;
        }
    }
}

/// The settings of `want` that `live` does not have, one phrase each.
#[must_use]
pub fn claim_drift(want: &PersistentVolumeClaim, live: &PersistentVolumeClaim) -> Vec<String> {
    let (Some(want), Some(live)) = (want.spec.as_ref(), live.spec.as_ref()) else {
        return Vec::new();
    };
    let size = |spec: &k8s_openapi::api::core::v1::PersistentVolumeClaimSpec| {
        spec.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone())
    };
    let mut out = Vec::new();
    if size(want) != size(live) {
        out.push(format!(
            "size: spec {}, claim {}",
            size(want).unwrap_or_default(),
            size(live).unwrap_or_default()
        ));
    }
    if want.storage_class_name.is_some() && want.storage_class_name != live.storage_class_name {
        out.push(format!(
            "storageClassName: spec {}, claim {}",
            want.storage_class_name.as_deref().unwrap_or_default(),
            live.storage_class_name.as_deref().unwrap_or("(none)")
        ));
    }
    if want.access_modes != live.access_modes {
        out.push(format!(
            "accessModes: spec {:?}, claim {:?}",
            want.access_modes.as_deref().unwrap_or_default(),
            live.access_modes.as_deref().unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements},
        apimachinery::pkg::api::resource::Quantity,
    };

    fn claim(size: &str, class: Option<&str>, mode: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec![mode.into()]),
                storage_class_name: class.map(Into::into),
                resources: Some(VolumeResourceRequirements {
                    requests: Some([("storage".to_owned(), Quantity(size.into()))].into()),
                    limits: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_same_claim_has_no_drift() {
        let c = claim("1Gi", None, "ReadWriteOnce");
        assert!(claim_drift(&c, &claim("1Gi", Some("standard"), "ReadWriteOnce")).is_empty());
    }

    #[test]
    fn each_changed_setting_is_named() {
        let want = claim("2Gi", Some("fast"), "ReadWriteMany");
        let drift = claim_drift(&want, &claim("1Gi", Some("standard"), "ReadWriteOnce"));
        assert_eq!(drift.len(), 3, "{drift:?}");
        assert!(drift[0].starts_with("size: spec 2Gi, claim 1Gi"));
        assert!(drift[1].starts_with("storageClassName"));
        assert!(drift[2].starts_with("accessModes"));
    }
}
