//! Verified claims, typed accessors and scope checks.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The claims read for scopes when none are configured, in this order: `scopes` (a JSON array,
/// what authgate and Scalekit issue), `scope` (RFC 8693/9068 space-separated string), `scp`
/// (Ory Hydra's array, Entra's string) and `permissions` (Auth0 RBAC array).
///
/// Every one of them may be a space-separated string or an array of strings; the token's scopes
/// are the union, without duplicates, in order of appearance. Values of any other JSON type
/// grant nothing.
pub const DEFAULT_SCOPE_CLAIMS: &[&str] = &["scopes", "scope", "scp", "permissions"];

/// How a list of required scopes is matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeMatch {
    /// Every required scope must be granted (the default).
    #[default]
    All,
    /// At least one required scope must be granted.
    Any,
}

/// What a route requires of a verified token, beyond its signature and registered claims: the
/// one check every adapter (Flask, FastAPI, Express) and validator method applies, through
/// [`Claims::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    /// Required scopes (none: no scope check).
    pub scopes: Vec<String>,
    /// How `scopes` are matched.
    pub mode: ScopeMatch,
    /// The token must be an organization's ([`Claims::require_organization`]).
    pub organization: bool,
}

/// The verified claims of a JWT access token.
///
/// Only ever built from a token whose signature, algorithm, key and registered claims have been
/// verified. Cheap to clone (shared, immutable). Serializes as the claims JSON object.
#[derive(Clone)]
pub struct Claims(Arc<Inner>);

struct Inner {
    map: Map<String, Value>,
    scopes: Vec<String>,
    exp: f64,
}

impl Claims {
    pub(crate) fn new(map: Map<String, Value>, exp: f64, scope_claims: &[String]) -> Claims {
        let scopes = extract_scopes(&map, scope_claims);
        Claims(Arc::new(Inner { map, scopes, exp }))
    }

    /// All claims as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0.map
    }

    /// A copy of all claims as a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.0.map.clone()
    }

    /// One claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.map.get(name)
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        self.0.map.get(name).and_then(Value::as_str)
    }

    /// `sub`: the subject (for authgate and Scalekit M2M tokens, the `m2morg_…` client id).
    pub fn subject(&self) -> Option<&str> {
        self.str_claim("sub")
    }

    /// `client_id` (RFC 9068), falling back to `azp` (OpenID Connect / Auth0 / Entra).
    pub fn client_id(&self) -> Option<&str> {
        self.str_claim("client_id").or_else(|| self.str_claim("azp"))
    }

    /// `oid`: the organization the token was issued for (authgate and Scalekit tokens).
    pub fn organization_id(&self) -> Option<&str> {
        self.str_claim("oid")
    }

    /// `iss`: the issuer.
    pub fn issuer(&self) -> Option<&str> {
        self.str_claim("iss")
    }

    /// `jti`: the token id.
    pub fn jwt_id(&self) -> Option<&str> {
        self.str_claim("jti")
    }

    /// `aud`, as a list whether the token has a string or an array (non-strings are skipped).
    pub fn audiences(&self) -> Vec<&str> {
        match self.0.map.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// `exp` in whole Unix seconds (always present: tokens without it are rejected).
    pub fn expires_at(&self) -> i64 {
        self.0.exp.floor() as i64
    }

    pub(crate) fn exp(&self) -> f64 {
        self.0.exp
    }

    /// `iat` in whole Unix seconds, if present.
    pub fn issued_at(&self) -> Option<i64> {
        self.unix_seconds("iat")
    }

    /// `nbf` in whole Unix seconds, if present.
    pub fn not_before(&self) -> Option<i64> {
        self.unix_seconds("nbf")
    }

    fn unix_seconds(&self, claim: &str) -> Option<i64> {
        self.0
            .map
            .get(claim)
            .and_then(Value::as_f64)
            .map(|v| v.floor() as i64)
    }

    /// The granted scopes, read from the configured scope claims (see [`DEFAULT_SCOPE_CLAIMS`]).
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// Whether `scope` is granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }

    /// Succeeds when every scope in `required` is granted; otherwise
    /// [`Error::InsufficientScope`] listing the missing ones. An empty list always succeeds.
    pub fn require_all<S: AsRef<str>>(&self, required: &[S]) -> Result<()> {
        let missing: Vec<String> = required
            .iter()
            .map(AsRef::as_ref)
            .filter(|r| !self.has_scope(r))
            .map(str::to_owned)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::InsufficientScope { missing })
        }
    }

    /// Succeeds when at least one scope in `required` is granted; otherwise
    /// [`Error::InsufficientScope`] listing all of them. An empty list always succeeds.
    pub fn require_any<S: AsRef<str>>(&self, required: &[S]) -> Result<()> {
        if required.is_empty() || required.iter().any(|r| self.has_scope(r.as_ref())) {
            Ok(())
        } else {
            Err(Error::InsufficientScope {
                missing: required.iter().map(|r| r.as_ref().to_owned()).collect(),
            })
        }
    }

    /// Succeeds when the token was issued to one of the environment's organizations (a
    /// non-empty `oid`), returning that organization's id; otherwise
    /// [`Error::InsufficientScope`] with no missing scope (403 "the token may not use this
    /// resource"). This is the check of a route open to *any* organization's token whatever its
    /// scopes: it refuses the environment's own admin token (issued to an `skc_` credential, with
    /// no `oid`), which a route with no scope requirement would otherwise accept.
    pub fn require_organization(&self) -> Result<&str> {
        match self.organization_id() {
            Some(oid) if !oid.is_empty() => Ok(oid),
            _ => Err(Error::InsufficientScope { missing: Vec::new() }),
        }
    }

    /// The scopes of `requirement` ([`require`](Claims::require)), then, when it asks for one,
    /// the organization ([`require_organization`](Claims::require_organization)).
    pub fn check(&self, requirement: &Requirement) -> Result<()> {
        self.require(&requirement.scopes, requirement.mode)?;
        if requirement.organization {
            self.require_organization()?;
        }
        Ok(())
    }

    /// [`require_all`](Claims::require_all) or [`require_any`](Claims::require_any).
    pub fn require<S: AsRef<str>>(&self, required: &[S], mode: ScopeMatch) -> Result<()> {
        match mode {
            ScopeMatch::All => self.require_all(required),
            ScopeMatch::Any => self.require_any(required),
        }
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("claims", &self.0.map)
            .field("scopes", &self.0.scopes)
            .finish()
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.0.map == other.0.map && self.0.scopes == other.0.scopes
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.map.serialize(serializer)
    }
}

fn extract_scopes(map: &Map<String, Value>, claims: &[String]) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_owned());
        }
    };
    for claim in claims {
        match map.get(claim.as_str()) {
            Some(Value::String(s)) => s.split_ascii_whitespace().for_each(&mut push),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .flat_map(str::split_ascii_whitespace)
                .for_each(&mut push),
            _ => {}
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        let claims: Vec<String> = DEFAULT_SCOPE_CLAIMS.iter().map(|s| s.to_string()).collect();
        Claims::new(v.as_object().unwrap().clone(), 100.0, &claims)
    }

    #[test]
    fn scopes_come_from_every_format_without_duplicates() {
        let c = claims(json!({
            "scopes": ["a", "b"], "scope": "b c", "scp": ["d"], "permissions": ["e", 5, {"x": 1}]
        }));
        assert_eq!(c.scopes(), ["a", "b", "c", "d", "e"]);
        assert_eq!(claims(json!({"scp": "x  y"})).scopes(), ["x", "y"]);
        assert!(claims(json!({"scope": 7})).scopes().is_empty());
    }

    #[test]
    fn only_configured_claims_are_read() {
        let c = Claims::new(
            json!({"scope": "a", "roles": ["admin"]})
                .as_object()
                .unwrap()
                .clone(),
            1.0,
            &["roles".to_string()],
        );
        assert_eq!(c.scopes(), ["admin"]);
    }

    #[test]
    fn require_all_and_any() {
        let c = claims(json!({"scopes": ["read", "write"]}));
        assert!(c.require_all(&["read", "write"]).is_ok());
        assert!(c.require_all::<&str>(&[]).is_ok());
        assert_eq!(
            c.require_all(&["read", "admin", "root"]),
            Err(Error::InsufficientScope {
                missing: vec!["admin".into(), "root".into()]
            })
        );
        assert!(c.require_any(&["admin", "write"]).is_ok());
        assert_eq!(
            c.require_any(&["admin", "root"]),
            Err(Error::InsufficientScope {
                missing: vec!["admin".into(), "root".into()]
            })
        );
        assert!(c.require(&["admin", "read"], ScopeMatch::Any).is_ok());
        assert!(c.require(&["admin", "read"], ScopeMatch::All).is_err());
    }

    #[test]
    fn require_organization_refuses_tokens_without_an_organization() {
        let org = claims(json!({"sub": "m2morg_1", "oid": "org_1"}));
        assert_eq!(org.require_organization(), Ok("org_1"));
        for environment in [
            json!({"sub": "skc_1"}),
            json!({"sub": "skc_1", "oid": ""}),
            json!({"oid": 7}),
        ] {
            assert_eq!(
                claims(environment).require_organization(),
                Err(Error::InsufficientScope { missing: vec![] })
            );
        }
    }

    #[test]
    fn accessors() {
        let c = claims(json!({
            "sub": "m2morg_1", "azp": "m2morg_1", "oid": "org_1", "iss": "https://i",
            "aud": ["a", 3, "b"], "iat": 10, "nbf": 10.5, "jti": "tkn_1"
        }));
        assert_eq!(c.subject(), Some("m2morg_1"));
        assert_eq!(c.client_id(), Some("m2morg_1"));
        assert_eq!(c.organization_id(), Some("org_1"));
        assert_eq!(c.issuer(), Some("https://i"));
        assert_eq!(c.audiences(), ["a", "b"]);
        assert_eq!(c.expires_at(), 100);
        assert_eq!(c.issued_at(), Some(10));
        assert_eq!(c.not_before(), Some(10));
        assert_eq!(c.jwt_id(), Some("tkn_1"));
        assert_eq!(serde_json::to_value(&c).unwrap()["oid"], "org_1");
        assert_eq!(claims(json!({"aud": "x"})).audiences(), ["x"]);
    }
}
