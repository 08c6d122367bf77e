//! A RayService's `serveConfigV2` as the JSON body of a Serve deploy.
//!
//! Role: the YAML string becomes a JSON object, the config unchanged
//! (rayop does not interpret Serve's schema; Serve validates it), with an
//! optional `target_capacity` set for incremental upgrades.
//!
//! Invariants:
//! - The body is always a JSON object; empty YAML (or only `null`) is
//!   [`ServeConfigError::Empty`], since there is nothing to deploy.
//! - Every error names `spec.serveConfigV2`; a YAML error carries its line
//!   and column, a value JSON cannot carry (a non-finite number, a YAML
//!   tag, a key that is no scalar) carries its path in the config. Nothing
//!   is dropped or replaced silently.
//! - Scalar keys become strings (`1:` is `"1"`), as JSON keys must be.
//! - A target capacity is a whole percent, 0 to 100, and replaces any
//!   `target_capacity` the YAML holds.

use serde_json::{Map, Number, Value};
use serde_yaml::Value as Yaml;
use thiserror::Error;

/// The field the config comes from, named in every error.
pub const SERVE_CONFIG_FIELD: &str = "spec.serveConfigV2";

/// The key of the target capacity in Serve's config.
const TARGET_CAPACITY_KEY: &str = "target_capacity";

/// Why `serveConfigV2` cannot be deployed, or a target capacity is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ServeConfigError {
    /// Empty, only comments, or only `null`.
    #[error("{SERVE_CONFIG_FIELD} is empty: there is no Serve config to deploy")]
    Empty,
    /// Not YAML, or more than one document.
    #[error("{SERVE_CONFIG_FIELD} is not valid YAML: {reason}")]
    Yaml {
        /// Where the parser stopped, when it says.
        position: Option<YamlPosition>,
        /// The parser's account (it quotes the position too).
        reason: String,
    },
    /// YAML whose top level is no mapping.
    #[error("{SERVE_CONFIG_FIELD} must be a YAML mapping (with `applications`), not {found}")]
    NotAMapping {
        /// What it is instead: `a list`, `a string`, ….
        found: &'static str,
    },
    /// A value JSON cannot carry.
    #[error("{SERVE_CONFIG_FIELD} at {path}: {reason}")]
    NotJson {
        /// Where, e.g. `applications[0].deployments[1].num_replicas`.
        path: String,
        /// What is wrong there.
        reason: &'static str,
    },
    /// A target capacity outside 0-100.
    #[error("target_capacity {value} is outside 0-100")]
    TargetCapacity {
        /// The value given.
        value: i64,
    },
}

/// A position in the YAML text, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YamlPosition {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

/// The percent of its target replicas Serve scales every deployment to,
/// while an incremental upgrade moves traffic from one cluster to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetCapacity(u8);

impl TargetCapacity {
    /// 100 percent: every deployment at its full target.
    pub const FULL: TargetCapacity = TargetCapacity(100);

    /// The capacity of `percent`.
    ///
    /// # Errors
    /// [`ServeConfigError::TargetCapacity`] outside 0-100.
    pub fn new(percent: i64) -> Result<TargetCapacity, ServeConfigError> {
        u8::try_from(percent)
            .ok()
            .filter(|p| *p <= 100)
            .map(TargetCapacity)
            .ok_or(ServeConfigError::TargetCapacity { value: percent })
    }

    /// The percent, 0 to 100.
    #[must_use]
    pub fn percent(self) -> u8 {
        self.0
    }
}

/// A Serve config, ready to be sent: a JSON object.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeConfig {
    body: Map<String, Value>,
}

impl ServeConfig {
    /// The config of a `serveConfigV2` YAML string.
    ///
    /// # Errors
    /// [`ServeConfigError`]: empty, not YAML, not a mapping, or holding a
    /// value JSON cannot carry.
    pub fn from_yaml(yaml: &str) -> Result<ServeConfig, ServeConfigError> {
        let parsed: Yaml = serde_yaml::from_str(yaml).map_err(|err| ServeConfigError::Yaml {
            position: err.location().map(|at| YamlPosition {
                line: at.line(),
                column: at.column(),
            }),
            reason: err.to_string(),
        })?;
        match to_json(&parsed, &mut String::new())? {
            Value::Object(body) => Ok(ServeConfig { body }),
            Value::Null => Err(ServeConfigError::Empty),
            other => Err(ServeConfigError::NotAMapping {
                found: kind(&other),
            }),
        }
    }

    /// A config already held as a JSON object.
    #[must_use]
    pub fn from_json_object(body: Map<String, Value>) -> ServeConfig {
        ServeConfig { body }
    }

    /// The same config with `target_capacity` set to `capacity`.
    #[must_use]
    pub fn with_target_capacity(mut self, capacity: TargetCapacity) -> ServeConfig {
        self.body.insert(
            TARGET_CAPACITY_KEY.to_owned(),
            Value::from(capacity.percent()),
        );
        self
    }

    /// The config as JSON.
    #[must_use]
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.body
    }

    /// The request body.
    ///
    /// # Errors
    /// Only if serde_json fails to write a map it built.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.body)
    }
}

/// `yaml` as JSON; `path` is where it sits, for errors.
fn to_json(yaml: &Yaml, path: &mut String) -> Result<Value, ServeConfigError> {
    let refuse = |path: &str, reason| ServeConfigError::NotJson {
        path: if path.is_empty() {
            "the top level".to_owned()
        } else {
            path.to_owned()
        },
        reason,
    };
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => Value::Number(number(n).ok_or_else(|| {
            refuse(
                path,
                "a number JSON cannot carry (.nan or .inf); quote it if it is text",
            )
        })?),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                out.push(to_json(item, path)?);
                path.truncate(len);
            }
            Value::Array(out)
        }
        Yaml::Mapping(entries) => {
            let mut out = Map::new();
            for (key, value) in entries {
                let key = scalar_key(key).ok_or_else(|| {
                    refuse(
                        path,
                        "a key that is a list or a mapping; JSON keys are text",
                    )
                })?;
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                let value = to_json(value, path)?;
                path.truncate(len);
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_) => {
            return Err(refuse(
                path,
                "a YAML tag (`!name`), which JSON has no place for",
            ));
        }
    })
}

fn number(n: &serde_yaml::Number) -> Option<Number> {
    if let Some(i) = n.as_i64() {
        return Some(Number::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(Number::from(u));
    }
    n.as_f64().and_then(Number::from_f64)
}

/// A scalar key as JSON's text key.
fn scalar_key(key: &Yaml) -> Option<String> {
    match key {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Null => Some("null".to_owned()),
        Yaml::Sequence(_) | Yaml::Mapping(_) | Yaml::Tagged(_) => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The `serveConfigV2` of a KubeRay sample manifest.
    fn sample(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/dashboard/serve/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let manifest: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        manifest["spec"]["serveConfigV2"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_sample_config_becomes_the_same_config_in_json() {
        let config = ServeConfig::from_yaml(&sample("ray-service.sample.yaml")).unwrap();
        let apps = &config.as_json()["applications"];
        assert_eq!(apps.as_array().unwrap().len(), 2);
        assert_eq!(apps[0]["name"], "fruit_app");
        assert_eq!(apps[0]["route_prefix"], "/fruit");
        let mango = &apps[0]["deployments"][0];
        assert_eq!(mango["name"], "MangoStand");
        assert_eq!(mango["num_replicas"], json!(2));
        assert_eq!(mango["user_config"], json!({"price": 3}));
        assert_eq!(mango["ray_actor_options"]["num_cpus"], json!(0.1));
        assert_eq!(apps[1]["import_path"], "conditional_dag.serve_dag");
        assert!(config.as_json().get("target_capacity").is_none());
        let sent: Value = serde_json::from_slice(&config.to_json_bytes().unwrap()).unwrap();
        assert_eq!(sent, Value::Object(config.as_json().clone()));
    }

    #[test]
    fn top_level_options_pass_through() {
        let config = ServeConfig::from_yaml(&sample("ray-service.different-port.yaml")).unwrap();
        assert_eq!(config.as_json()["http_options"], json!({"port": 9000}));
    }

    #[test]
    fn a_target_capacity_is_a_whole_percent_that_replaces_the_yamls() {
        let config = ServeConfig::from_yaml("target_capacity: 20\napplications: []\n").unwrap();
        assert_eq!(config.as_json()["target_capacity"], json!(20));
        let half = config.with_target_capacity(TargetCapacity::new(50).unwrap());
        assert_eq!(
            Value::Object(half.as_json().clone()),
            json!({"applications": [], "target_capacity": 50})
        );
        assert_eq!(TargetCapacity::new(0).unwrap().percent(), 0);
        assert_eq!(TargetCapacity::new(100).unwrap(), TargetCapacity::FULL);
        for bad in [-1, 101, 256, i64::MAX] {
            assert_eq!(
                TargetCapacity::new(bad),
                Err(ServeConfigError::TargetCapacity { value: bad })
            );
        }
    }

    #[test]
    fn bad_yaml_names_the_field_and_the_position() {
        let err =
            ServeConfig::from_yaml("applications:\n  - name: a\n   import_path: [x\n").unwrap_err();
        match &err {
            ServeConfigError::Yaml { position, reason } => {
                let at = position.unwrap();
                assert_eq!(at.line, 3, "{reason}");
                assert!(at.column >= 1, "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("spec.serveConfigV2 is not valid YAML: ")
        );
        let twice = ServeConfig::from_yaml("a: 1\na: 2\n").unwrap_err();
        assert!(matches!(twice, ServeConfigError::Yaml { .. }), "{twice:?}");
    }

    #[test]
    fn only_a_mapping_is_a_config() {
        for empty in ["", "  \n", "# only a comment\n", "null", "~"] {
            assert_eq!(
                ServeConfig::from_yaml(empty),
                Err(ServeConfigError::Empty),
                "{empty:?}"
            );
        }
        let list = ServeConfig::from_yaml("- name: a\n").unwrap_err();
        assert_eq!(list, ServeConfigError::NotAMapping { found: "a list" });
        assert_eq!(
            list.to_string(),
            "spec.serveConfigV2 must be a YAML mapping (with `applications`), not a list"
        );
        assert_eq!(
            ServeConfig::from_yaml("just text").unwrap_err(),
            ServeConfigError::NotAMapping { found: "a string" }
        );
    }

    #[test]
    fn what_json_cannot_carry_is_refused_with_its_path() {
        let nan = ServeConfig::from_yaml(
            "applications:\n  - name: a\n    deployments:\n      - name: d\n        num_replicas: .nan\n",
        )
        .unwrap_err();
        assert!(
            matches!(&nan, ServeConfigError::NotJson { path, .. }
                if path == "applications[0].deployments[0].num_replicas"),
            "{nan:?}"
        );
        assert!(
            nan.to_string()
                .starts_with("spec.serveConfigV2 at applications[0]")
        );
        let tag = ServeConfig::from_yaml("applications: !custom []\n").unwrap_err();
        assert!(
            matches!(&tag, ServeConfigError::NotJson { path, .. } if path == "applications"),
            "{tag:?}"
        );
        let list_key = ServeConfig::from_yaml("? [a, b]\n: 1\n").unwrap_err();
        assert!(
            matches!(&list_key, ServeConfigError::NotJson { path, .. } if path == "the top level"),
            "{list_key:?}"
        );
    }

    #[test]
    fn scalar_keys_become_text_and_scalars_keep_their_type() {
        let config = ServeConfig::from_yaml(
            "http_options:\n  port: 8000\n  host: 0.0.0.0\nx:\n  1: one\n  true: yes\n  big: 18446744073709551615\n  neg: -3\n  quoted: \"8000\"\n",
        )
        .unwrap();
        assert_eq!(
            Value::Object(config.as_json().clone()),
            json!({
                "http_options": {"port": 8000, "host": "0.0.0.0"},
                "x": {"1": "one", "true": "yes", "big": 18_446_744_073_709_551_615_u64, "neg": -3, "quoted": "8000"}
            })
        );
    }
}
