//! Objects created once and never written again: the token Secret.
//!
//! Role: part of the interpreter's `EnsureHead`. A created-once object that
//! exists and is this cluster's is left exactly as it is (no apply, so a
//! re-apply after a spec edit or an operator restart never rotates the
//! token); one that exists and is someone else's is a `NameConflict`; a
//! missing one is created with a plain create, never a server-side apply.
//!
//! The token is drawn here, at the moment of creation, from the operating
//! system's secure random source: 32 random bytes, base64-encoded, in the
//! key `auth_token`. It never passes through the machine, so it is in no
//! journal entry, and a journal replay (which runs no interpreter) draws
//! nothing.
//!
//! A `secretName` Secret is the user's: rayop only reads it, to say in a
//! Warning Event when it is missing or lacks `auth_token` (the pods then fail
//! with `CreateContainerConfigError`, which the head's condition shows too).

use std::collections::BTreeMap;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api,
    api::{ListParams, PostParams},
    runtime::events::{Event as KubeEvent, EventType},
};
use ring::rand::SecureRandom;

use super::{ApplyError, FIELD_MANAGER, Interpreter, Writes};
use crate::{
    build::auth::AUTH_TOKEN_KEY,
    desired::{Object, ObjectSet},
    owned::{ApiError, apply_object, controller_of},
};

/// Bytes of randomness in a token.
pub const TOKEN_BYTES: usize = 32;

/// Reason of the Warning Event about a user's token Secret.
pub const AUTH_SECRET_NOT_READY: &str = "AuthSecretNotReady";

/// A new token: [`TOKEN_BYTES`] random bytes, base64 (standard alphabet).
///
/// # Errors
/// [`ApplyError::NoRandomness`] when the system's random source fails.
pub fn new_token() -> Result<String, ApplyError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApplyError::NoRandomness)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

impl Interpreter<'_> {
    /// Creates the set's created-once objects that do not exist yet.
    pub(super) async fn ensure_created_once(
        &self,
        set: &ObjectSet,
        writes: &mut Writes,
    ) -> Result<(), ApplyError> {
        for object in &set.created_once {
            let key = object.key();
            let owner = match self.live.object(&key) {
                Some(_) => self.live.controller_uid(&key),
                None => controller_of(&self.client, self.namespace, key.kind, &key.name).await?,
            };
            match owner {
                Some(Some(uid)) if uid == self.owner_uid => continue,
                Some(_) => {
                    return Err(ApplyError::Foreign {
                        kind: key.kind.as_str(),
                        name: key.name,
                    });
                }
                None => {}
            }
            match object {
                Object::Secret(secret) => self.create_token_secret(secret).await?,
                other => apply_object(&self.client, self.namespace, other).await?,
            }
            writes.applies += 1;
        }
        Ok(())
    }

    /// Creates `secret` with a new token; one created meanwhile is checked
    /// for its owner instead.
    async fn create_token_secret(&self, secret: &Secret) -> Result<(), ApplyError> {
        let mut secret = secret.clone();
        secret.string_data = Some(BTreeMap::from([(AUTH_TOKEN_KEY.to_owned(), new_token()?)]));
        let name = secret.metadata.name.clone().unwrap_or_default();
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.namespace);
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PostParams::default()
        };
        match api.create(&params, &secret).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let owner = controller_of(
                    &self.client,
                    self.namespace,
                    crate::owned::Kind::Secret,
                    &name,
                )
                .await?;
                if owner.flatten().as_deref() == Some(self.owner_uid) {
                    Ok(())
                } else {
                    Err(ApplyError::Foreign {
                        kind: "Secret",
                        name,
                    })
                }
            }
            Err(source) => Err(ApplyError::Api(ApiError {
                verb: "create",
                kind: "Secret",
                name,
                source,
            })),
        }
    }

    /// Records a Warning Event when the user's `authOptions.secretName`
    /// Secret is missing or lacks `auth_token`. Never fails the command: the
    /// Secret is the user's to create, and may well appear later.
    pub(super) async fn check_user_secret(&self, writes: &mut Writes) {
        let Some(name) = self
            .spec
            .and_then(|spec| spec.token_auth())
            .filter(|auth| !auth.k8s_token_auth())
            .and_then(|auth| auth.user_secret())
        else {
            return;
        };
        let problem = match self.user_secret(name).await {
            Ok(Some(secret)) if has_token(&secret) => return,
            Ok(Some(_)) => format!(
                "spec.authOptions.secretName: Secret {name} has no key {AUTH_TOKEN_KEY}; \
                 the Ray containers read RAY_AUTH_TOKEN from it and cannot start until it has"
            ),
            Ok(None) => format!(
                "spec.authOptions.secretName: Secret {name} does not exist in namespace {}; \
                 the Ray containers read RAY_AUTH_TOKEN from its key {AUTH_TOKEN_KEY} and cannot start until it does",
                self.namespace
            ),
            Err(error) => {
                tracing::warn!(%error, secret = name, "could not read the auth Secret");
                return;
            }
        };
        let event = KubeEvent {
            type_: EventType::Warning,
            reason: AUTH_SECRET_NOT_READY.to_owned(),
            note: Some(problem),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, self.reference).await {
            tracing::warn!(%error, "could not record Event");
        } else {
            writes.events += 1;
        }
    }

    /// The user's Secret `name`, by a list narrowed to it (the `list` right
    /// rayop's caches have; it never needs `get`).
    async fn user_secret(&self, name: &str) -> Result<Option<Secret>, kube::Error> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.namespace);
        let by_name = ListParams::default().fields(&format!("metadata.name={name}"));
        Ok(api.list(&by_name).await?.items.into_iter().next())
    }
}

fn has_token(secret: &Secret) -> bool {
    secret
        .data
        .as_ref()
        .is_some_and(|data| data.get(AUTH_TOKEN_KEY).is_some_and(|v| !v.0.is_empty()))
        || secret
            .string_data
            .as_ref()
            .is_some_and(|data| data.get(AUTH_TOKEN_KEY).is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_in_base64() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&a)
            .unwrap();
        assert_eq!(decoded.len(), TOKEN_BYTES);
    }

    #[test]
    fn a_secret_has_a_token_only_with_a_non_empty_key() {
        let mut secret = Secret::default();
        assert!(!has_token(&secret));
        secret.data = Some(BTreeMap::from([(
            AUTH_TOKEN_KEY.to_owned(),
            k8s_openapi::ByteString(b"t".to_vec()),
        )]));
        assert!(has_token(&secret));
        secret.data = Some(BTreeMap::from([(
            "other".to_owned(),
            k8s_openapi::ByteString(b"t".to_vec()),
        )]));
        assert!(!has_token(&secret));
    }
}
