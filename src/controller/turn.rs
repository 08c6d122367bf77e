//! decide → journal → apply for one object, written once for every kind.
//!
//! A kind brings its [`Machine`] and an [`Interpret`]er of its commands;
//! this module feeds events, journals each decision before any of its
//! commands runs, carries the commands out, journals their results, and
//! feeds a failed command back as the machine's `command_failed` input.
//!
//! Invariants:
//! - A decision that changes nothing (no transition, no command, no state)
//!   is not journaled; replaying without it gives the same machine.
//! - A failure is fed back once; a failure while reporting a failure is
//!   logged and left to the next reconcile. A failure that ends the turn
//!   (the object's namespace is being deleted) is neither fed back nor
//!   followed by the remaining commands.
//! - A machine restored from the journal has its `resume` commands carried
//!   out before any event, so the interpreter's memory is rebuilt.
//! - The journal never silently skips a decision: when an append fails or
//!   the stream could not be read at restore, the next journaled decision is
//!   preceded by a `Resync` record holding the machine it starts from, so
//!   replay and restore continue from what the operator really had.

use std::time::Instant;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder};
use rayop_machines::{Event, Machine, Millis};
use tracing::{debug, info, warn};

pub use crate::interpret::Interpret;
use crate::{
    decide,
    interpret::Writes,
    journaling::JournalHandle,
    metrics::Metrics,
    record::{self, CommandResult, Record},
};

/// The object a turn is for, as every step needs it.
pub struct Target {
    /// Its namespace.
    pub namespace: String,
    /// Its UID, which names its journal stream.
    pub uid: String,
    /// `namespace/name`, the stream's index key.
    pub key: String,
    /// Its reference, for Events.
    pub reference: ObjectReference,
}

impl Target {
    /// The target of the live object `obj`, whose stream is of `kind`;
    /// `None` for an object without a namespace or UID.
    #[must_use]
    pub fn of<K: kube::Resource<DynamicType = ()>>(
        obj: &K,
        kind: crate::journaling::StreamKind,
    ) -> Option<Target> {
        let meta = obj.meta();
        let (namespace, uid) = (meta.namespace.clone()?, meta.uid.clone()?);
        Some(Target {
            key: kind.key(&namespace, meta.name.as_deref().unwrap_or_default()),
            reference: obj.object_ref(&()),
            namespace,
            uid,
        })
    }

    /// The target of a deleted object's last turn: its stream `key` and
    /// `uid`, the namespace read from the key; no reference, since Events
    /// about a deleted object have nothing to hang on.
    #[must_use]
    pub fn deleted(uid: &str, key: &str) -> Target {
        let (_, namespaced) = crate::journaling::StreamKind::of_key(key);
        Target {
            namespace: namespaced.split('/').next().unwrap_or_default().to_owned(),
            uid: uid.to_owned(),
            key: key.to_owned(),
            reference: ObjectReference::default(),
        }
    }
}

/// One object's machine and what its interpreter carries for it.
#[derive(Clone, Debug, Default)]
pub struct Memory<M, C> {
    /// The machine.
    pub machine: M,
    /// The interpreter's memory of the machine's commands.
    pub carried: C,
    /// When this process last wrote the object's status, for pacing.
    pub last_status_write: Option<Instant>,
    /// The journal lost track of the machine (an append failed, or the
    /// stream could not be read when the machine was restored): the next
    /// journaled decision is preceded by a [`Record::Resync`].
    pub journal_gap: bool,
}

/// Every object's [`Memory`] in one scope, by UID.
///
/// Invariant: an object's memory is only touched by that object's reconcile
/// or deletion, so the lock is held only to take it out and put it back,
/// never across an await.
pub struct Memories<M, C>(std::sync::Mutex<std::collections::HashMap<String, Memory<M, C>>>);

impl<M, C> Default for Memories<M, C> {
    fn default() -> Self {
        Memories(std::sync::Mutex::default())
    }
}

impl<M, C> Memories<M, C> {
    /// Takes the memory of `uid` out, if this process has it.
    #[must_use]
    pub fn take(&self, uid: &str) -> Option<Memory<M, C>> {
        self.0.lock().ok().and_then(|mut m| m.remove(uid))
    }

    /// Puts the memory of `uid` back.
    pub fn keep(&self, uid: &str, memory: Memory<M, C>) {
        if let Ok(mut all) = self.0.lock() {
            all.insert(uid.to_owned(), memory);
        }
    }
}

/// What one reconcile's (or deletion's) decisions need.
pub struct Turn<'a, I> {
    /// The journal.
    pub journal: &'a JournalHandle,
    /// The metrics.
    pub metrics: &'a Metrics,
    /// Records the operator's own Warnings (an unreadable journal).
    pub recorder: &'a Recorder,
    /// The object.
    pub target: &'a Target,
    /// The interpreter of its commands.
    pub interpreter: I,
}

impl<I> Turn<'_, I> {
    /// Restores the machine of the target from the journal (a fresh one when
    /// the stream is unknown or unreadable) and carries out its `resume`
    /// commands. Returns the memory and the writes made.
    pub async fn restore<M: Machine>(&self) -> (Memory<M, I::Carried>, Writes)
    where
        I: Interpret<M>,
    {
        let (machine, journal_gap) = match self.journal.restore::<M>(&self.target.uid).await {
            Ok(machine) => {
                debug!(phase = %machine.phase(), "machine restored from the journal");
                (machine, false)
            }
            Err(error) => {
                warn!(%error, "journal unreadable for this object; starting from the live state");
                self.warn("JournalUnavailable", error.to_string()).await;
                (M::default(), true)
            }
        };
        let mut memory = Memory {
            machine,
            carried: I::Carried::default(),
            last_status_write: None,
            journal_gap,
        };
        let mut writes = Writes::default();
        for command in memory.machine.resume() {
            if let Err(error) = self
                .interpreter
                .carry_out(&command, &mut memory.carried, &mut writes)
                .await
            {
                warn!(command = %M::kind_of(&command), %error, "resuming a restored machine failed");
            }
        }
        (memory, writes)
    }

    /// The object was deleted: its machine (`memory`, else restored from
    /// the journal) takes the `Deleted` step, and a stream that was not
    /// marked deleted yet (the object went while the operator was down)
    /// is marked now. Returns the writes made.
    pub async fn record_deletion<M: Machine>(
        &self,
        memory: Option<Memory<M, I::Carried>>,
        at: Millis,
    ) -> Writes
    where
        I: Interpret<M>,
    {
        let mut memory = match memory {
            Some(memory) => memory,
            None => match self.journal.restore::<M>(&self.target.uid).await {
                Ok(machine) => Memory {
                    machine,
                    carried: I::Carried::default(),
                    last_status_write: None,
                    journal_gap: false,
                },
                Err(_) => Memory {
                    machine: M::default(),
                    carried: I::Carried::default(),
                    last_status_write: None,
                    journal_gap: true,
                },
            },
        };
        let deleted = Event {
            at,
            input: M::deleted(),
        };
        let mut writes = Writes::default();
        self.act(&mut memory, &deleted, &mut writes).await;
        if !I::forgotten(&memory.carried) {
            for command in memory.machine.resume() {
                if let Err(error) = self
                    .interpreter
                    .carry_out(&command, &mut memory.carried, &mut writes)
                    .await
                {
                    warn!(%error, key = %self.target.key, "could not mark a journal stream deleted");
                }
            }
        }
        writes
    }

    /// decide → journal → apply for one event. A failed command goes back into
    /// the machine once. Returns whether a command failed.
    pub async fn act<M: Machine>(
        &self,
        memory: &mut Memory<M, I::Carried>,
        event: &Event<M::Input>,
        writes: &mut Writes,
    ) -> bool
    where
        I: Interpret<M>,
    {
        let failures = self.step(memory, event, writes).await;
        let failed = !failures.is_empty();
        for failure in failures {
            for again in self.step(memory, &failure, writes).await {
                warn!(
                    ?again,
                    "reporting a failed command failed too; it is retried later"
                );
            }
        }
        failed
    }

    /// One event through the machine: its decision journaled, its commands
    /// carried out, their results journaled. Returns the failures, as events.
    async fn step<M: Machine>(
        &self,
        memory: &mut Memory<M, I::Carried>,
        event: &Event<M::Input>,
        writes: &mut Writes,
    ) -> Vec<Event<M::Input>>
    where
        I: Interpret<M>,
    {
        let before = memory.journal_gap.then(|| memory.machine.clone());
        let decision = decide::decide(&mut memory.machine, event);
        let step = &decision.step;
        if step.transitioned() {
            info!(from = %step.from, to = %step.to, "phase changed");
            self.metrics
                .transition(&step.from.to_string(), &step.to.to_string());
        }
        if decision.worth_journaling {
            let mut records: Vec<Record<M>> = before.map(Record::Resync).into_iter().collect();
            records.extend(record::decision_records::<M>(
                event,
                step.from,
                step.to,
                &step.commands,
            ));
            memory.journal_gap = !self.journal(event.at, records, &memory.machine).await;
        }
        let mut results = Vec::with_capacity(step.commands.len());
        let mut failures = Vec::new();
        for command in &step.commands {
            let kind = M::kind_of(command);
            let outcome = self
                .interpreter
                .carry_out(command, &mut memory.carried, writes)
                .await;
            results.push(CommandResult {
                command: kind,
                error: outcome.as_ref().err().map(ToString::to_string),
            });
            if let Err(error) = outcome {
                if I::ends_turn(&error) {
                    debug!(command = %kind, %error, "the namespace is being deleted; nothing more is attempted");
                    break;
                }
                warn!(command = %kind, %error, "command failed");
                failures.push(Event {
                    at: event.at,
                    input: M::command_failed(
                        kind,
                        I::reason(&error, kind).to_owned(),
                        self.interpreter.describe(&error),
                    ),
                });
            }
        }
        // Results of a decision the journal missed would follow nothing.
        if !memory.journal_gap && results.iter().any(|r| M::writes_at_once(r.command)) {
            let records = vec![Record::<M>::Results(results)];
            memory.journal_gap = !self.journal(event.at, records, &memory.machine).await;
        }
        failures
    }

    /// Appends `records`; returns whether they were appended.
    async fn journal<M: Machine>(&self, at: Millis, records: Vec<Record<M>>, machine: &M) -> bool {
        let bytes = serde_json::to_vec(&records).map_or(0, |b| b.len() as u64);
        let started = Instant::now();
        let target = self.target;
        let appended = self
            .journal
            .append(&target.uid, &target.key, at, records, machine)
            .await;
        if appended.is_ok() && self.journal.journal().is_some() {
            self.metrics.journal_append(started.elapsed(), bytes);
        }
        if let Err(error) = appended {
            warn!(%error, "journal append failed; reconciling continues without it");
            self.warn(
                "JournalUnavailable",
                format!("journal append failed: {error}"),
            )
            .await;
            return false;
        }
        true
    }

    /// A Warning Event the machine did not decide: the operator's own
    /// trouble with the journal.
    async fn warn(&self, reason: &str, note: String) {
        warn_event(self.recorder, &self.target.reference, reason, note).await;
    }
}

/// Records a Warning Event on `reference`; one that cannot be recorded is
/// logged. Returns whether it was recorded.
pub async fn warn_event(
    recorder: &Recorder,
    reference: &ObjectReference,
    reason: &str,
    note: String,
) -> bool {
    let event = KubeEvent {
        type_: EventType::Warning,
        reason: reason.to_owned(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    match recorder.publish(&event, reference).await {
        Ok(()) => true,
        Err(error) => {
            warn!(%error, reason, "could not record Event");
            false
        }
    }
}
