//! Reading the caller's bearer token from a request's `Authorization` header.
//!
//! Pure: a header map in, the token or the reason for a 401 out.
//!
//! Invariants: exactly one `Authorization` header, scheme `Bearer`
//! (case-insensitive, RFC 7235), one non-empty token of visible ASCII of at
//! most [`MAX_TOKEN_BYTES`]; anything else is refused before the API server
//! is asked, so a malformed header never costs a TokenReview.

use http::{HeaderMap, header::AUTHORIZATION};

/// The longest token sent to a TokenReview; service account tokens are about 1 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The bearer token of `headers`, or why there is none (the body of a 401).
///
/// # Errors
/// No header, several, another scheme, an empty, oversized or non-ASCII token.
pub fn token(headers: &HeaderMap) -> Result<&str, &'static str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            "more than one Authorization header"
        } else {
            "no Authorization: Bearer <token> header"
        });
    };
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not ASCII")?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or("the Authorization header is not Bearer <token>")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("only Bearer tokens are accepted");
    }
    let token = token.trim();
    if token.is_empty() || token.contains(|c: char| c.is_ascii_whitespace()) {
        return Err("the Authorization header is not Bearer <token>");
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err("the bearer token is too long");
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use http::HeaderValue;

    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn a_bearer_token_is_read() {
        assert_eq!(token(&with(&["Bearer abc.def"])), Ok("abc.def"));
        assert_eq!(token(&with(&["bearer  abc "])), Ok("abc"));
        assert_eq!(token(&with(&["BEARER abc"])), Ok("abc"));
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(
            token(&HeaderMap::new())
                .unwrap_err()
                .contains("no Authorization")
        );
        assert!(
            token(&with(&["Bearer a", "Bearer b"]))
                .unwrap_err()
                .contains("more than one")
        );
        assert!(
            token(&with(&["Basic dXNlcjpwdw=="]))
                .unwrap_err()
                .contains("only Bearer")
        );
        for bad in ["Bearer", "Bearer ", "Bearer a b", "abc"] {
            assert!(token(&with(&[bad])).is_err(), "{bad:?}");
        }
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert!(token(&with(&[&long])).unwrap_err().contains("too long"));
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert!(token(&headers).unwrap_err().contains("not ASCII"));
    }
}
