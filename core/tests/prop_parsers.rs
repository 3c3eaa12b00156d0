//! Property tests of every parser that reads untrusted input (issue #12, item 10): the API-key
//! format, the JWT decoder (compact serialization, header and claims JSON), the JWK Set parser,
//! the JSON request decoders (key create/update, M2M client) and the page-token decoder.
//!
//! Each target runs `PROPTEST_CASES` cases (proptest's default of 256 when unset): `make test`
//! runs a 2,000-case smoke, `make fuzz` 1,000,000 per target. Two oracles everywhere: **no
//! panic**, and **no accepted forgery** — a mutated credential is accepted only when it is the
//! original one.

mod support;

use std::sync::{Arc, OnceLock};

use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::jwt::{FixedClock, JwksCache, JwksConfig, JwtValidator, KeySource, ValidatorConfig};
use authgate_core::keys::{generate_api_key, generate_client_secret, is_api_key, is_client_secret};
use authgate_core::model::{CreateOrganization, CreateToken, ListTokens, OrganizationClient, UpdateToken};
use authgate_core::{AuthApi, Error};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::sign::sign;
use support::{AUDIENCE, ISSUER, jwks, key};

// --- shared fixtures -----------------------------------------------------------------------

/// A fixed instant all tokens here are valid at.
const NOW: i64 = 1_900_000_000;

fn claims() -> Value {
    json!({"iss": ISSUER, "sub": "m2morg_1", "aud": [AUDIENCE], "scopes": ["read"],
           "iat": NOW - 10, "exp": NOW + 3600})
}

/// A validator over the test JWK Set (RSA, EC, Ed25519 keys), at [`NOW`], cache off.
fn validator() -> &'static JwtValidator {
    static V: OnceLock<JwtValidator> = OnceLock::new();
    V.get_or_init(|| validator_over(&jwks_doc().to_string()).expect("validator"))
}

fn jwks_doc() -> Value {
    let mut doc = jwks(&[("rsa-a", "a")]);
    let keys = doc["keys"].as_array_mut().expect("keys");
    keys.push(key("ec-p256").public_jwk(Some("ec"), None));
    keys.push(key("ed25519").public_jwk(Some("ed"), None));
    doc
}

fn validator_over(jwks_json: &str) -> authgate_core::Result<JwtValidator> {
    let mut c = ValidatorConfig::new(KeySource::StaticJson(jwks_json.to_owned()))
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE);
    c.clock = Arc::new(FixedClock::new(NOW));
    c.token_cache_capacity = 0;
    JwtValidator::new(c)
}

/// Valid tokens of each algorithm family.
fn valid_tokens() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        vec![
            sign(key("rsa-a"), "RS256", Some("a"), json!({}), &claims()),
            sign(key("rsa-a"), "PS256", Some("a"), json!({}), &claims()),
            sign(key("ec-p256"), "ES256", Some("ec"), json!({}), &claims()),
            sign(key("ed25519"), "EdDSA", Some("ed"), json!({}), &claims()),
        ]
    })
}

fn validate(v: &JwtValidator, token: &str) -> authgate_core::Result<authgate_core::jwt::Claims> {
    match v.try_validate(token) {
        authgate_core::jwt::SyncValidation::Done(r) => r,
        authgate_core::jwt::SyncValidation::NeedsFetch => panic!("a static key set never fetches"),
    }
}

/// One edit of a string: replace, insert or delete a character, or swap two.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize),
    Swap(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let ch = prop_oneof![
        prop::char::range('!', '~'),
        Just('.'),
        Just('='),
        Just('\u{e9}'),
        Just('\0'),
        any::<char>()
    ];
    prop_oneof![
        (any::<usize>(), ch.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), ch).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Edit::Swap(i, j)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(s: &str, edits: &[Edit]) -> String {
    let mut c: Vec<char> = s.chars().collect();
    for e in edits {
        let n = c.len().max(1);
        match *e {
            Edit::Replace(i, ch) if !c.is_empty() => c[i % n] = ch,
            Edit::Insert(i, ch) => c.insert(i % (c.len() + 1), ch),
            Edit::Delete(i) if !c.is_empty() => {
                c.remove(i % n);
            }
            Edit::Swap(i, j) if !c.is_empty() => c.swap(i % n, j % n),
            Edit::Truncate(i) => c.truncate(i % (c.len() + 1)),
            _ => {}
        }
    }
    c.into_iter().collect()
}

/// Arbitrary JSON values, bounded in depth and size.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["RS256", "none", "HS256", "a", "RSA", "AQAB"])
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    ".{0,8}",
                    prop::sample::select(vec![
                        "alg",
                        "kid",
                        "typ",
                        "crit",
                        "exp",
                        "nbf",
                        "iss",
                        "aud",
                        "keys",
                        "kty",
                        "n",
                        "e",
                        "crv",
                        "x",
                        "y",
                        "use",
                        "key_ops",
                        "custom_claims",
                        "organization_id"
                    ])
                    .prop_map(str::to_owned)
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn b64(bytes: &[u8]) -> String {
    support::sign::b64(bytes)
}

// --- targets ---------------------------------------------------------------------------------

proptest! {
    /// API-key / client-secret format: total on any input; one edit of a real key is never
    /// well formed (the CRC-32 catches every single-character change).
    #[test]
    fn api_key_format(s in ".{0,80}", edits in prop::collection::vec(edit(), 1..2)) {
        let _ = (is_api_key(&s), is_client_secret(&s));
        let real = generate_api_key().expose().to_owned();
        prop_assert!(is_api_key(&real));
        let forged = apply(&real, &edits);
        prop_assert_eq!(is_api_key(&forged), forged == real, "forged {:?}", forged);
        let secret = generate_client_secret().expose().to_owned();
        let forged = apply(&secret, &edits);
        prop_assert_eq!(is_client_secret(&forged), forged == secret);
    }

    /// JWT decoder on arbitrary text: never panics, never accepts.
    #[test]
    fn jwt_arbitrary_text(s in ".{0,200}") {
        prop_assert!(validate(validator(), &s).is_err());
    }

    /// JWT decoder on three base64url segments of arbitrary JSON (header, claims) and bytes
    /// (signature): never panics, never accepts (no signature is valid by chance).
    #[test]
    fn jwt_structured(header in json_value(), payload in json_value(), sig in prop::collection::vec(any::<u8>(), 0..300),
                      kid in prop_oneof![Just(None), Just(Some("a")), Just(Some("ec")), Just(Some("ed"))],
                      alg in prop_oneof![Just("RS256"), Just("PS256"), Just("ES256"), Just("EdDSA"), Just("none"), Just("HS256")]) {
        let mut header = header;
        if let (Value::Object(h), true) = (&mut header, alg != "none" || kid.is_some()) {
            h.insert("alg".into(), json!(alg));
            if let Some(kid) = kid { h.insert("kid".into(), json!(kid)); }
        }
        let token = format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()), b64(&sig));
        prop_assert!(validate(validator(), &token).is_err());
    }

    /// Mutations of valid tokens (every algorithm): accepted only when unchanged.
    #[test]
    fn jwt_mutations(which in 0usize..4, edits in prop::collection::vec(edit(), 1..4)) {
        let original = &valid_tokens()[which];
        prop_assert!(validate(validator(), original).is_ok());
        let mutated = apply(original, &edits);
        let outcome = validate(validator(), &mutated);
        prop_assert_eq!(outcome.is_ok(), &mutated == original, "accepted forgery {:?}", mutated);
    }

    /// Validly signed tokens with arbitrary claims and header members: never panics; accepted
    /// only with a numeric future `exp`, the configured `iss` and `aud`, and no `crit`.
    #[test]
    fn jwt_signed_arbitrary_claims(extra_claims in json_value(), extra_header in json_value()) {
        let mut claims = claims();
        if let Value::Object(extra) = &extra_claims {
            for (k, v) in extra { claims[k] = v.clone(); }
        }
        // Ed25519: cheap to sign, so a million cases stay affordable.
        let mut header = json!({"alg": "EdDSA", "kid": "ed"});
        if let Value::Object(extra) = &extra_header {
            for (k, v) in extra {
                if k != "alg" && k != "kid" { header[k] = v.clone(); }
            }
        }
        let token = support::sign::sign_raw(key("ed25519"), "EdDSA", &header.to_string(), &claims.to_string());
        if let Ok(c) = validate(validator(), &token) {
            prop_assert!(c.expires_at() >= NOW);
            prop_assert_eq!(&claims["iss"], &json!(ISSUER));
            prop_assert!(header.get("crit").is_none());
            let aud_ok = match &claims["aud"] {
                Value::String(a) => a == AUDIENCE,
                Value::Array(a) => a.contains(&json!(AUDIENCE)),
                _ => false,
            };
            prop_assert!(aud_ok, "accepted aud {}", claims["aud"]);
        }
    }

    /// JWK Set parser on arbitrary bytes and arbitrary JSON: never panics.
    #[test]
    fn jwks_arbitrary(bytes in prop::collection::vec(any::<u8>(), 0..400), doc in json_value()) {
        let _ = JwksCache::from_static_json(&bytes, JwksConfig::default());
        let _ = JwksCache::from_static_json(doc.to_string().as_bytes(), JwksConfig::default());
        let wrapped = json!({"keys": [doc]});
        let _ = JwksCache::from_static_json(wrapped.to_string().as_bytes(), JwksConfig::default());
    }

    /// Mutations of the real JWK Set: never panics, and a token verifies only under the very
    /// key that signed it (the mutated set must still hold its kid with unchanged material).
    #[test]
    fn jwks_mutations(edits in prop::collection::vec(edit(), 1..4), which in 0usize..4) {
        let original = jwks_doc().to_string();
        let mutated = apply(&original, &edits);
        if let Ok(v) = validator_over(&mutated) {
            let token = &valid_tokens()[which];
            if validate(&v, token).is_ok() {
                let doc: Value = serde_json::from_str(&mutated).expect("it parsed");
                let kid = ["a", "a", "ec", "ed"][which];
                let real = &jwks_doc()["keys"][[0, 0, 1, 2][which]];
                let same = doc["keys"].as_array().is_some_and(|keys| keys.iter().any(|k| {
                    k["kid"] == json!(kid)
                        && ["n", "e", "x", "y", "crv"].iter().all(|m| k.get(*m) == real.get(*m))
                }));
                prop_assert!(same, "a token verified under altered key material: {}", mutated);
            }
        }
    }

    /// JSON request decoders (key create/update, M2M client): total on arbitrary text and
    /// arbitrary JSON; a duplicate custom-claim key is always refused.
    #[test]
    fn json_request_decoders(s in ".{0,120}", doc in json_value(), claim in "[a-z]{1,8}", v1 in "[a-z]{1,8}", v2 in "[a-z]{1,8}") {
        let _ = serde_json::from_str::<CreateToken>(&s);
        let text = doc.to_string();
        let _ = serde_json::from_str::<CreateToken>(&text);
        let _ = serde_json::from_str::<UpdateToken>(&text);
        let _ = serde_json::from_str::<OrganizationClient>(&text);
        let dup = format!(r#"{{"organization_id":"org_1","custom_claims":{{"{claim}":"{v1}","{claim}":"{v2}"}}}}"#);
        let err = serde_json::from_str::<CreateToken>(&dup).expect_err("duplicate refused");
        prop_assert!(err.to_string().contains("duplicate key"));
    }
}

// --- page tokens: through a real embedded authority ------------------------------------------

struct Pages {
    runtime: tokio::runtime::Runtime,
    authority: Authority,
    org: String,
    /// Every page token the authority minted for the listing of `org`.
    minted: Vec<String>,
    _dir: tempfile::TempDir,
}

fn pages() -> &'static Pages {
    static P: OnceLock<Pages> = OnceLock::new();
    P.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("pages.db").display());
        let (authority, org, minted) = runtime.block_on(async {
            let authority = Authority::open(&url, AuthorityConfig::new("https://pages.test"))
                .await
                .expect("authority");
            let org = authority
                .create_organization(CreateOrganization {
                    display_name: "pages".into(),
                    external_id: None,
                })
                .await
                .expect("org")
                .id;
            for _ in 0..7 {
                authority
                    .create_token(CreateToken {
                        organization_id: org.clone(),
                        ..CreateToken::default()
                    })
                    .await
                    .expect("key");
            }
            let mut minted = Vec::new();
            let mut next: Option<String> = None;
            loop {
                let page = authority
                    .list_tokens(ListTokens {
                        organization_id: org.clone(),
                        page_size: Some(2),
                        page_token: next.clone(),
                        ..ListTokens::default()
                    })
                    .await
                    .expect("page");
                minted.extend([page.next_page_token.clone(), page.prev_page_token.clone()]);
                if page.next_page_token.is_empty() {
                    break;
                }
                next = Some(page.next_page_token);
            }
            minted.retain(|t| !t.is_empty());
            (authority, org, minted)
        });
        Pages {
            runtime,
            authority,
            org,
            minted,
            _dir: dir,
        }
    })
}

proptest! {
    /// The page-token decoder: arbitrary text and mutations of minted tokens are refused with
    /// `invalid_argument` naming `page_token`; only minted tokens (and none) list.
    #[test]
    fn page_tokens(s in ".{0,80}", which in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..3)) {
        let p = pages();
        let original = which.get(&p.minted).clone();
        for token in [s, apply(&original, &edits)] {
            let r = p.runtime.block_on(p.authority.list_tokens(ListTokens {
                organization_id: p.org.clone(),
                page_size: Some(2),
                page_token: Some(token.clone()),
                ..ListTokens::default()
            }));
            let accepted = token.is_empty() || p.minted.contains(&token);
            match r {
                Ok(_) => prop_assert!(accepted, "forged page token accepted: {:?}", token),
                Err(Error::InvalidArgument { field, .. }) => {
                    prop_assert!(!accepted, "minted token refused: {:?}", token);
                    prop_assert_eq!(field, "page_token");
                }
                Err(other) => prop_assert!(false, "unexpected error {other:?} for {token:?}"),
            }
        }
    }
}
