//! The limits of the authority's inputs, and the checks that enforce them before any store access.
//!
//! Lengths count Unicode scalar values (characters), not bytes. Control characters are refused
//! everywhere except newlines and tabs. Violations are [`Error::InvalidArgument`] naming the field.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::keys;
use crate::model::{CustomClaim, RateLimit};
use crate::policy::network::{self, IpNet};

/// API keys: at most this many custom claims.
pub const TOKEN_MAX_CLAIMS: usize = 20;
/// API keys: claim key length range.
pub const TOKEN_CLAIM_KEY_LEN: (usize, usize) = (1, 30);
/// API keys: claim value length range.
pub const TOKEN_CLAIM_VALUE_LEN: (usize, usize) = (1, 256);
/// API keys: maximum description length.
pub const TOKEN_MAX_DESCRIPTION: usize = 255;
/// API keys: `list_tokens` page size range and default.
pub const TOKEN_PAGE_SIZE: (u32, u32, u32) = (1, 30, 10);
/// API-key rotation grace period in seconds: (min, max, default). 0 revokes the old key at once.
pub const ROTATION_GRACE: (i64, i64, i64) = (0, 2_592_000, 86_400);
/// API keys: at most this many networks in `allowed_cidrs` (and at least one).
pub const TOKEN_MAX_CIDRS: usize = 50;
/// API keys: `rate_limit.limit` range.
pub const RATE_LIMIT: (u64, u64) = (1, 1_000_000_000);
/// API keys: `rate_limit.window_seconds` range.
pub const RATE_WINDOW: (u64, u64) = (1, 86_400);

/// Organizations: display name length range.
pub const ORG_NAME_LEN: (usize, usize) = (1, 200);
/// Organizations and users: external id length range.
pub const EXTERNAL_ID_LEN: (usize, usize) = (1, 128);
/// Organizations and users: list page size range and default.
pub const PAGE_SIZE: (u32, u32, u32) = (1, 100, 10);

/// Users: maximum email length (RFC 5321 path limit).
pub const EMAIL_MAX: usize = 254;
/// Users: at most this many roles per membership.
pub const MAX_ROLES: usize = 50;
/// Users: role name length range.
pub const ROLE_LEN: (usize, usize) = (1, 100);

/// M2M clients: name length range (required on create).
pub const CLIENT_NAME_LEN: (usize, usize) = (1, 128);
/// M2M clients: maximum description length.
pub const CLIENT_MAX_DESCRIPTION: usize = 512;
/// M2M clients: at most this many scopes.
pub const CLIENT_MAX_SCOPES: usize = 100;
/// M2M clients: scope length range (RFC 6749 `scope-token` characters only).
pub const SCOPE_LEN: (usize, usize) = (1, 128);
/// M2M clients: at most this many audiences.
pub const CLIENT_MAX_AUDIENCES: usize = 20;
/// M2M clients: audience length range (no whitespace).
pub const AUDIENCE_LEN: (usize, usize) = (1, 256);
/// M2M clients: at most this many custom claims.
pub const CLIENT_MAX_CLAIMS: usize = 20;
/// M2M clients: claim key length range.
pub const CLIENT_CLAIM_KEY_LEN: (usize, usize) = (1, 128);
/// M2M clients: claim value length range.
pub const CLIENT_CLAIM_VALUE_LEN: (usize, usize) = (1, 256);
/// M2M clients: access-token lifetime range in seconds, and the default.
pub const CLIENT_EXPIRY: (i64, i64, i64) = (60, 2_592_000, 3600);
/// M2M clients: `list_organization_clients` page size range and default.
pub const CLIENT_PAGE_SIZE: (u32, u32, u32) = (10, 100, 10);
/// M2M clients: at most this many secrets per client.
pub const CLIENT_MAX_SECRETS: usize = 10;

/// Environment clients: length range of a provisioned secret.
pub const ENVIRONMENT_SECRET_LEN: (usize, usize) = (32, 512);
/// Environment clients: maximum id length (`skc_…`).
pub const ENVIRONMENT_ID_MAX: usize = 64;

/// Signing keys: the longest a rotated-in key may stay pending before it activates (30 days).
pub const SIGNING_KEY_ACTIVATION_MAX: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

pub(crate) fn len_in(field: &str, value: &str, (min, max): (usize, usize)) -> Result<()> {
    let n = value.chars().count();
    if n < min || n > max {
        let what = if min == max {
            format!("must be {min} characters")
        } else if min == 0 {
            format!("must be at most {max} characters (got {n})")
        } else {
            format!("must be {min}–{max} characters (got {n})")
        };
        return Err(Error::invalid(field, what));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// An id of the given kind; `field` names it in the error.
pub(crate) fn id(field: &str, value: &str, prefix: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if !keys::is_id(value, prefix, keys::MAX_ID_LEN) {
        return Err(Error::invalid(
            field,
            format!(
                "must be an id starting with {prefix} (at most {} characters)",
                keys::MAX_ID_LEN
            ),
        ));
    }
    Ok(())
}

/// An organization id.
pub(crate) fn org_id(value: &str) -> Result<()> {
    id("organization_id", value, keys::ORGANIZATION_ID_PREFIX)
}

/// An organization id and the id of one of its M2M clients.
pub(crate) fn client_ids(organization_id: &str, client_id: &str) -> Result<()> {
    org_id(organization_id)?;
    id("client_id", client_id, keys::M2M_CLIENT_ID_PREFIX)
}

/// A user id.
pub(crate) fn user_id(value: &str) -> Result<()> {
    id("user_id", value, keys::USER_ID_PREFIX)
}

/// A user named by id (`user_id`) or by external id (`external_id`).
pub(crate) fn user_ref(value: &crate::model::UserRef) -> Result<()> {
    match value {
        crate::model::UserRef::Id(id) => user_id(id),
        crate::model::UserRef::ExternalId(e) => external_id(e),
    }
}

/// An external id (organizations and users).
pub(crate) fn external_id(value: &str) -> Result<()> {
    len_in("external_id", value, EXTERNAL_ID_LEN)
}

/// `Some("")` is the same as `None` (proto3 and form inputs send empty strings for "unset").
pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// An optional input: [`non_empty`], then `check` when there is a value.
pub(crate) fn optional(
    value: Option<String>,
    check: impl FnOnce(&str) -> Result<()>,
) -> Result<Option<String>> {
    let value = non_empty(value);
    if let Some(v) = &value {
        check(v)?;
    }
    Ok(value)
}

/// Custom claims: at most `max`, keys and values within their length ranges, no key twice.
fn claims<'a>(
    claims: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    max: usize,
    key_len: (usize, usize),
    value_len: (usize, usize),
) -> Result<()> {
    if claims.len() > max {
        return Err(Error::invalid(
            "custom_claims",
            format!("at most {max} claims (got {})", claims.len()),
        ));
    }
    let mut seen = BTreeSet::new();
    for (k, v) in claims {
        len_in("custom_claims", k, key_len).map_err(|e| reword(e, format!("claim key {k:?}")))?;
        len_in("custom_claims", v, value_len).map_err(|e| reword(e, format!("value of claim {k:?}")))?;
        if !seen.insert(k) {
            return Err(Error::invalid(
                "custom_claims",
                format!("claim key {k:?} appears twice"),
            ));
        }
    }
    Ok(())
}

pub(crate) fn token_claims(map: &BTreeMap<String, String>) -> Result<()> {
    claims(
        map.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        TOKEN_MAX_CLAIMS,
        TOKEN_CLAIM_KEY_LEN,
        TOKEN_CLAIM_VALUE_LEN,
    )
}

fn reword(e: Error, subject: String) -> Error {
    match e {
        Error::InvalidArgument { field, message } => Error::InvalidArgument {
            field,
            message: format!("{subject} {message}"),
        },
        other => other,
    }
}

pub(crate) fn token_description(d: &str) -> Result<()> {
    len_in("description", d, (0, TOKEN_MAX_DESCRIPTION))
}

pub(crate) fn page_size(value: Option<u32>, (min, max, default): (u32, u32, u32)) -> Result<u32> {
    match value {
        None | Some(0) => Ok(default),
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(Error::invalid(
            "page_size",
            format!("must be between {min} and {max} (got {n})"),
        )),
    }
}

/// A normalised (trimmed, lowercased) email address.
pub(crate) fn email(value: &str) -> Result<String> {
    let e = value.trim().to_lowercase();
    if e.is_empty() {
        return Err(Error::invalid("email", "is required"));
    }
    let valid = e.len() <= EMAIL_MAX
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if !valid {
        return Err(Error::invalid("email", "is not a valid email address"));
    }
    Ok(e)
}

/// At most `max` values (`noun` in the error), each within `len` and passing `check`,
/// deduplicated in order.
fn distinct(
    field: &str,
    noun: &str,
    values: &[String],
    max: usize,
    len: (usize, usize),
    check: impl Fn(&str) -> Result<()>,
) -> Result<Vec<String>> {
    if values.len() > max {
        return Err(Error::invalid(field, format!("at most {max} {noun}")));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for v in values {
        len_in(field, v, len)?;
        check(v)?;
        if seen.insert(v.as_str()) {
            out.push(v.clone());
        }
    }
    Ok(out)
}

/// Role names, deduplicated in order.
pub(crate) fn roles(values: &[String]) -> Result<Vec<String>> {
    distinct("roles", "roles", values, MAX_ROLES, ROLE_LEN, |r| {
        if r.chars().any(char::is_whitespace) {
            return Err(Error::invalid("roles", format!("role {r:?} contains whitespace")));
        }
        Ok(())
    })
}

/// True for an RFC 6749 `scope-token`: printable ASCII except space, `"` and `\`.
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Scopes, deduplicated in order.
pub(crate) fn scopes(values: &[String]) -> Result<Vec<String>> {
    distinct("scopes", "scopes", values, CLIENT_MAX_SCOPES, SCOPE_LEN, |s| {
        if !is_scope_token(s) {
            return Err(Error::invalid(
                "scopes",
                format!("scope {s:?} may only contain printable ASCII without spaces, '\"' or '\\'"),
            ));
        }
        Ok(())
    })
}

/// Audiences, deduplicated in order.
pub(crate) fn audiences(values: &[String]) -> Result<Vec<String>> {
    distinct(
        "audience",
        "audiences",
        values,
        CLIENT_MAX_AUDIENCES,
        AUDIENCE_LEN,
        |a| {
            if a.chars().any(char::is_whitespace) {
                return Err(Error::invalid(
                    "audience",
                    format!("audience {a:?} contains whitespace"),
                ));
            }
            Ok(())
        },
    )
}

pub(crate) fn client_claims(list: &[CustomClaim]) -> Result<()> {
    claims(
        list.iter().map(|c| (c.key.as_str(), c.value.as_str())),
        CLIENT_MAX_CLAIMS,
        CLIENT_CLAIM_KEY_LEN,
        CLIENT_CLAIM_VALUE_LEN,
    )
}

/// A token lifetime; `None` or `0` means "not given".
pub(crate) fn client_expiry(value: Option<i64>) -> Result<Option<i64>> {
    let (min, max, _) = CLIENT_EXPIRY;
    match value {
        None | Some(0) => Ok(None),
        Some(s) if (min..=max).contains(&s) => Ok(Some(s)),
        Some(s) => Err(Error::invalid(
            "expiry",
            format!("token lifetime must be between {min} and {max} seconds (got {s})"),
        )),
    }
}

/// A signing-key activation delay in whole milliseconds (a fraction of one rounds up, so only
/// zero means "at once"), at most [`SIGNING_KEY_ACTIVATION_MAX`].
pub(crate) fn activation_delay(field: &str, delay: std::time::Duration) -> Result<i64> {
    if delay > SIGNING_KEY_ACTIVATION_MAX {
        return Err(Error::invalid(
            field,
            format!(
                "must be at most {} seconds (30 days)",
                SIGNING_KEY_ACTIVATION_MAX.as_secs()
            ),
        ));
    }
    Ok(delay.as_nanos().div_ceil(1_000_000) as i64)
}

/// An API key's networks: 1–[`TOKEN_MAX_CIDRS`] entries, each a network or a bare address
/// ([`IpNet`]); returned in canonical form, duplicates dropped, order kept. An empty list is
/// refused: it would refuse every caller (to allow any address, leave the field out).
pub fn allowed_cidrs(list: &[String]) -> Result<Vec<String>> {
    const FIELD: &str = "allowed_cidrs";
    if list.is_empty() {
        return Err(Error::invalid(
            FIELD,
            "an empty list would refuse every address; leave the field out to allow any address",
        ));
    }
    if list.len() > TOKEN_MAX_CIDRS {
        return Err(Error::invalid(
            FIELD,
            format!("at most {TOKEN_MAX_CIDRS} networks"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for entry in list {
        let net: IpNet = entry.parse().map_err(|m: String| Error::invalid(FIELD, m))?;
        let text = net.to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(out)
}

/// A key's rate limit: `limit` in [`RATE_LIMIT`], `window_seconds` in [`RATE_WINDOW`].
pub fn rate_limit(rate: &RateLimit) -> Result<()> {
    let ((lmin, lmax), (wmin, wmax)) = (RATE_LIMIT, RATE_WINDOW);
    if !(lmin..=lmax).contains(&rate.limit) {
        return Err(Error::invalid(
            "rate_limit.limit",
            format!("must be between {lmin} and {lmax}"),
        ));
    }
    if !(wmin..=wmax).contains(&rate.window_seconds) {
        return Err(Error::invalid(
            "rate_limit.window_seconds",
            format!("must be between {wmin} and {wmax} seconds"),
        ));
    }
    Ok(())
}

/// The caller address given with a validation (`client_ip`).
pub fn client_ip(text: &str) -> Result<std::net::IpAddr> {
    network::parse_ip(text).map_err(|m| Error::invalid("client_ip", m))
}

/// The grace period of a rotation, in seconds (absent: the default).
pub fn rotation_grace(seconds: Option<i64>) -> Result<i64> {
    let (min, max, default) = ROTATION_GRACE;
    match seconds {
        None => Ok(default),
        Some(s) if (min..=max).contains(&s) => Ok(s),
        Some(_) => Err(Error::invalid(
            "grace_period_seconds",
            format!("must be between {min} and {max} seconds"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters() {
        assert!(len_in("f", &"é".repeat(30), TOKEN_CLAIM_KEY_LEN).is_ok());
        assert!(len_in("f", &"é".repeat(31), TOKEN_CLAIM_KEY_LEN).is_err());
        assert!(len_in("f", "", TOKEN_CLAIM_KEY_LEN).is_err());
        assert!(len_in("f", "a\u{0}b", TOKEN_CLAIM_KEY_LEN).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "@x", "ann@", "a b@x", "a@b@c"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("read:orders"));
        assert!(is_scope_token("https://api.example.com/x.read"));
        for bad in ["", "a b", "a\"b", "a\\b", "é"] {
            assert!(!is_scope_token(bad), "{bad}");
        }
        assert_eq!(scopes(&["a".into(), "b".into(), "a".into()]).unwrap(), ["a", "b"]);
    }

    #[test]
    fn activation_delays() {
        use std::time::Duration;
        assert_eq!(activation_delay("d", Duration::ZERO).unwrap(), 0);
        assert_eq!(activation_delay("d", Duration::from_nanos(1)).unwrap(), 1);
        assert_eq!(activation_delay("d", Duration::from_millis(1500)).unwrap(), 1500);
        assert_eq!(
            activation_delay("d", SIGNING_KEY_ACTIVATION_MAX).unwrap(),
            2_592_000_000
        );
        let err = activation_delay("d", SIGNING_KEY_ACTIVATION_MAX + Duration::from_millis(1)).unwrap_err();
        assert_eq!(err.code(), "invalid_argument");
        assert!(activation_delay("d", Duration::MAX).is_err());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None, TOKEN_PAGE_SIZE).unwrap(), 10);
        assert_eq!(page_size(Some(0), TOKEN_PAGE_SIZE).unwrap(), 10);
        assert_eq!(page_size(Some(30), TOKEN_PAGE_SIZE).unwrap(), 30);
        assert!(page_size(Some(31), TOKEN_PAGE_SIZE).is_err());
        assert!(page_size(Some(9), CLIENT_PAGE_SIZE).is_err());
        assert_eq!(page_size(Some(100), CLIENT_PAGE_SIZE).unwrap(), 100);
    }
}
