//! The contract between the kind-generic core and a kind's interpreter:
//! [`Interpret`] carries out one machine's commands, and [`Writes`] counts
//! the API calls that made. It sits below both the interpreters
//! ([`crate::apply`]) and the loop that drives them
//! ([`crate::controller::turn`]), so neither imports the other.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};
use rayop_machines::{Machine, Millis, Notice, Severity};

/// Counts of API calls made, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// Server-side applies and pod patches.
    pub applies: u32,
    /// Deletes.
    pub deletes: u32,
    /// Events recorded.
    pub events: u32,
}

/// Whether the wake-up a machine asked for (`WakeAt`) is due at `now`;
/// clears it if so, so it is delivered once.
pub fn take_due_wake(wake: &mut Option<Millis>, now: Millis) -> bool {
    let due = wake.is_some_and(|w| w <= now);
    if due {
        *wake = None;
    }
    due
}

/// Records `notice` as an Event on `reference` (with `secondary` as its
/// related object). An Event that cannot be recorded must not fail a turn:
/// it is logged. Returns whether it was recorded.
pub async fn announce(
    recorder: &Recorder,
    reference: &ObjectReference,
    notice: &Notice,
    secondary: Option<ObjectReference>,
) -> bool {
    let event = Event {
        type_: match notice.severity {
            Severity::Normal => EventType::Normal,
            Severity::Warning => EventType::Warning,
        },
        reason: notice.reason.clone(),
        note: Some(notice.message.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary,
    };
    match recorder.publish(&event, reference).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, reason = %notice.reason, "could not record Event");
            false
        }
    }
}

/// Carries out the commands of machines of type `M`.
pub trait Interpret<M: Machine> {
    /// What the interpreter remembers of one object between its reconciles.
    type Carried: Default + Send;
    /// Why a command failed.
    type Error: std::error::Error + Send;

    /// Carries out one command.
    fn carry_out(
        &self,
        command: &M::Command,
        carried: &mut Self::Carried,
        writes: &mut Writes,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send;

    /// The sentence a failed command is reported with, in status and
    /// Events: the error's own text unless the interpreter can say which
    /// field of the object the user wrote is at fault.
    fn describe(&self, error: &Self::Error) -> String {
        error.to_string()
    }

    /// The CamelCase reason of `error` from a command of `kind`.
    fn reason(error: &Self::Error, kind: M::CommandKind) -> &'static str;

    /// Whether the machine's `Forget` was carried out for this object.
    fn forgotten(carried: &Self::Carried) -> bool;

    /// Whether `error` means no further command of this object can succeed
    /// and none needs to (its namespace is being deleted): the turn then
    /// stops quietly instead of reporting a failure.
    fn ends_turn(error: &Self::Error) -> bool {
        let _ = error;
        false
    }
}
