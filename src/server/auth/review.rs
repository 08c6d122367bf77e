//! Asking the API server who a caller is (TokenReview, authentication.k8s.io/v1)
//! and whether they may `get` a non-resource path (SubjectAccessReview,
//! authorization.k8s.io/v1).
//!
//! Role: the only I/O of the debug listener's authentication, behind the
//! [`Reviewer`] trait so the flow in [`super::Guard`] is tested with a fake.
//!
//! Invariants: each review is one `create` with a deadline
//! ([`REVIEW_TIMEOUT`]); every failure is a [`ReviewError`] (served as 503),
//! never a panic. The client used carries no write gate: a review changes
//! nothing, and a standby must be able to make one too.

use std::{future::Future, time::Duration};

use k8s_openapi::api::{
    authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus},
    authorization::v1::{
        NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
        SubjectAccessReviewStatus,
    },
};
use kube::{Api, Client, api::PostParams};
use thiserror::Error;

use super::decide::Caller;

/// How long one review may take before the request is answered 503.
pub const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

/// A review could not be made.
#[derive(Debug, Error)]
pub enum ReviewError {
    /// The API server refused or failed the review (unreachable, 5xx, or
    /// rayop lacks `create` on the review kind).
    #[error("creating a {kind}: {source}")]
    Api {
        /// `TokenReview` or `SubjectAccessReview`.
        kind: &'static str,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// No answer within [`REVIEW_TIMEOUT`].
    #[error("no {kind} answer within {REVIEW_TIMEOUT:?}")]
    Timeout {
        /// `TokenReview` or `SubjectAccessReview`.
        kind: &'static str,
    },
    /// The answer had no status.
    #[error("the {kind} came back without a status")]
    NoStatus {
        /// `TokenReview` or `SubjectAccessReview`.
        kind: &'static str,
    },
}

/// Makes the two reviews.
pub trait Reviewer: Send + Sync {
    /// The TokenReview of `token`.
    fn review_token(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<TokenReviewStatus, ReviewError>> + Send;

    /// The SubjectAccessReview of `caller` doing `get` on the non-resource `path`.
    fn review_access(
        &self,
        caller: &Caller,
        path: &str,
    ) -> impl Future<Output = Result<SubjectAccessReviewStatus, ReviewError>> + Send;
}

/// The reviews made by the API server through a kube client.
#[derive(Clone)]
pub struct KubeReviewer {
    client: Client,
}

impl std::fmt::Debug for KubeReviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeReviewer").finish_non_exhaustive()
    }
}

impl KubeReviewer {
    /// Reviews through `client`, whose credentials need `create` on
    /// `tokenreviews` and `subjectaccessreviews`.
    #[must_use]
    pub fn new(client: Client) -> KubeReviewer {
        KubeReviewer { client }
    }
}

async fn create<K>(api: Api<K>, object: K, kind: &'static str) -> Result<K, ReviewError>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &object)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(source)) => Err(ReviewError::Api { kind, source }),
        Err(_) => Err(ReviewError::Timeout { kind }),
    }
}

impl Reviewer for KubeReviewer {
    async fn review_token(&self, token: &str) -> Result<TokenReviewStatus, ReviewError> {
        const KIND: &str = "TokenReview";
        let review = TokenReview {
            spec: TokenReviewSpec {
                // The API server's own audiences: the tokens `kubectl create token` mints.
                audiences: None,
                token: Some(token.to_owned()),
            },
            ..TokenReview::default()
        };
        create(Api::all(self.client.clone()), review, KIND)
            .await?
            .status
            .ok_or(ReviewError::NoStatus { kind: KIND })
    }

    async fn review_access(
        &self,
        caller: &Caller,
        path: &str,
    ) -> Result<SubjectAccessReviewStatus, ReviewError> {
        const KIND: &str = "SubjectAccessReview";
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(caller.username.clone()),
                uid: caller.uid.clone(),
                groups: Some(caller.groups.clone()),
                extra: Some(caller.extra.clone()).filter(|e| !e.is_empty()),
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(path.to_owned()),
                    verb: Some("get".to_owned()),
                }),
                resource_attributes: None,
            },
            ..SubjectAccessReview::default()
        };
        create(Api::all(self.client.clone()), review, KIND)
            .await?
            .status
            .ok_or(ReviewError::NoStatus { kind: KIND })
    }
}
