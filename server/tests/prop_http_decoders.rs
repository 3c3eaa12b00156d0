//! Property tests of the server's request decoders through the real `authgate serve` (issue #12,
//! item 10): the token endpoint's form decoder (`POST /oauth/token`) and the JSON decoder of
//! `POST /api/v1/tokens` (key create), plus duplicate `custom_claims` keys there (item 9).
//!
//! Oracles: every request gets an answer (the server never crashes) and never a 5xx, no
//! random credential is ever granted a token, a body the core's decoder refuses is a 400
//! `invalid_argument`, and nothing is created for a refused request. `PROPTEST_CASES` sets the
//! number of cases (`make test`: 2,000; `make fuzz`: 10^6).

mod common;

use authgate_core::model::CreateToken;
use common::{Server, admin_token, http};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::Value;

/// One real server per test (dropped, so killed, when the test ends), an admin token and an
/// organization.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    server: Server,
    admin: String,
    org: String,
    client: reqwest::Client,
}

impl Fixture {
    fn start() -> Fixture {
        let runtime = common::runtime();
        let server = Server::start();
        let (admin, org) = runtime.block_on(async {
            let admin = admin_token(&server).await;
            let org: Value = http()
                .post(server.at("/api/v1/organizations"))
                .bearer_auth(&admin)
                .json(&serde_json::json!({"display_name": "fuzz"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let org = org["organization"]["id"]
                .as_str()
                .expect("organization id")
                .to_owned();
            (admin, org)
        });
        Fixture {
            runtime,
            server,
            admin,
            org,
            client: http(),
        }
    }

    /// (status, body) of one request.
    fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        self.runtime.block_on(async {
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            (status, body)
        })
    }

    fn key_count(&self) -> u64 {
        let (status, body) = self.send(
            self.client
                .get(
                    self.server
                        .at(&format!("/api/v1/tokens?organization_id={}", self.org)),
                )
                .bearer_auth(&self.admin),
        );
        assert_eq!(status, 200, "{body}");
        body["total_count"].as_u64().unwrap_or(0)
    }
}

/// Runs `property` on `config`'s number of cases of `strategy` against one fresh [`Fixture`].
fn check<S: Strategy>(
    config: ProptestConfig,
    strategy: S,
    property: impl Fn(&Fixture, S::Value) -> Result<(), TestCaseError>,
) {
    let fixture = Fixture::start();
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, |value| property(&fixture, value)) {
        panic!("{e}");
    }
}

fn form_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("client_credentials".to_owned()),
        Just("password".to_owned()),
        "skc_[0-9a-f]{0,24}",
        "m2morg_[0-9a-z]{0,20}",
        ".{0,40}",
        "[%+&=]{0,6}",
    ]
}

fn form_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("grant_type".to_owned()),
        Just("client_id".to_owned()),
        Just("client_secret".to_owned()),
        Just("scope".to_owned()),
        ".{0,10}",
    ]
}

fn json_text() -> impl Strategy<Value = String> {
    let claims = prop::collection::vec(("[a-z]{1,4}", "[a-z]{0,6}"), 0..4).prop_map(|pairs| {
        let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
        format!("{{{}}}", inner.join(","))
    });
    let org = prop_oneof![
        Just(None),
        "org_[0-9a-z]{0,20}".prop_map(Some),
        ".{0,12}".prop_map(Some)
    ];
    let shaped = (
        org,
        prop::option::of(claims),
        prop::option::of(prop_oneof![
            Just("1893456000".to_owned()),
            Just("\"2030-01-01T00:00:00Z\"".to_owned()),
            Just("\"soon\"".to_owned()),
            Just("-1".to_owned()),
            Just("1e400".to_owned()),
            Just("null".to_owned())
        ]),
        prop::option::of(".{0,10}"),
    )
        .prop_map(|(org, claims, expiry, extra)| {
            let mut members = Vec::new();
            if let Some(org) = org {
                members.push(format!("\"organization_id\":{org:?}"));
            }
            if let Some(c) = claims {
                members.push(format!("\"custom_claims\":{c}"));
            }
            if let Some(e) = expiry {
                members.push(format!("\"expiry\":{e}"));
            }
            if let Some(x) = extra {
                members.push(format!("{x:?}:1"));
            }
            format!("{{{}}}", members.join(","))
        });
    prop_oneof![shaped, ".{0,80}", "[\\[\\]{}\":,0-9a-z ]{0,60}"]
}

/// The token endpoint: random forms (repeated, unknown, over-long, badly escaped parameters)
/// are refused (400/401, or 429 once brute-force limits apply); none is granted a token.
#[test]
fn token_endpoint_form() {
    let strategy = (
        prop::collection::vec((form_name(), form_value()), 0..6),
        prop::collection::vec(any::<u8>(), 0..120),
        any::<bool>(),
    );
    check(
        ProptestConfig::default(),
        strategy,
        |f, (params, raw, use_raw)| {
            let body: Vec<u8> = if use_raw {
                raw
            } else {
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&params)
                    .finish()
                    .into_bytes()
            };
            let (status, answer) = f.send(
                f.client
                    .post(f.server.at("/oauth/token"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
            );
            prop_assert!(matches!(status, 400 | 401 | 429), "status {status}: {answer}");
            prop_assert!(answer["error"].is_string(), "{answer}");
            Ok(())
        },
    );
}

/// Key create: random and near-valid JSON bodies. Never a 5xx; what the core's decoder refuses
/// is a 400 `invalid_argument`; nothing is created without a real organization.
#[test]
fn key_create_json() {
    check(ProptestConfig::default(), json_text(), |f, text| {
        let decodes = serde_json::from_str::<CreateToken>(&text).is_ok();
        let (status, answer) = f.send(
            f.client
                .post(f.server.at("/api/v1/tokens"))
                .bearer_auth(&f.admin)
                .header("content-type", "application/json")
                .body(text.clone()),
        );
        prop_assert!(status < 500, "status {status} for {text}: {answer}");
        prop_assert!(status != 201, "created a key for {text}");
        if !decodes {
            prop_assert_eq!(status, 400, "{} -> {}", text, answer);
            prop_assert_eq!(
                answer["details"][0]["error_code"].as_str(),
                Some("invalid_argument"),
                "{}",
                answer
            );
        }
        Ok(())
    });
}

/// Duplicate `custom_claims` keys: 400 `invalid_argument` naming the field, nothing created. A
/// fixed, small number of cases: each is three requests and the property is simple.
#[test]
fn duplicate_custom_claims_are_refused() {
    let strategy = ("[a-z]{1,8}", "[a-z]{1,8}", "[a-z]{1,8}");
    check(ProptestConfig::with_cases(32), strategy, |f, (claim, a, b)| {
        let before = f.key_count();
        let body = format!(
            r#"{{"organization_id":"{}","custom_claims":{{"{claim}":"{a}","{claim}":"{b}"}}}}"#,
            f.org
        );
        let (status, answer) = f.send(
            f.client
                .post(f.server.at("/api/v1/tokens"))
                .bearer_auth(&f.admin)
                .header("content-type", "application/json")
                .body(body),
        );
        prop_assert_eq!(status, 400, "{}", answer);
        prop_assert_eq!(
            answer["details"][0]["error_code"].as_str(),
            Some("invalid_argument"),
            "{}",
            answer
        );
        prop_assert!(
            answer["message"]
                .as_str()
                .unwrap_or_default()
                .contains("custom_claims"),
            "{}",
            answer
        );
        prop_assert_eq!(f.key_count(), before);
        Ok(())
    });
}
