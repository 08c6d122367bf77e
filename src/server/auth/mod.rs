//! Who may read `/debug/journal` on the debug listener (`rayop run --debug-addr`).
//!
//! Role: a listener bound to a loopback address is reachable only from inside
//! the pod (`kubectl port-forward`), so it is [`Guard::open`]. Any other
//! address gets [`Guard::reviewing`]: every request carries
//! `Authorization: Bearer <token>`; the API server says who that is
//! (TokenReview) and whether they may `get` the request's path as a
//! non-resource URL (SubjectAccessReview), the way the API server itself
//! authorizes `/metrics` or `/healthz`. A ClusterRole with
//! `nonResourceURLs: ["/debug/journal", "/debug/journal/*"]` and verb `get`
//! grants every journal; `/debug/journal/<namespace>/*` one namespace's.
//!
//! Parts: [`bearer`] reads the header, [`decide`] turns review answers into
//! verdicts (both pure), [`cache`] keeps answers briefly, [`review`] asks the
//! API server.
//!
//! Invariants:
//! - Authentication comes first: without a valid token nothing else is
//!   looked at (401); authorization is asked for the exact path served (403).
//! - A review that cannot be made is 503 and is not cached; the next request
//!   asks again.
//! - Answers are cached by the SHA-256 of the token (the token itself is not
//!   kept): acceptances for [`ALLOWED_TTL`], refusals for [`REFUSED_TTL`], at
//!   most [`CACHE_CAPACITY`] of each. A revoked token or binding therefore
//!   takes effect within [`ALLOWED_TTL`].
//! - At most [`REVIEWS_IN_FLIGHT`] reviews are sent at once; further
//!   requests wait their turn, so a flood of made-up tokens reaches the API
//!   server no faster than its answers come back.

pub mod bearer;
pub mod cache;
pub mod decide;
pub mod review;

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use http::HeaderMap;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tracing::warn;

use self::cache::TtlCache;
pub use self::{
    decide::{Caller, Verdict},
    review::{KubeReviewer, ReviewError, Reviewer},
};

/// How long an accepted token, or an allowed path, is believed without asking again.
pub const ALLOWED_TTL: Duration = Duration::from_secs(30);
/// How long a refused token, or a forbidden path, is refused without asking again.
pub const REFUSED_TTL: Duration = Duration::from_secs(10);
/// The most answers kept, per kind of review.
pub const CACHE_CAPACITY: usize = 1024;
/// The most reviews (of both kinds) waiting for the API server at once.
pub const REVIEWS_IN_FLIGHT: usize = 8;

/// The SHA-256 of a bearer token: what the caches are keyed by.
type TokenKey = [u8; 32];

/// Who passed [`Guard::authenticate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authenticated {
    /// An open guard: anyone who reaches the loopback listener.
    Anyone,
    /// The caller a TokenReview named.
    Caller {
        /// The token's cache key.
        key: TokenKey,
        /// Who the token is.
        caller: Caller,
    },
}

/// Decides which requests the debug listener serves.
pub struct Guard<R = KubeReviewer> {
    reviewer: Option<R>,
    callers: Mutex<TtlCache<TokenKey, Result<Caller, String>>>,
    access: Mutex<TtlCache<(TokenKey, String), Verdict>>,
    in_flight: Semaphore,
}

impl<R> std::fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("authenticates", &self.reviewer.is_some())
            .finish_non_exhaustive()
    }
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Guard<KubeReviewer> {
    /// A guard that lets everyone through: for a loopback listener.
    #[must_use]
    pub fn open() -> Guard<KubeReviewer> {
        Guard::with(None)
    }
}

impl<R: Reviewer> Guard<R> {
    /// A guard that asks `reviewer` about every caller.
    #[must_use]
    pub fn reviewing(reviewer: R) -> Guard<R> {
        Guard::with(Some(reviewer))
    }

    fn with(reviewer: Option<R>) -> Guard<R> {
        Guard {
            reviewer,
            callers: Mutex::new(TtlCache::new(CACHE_CAPACITY)),
            access: Mutex::new(TtlCache::new(CACHE_CAPACITY)),
            in_flight: Semaphore::new(REVIEWS_IN_FLIGHT),
        }
    }

    /// True when callers must present a token.
    #[must_use]
    pub fn authenticates(&self) -> bool {
        self.reviewer.is_some()
    }

    /// Who sent a request with `headers`.
    ///
    /// # Errors
    /// [`Verdict::Unauthenticated`] or [`Verdict::Unavailable`].
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Authenticated, Verdict> {
        let Some(reviewer) = &self.reviewer else {
            return Ok(Authenticated::Anyone);
        };
        let token =
            bearer::token(headers).map_err(|why| Verdict::Unauthenticated(why.to_owned()))?;
        let key: TokenKey = Sha256::digest(token.as_bytes()).into();
        let cached = locked(&self.callers).get(&key, Instant::now());
        let answer = match cached {
            Some(answer) => answer,
            None => {
                let status = async {
                    let _turn = self.in_flight.acquire().await;
                    reviewer.review_token(token).await
                }
                .await
                .map_err(|error| {
                    warn!(%error, "cannot authenticate a /debug/journal caller");
                    Verdict::Unavailable(
                        "cannot check the token now: the TokenReview failed (see the operator's log)"
                            .to_owned(),
                    )
                })?;
                let answer = decide::caller(&status);
                let ttl = if answer.is_ok() {
                    ALLOWED_TTL
                } else {
                    REFUSED_TTL
                };
                locked(&self.callers).insert(key, answer.clone(), Instant::now(), ttl);
                answer
            }
        };
        answer
            .map(|caller| Authenticated::Caller { key, caller })
            .map_err(Verdict::Unauthenticated)
    }

    /// Whether `who` may `get` the non-resource `path`.
    pub async fn authorize(&self, who: &Authenticated, path: &str) -> Verdict {
        let (Some(reviewer), Authenticated::Caller { key, caller }) = (&self.reviewer, who) else {
            return match who {
                Authenticated::Anyone => Verdict::Allowed,
                Authenticated::Caller { .. } => {
                    Verdict::Unavailable("no reviewer for an authenticated caller".to_owned())
                }
            };
        };
        let entry = (*key, path.to_owned());
        if let Some(verdict) = locked(&self.access).get(&entry, Instant::now()) {
            return verdict;
        }
        let answer = async {
            let _turn = self.in_flight.acquire().await;
            reviewer.review_access(caller, path).await
        }
        .await;
        let verdict = match answer {
            Ok(status) => decide::access(&status, caller, path),
            Err(error) => {
                warn!(%error, user = %caller.username, "cannot authorize a /debug/journal caller");
                return Verdict::Unavailable(
                    "cannot check access now: the SubjectAccessReview failed (see the operator's log)"
                        .to_owned(),
                );
            }
        };
        let ttl = if verdict == Verdict::Allowed {
            ALLOWED_TTL
        } else {
            REFUSED_TTL
        };
        locked(&self.access).insert(entry, verdict.clone(), Instant::now(), ttl);
        verdict
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::{HeaderValue, header::AUTHORIZATION};
    use k8s_openapi::api::{
        authentication::v1::{TokenReviewStatus, UserInfo},
        authorization::v1::SubjectAccessReviewStatus,
    };

    use super::*;

    /// Tokens `good-<user>` authenticate as `<user>`; `down` fails the
    /// review; `alice` may get everything under /debug/journal/, others nothing.
    #[derive(Default)]
    struct Fake {
        token_reviews: AtomicUsize,
        access_reviews: AtomicUsize,
    }

    impl Reviewer for Fake {
        async fn review_token(&self, token: &str) -> Result<TokenReviewStatus, ReviewError> {
            self.token_reviews.fetch_add(1, Ordering::SeqCst);
            if token == "down" {
                return Err(ReviewError::Timeout {
                    kind: "TokenReview",
                });
            }
            let user = token.strip_prefix("good-");
            Ok(TokenReviewStatus {
                authenticated: Some(user.is_some()),
                user: user.map(|u| UserInfo {
                    username: Some(u.to_owned()),
                    ..UserInfo::default()
                }),
                ..TokenReviewStatus::default()
            })
        }

        async fn review_access(
            &self,
            caller: &Caller,
            path: &str,
        ) -> Result<SubjectAccessReviewStatus, ReviewError> {
            self.access_reviews.fetch_add(1, Ordering::SeqCst);
            if caller.username == "flaky" {
                return Err(ReviewError::NoStatus {
                    kind: "SubjectAccessReview",
                });
            }
            Ok(SubjectAccessReviewStatus {
                allowed: caller.username == "alice" && path.starts_with("/debug/journal/"),
                ..SubjectAccessReviewStatus::default()
            })
        }
    }

    /// Counts the TokenReviews waiting at once; each waits until released.
    #[derive(Default)]
    struct Slow {
        waiting: AtomicUsize,
        most: AtomicUsize,
        release: tokio::sync::Notify,
        released: std::sync::atomic::AtomicBool,
    }

    impl Reviewer for Slow {
        async fn review_token(&self, _: &str) -> Result<TokenReviewStatus, ReviewError> {
            let now = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            while !self.released.load(Ordering::SeqCst) {
                let notified = self.release.notified();
                if self.released.load(Ordering::SeqCst) {
                    break;
                }
                notified.await;
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            Ok(TokenReviewStatus::default())
        }

        async fn review_access(
            &self,
            _: &Caller,
            _: &str,
        ) -> Result<SubjectAccessReviewStatus, ReviewError> {
            Ok(SubjectAccessReviewStatus::default())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reviews_in_flight_are_bounded() {
        let guard = std::sync::Arc::new(Guard::reviewing(Slow::default()));
        let tasks: Vec<_> = (0..REVIEWS_IN_FLIGHT * 4)
            .map(|i| {
                let guard = guard.clone();
                tokio::spawn(async move { guard.authenticate(&bearer(&format!("t{i}"))).await })
            })
            .collect();
        let slow = || guard.reviewer.as_ref().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while slow().waiting.load(Ordering::SeqCst) < REVIEWS_IN_FLIGHT {
            assert!(Instant::now() < deadline, "the reviews never started");
            tokio::task::yield_now().await;
        }
        assert_eq!(slow().most.load(Ordering::SeqCst), REVIEWS_IN_FLIGHT);
        slow().released.store(true, Ordering::SeqCst);
        slow().release.notify_waiters();
        for task in tasks {
            assert!(matches!(
                task.await.unwrap(),
                Err(Verdict::Unauthenticated(_))
            ));
        }
        assert_eq!(slow().most.load(Ordering::SeqCst), REVIEWS_IN_FLIGHT);
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        headers
    }

    async fn verdict(guard: &Guard<Fake>, headers: &HeaderMap, path: &str) -> Verdict {
        match guard.authenticate(headers).await {
            Ok(who) => guard.authorize(&who, path).await,
            Err(verdict) => verdict,
        }
    }

    #[tokio::test]
    async fn an_open_guard_lets_anyone_through() {
        let guard = Guard::open();
        assert!(!guard.authenticates());
        let who = guard.authenticate(&HeaderMap::new()).await.unwrap();
        assert_eq!(
            guard.authorize(&who, "/debug/journal/a/b").await,
            Verdict::Allowed
        );
    }

    #[tokio::test]
    async fn tokens_and_grants_decide() {
        let guard = Guard::reviewing(Fake::default());
        let path = "/debug/journal/ns/c";
        assert!(matches!(
            verdict(&guard, &HeaderMap::new(), path).await,
            Verdict::Unauthenticated(_)
        ));
        assert!(matches!(
            verdict(&guard, &bearer("forged"), path).await,
            Verdict::Unauthenticated(_)
        ));
        assert_eq!(
            verdict(&guard, &bearer("good-bob"), path).await,
            Verdict::Forbidden("bob may not get /debug/journal/ns/c".to_owned())
        );
        assert_eq!(
            verdict(&guard, &bearer("good-alice"), path).await,
            Verdict::Allowed
        );
        assert!(matches!(
            verdict(&guard, &bearer("down"), path).await,
            Verdict::Unavailable(_)
        ));
        assert!(matches!(
            verdict(&guard, &bearer("good-flaky"), path).await,
            Verdict::Unavailable(_)
        ));
        // No header costs no review.
        assert_eq!(
            guard
                .reviewer
                .as_ref()
                .unwrap()
                .token_reviews
                .load(Ordering::SeqCst),
            5
        );
    }

    #[tokio::test]
    async fn answers_are_cached_failures_are_not() {
        let guard = Guard::reviewing(Fake::default());
        let fake = || guard.reviewer.as_ref().unwrap();
        for _ in 0..5 {
            assert_eq!(
                verdict(&guard, &bearer("good-alice"), "/debug/journal/a/b").await,
                Verdict::Allowed
            );
            assert!(matches!(
                verdict(&guard, &bearer("good-bob"), "/debug/journal/a/b").await,
                Verdict::Forbidden(_)
            ));
            assert!(matches!(
                verdict(&guard, &bearer("forged"), "/debug/journal/a/b").await,
                Verdict::Unauthenticated(_)
            ));
        }
        assert_eq!(fake().token_reviews.load(Ordering::SeqCst), 3);
        assert_eq!(fake().access_reviews.load(Ordering::SeqCst), 2);
        // Another path is another question.
        assert_eq!(
            verdict(&guard, &bearer("good-alice"), "/debug/journal/a/c").await,
            Verdict::Allowed
        );
        assert_eq!(fake().access_reviews.load(Ordering::SeqCst), 3);
        for _ in 0..3 {
            let _ = verdict(&guard, &bearer("down"), "/p").await;
            let _ = verdict(&guard, &bearer("good-flaky"), "/p").await;
        }
        assert_eq!(fake().token_reviews.load(Ordering::SeqCst), 3 + 3 + 1);
        assert_eq!(fake().access_reviews.load(Ordering::SeqCst), 3 + 3);
    }
}
