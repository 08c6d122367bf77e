//! The CEL rules of the RayCronJob CRD.
//!
//! Role: the rules KubeRay v1.7.0's RayCronJob controller checks at reconcile
//! time (it then only emits a Warning event), which rayop refuses at
//! admission. The `jobTemplate` carries the RayJob spec rules of
//! [`rayjob::cel`](crate::crd::rayjob::cel).
//!
//! Invariant: every rule is mirrored in [`validation`](super::validation).

use schemars::Schema;

use crate::crd::cel::{CelRule, attach};

/// The RayCronJob's name is a DNS-1035 label.
pub const CRONJOB_NAME_IS_DNS1035: CelRule = CelRule {
    rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    message: "metadata.name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit",
    field_path: Some(".metadata.name"),
};

/// The name leaves room for the RayJob's `-<minutes since 1970>` suffix.
pub const CRONJOB_NAME_LENGTH: CelRule = CelRule {
    rule: "size(self.metadata.name) <= 36",
    message: "metadata.name must be at most 36 characters: each RayJob is named '<name>-<11 characters>' and must fit in 47",
    field_path: Some(".metadata.name"),
};

/// The time zone has its own field.
pub const SCHEDULE_WITHOUT_TZ: CelRule = CelRule {
    rule: "!self.contains('TZ')",
    message: "schedule must not set TZ or CRON_TZ: use timeZone",
    field_path: None,
};

/// Every rule on `spec.schedule`.
pub const SCHEDULE_RULES: [CelRule; 1] = [SCHEDULE_WITHOUT_TZ];

/// The `#[schemars(transform)]` of `RayCronJobSpec::schedule`.
pub fn schedule_rules(schema: &mut Schema) {
    attach(schema, &SCHEDULE_RULES);
}
