//! The sled database of a journal: its trees and the markers kept in its
//! default tree.
//!
//! ```text
//! tree "entries"     stream no ‖ last seq -> the entries of one append (see `batch`)
//! tree "snapshots"   stream no ‖ at_seq   -> snapshot envelope (see `envelope`)
//! tree "streams"     stream id            -> stream metadata (JSON, see `stream`)
//! tree "index"       len ‖ index key ‖ id -> (empty)        (keys: see `keys`)
//! default tree       "rayop-journal-format" -> u32 BE ([`JOURNAL_FORMAT`]),
//!                    "rayop-journal-epoch"  -> u64 BE (see `commit`, `watermark`)
//! ```
//!
//! Invariant: [`Trees`] only bundles handles of one open database; it holds
//! no state of its own, so every copy of a handle sees the same data.

/// The journal's on-disk format version written by this build.
pub const JOURNAL_FORMAT: u32 = 1;
/// Default-tree key of the format marker.
pub(crate) const FORMAT_KEY: &[u8] = b"rayop-journal-format";
/// Default-tree key of the last stored commit epoch.
pub(crate) const EPOCH_KEY: &[u8] = b"rayop-journal-epoch";

/// Handles to the sled trees of one database; copies share the same data.
pub(crate) struct Trees {
    pub db: sled::Db,
    pub entries: sled::Tree,
    pub snapshots: sled::Tree,
    pub streams: sled::Tree,
    pub index: sled::Tree,
}

impl Trees {
    /// Opens the journal's trees in `db`. An error says which tree.
    pub(crate) fn open(db: sled::Db) -> Result<Trees, (String, sled::Error)> {
        let open_tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| (format!("open tree {name}"), e))
        };
        Ok(Trees {
            entries: open_tree("entries")?,
            snapshots: open_tree("snapshots")?,
            streams: open_tree("streams")?,
            index: open_tree("index")?,
            db,
        })
    }

    /// True if no tree but the default one holds anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.snapshots.is_empty()
            && self.streams.is_empty()
            && self.index.is_empty()
    }
}
