//! The token a dashboard with token authentication wants.
//!
//! Role: with `authOptions.mode: token`, Ray's dashboard refuses requests
//! without the header `x-ray-authorization: Bearer <token>`, where the
//! token is the key `auth_token` of the cluster's token Secret
//! ([`crate::build::auth`]). Ray uses its own header, not `Authorization`,
//! so the token also passes the API server's service proxy, which
//! authenticates the caller by `Authorization` itself.
//!
//! Invariants: the token is trimmed of surrounding whitespace, as Ray trims
//! `RAY_AUTH_TOKEN`, so a Secret written with a trailing newline still
//! matches; an empty token or one that cannot be a header value is refused
//! when the token is made, not at the first call; the token never appears
//! in `Debug` output or errors, and its header is marked sensitive.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::DashboardError;

/// The header Ray's dashboard reads the token from.
pub const RAY_AUTH_HEADER: HeaderName = HeaderName::from_static("x-ray-authorization");

/// A dashboard token, ready to be sent.
#[derive(Clone)]
pub struct DashboardToken {
    header: HeaderValue,
}

impl std::fmt::Debug for DashboardToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DashboardToken(<redacted>)")
    }
}

impl DashboardToken {
    /// The token from its text, e.g. the `auth_token` of the token Secret.
    ///
    /// # Errors
    /// [`DashboardError::Token`]: empty after trimming, or holding anything
    /// but visible ASCII (control characters, spaces, non-ASCII).
    pub fn new(token: &str) -> Result<DashboardToken, DashboardError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(DashboardError::Token {
                reason: "it is empty",
            });
        }
        // Header values may carry bytes past ASCII; a Ray token is visible ASCII.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DashboardError::Token {
                reason: "it holds characters other than visible ASCII",
            });
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            DashboardError::Token {
                reason: "it holds characters a header cannot carry",
            }
        })?;
        header.set_sensitive(true);
        Ok(DashboardToken { header })
    }

    /// The token from a Secret's raw bytes (`data.auth_token`, decoded).
    ///
    /// # Errors
    /// [`DashboardError::Token`]: not UTF-8, or as [`DashboardToken::new`].
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<DashboardToken, DashboardError> {
        let text = std::str::from_utf8(bytes).map_err(|_| DashboardError::Token {
            reason: "it is not UTF-8",
        })?;
        DashboardToken::new(text)
    }
}

/// Sets the token header on `headers` when there is a token, and removes
/// any such header when there is none.
pub fn apply_token(headers: &mut HeaderMap, token: Option<&DashboardToken>) {
    match token {
        Some(token) => {
            headers.insert(RAY_AUTH_HEADER, token.header.clone());
        }
        None => {
            headers.remove(RAY_AUTH_HEADER);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_a_trimmed_bearer_token_marked_sensitive() {
        let token = DashboardToken::new(" c2VjcmV0\n").unwrap();
        let mut headers = HeaderMap::new();
        apply_token(&mut headers, Some(&token));
        let value = headers.get("x-ray-authorization").unwrap();
        assert_eq!(value, "Bearer c2VjcmV0");
        assert!(value.is_sensitive());
    }

    #[test]
    fn no_token_no_header() {
        let mut headers = HeaderMap::new();
        headers.insert(RAY_AUTH_HEADER, HeaderValue::from_static("stale"));
        apply_token(&mut headers, None);
        assert!(headers.get(RAY_AUTH_HEADER).is_none());
    }

    #[test]
    fn unusable_tokens_are_refused_without_quoting_them() {
        for bad in ["", "  \n", "sec\u{7}ret", "sécret", "two words"] {
            let err = DashboardToken::new(bad).unwrap_err();
            assert!(matches!(err, DashboardError::Token { .. }), "{bad:?}");
        }
        let err = DashboardToken::from_secret_bytes(&[0xff, 0xfe]).unwrap_err();
        assert!(matches!(err, DashboardError::Token { .. }));
        let inner = DashboardToken::new("sec\u{7}ret").unwrap_err().to_string();
        assert!(!inner.contains("sec"), "{inner}");
    }

    #[test]
    fn debug_hides_the_token() {
        let token = DashboardToken::from_secret_bytes(b"c2VjcmV0").unwrap();
        assert_eq!(format!("{token:?}"), "DashboardToken(<redacted>)");
    }
}
