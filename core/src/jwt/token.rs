//! Parsing of a compact JWS and checking of the registered claims.
//!
//! Nothing here trusts the token: the header is read only for `alg`, `kid`, `typ` and `crit`
//! (`jku`, `x5u`, `jwk`, `x5c` are never looked at), and the payload is parsed as JSON only
//! after the signature has been verified (its base64url is checked before, like every segment).

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::algorithm::Algorithm;
use crate::error::TokenError;

/// The longest `kid` looked up; longer ones are treated as unknown without any refetch.
pub(crate) const MAX_KID_LEN: usize = 256;

/// The parts of a compact JWS the validator needs, borrowed from the token.
#[derive(Debug)]
pub(crate) struct Jws<'t> {
    /// `BASE64URL(header) '.' BASE64URL(payload)`: what the signature covers.
    pub signing_input: &'t [u8],
    /// The decoded payload bytes (not parsed until the signature has verified).
    pub payload: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
    /// The algorithm named by the header (already checked against the allowlist).
    pub alg: Algorithm,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The header's `typ`, if any.
    pub typ: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Option<Cow<'a, str>>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    /// Present means a list of strings: `"crit": null` is refused, not read as absent.
    #[serde(default, deserialize_with = "present_list")]
    crit: Option<Vec<String>>,
}

fn present_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    <Vec<String> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Splits and decodes a token, checking its structure, header and algorithm. The caller has
/// checked its size (nothing is decoded, or hashed, for an oversize token).
///
/// `allowed` is the algorithm allowlist.
pub(crate) fn parse<'t>(token: &'t str, allowed: &[Algorithm]) -> Result<Jws<'t>, TokenError> {
    let bytes = token.as_bytes();
    let mut dots = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .map(|(i, _)| i);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(TokenError::Malformed);
    };
    let header_b64 = &bytes[..first];
    let payload_b64 = &bytes[first + 1..second];
    let signature_b64 = &bytes[second + 1..];
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(TokenError::Malformed);
    }

    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| TokenError::Malformed)?;
    if header_json.first() != Some(&b'{') {
        return Err(TokenError::Malformed);
    }
    let header: RawHeader<'_> = serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
    let alg = header.alg.ok_or(TokenError::Malformed)?;
    let alg = Algorithm::from_name(&alg)
        .filter(|a| allowed.contains(a))
        .ok_or(TokenError::AlgorithmNotAllowed)?;
    if let Some(crit) = &header.crit {
        // RFC 7515 §4.1.11: a present `crit` must be a non-empty list. This validator
        // implements no extension (not even `b64`), so any listed one is not understood.
        return Err(if crit.is_empty() {
            TokenError::Malformed
        } else {
            TokenError::UnsupportedCritical
        });
    }
    // Checked after `alg`, so that an unsigned `alg: none` token reads as what it is.
    if signature_b64.is_empty() {
        return Err(TokenError::Malformed);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| TokenError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TokenError::Malformed)?;
    Ok(Jws {
        signing_input: &bytes[..second],
        payload,
        signature,
        alg,
        kid: header.kid,
        typ: header.typ,
    })
}

/// Whether a header `typ` matches the required one: case-insensitive, ignoring an
/// `application/` prefix on either side (RFC 7515 §4.1.9).
pub(crate) fn typ_matches(actual: Option<&str>, required: &str) -> bool {
    fn norm(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &t[12..],
            _ => t,
        }
    }
    actual.is_some_and(|a| norm(a).eq_ignore_ascii_case(norm(required)))
}

/// A JSON object that refuses duplicate member names (RFC 7519 §4 says they must be rejected
/// or the last one used; rejecting removes any parser-differential ambiguity).
struct UniqueMap(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UniqueMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueMap, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if map.insert(key, value).is_some() {
                        return Err(de::Error::custom("duplicate claim"));
                    }
                }
                Ok(UniqueMap(map))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Parses the (verified) payload into a claims object.
pub(crate) fn parse_payload(json: &[u8]) -> Result<Map<String, Value>, TokenError> {
    serde_json::from_slice::<UniqueMap>(json)
        .map(|m| m.0)
        .map_err(|_| TokenError::Malformed)
}

/// What the registered claims are checked against.
#[derive(Debug)]
pub(crate) struct ClaimRules<'a> {
    pub now: f64,
    pub leeway: f64,
    pub issuer: Option<&'a str>,
    pub audiences: &'a [String],
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(TokenError::InvalidClaimType(name)),
        Some(_) => Err(TokenError::InvalidClaimType(name)),
    }
}

fn string_claim<'c>(
    claims: &'c Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'c str>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TokenError::InvalidClaimType(name)),
    }
}

/// Checks the registered claims; returns `exp`.
///
/// Order: the JSON types of `exp`, `nbf`, `iat`, `iss`, `sub`, `jti`, `aud` (a wrong type is
/// rejected whether or not the claim is otherwise checked), then `exp` present and not past,
/// `nbf` reached, `iss`, `aud`.
pub(crate) fn check_claims(claims: &Map<String, Value>, rules: &ClaimRules<'_>) -> Result<f64, TokenError> {
    let exp = numeric_date(claims, "exp")?;
    let nbf = numeric_date(claims, "nbf")?;
    numeric_date(claims, "iat")?;
    let iss = string_claim(claims, "iss")?;
    string_claim(claims, "sub")?;
    string_claim(claims, "jti")?;
    let aud: Vec<&str> = match claims.get("aud") {
        None => Vec::new(),
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or(TokenError::InvalidClaimType("aud")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(TokenError::InvalidClaimType("aud")),
    };

    let exp = exp.ok_or(TokenError::MissingExpiry)?;
    if rules.now >= exp + rules.leeway {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = nbf
        && rules.now + rules.leeway < nbf
    {
        return Err(TokenError::NotYetValid);
    }
    if let Some(expected) = rules.issuer
        && iss != Some(expected)
    {
        return Err(TokenError::InvalidIssuer);
    }
    if !rules.audiences.is_empty() && !aud.iter().any(|a| rules.audiences.iter().any(|want| want == a)) {
        return Err(TokenError::InvalidAudience);
    }
    Ok(exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: &str) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    fn parse_str(token: &str) -> Result<Algorithm, TokenError> {
        parse(token, super::super::algorithm::DEFAULT_ALGORITHMS).map(|j| j.alg)
    }

    #[test]
    fn structure_errors() {
        let h = enc(r#"{"alg":"RS256"}"#);
        assert_eq!(parse_str("a.b"), Err(TokenError::Malformed));
        assert_eq!(parse_str("a.b.c.d"), Err(TokenError::Malformed));
        assert_eq!(parse_str(&format!("{h}..c2ln")), Err(TokenError::Malformed));
        assert_eq!(parse_str(&format!("{h}.e30.")), Err(TokenError::Malformed));
        let none = enc(r#"{"alg":"none"}"#);
        assert_eq!(
            parse_str(&format!("{none}.e30.")),
            Err(TokenError::AlgorithmNotAllowed)
        );
        assert_eq!(parse_str(&format!("{h}=.e30.c2ln")), Err(TokenError::Malformed));
        assert_eq!(
            parse_str(&format!("{}.e30.c2ln", enc("[1]"))),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            parse_str(&format!("{}.e30.c2ln", enc("{}"))),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            parse_str(&format!("{}.e30.c2ln", enc(r#"{"alg":"RS256","alg":"none"}"#))),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            parse_str(&format!("{}.e30.c2ln", enc(r#"{"alg":"RS256","kid":5}"#))),
            Err(TokenError::Malformed)
        );
        assert_eq!(parse_str(&format!("{h}.e30.c2ln")), Ok(Algorithm::RS256));
    }

    #[test]
    fn algorithms_and_crit() {
        for alg in ["none", "HS256", "RS1", "rs256", "ES256K"] {
            let t = format!("{}.e30.c2ln", enc(&format!(r#"{{"alg":"{alg}"}}"#)));
            assert_eq!(parse_str(&t), Err(TokenError::AlgorithmNotAllowed), "{alg}");
        }
        let t = format!("{}.e30.c2ln", enc(r#"{"alg":"RS384"}"#));
        assert_eq!(parse_str(&t), Err(TokenError::AlgorithmNotAllowed));
        let t = format!("{}.e30.c2ln", enc(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#));
        assert_eq!(parse_str(&t), Err(TokenError::UnsupportedCritical));
        let t = format!("{}.e30.c2ln", enc(r#"{"alg":"RS256","crit":null}"#));
        assert!(
            parse(&t, &[Algorithm::RS256]).is_err(),
            "a null crit is not an absent one"
        );
        let t = format!("{}.e30.c2ln", enc(r#"{"alg":"RS256","crit":[]}"#));
        assert_eq!(parse_str(&t), Err(TokenError::Malformed));
        // Unfollowed headers are simply ignored.
        let t = format!(
            "{}.e30.c2ln",
            enc(r#"{"alg":"RS256","jku":"https://evil","x5u":"https://evil","jwk":{"kty":"oct"}}"#)
        );
        assert_eq!(parse_str(&t), Ok(Algorithm::RS256));
    }

    #[test]
    fn typ_comparison() {
        assert!(typ_matches(Some("at+jwt"), "at+jwt"));
        assert!(typ_matches(Some("application/AT+JWT"), "at+jwt"));
        assert!(typ_matches(Some("at+jwt"), "application/at+jwt"));
        assert!(!typ_matches(Some("JWT"), "at+jwt"));
        assert!(!typ_matches(None, "at+jwt"));
    }

    #[test]
    fn payload_duplicates_and_types() {
        assert_eq!(
            parse_payload(br#"{"sub":"a","sub":"b"}"#),
            Err(TokenError::Malformed)
        );
        assert_eq!(parse_payload(b"[]"), Err(TokenError::Malformed));
        assert!(parse_payload(br#"{"a":{"b":1}}"#).is_ok());
    }

    #[test]
    fn claim_rules() {
        let rules = ClaimRules {
            now: 1000.0,
            leeway: 60.0,
            issuer: Some("https://i"),
            audiences: &["api".to_string()],
        };
        let check = |v: Value| check_claims(v.as_object().unwrap(), &rules);
        let ok = json!({"exp": 2000, "iss": "https://i", "aud": "api"});
        assert_eq!(check(ok), Ok(2000.0));
        assert_eq!(
            check(json!({"iss": "https://i", "aud": "api"})),
            Err(TokenError::MissingExpiry)
        );
        assert_eq!(
            check(json!({"exp": "2000", "iss": "https://i", "aud": "api"})),
            Err(TokenError::InvalidClaimType("exp"))
        );
        assert_eq!(
            check(json!({"exp": 2000, "nbf": "1", "iss": "https://i", "aud": "api"})),
            Err(TokenError::InvalidClaimType("nbf"))
        );
        assert_eq!(
            check(json!({"exp": 2000, "iat": null, "iss": "https://i", "aud": "api"})),
            Err(TokenError::InvalidClaimType("iat"))
        );
        assert_eq!(
            check(json!({"exp": 940, "iss": "https://i", "aud": "api"})),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check(json!({"exp": 941, "iss": "https://i", "aud": "api"})),
            Ok(941.0)
        );
        assert_eq!(
            check(json!({"exp": 2000, "nbf": 1061, "iss": "https://i", "aud": "api"})),
            Err(TokenError::NotYetValid)
        );
        assert!(check(json!({"exp": 2000, "nbf": 1060, "iss": "https://i", "aud": "api"})).is_ok());
        assert_eq!(
            check(json!({"exp": 2000, "iss": "https://i.evil", "aud": "api"})),
            Err(TokenError::InvalidIssuer)
        );
        assert_eq!(
            check(json!({"exp": 2000, "aud": "api"})),
            Err(TokenError::InvalidIssuer)
        );
        assert_eq!(
            check(json!({"exp": 2000, "iss": "https://i", "aud": ["x", "y"]})),
            Err(TokenError::InvalidAudience)
        );
        assert_eq!(
            check(json!({"exp": 2000, "iss": "https://i"})),
            Err(TokenError::InvalidAudience)
        );
        assert_eq!(
            check(json!({"exp": 2000, "iss": "https://i", "aud": ["api", 1]})),
            Err(TokenError::InvalidClaimType("aud"))
        );
        assert!(check(json!({"exp": 2000, "iss": "https://i", "aud": ["x", "api"]})).is_ok());
        let open = ClaimRules {
            now: 1000.0,
            leeway: 0.0,
            issuer: None,
            audiences: &[],
        };
        assert!(check_claims(json!({"exp": 1000.5, "aud": "any"}).as_object().unwrap(), &open).is_ok());
        assert_eq!(
            check_claims(json!({"exp": 1000}).as_object().unwrap(), &open),
            Err(TokenError::Expired)
        );
    }
}
