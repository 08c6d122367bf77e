//! Server-side apply and delete of one typed object.
//!
//! Invariant: every apply uses `PatchParams::apply(FIELD_MANAGER).force()`:
//! rayop takes ownership of exactly the fields it sets (forcing past a
//! conflict, as a controller should for fields it is responsible for) and
//! leaves every other field alone.

use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::{Deployment, StatefulSet},
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::{Service, ServiceAccount},
        rbac::v1::{Role, RoleBinding},
    },
};
use kube::{
    Api, Client, Resource,
    api::{DeleteParams, Patch, PatchParams},
};
use serde::{Serialize, de::DeserializeOwned};

use super::{ApplyError, FIELD_MANAGER};
use crate::desired::{Kind, Object, ObjectKey};

async fn ssa<K>(client: &Client, namespace: &str, object: &K) -> Result<(), ApplyError>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + k8s_openapi::Resource
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map(|_| ())
        .map_err(|source| ApplyError::Api {
            verb: "apply",
            kind: K::KIND,
            name,
            source,
        })
}

/// Server-side applies `object` in `namespace`.
///
/// # Errors
/// The API server's refusal.
pub async fn apply_object(
    client: &Client,
    namespace: &str,
    object: &Object,
) -> Result<(), ApplyError> {
    match object {
        Object::StatefulSet(o) => ssa(client, namespace, o).await,
        Object::Deployment(o) => ssa(client, namespace, o).await,
        Object::Service(o) => ssa(client, namespace, o).await,
        Object::ServiceAccount(o) => ssa(client, namespace, o).await,
        Object::Role(o) => ssa(client, namespace, o).await,
        Object::RoleBinding(o) => ssa(client, namespace, o).await,
        Object::HorizontalPodAutoscaler(o) => ssa(client, namespace, o).await,
    }
}

async fn delete<K>(client: &Client, namespace: &str, name: &str) -> Result<(), ApplyError>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + k8s_openapi::Resource
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(ApplyError::Api {
            verb: "delete",
            kind: K::KIND,
            name: name.to_owned(),
            source,
        }),
    }
}

/// Deletes the object with `key` in `namespace`; one already gone is fine.
///
/// # Errors
/// The API server's refusal.
pub async fn delete_object(
    client: &Client,
    namespace: &str,
    key: &ObjectKey,
) -> Result<(), ApplyError> {
    let name = key.name.as_str();
    match key.kind {
        Kind::StatefulSet => delete::<StatefulSet>(client, namespace, name).await,
        Kind::Deployment => delete::<Deployment>(client, namespace, name).await,
        Kind::Service => delete::<Service>(client, namespace, name).await,
        Kind::ServiceAccount => delete::<ServiceAccount>(client, namespace, name).await,
        Kind::Role => delete::<Role>(client, namespace, name).await,
        Kind::RoleBinding => delete::<RoleBinding>(client, namespace, name).await,
        Kind::HorizontalPodAutoscaler => {
            delete::<HorizontalPodAutoscaler>(client, namespace, name).await
        }
    }
}
