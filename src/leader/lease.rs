//! The Lease as the election sees it: read, create, replace.
//!
//! Invariant: every change is either a create (fails with 409 if the Lease
//! appeared meanwhile) or a replace carrying the `resourceVersion` that was
//! read (fails with 409 if anyone changed it meanwhile): two candidates can
//! never both succeed from the same observation.

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};

use super::{LeaderError, LeaseConfig};

/// What happened to a create or replace.
pub enum Written {
    /// Stored; the Lease as the server stored it.
    Stored(Box<Lease>),
    /// Someone else changed or created the Lease first.
    Conflict,
}

/// The Lease API of one configured Lease.
pub struct LeaseApi {
    api: Api<Lease>,
    config: LeaseConfig,
}

/// The holder of `lease`, if any (an empty identity means released).
#[must_use]
pub fn holder(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
}

/// The lease duration `lease` states, in whole seconds.
#[must_use]
pub fn duration_seconds(lease: &Lease) -> u64 {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.lease_duration_seconds)
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(0)
}

impl LeaseApi {
    /// The API of the Lease `config` names.
    #[must_use]
    pub fn new(client: Client, config: LeaseConfig) -> LeaseApi {
        LeaseApi {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    /// Which Lease, who this replica is, and the timings it was built with.
    #[must_use]
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    fn error(&self, verb: &'static str, source: kube::Error) -> LeaderError {
        LeaderError::Api {
            verb,
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            source: Box::new(source),
        }
    }

    /// The Lease, if it exists.
    ///
    /// # Errors
    /// The API server's error.
    pub async fn get(&self) -> Result<Option<Lease>, LeaderError> {
        self.api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.error("get", e))
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.config.timings.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }

    /// Creates the Lease held by this replica.
    ///
    /// # Errors
    /// The API server's error other than a conflict.
    pub async fn create(&self) -> Result<Written, LeaderError> {
        let now = MicroTime(Timestamp::now());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(self.lease_seconds()),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(stored) => Ok(Written::Stored(Box::new(stored))),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Written::Conflict),
            Err(e) => Err(self.error("create", e)),
        }
    }

    /// Takes over or renews `current` (as read) for this replica.
    ///
    /// # Errors
    /// The API server's error other than a conflict.
    pub async fn hold(&self, current: &Lease) -> Result<Written, LeaderError> {
        let now = MicroTime(Timestamp::now());
        let mut next = current.clone();
        let spec = next.spec.get_or_insert_with(LeaseSpec::default);
        if holder(current) != Some(self.config.identity.as_str()) {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        spec.holder_identity = Some(self.config.identity.clone());
        spec.lease_duration_seconds = Some(self.lease_seconds());
        spec.renew_time = Some(now);
        self.replace(&next, "update").await
    }

    /// Releases `current` (held by this replica): an empty holder, so a
    /// standby takes it at once.
    ///
    /// # Errors
    /// The API server's error other than a conflict.
    pub async fn release(&self, current: &Lease) -> Result<Written, LeaderError> {
        let mut next = current.clone();
        let spec = next.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.replace(&next, "release").await
    }

    async fn replace(&self, next: &Lease, verb: &'static str) -> Result<Written, LeaderError> {
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), next)
            .await
        {
            Ok(stored) => Ok(Written::Stored(Box::new(stored))),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Written::Conflict),
            Err(e) => Err(self.error(verb, e)),
        }
    }
}
