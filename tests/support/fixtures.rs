//! Reading the YAML fixtures of `tests/fixtures/`: the files of a directory,
//! and the `# key: value` header lines some of them start with.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The `.yaml` files directly in `dir` (relative to the repository), sorted.
pub fn yaml_files(dir: &str) -> Result<Vec<PathBuf>> {
    let dir = super::repo().join(dir);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The value of the first line of `path` that starts with `prefix` (for
/// example `# expect: `), trimmed.
pub fn header(path: &Path, prefix: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .map(|value| value.trim().to_owned())
        .with_context(|| format!("{} has no {prefix:?} line", path.display()))
}
