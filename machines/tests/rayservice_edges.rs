//! Walks every row of the RayService transition table through the real
//! machine: from each listed phase the row's event must lead to the listed
//! phase with exactly the listed command kinds. Also keeps
//! RAYSERVICE_TRANSITIONS.md fresh, and plays the scenarios the machine is
//! about: upgrade, rollback, loss of the active head, suspend and resume,
//! deletion.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod service_support;

mod table_support;

use rayop_machines::rayservice::{ServiceCommand, ServicePhase, table::SERVICE_TABLE};
use service_support::*;
use table_support::{every_row_holds, published_table_is_current};

#[test]
fn every_row_of_the_table_holds() {
    every_row_holds(
        SERVICE_TABLE,
        |id, from| {
            let (mut d, event) = case(id, from);
            d.machine.step(&event)
        },
        ServiceCommand::kind,
    );
}

#[test]
fn every_phase_is_left_and_entered() {
    table_support::every_phase_is_left_and_entered(
        SERVICE_TABLE,
        &ServicePhase::ALL,
        ServicePhase::New,
    );
}

#[test]
fn row_ids_are_unique() {
    table_support::row_ids_are_unique(SERVICE_TABLE);
}

#[test]
fn the_published_table_is_current() {
    published_table_is_current(
        "RAYSERVICE_TRANSITIONS.md",
        &rayop_machines::rayservice::table::markdown(),
        "rayservice_edges",
    );
}
