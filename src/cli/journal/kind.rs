//! Which machine reads a stream: the one dispatch from a stream's kind to
//! what the subcommands do with its records.
//!
//! Role: a stream's kind is told by its index key
//! ([`StreamKind::of_key`]); [`of`] turns it into a [`StreamReader`], whose
//! operations are written once, generic over the kind's machine. `list`,
//! `show`, `replay` and `verify` read every stream through it, so a RayJob
//! stream is listed, shown, replayed and verified exactly as a RayCluster's.
//!
//! Invariant: adding a kind is implementing [`Describe`] for its machine and
//! adding its arm to [`of`]; nothing else in the subcommands names a kind.

use std::marker::PhantomData;

use rayop_machines::{ClusterMachine, raycronjob::CronMachine, rayjob::JobMachine};

use super::{
    JournalCommandError,
    describe::Describe,
    list,
    replay::{self, StreamReplay},
};
use crate::{
    journal_view::load::{self, RawEntry, RawSnapshot, StreamDump},
    journaling::StreamKind,
    record::Record,
};

/// What the subcommands do with a stream's records, for one kind's machine.
pub trait StreamReader: Sync {
    /// The phase of the machine the operator would restore for `dump`
    /// ([`list::restore`]), or why it cannot be restored.
    ///
    /// # Errors
    /// Why the machine cannot be restored, in words.
    fn restored_phase(&self, dump: &StreamDump) -> Result<String, String>;

    /// One entry as `show` prints it ([`super::describe::record`]).
    ///
    /// # Errors
    /// Why the entry does not decode as a record, in words.
    fn describe_entry(&self, entry: &RawEntry) -> Result<String, String>;

    /// The phase of the machine stored in `snapshot`.
    ///
    /// # Errors
    /// Why the snapshot does not decode as a machine, in words.
    fn snapshot_phase(&self, snapshot: &RawSnapshot) -> Result<String, String>;

    /// The stream's records through the kind's current machine ([`replay::replay_as`]).
    ///
    /// # Errors
    /// [`JournalCommandError::CannotReplay`] (damaged, undecodable, pruned without a snapshot).
    fn replay(&self, dump: &StreamDump) -> Result<StreamReplay, JournalCommandError>;
}

/// The [`StreamReader`] of machine `M`.
struct Reader<M>(PhantomData<fn() -> M>);

impl<M: Describe> StreamReader for Reader<M> {
    fn restored_phase(&self, dump: &StreamDump) -> Result<String, String> {
        list::restore::<M>(dump).map(|m| m.phase().to_string())
    }

    fn describe_entry(&self, entry: &RawEntry) -> Result<String, String> {
        load::decode::<Record<M>>(entry.version, &entry.payload)
            .map(|record| super::describe::record(&record))
    }

    fn snapshot_phase(&self, snapshot: &RawSnapshot) -> Result<String, String> {
        load::decode_snapshot::<M>(snapshot).map(|s| s.0.phase().to_string())
    }

    fn replay(&self, dump: &StreamDump) -> Result<StreamReplay, JournalCommandError> {
        replay::replay_as::<M>(dump)
    }
}

/// The reader of the stream filed under `key`, and the stream's kind.
#[must_use]
pub fn of(key: &str) -> (StreamKind, &'static dyn StreamReader) {
    let kind = StreamKind::of_key(key).0;
    let reader: &'static dyn StreamReader = match kind {
        StreamKind::RayCluster => &Reader::<ClusterMachine>(PhantomData),
        StreamKind::RayJob => &Reader::<JobMachine>(PhantomData),
        StreamKind::RayCronJob => &Reader::<CronMachine>(PhantomData),
    };
    (kind, reader)
}
