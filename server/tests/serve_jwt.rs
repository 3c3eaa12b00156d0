//! Tokens from `/oauth/token` validate with the JWT engine against `/keys` (and through
//! discovery); after an immediate `authgate signing-keys rotate --now` on the same database, old
//! and new tokens both validate, and the server itself accepts environment tokens signed with the
//! new key at once. (Staged rotations, the default: `serve_rotation.rs`.)

mod common;

use authgate_core::AuthApi;
use authgate_core::jwt::{JwtValidator, ManualClock, ValidatorConfig};
use authgate_core::model::{CustomClaim, OrganizationClient};
use std::time::Duration;

use common::{Server, kid};

/// A validator config with a short kid-refetch cooldown: the rotation below is immediate
/// (`--now`), and a validator that fetched the JWKS within its cooldown (30 s by default) would
/// otherwise refuse the new kid until the cooldown ends.
/// A 200 ms cooldown and negative TTL on the shared manual clock [`CLOCK`], which the test
/// advances instead of sleeping.
fn quick(mut config: ValidatorConfig) -> ValidatorConfig {
    config.jwks.cooldown = Duration::from_millis(200);
    config.jwks.negative_ttl = Duration::from_millis(200);
    config.jwks.dangerous_clock = Some(CLOCK.with(Clone::clone));
    config
}

thread_local! {
    /// The manual clock of the validators built by [`quick`] on this test's thread.
    static CLOCK: ManualClock = ManualClock::new();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_tokens_validate_against_keys_across_rotation() {
    let server = Server::start();
    let remote = server.remote();
    let (org, client) = common::org_with_client(
        &remote,
        "JWT",
        OrganizationClient {
            audience: Some(vec!["https://api.example.test".into()]),
            custom_claims: Some(vec![CustomClaim {
                key: "plan".into(),
                value: "pro".into(),
            }]),
            ..common::client_input("svc", &["read:a", "write:a"])
        },
    )
    .await;
    let client_id = client.client.client_id.clone();
    let secret = client.plain_secret.expose().to_owned();
    let old = remote
        .issue_client_token(&client_id, &secret, None)
        .await
        .unwrap();
    let old = old.access_token.expose().to_owned();

    let by_url = JwtValidator::new(quick(
        ValidatorConfig::jwks_url(server.at("/keys"))
            .with_issuer(server.url.clone())
            .with_audience("https://api.example.test"),
    ))
    .unwrap();
    let claims = by_url.validate(&old).await.unwrap();
    assert_eq!(claims.subject(), Some(client_id.as_str()));
    assert_eq!(claims.client_id(), Some(client_id.as_str()));
    assert_eq!(claims.organization_id(), Some(org.id.as_str()));
    assert_eq!(claims.scopes(), ["read:a".to_owned(), "write:a".to_owned()]);
    claims.require_all(&["read:a"]).unwrap();
    assert_eq!(claims.get("custom_claims").unwrap()["plan"], "pro");
    let by_discovery = JwtValidator::new(quick(
        ValidatorConfig::discovery(server.url.clone()).with_audience("https://api.example.test"),
    ))
    .unwrap();
    by_discovery.validate(&old).await.unwrap();

    // Rotate at once with the CLI on the same database, while the server runs.
    server.cli(&["signing-keys", "rotate", "--now"]);
    // Past the validators' cooldown (they fetched the keys moments ago).
    CLOCK.with(|c| c.advance(Duration::from_millis(200)));
    let new = remote
        .issue_client_token(&client_id, &secret, None)
        .await
        .unwrap();
    let new = new.access_token.expose().to_owned();
    assert_ne!(kid(&old), kid(&new), "the rotated key signs new tokens");
    by_url.validate(&new).await.unwrap();
    by_url.validate(&old).await.unwrap();
    by_discovery.validate(&new).await.unwrap();
    assert_eq!(remote.jwks().await.unwrap().keys.len(), 2);

    // The server's own admin-token check follows the rotation too.
    let admin = common::admin_token(&server).await;
    assert_eq!(kid(&admin), kid(&new));
    assert_eq!(server.management_status(&admin).await, 200);

    // Retire the old key, and restart the server on the same store and port (a fresh process
    // has no cached keys): the remote client's cached environment token, signed with the retired
    // key, is refused with 401; the client drops it, fetches a new one and retries, once.
    server.cli(&["signing-keys", "retire", &kid(&old)]);
    let listen = server.url.trim_start_matches("http://").to_owned();
    let options = common::Options {
        database: Some(server.database.clone()),
        credentials: Some((server.client_id.clone(), server.client_secret.clone())),
        listen,
        ..common::Options::default()
    };
    let (_dir, status) = server.terminate_keeping_store();
    assert!(status.success());
    let restarted = Server::start_with(options);
    let orgs = remote.list_organizations(Default::default()).await.unwrap();
    assert_eq!(orgs.total_size, 1);
    let metrics = restarted.metrics().await;
    assert!(
        metrics.contains("authgate_admin_auth_total{outcome=\"invalid\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("authgate_admin_auth_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
    // Tokens signed with the retired key no longer validate anywhere.
    let fresh = JwtValidator::new(ValidatorConfig::jwks_url(restarted.at("/keys"))).unwrap();
    assert_eq!(
        fresh.validate(&old).await.unwrap_err().code(),
        "unknown_kid",
        "the retired kid is no longer published"
    );
    fresh.validate(&new).await.unwrap();
}
