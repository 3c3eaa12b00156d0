//! `tests/vectors/middleware.json` against the core's request policy: the same checks the server's
//! admin extractor and the Flask, FastAPI and Express middleware run, on a real embedded
//! authority (temp SQLite file) and real JWT validators.

use std::collections::BTreeMap;
use std::path::Path;

use authgate_core::jwt::{JwtValidator, KeySource, ScopeMatch, ValidatorConfig};
use authgate_core::model::{CreateOrganization, CreateToken, JwkSet, RateLimit, ValidateOptions};
use authgate_core::policy::{self, AnswerOptions, Rejection};
use authgate_core::setup::{Client, LocalSettings};
use serde_json::{Value, json};

fn vectors() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/middleware.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("middleware.json")).expect("JSON")
}

/// What a surface answers: status, body and the two policy headers (lower-case names).
fn respond(outcome: Result<(), Rejection>, options: &AnswerOptions) -> Value {
    match outcome {
        Ok(()) => json!({"status": 200, "body": {"ok": true},
                         "headers": {"www-authenticate": null, "retry-after": null}}),
        Err(rejection) => {
            let answer = policy::answer(&rejection, options);
            let mut headers = json!({"www-authenticate": null, "retry-after": null});
            for (name, value) in answer.headers() {
                headers[name.to_ascii_lowercase()] = json!(value);
            }
            json!({"status": answer.status, "body": answer.body(), "headers": headers})
        }
    }
}

/// A day in seconds: the rate limit of the vectors' limited key.
const DAY: u64 = 86_400;

/// An error of a check as the middleware sees it: a rejection, or a fault (test failure).
fn rejection(err: authgate_core::Error) -> Rejection {
    Rejection::from_error(&err).unwrap_or_else(|| panic!("not an authentication outcome: {err:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middleware_vectors() {
    let doc = vectors();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("policy.db").display());
    let client = Client::embedded(&url, &LocalSettings::default()).await.unwrap();
    let api = client.api.clone();
    let org = api
        .create_organization(CreateOrganization {
            display_name: "Policy".into(),
            external_id: None,
        })
        .await
        .unwrap();
    let key = |org: String| CreateToken {
        organization_id: org,
        ..Default::default()
    };
    let valid = api.create_token(key(org.id.clone())).await.unwrap().token;
    let revoked = api.create_token(key(org.id.clone())).await.unwrap().token;
    api.invalidate_token(revoked.expose()).await.unwrap();
    let restricted = |cidrs: &[&str]| CreateToken {
        allowed_cidrs: Some(cidrs.iter().map(|c| (*c).to_owned()).collect()),
        ..key(org.id.clone())
    };
    let loopback = api
        .create_token(restricted(&["127.0.0.0/8", "::1/128"]))
        .await
        .unwrap()
        .token;
    let network = api
        .create_token(restricted(&["192.0.2.0/24"]))
        .await
        .unwrap()
        .token;
    // Windows are aligned to the epoch: the cases must all run in the day window the limited
    // key is used up in, so a run that would cross midnight UTC waits it out first.
    let left = DAY - time::OffsetDateTime::now_utc().unix_timestamp() as u64 % DAY;
    if left < 120 {
        tokio::time::sleep(std::time::Duration::from_secs(left + 1)).await;
    }
    let limited = api
        .create_token(CreateToken {
            rate_limit: Some(RateLimit {
                limit: 1,
                window_seconds: DAY,
            }),
            ..key(org.id.clone())
        })
        .await
        .unwrap()
        .token;
    // The adapters pass the request's address: the suites' requests come from loopback.
    let from = ValidateOptions {
        client_ip: Some("127.0.0.1".parse().unwrap()),
    };
    api.validate_token_with(limited.expose(), &from).await.unwrap();
    let fill = |text: &str| {
        text.replace("{valid_key}", valid.expose())
            .replace("{revoked_key}", revoked.expose())
            .replace("{loopback_key}", loopback.expose())
            .replace("{network_key}", network.expose())
            .replace("{limited_key}", limited.expose())
    };

    let jwt = &doc["jwt"];
    let issuer = jwt["issuer"].as_str().unwrap();
    let jwks: JwkSet = serde_json::from_value(jwt["jwks"].clone()).unwrap();
    let required: Vec<String> = serde_json::from_value(jwt["required_scopes"].clone()).unwrap();
    let scoped =
        JwtValidator::new(ValidatorConfig::new(KeySource::Static(jwks)).with_issuer(issuer)).unwrap();
    let down = JwtValidator::new(
        ValidatorConfig::jwks_url(jwt["unreachable_jwks_url"].as_str().unwrap()).with_issuer(issuer),
    )
    .unwrap();
    let validators = BTreeMap::from([
        ("scope", &scoped),
        ("organization", &scoped),
        ("keys_down", &down),
    ]);
    let options = AnswerOptions::with_realm(doc["realm"].as_str());

    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 25, "the vector file lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let header = case["authorization"].as_str().map(fill);
        let route = case["route"].as_str().unwrap();
        let outcome = match policy::bearer(header.as_deref()) {
            Err(rejection) => Err(rejection),
            Ok(token) if route == "api_key" => api
                .validate_token_with(token, &from)
                .await
                .map(|_| ())
                .map_err(rejection),
            Ok(token) => {
                let validator = validators[route];
                match validator.validate(token).await {
                    Ok(claims) if route == "organization" => {
                        claims.require_organization().map(|_| ()).map_err(rejection)
                    }
                    Ok(claims) => claims.require(&required, ScopeMatch::All).map_err(rejection),
                    Err(err) => Err(rejection(err)),
                }
            }
        };
        let mut answer = respond(outcome, &options);
        if case["expected"]["headers"]["retry-after"] == "{retry_after}" {
            let seconds: u64 = answer["headers"]["retry-after"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                (1..=86_400).contains(&seconds),
                "case {name}: Retry-After {seconds}"
            );
            answer["headers"]["retry-after"] = json!("{retry_after}");
        }
        assert_eq!(answer, case["expected"], "case {name}");
    }
}
