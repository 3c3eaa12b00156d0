//! Generates the language-neutral JWT validation vectors in `tests/vectors/`.
//!
//! ```text
//! cargo run -p authgate-core --example gen_vectors            # reuse tests/vectors/keys.json
//! cargo run -p authgate-core --example gen_vectors -- --new-keys
//! cargo run -p authgate-core --example gen_vectors -- --check # what `make test` runs
//! ```
//!
//! The file format is described in `tests/vectors/README.md`. PS256 and ES256 signatures are
//! randomised, so every run rewrites those tokens; the keys are reused unless `--new-keys`.
//! Besides the vector files it writes `index.json`: the exact list of vector files with their
//! case counts, which every loader (Rust, Python, Node) checks.
//!
//! `--check` writes nothing: it regenerates every file in memory with the committed keys and
//! compares it with the committed one, failing on any difference (a hand edit of the JSON, a
//! generator change not regenerated, a missing file). Everything deterministic is compared as
//! is; a randomised signature (PS256, ES256) is compared by what it verifies against: the
//! committed signature must verify under exactly the same test keys as the regenerated one.

#[path = "../tests/support/sign.rs"]
mod sign;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use sign::{Kind, TestKey, b64, sign as jws, sign_hs256, sign_raw};

const ISSUER: &str = "https://auth.authgate.test";
const AUDIENCE: &str = "https://api.authgate.test";
const NOW: i64 = 1_800_000_000;

const RSA_A: &str = "snk_rsa_a";
const RSA_B: &str = "snk_rsa_b";
const EC: &str = "snk_ec";
const ED: &str = "snk_ed";
const WEAK: &str = "snk_rsa_weak";

struct Gen {
    keys: BTreeMap<String, TestKey>,
}

/// One case under construction.
struct Case {
    name: String,
    description: String,
    jwks: Value,
    token: String,
    options: Value,
    expected: Value,
}

fn default_options() -> Value {
    json!({
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "algorithms": ["RS256", "PS256", "ES256", "EdDSA"],
        "leeway": 60,
        "now": NOW,
        "max_token_size": 8192,
        "typ": null,
        "scope_claims": ["scopes", "scope", "scp", "permissions"],
        "required_scopes": [],
        "scope_match": "all",
    })
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "m2morg_1001",
        "client_id": "m2morg_1001",
        "oid": "org_42",
        "aud": [AUDIENCE],
        "scopes": ["orders:read", "orders:write"],
        "scope": "orders:read orders:write",
        "custom_claims": {"tier": "gold"},
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3600,
        "jti": "tkn_1",
    })
}

/// `base` with the members of `changes` set (a `null` value is set as `null`).
fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().expect("object").clone() {
        base[k] = v;
    }
    base
}

/// `base` without the named members.
fn without(mut base: Value, names: &[&str]) -> Value {
    for name in names {
        base.as_object_mut().expect("object").remove(*name);
    }
    base
}

fn ok(claims_subset: Value, scopes: &[&str]) -> Value {
    json!({"valid": true, "claims": claims_subset, "scopes": scopes})
}

fn err(code: &str) -> Value {
    let status = match code {
        "insufficient_scope" => 403,
        "keys_unavailable" => 503,
        _ => 401,
    };
    json!({"valid": false, "error": code, "status": status})
}

fn insufficient(missing: &[&str]) -> Value {
    json!({"valid": false, "error": "insufficient_scope", "status": 403, "missing": missing})
}

impl Gen {
    fn key(&self, name: &str) -> &TestKey {
        &self.keys[name]
    }

    fn jwks(&self, entries: &[(&str, &str, Option<&str>)]) -> Value {
        let keys: Vec<Value> = entries
            .iter()
            .map(|(key, kid, alg)| {
                let mut jwk = self.key(key).public_jwk(Some(kid), *alg);
                jwk["use"] = json!("sig");
                jwk
            })
            .collect();
        json!({ "keys": keys })
    }

    /// RSA A (no `alg`: RS256 and PS256), RSA B (`alg: RS256`), P-256, Ed25519.
    fn default_jwks(&self) -> Value {
        self.jwks(&[
            ("rsa-a", RSA_A, None),
            ("rsa-b", RSA_B, Some("RS256")),
            ("ec-p256", EC, Some("ES256")),
            ("ed25519", ED, None),
        ])
    }

    fn case(&self, name: &str, description: &str, token: String, expected: Value) -> Case {
        Case {
            name: name.into(),
            description: description.into(),
            jwks: self.default_jwks(),
            token,
            options: default_options(),
            expected,
        }
    }

    fn rs256(&self, claims: &Value) -> String {
        jws(self.key("rsa-a"), "RS256", Some(RSA_A), json!({}), claims)
    }
}

impl Case {
    fn options(mut self, changes: Value) -> Case {
        self.options = with(self.options, changes);
        self
    }

    fn jwks(mut self, jwks: Value) -> Case {
        self.jwks = jwks;
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "jwks": self.jwks,
            "token": self.token,
            "options": self.options,
            "expected": self.expected,
        })
    }
}

fn subset() -> Value {
    json!({"sub": "m2morg_1001", "oid": "org_42", "iss": ISSUER, "custom_claims": {"tier": "gold"}})
}

const DEFAULT_SCOPES: &[&str] = &["orders:read", "orders:write"];

fn valid_cases(g: &Gen) -> Vec<Case> {
    let c = claims();
    let header_typ = |typ: &str| json!({ "typ": typ });
    vec![
        g.case("rs256", "RS256 with a kid, every claim checked", g.rs256(&c), ok(subset(), DEFAULT_SCOPES)),
        g.case(
            "ps256",
            "PS256 with an RSA key whose JWK has no alg",
            jws(g.key("rsa-a"), "PS256", Some(RSA_A), json!({}), &c),
            ok(subset(), DEFAULT_SCOPES),
        ),
        g.case(
            "es256",
            "ES256 on P-256",
            jws(g.key("ec-p256"), "ES256", Some(EC), json!({}), &c),
            ok(subset(), DEFAULT_SCOPES),
        ),
        g.case(
            "eddsa",
            "EdDSA with Ed25519",
            jws(g.key("ed25519"), "EdDSA", Some(ED), json!({}), &c),
            ok(subset(), DEFAULT_SCOPES),
        ),
        g.case(
            "rotation_old_kid_still_published",
            "After rotation the new key is listed first; a token signed by the old, still published key validates",
            g.rs256(&c),
            ok(subset(), DEFAULT_SCOPES),
        )
        .jwks(g.jwks(&[("rsa-b", RSA_B, Some("RS256")), ("rsa-a", RSA_A, Some("RS256"))])),
        g.case(
            "rotation_new_kid",
            "A token signed by the new key validates while the old key is still published",
            jws(g.key("rsa-b"), "RS256", Some(RSA_B), json!({}), &c),
            ok(subset(), DEFAULT_SCOPES),
        )
        .jwks(g.jwks(&[("rsa-b", RSA_B, Some("RS256")), ("rsa-a", RSA_A, Some("RS256"))])),
        g.case(
            "kidless_single_matching_key",
            "No kid in the header: exactly one key of the set can verify RS256",
            jws(g.key("rsa-a"), "RS256", None, json!({}), &c),
            ok(subset(), DEFAULT_SCOPES),
        )
        .jwks(g.jwks(&[("rsa-a", RSA_A, None), ("ec-p256", EC, None), ("ed25519", ED, None)])),
        g.case(
            "jwk_without_use_or_alg",
            "JWKs without use and alg members (Azure-style) are usable",
            g.rs256(&c),
            ok(subset(), DEFAULT_SCOPES),
        )
        .jwks(json!({"keys": [g.key("rsa-a").public_jwk(Some(RSA_A), None)]})),
        g.case(
            "typ_at_jwt_required",
            "typ at+jwt required and present",
            jws(g.key("rsa-a"), "RS256", Some(RSA_A), header_typ("at+jwt"), &c),
            ok(subset(), DEFAULT_SCOPES),
        )
        .options(json!({"typ": "at+jwt"})),
        g.case(
            "typ_application_prefix",
            "typ comparison is case-insensitive and ignores the application/ prefix",
            jws(g.key("rsa-a"), "RS256", Some(RSA_A), header_typ("application/AT+JWT"), &c),
            ok(subset(), DEFAULT_SCOPES),
        )
        .options(json!({"typ": "at+jwt"})),
        g.case(
            "expired_within_leeway",
            "exp passed 30 s ago; the 60 s leeway still accepts it",
            g.rs256(&with(c.clone(), json!({"exp": NOW - 30}))),
            ok(subset(), DEFAULT_SCOPES),
        ),
        g.case(
            "nbf_within_leeway",
            "nbf is 30 s in the future; the 60 s leeway accepts it",
            g.rs256(&with(c.clone(), json!({"nbf": NOW + 30}))),
            ok(subset(), DEFAULT_SCOPES),
        ),
        g.case(
            "numeric_dates_as_fractions",
            "NumericDate values may be non-integer numbers",
            g.rs256(&with(c.clone(), json!({"exp": NOW as f64 + 100.5, "iat": NOW as f64 - 0.25}))),
            ok(subset(), DEFAULT_SCOPES),
        ),
        g.case(
            "aud_as_string",
            "aud may be a single string",
            g.rs256(&with(c.clone(), json!({"aud": AUDIENCE}))),
            ok(subset(), DEFAULT_SCOPES),
        ),
        g.case(
            "aud_one_of_several",
            "aud must hold one of the configured audiences",
            g.rs256(&with(c.clone(), json!({"aud": ["https://other.test", AUDIENCE]}))),
            ok(subset(), DEFAULT_SCOPES),
        )
        .options(json!({"audiences": ["https://unused.test", AUDIENCE]})),
        g.case(
            "audience_not_configured",
            "Without configured audiences, aud is not checked (only its type is)",
            g.rs256(&with(c.clone(), json!({"aud": "https://someone-else.test"}))),
            ok(subset(), DEFAULT_SCOPES),
        )
        .options(json!({"audiences": []})),
        g.case(
            "issuer_not_configured",
            "Without a configured issuer, iss is not checked (only its type is)",
            g.rs256(&with(c.clone(), json!({"iss": "https://elsewhere.test"}))),
            ok(json!({"iss": "https://elsewhere.test"}), DEFAULT_SCOPES),
        )
        .options(json!({"issuer": null})),
        g.case(
            "minimal_claims",
            "Only exp (plus the configured iss/aud) is required",
            g.rs256(&json!({"iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 60})),
            ok(json!({"iss": ISSUER}), &[]),
        ),
        g.case(
            "jku_x5u_ignored",
            "jku and x5u headers are never followed; a genuinely signed token still validates",
            jws(
                g.key("rsa-a"),
                "RS256",
                Some(RSA_A),
                json!({"jku": "https://attacker.test/jwks.json", "x5u": "https://attacker.test/cert.pem"}),
                &c,
            ),
            ok(subset(), DEFAULT_SCOPES),
        ),
    ]
}

fn scope_cases(g: &Gen) -> Vec<Case> {
    let only = |extra: Value| with(without(claims(), &["scopes", "scope"]), extra);
    let all = |scopes: &[&str]| json!({"required_scopes": scopes, "scope_match": "all"});
    let any = |scopes: &[&str]| json!({"required_scopes": scopes, "scope_match": "any"});
    vec![
        g.case(
            "scopes_array_all_present",
            "scopes (array) holds every required scope",
            g.rs256(&claims()),
            ok(subset(), DEFAULT_SCOPES),
        )
        .options(all(&["orders:read", "orders:write"])),
        g.case(
            "scope_string",
            "scope (space-separated string)",
            g.rs256(&only(json!({"scope": "a b  c"}))),
            ok(subset(), &["a", "b", "c"]),
        )
        .options(all(&["a", "c"])),
        g.case(
            "scp_string",
            "scp as a space-separated string (Entra)",
            g.rs256(&only(json!({"scp": "read write"}))),
            ok(subset(), &["read", "write"]),
        )
        .options(all(&["write"])),
        g.case(
            "scp_array",
            "scp as an array (Ory Hydra)",
            g.rs256(&only(json!({"scp": ["read", "write"]}))),
            ok(subset(), &["read", "write"]),
        )
        .options(all(&["read"])),
        g.case(
            "permissions_array",
            "permissions (Auth0 RBAC array)",
            g.rs256(&only(json!({"permissions": ["read:orders"]}))),
            ok(subset(), &["read:orders"]),
        )
        .options(all(&["read:orders"])),
        g.case(
            "union_of_formats",
            "Scopes are the union of every configured claim, without duplicates, in claim order",
            g.rs256(&only(
                json!({"scopes": ["a"], "scope": "a b", "scp": ["c"], "permissions": ["d"]}),
            )),
            ok(subset(), &["a", "b", "c", "d"]),
        ),
        g.case(
            "non_string_entries_ignored",
            "Array entries that are not strings grant nothing",
            g.rs256(&only(json!({"scopes": ["a", 1, {"b": true}, null]}))),
            ok(subset(), &["a"]),
        ),
        g.case(
            "insufficient_all",
            "require all: the missing scopes are reported",
            g.rs256(&claims()),
            insufficient(&["admin", "billing"]),
        )
        .options(all(&["orders:read", "admin", "billing"])),
        g.case(
            "any_one_present",
            "require any: one granted scope is enough",
            g.rs256(&claims()),
            ok(subset(), DEFAULT_SCOPES),
        )
        .options(any(&["admin", "orders:write"])),
        g.case(
            "insufficient_any",
            "require any: none granted, all required scopes are reported",
            g.rs256(&claims()),
            insufficient(&["admin", "billing"]),
        )
        .options(any(&["admin", "billing"])),
        g.case(
            "configured_scope_claims_only",
            "Only the configured scope claims are read (here: permissions)",
            g.rs256(&only(json!({"scope": "admin", "permissions": ["read"]}))),
            insufficient(&["admin"]),
        )
        .options(with(all(&["admin"]), json!({"scope_claims": ["permissions"]}))),
        g.case(
            "verify_before_authorise",
            "A forged token lacking the scope fails on its signature (401), not on scopes (403)",
            {
                let genuine = g.rs256(&only(json!({"scopes": ["read"]})));
                let forged = g.rs256(&only(json!({"scopes": ["admin"]})));
                let parts: Vec<&str> = genuine.split('.').collect();
                let forged_parts: Vec<&str> = forged.split('.').collect();
                format!(
                    "{}.{}.{}",
                    parts[0],
                    b64(br#"{"scopes":["read"],"exp":1}"#),
                    forged_parts[2]
                )
            },
            err("invalid_signature"),
        )
        .options(all(&["admin"])),
    ]
}

fn structure_cases(g: &Gen) -> Vec<Case> {
    let c = claims();
    let rsa = g.key("rsa-a");
    let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{RSA_A}"}}"#);
    let good = g.rs256(&c);
    let parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let big = with(c.clone(), json!({"padding": "x".repeat(8200)}));
    // A token whose payload segment is not base64url but whose signature covers it.
    let bad_payload_b64 = {
        let signing_input = format!("{}.{}", b64(header.as_bytes()), "eyJ*bad");
        let sig = rsa.sign_bytes("RS256", signing_input.as_bytes());
        format!("{signing_input}.{}", b64(&sig))
    };
    vec![
        g.case(
            "oversize",
            "Over 8192 bytes: refused before any decoding (the signature is valid)",
            g.rs256(&big),
            err("token_too_large"),
        ),
        g.case(
            "oversize_configured_limit",
            "A normal token over a configured max_token_size of 256",
            good.clone(),
            err("token_too_large"),
        )
        .options(json!({"max_token_size": 256})),
        g.case(
            "two_segments",
            "Only two segments",
            format!("{}.{}", parts[0], parts[1]),
            err("token_malformed"),
        ),
        g.case(
            "four_segments",
            "Four segments (a JWE has five; neither is a JWS)",
            format!("{good}.{}", parts[2]),
            err("token_malformed"),
        ),
        g.case(
            "empty_signature",
            "Empty signature segment with an asymmetric alg",
            format!("{}.{}.", parts[0], parts[1]),
            err("token_malformed"),
        ),
        g.case(
            "empty_token",
            "The empty string",
            String::new(),
            err("token_malformed"),
        ),
        g.case(
            "header_not_base64url",
            "Header segment with characters outside base64url",
            format!("{}!.{}.{}", parts[0], parts[1], parts[2]),
            err("token_malformed"),
        ),
        g.case(
            "base64_padding",
            "Padding characters are not allowed in JWS segments",
            format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
            err("token_malformed"),
        ),
        g.case(
            "standard_base64_alphabet",
            "A '+' or '/' (standard alphabet) in a segment",
            format!("{}.{}.{}+/", parts[0], parts[1], &parts[2][..parts[2].len() - 2]),
            err("token_malformed"),
        ),
        g.case(
            "header_not_json",
            "Header decodes to non-JSON",
            format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]),
            err("token_malformed"),
        ),
        g.case(
            "header_json_array",
            "Header is a JSON array, not an object",
            format!("{}.{}.{}", b64(br#"["RS256"]"#), parts[1], parts[2]),
            err("token_malformed"),
        ),
        g.case(
            "header_without_alg",
            "Header has no alg",
            sign_raw(rsa, "RS256", &format!(r#"{{"kid":"{RSA_A}"}}"#), &c.to_string()),
            err("token_malformed"),
        ),
        g.case(
            "header_duplicate_alg",
            "Header repeats alg (parser-differential attack)",
            sign_raw(
                rsa,
                "RS256",
                &format!(r#"{{"alg":"RS256","kid":"{RSA_A}","alg":"none"}}"#),
                &c.to_string(),
            ),
            err("token_malformed"),
        ),
        g.case(
            "header_kid_not_string",
            "kid is a number",
            sign_raw(rsa, "RS256", r#"{"alg":"RS256","kid":7}"#, &c.to_string()),
            err("token_malformed"),
        ),
        g.case(
            "payload_not_json",
            "Validly signed payload that is not JSON",
            sign_raw(rsa, "RS256", &header, "this is not json"),
            err("token_malformed"),
        ),
        g.case(
            "payload_json_array",
            "Validly signed payload that is a JSON array",
            sign_raw(rsa, "RS256", &header, "[1,2,3]"),
            err("token_malformed"),
        ),
        g.case(
            "payload_duplicate_claim",
            "Validly signed payload repeating a claim",
            sign_raw(
                rsa,
                "RS256",
                &header,
                &format!(
                    r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"exp":1}}"#,
                    NOW + 60
                ),
            ),
            err("token_malformed"),
        ),
        g.case(
            "payload_not_base64url",
            "Payload segment is not base64url (the signature covers it)",
            bad_payload_b64,
            err("token_malformed"),
        ),
        g.case(
            "signature_not_base64url",
            "Signature segment is not base64url",
            format!("{}.{}.***", parts[0], parts[1]),
            err("token_malformed"),
        ),
        g.case(
            "whitespace",
            "A newline inside the token",
            format!("{}.{}\n.{}", parts[0], parts[1], parts[2]),
            err("token_malformed"),
        ),
    ]
}

fn algorithm_cases(g: &Gen) -> Vec<Case> {
    let c = claims();
    let rsa = g.key("rsa-a");
    let payload = c.to_string();
    // The classic key-confusion forgery: HS256 keyed with the RSA public key's bytes.
    let n = g.key("rsa-a").jwk["n"].as_str().unwrap_or_default().to_owned();
    let mut with_oct = g.default_jwks();
    with_oct["keys"]
        .as_array_mut()
        .expect("keys")
        .push(json!({"kty": "oct", "kid": "hmac", "k": b64(b"shared-secret"), "alg": "HS256"}));
    vec![
        g.case(
            "alg_none_unsigned",
            "alg none with an empty signature",
            format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(payload.as_bytes())),
            err("algorithm_not_allowed"),
        ),
        g.case(
            "alg_none_with_signature",
            "alg none with a signature segment",
            format!("{}.{}.{}", b64(br#"{"alg":"none"}"#), b64(payload.as_bytes()), b64(b"sig")),
            err("algorithm_not_allowed"),
        ),
        g.case(
            "alg_none_capitalised",
            "alg NoNe (case variants are not none, and not allowed either)",
            format!("{}.{}.", b64(br#"{"alg":"NoNe"}"#), b64(payload.as_bytes())),
            err("algorithm_not_allowed"),
        ),
        g.case(
            "hs256_with_public_key_as_secret",
            "HS256 signed with the RSA modulus as HMAC key (key confusion)",
            sign_hs256(n.as_bytes(), &format!(r#"{{"alg":"HS256","kid":"{RSA_A}"}}"#), &payload),
            err("algorithm_not_allowed"),
        ),
        g.case(
            "hs256_with_oct_key_in_jwks",
            "HS256 against a JWK Set that even contains an oct key: oct keys are ignored, HS* is never allowed",
            sign_hs256(b"shared-secret", r#"{"alg":"HS256","kid":"hmac"}"#, &payload),
            err("algorithm_not_allowed"),
        )
        .jwks(with_oct),
        g.case(
            "alg_outside_default_allowlist",
            "RS384 is supported but not in the default allowlist",
            jws(rsa, "RS384", Some(RSA_A), json!({}), &c),
            err("algorithm_not_allowed"),
        ),
        g.case(
            "alg_outside_configured_allowlist",
            "Allowlist configured to ES256 only; an RS256 token is refused",
            g.rs256(&c),
            err("algorithm_not_allowed"),
        )
        .options(json!({"algorithms": ["ES256"]})),
        g.case(
            "alg_kty_mismatch",
            "ES256 header naming the kid of an RSA key",
            jws(g.key("ec-p256"), "ES256", Some(RSA_A), json!({}), &c),
            err("algorithm_not_allowed"),
        ),
        g.case(
            "alg_jwk_alg_mismatch",
            "PS256 token for a key whose JWK says alg RS256",
            jws(g.key("rsa-b"), "PS256", Some(RSA_B), json!({}), &c),
            err("algorithm_not_allowed"),
        ),
        g.case(
            "rsa_key_under_2048_bits",
            "A 1024-bit RSA key in the set is refused; its validly signed token too",
            jws(g.key("rsa-1024"), "RS256", Some(WEAK), json!({}), &c),
            err("algorithm_not_allowed"),
        )
        .jwks(g.jwks(&[("rsa-a", RSA_A, None), ("rsa-1024", WEAK, None)])),
        g.case(
            "crit_unknown",
            "crit lists an extension this validator does not implement",
            jws(rsa, "RS256", Some(RSA_A), json!({"crit": ["http://example.test/ext"], "http://example.test/ext": true}), &c),
            err("unsupported_crit"),
        ),
        g.case(
            "crit_b64",
            "crit [\"b64\"] with b64 false (RFC 7797 unencoded payload) is not supported",
            jws(rsa, "RS256", Some(RSA_A), json!({"crit": ["b64"], "b64": false}), &c),
            err("unsupported_crit"),
        ),
        g.case(
            "crit_empty",
            "crit must not be an empty list",
            jws(rsa, "RS256", Some(RSA_A), json!({"crit": []}), &c),
            err("token_malformed"),
        ),
        g.case(
            "jku_not_followed",
            "Signed by an attacker key, kid and jku point at the attacker's JWKS: jku is never fetched",
            jws(
                g.key("attacker-rsa"),
                "RS256",
                Some("attacker"),
                json!({"jku": "https://attacker.test/jwks.json"}),
                &c,
            ),
            err("unknown_kid"),
        ),
        g.case(
            "x5u_not_followed",
            "Signed by an attacker key, x5u points at the attacker's certificate: never fetched",
            jws(
                g.key("attacker-rsa"),
                "RS256",
                Some("attacker"),
                json!({"x5u": "https://attacker.test/cert.pem"}),
                &c,
            ),
            err("unknown_kid"),
        ),
        g.case(
            "embedded_jwk_not_trusted",
            "Signed by an attacker key embedded as the jwk header (CVE-2018-0114), no kid: the set's only RSA key is used and the signature fails",
            jws(
                g.key("attacker-rsa"),
                "RS256",
                None,
                json!({"jwk": g.key("attacker-rsa").public_jwk(None, None)}),
                &c,
            ),
            err("invalid_signature"),
        )
        .jwks(g.jwks(&[("rsa-a", RSA_A, None), ("ec-p256", EC, None)])),
        g.case(
            "embedded_jwk_with_known_kid",
            "Embedded attacker jwk with the kid of a published key: the published key is used",
            jws(
                g.key("attacker-rsa"),
                "RS256",
                Some(RSA_A),
                json!({"jwk": g.key("attacker-rsa").public_jwk(Some(RSA_A), None)}),
                &c,
            ),
            err("invalid_signature"),
        ),
    ]
}

fn key_selection_cases(g: &Gen) -> Vec<Case> {
    let c = claims();
    let rsa = g.key("rsa-a");
    let good = g.rs256(&c);
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(with(c.clone(), json!({"oid": "org_1"})).to_string().as_bytes()),
        parts[2]
    );
    let es = jws(g.key("ec-p256"), "ES256", Some(EC), json!({}), &c);
    let es_parts: Vec<&str> = es.split('.').collect();
    let der_sig = {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(es_parts[2])
            .expect("sig");
        b64(&ecdsa_fixed_to_der(&raw))
    };
    vec![
        g.case(
            "unknown_kid",
            "kid not in the set (a static set: no refetch)",
            jws(rsa, "RS256", Some("snk_unknown"), json!({}), &c),
            err("unknown_kid"),
        ),
        g.case(
            "kid_removed_after_rotation",
            "The key was retired: its kid is no longer published",
            g.rs256(&c),
            err("unknown_kid"),
        )
        .jwks(g.jwks(&[("rsa-b", RSA_B, Some("RS256"))])),
        g.case(
            "kidless_two_candidate_keys",
            "No kid and two RSA keys could verify RS256: ambiguous, refused",
            jws(rsa, "RS256", None, json!({}), &c),
            err("unknown_kid"),
        )
        .jwks(g.jwks(&[("rsa-a", RSA_A, None), ("rsa-b", RSA_B, None)])),
        g.case(
            "kidless_no_candidate_key",
            "No kid and no key of the set can verify ES256",
            jws(g.key("ec-p256"), "ES256", None, json!({}), &c),
            err("unknown_kid"),
        )
        .jwks(g.jwks(&[("rsa-a", RSA_A, None)])),
        g.case(
            "encryption_key_only",
            "The only key with this kid has use enc",
            g.rs256(&c),
            err("unknown_kid"),
        )
        .jwks(json!({"keys": [with(rsa.public_jwk(Some(RSA_A), None), json!({"use": "enc"}))]})),
        g.case(
            "key_ops_without_verify",
            "The only key with this kid has key_ops without verify",
            g.rs256(&c),
            err("unknown_kid"),
        )
        .jwks(json!({"keys": [with(rsa.public_jwk(Some(RSA_A), None), json!({"key_ops": ["encrypt"]}))]})),
        g.case(
            "payload_tampered",
            "Payload changed after signing",
            tampered,
            err("invalid_signature"),
        ),
        g.case(
            "signed_by_other_key",
            "Signed by RSA B but naming RSA A's kid",
            jws(g.key("rsa-b"), "RS256", Some(RSA_A), json!({}), &c),
            err("invalid_signature"),
        ),
        g.case(
            "signature_truncated",
            "Signature shortened by one byte",
            {
                use base64::Engine;
                let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(parts[2])
                    .expect("sig");
                sig.pop();
                format!("{}.{}.{}", parts[0], parts[1], b64(&sig))
            },
            err("invalid_signature"),
        ),
        g.case(
            "es256_der_signature",
            "ES256 signature in ASN.1 DER form instead of the JWS fixed r||s form",
            format!("{}.{}.{der_sig}", es_parts[0], es_parts[1]),
            err("invalid_signature"),
        ),
        g.case(
            "empty_jwks",
            "The key set is empty",
            good.clone(),
            err("unknown_kid"),
        )
        .jwks(json!({"keys": []})),
    ]
}

fn claim_cases(g: &Gen) -> Vec<Case> {
    let c = claims();
    let t = |changes: Value| g.rs256(&with(c.clone(), changes));
    vec![
        g.case(
            "missing_exp",
            "No exp claim",
            g.rs256(&without(c.clone(), &["exp"])),
            err("missing_exp"),
        ),
        g.case(
            "exp_numeric_string",
            "exp as a numeric string (CVE-2026-25537 class)",
            t(json!({"exp": (NOW + 3600).to_string()})),
            err("invalid_claim_type"),
        ),
        g.case(
            "exp_boolean",
            "exp as a boolean",
            t(json!({"exp": true})),
            err("invalid_claim_type"),
        ),
        g.case(
            "exp_null",
            "exp as null",
            t(json!({"exp": null})),
            err("invalid_claim_type"),
        ),
        g.case(
            "nbf_string",
            "nbf as a string (must not be treated as absent)",
            t(json!({"nbf": (NOW + 86400).to_string()})),
            err("invalid_claim_type"),
        ),
        g.case(
            "iat_string",
            "iat as a string",
            t(json!({"iat": "yesterday"})),
            err("invalid_claim_type"),
        ),
        g.case(
            "iss_number",
            "iss as a number",
            t(json!({"iss": 42})),
            err("invalid_claim_type"),
        ),
        g.case(
            "sub_object",
            "sub as an object",
            t(json!({"sub": {"id": 1}})),
            err("invalid_claim_type"),
        ),
        g.case(
            "aud_number",
            "aud as a number",
            t(json!({"aud": 1})),
            err("invalid_claim_type"),
        ),
        g.case(
            "aud_array_with_number",
            "aud array holding a non-string",
            t(json!({"aud": [AUDIENCE, 1]})),
            err("invalid_claim_type"),
        ),
        g.case(
            "expired",
            "exp passed more than the leeway ago",
            t(json!({"exp": NOW - 61})),
            err("token_expired"),
        ),
        g.case(
            "expired_at_leeway_boundary",
            "now == exp + leeway is expired (the current time must be before exp + leeway)",
            t(json!({"exp": NOW - 60})),
            err("token_expired"),
        ),
        g.case(
            "expired_no_leeway",
            "leeway 0: now == exp is expired",
            t(json!({"exp": NOW})),
            err("token_expired"),
        )
        .options(json!({"leeway": 0})),
        g.case(
            "not_yet_valid",
            "nbf more than the leeway in the future",
            t(json!({"nbf": NOW + 61})),
            err("token_not_yet_valid"),
        ),
        g.case(
            "issuer_mismatch",
            "iss of another issuer",
            t(json!({"iss": "https://other-issuer.test"})),
            err("invalid_issuer"),
        ),
        g.case(
            "issuer_prefix_attack",
            "iss extending the configured issuer (no prefix or substring matching)",
            t(json!({"iss": format!("{ISSUER}.attacker.test")})),
            err("invalid_issuer"),
        ),
        g.case(
            "issuer_trailing_slash",
            "iss differing by a trailing slash (exact comparison)",
            t(json!({"iss": format!("{ISSUER}/")})),
            err("invalid_issuer"),
        ),
        g.case(
            "issuer_missing",
            "No iss while one is configured",
            g.rs256(&without(c.clone(), &["iss"])),
            err("invalid_issuer"),
        ),
        g.case(
            "audience_mismatch",
            "aud of another API",
            t(json!({"aud": ["https://other-api.test"]})),
            err("invalid_audience"),
        ),
        g.case(
            "audience_missing",
            "No aud while audiences are configured",
            g.rs256(&without(c.clone(), &["aud"])),
            err("invalid_audience"),
        ),
        g.case(
            "audience_empty_array",
            "aud is an empty array",
            t(json!({"aud": []})),
            err("invalid_audience"),
        ),
        g.case(
            "typ_mismatch",
            "typ at+jwt required; the token says JWT",
            g.rs256(&c),
            err("invalid_typ"),
        )
        .options(json!({"typ": "at+jwt"})),
        g.case(
            "typ_missing",
            "typ at+jwt required; the token has no typ",
            sign_raw(
                g.key("rsa-a"),
                "RS256",
                &format!(r#"{{"alg":"RS256","kid":"{RSA_A}"}}"#),
                &c.to_string(),
            ),
            err("invalid_typ"),
        )
        .options(json!({"typ": "at+jwt"})),
    ]
}

/// Converts a fixed-size ECDSA signature (r‖s) to ASN.1 DER.
fn ecdsa_fixed_to_der(raw: &[u8]) -> Vec<u8> {
    fn int(bytes: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
        if v.first().is_none_or(|&b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body: Vec<u8> = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// One generated vector file.
struct File {
    name: &'static str,
    description: &'static str,
    cases: Vec<Case>,
}

impl File {
    fn document(&self) -> Value {
        let mut names = std::collections::HashSet::new();
        for case in &self.cases {
            assert!(
                names.insert(case.name.clone()),
                "duplicate case name {}",
                case.name
            );
        }
        json!({
            "description": self.description,
            "generated_by": "core/examples/gen_vectors.rs",
            "cases": self.cases.iter().map(Case::to_json).collect::<Vec<_>>(),
        })
    }
}

/// `index.json`: the exact vector files and their case counts.
fn index(files: &[File]) -> Value {
    let counts: serde_json::Map<String, Value> = files
        .iter()
        .map(|f| (f.name.to_owned(), json!(f.cases.len())))
        .collect();
    json!({
        "description": "The JWT validation vector files and their case counts; every loader checks it",
        "generated_by": "core/examples/gen_vectors.rs",
        "files": counts,
    })
}

fn pretty(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).expect("JSON") + "\n"
}

fn files(g: &Gen) -> Vec<File> {
    vec![
        File {
            name: "valid.json",
            description: "Tokens that must validate (good paths, rotation, leeway, formats)",
            cases: valid_cases(g),
        },
        File {
            name: "scopes.json",
            description: "Scope claim formats and require-all / require-any checks",
            cases: scope_cases(g),
        },
        File {
            name: "structure.json",
            description: "Malformed and oversize tokens",
            cases: structure_cases(g),
        },
        File {
            name: "algorithms.json",
            description: "Algorithm allowlist, key binding, crit and unfollowed key headers",
            cases: algorithm_cases(g),
        },
        File {
            name: "key_selection.json",
            description: "kid lookup, kid-less tokens and signature failures",
            cases: key_selection_cases(g),
        },
        File {
            name: "claims.json",
            description: "Registered claim types and values (exp, nbf, iat, iss, aud, typ)",
            cases: claim_cases(g),
        },
    ]
}

/// The names of the test keys under which `signature` over `signing_input` verifies with `alg`
/// (`None` when the signature is not base64url).
fn verifying_keys(
    keys: &BTreeMap<String, TestKey>,
    alg: &str,
    signing_input: &str,
    signature: &str,
) -> Option<Vec<String>> {
    use aws_lc_rs::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
    use base64::Engine;
    let decode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok();
    let signature = decode(signature)?;
    let mut names = Vec::new();
    for (name, key) in keys {
        let jwk = &key.jwk;
        let ok = match (key.kind, alg) {
            (Kind::Rsa, "PS256" | "PS384" | "PS512") => {
                let params: &sig::RsaParameters = match alg {
                    "PS256" => &sig::RSA_PSS_2048_8192_SHA256,
                    "PS384" => &sig::RSA_PSS_2048_8192_SHA384,
                    _ => &sig::RSA_PSS_2048_8192_SHA512,
                };
                let n = decode(jwk["n"].as_str().expect("n")).expect("n");
                let e = decode(jwk["e"].as_str().expect("e")).expect("e");
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(params, signing_input.as_bytes(), &signature)
                    .is_ok()
            }
            (Kind::EcP256, "ES256") => {
                let mut point = vec![4u8];
                point.extend(decode(jwk["x"].as_str().expect("x")).expect("x"));
                point.extend(decode(jwk["y"].as_str().expect("y")).expect("y"));
                UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &point)
                    .verify(signing_input.as_bytes(), &signature)
                    .is_ok()
            }
            _ => false,
        };
        if ok {
            names.push(name.clone());
        }
    }
    Some(names)
}

/// Why the committed token `old` is not what the generator makes (`new`), if it is not.
fn token_difference(keys: &BTreeMap<String, TestKey>, old: &Value, new: &Value) -> Option<String> {
    if old == new {
        return None;
    }
    let (Some(old), Some(new)) = (old.as_str(), new.as_str()) else {
        return Some(format!("token: committed {old}, generated {new}"));
    };
    let (o, n): (Vec<&str>, Vec<&str>) = (old.split('.').collect(), new.split('.').collect());
    if o.len() != 3 || n.len() != 3 || o[..2] != n[..2] {
        return Some("token: header or payload differs from the generated one".into());
    }
    // Same header and payload, another signature: only acceptable for a randomised algorithm,
    // and only if it verifies under exactly the keys the regenerated one does.
    use base64::Engine;
    let header: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(n[0])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let alg = header["alg"].as_str().unwrap_or("");
    if !matches!(alg, "PS256" | "PS384" | "PS512" | "ES256") {
        return Some(format!(
            "token: the {alg} signature differs (deterministic, so it must be equal)"
        ));
    }
    let input = format!("{}.{}", n[0], n[1]);
    let (was, is) = (
        verifying_keys(keys, alg, &input, o[2]),
        verifying_keys(keys, alg, &input, n[2]),
    );
    (was != is).then(|| {
        format!("token: the committed {alg} signature verifies under {was:?}, a regenerated one under {is:?}")
    })
}

/// Every difference between a committed vector file and its regeneration.
fn differences(keys: &BTreeMap<String, TestKey>, file: &str, old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["description", "generated_by"] {
        if old[field] != new[field] {
            out.push(format!(
                "{file}: {field}: committed {}, generated {}",
                old[field], new[field]
            ));
        }
    }
    let empty = Vec::new();
    let (old_cases, new_cases) = (
        old["cases"].as_array().unwrap_or(&empty),
        new["cases"].as_array().unwrap_or(&empty),
    );
    let names = |cases: &[Value]| -> Vec<String> { cases.iter().map(|c| c["name"].to_string()).collect() };
    if names(old_cases) != names(new_cases) {
        out.push(format!(
            "{file}: the cases differ: committed {:?}, generated {:?}",
            names(old_cases),
            names(new_cases)
        ));
        return out;
    }
    for (o, n) in old_cases.iter().zip(new_cases) {
        let name = n["name"].as_str().unwrap_or("?");
        let fields: BTreeMap<&String, ()> = o
            .as_object()
            .into_iter()
            .chain(n.as_object())
            .flat_map(|m| m.keys())
            .map(|k| (k, ()))
            .collect();
        for field in fields.keys() {
            if field.as_str() == "token" {
                if let Some(d) = token_difference(keys, &o["token"], &n["token"]) {
                    out.push(format!("{file} / {name}: {d}"));
                }
            } else if o[field.as_str()] != n[field.as_str()] {
                out.push(format!(
                    "{file} / {name}: {field}: committed {}, generated {}",
                    o[field.as_str()],
                    n[field.as_str()]
                ));
            }
        }
    }
    out
}

/// `--check`: compares every committed file with its regeneration; the exit status says.
fn check(dir: &Path, keys: &BTreeMap<String, TestKey>, files: &[File]) -> bool {
    let mut problems = Vec::new();
    let mut committed = |name: &str| -> Option<Value> {
        let text = match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{name}: cannot read it ({e}); regenerate the vectors"));
                return None;
            }
        };
        match serde_json::from_str(&text) {
            Ok(doc) => Some(doc),
            Err(e) => {
                problems.push(format!("{name}: not JSON ({e})"));
                None
            }
        }
    };
    let mut found = Vec::new();
    for file in files {
        if let Some(old) = committed(file.name) {
            found.push((file, old));
        }
    }
    let index_doc = committed("index.json");
    for (file, old) in found {
        problems.extend(differences(keys, file.name, &old, &file.document()));
    }
    if let Some(old) = index_doc
        && old != index(files)
    {
        problems.push(format!("index.json: committed {old}, generated {}", index(files)));
    }
    if problems.is_empty() {
        let cases: usize = files.iter().map(|f| f.cases.len()).sum();
        println!(
            "gen_vectors --check: {} files, {cases} cases, index.json: up to date",
            files.len()
        );
        true
    } else {
        eprintln!("gen_vectors --check: the committed vectors are stale or edited by hand:");
        for p in &problems {
            eprintln!("  {p}");
        }
        eprintln!("regenerate them: cargo run -p authgate-core --example gen_vectors");
        false
    }
}

fn main() {
    let new_keys = std::env::args().any(|a| a == "--new-keys");
    let check_only = std::env::args().any(|a| a == "--check");
    assert!(!(new_keys && check_only), "--check uses the committed keys");
    let path = sign::keys_path();
    let dir = path.parent().expect("vectors dir").to_path_buf();
    if check_only {
        assert!(path.exists(), "{} is missing", path.display());
        let keys = sign::load_keys();
        let g = Gen { keys };
        let files = files(&g);
        if !check(&dir, &g.keys, &files) {
            std::process::exit(1);
        }
        return;
    }
    std::fs::create_dir_all(&dir).expect("create tests/vectors");
    let keys = if !new_keys && path.exists() {
        sign::load_keys()
    } else {
        let mut keys = BTreeMap::new();
        for (name, kind, bits) in [
            ("rsa-a", Kind::Rsa, 2048),
            ("rsa-b", Kind::Rsa, 2048),
            ("rsa-1024", Kind::Rsa, 1024),
            ("attacker-rsa", Kind::Rsa, 2048),
            ("ec-p256", Kind::EcP256, 0),
            ("ed25519", Kind::Ed25519, 0),
        ] {
            keys.insert(name.to_owned(), sign::generate(name, kind, bits));
        }
        std::fs::write(&path, pretty(&sign::keys_document(&keys))).expect("write keys.json");
        println!("keys.json: {} new keys", keys.len());
        keys
    };
    let g = Gen { keys };
    let files = files(&g);
    for file in &files {
        std::fs::write(dir.join(file.name), pretty(&file.document())).expect("write vectors");
        println!("{}: {} cases", file.name, file.cases.len());
    }
    std::fs::write(dir.join("index.json"), pretty(&index(&files))).expect("write index.json");
    println!("index.json: {} files", files.len());
}
