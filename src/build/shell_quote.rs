//! Shell quoting of `rayStartParams` values, which end up inside a `bash -c`
//! string.
//!
//! Role: make every value reach `ray start` as one inert word. [`shell_word`]
//! renders a value as follows:
//! 1. **Unwrap one layer of user quoting.** KubeRay pasted values into the
//!    command line unquoted, so its docs wrap JSON values in shell quotes
//!    (`resources: '"{\"TPU\": 4}"'`). A value wholly inside `'…'` (with no
//!    `'` within) or `"…"` is taken as the text the shell would have produced
//!    from it, *without* expanding anything, so Ray receives the same bytes it
//!    received under KubeRay.
//! 2. **An environment reference stays a reference.** A value that is exactly
//!    `$NAME` or `${NAME}` (KubeRay's idiom, e.g. `redis-password:
//!    $REDIS_PASSWORD`) becomes `"${NAME}"`: bash substitutes the variable
//!    and, inside double quotes, never splits or re-evaluates the result.
//! 3. **A plainly safe value** ([`is_shell_safe`]: `[A-Za-z0-9_.,:/=@%+-]+`)
//!    is written as is.
//! 4. **Anything else** is single-quoted, each `'` written as `'\''`. Inside
//!    single quotes bash interprets nothing: `$(…)`, backticks, `;`, `&&`,
//!    newlines and globs are literal text.
//!
//! Invariant: for every input, `bash -c "printf %s <shell_word(v)>"` prints
//! exactly the text of step 1 (or the variable's value, for step 2), and runs
//! nothing else. The tests check this against a real bash.

use crate::crd::validation::is_shell_safe;

/// `value` as one shell word that bash reads back as the value (see the
/// module docs for the four rules).
#[must_use]
pub fn shell_word(value: &str) -> String {
    let value = unwrap_user_quotes(value);
    if let Some(name) = env_reference(&value) {
        return format!("\"${{{name}}}\"");
    }
    if is_shell_safe(&value) {
        return value;
    }
    single_quote(&value)
}

/// `value` in single quotes, each `'` written as `'\''`.
#[must_use]
pub fn single_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The text inside one layer of `'…'` or `"…"` quoting, or the value itself.
pub fn unwrap_user_quotes(value: &str) -> String {
    if value.len() >= 2 {
        if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
            && !inner.contains('\'')
        {
            return inner.to_owned();
        }
        if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'))
            && let Some(text) = double_quoted_text(inner)
        {
            return text;
        }
    }
    value.to_owned()
}

/// The text bash makes of `"inner"` with no expansion: `\"`, `\\`, `\$` and
/// `` \` `` lose their backslash. `None` if `inner` holds an unescaped `"`,
/// so the value was not one double-quoted word.
fn double_quoted_text(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next @ ('"' | '\\' | '$' | '`')) => out.push(next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '"' => return None,
            other => out.push(other),
        }
    }
    Some(out)
}

/// `NAME` when `value` is exactly `$NAME` or `${NAME}` with a valid shell
/// variable name.
fn env_reference(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('$')?;
    let name = rest
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(rest);
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some(name)
}

/// Runs scripts in a real bash, for the build step's tests of what the
/// generated shell text does.
#[cfg(test)]
pub(crate) mod test_bash {
    /// `bash -c script` with `SECRET=s3cret` in its environment; `None` when
    /// this machine has no `/bin/bash` (the caller then skips its check).
    pub(crate) fn run(script: &str) -> Option<std::process::Output> {
        std::process::Command::new("/bin/bash")
            .arg("-c")
            .arg(script)
            .env("SECRET", "s3cret")
            .output()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What bash prints for `printf %s <word>`.
    fn bash_reads(word: &str) -> Option<String> {
        let output = test_bash::run(&format!("printf %s {word}"))?;
        assert!(output.status.success(), "bash failed on {word:?}");
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    #[test]
    fn safe_values_stay_bare() {
        assert_eq!(shell_word("0.0.0.0"), "0.0.0.0");
        assert_eq!(shell_word("10.0.0.1:6379"), "10.0.0.1:6379");
        assert_eq!(shell_word("a=b,c@d%e+f-g/h"), "a=b,c@d%e+f-g/h");
    }

    #[test]
    fn dangerous_values_are_single_quoted() {
        assert_eq!(shell_word("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_word("`reboot`"), "'`reboot`'");
        assert_eq!(shell_word("x; rm -rf /"), "'x; rm -rf /'");
        assert_eq!(shell_word("a\nb"), "'a\nb'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn env_references_expand_but_stay_one_word() {
        assert_eq!(shell_word("$REDIS_PASSWORD"), "\"${REDIS_PASSWORD}\"");
        assert_eq!(shell_word("${MY_POD_IP}"), "\"${MY_POD_IP}\"");
        // not a bare reference: quoted literally
        assert_eq!(shell_word("$A$B"), "'$A$B'");
        assert_eq!(shell_word("${A:-$(id)}"), "'${A:-$(id)}'");
    }

    #[test]
    fn one_layer_of_user_quotes_is_unwrapped() {
        assert_eq!(
            shell_word(r#""{\"TPU\": 4}""#),
            r#"'{"TPU": 4}'"#,
            "KubeRay's documented form of resources"
        );
        assert_eq!(shell_word(r#"'{"TPU": 4}'"#), r#"'{"TPU": 4}'"#);
        assert_eq!(shell_word("\"$(id)\""), "'$(id)'");
        assert_eq!(shell_word("'a'b'"), r"''\''a'\''b'\'''");
    }

    #[test]
    fn bash_reads_back_exactly_the_value() {
        let cases = [
            ("$(rm -rf /)", "$(rm -rf /)"),
            ("`touch /tmp/rayop-pwned`", "`touch /tmp/rayop-pwned`"),
            ("a; echo pwned", "a; echo pwned"),
            ("a && echo pwned || true", "a && echo pwned || true"),
            ("line1\nline2", "line1\nline2"),
            ("it's \"quoted\"", "it's \"quoted\""),
            ("*", "*"),
            ("~root", "~root"),
            ("$SECRET", "s3cret"),
            (r#""{\"TPU\": 4}""#, r#"{"TPU": 4}"#),
            ("\"$(id)\"", "$(id)"),
        ];
        for (value, expected) in cases {
            let Some(read) = bash_reads(&shell_word(value)) else {
                return; // no bash on this machine
            };
            assert_eq!(read, expected, "value {value:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_value_is_one_inert_word(value in "[ -~\n\t]{0,24}") {
            let unwrapped = unwrap_user_quotes(&value);
            prop_assume!(env_reference(&unwrapped).is_none());
            if let Some(read) = bash_reads(&shell_word(&value)) {
                prop_assert_eq!(read, unwrapped);
            }
        }
    }
}
