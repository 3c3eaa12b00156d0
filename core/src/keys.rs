//! Secret formats, digests and identifiers.
//!
//! # Secrets
//!
//! API keys and generated client secrets share one shape, in the style of GitHub's tokens:
//!
//! ```text
//! agk_ 4Zp0dXq8sV3kLmN7bR2tY9wE1cH6jF5g 2bT9xQ
//! └──┘ └──────────────────────────────┘ └────┘
//! prefix  32 base62 chars from the CSPRNG  CRC32 of prefix + body, 6 base62 chars
//! ```
//!
//! (without the spaces). The body carries 32 × log2(62) ≈ 190 bits of entropy. The checksum lets
//! a mistyped, truncated or made-up key be rejected by [`is_api_key`] / [`is_client_secret`]
//! before any store or network access, and lets secret scanners recognise leaked keys.
//!
//! ```
//! use authgate_core::keys;
//!
//! let key = keys::generate_api_key();
//! assert!(keys::is_api_key(key.expose()));
//! assert_eq!(key.expose().len(), keys::SECRET_LEN);
//!
//! // One changed character breaks the checksum.
//! let mut typo = key.expose().to_owned();
//! let c = if typo.as_bytes()[10] == b'a' { "b" } else { "a" };
//! typo.replace_range(10..11, c);
//! assert!(!keys::is_api_key(&typo));
//! ```
//!
//! # Digests
//!
//! Only a digest of a secret is ever stored: SHA-256, or HMAC-SHA-256 keyed with a pepper
//! (`AUTHGATE_KEY_PEPPER`) kept outside the database, so a stolen database alone cannot even be
//! used to test guesses. See [`Digester`].
//!
//! # Identifiers
//!
//! Public ids are a Scalekit-style prefix followed by random decimal digits (`apit_…`, `org_…`),
//! at most [`MAX_ID_LEN`] characters; see [`new_id`] and [`is_id`]. Ids are not credentials.

use aws_lc_rs::{digest, hmac, rand};

use crate::model::Secret;

/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "agk_";
/// Prefix of generated client secrets (M2M clients and generated environment clients).
pub const CLIENT_SECRET_PREFIX: &str = "ags_";
/// Number of random base62 characters in a secret's body (≈ 190 bits).
pub const SECRET_BODY_LEN: usize = 32;
/// Number of base62 characters of the CRC32 checksum.
pub const CHECKSUM_LEN: usize = 6;
/// Total length of an API key or generated client secret.
pub const SECRET_LEN: usize = 4 + SECRET_BODY_LEN + CHECKSUM_LEN;
/// Number of trailing characters shown as `token_suffix` / `secret_suffix`.
pub const SUFFIX_LEN: usize = 4;
/// Maximum length of a generated public id.
pub const MAX_ID_LEN: usize = 32;

/// Id prefix of organizations.
pub const ORGANIZATION_ID_PREFIX: &str = "org_";
/// Id prefix of users.
pub const USER_ID_PREFIX: &str = "usr_";
/// Id prefix of API keys (`token_id`).
pub const TOKEN_ID_PREFIX: &str = "apit_";
/// Id prefix of organization M2M clients.
pub const M2M_CLIENT_ID_PREFIX: &str = "m2morg_";
/// Id prefix of client secrets.
pub const SECRET_ID_PREFIX: &str = "sks_";
/// Id prefix of signing keys (`kid`).
pub const SIGNING_KEY_ID_PREFIX: &str = "snk_";
/// Id prefix of issued access tokens (`jti`).
pub const ACCESS_TOKEN_ID_PREFIX: &str = "tkn_";
/// Id prefix of environment (management API) clients.
pub const ENVIRONMENT_CLIENT_ID_PREFIX: &str = "skc_";

/// Number of random digits in a generated id (≈ 63 bits).
const ID_DIGITS: usize = 19;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Generates a new API key (`agk_…`).
pub fn generate_api_key() -> Secret {
    generate_secret(API_KEY_PREFIX)
}

/// Generates a new client secret (`ags_…`).
pub fn generate_client_secret() -> Secret {
    generate_secret(CLIENT_SECRET_PREFIX)
}

fn generate_secret(prefix: &str) -> Secret {
    let mut out = String::with_capacity(SECRET_LEN);
    out.push_str(prefix);
    push_random_chars(&mut out, SECRET_BODY_LEN, BASE62);
    let crc = crc32fast::hash(out.as_bytes());
    push_checksum(&mut out, crc);
    Secret::new(out)
}

/// Appends `n` characters drawn uniformly from `alphabet` (rejection sampling: no modulo bias).
fn push_random_chars(out: &mut String, n: usize, alphabet: &[u8]) {
    let limit = 256 - (256 % alphabet.len());
    let mut buf = [0u8; 64];
    let mut written = 0;
    while written < n {
        rand::fill(&mut buf).expect("the system CSPRNG failed");
        for &b in &buf {
            if (b as usize) < limit {
                out.push(alphabet[b as usize % alphabet.len()] as char);
                written += 1;
                if written == n {
                    return;
                }
            }
        }
    }
}

fn push_checksum(out: &mut String, crc: u32) {
    let mut digits = [b'0'; CHECKSUM_LEN];
    let mut v = crc as u64;
    for d in digits.iter_mut().rev() {
        *d = BASE62[(v % 62) as usize];
        v /= 62;
    }
    // 62^6 > 2^32: the checksum always fits.
    out.extend(digits.iter().map(|&b| b as char));
}

/// True when `s` is a well-formed API key: `agk_` prefix, exact length, base62 body and a
/// matching checksum. Cheap (no allocation) and safe on arbitrary input.
pub fn is_api_key(s: &str) -> bool {
    is_well_formed(s, API_KEY_PREFIX)
}

/// True when `s` is a well-formed generated client secret (`ags_…`, see [`is_api_key`]).
pub fn is_client_secret(s: &str) -> bool {
    is_well_formed(s, CLIENT_SECRET_PREFIX)
}

fn is_well_formed(s: &str, prefix: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != SECRET_LEN || !s.starts_with(prefix) {
        return false;
    }
    let (payload, checksum) = b.split_at(SECRET_LEN - CHECKSUM_LEN);
    if !payload[prefix.len()..].iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let mut expected = 0u64;
    for &c in checksum {
        let Some(v) = base62_value(c) else {
            return false;
        };
        expected = expected * 62 + v as u64;
    }
    expected == crc32fast::hash(payload) as u64
}

fn base62_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        b'a'..=b'z' => Some(c - b'a' + 36),
        _ => None,
    }
}

/// The last [`SUFFIX_LEN`] characters of a secret, shown as `token_suffix` / `secret_suffix`.
pub fn suffix(secret: &str) -> String {
    let start = secret
        .char_indices()
        .rev()
        .nth(SUFFIX_LEN - 1)
        .map(|(i, _)| i)
        .unwrap_or(0);
    secret[start..].to_owned()
}

/// A new public id: `prefix` followed by 19 random decimal digits.
pub fn new_id(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + ID_DIGITS);
    out.push_str(prefix);
    push_random_chars(&mut out, ID_DIGITS, b"0123456789");
    debug_assert!(out.len() <= MAX_ID_LEN);
    out
}

/// True when `s` looks like an id with this prefix: the prefix, then 1 or more characters from
/// `[A-Za-z0-9_-]`, at most `max_len` characters in all. Used to reject garbage before any
/// lookup; whether the id exists is the store's business.
pub fn is_id(s: &str, prefix: &str, max_len: usize) -> bool {
    s.len() <= max_len
        && s.len() > prefix.len()
        && s.starts_with(prefix)
        && s.as_bytes()[prefix.len()..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// How secrets are digested before they are stored or looked up.
///
/// - [`Digester::sha256`]: SHA-256 of the secret. Sound for secrets with ≥ 112 bits of entropy
///   (NIST SP 800-63B §5.1.2.2); a slow password hash would only cost latency.
/// - [`Digester::hmac_sha256`]: HMAC-SHA-256 keyed with a pepper held outside the database.
///
/// `Debug` never shows the pepper.
#[derive(Clone)]
pub struct Digester {
    key: Option<hmac::Key>,
    scheme: String,
}

impl Digester {
    /// Plain SHA-256 digests.
    pub fn sha256() -> Self {
        Digester {
            key: None,
            scheme: "sha256".to_owned(),
        }
    }

    /// HMAC-SHA-256 digests keyed with `pepper`.
    pub fn hmac_sha256(pepper: &Secret) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, pepper.expose().as_bytes());
        let tag = hmac::sign(&key, b"authgate/key-pepper-fingerprint/v1");
        let fingerprint: String = tag.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
        Digester {
            key: Some(key),
            scheme: format!("hmac-sha256:{fingerprint}"),
        }
    }

    /// The digest of a secret (32 bytes).
    pub fn digest(&self, secret: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        match &self.key {
            None => out.copy_from_slice(digest::digest(&digest::SHA256, secret.as_bytes()).as_ref()),
            Some(key) => out.copy_from_slice(hmac::sign(key, secret.as_bytes()).as_ref()),
        }
        out
    }

    /// A description of the scheme that is safe to store: `sha256`, or `hmac-sha256:` followed by
    /// a 64-bit fingerprint of the pepper (an HMAC of a fixed label; it does not reveal the pepper).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }
}

impl std::fmt::Debug for Digester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digester").field("scheme", &self.scheme).finish()
    }
}

/// Constant-time equality of two digests.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_well_formed_and_distinct() {
        let a = generate_api_key();
        let b = generate_api_key();
        assert_ne!(a, b);
        for k in [&a, &b] {
            assert!(is_api_key(k.expose()), "{}", k.expose());
            assert!(!is_client_secret(k.expose()));
            assert_eq!(k.expose().len(), SECRET_LEN);
        }
        let s = generate_client_secret();
        assert!(is_client_secret(s.expose()));
        assert!(!is_api_key(s.expose()));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        let key = generate_api_key().into_inner();
        let junk = "x".repeat(10_000);
        let cases = [
            String::new(),
            "agk_".to_owned(),
            key[..SECRET_LEN - 1].to_owned(),
            format!("{key}0"),
            key.replacen("agk_", "agx_", 1),
            key.replacen("agk_", "ags_", 1),
            format!("{}!{}", &key[..10], &key[11..]),
            format!("{}é{}", &key[..10], &key[12..]),
            junk,
            "apit_1234567890123456789".to_owned(),
        ];
        for c in &cases {
            assert!(!is_api_key(c), "{c:?} accepted");
        }
        // Every single-character substitution in the body or checksum is caught.
        for i in 4..SECRET_LEN {
            let mut bytes = key.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            assert!(!is_api_key(std::str::from_utf8(&bytes).unwrap()), "position {i}");
        }
    }

    #[test]
    fn checksum_encoding_covers_u32() {
        let mut s = String::new();
        push_checksum(&mut s, u32::MAX);
        assert_eq!(s.len(), CHECKSUM_LEN);
        let mut v = 0u64;
        for c in s.bytes() {
            v = v * 62 + base62_value(c).unwrap() as u64;
        }
        assert_eq!(v, u32::MAX as u64);
    }

    #[test]
    fn ids() {
        let id = new_id(TOKEN_ID_PREFIX);
        assert!(id.starts_with("apit_"));
        assert_eq!(id.len(), 5 + 19);
        assert!(id[5..].bytes().all(|b| b.is_ascii_digit()));
        assert!(is_id(&id, TOKEN_ID_PREFIX, MAX_ID_LEN));
        assert!(!is_id("apit_", TOKEN_ID_PREFIX, MAX_ID_LEN));
        assert!(!is_id("apit_12 3", TOKEN_ID_PREFIX, MAX_ID_LEN));
        assert!(!is_id(&"apit_1".repeat(10), TOKEN_ID_PREFIX, MAX_ID_LEN));
        assert!(!is_id("org_1", TOKEN_ID_PREFIX, MAX_ID_LEN));
    }

    #[test]
    fn suffix_is_last_four_chars() {
        assert_eq!(suffix("agk_abcdefgh"), "efgh");
        assert_eq!(suffix("abc"), "abc");
        assert_eq!(suffix("ééééé"), "éééé");
    }

    #[test]
    fn digests() {
        let plain = Digester::sha256();
        let a = Digester::hmac_sha256(&Secret::new("pepper-one-pepper-one-pepper-one"));
        let b = Digester::hmac_sha256(&Secret::new("pepper-two-pepper-two-pepper-two"));
        assert_eq!(plain.scheme(), "sha256");
        assert!(a.scheme().starts_with("hmac-sha256:"));
        assert_ne!(a.scheme(), b.scheme());
        assert!(!a.scheme().contains("pepper"));
        assert_ne!(plain.digest("k"), a.digest("k"));
        assert_ne!(a.digest("k"), b.digest("k"));
        assert_eq!(a.digest("k"), a.digest("k"));
        assert!(!format!("{a:?}").contains("pepper-one"));
        assert!(digests_equal(&a.digest("k"), &a.digest("k")));
        assert!(!digests_equal(&a.digest("k"), &a.digest("j")));
    }
}
