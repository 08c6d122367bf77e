//! The decisions of the debug listener's authentication, from the answers of
//! the API server's reviews.
//!
//! Pure: a TokenReview or SubjectAccessReview status in, a [`Caller`] or a
//! [`Verdict`] out; no I/O, no clock, so every branch is unit-tested.
//!
//! Invariants:
//! - Only `authenticated: true` with a username is a caller; anything else is
//!   401, with the API server's error when it gave one.
//! - Only `allowed: true` lets a request through; `denied`, a missing answer
//!   and an evaluation error are all 403 (fail closed).

use std::collections::BTreeMap;

use k8s_openapi::api::{
    authentication::v1::TokenReviewStatus, authorization::v1::SubjectAccessReviewStatus,
};

/// Who a TokenReview says the caller is; what the SubjectAccessReview asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The username, e.g. `system:serviceaccount:ns:name`.
    pub username: String,
    /// The user's UID, when the authenticator gave one.
    pub uid: Option<String>,
    /// The user's groups.
    pub groups: Vec<String>,
    /// Extra attributes of the user (the ServiceAccount's pod, …).
    pub extra: BTreeMap<String, Vec<String>>,
}

/// What the debug listener answers a request, before serving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve the request.
    Allowed,
    /// 401: no token, or a token the API server does not accept; the reason.
    Unauthenticated(String),
    /// 403: the caller may not `get` the path; the reason.
    Forbidden(String),
    /// 503: a review could not be made (the API server unreachable, rayop not
    /// allowed to create reviews, …); the reason. Never cached.
    Unavailable(String),
}

/// The caller a TokenReview's status names.
///
/// # Errors
/// The body of a 401 when the token is not authenticated.
pub fn caller(status: &TokenReviewStatus) -> Result<Caller, String> {
    let user = status.user.as_ref();
    let username = user
        .and_then(|u| u.username.as_deref())
        .filter(|name| !name.is_empty());
    match (status.authenticated, username) {
        (Some(true), Some(username)) => Ok(Caller {
            username: username.to_owned(),
            uid: user.and_then(|u| u.uid.clone()).filter(|u| !u.is_empty()),
            groups: user.and_then(|u| u.groups.clone()).unwrap_or_default(),
            extra: user.and_then(|u| u.extra.clone()).unwrap_or_default(),
        }),
        (Some(true), None) => Err("the token authenticates no user".to_owned()),
        _ => Err(match status.error.as_deref().filter(|e| !e.is_empty()) {
            Some(error) => format!("the token is not valid: {error}"),
            None => "the token is not valid".to_owned(),
        }),
    }
}

/// The verdict of a SubjectAccessReview's status for `caller` getting `path`.
#[must_use]
pub fn access(status: &SubjectAccessReviewStatus, caller: &Caller, path: &str) -> Verdict {
    if status.allowed && status.denied != Some(true) {
        return Verdict::Allowed;
    }
    let mut why = format!("{} may not get {path}", caller.username);
    if let Some(reason) = status.reason.as_deref().filter(|r| !r.is_empty()) {
        why.push_str(": ");
        why.push_str(reason);
    }
    if let Some(error) = status.evaluation_error.as_deref().filter(|e| !e.is_empty()) {
        why.push_str(" (evaluation error: ");
        why.push_str(error);
        why.push(')');
    }
    Verdict::Forbidden(why)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use k8s_openapi::api::authentication::v1::UserInfo;

    use super::*;

    fn reviewed(authenticated: Option<bool>, username: Option<&str>) -> TokenReviewStatus {
        TokenReviewStatus {
            authenticated,
            user: Some(UserInfo {
                username: username.map(str::to_owned),
                uid: Some("u-1".to_owned()),
                groups: Some(vec!["system:serviceaccounts".to_owned()]),
                extra: None,
            }),
            ..TokenReviewStatus::default()
        }
    }

    #[test]
    fn only_an_authenticated_user_is_a_caller() {
        let c = caller(&reviewed(Some(true), Some("system:serviceaccount:a:b"))).unwrap();
        assert_eq!(c.username, "system:serviceaccount:a:b");
        assert_eq!(c.uid.as_deref(), Some("u-1"));
        assert_eq!(c.groups, ["system:serviceaccounts"]);
        assert!(
            caller(&reviewed(Some(true), None))
                .unwrap_err()
                .contains("no user")
        );
        assert!(caller(&reviewed(Some(true), Some(""))).is_err());
        assert!(caller(&reviewed(Some(false), Some("x"))).is_err());
        assert!(caller(&reviewed(None, Some("x"))).is_err());
        let expired = TokenReviewStatus {
            authenticated: Some(false),
            error: Some("token has expired".to_owned()),
            ..TokenReviewStatus::default()
        };
        assert_eq!(
            caller(&expired).unwrap_err(),
            "the token is not valid: token has expired"
        );
    }

    #[test]
    fn only_allowed_lets_through() {
        let who = caller(&reviewed(Some(true), Some("alice"))).unwrap();
        let status = |allowed, denied, reason: Option<&str>, error: Option<&str>| {
            SubjectAccessReviewStatus {
                allowed,
                denied,
                reason: reason.map(str::to_owned),
                evaluation_error: error.map(str::to_owned),
            }
        };
        assert_eq!(
            access(&status(true, None, None, None), &who, "/debug/journal/a/b"),
            Verdict::Allowed
        );
        assert_eq!(
            access(&status(false, None, None, None), &who, "/debug/journal/a/b"),
            Verdict::Forbidden("alice may not get /debug/journal/a/b".to_owned())
        );
        assert_eq!(
            access(
                &status(
                    false,
                    Some(true),
                    Some("denied by policy"),
                    Some("webhook down")
                ),
                &who,
                "/p"
            ),
            Verdict::Forbidden(
                "alice may not get /p: denied by policy (evaluation error: webhook down)"
                    .to_owned()
            )
        );
        // Contradictory answers fail closed.
        assert!(matches!(
            access(&status(true, Some(true), None, None), &who, "/p"),
            Verdict::Forbidden(_)
        ));
    }
}
