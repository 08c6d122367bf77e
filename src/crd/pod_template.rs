//! The API server's invariants of an embedded pod template, checked on the
//! RayCluster before rayop builds anything from it.
//!
//! Role: the CRD keeps pod templates open (see [`schema`](crate::crd::schema)),
//! so the API server validates a template only when rayop creates the
//! workload, and its answer names StatefulSet fields. [`check_template`]
//! catches the invariants a user easily breaks first, each as a
//! [`SpecProblem`] naming the RayCluster field, such as
//! `spec.workerGroupSpecs[0].template.spec.containers[1].ports[1].containerPort`:
//! - container names are DNS-1123 labels, unique over `containers` and
//!   `initContainers` (the Ray container's missing name is filled in);
//! - within a container: `containerPort` in 1..65535, unique with its
//!   protocol; port names IANA service names, unique; env names non-empty,
//!   printable ASCII without `=`, unique; `mountPath`s unique, and every
//!   `volumeMount` names a volume of the pod, a claim template, or one rayop
//!   adds ([`ROOT_PROVIDED_VOLUMES`]);
//! - volume names DNS-1123 labels, unique;
//! - label keys and annotation keys qualified names, label values valid,
//!   annotations at most [`MAX_ANNOTATIONS_BYTES`] in total.
//!
//! [`adjustments`] lists what rayop changes in a template on its own
//! (`restartPolicy`), for the non-blocking `SpecAdjusted` condition.
//!
//! Invariant: pure; problems come in field order.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};

use rayop_machines::SpecProblem;

use crate::crd::{limits::MAX_ANNOTATIONS_BYTES, names::MAX_DNS_LABEL};

/// Volumes rayop adds to pods itself, which a `volumeMount` may name: the
/// shared-memory volume and the head's log volume shared with the autoscaler.
pub const ROOT_PROVIDED_VOLUMES: [&str; 2] = ["shared-mem", "ray-logs"];

/// Bytes of its own annotations rayop may add to a pod template; a user's
/// annotations must leave this much of [`MAX_ANNOTATIONS_BYTES`].
pub const RESERVED_ANNOTATION_BYTES: usize = 4 * 1024;

/// Checks the template at `path` (e.g. `spec.headGroupSpec.template`);
/// `claims` are the names of the group's volume claim templates.
pub fn check_template(
    out: &mut Vec<SpecProblem>,
    path: &str,
    template: &PodTemplateSpec,
    claims: &[String],
) {
    if let Some(meta) = &template.metadata {
        check_metadata(
            out,
            &format!("{path}.metadata"),
            meta.labels.as_ref(),
            meta.annotations.as_ref(),
        );
    }
    let Some(pod) = &template.spec else {
        return;
    };
    let spec_path = format!("{path}.spec");
    let mut volumes = BTreeSet::new();
    for (i, volume) in pod.volumes.iter().flatten().enumerate() {
        let field = format!("{spec_path}.volumes[{i}].name");
        if !is_dns1123_label(&volume.name) {
            out.push(SpecProblem::new(
                field,
                format!(
                    "{:?} is not a valid volume name: use a DNS-1123 label (lower-case letters, digits and '-', at most 63)",
                    volume.name
                ),
            ));
        } else if !volumes.insert(volume.name.as_str()) {
            out.push(SpecProblem::new(
                field,
                format!("volume name {:?} is used twice", volume.name),
            ));
        }
    }
    let mountable: BTreeSet<&str> = volumes
        .iter()
        .copied()
        .chain(claims.iter().map(String::as_str))
        .chain(ROOT_PROVIDED_VOLUMES)
        .collect();
    let mut container_names = BTreeSet::new();
    let lists = [
        ("containers", pod.containers.as_slice()),
        (
            "initContainers",
            pod.init_containers.as_deref().unwrap_or_default(),
        ),
    ];
    for (list, containers) in lists {
        for (i, container) in containers.iter().enumerate() {
            let at = format!("{spec_path}.{list}[{i}]");
            // The Ray container's missing name is filled in by rayop.
            let filled = list == "containers" && i == 0 && container.name.is_empty();
            if !filled {
                if !is_dns1123_label(&container.name) {
                    out.push(SpecProblem::new(
                        format!("{at}.name"),
                        format!(
                            "{:?} is not a valid container name: use a DNS-1123 label (lower-case letters, digits and '-', at most 63)",
                            container.name
                        ),
                    ));
                } else if !container_names.insert(container.name.clone()) {
                    out.push(SpecProblem::new(
                        format!("{at}.name"),
                        format!(
                            "container name {:?} is used twice in the pod",
                            container.name
                        ),
                    ));
                }
            }
            check_container(out, &at, container, &mountable);
        }
    }
}

fn check_container(
    out: &mut Vec<SpecProblem>,
    at: &str,
    container: &Container,
    mountable: &BTreeSet<&str>,
) {
    let mut numbers = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (j, port) in container.ports.iter().flatten().enumerate() {
        let field = format!("{at}.ports[{j}]");
        let protocol = port.protocol.as_deref().unwrap_or("TCP");
        if !(1..=65535).contains(&port.container_port) {
            out.push(SpecProblem::new(
                format!("{field}.containerPort"),
                "must be between 1 and 65535",
            ));
        } else if !numbers.insert((port.container_port, protocol.to_owned())) {
            out.push(SpecProblem::new(
                format!("{field}.containerPort"),
                format!(
                    "containerPort {} ({protocol}) is listed twice in this container",
                    port.container_port
                ),
            ));
        }
        if let Some(name) = &port.name {
            if !is_port_name(name) {
                out.push(SpecProblem::new(
                    format!("{field}.name"),
                    format!(
                        "{name:?} is not a valid port name: at most 15 lower-case letters, digits and '-', with a letter, no '--', not starting or ending with '-'"
                    ),
                ));
            } else if !names.insert(name.as_str()) {
                out.push(SpecProblem::new(
                    format!("{field}.name"),
                    format!("port name {name:?} is used twice in this container"),
                ));
            }
        }
    }
    let mut env = BTreeSet::new();
    for (j, var) in container.env.iter().flatten().enumerate() {
        let field = format!("{at}.env[{j}].name");
        if !is_env_name(&var.name) {
            out.push(SpecProblem::new(
                field,
                format!(
                    "{:?} is not a valid environment variable name: printable ASCII without '=', not empty",
                    var.name
                ),
            ));
        } else if !env.insert(var.name.as_str()) {
            out.push(SpecProblem::new(
                field,
                format!(
                    "environment variable {:?} is set twice in this container",
                    var.name
                ),
            ));
        }
    }
    let mut paths = BTreeSet::new();
    for (j, mount) in container.volume_mounts.iter().flatten().enumerate() {
        let field = format!("{at}.volumeMounts[{j}]");
        if !mountable.contains(mount.name.as_str()) {
            out.push(SpecProblem::new(
                format!("{field}.name"),
                format!(
                    "mounts volume {:?}, which the pod does not have: add it to volumes",
                    mount.name
                ),
            ));
        }
        if !paths.insert(mount.mount_path.as_str()) {
            out.push(SpecProblem::new(
                format!("{field}.mountPath"),
                format!(
                    "mountPath {:?} is used twice in this container",
                    mount.mount_path
                ),
            ));
        }
    }
}

fn check_metadata(
    out: &mut Vec<SpecProblem>,
    path: &str,
    labels: Option<&std::collections::BTreeMap<String, String>>,
    annotations: Option<&std::collections::BTreeMap<String, String>>,
) {
    for (key, value) in labels.into_iter().flatten() {
        if !is_qualified_name(key) {
            out.push(SpecProblem::new(
                format!("{path}.labels"),
                format!("label key {key:?} is not a qualified name ([prefix/]name, name at most 63 characters)"),
            ));
        } else if !is_label_value(value) {
            out.push(SpecProblem::new(
                format!("{path}.labels[{key}]"),
                format!(
                    "{value:?} is not a valid label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
                ),
            ));
        }
    }
    let mut size = 0usize;
    for (key, value) in annotations.into_iter().flatten() {
        size = size.saturating_add(key.len()).saturating_add(value.len());
        if !is_qualified_name(key) {
            out.push(SpecProblem::new(
                format!("{path}.annotations"),
                format!("annotation key {key:?} is not a qualified name ([prefix/]name, name at most 63 characters)"),
            ));
        }
    }
    let allowed = MAX_ANNOTATIONS_BYTES - RESERVED_ANNOTATION_BYTES;
    if size > allowed {
        out.push(SpecProblem::new(
            format!("{path}.annotations"),
            format!(
                "annotations hold {size} bytes; at most {allowed} are allowed (the API server's limit is {MAX_ANNOTATIONS_BYTES}, and rayop adds its own)"
            ),
        ));
    }
}

/// Whether `name` is a DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
#[must_use]
pub fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= MAX_DNS_LABEL
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

/// Whether `name` is an IANA service name, as container port names must be.
#[must_use]
pub fn is_port_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 15
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.iter().any(u8::is_ascii_lowercase)
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Whether `name` is an environment variable name the API server accepts:
/// not empty, printable ASCII (space included), no `=`.
#[must_use]
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'=')
}

/// Whether `value` is a label value: empty, or at most 63 of
/// `[A-Za-z0-9_.-]` starting and ending with a letter or digit.
#[must_use]
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_name_part(value)
}

fn is_name_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_DNS_LABEL
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}

/// Whether `key` is a qualified name, as label and annotation keys must be:
/// an optional DNS-1123 subdomain prefix (at most 253) and `/`, then a name part.
#[must_use]
pub fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        None => is_name_part(key),
        Some((prefix, name)) => {
            is_name_part(name) && prefix.len() <= 253 && prefix.split('.').all(is_dns1123_label)
        }
    }
}

/// What rayop changes in the template at `path` without refusing it:
/// a `restartPolicy` other than `Always` is dropped, because StatefulSet and
/// Deployment pods must restart always.
#[must_use]
pub fn adjustments(path: &str, template: &PodTemplateSpec) -> Vec<SpecProblem> {
    let policy = template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref());
    match policy {
        Some(policy) if policy != "Always" => vec![SpecProblem::new(
            format!("{path}.spec.restartPolicy"),
            format!(
                "{policy:?} is ignored: the pods of a StatefulSet or Deployment always restart, so rayop uses Always; remove the field"
            ),
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, EnvVar, PodSpec, Volume, VolumeMount};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn container(name: &str) -> Container {
        Container {
            name: name.into(),
            ..Container::default()
        }
    }

    fn fields(template: &PodTemplateSpec) -> Vec<String> {
        let mut out = Vec::new();
        check_template(&mut out, "t", template, &["claim".to_owned()]);
        out.into_iter().map(|p| p.field).collect()
    }

    fn pod(containers: Vec<Container>) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers,
                ..PodSpec::default()
            }),
        }
    }

    #[test]
    fn rayop_volumes_match_the_builders() {
        assert!(ROOT_PROVIDED_VOLUMES.contains(&crate::build::shm::SHARED_MEMORY_VOLUME));
        assert!(ROOT_PROVIDED_VOLUMES.contains(&crate::build::autoscaler_sidecar::RAY_LOGS_VOLUME));
    }

    #[test]
    fn container_names() {
        let t = pod(vec![
            container(""),
            container("Side_Car"),
            container("a"),
            container("a"),
        ]);
        assert_eq!(
            fields(&t),
            ["t.spec.containers[1].name", "t.spec.containers[3].name"]
        );
    }

    #[test]
    fn ports_env_and_mounts() {
        let mut ray = container("ray");
        ray.ports = Some(vec![
            ContainerPort {
                container_port: 8080,
                ..ContainerPort::default()
            },
            ContainerPort {
                container_port: 8080,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                container_port: 8080,
                protocol: Some("UDP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                container_port: 0,
                ..ContainerPort::default()
            },
            ContainerPort {
                container_port: 9000,
                name: Some("way-too-long-port-name".into()),
                ..ContainerPort::default()
            },
        ]);
        ray.env = Some(vec![
            EnvVar {
                name: "A".into(),
                ..EnvVar::default()
            },
            EnvVar {
                name: "A".into(),
                ..EnvVar::default()
            },
            EnvVar {
                name: "B=C".into(),
                ..EnvVar::default()
            },
        ]);
        ray.volume_mounts = Some(vec![
            VolumeMount {
                name: "data".into(),
                mount_path: "/d".into(),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "claim".into(),
                mount_path: "/c".into(),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "shared-mem".into(),
                mount_path: "/c".into(),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "nope".into(),
                mount_path: "/n".into(),
                ..VolumeMount::default()
            },
        ]);
        let mut t = pod(vec![ray]);
        if let Some(spec) = t.spec.as_mut() {
            spec.volumes = Some(vec![
                Volume {
                    name: "data".into(),
                    ..Volume::default()
                },
                Volume {
                    name: "data".into(),
                    ..Volume::default()
                },
            ]);
        }
        assert_eq!(
            fields(&t),
            [
                "t.spec.volumes[1].name",
                "t.spec.containers[0].ports[1].containerPort",
                "t.spec.containers[0].ports[3].containerPort",
                "t.spec.containers[0].ports[4].name",
                "t.spec.containers[0].env[1].name",
                "t.spec.containers[0].env[2].name",
                "t.spec.containers[0].volumeMounts[2].mountPath",
                "t.spec.containers[0].volumeMounts[3].name",
            ]
        );
    }

    #[test]
    fn metadata() {
        let mut t = pod(vec![container("ray")]);
        t.metadata = Some(ObjectMeta {
            labels: Some([("ok".to_owned(), "bad value".to_owned())].into()),
            annotations: Some([("big".to_owned(), "x".repeat(300_000))].into()),
            ..ObjectMeta::default()
        });
        assert_eq!(
            fields(&t),
            ["t.metadata.labels[ok]", "t.metadata.annotations"]
        );
    }

    #[test]
    fn name_helpers() {
        assert!(is_qualified_name("example.com/key"));
        assert!(is_qualified_name("key_1.x"));
        assert!(!is_qualified_name("/key"));
        assert!(!is_qualified_name("a b"));
        assert!(is_port_name("gcs-server"));
        assert!(!is_port_name("8080"));
        assert!(!is_port_name("a--b"));
        assert!(is_env_name("MY.VAR-1"));
        assert!(!is_env_name(""));
        assert!(is_label_value(""));
        assert!(!is_label_value("-x"));
    }

    #[test]
    fn restart_policy_is_an_adjustment() {
        let mut t = pod(vec![container("ray")]);
        assert!(adjustments("t", &t).is_empty());
        if let Some(spec) = t.spec.as_mut() {
            spec.restart_policy = Some("Never".into());
        }
        assert_eq!(adjustments("t", &t)[0].field, "t.spec.restartPolicy");
    }
}
