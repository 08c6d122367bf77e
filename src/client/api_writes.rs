//! A tower layer on the operator's API client: counts every write request by
//! verb and kind, and refuses writes while this replica may not write (the
//! leader's write fence: the [`WriteGate`]).
//!
//! Role: the one place every API call passes through (watches, applies,
//! deletes, status, Events, the Lease), so write metrics need no hook in the
//! reconcile steps, and a replica that lost its lease is fenced even in the
//! middle of a reconcile.
//!
//! Invariants:
//! - Reads (GET, HEAD, OPTIONS) pass untouched and uncounted.
//! - A write is refused, without being sent, when the [`WriteGate`] says no;
//!   writes to `coordination.k8s.io` Leases are never refused, so the leader
//!   election itself can always run.
//! - Kinds come from the request path's resource (a closed set of plurals
//!   mapped to kinds; anything else keeps its plural), so label values stay
//!   bounded.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Method, Request, header::CONTENT_TYPE};
use thiserror::Error;
use tower::{Layer, Service};

use crate::metrics::Metrics;

/// Whether this replica may write to the API server right now.
pub trait WriteGate: Send + Sync {
    /// True while writes may be sent.
    fn may_write(&self) -> bool;
}

/// A gate that is always open (no leader election).
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysOpen;

impl WriteGate for AlwaysOpen {
    fn may_write(&self) -> bool {
        true
    }
}

/// A write refused because this replica does not hold the leader lease.
#[derive(Debug, Error)]
#[error("{verb} {kind} refused: this replica does not hold the leader lease")]
pub struct WriteRefused {
    /// create, update, apply, patch or delete, as [`classify`] names it.
    pub verb: &'static str,
    /// The kind (`RayCluster/status` for a subresource; an unknown plural stays as is).
    pub kind: String,
}

/// One write request, classified by method, path and content type; reads have none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// create, update, apply, patch or delete.
    pub verb: &'static str,
    /// The kind (`RayCluster/status` for a subresource).
    pub kind: String,
    /// True for a coordination.k8s.io Lease, which the gate never refuses.
    pub lease: bool,
}

fn kind_of(plural: &str) -> &str {
    match plural {
        "statefulsets" => "StatefulSet",
        "deployments" => "Deployment",
        "services" => "Service",
        "serviceaccounts" => "ServiceAccount",
        "roles" => "Role",
        "rolebindings" => "RoleBinding",
        "horizontalpodautoscalers" => "HorizontalPodAutoscaler",
        "networkpolicies" => "NetworkPolicy",
        "ingresses" => "Ingress",
        "pods" => "Pod",
        "rayclusters" => "RayCluster",
        "events" => "Event",
        "leases" => "Lease",
        "namespaces" => "Namespace",
        other => other,
    }
}

/// Classifies a request: `None` for a read, the verb and kind for a write.
#[must_use]
pub fn classify(method: &Method, path: &str, content_type: Option<&str>) -> Option<Write> {
    let verb = match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::DELETE => "delete",
        Method::PATCH if content_type.is_some_and(|c| c.starts_with("application/apply-patch")) => {
            "apply"
        }
        Method::PATCH => "patch",
        _ => return None,
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // /api/v1/... or /apis/<group>/<version>/...
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => ("", &segments[..0]),
    };
    // namespaces/<ns>/<resource>/<name>/<sub>, or <resource>/<name>/<sub>
    let rest = match rest {
        ["namespaces", _ns, resource, tail @ ..] => {
            let mut r = vec![*resource];
            r.extend_from_slice(tail);
            r
        }
        other => other.to_vec(),
    };
    let (plural, sub) = match rest.as_slice() {
        [resource] | [resource, _] => (*resource, None),
        [resource, _, sub, ..] => (*resource, Some(*sub)),
        [] => ("unknown", None),
    };
    let kind = match sub {
        Some(sub) => format!("{}/{sub}", kind_of(plural)),
        None => kind_of(plural).to_owned(),
    };
    Some(Write {
        verb,
        kind,
        lease: group == "coordination.k8s.io" && plural == "leases",
    })
}

/// The layer: wraps a client service in [`ApiWrites`].
#[derive(Clone)]
pub struct ApiWriteLayer {
    metrics: Arc<Metrics>,
    gate: Arc<dyn WriteGate>,
}

impl ApiWriteLayer {
    /// Counts into `metrics`; refuses writes when `gate` is closed.
    #[must_use]
    pub fn new(metrics: Arc<Metrics>, gate: Arc<dyn WriteGate>) -> ApiWriteLayer {
        ApiWriteLayer { metrics, gate }
    }
}

impl<S> Layer<S> for ApiWriteLayer {
    type Service = ApiWrites<S>;

    fn layer(&self, inner: S) -> ApiWrites<S> {
        ApiWrites {
            inner,
            metrics: self.metrics.clone(),
            gate: self.gate.clone(),
        }
    }
}

/// The service [`ApiWriteLayer`] makes: counts each write, and fails it unsent while the gate is
/// closed.
#[derive(Clone)]
pub struct ApiWrites<S> {
    inner: S,
    metrics: Arc<Metrics>,
    gate: Arc<dyn WriteGate>,
}

/// Errors of the wrapped service, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> Service<Request<B>> for ApiWrites<S>
where
    S: Service<Request<B>>,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if let Some(write) = classify(request.method(), request.uri().path(), content_type) {
            if !write.lease && !self.gate.may_write() {
                self.metrics.api_write_refused(write.verb, &write.kind);
                let refused = WriteRefused {
                    verb: write.verb,
                    kind: write.kind,
                };
                return Box::pin(std::future::ready(Err(Box::new(refused) as BoxError)));
            }
            self.metrics.api_write(write.verb, &write.kind);
        }
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(method: Method, path: &str, ct: Option<&str>) -> Option<(&'static str, String, bool)> {
        classify(&method, path, ct).map(|w| (w.verb, w.kind, w.lease))
    }

    #[test]
    fn reads_are_not_writes() {
        assert_eq!(c(Method::GET, "/api/v1/pods", None), None);
        assert_eq!(
            c(
                Method::GET,
                "/apis/apps/v1/namespaces/a/statefulsets?watch=true",
                None
            ),
            None
        );
    }

    #[test]
    fn writes_by_verb_and_kind() {
        let apply = Some("application/apply-patch+yaml");
        assert_eq!(
            c(
                Method::PATCH,
                "/apis/apps/v1/namespaces/a/statefulsets/x-head",
                apply
            ),
            Some(("apply", "StatefulSet".into(), false))
        );
        assert_eq!(
            c(
                Method::PATCH,
                "/apis/ray.io/v1/namespaces/a/rayclusters/x/status",
                apply
            ),
            Some(("apply", "RayCluster/status".into(), false))
        );
        assert_eq!(
            c(
                Method::PATCH,
                "/api/v1/namespaces/a/pods/p",
                Some("application/merge-patch+json")
            ),
            Some(("patch", "Pod".into(), false))
        );
        assert_eq!(
            c(Method::DELETE, "/api/v1/namespaces/a/pods/p", None),
            Some(("delete", "Pod".into(), false))
        );
        assert_eq!(
            c(
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/a/events",
                None
            ),
            Some(("create", "Event".into(), false))
        );
        assert_eq!(
            c(
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/s/leases/rayop-leader",
                None
            ),
            Some(("update", "Lease".into(), true))
        );
        assert_eq!(
            c(Method::POST, "/api/v1/namespaces", None),
            Some(("create", "Namespace".into(), false))
        );
        assert_eq!(
            c(Method::POST, "/apis/widgets.example/v1/gizmos", None),
            Some(("create", "gizmos".into(), false))
        );
    }
}
