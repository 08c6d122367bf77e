//! Loading a database directory: opening sled and the trees, checking the
//! format marker, and reading the stream registry, the stored commit epoch
//! and the watermark.
//!
//! Every failure is sorted into damage (the caller may move the database
//! aside) or a fatal error (touch nothing); see `damage`. A panic inside sled
//! while opening is caught and counts as damage.
//!
//! Invariant: loading never changes stored data, except writing the format
//! marker into a database that is entirely empty.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::damage::{self, DamagePolicy, LostWrites, OpenFailure};
use crate::error::Error;
use crate::options::Options;
use crate::records::last_stored_seq;
use crate::store::Registry;
use crate::stream::{StreamMeta, StreamState};
use crate::trees::{EPOCH_KEY, FORMAT_KEY, JOURNAL_FORMAT, Trees};
use crate::watermark::{Recorded, WATERMARK_FILE, Watermark};

/// What was found in a database directory.
pub(crate) struct Loaded {
    pub trees: Trees,
    pub registry: Registry,
    /// Streams whose metadata could not be read (left out of the registry).
    pub damaged_metadata: Vec<String>,
    /// The last commit epoch stored in sled.
    pub epoch: u64,
    pub watermark: Watermark,
    /// Set when the watermark proves acknowledged writes were lost (and the
    /// policy is to report rather than move aside).
    pub lost_writes: Option<LostWrites>,
    pub warnings: Vec<String>,
}

/// Opens sled and the journal's trees in `db_dir` and loads the registry,
/// turning panics inside sled into damage.
pub(crate) fn load(db_dir: &Path, options: &Options) -> Result<Loaded, OpenFailure> {
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

fn load_inner(db_dir: &Path, options: &Options) -> Result<Loaded, OpenFailure> {
    let db = open_sled(db_dir, options)
        .map_err(|e| damage::classify(&format!("open {}", db_dir.display()), e))?;
    let trees = Trees::open(db).map_err(|(what, e)| damage::classify(&what, e))?;
    check_format(&trees, db_dir)?;

    let mut registry = Registry::new();
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
            db_dir.join(WATERMARK_FILE).display()
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

fn check_format(trees: &Trees, db_dir: &Path) -> Result<(), OpenFailure> {
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
            if !trees.is_empty() {
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
