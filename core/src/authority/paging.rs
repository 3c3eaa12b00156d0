//! Opaque, authenticated page tokens for keyset pagination.
//!
//! A page token is `base64url(version ‖ direction ‖ seq ‖ tag)` where `tag` is the first 16 bytes of
//! HMAC-SHA-256, under a random per-store secret (kept in the store's meta table), over the token
//! body and the query it belongs to (list kind, organization, user filter). A token edited by
//! hand, minted by another store, or replayed against another query fails the tag check and is an
//! `invalid_argument` naming `page_token`. Tokens carry only a position (`seq`), never data.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};
use crate::keys::digests_equal;
use crate::store::Cursor;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const BODY_LEN: usize = 1 + 1 + 8;
const TOKEN_LEN: usize = BODY_LEN + TAG_LEN;

/// Mints and checks page tokens.
pub(crate) struct PageTokens {
    key: hmac::Key,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(<key>)")
    }
}

/// The query a token is bound to: the list kind and its filters, length-prefixed so that no two
/// queries share an encoding.
pub(crate) fn scope(kind: &str, parts: &[Option<&str>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(kind.as_bytes());
    for part in parts {
        match part {
            None => out.push(0),
            Some(p) => {
                out.push(1);
                out.extend_from_slice(&(p.len() as u32).to_be_bytes());
                out.extend_from_slice(p.as_bytes());
            }
        }
    }
    out
}

impl PageTokens {
    /// Keys the tokens with the store's secret.
    pub(crate) fn new(secret: &[u8]) -> Self {
        PageTokens {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn tag(&self, body: &[u8], scope: &[u8]) -> [u8; TAG_LEN] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"authgate/page-token/v1");
        ctx.update(body);
        ctx.update(scope);
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&ctx.sign().as_ref()[..TAG_LEN]);
        out
    }

    /// A token for the page starting at `cursor` (never [`Cursor::First`]: that page has none).
    pub(crate) fn encode(&self, scope: &[u8], cursor: Cursor) -> String {
        let (dir, seq) = match cursor {
            Cursor::First => (0u8, 0),
            Cursor::After(s) => (0u8, s),
            Cursor::Before(s) => (1u8, s),
        };
        let mut bytes = [0u8; TOKEN_LEN];
        bytes[0] = VERSION;
        bytes[1] = dir;
        bytes[2..BODY_LEN].copy_from_slice(&seq.to_be_bytes());
        let tag = self.tag(&bytes[..BODY_LEN], scope);
        bytes[BODY_LEN..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The cursor a token names; no token (or an empty one) is the first page.
    pub(crate) fn decode(&self, scope: &[u8], token: Option<&str>) -> Result<Cursor> {
        let token = match token {
            None | Some("") => return Ok(Cursor::First),
            Some(t) => t,
        };
        let invalid = || {
            Error::invalid(
                "page_token",
                "not a page token of this list (altered, or issued for another query or store)",
            )
        };
        if token.len() > 64 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if bytes.len() != TOKEN_LEN || bytes[0] != VERSION {
            return Err(invalid());
        }
        let tag = self.tag(&bytes[..BODY_LEN], scope);
        if !digests_equal(&tag, &bytes[BODY_LEN..]) {
            return Err(invalid());
        }
        let seq = i64::from_be_bytes(bytes[2..BODY_LEN].try_into().expect("8 bytes"));
        match bytes[1] {
            0 => Ok(Cursor::After(seq)),
            1 => Ok(Cursor::Before(seq)),
            _ => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let pages = PageTokens::new(b"secret");
        let s = scope("tokens", &[Some("org_1"), None]);
        for cursor in [Cursor::After(42), Cursor::Before(7)] {
            let t = pages.encode(&s, cursor);
            assert_eq!(pages.decode(&s, Some(&t)).unwrap(), cursor);
        }
        assert_eq!(pages.decode(&s, None).unwrap(), Cursor::First);
        assert_eq!(pages.decode(&s, Some("")).unwrap(), Cursor::First);

        let t = pages.encode(&s, Cursor::After(42));
        // Another query, another store, edited bytes, junk: all rejected.
        let other = scope("tokens", &[Some("org_2"), None]);
        let user = scope("tokens", &[Some("org_1"), Some("usr_1")]);
        assert!(pages.decode(&other, Some(&t)).is_err());
        assert!(pages.decode(&user, Some(&t)).is_err());
        assert!(PageTokens::new(b"other").decode(&s, Some(&t)).is_err());
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        bytes[9] ^= 1;
        let edited = URL_SAFE_NO_PAD.encode(&bytes);
        let err = pages.decode(&s, Some(&edited)).unwrap_err();
        assert_eq!(err.code(), "invalid_argument");
        assert!(err.to_string().contains("page_token"));
        for junk in ["x", "!!!!", &"A".repeat(1000)] {
            assert!(pages.decode(&s, Some(junk)).is_err());
        }
    }
}
