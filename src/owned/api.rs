//! Server-side apply and delete of one typed object.
//!
//! Invariants:
//! - Every apply is a server-side apply under the one field manager
//!   [`FIELD_MANAGER`], forced: rayop owns exactly the fields it sets and
//!   leaves every other field to its writer. Whether an object may be
//!   written at all is decided before (the interpreter's ownership check).
//! - A delete of an object that is already gone succeeds.

use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::OwnerReference};
use kube::{
    Api, Client, Resource,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use serde::{Serialize, de::DeserializeOwned};
use thiserror::Error;

/// The one field manager rayop writes under.
pub const FIELD_MANAGER: &str = "rayop";

/// What every owned kind's type is: a namespaced k8s-openapi resource that
/// serializes both ways.
pub trait Typed:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + k8s_openapi::Resource
    + Serialize
    + DeserializeOwned
    + Clone
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Typed for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + k8s_openapi::Resource
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// The API server refused or failed a write.
#[derive(Debug, Error)]
#[error("{verb} {kind} {name}: {source}")]
pub struct ApiError {
    /// `apply`, `delete`, `patch`.
    pub verb: &'static str,
    /// The object's kind.
    pub kind: &'static str,
    /// The object's name.
    pub name: String,
    /// The client's error.
    #[source]
    pub source: kube::Error,
}

/// Server-side applies `object` in `namespace`.
///
/// # Errors
/// The API server's refusal.
pub async fn apply<K>(client: &Client, namespace: &str, object: &K) -> Result<(), ApiError>
where
    K: Typed,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map(|_| ())
        .map_err(|source| ApiError {
            verb: "apply",
            kind: K::KIND,
            name,
            source,
        })
}

impl ApiError {
    /// Whether the API server refused because the namespace is being
    /// deleted: nothing can be created there any more, and nothing needs to be.
    #[must_use]
    pub fn namespace_terminating(&self) -> bool {
        matches!(&self.source, kube::Error::Api(status)
            if status.code == 403 && status.message.contains("because it is being terminated"))
    }
}

/// Whether `name` of kind `K` exists in `namespace`, and if so the UID of
/// its controller (`Some(None)`: it exists and nothing controls it). A
/// consistent list by name, so it needs only the `list` verb rayop's caches
/// already have; used for objects the caches do not hold, which carry no
/// `ray.io/cluster` label and may well be someone else's.
///
/// # Errors
/// The API server's refusal.
pub async fn controller_of<K>(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Option<String>>, ApiError>
where
    K: Typed,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let by_name = ListParams::default().fields(&format!("metadata.name={name}"));
    let found = api
        .list_metadata(&by_name)
        .await
        .map_err(|source| ApiError {
            verb: "list",
            kind: K::KIND,
            name: name.to_owned(),
            source,
        })?;
    Ok(found
        .items
        .first()
        .map(|o| controller(&o.metadata).map(|r| r.uid.clone())))
}

/// The owner reference that controls an object, if any.
#[must_use]
pub fn controller(meta: &kube::api::ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Deletes `name` of kind `K` in `namespace`, in the background.
///
/// # Errors
/// The API server's refusal, except 404.
pub async fn delete<K>(client: &Client, namespace: &str, name: &str) -> Result<(), ApiError>
where
    K: Typed,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(ApiError {
            verb: "delete",
            kind: K::KIND,
            name: name.to_owned(),
            source,
        }),
    }
}
