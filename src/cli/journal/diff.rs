//! A small unified line diff, for showing a replay divergence.
//!
//! Role: compare what the journal recorded with what the current machine
//! decides, both rendered as pretty JSON, line by line: `-` recorded only,
//! `+` replayed only, ` ` both. Runs of more than [`CONTEXT`] unchanged lines
//! between changes are collapsed to `…`.
//!
//! Invariant: the diff is exact (a longest common subsequence) up to
//! [`MAX_CELLS`] line pairs; beyond that it prints the two sides whole
//! (still correct, just not minimal), so memory stays bounded.

/// Unchanged lines kept around each change.
pub const CONTEXT: usize = 3;
/// Largest `recorded lines × replayed lines` diffed exactly.
pub const MAX_CELLS: usize = 4_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

fn ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > MAX_CELLS {
        let mut out: Vec<Op<'a>> = a.iter().map(|l| Op::Removed(l)).collect();
        out.extend(b.iter().map(|l| Op::Added(l)));
        return out;
    }
    // lcs[i][j]: length of the LCS of a[i..] and b[j..].
    let width = m + 1;
    let mut lcs = vec![0_u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * width + j] = if a[i] == b[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n + m);
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(Op::Same(a[i]));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * width + j] >= lcs[i * width + j + 1] {
            out.push(Op::Removed(a[i]));
            i += 1;
        } else {
            out.push(Op::Added(b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| Op::Removed(l)));
    out.extend(b[j..].iter().map(|l| Op::Added(l)));
    out
}

/// The line diff of `recorded` against `replayed`, each output line
/// prefixed with `-`, `+` or a space, ending in a newline.
#[must_use]
pub fn unified(recorded: &str, replayed: &str) -> String {
    let a: Vec<&str> = recorded.lines().collect();
    let b: Vec<&str> = replayed.lines().collect();
    let ops = ops(&a, &b);
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(_)))
        .map(|(i, _)| i)
        .collect();
    let near_change = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= CONTEXT);
    let mut out = String::from("--- recorded\n+++ replayed (current machine)\n");
    let mut skipping = false;
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Same(line) if near_change(i) => {
                skipping = false;
                out.push_str(&format!(" {line}\n"));
            }
            Op::Same(_) => {
                if !skipping {
                    out.push_str(" …\n");
                    skipping = true;
                }
            }
            Op::Removed(line) => {
                skipping = false;
                out.push_str(&format!("-{line}\n"));
            }
            Op::Added(line) => {
                skipping = false;
                out.push_str(&format!("+{line}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_changes_with_context() {
        let a = "a\nb\nc\nd\ne\nf\ng\nh\ni\n";
        let b = "a\nb\nc\nd\ne\nX\ng\nh\ni\n";
        let d = unified(a, b);
        assert_eq!(
            d,
            "--- recorded\n+++ replayed (current machine)\n …\n c\n d\n e\n-f\n+X\n g\n h\n i\n"
        );
        let removed = unified("x\ny\n", "x\n");
        assert!(
            !removed.lines().skip(2).any(|l| l.starts_with('+')),
            "{removed}"
        );
        assert!(unified("x\ny\n", "x\n").contains("-y"));
        assert_eq!(unified("same\n", "same\n").matches('\n').count(), 3);
    }

    #[test]
    fn oversized_inputs_fall_back_to_whole_sides() {
        let a = (0..2_001).map(|i| format!("{i}\n")).collect::<String>();
        let b = (0..2_001)
            .map(|i| format!("{}\n", i + 1))
            .collect::<String>();
        let d = unified(&a, &b);
        assert!(d.contains("-0\n") && d.contains("+2001\n"));
    }
}
