//! Creating a child object by its deterministic name, once.
//!
//! Role: the RayJob and RayCronJob interpreters create their children
//! (clusters, submitter Jobs, RayJobs) by names derived from the owner, so a
//! repeated create meets the object an earlier turn made.
//!
//! Invariants: the create is sent first and only a taken name costs a read;
//! an existing object counts as created only when the same owner (by UID)
//! controls it; anything else of that name is a conflict, never adopted or
//! overwritten.

use kube::{
    Api, Client, Resource, ResourceExt,
    api::{ObjectMeta, PostParams},
};

use super::api::controller;

/// Why a create failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The API server refused the create (or the read after a taken name).
    #[error("{step} {kind} {name}: {source}")]
    Api {
        /// `create` or `get`.
        step: &'static str,
        /// The object's kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// The name is taken by an object the owner does not control.
    #[error("{kind} {name} exists and is not controlled by this {owner}; rename or delete it")]
    Conflict {
        /// The object's kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The owner's kind.
        owner: &'static str,
    },
}

/// Whether the owner with `uid` controls the object of `meta`.
#[must_use]
pub fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller(meta).is_some_and(|r| r.uid == uid)
}

/// Creates `object` in `namespace` unless the owner `owner_uid` (of kind
/// `owner`) already made it. Returns whether this call created it.
///
/// # Errors
/// [`CreateError::Conflict`] for a foreign object of that name;
/// [`CreateError::Api`] when the API server refuses.
pub async fn create_once<K>(
    client: &Client,
    namespace: &str,
    owner: &'static str,
    owner_uid: &str,
    kind: &'static str,
    object: &K,
) -> Result<bool, CreateError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let name = object.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(true),
        // The name is taken: by this owner's earlier turn, or not.
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let live = api.get(&name).await.map_err(|source| CreateError::Api {
                step: "get",
                kind,
                name: name.clone(),
                source,
            })?;
            if controlled_by(live.meta(), owner_uid) {
                Ok(false)
            } else {
                Err(CreateError::Conflict { kind, name, owner })
            }
        }
        Err(source) => Err(CreateError::Api {
            step: "create",
            kind,
            name,
            source,
        }),
    }
}
