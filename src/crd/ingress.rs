//! `headGroupSpec.ingressOptions`: the host, path and TLS of the Ingress
//! rayop creates for the dashboard when `headGroupSpec.enableIngress` is true.
//!
//! Role: data only, with KubeRay v1.7's JSON names and defaults (`path` `/`,
//! `pathType` `Prefix`). The Ingress is built by
//! [`build::ingress`](crate::build::ingress).

use k8s_openapi::api::networking::v1::IngressTLS;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Default of `ingressOptions.path`: all paths of the host.
pub const DEFAULT_PATH: &str = "/";

/// How the Ingress path matches, as in an Ingress's `pathType`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(transform = crate::crd::schema::drop_description)]
pub enum IngressPathType {
    /// The path matches exactly.
    Exact,
    /// The path matches as a prefix of `/`-separated elements.
    #[default]
    Prefix,
    /// The Ingress controller decides (regular expressions, for some).
    ImplementationSpecific,
}

impl IngressPathType {
    /// The value as an Ingress's `pathType` spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            IngressPathType::Exact => "Exact",
            IngressPathType::Prefix => "Prefix",
            IngressPathType::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// Host, path and TLS of the dashboard's Ingress `<cluster>-head-ingress`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressOptions {
    /// The host name the Ingress rule matches; unset, any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,

    /// The HTTP path routed to the dashboard, `/` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = DEFAULT_PATH))]
    pub path: Option<String>,

    /// How `path` matches: Exact, Prefix (the default) or
    /// ImplementationSpecific.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Prefix"))]
    pub path_type: Option<IngressPathType>,

    /// TLS settings of the Ingress (hosts and the Secret of their
    /// certificate), copied as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "tls_schema")]
    pub tls: Vec<IngressTLS>,
}

/// Schema of `tls`: networking.k8s.io/v1 IngressTLS entries, tersely
/// described to keep the CRD small.
pub fn tls_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "hosts": {
                    "description": "Host names the certificate covers.",
                    "type": "array",
                    "items": {"type": "string"},
                },
                "secretName": {
                    "description": "The Secret holding the certificate and key.",
                    "type": "string",
                },
            },
        },
    })
}

impl IngressOptions {
    /// `path`, `/` when unset.
    #[must_use]
    pub fn effective_path(&self) -> &str {
        self.path.as_deref().unwrap_or(DEFAULT_PATH)
    }

    /// `pathType`, Prefix when unset.
    #[must_use]
    pub fn effective_path_type(&self) -> IngressPathType {
        self.path_type.unwrap_or_default()
    }
}
