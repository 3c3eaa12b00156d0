//! Generates `tests/vectors/middleware.json`: request headers → the answer of every HTTP surface
//! (the core's request policy, Flask, FastAPI, Express 4 and 5).
//!
//! ```text
//! cargo run -p authgate-core --example gen_middleware_vectors
//! ```
//!
//! The JWTs are RS256 (deterministic) with the test key `rsa-a` of `tests/vectors/keys.json`,
//! so regenerating rewrites the file identically unless this generator changed. The expected
//! answers are written here, by hand, from the policy table (`core/src/policy/mod.rs`): they are
//! the specification the suites check, never computed by the code under test.

#[path = "../tests/support/sign.rs"]
mod sign;

use serde_json::{Value, json};

const ISSUER: &str = "https://auth.authgate.test";
const KID: &str = "snk_rsa_a";
const REALM: &str = "api";
/// Far in the future (2100-01-01): the tokens stay valid on the real clock.
const FAR: i64 = 4_102_444_800;
const IAT: i64 = 1_700_000_000;
const MAX_BEARER_LEN: usize = 8 * 1024;

const MISSING: &str = "Missing authorization token";
const INVALID: &str = "Invalid or expired token";
const FORBIDDEN: &str = "Insufficient permissions";
const UNAVAILABLE: &str = "Authentication service unavailable";
const RATE_LIMITED: &str = "Rate limit exceeded";

fn challenge(params: &str) -> String {
    if params.is_empty() {
        format!("Bearer realm=\"{REALM}\"")
    } else {
        format!("Bearer realm=\"{REALM}\", {params}")
    }
}

fn ok() -> Value {
    json!({"status": 200, "body": {"ok": true}, "headers": {"www-authenticate": null, "retry-after": null}})
}

fn missing() -> Value {
    json!({"status": 401, "body": {"error": MISSING},
           "headers": {"www-authenticate": challenge(""), "retry-after": null}})
}

fn invalid(description: &str) -> Value {
    json!({"status": 401, "body": {"error": INVALID},
           "headers": {"www-authenticate": challenge(&format!(
               "error=\"invalid_token\", error_description=\"{description}\"")),
                       "retry-after": null}})
}

fn forbidden(scopes: &str) -> Value {
    json!({"status": 403, "body": {"error": FORBIDDEN},
           "headers": {"www-authenticate": challenge(&format!(
               "error=\"insufficient_scope\", error_description=\"the token lacks required scopes\", scope=\"{scopes}\"")),
                       "retry-after": null}})
}

/// 403 for a verified token the route refuses for another reason than scopes.
fn not_allowed() -> Value {
    json!({"status": 403, "body": {"error": FORBIDDEN},
           "headers": {"www-authenticate": challenge(
               "error=\"insufficient_scope\", error_description=\"the token may not use this resource\""),
                       "retry-after": null}})
}

fn unavailable() -> Value {
    json!({"status": 503, "body": {"error": UNAVAILABLE},
           "headers": {"www-authenticate": null, "retry-after": "5"}})
}

fn case(name: &str, route: &str, authorization: Option<&str>, description: &str, expected: Value) -> Value {
    json!({
        "name": name,
        "description": description,
        "route": route,
        "authorization": authorization,
        "expected": expected,
    })
}

fn main() {
    let keys = sign::load_keys();
    let key = &keys["rsa-a"];
    let mut jwk = key.public_jwk(Some(KID), Some("RS256"));
    jwk["use"] = json!("sig");
    let jwks = json!({"keys": [jwk]});
    let token = |claims: Value| sign::sign(key, "RS256", Some(KID), json!({}), &claims);
    let claims = |scope: &str, exp: i64| json!({"iss": ISSUER, "sub": "m2morg_1001", "oid": "org_42", "iat": IAT, "exp": exp, "scope": scope});
    let valid = token(claims("invoices:read invoices:write", FAR));
    let expired = token(claims("invoices:read", IAT + 3600));
    let write_only = token(claims("invoices:write", FAR));
    // The environment's own admin token: issued to an `skc_` credential, with no organization.
    let environment =
        token(json!({"iss": ISSUER, "sub": "skc_77", "client_id": "skc_77", "iat": IAT, "exp": FAR}));
    let unscoped =
        token(json!({"iss": ISSUER, "sub": "m2morg_1001", "oid": "org_42", "iat": IAT, "exp": FAR}));
    let other_issuer =
        token(json!({"iss": "https://elsewhere.test", "sub": "x", "exp": FAR, "scope": "invoices:read"}));
    // One character in the middle of the signature changed (the last one may hold padding bits).
    let mut tampered: Vec<char> = valid.chars().collect();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let bearer = |t: &str| format!("Bearer {t}");
    let oversize = format!("Bearer {}", "a".repeat(MAX_BEARER_LEN + 1));
    let at_cap = format!("Bearer {}", "a".repeat(MAX_BEARER_LEN));

    let malformed = "malformed token";
    let too_large = "token exceeds the maximum size";
    let key_rejected = "token validation failed";
    let cases = vec![
        // --- API-key routes -----------------------------------------------------------------
        case(
            "key_missing_header",
            "api_key",
            None,
            "no Authorization header",
            missing(),
        ),
        case(
            "key_wrong_scheme",
            "api_key",
            Some("Basic dXNlcjpwYXNz"),
            "another scheme: no bearer credentials",
            missing(),
        ),
        case(
            "key_scheme_only",
            "api_key",
            Some("Bearer"),
            "the scheme without a token",
            missing(),
        ),
        case(
            "key_empty_token",
            "api_key",
            Some("Bearer    "),
            "the scheme and spaces only",
            missing(),
        ),
        case(
            "key_no_separator",
            "api_key",
            Some("Bearer{valid_key}"),
            "no space after the scheme: not the Bearer scheme",
            missing(),
        ),
        case(
            "key_valid",
            "api_key",
            Some("Bearer {valid_key}"),
            "a live API key",
            ok(),
        ),
        case(
            "key_lowercase_scheme",
            "api_key",
            Some("bearer {valid_key}"),
            "the scheme is case-insensitive",
            ok(),
        ),
        case(
            "key_uppercase_scheme",
            "api_key",
            Some("BEARER {valid_key}"),
            "the scheme is case-insensitive",
            ok(),
        ),
        case(
            "key_extra_spaces",
            "api_key",
            Some("Bearer   {valid_key}"),
            "1*SP between scheme and token",
            ok(),
        ),
        case(
            "key_two_tokens",
            "api_key",
            Some("Bearer {valid_key} {valid_key}"),
            "exactly one token",
            invalid(malformed),
        ),
        case(
            "key_quote",
            "api_key",
            Some("Bearer a\"b"),
            "a quote is outside token68",
            invalid(malformed),
        ),
        case(
            "key_comma",
            "api_key",
            Some("Bearer a,b"),
            "a comma is outside token68",
            invalid(malformed),
        ),
        case(
            "key_inner_padding",
            "api_key",
            Some("Bearer a=b"),
            "`=` only as trailing padding",
            invalid(malformed),
        ),
        case(
            "key_oversize",
            "api_key",
            Some(&oversize),
            "one byte over the 8 KiB cap: refused unread",
            invalid(too_large),
        ),
        case(
            "key_at_cap",
            "api_key",
            Some(&at_cap),
            "exactly 8 KiB: read, then not a key",
            invalid(key_rejected),
        ),
        case(
            "key_revoked",
            "api_key",
            Some("Bearer {revoked_key}"),
            "a revoked key",
            invalid(key_rejected),
        ),
        case(
            "key_unknown",
            "api_key",
            Some("Bearer agk_unknown0123456789"),
            "a key that was never issued",
            invalid(key_rejected),
        ),
        case(
            "key_inside_network",
            "api_key",
            Some("Bearer {loopback_key}"),
            "a key restricted to loopback networks, used from loopback (the adapter passes the address)",
            ok(),
        ),
        case(
            "key_outside_network",
            "api_key",
            Some("Bearer {network_key}"),
            "a key restricted to 192.0.2.0/24, used from loopback: refused like an invalid key",
            invalid(key_rejected),
        ),
        case(
            "key_rate_limited",
            "api_key",
            Some("Bearer {limited_key}"),
            "a key whose rate limit (1 per day) the suite has used up: 429, Retry-After the seconds left in its window ({retry_after}: any whole number from 1 to 86400)",
            json!({"status": 429, "body": {"error": RATE_LIMITED},
                   "headers": {"www-authenticate": null, "retry-after": "{retry_after}"}}),
        ),
        // --- JWT / scope routes (requires invoices:read) ------------------------------------
        case(
            "jwt_missing_header",
            "scope",
            None,
            "no Authorization header",
            missing(),
        ),
        case(
            "jwt_wrong_scheme",
            "scope",
            Some(&format!("Token {valid}")),
            "another scheme",
            missing(),
        ),
        case(
            "jwt_valid",
            "scope",
            Some(&bearer(&valid)),
            "a valid token with the scope",
            ok(),
        ),
        case(
            "jwt_lowercase_scheme",
            "scope",
            Some(&format!("bearer {valid}")),
            "the scheme is case-insensitive",
            ok(),
        ),
        case(
            "jwt_two_tokens",
            "scope",
            Some(&format!("Bearer {valid} {valid}")),
            "exactly one token",
            invalid(malformed),
        ),
        case(
            "jwt_bad_characters",
            "scope",
            Some(&format!("Bearer {valid}\"")),
            "a quote is outside token68",
            invalid(malformed),
        ),
        case(
            "jwt_expired",
            "scope",
            Some(&bearer(&expired)),
            "exp in the past",
            invalid("token expired"),
        ),
        case(
            "jwt_bad_signature",
            "scope",
            Some(&bearer(&tampered)),
            "the signature does not verify",
            invalid("signature does not verify"),
        ),
        case(
            "jwt_other_issuer",
            "scope",
            Some(&bearer(&other_issuer)),
            "iss is not the configured issuer",
            invalid("issuer mismatch"),
        ),
        case(
            "jwt_not_a_jwt",
            "scope",
            Some("Bearer not-a-jwt"),
            "an opaque string",
            invalid(malformed),
        ),
        case(
            "jwt_oversize",
            "scope",
            Some(&oversize),
            "over the 8 KiB cap",
            invalid(too_large),
        ),
        case(
            "jwt_missing_scope",
            "scope",
            Some(&bearer(&write_only)),
            "verified, but without invoices:read",
            forbidden("invoices:read"),
        ),
        // --- JWT route open to any organization's token (no scope required) -------------------
        case(
            "org_token",
            "organization",
            Some(&bearer(&unscoped)),
            "an organization's token without scopes",
            ok(),
        ),
        case(
            "org_token_with_scopes",
            "organization",
            Some(&bearer(&valid)),
            "an organization's token with scopes",
            ok(),
        ),
        case(
            "org_environment_token",
            "organization",
            Some(&bearer(&environment)),
            "the environment's admin token (no oid): valid, but not an organization's",
            not_allowed(),
        ),
        case(
            "org_expired",
            "organization",
            Some(&bearer(&expired)),
            "an organization's token, expired",
            invalid("token expired"),
        ),
        case(
            "org_missing_header",
            "organization",
            None,
            "no Authorization header",
            missing(),
        ),
        // --- JWT route whose keys cannot be fetched ------------------------------------------
        case(
            "keys_unavailable",
            "keys_down",
            Some(&bearer(&valid)),
            "the JWKS endpoint refuses connections: no verdict on the token",
            unavailable(),
        ),
        case(
            "keys_unavailable_missing_header",
            "keys_down",
            None,
            "the bearer rule comes first",
            missing(),
        ),
    ];
    let doc = json!({
        "description": "Request headers → the answer of every HTTP surface (status, body, WWW-Authenticate, Retry-After)",
        "generated_by": "core/examples/gen_middleware_vectors.rs",
        "realm": REALM,
        "routes": {
            "api_key": "API-key authentication (authenticate_token / ApiKey / authenticateToken) with a real client, requests from loopback; keys created by the suite: {valid_key} live, {revoked_key} revoked, {loopback_key} with allowed_cidrs [127.0.0.0/8, ::1/128], {network_key} with allowed_cidrs [192.0.2.0/24], {limited_key} with rate_limit {limit: 1, window_seconds: 86400} validated once before the cases run",
            "scope": "JWT authentication requiring the scope invoices:read, with a validator of `jwt.jwks` (static) and `jwt.issuer`",
            "organization": "JWT authentication requiring an organization's token, any scopes (require_organization_token / RequireOrganizationToken / requireOrganizationToken), with the validator of `scope`",
            "keys_down": "the scope route, with a validator whose JWKS URL is `jwt.unreachable_jwks_url` (a closed loopback port)"
        },
        "success": "a route that lets the request through answers 200 with {\"ok\": true}",
        "headers": "each listed header must have exactly this value; null: it must be absent. Header names are case-insensitive",
        "jwt": {
            "issuer": ISSUER,
            "jwks": jwks,
            "required_scopes": ["invoices:read"],
            "unreachable_jwks_url": "http://127.0.0.1:9/keys",
        },
        "cases": cases,
    });
    let path = sign::keys_path()
        .parent()
        .expect("vectors dir")
        .join("middleware.json");
    let text = serde_json::to_string_pretty(&doc).expect("JSON") + "\n";
    std::fs::write(&path, text).expect("write middleware.json");
    println!(
        "middleware.json: {} cases",
        doc["cases"].as_array().map_or(0, Vec::len)
    );
}
