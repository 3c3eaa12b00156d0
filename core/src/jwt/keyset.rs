//! A JWK Set parsed once into verification keys.
//!
//! Every usable JWK becomes a [`VerifyingKey`] whose public key is parsed by aws-lc-rs when the
//! set is installed (and, for RSA keys usable with several algorithms, on first use per
//! algorithm), never per token. Keys that cannot be used are remembered with the reason, so a
//! token naming one is rejected without triggering a refetch.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::algorithm::{Algorithm, Curve, KeyFamily};
use crate::error::TokenError;
use crate::model::{Jwk, JwkSet};

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (larger keys make verification a DoS vector).
pub(crate) const MAX_RSA_BITS: usize = 8192;

/// The members of one JWK this validator reads. Everything else (`x5c`, `x5t`, private members
/// of a mistakenly published private key, …) is ignored.
#[derive(Debug, Default, Clone)]
pub(crate) struct JwkFields {
    pub kty: Option<String>,
    pub kid: Option<String>,
    pub use_: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub alg: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

impl JwkFields {
    /// Reads the members from a JSON object; members of the wrong JSON type count as malformed.
    fn from_json(obj: &Map<String, Value>) -> Result<JwkFields, &'static str> {
        fn s(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, &'static str> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(v)) => Ok(Some(v.clone())),
                Some(_) => Err("a JWK member has the wrong JSON type"),
            }
        }
        let key_ops = match obj.get("key_ops") {
            None | Some(Value::Null) => None,
            Some(Value::Array(ops)) => Some(
                ops.iter()
                    .map(|op| op.as_str().map(str::to_owned).ok_or("key_ops holds a non-string"))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err("key_ops is not an array"),
        };
        Ok(JwkFields {
            kty: s(obj, "kty")?,
            kid: s(obj, "kid")?,
            use_: s(obj, "use")?,
            key_ops,
            alg: s(obj, "alg")?,
            n: s(obj, "n")?,
            e: s(obj, "e")?,
            crv: s(obj, "crv")?,
            x: s(obj, "x")?,
            y: s(obj, "y")?,
        })
    }
}

impl From<&Jwk> for JwkFields {
    fn from(jwk: &Jwk) -> Self {
        JwkFields {
            kty: Some(jwk.kty.clone()),
            kid: jwk.kid.clone(),
            use_: jwk.use_.clone(),
            key_ops: None,
            alg: jwk.alg.clone(),
            n: jwk.n.clone(),
            e: jwk.e.clone(),
            crv: jwk.crv.clone(),
            x: jwk.x.clone(),
            y: jwk.y.clone(),
        }
    }
}

/// Which algorithms a key may be used with, from its `alg` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlgRestriction {
    /// No `alg`: any algorithm of the key's family.
    Family,
    /// `alg` names this algorithm.
    Only(Algorithm),
}

enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An EC point (`0x04 ‖ x ‖ y`) or an Ed25519 public key.
    Point(Vec<u8>),
}

/// One usable public key, parsed for verification.
pub(crate) struct VerifyingKey {
    kid: Option<String>,
    family: KeyFamily,
    restriction: AlgRestriction,
    material: Material,
    parsed: [OnceLock<Option<ParsedPublicKey>>; Algorithm::ALL.len()],
    fingerprint: [u8; 32],
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("restriction", &self.restriction)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Whether this key may verify a token signed with `alg`.
    pub(crate) fn accepts(&self, alg: Algorithm) -> bool {
        alg.family() == self.family
            && match self.restriction {
                AlgRestriction::Family => true,
                AlgRestriction::Only(only) => only == alg,
            }
    }

    fn parse_for(&self, alg: Algorithm) -> Option<ParsedPublicKey> {
        match &self.material {
            Material::Rsa { n, e } => {
                let params = alg.rsa_parameters()?;
                RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .to_parsed_public_key(params)
                .ok()
            }
            Material::Point(point) => ParsedPublicKey::new(alg.point_algorithm()?, point).ok(),
        }
    }

    /// Verifies `signature` over `message` with `alg`. The caller has checked [`accepts`].
    ///
    /// [`accepts`]: VerifyingKey::accepts
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> Result<(), TokenError> {
        let parsed = self.parsed[alg.index()].get_or_init(|| self.parse_for(alg));
        match parsed {
            Some(key) => key
                .verify_sig(message, signature)
                .map_err(|_| TokenError::InvalidSignature),
            None => Err(TokenError::AlgorithmNotAllowed),
        }
    }
}

/// Why a JWK of the set was not made a verification key. Kept for diagnostics and so that a
/// token naming such a key is rejected at once instead of triggering a refetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RejectedKey {
    pub kid: Option<String>,
    pub reason: &'static str,
}

/// The outcome of looking up the key for a token.
#[derive(Debug)]
pub(crate) enum Selection<'a> {
    /// These keys (usually one; several only when a set repeats a `kid`) may verify the token.
    Keys(Vec<&'a VerifyingKey>),
    /// No key has the token's `kid` (or, without a `kid`, none matches the algorithm): a
    /// refetch may help.
    NotFound,
    /// The token has no `kid` and several keys match its algorithm: refetching cannot help.
    Ambiguous,
    /// A key has the `kid` but cannot be used with the token's algorithm (wrong type, `alg`
    /// member names another algorithm, or the key was rejected, e.g. RSA under 2048 bits).
    Mismatch,
}

/// A parsed JWK Set.
pub(crate) struct KeySet {
    keys: Vec<VerifyingKey>,
    by_kid: HashMap<String, Vec<usize>>,
    rejected: Vec<RejectedKey>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys)
            .field("rejected", &self.rejected)
            .finish()
    }
}

/// Why a whole JWK Set document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidKeySet(pub String);

impl KeySet {
    /// Parses a JWK Set document (`{"keys": [...]}`), refusing it when it is not a JSON object
    /// with a `keys` array or has more than `max_keys` entries. Individual unusable keys are
    /// skipped (and remembered), not fatal.
    pub(crate) fn from_json(body: &[u8], max_keys: usize) -> Result<KeySet, InvalidKeySet> {
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| InvalidKeySet(format!("JWK Set is not valid JSON: {e}")))?;
        let keys = doc
            .as_object()
            .and_then(|o| o.get("keys"))
            .and_then(Value::as_array)
            .ok_or_else(|| InvalidKeySet("JWK Set has no \"keys\" array".into()))?;
        if keys.len() > max_keys {
            return Err(InvalidKeySet(format!(
                "JWK Set has {} keys, more than the limit of {max_keys}",
                keys.len()
            )));
        }
        let fields = keys.iter().map(|k| match k.as_object() {
            Some(obj) => JwkFields::from_json(obj).map_err(|reason| RejectedKey {
                kid: obj.get("kid").and_then(Value::as_str).map(str::to_owned),
                reason,
            }),
            None => Err(RejectedKey {
                kid: None,
                reason: "a JWK is not a JSON object",
            }),
        });
        Ok(KeySet::build(fields))
    }

    /// Builds a set from the wire model (for example the embedded authority's own keys).
    pub(crate) fn from_model(set: &JwkSet, max_keys: usize) -> Result<KeySet, InvalidKeySet> {
        if set.keys.len() > max_keys {
            return Err(InvalidKeySet(format!(
                "JWK Set has {} keys, more than the limit of {max_keys}",
                set.keys.len()
            )));
        }
        Ok(KeySet::build(set.keys.iter().map(|k| Ok(JwkFields::from(k)))))
    }

    fn build(entries: impl Iterator<Item = Result<JwkFields, RejectedKey>>) -> KeySet {
        let mut set = KeySet {
            keys: Vec::new(),
            by_kid: HashMap::new(),
            rejected: Vec::new(),
        };
        for entry in entries {
            let fields = match entry {
                Ok(fields) => fields,
                Err(rejected) => {
                    set.rejected.push(rejected);
                    continue;
                }
            };
            match parse_key(&fields) {
                Ok(Some(key)) => {
                    if let Some(kid) = &key.kid {
                        set.by_kid.entry(kid.clone()).or_default().push(set.keys.len());
                    }
                    set.keys.push(key);
                }
                // Not a signature key (`use: enc`, symmetric, …): silently not part of the set.
                Ok(None) => {}
                Err(reason) => set.rejected.push(RejectedKey {
                    kid: fields.kid.clone(),
                    reason,
                }),
            }
        }
        set
    }

    /// Number of usable verification keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The keys that were not usable, with the reason.
    pub(crate) fn rejected(&self) -> &[RejectedKey] {
        &self.rejected
    }

    /// Finds the key(s) for a token signed with `alg` and carrying `kid`.
    pub(crate) fn select(&self, alg: Algorithm, kid: Option<&str>) -> Selection<'_> {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(indices) => {
                    let keys: Vec<&VerifyingKey> = indices
                        .iter()
                        .map(|&i| &self.keys[i])
                        .filter(|k| k.accepts(alg))
                        .collect();
                    if keys.is_empty() {
                        Selection::Mismatch
                    } else {
                        Selection::Keys(keys)
                    }
                }
                None if self.rejected.iter().any(|r| r.kid.as_deref() == Some(kid)) => Selection::Mismatch,
                None => Selection::NotFound,
            },
            None => {
                let mut matching = self.keys.iter().filter(|k| k.accepts(alg));
                match (matching.next(), matching.next()) {
                    (Some(only), None) => Selection::Keys(vec![only]),
                    (None, _) => Selection::NotFound,
                    (Some(_), Some(_)) => Selection::Ambiguous,
                }
            }
        }
    }

    /// Whether the key material behind some `kid` of `self` is gone or different in `next`:
    /// tokens verified with `self` may no longer verify, so verified-token caches must be
    /// flushed. A set that only gains keys does not invalidate anything.
    pub(crate) fn invalidated_by(&self, next: &KeySet) -> bool {
        fn fingerprints(set: &KeySet) -> Vec<(Option<&str>, [u8; 32])> {
            let mut all: Vec<_> = set
                .keys
                .iter()
                .map(|k| (k.kid.as_deref(), k.fingerprint))
                .collect();
            all.sort();
            all
        }
        let next = fingerprints(next);
        fingerprints(self)
            .iter()
            .any(|entry| next.binary_search(entry).is_err())
    }

    /// The `kid`s of the usable keys (for diagnostics).
    pub(crate) fn kids(&self) -> Vec<String> {
        self.keys.iter().filter_map(|k| k.kid.clone()).collect()
    }
}

fn b64(value: Option<&String>, what: &'static str) -> Result<Vec<u8>, &'static str> {
    let value = value.ok_or(what)?;
    URL_SAFE_NO_PAD.decode(value.as_bytes()).map_err(|_| what)
}

/// Parses one JWK. `Ok(None)` for keys that are not meant for verifying signatures.
fn parse_key(f: &JwkFields) -> Result<Option<VerifyingKey>, &'static str> {
    if let Some(use_) = &f.use_
        && use_ != "sig"
    {
        return Ok(None);
    }
    if let Some(ops) = &f.key_ops
        && !ops.iter().any(|op| op == "verify")
    {
        return Ok(None);
    }
    let kty = f.kty.as_deref().ok_or("the JWK has no kty")?;
    let restriction = match f.alg.as_deref() {
        None => AlgRestriction::Family,
        Some(name) => match Algorithm::from_name(name) {
            Some(alg) => AlgRestriction::Only(alg),
            None => return Err("the JWK's alg is not a supported signature algorithm"),
        },
    };
    let (family, material) = match kty {
        // Symmetric keys are never used with a JWK Set: HS* is impossible by construction.
        "oct" => return Ok(None),
        "RSA" => {
            let n = b64(f.n.as_ref(), "the RSA JWK has no valid n")?;
            let e = b64(f.e.as_ref(), "the RSA JWK has no valid e")?;
            // Some producers emit a leading zero byte; the modulus value is what counts.
            let n = strip_leading_zeros(n);
            let e = strip_leading_zeros(e);
            if n.is_empty() || e.is_empty() {
                return Err("the RSA JWK has an empty n or e");
            }
            let bits = (n.len() - 1) * 8 + (8 - n[0].leading_zeros() as usize);
            if bits < MIN_RSA_BITS {
                return Err("the RSA key is shorter than 2048 bits");
            }
            if bits > MAX_RSA_BITS {
                return Err("the RSA key is longer than 8192 bits");
            }
            // The public exponent: odd, at least 3, at most 33 bits (what aws-lc verifies with).
            let e_value = e.iter().fold(0u64, |acc, b| {
                acc.saturating_mul(256).saturating_add(u64::from(*b))
            });
            let odd = |v: &[u8]| v.last().is_some_and(|b| b % 2 == 1);
            if e.len() > 5 || !(3..1 << 33).contains(&e_value) || !odd(&e) || !odd(&n) {
                return Err("the RSA key's exponent or modulus is invalid");
            }
            (KeyFamily::Rsa, Material::Rsa { n, e })
        }
        "EC" => {
            let curve = Curve::from_jwk(f.crv.as_deref().ok_or("the EC JWK has no crv")?)
                .ok_or("the EC JWK's curve is not supported")?;
            let x = b64(f.x.as_ref(), "the EC JWK has no valid x")?;
            let y = b64(f.y.as_ref(), "the EC JWK has no valid y")?;
            let len = curve.coordinate_len();
            if x.len() != len || y.len() != len {
                return Err("the EC JWK's coordinates have the wrong length");
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (KeyFamily::Ec(curve), Material::Point(point))
        }
        "OKP" => {
            if f.crv.as_deref() != Some("Ed25519") {
                return Err("the OKP JWK's curve is not supported (only Ed25519)");
            }
            let x = b64(f.x.as_ref(), "the OKP JWK has no valid x")?;
            if x.len() != 32 {
                return Err("the Ed25519 JWK's x has the wrong length");
            }
            (KeyFamily::Ed25519, Material::Point(x))
        }
        _ => return Err("the JWK's kty is not supported"),
    };
    if let AlgRestriction::Only(alg) = restriction
        && alg.family() != family
    {
        return Err("the JWK's alg does not match its key type");
    }

    let mut hasher = digest::Context::new(&digest::SHA256);
    for part in [
        kty.as_bytes(),
        f.crv.as_deref().unwrap_or("").as_bytes(),
        f.alg.as_deref().unwrap_or("").as_bytes(),
    ] {
        hasher.update(&(part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    match &material {
        Material::Rsa { n, e } => {
            hasher.update(n);
            hasher.update(b".");
            hasher.update(e);
        }
        Material::Point(p) => hasher.update(p),
    }
    let mut fingerprint = [0u8; 32];
    fingerprint.copy_from_slice(hasher.finish().as_ref());

    let key = VerifyingKey {
        kid: f.kid.clone(),
        family,
        restriction,
        material,
        parsed: Default::default(),
        fingerprint,
    };
    // Parse once now with the key's natural algorithm so that bad key material (a point off
    // the curve, an invalid modulus) is refused when the set is installed, not per token.
    let probe = match (restriction, family) {
        (AlgRestriction::Only(alg), _) => alg,
        (AlgRestriction::Family, KeyFamily::Rsa) => Algorithm::RS256,
        (AlgRestriction::Family, KeyFamily::Ec(Curve::P256)) => Algorithm::ES256,
        (AlgRestriction::Family, KeyFamily::Ec(Curve::P384)) => Algorithm::ES384,
        (AlgRestriction::Family, KeyFamily::Ec(Curve::P521)) => Algorithm::ES512,
        (AlgRestriction::Family, KeyFamily::Ed25519) => Algorithm::EdDSA,
    };
    if key.parsed[probe.index()]
        .get_or_init(|| key.parse_for(probe))
        .is_none()
    {
        return Err("the key material is invalid");
    }
    Ok(Some(key))
}

fn strip_leading_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|&&b| b == 0).count();
    v.drain(..zeros);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(v: Value) -> KeySet {
        KeySet::from_json(v.to_string().as_bytes(), 100).unwrap()
    }

    #[test]
    fn refuses_documents_without_keys_and_too_many_keys() {
        assert!(KeySet::from_json(b"[]", 10).is_err());
        assert!(KeySet::from_json(b"{\"keys\": {}}", 10).is_err());
        assert!(KeySet::from_json(b"not json", 10).is_err());
        let many = json!({"keys": vec![json!({"kty": "oct", "k": "AA"}); 11]});
        assert!(KeySet::from_json(many.to_string().as_bytes(), 10).is_err());
    }

    #[test]
    fn symmetric_and_encryption_keys_are_not_verification_keys() {
        let s = set(json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]}));
        assert_eq!(s.len(), 0);
        assert!(s.rejected().is_empty());
        assert!(matches!(
            s.select(Algorithm::RS256, Some("h")),
            Selection::NotFound
        ));
    }

    #[test]
    fn malformed_keys_are_rejected_with_reasons_and_count_as_mismatch() {
        let s = set(json!({"keys": [
            {"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "short", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
            {"kty": "OKP", "kid": "x448", "crv": "X448", "x": "AQAB"},
            {"kty": "RSA", "kid": 7},
            "not an object",
        ]}));
        assert_eq!(s.len(), 0);
        assert_eq!(s.rejected().len(), 5);
        assert!(matches!(
            s.select(Algorithm::RS256, Some("small")),
            Selection::Mismatch
        ));
        assert!(matches!(
            s.select(Algorithm::ES256, Some("short")),
            Selection::Mismatch
        ));
    }

    #[test]
    fn rsa_exponent_and_modulus_are_checked() {
        let n = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let even_n = URL_SAFE_NO_PAD.encode([0xC4u8; 256]);
        for (kid, n, e) in [
            ("even-e", &n, "AQAA"),
            ("e-1", &n, "AQ"),
            ("e-huge", &n, "AQAAAAAB"),
            ("even-n", &even_n, "AQAB"),
        ] {
            let s = set(json!({"keys": [{"kty": "RSA", "kid": kid, "n": n, "e": e}]}));
            assert_eq!(s.len(), 0, "{kid}");
            assert_eq!(
                s.rejected()[0].reason,
                "the RSA key's exponent or modulus is invalid",
                "{kid}"
            );
        }
    }

    #[test]
    fn ed25519_key_from_rfc8037_is_accepted_only_for_eddsa() {
        // RFC 8037 appendix A.2 public key.
        let s = set(json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]}));
        assert_eq!(s.len(), 1);
        assert!(matches!(
            s.select(Algorithm::EdDSA, Some("ed")),
            Selection::Keys(_)
        ));
        assert!(matches!(
            s.select(Algorithm::RS256, Some("ed")),
            Selection::Mismatch
        ));
        assert!(matches!(s.select(Algorithm::EdDSA, None), Selection::Keys(_)));
        assert!(matches!(s.select(Algorithm::ES256, None), Selection::NotFound));
        // RFC 8037 A.4: the signature of "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc".
        let sig = URL_SAFE_NO_PAD
            .decode("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
            .unwrap();
        let Selection::Keys(keys) = s.select(Algorithm::EdDSA, Some("ed")) else {
            unreachable!()
        };
        let msg = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        assert_eq!(keys[0].verify(Algorithm::EdDSA, msg, &sig), Ok(()));
        assert_eq!(
            keys[0].verify(Algorithm::EdDSA, b"tampered", &sig),
            Err(TokenError::InvalidSignature)
        );
    }

    #[test]
    fn rotation_only_invalidates_when_a_key_disappears_or_changes() {
        let a = json!({"kty": "OKP", "crv": "Ed25519", "kid": "a",
                       "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let b = json!({"kty": "OKP", "crv": "Ed25519", "kid": "b",
                       "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let a2 = json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "alg": "EdDSA",
                        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let one = set(json!({"keys": [a.clone()]}));
        let two = set(json!({"keys": [a.clone(), b.clone()]}));
        assert!(!one.invalidated_by(&two));
        assert!(two.invalidated_by(&one));
        assert!(one.invalidated_by(&set(json!({"keys": [a2]}))));
        assert!(!two.invalidated_by(&set(json!({"keys": [b, a]}))));
    }
}
