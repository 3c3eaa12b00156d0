//! The bearer credential of a request (RFC 6750 §2.1), one rule for every surface.

use super::Rejection;
use crate::error::TokenError;

/// Longest bearer token looked at (8 KiB, the JWT validator's default size cap); longer ones are
/// refused unread as [`TokenError::TooLarge`].
pub const MAX_BEARER_LEN: usize = 8 * 1024;

/// The token of an `Authorization` header value (`None`: no header).
///
/// `credentials = "Bearer" 1*SP token68` (RFC 6750 §2.1, RFC 9110 §11.4), surrounding
/// whitespace ignored:
///
/// - no header, another scheme (`Basic …`), or `Bearer` with no token: [`Rejection::Missing`];
/// - the scheme is matched case-insensitively (`bearer`, `BEARER`);
/// - more than one token (`Bearer a b`): [`Rejection::Invalid`] ([`TokenError::Malformed`]);
/// - a token longer than [`MAX_BEARER_LEN`]: [`TokenError::TooLarge`], before anything else is
///   read;
/// - a character outside `token68` (`A-Z a-z 0-9 - . _ ~ + /`, then only `=` padding):
///   [`TokenError::Malformed`].
pub fn bearer(authorization: Option<&str>) -> Result<&str, Rejection> {
    let value = authorization.ok_or(Rejection::Missing)?.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::Missing);
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(Rejection::Missing);
    }
    if token.len() > MAX_BEARER_LEN {
        return Err(Rejection::Invalid(Some(TokenError::TooLarge)));
    }
    if !is_token68(token) {
        return Err(Rejection::Invalid(Some(TokenError::Malformed)));
    }
    Ok(token)
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 9110 §11.2).
fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule() {
        let malformed = Err(Rejection::Invalid(Some(TokenError::Malformed)));
        assert_eq!(bearer(None), Err(Rejection::Missing));
        assert_eq!(bearer(Some("")), Err(Rejection::Missing));
        assert_eq!(bearer(Some("Bearer abc.def")), Ok("abc.def"));
        assert_eq!(bearer(Some("bearer  abc ")), Ok("abc"));
        assert_eq!(bearer(Some("BEARER\tabc")), Ok("abc"));
        assert_eq!(bearer(Some("Basic abc")), Err(Rejection::Missing));
        assert_eq!(bearer(Some("Bearer")), Err(Rejection::Missing));
        assert_eq!(bearer(Some("Bearer ")), Err(Rejection::Missing));
        assert_eq!(bearer(Some("Bearerabc")), Err(Rejection::Missing));
        assert_eq!(bearer(Some("Bearer a b")), malformed);
        assert_eq!(bearer(Some("Bearer a\"b")), malformed);
        assert_eq!(bearer(Some("Bearer a,b")), malformed);
        assert_eq!(bearer(Some("Bearer ==")), malformed);
        assert_eq!(bearer(Some("Bearer a=b")), malformed);
        assert_eq!(bearer(Some("Bearer é")), malformed);
        assert_eq!(bearer(Some("Bearer ab+/c-._~==")), Ok("ab+/c-._~=="));
        let big = format!("Bearer {}", "a".repeat(MAX_BEARER_LEN));
        assert_eq!(bearer(Some(&big)), Ok(&big[7..]));
        let big = format!("Bearer {}", "a".repeat(MAX_BEARER_LEN + 1));
        assert_eq!(
            bearer(Some(&big)),
            Err(Rejection::Invalid(Some(TokenError::TooLarge)))
        );
    }
}
