//! The kinds rayop reconciles, each registered once.
//!
//! A kind's registration ties its reconcile and deletion handling to the
//! generic scope runner ([`super::scope`]); [`super::run`] starts one
//! controller per registered kind in every watch scope.

use std::{collections::HashSet, sync::Arc};

use kube::{
    api::{ApiResource, DynamicObject},
    runtime::controller::Action,
};

use super::{
    context::Context,
    deletion,
    error::ReconcileError,
    raycronjob::{self, context::CronContext},
    rayjob::{self, context::JobContext},
    reconcile,
    scope::{Reconciled, Scope},
};
use crate::crd::{RayCluster, raycronjob::RayCronJob, rayjob::RayJob};

/// `ray.io/v1` RayCluster.
pub struct RayClusters;

impl Reconciled for RayClusters {
    type Context = Context;

    fn resource() -> ApiResource {
        ApiResource::erase::<RayCluster>(&())
    }

    fn context(scope: &Scope) -> Context {
        let (settings, handles) = (&scope.settings, &scope.handles);
        Context {
            client: scope.client.clone(),
            caches: scope.caches.clone(),
            journal: handles.journal.clone(),
            memory: Arc::default(),
            recorder: scope.recorder.clone(),
            build: settings.build.clone(),
            resync: settings.resync,
            head_stuck_after: settings.head_stuck_after,
            redis_cleanup: settings.redis_cleanup,
            writes: handles.writes.clone(),
            metrics: handles.metrics.clone(),
            synced: scope.synced.clone(),
            cert_manager: Arc::default(),
        }
    }

    fn reconcile(
        obj: Arc<DynamicObject>,
        ctx: Arc<Context>,
    ) -> impl Future<Output = Result<Action, ReconcileError>> + Send + 'static {
        reconcile::reconcile(obj, ctx)
    }

    fn error_policy(obj: Arc<DynamicObject>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
        reconcile::error_policy(obj, error, ctx)
    }

    async fn deleted(ctx: Arc<Context>, obj: DynamicObject) {
        deletion::record_deletion(&ctx, &obj).await;
    }

    async fn vanished(ctx: Arc<Context>, live: HashSet<String>) {
        deletion::forget_vanished(&ctx, &live).await;
    }
}

/// `ray.io/v1` RayJob.
pub struct RayJobs;

impl Reconciled for RayJobs {
    type Context = JobContext;

    fn resource() -> ApiResource {
        ApiResource::erase::<RayJob>(&())
    }

    fn context(scope: &Scope) -> JobContext {
        let (settings, handles) = (&scope.settings, &scope.handles);
        JobContext {
            client: scope.client.clone(),
            caches: scope.job_caches.clone(),
            journal: handles.journal.clone(),
            memory: Default::default(),
            recorder: scope.recorder.clone(),
            dashboards: rayjob::dashboard_access::Dashboards {
                reach: settings.dashboard_reach,
                http: reqwest::Client::builder().build().ok(),
                options: settings.build.clone(),
            },
            resync: settings.resync,
            writes: handles.writes.clone(),
            metrics: handles.metrics.clone(),
            synced: scope.synced.clone(),
        }
    }

    fn reconcile(
        obj: Arc<DynamicObject>,
        ctx: Arc<JobContext>,
    ) -> impl Future<Output = Result<Action, ReconcileError>> + Send + 'static {
        rayjob::reconcile::reconcile(obj, ctx)
    }

    fn error_policy(
        obj: Arc<DynamicObject>,
        error: &ReconcileError,
        ctx: Arc<JobContext>,
    ) -> Action {
        rayjob::reconcile::error_policy(obj, error, ctx)
    }

    async fn deleted(ctx: Arc<JobContext>, obj: DynamicObject) {
        rayjob::deletion::record_deletion(&ctx, &obj).await;
    }

    async fn vanished(ctx: Arc<JobContext>, live: HashSet<String>) {
        rayjob::deletion::forget_vanished(&ctx, &live).await;
    }
}

/// `ray.io/v1` RayCronJob.
pub struct RayCronJobs;

impl Reconciled for RayCronJobs {
    type Context = CronContext;

    fn resource() -> ApiResource {
        ApiResource::erase::<RayCronJob>(&())
    }

    fn context(scope: &Scope) -> CronContext {
        let (settings, handles) = (&scope.settings, &scope.handles);
        CronContext {
            client: scope.client.clone(),
            caches: scope.cron_caches.clone(),
            journal: handles.journal.clone(),
            memory: Default::default(),
            recorder: scope.recorder.clone(),
            operator_zone: raycronjob::context::operator_zone(),
            resync: settings.resync,
            writes: handles.writes.clone(),
            metrics: handles.metrics.clone(),
            synced: scope.synced.clone(),
        }
    }

    fn reconcile(
        obj: Arc<DynamicObject>,
        ctx: Arc<CronContext>,
    ) -> impl Future<Output = Result<Action, ReconcileError>> + Send + 'static {
        raycronjob::reconcile::reconcile(obj, ctx)
    }

    fn error_policy(
        obj: Arc<DynamicObject>,
        error: &ReconcileError,
        ctx: Arc<CronContext>,
    ) -> Action {
        raycronjob::reconcile::error_policy(obj, error, ctx)
    }

    async fn deleted(ctx: Arc<CronContext>, obj: DynamicObject) {
        raycronjob::deletion::record_deletion(&ctx, &obj).await;
    }

    async fn vanished(ctx: Arc<CronContext>, live: HashSet<String>) {
        raycronjob::deletion::forget_vanished(&ctx, &live).await;
    }
}
