//! The objects rayop creates for a reconciled object, generic over their kind.
//!
//! Role: one declaration per owned kind ([`kinds`]) gives the [`Kind`] and
//! [`Object`] enums, server-side apply and delete ([`api`]), and a watch
//! cache indexed by cluster ([`cache`], [`index`]), whose managed fields tell
//! hand edits apart ([`drift`]). The reconcile steps see
//! owned objects only through these, so adding a kind touches one list.

pub mod api;
pub mod cache;
pub mod cert_manager;
pub mod children;
pub mod create_once;
mod declare;
pub mod drift;
pub mod index;
pub mod kinds;
pub mod pod_groups;
pub mod rollout;
pub mod watch_backoff;

pub use api::{ApiError, FIELD_MANAGER};
pub use cache::{CacheMode, ControllerRef, LiveObject, OwnedCaches, OwnedStore, Trigger};
pub use kinds::{Kind, Object, apply_object, controller_of, delete_object, watch_all};
