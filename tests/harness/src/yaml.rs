//! Reading multi-document YAML manifests into JSON values.
//!
//! Empty documents (a lone `---`, comments only) are skipped, so files written
//! for `kubectl apply -f` read the same here.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

/// The non-empty documents of a YAML file, as JSON values.
pub fn documents(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The non-empty documents of a YAML string, as JSON values.
pub fn parse(text: &str) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(doc)?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_empty_documents() {
        let docs = parse("# c\n---\na: 1\n---\n---\nb: [x]\n").unwrap();
        assert_eq!(
            docs,
            vec![serde_json::json!({"a": 1}), serde_json::json!({"b": ["x"]})]
        );
    }
}
