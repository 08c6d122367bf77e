//! The state of one open journal behind the public handle: the sled trees,
//! the stream registry, the durability barrier, the options and the
//! directory lock.
//!
//! The operation modules (`append`, `read`, `snapshot`, `retention`,
//! `verify`, `export`, `import`) are functions over a `&Store`; only this
//! module touches its fields.
//!
//! Invariants:
//! - a stream's state is mutated only under its mutex, taken with
//!   [`Store::lock_stream`]; sequence numbers are assigned under it;
//! - a stream's metadata and index row are stored before any of its
//!   entries;
//! - fields drop in declaration order: the database closes before the
//!   directory lock is released.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::commit::Commit;
use crate::error::{DamageCause, Error, RecordKind, Result};
use crate::keys::index_row;
use crate::lock::DirLock;
use crate::options::Options;
use crate::records::last_stored_seq;
use crate::stream::{Quarantine, StreamMeta, StreamState};
use crate::timestamp::Timestamp;
use crate::trees::Trees;

/// A stream's state behind its own mutex; take it with [`Store::lock_stream`].
pub(crate) type StreamHandle = Arc<Mutex<StreamState>>;

/// Every loaded stream by id; loaded at open, extended by a first append or an import, shrunk by
/// retention.
pub(crate) type Registry = BTreeMap<String, StreamHandle>;

/// One open journal: trees, registry, durability barrier, options and lock; fields drop in order.
pub(crate) struct Store {
    // Field order is drop order (see the module docs).
    trees: Trees,
    registry: RwLock<Registry>,
    commit: Commit,
    options: Options,
    dir: PathBuf,
    _lock: Arc<DirLock>,
}

impl Store {
    /// Assembles an opened database (see `open`).
    pub(crate) fn new(
        trees: Trees,
        registry: Registry,
        commit: Commit,
        options: Options,
        dir: PathBuf,
        lock: Arc<DirLock>,
    ) -> Self {
        Store {
            trees,
            registry: RwLock::new(registry),
            commit,
            options,
            dir,
            _lock: lock,
        }
    }

    /// The sled trees of the open database (`entries`, `snapshots`, `streams`, `index`).
    pub(crate) fn trees(&self) -> &Trees {
        &self.trees
    }

    /// The options the journal was opened with.
    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    /// The journal directory (the parent of `db/`), as given at open.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of group flushes run so far.
    pub(crate) fn flush_count(&self) -> u64 {
        self.commit.flushes()
    }

    /// Number of durable waits requested so far.
    pub(crate) fn durable_waits(&self) -> u64 {
        self.commit.waits()
    }

    /// Waits until everything written so far is durable.
    pub(crate) fn make_durable(&self) -> Result<()> {
        self.commit.make_durable(&self.trees.db)
    }

    pub(crate) fn registry_read(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn registry_write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The handles of every stream, in id order.
    pub(crate) fn handles(&self) -> Vec<StreamHandle> {
        self.registry_read().values().cloned().collect()
    }

    /// The handle of an existing stream.
    pub(crate) fn stream(&self, id: &str) -> Result<StreamHandle> {
        self.registry_read()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownStream {
                stream: id.to_string(),
            })
    }

    /// The handle of `id`, creating the stream under `index_key` if new.
    pub(crate) fn stream_for_append(&self, id: &str, index_key: &str) -> Result<StreamHandle> {
        if let Some(handle) = self.registry_read().get(id) {
            return Ok(handle.clone());
        }
        let mut registry = self.registry_write();
        if let Some(handle) = registry.get(id) {
            return Ok(handle.clone());
        }
        let handle = self.create_stream(id, index_key, None)?;
        registry.insert(id.to_string(), handle.clone());
        Ok(handle)
    }

    /// Creates and persists a new stream (caller holds the registry write
    /// lock and inserts the handle).
    pub(crate) fn create_stream(
        &self,
        id: &str,
        index_key: &str,
        deleted_at: Option<Timestamp>,
    ) -> Result<StreamHandle> {
        let no = self
            .trees
            .db
            .generate_id()
            .map_err(|e| Error::storage("allocate stream number", e))?;
        let meta = StreamMeta {
            no,
            index_key: index_key.to_string(),
            deleted_at,
            quarantine: None,
        };
        let state = StreamState {
            id: id.to_string(),
            meta,
            last_seq: 0,
            removed: false,
        };
        // Metadata and index row first: an entry is never stored without them.
        self.write_meta(&state)?;
        self.trees
            .index
            .insert(index_row(index_key, id), &[])
            .map_err(|e| Error::storage(format!("index stream {id}"), e))?;
        Ok(Arc::new(Mutex::new(state)))
    }

    /// Locks a stream's state for mutation. If a panic poisoned the lock (for
    /// instance inside sled between a write and the bookkeeping after it),
    /// `last_seq` is re-derived from disk so a seq is never handed out twice.
    pub(crate) fn lock_stream<'a>(&self, handle: &'a StreamHandle) -> MutexGuard<'a, StreamState> {
        match handle.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                handle.clear_poison();
                let mut st = poisoned.into_inner();
                let no = st.meta.no;
                if let (Ok(e), Ok(s)) = (
                    last_stored_seq(&self.trees.entries, no),
                    last_stored_seq(&self.trees.snapshots, no),
                ) {
                    st.last_seq = st.last_seq.max(e).max(s);
                }
                st
            }
        }
    }

    /// Writes the stream's metadata as JSON to the `streams` tree; durability is the caller's
    /// flush.
    pub(crate) fn write_meta(&self, st: &StreamState) -> Result<()> {
        let bytes = serde_json::to_vec(&st.meta).map_err(|source| Error::Serialize {
            what: "stream metadata",
            source,
        })?;
        self.trees
            .streams
            .insert(st.id.as_bytes(), bytes)
            .map_err(|e| Error::storage(format!("write metadata of stream {}", st.id), e))?;
        Ok(())
    }

    /// Quarantines the stream (persisting the mark) and returns the error to
    /// report.
    pub(crate) fn quarantine(
        &self,
        st: &mut StreamState,
        seq: u64,
        record: RecordKind,
        cause: DamageCause,
    ) -> Error {
        if st.meta.quarantine.is_none() {
            st.meta.quarantine = Some(Quarantine {
                seq,
                record,
                reason: cause.to_string(),
            });
            // Best effort: if this write fails the mark is lost, but the damage
            // stays and the next read that meets it quarantines again.
            let _ = self.write_meta(st);
        }
        Error::Damaged {
            stream: st.id.clone(),
            seq,
            record,
            cause,
        }
    }
}

/// Locks a stream's state for reading fields that are only ever replaced
/// whole (metadata, ids). Writers use [`Store::lock_stream`].
pub(crate) fn lock_state(handle: &Mutex<StreamState>) -> MutexGuard<'_, StreamState> {
    handle.lock().unwrap_or_else(PoisonError::into_inner)
}
