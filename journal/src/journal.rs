//! The [`Journal`] handle: opening, stream registry, appends, deletion marks
//! and lookups. Reads, snapshots, retention, verification and export live in
//! their own modules as further `impl Journal` blocks.
//!
//! On-disk layout of a journal directory `<dir>`:
//!
//! ```text
//! <dir>/owner              lock + who holds it (see `lock`)
//! <dir>/db/                the sled database
//!   tree "entries"         stream no ‖ last seq -> the entries of one append
//!   tree "snapshots"       stream no ‖ at_seq   -> snapshot envelope
//!   tree "streams"         stream id            -> stream metadata (JSON)
//!   tree "index"           len ‖ index key ‖ id -> (empty)
//!   default tree           "rayop-journal-format" -> u32 BE,
//!                          "rayop-journal-epoch"  -> u64 BE (see `watermark`)
//! <dir>/db/watermark       last acknowledged commit epoch (see `watermark`)
//! <dir>/db.damaged-<ms>/   a damaged database moved aside (see `damage`)
//! <dir>/compacting/, <dir>/db.pre-compact/
//!                          only during `Journal::compact` (see `compaction`)
//! ```
//!
//! Invariants:
//! - `append` returns `Ok` only after a group flush (see `group_commit`,
//!   `durability`) that started after its entries were inserted;
//! - the entries of one append are stored as one sled value (atomic), and
//!   sequence numbers are assigned under the stream's mutex, so each stream
//!   stays contiguous even with concurrent appenders;
//! - `Journal` is `Send + Sync` and cheap to clone (one `Arc`).
//!
//! All methods block (on I/O and on the group flush). From async code call
//! them inside `tokio::task::spawn_blocking` (or an equivalent), with a clone
//! of the journal moved into the closure.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::compaction;
use crate::damage::{self, DamagePolicy, LostWrites, MovedAside, OpenFailure, OpenReport};
use crate::durability::{Durability, FileSync};
use crate::error::{Error, Result};
use crate::group_commit::GroupCommit;
use crate::keys::{index_prefix, index_row, split_index_row, split_seq_key, stream_prefix};
use crate::lock::{self, DirLock};
use crate::schema::{self, Versioned};
use crate::stream::{StreamMeta, StreamState};
use crate::watermark::{Recorded, Watermark};
use crate::{Options, Timestamp, batch, keys};

/// Name of the sled database directory inside a journal directory.
pub const DB_DIR: &str = "db";
/// The journal's on-disk format version written by this build.
pub const JOURNAL_FORMAT: u32 = 1;
const FORMAT_KEY: &[u8] = b"rayop-journal-format";
const EPOCH_KEY: &[u8] = b"rayop-journal-epoch";

/// A handle on an open journal. Cheap to clone; all clones share one
/// database, one lock and one group-commit coordinator.
#[derive(Clone)]
pub struct Journal {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// sled trees of one database.
pub(crate) struct Trees {
    pub db: sled::Db,
    pub entries: sled::Tree,
    pub snapshots: sled::Tree,
    pub streams: sled::Tree,
    pub index: sled::Tree,
}

pub(crate) type StreamHandle = Arc<Mutex<StreamState>>;

pub(crate) struct Inner {
    // Field order is drop order: the database closes before the lock is
    // released.
    pub trees: Trees,
    pub registry: RwLock<BTreeMap<String, StreamHandle>>,
    pub commit: GroupCommit,
    /// The last commit epoch stored in sled (changed only by the group
    /// flush leader; see `watermark`).
    pub epoch: AtomicU64,
    pub watermark: Watermark,
    pub file_sync: Option<FileSync>,
    pub options: Options,
    pub dir: PathBuf,
    _lock: Arc<DirLock>,
}

struct Loaded {
    trees: Trees,
    registry: BTreeMap<String, StreamHandle>,
    damaged_metadata: Vec<String>,
    epoch: u64,
    watermark: Watermark,
    lost_writes: Option<LostWrites>,
    warnings: Vec<String>,
}

impl Journal {
    /// Opens (creating if needed) the journal in directory `dir`.
    ///
    /// Fails with [`Error::Locked`] if another process (or another handle in
    /// this process) holds it. A damaged database is moved aside and a fresh
    /// one started; the returned [`OpenReport`] says so.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<(Journal, OpenReport)> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let lock = Arc::new(lock::acquire(&dir)?);
        Self::open_locked(dir, options, lock)
    }

    /// Opens the journal in `dir`, whose lock the caller holds.
    pub(crate) fn open_locked(
        dir: PathBuf,
        options: Options,
        lock: Arc<DirLock>,
    ) -> Result<(Journal, OpenReport)> {
        let mut report = OpenReport::default();
        if let Some(note) = compaction::recover(&dir)? {
            report.warnings.push(note);
        }
        let db_dir = dir.join(DB_DIR);
        let loaded = match load(&db_dir, &options) {
            Ok(loaded) => loaded,
            Err(OpenFailure::Fatal(e)) => return Err(e),
            Err(OpenFailure::Damaged(reason)) if options.damage_policy == DamagePolicy::Report => {
                return Err(Error::DatabaseDamaged {
                    dir: db_dir,
                    reason,
                });
            }
            Err(OpenFailure::Damaged(reason)) => {
                let to = damage::move_aside(&db_dir)?;
                report.moved_aside = Some(MovedAside {
                    from: db_dir.clone(),
                    to,
                    reason,
                });
                match load(&db_dir, &options) {
                    Ok(loaded) => loaded,
                    Err(OpenFailure::Fatal(e)) => return Err(e),
                    Err(OpenFailure::Damaged(reason)) => {
                        return Err(Error::DatabaseDamaged {
                            dir: db_dir,
                            reason,
                        });
                    }
                }
            }
        };
        let file_sync = match options.durability {
            Durability::Fsync => Some(
                FileSync::open(&db_dir)
                    .map_err(|e| Error::io(format!("fsync {}", db_dir.display()), e))?,
            ),
            Durability::SledFlush => None,
        };
        report.streams = loaded.registry.len();
        report.damaged_metadata = loaded.damaged_metadata;
        report.lost_writes = loaded.lost_writes;
        report.warnings.extend(loaded.warnings);
        report.quarantined = loaded
            .registry
            .iter()
            .filter(|(_, s)| lock_state(s).meta.quarantine.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        let inner = Inner {
            trees: loaded.trees,
            registry: RwLock::new(loaded.registry),
            commit: GroupCommit::default(),
            epoch: AtomicU64::new(loaded.epoch),
            watermark: loaded.watermark,
            file_sync,
            options,
            dir,
            _lock: lock,
        };
        Ok((
            Journal {
                inner: Arc::new(inner),
            },
            report,
        ))
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The options the journal was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Appends `entries` (event time, payload) to `stream`, creating the
    /// stream under `index_key` if it is new, and returns their sequence
    /// numbers once they are durable.
    ///
    /// An empty `entries` returns an empty range without writing. Fails with
    /// [`Error::IndexKeyMismatch`] if the stream exists under another index
    /// key. On [`Error::Durability`] the entries may or may not be stored.
    /// Appending to a quarantined or deleted stream is allowed: new history
    /// is still recorded (a deleted stream's late events until retention
    /// removes it).
    pub fn append<T: Versioned>(
        &self,
        stream: &str,
        index_key: &str,
        entries: &[(Timestamp, T)],
    ) -> Result<Range<u64>> {
        let mut payloads = Vec::with_capacity(entries.len());
        for (ts, payload) in entries {
            let json = schema::to_json(payload).map_err(|source| Error::Serialize {
                what: "entry payload",
                source,
            })?;
            payloads.push((*ts, json));
        }
        let items: Vec<batch::Item<'_>> = payloads
            .iter()
            .map(|(ts, json)| (T::VERSION, *ts, json.as_slice()))
            .collect();
        self.append_items(stream, index_key, &items)
    }

    /// Appends one entry; see [`Journal::append`]. Returns its seq.
    pub fn append_one<T: Versioned>(
        &self,
        stream: &str,
        index_key: &str,
        ts: Timestamp,
        payload: &T,
    ) -> Result<u64> {
        let json = schema::to_json(payload).map_err(|source| Error::Serialize {
            what: "entry payload",
            source,
        })?;
        let range = self.append_items(stream, index_key, &[(T::VERSION, ts, &json)])?;
        Ok(range.start)
    }

    fn append_items(
        &self,
        stream: &str,
        index_key: &str,
        items: &[batch::Item<'_>],
    ) -> Result<Range<u64>> {
        let n = items.len() as u64;
        let range = loop {
            let handle = self.stream_for_append(stream, index_key)?;
            let mut st = self.lock_stream(&handle);
            if st.removed {
                continue;
            }
            if st.meta.index_key != index_key {
                return Err(Error::IndexKeyMismatch {
                    stream: stream.to_string(),
                    existing: st.meta.index_key.clone(),
                    given: index_key.to_string(),
                });
            }
            let first = st.last_seq + 1;
            if n == 0 {
                return Ok(first..first);
            }
            let last = first + n - 1;
            // One value per append: atomic with a plain insert (see `batch`).
            self.inner
                .trees
                .entries
                .insert(keys::seq_key(st.meta.no, last), batch::encode(items))
                .map_err(|e| Error::storage(format!("append to stream {stream}"), e))?;
            st.last_seq = last;
            break first..last + 1;
        };
        self.make_durable()?;
        Ok(range)
    }

    /// Marks `stream` as deleted at `at`; retention removes it entirely once
    /// `deleted_retention` has passed after `at`. Appends remain possible
    /// until then (late events are still recorded).
    pub fn mark_deleted(&self, stream: &str, at: Timestamp) -> Result<()> {
        let handle = self.stream(stream)?;
        {
            let mut st = self.lock_stream(&handle);
            st.meta.deleted_at = Some(at);
            self.write_meta(&st)?;
        }
        self.make_durable()
    }

    /// Ids of every retained stream ever filed under `index_key`, oldest
    /// first (deleted and recreated objects keep their old streams until
    /// retention removes them).
    pub fn lookup(&self, index_key: &str) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for row in self.inner.trees.index.scan_prefix(index_prefix(index_key)) {
            let (key, _) = row.map_err(|e| Error::storage("read index", e))?;
            if let Some((k, id)) = split_index_row(&key)
                && k == index_key
            {
                ids.push(id);
            }
        }
        let handles: Vec<Option<StreamHandle>> = {
            let registry = self.registry_read();
            ids.iter().map(|id| registry.get(id).cloned()).collect()
        };
        let mut numbered: Vec<(u64, String)> = handles
            .into_iter()
            .zip(ids)
            .map(|(handle, id)| (handle.map_or(u64::MAX, |h| lock_state(&h).meta.no), id))
            .collect();
        numbered.sort();
        Ok(numbered.into_iter().map(|(_, id)| id).collect())
    }

    /// Number of group flushes run so far (each covers one or more appends).
    pub fn flush_count(&self) -> u64 {
        self.inner.commit.flushes()
    }

    /// Number of durable waits requested so far (appends, snapshots, marks).
    pub fn durable_waits(&self) -> u64 {
        self.inner.commit.waits()
    }

    /// Waits until everything written so far is durable.
    pub fn flush(&self) -> Result<()> {
        self.make_durable()
    }

    // ---- crate-internal helpers ----

    pub(crate) fn make_durable(&self) -> Result<()> {
        let inner = &self.inner;
        inner.commit.wait_durable(|| {
            // Only the leader runs this closure, one at a time.
            let next = inner.epoch.load(Ordering::Acquire) + 1;
            inner
                .trees
                .db
                .insert(EPOCH_KEY, &next.to_be_bytes())
                .map_err(|e| format!("store commit epoch: {e}"))?;
            inner
                .trees
                .db
                .flush()
                .map_err(|e| format!("sled flush: {e}"))?;
            if let Some(sync) = &inner.file_sync {
                sync.sync().map_err(|e| format!("fsync: {e}"))?;
            }
            inner.epoch.store(next, Ordering::Release);
            inner
                .watermark
                .record(next)
                .map_err(|e| format!("write watermark: {e}"))
        })
    }

    pub(crate) fn registry_read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, StreamHandle>> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn registry_write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, StreamHandle>> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
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

    fn stream_for_append(&self, id: &str, index_key: &str) -> Result<StreamHandle> {
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
        let trees = &self.inner.trees;
        let no = trees
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
        trees
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
                let trees = &self.inner.trees;
                let no = st.meta.no;
                if let (Ok(e), Ok(s)) = (
                    last_stored_seq(&trees.entries, no),
                    last_stored_seq(&trees.snapshots, no),
                ) {
                    st.last_seq = st.last_seq.max(e).max(s);
                }
                st
            }
        }
    }

    pub(crate) fn write_meta(&self, st: &StreamState) -> Result<()> {
        let bytes = serde_json::to_vec(&st.meta).map_err(|source| Error::Serialize {
            what: "stream metadata",
            source,
        })?;
        self.inner
            .trees
            .streams
            .insert(st.id.as_bytes(), bytes)
            .map_err(|e| Error::storage(format!("write metadata of stream {}", st.id), e))?;
        Ok(())
    }
}

/// Locks a stream's state for reading fields that are only ever replaced
/// whole (metadata, ids). Writers use [`Journal::lock_stream`].
pub(crate) fn lock_state(handle: &Mutex<StreamState>) -> MutexGuard<'_, StreamState> {
    handle.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Highest seq stored for stream number `no` in `tree` (for entries, the
/// last key is the last entry's seq), or 0.
pub(crate) fn last_stored_seq(tree: &sled::Tree, no: u64) -> sled::Result<u64> {
    Ok(match tree.scan_prefix(stream_prefix(no)).next_back() {
        Some(row) => split_seq_key(&row?.0).map_or(0, |(_, seq)| seq),
        None => 0,
    })
}

/// Opens sled and the journal's trees in `db_dir` and loads the registry,
/// turning panics inside sled into damage.
fn load(db_dir: &Path, options: &Options) -> std::result::Result<Loaded, OpenFailure> {
    match catch_unwind(AssertUnwindSafe(|| load_inner(db_dir, options))) {
        Ok(result) => result,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(OpenFailure::Damaged(format!(
                "sled panicked while opening the database: {msg}"
            )))
        }
    }
}

fn load_inner(db_dir: &Path, options: &Options) -> std::result::Result<Loaded, OpenFailure> {
    let db = open_sled(db_dir, options)
        .map_err(|e| damage::classify(&format!("open {}", db_dir.display()), e))?;
    let open_tree = |name: &str| {
        db.open_tree(name)
            .map_err(|e| damage::classify(&format!("open tree {name}"), e))
    };
    let trees = Trees {
        entries: open_tree("entries")?,
        snapshots: open_tree("snapshots")?,
        streams: open_tree("streams")?,
        index: open_tree("index")?,
        db: db.clone(),
    };
    check_format(&trees, db_dir)?;

    let mut registry = BTreeMap::new();
    let mut damaged_metadata = Vec::new();
    for row in trees.streams.iter() {
        let (key, value) = row.map_err(|e| damage::classify("read stream metadata", e))?;
        let Ok(id) = String::from_utf8(key.to_vec()) else {
            damaged_metadata.push(format!("stream key {:?} is not UTF-8", key.as_ref()));
            continue;
        };
        let meta: StreamMeta = match serde_json::from_slice(&value) {
            Ok(meta) => meta,
            Err(e) => {
                damaged_metadata.push(format!("stream {id}: metadata does not decode: {e}"));
                continue;
            }
        };
        let last_entry = last_stored_seq(&trees.entries, meta.no)
            .map_err(|e| damage::classify(&format!("read stream {id}"), e))?;
        let last_snapshot = last_stored_seq(&trees.snapshots, meta.no)
            .map_err(|e| damage::classify(&format!("read snapshots of {id}"), e))?;
        let state = StreamState {
            id: id.clone(),
            meta,
            last_seq: last_entry.max(last_snapshot),
            removed: false,
        };
        registry.insert(id, Arc::new(Mutex::new(state)));
    }
    let epoch = match trees
        .db
        .get(EPOCH_KEY)
        .map_err(|e| damage::classify("read epoch", e))?
    {
        Some(bytes) => u64::from_be_bytes(bytes.as_ref().try_into().map_err(|_| {
            OpenFailure::Damaged(format!("commit epoch is {} bytes, not 8", bytes.len()))
        })?),
        None => 0,
    };
    let (watermark, recorded) = Watermark::open(db_dir).map_err(|e| {
        OpenFailure::Fatal(Error::io(
            format!("open watermark in {}", db_dir.display()),
            e,
        ))
    })?;
    let mut lost_writes = None;
    let mut warnings = Vec::new();
    match recorded {
        Recorded::Epoch(acknowledged) if acknowledged > epoch => {
            let lost = LostWrites {
                acknowledged_epoch: acknowledged,
                recovered_epoch: epoch,
            };
            if options.damage_policy == DamagePolicy::MoveAside {
                return Err(OpenFailure::Damaged(format!(
                    "the database recovered to commit {epoch} but commit {acknowledged} was \
                     acknowledged: acknowledged entries were lost (damaged or truncated files)"
                )));
            }
            lost_writes = Some(lost);
        }
        Recorded::Unreadable => warnings.push(format!(
            "{} is unreadable; lost writes cannot be detected for this open",
            db_dir.join(crate::watermark::WATERMARK_FILE).display()
        )),
        Recorded::Epoch(_) | Recorded::Absent => {}
    }
    Ok(Loaded {
        trees,
        registry,
        damaged_metadata,
        epoch,
        watermark,
        lost_writes,
        warnings,
    })
}

/// How long `open` keeps retrying while sled's own lock on `db/db` is still
/// held. We already hold the directory's owner lock, so a held sled lock can
/// only be a handle of this process that is still closing (sled finishes
/// closing on background threads after the last handle is dropped) or a
/// foreign program.
const SLED_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

fn open_sled(db_dir: &Path, options: &Options) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + SLED_LOCK_PATIENCE;
    loop {
        let result = sled::Config::new()
            .path(db_dir)
            .cache_capacity(options.cache_capacity)
            .open();
        match result {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn check_format(trees: &Trees, db_dir: &Path) -> std::result::Result<(), OpenFailure> {
    let stored = trees
        .db
        .get(FORMAT_KEY)
        .map_err(|e| damage::classify("read format", e))?;
    match stored {
        Some(bytes) => {
            let arr: [u8; 4] = bytes.as_ref().try_into().map_err(|_| {
                OpenFailure::Damaged(format!("format marker is {} bytes, not 4", bytes.len()))
            })?;
            let found = u32::from_be_bytes(arr);
            if found > JOURNAL_FORMAT {
                return Err(OpenFailure::Fatal(Error::UnsupportedFormat {
                    dir: db_dir.parent().unwrap_or(db_dir).to_path_buf(),
                    found,
                    supported: JOURNAL_FORMAT,
                }));
            }
            Ok(())
        }
        None => {
            let empty = trees.entries.is_empty()
                && trees.snapshots.is_empty()
                && trees.streams.is_empty()
                && trees.index.is_empty();
            if !empty {
                return Err(OpenFailure::Damaged(
                    "the database holds data but no journal format marker".to_string(),
                ));
            }
            trees
                .db
                .insert(FORMAT_KEY, &JOURNAL_FORMAT.to_be_bytes())
                .map_err(|e| damage::classify("write format", e))?;
            trees
                .db
                .flush()
                .map_err(|e| damage::classify("flush new journal", e))?;
            Ok(())
        }
    }
}
