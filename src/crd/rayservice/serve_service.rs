//! The schema of `spec.serveService`, the base of the serve Service.
//!
//! Role: like the RayCluster's `headService`
//! ([`schema::service`](crate::crd::schema::service)), a full `core/v1`
//! Service kept as given (`x-kubernetes-preserve-unknown-fields`), so the
//! CRD stays small and nothing a manifest sets is pruned. Only
//! `metadata.name` is declared, because it names the serve Service: empty
//! (`<name>-serve-svc`) or a DNS-1035 label.
//!
//! The API server validates the whole Service when the operator creates it.

use schemars::{Schema, SchemaGenerator, json_schema};

use crate::crd::{names, schema::HEAD_SERVICE_NAME_PATTERN};

/// Schema of `spec.serveService`.
pub fn schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {
            "metadata": {
                "description": "Metadata of the serve Service; the operator adds its labels and owner.",
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                    "name": {
                        "description": "Name of the serve Service instead of <name>-serve-svc; a DNS-1035 label.",
                        "type": "string",
                        "maxLength": names::MAX_DNS_LABEL,
                        "pattern": HEAD_SERVICE_NAME_PATTERN,
                    },
                },
            },
        },
    })
}
