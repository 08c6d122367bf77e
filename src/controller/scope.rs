//! One reconciled kind in one watch scope, written once for every kind.
//!
//! A kind registers by implementing [`Reconciled`]: its API resource, the
//! state its reconciles share, its reconcile, and what happens when one of
//! its objects is deleted (also while the operator was down). [`run_kind`]
//! does the rest: the lenient watch of the kind's objects (decoded per
//! reconcile, so one malformed object never breaks the watch of all),
//! reconciles triggered by changes of the objects they control, deletions,
//! the first-list signal, and graceful shutdown.
//!
//! Invariants:
//! - Different objects reconcile concurrently (`concurrency`), so one slow
//!   object never delays the others (KubeRay #3909).
//! - A shutdown always ends [`run_kind`], also one that arrives before the
//!   first list completes: nothing has been reconciled then.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use futures::{
    StreamExt, TryStreamExt,
    future::{BoxFuture, Shared},
    stream::BoxStream,
};
use kube::{
    Api, Client, ResourceExt,
    api::{ApiResource, DynamicObject},
    runtime::{
        Controller, WatchStreamExt,
        controller::{Action, Config as ControllerConfig},
        events::Recorder,
        reflector::{ObjectRef, store::Writer},
        watcher::{self, watcher},
    },
};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::{Handles, Settings, caches::Caches, error::ReconcileError};
use crate::owned::{ControllerRef, cache::strip_common, watch_backoff};

/// What one watch scope gives every kind it reconciles.
#[derive(Clone)]
pub struct Scope {
    /// The API client.
    pub client: Client,
    /// The namespace watched; `None` is every namespace.
    pub namespace: Option<String>,
    /// The scope's caches of owned objects and Ray pods.
    pub caches: Caches,
    /// The scope's caches of what RayJobs made.
    pub job_caches: super::rayjob::caches::JobCaches,
    /// The scope's cache of what RayCronJobs made.
    pub cron_caches: super::raycronjob::caches::CronCaches,
    /// How the controller runs.
    pub settings: Settings,
    /// Counters, journal, metrics and health.
    pub handles: Handles,
    /// Records Events under the operator's name.
    pub recorder: Recorder,
    /// True once every cache of the scope has its first full list.
    pub synced: tokio::sync::watch::Receiver<bool>,
}

/// A kind rayop reconciles. Registering a new CRD is implementing this for
/// it (with its API module, machine and builders behind the functions) and
/// one line in [`super::run`]'s list of kinds.
pub trait Reconciled: 'static {
    /// What the kind's reconciles share within one scope.
    type Context: Send + Sync + 'static;

    /// The kind's API resource.
    fn resource() -> ApiResource;
    /// Its shared state in `scope`.
    fn context(scope: &Scope) -> Self::Context;
    /// Reconciles one object.
    fn reconcile(
        obj: Arc<DynamicObject>,
        ctx: Arc<Self::Context>,
    ) -> impl Future<Output = Result<Action, ReconcileError>> + Send + 'static;
    /// What to do after a reconcile returned an error.
    fn error_policy(
        obj: Arc<DynamicObject>,
        error: &ReconcileError,
        ctx: Arc<Self::Context>,
    ) -> Action;
    /// One of its objects was deleted.
    fn deleted(
        ctx: Arc<Self::Context>,
        obj: DynamicObject,
    ) -> impl Future<Output = ()> + Send + 'static;
    /// After the first list: objects known from the journal but not among
    /// `live` (their UIDs) were deleted while the operator was down.
    fn vanished(
        ctx: Arc<Self::Context>,
        live: HashSet<String>,
    ) -> impl Future<Output = ()> + Send + 'static;
}

enum Deletion {
    One(Box<DynamicObject>),
    Listed,
}

/// Runs the controller of kind `R` in `scope` until `shutdown`; `listed`
/// is told when the kind's first list is complete.
pub async fn run_kind<R: Reconciled>(
    scope: Scope,
    triggers: BoxStream<'static, ControllerRef>,
    listed: oneshot::Sender<()>,
    shutdown: Shared<BoxFuture<'static, ()>>,
) {
    let resource = R::resource();
    let kind = resource.kind.clone();
    let ns = scope.namespace.clone();
    let where_ = ns.clone().unwrap_or_else(|| "<all>".into());
    let ctx = Arc::new(R::context(&scope));
    let api: Api<DynamicObject> = match &ns {
        Some(ns) => Api::namespaced_with(scope.client.clone(), ns, &resource),
        None => Api::all_with(scope.client.clone(), &resource),
    };
    let writer = Writer::new(resource.clone());
    let reader = writer.as_reader();
    let (deleted_tx, mut deleted_rx) = mpsc::unbounded_channel::<Deletion>();
    // Set in the same poll in which the reflector marks the store ready.
    let listed_once = Arc::new(AtomicBool::new(false));
    let listed_flag = listed_once.clone();
    let objects = watcher(api, watcher::Config::default().any_semantic())
        .backoff(watch_backoff::watch_backoff())
        .modify(strip_common)
        .reflect(writer)
        .inspect_ok(move |event| {
            let message = match event {
                watcher::Event::Delete(obj) => Deletion::One(Box::new(obj.clone())),
                watcher::Event::InitDone => {
                    listed_flag.store(true, Ordering::Release);
                    Deletion::Listed
                }
                _ => return,
            };
            let _ = deleted_tx.send(message);
        })
        .touched_objects()
        .filter_map(crate::owned::cache::retried_quietly);

    // Deletions, and objects that vanished while the operator was down.
    let deletion_ctx = ctx.clone();
    let store = reader.clone();
    let deletions = tokio::spawn(async move {
        let mut listed = Some(listed);
        while let Some(message) = deleted_rx.recv().await {
            match message {
                Deletion::One(obj) => R::deleted(deletion_ctx.clone(), *obj).await,
                Deletion::Listed => {
                    if let Some(tx) = listed.take() {
                        let _ = tx.send(());
                        let live = store.state().iter().filter_map(|o| o.uid()).collect();
                        R::vanished(deletion_ctx.clone(), live).await;
                    }
                }
            }
        }
    });

    let owner_resource = resource.clone();
    let concurrency = scope.settings.concurrency;
    info!(namespace = %where_, kind = %kind, concurrency, "controller starting");
    let controller = Controller::for_stream_with(objects, reader, resource)
        .with_config(ControllerConfig::default().concurrency(concurrency))
        // The triggers yield no errors (each watch retries on its own), so
        // this shared backoff is a second line only.
        .trigger_backoff(watch_backoff::watch_backoff())
        .reconcile_on(triggers.filter_map(move |owner| {
            futures::future::ready(reconciled_ref(&owner, &owner_resource))
        }))
        .graceful_shutdown_on(shutdown.clone())
        .run(R::reconcile, R::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "controller event");
            }
        });
    // kube-runtime's runner holds every reconcile until the store is ready,
    // and keeps waiting for that even after a shutdown has cut its input: a
    // shutdown before the first list would hang forever. Nothing has run
    // then, so the controller is dropped instead. (The flag, not the store,
    // is checked: the store's readiness keeps only one waker.)
    let before_first_list = async {
        shutdown.await;
        if listed_once.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = controller => {}
        () = before_first_list => {
            info!(
                namespace = %where_,
                "stopping before the first {kind} list completed; nothing was reconciled"
            );
        }
    }
    deletions.abort();
    let _ = deletions.await;
    info!(namespace = %where_, kind = %kind, "controller stopped");
}

/// The reconciled object a changed owned object or pod belongs to, if it is
/// of the kind `resource`.
fn reconciled_ref(
    owner: &ControllerRef,
    resource: &ApiResource,
) -> Option<ObjectRef<DynamicObject>> {
    if owner.kind != resource.kind
        || owner.api_version.split('/').next() != Some(resource.group.as_str())
    {
        return None;
    }
    let r = ObjectRef::new_with(&owner.name, resource.clone());
    Some(match &owner.namespace {
        Some(ns) => r.within(ns),
        None => r,
    })
}
