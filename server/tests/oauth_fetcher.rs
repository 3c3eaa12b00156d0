//! The client-credentials [`TokenFetcher`] against the real `authgate serve` token endpoint,
//! with an M2M client created through the real REST API. Requests reaching `/oauth/token` are
//! counted with the server's own `/metrics` request counter.

mod common;

use std::time::Duration;

use authgate_core::Error;
use authgate_core::jwt::{JwtValidator, ManualClock, ValidatorConfig};
use authgate_core::model::OrganizationClient;
use authgate_core::oauth::{TokenFetcher, TokenFetcherConfig};

use common::Server;

const AUDIENCE: &str = "https://api.example.test";

/// A server with one organization and one M2M client (scopes `read:a write:a`, 60 s tokens).
struct Setup {
    server: Server,
    org: String,
    client_id: String,
    secret: String,
}

async fn setup() -> Setup {
    let server = Server::start();
    let (org, created) = common::org_with_client(
        &server.remote(),
        "Fetcher",
        OrganizationClient {
            audience: Some(vec![AUDIENCE.into()]),
            expiry: Some(60), // the shortest lifetime allowed
            ..common::client_input("svc", &["read:a", "write:a"])
        },
    )
    .await;
    Setup {
        client_id: created.client.client_id.clone(),
        secret: created.plain_secret.expose().to_owned(),
        org: org.id,
        server,
    }
}

impl Setup {
    fn config(&self) -> TokenFetcherConfig {
        TokenFetcherConfig::new(
            self.server.at("/oauth/token"),
            self.client_id.clone(),
            self.secret.clone(),
        )
    }

    /// Requests the server has answered on `/oauth/token` (every method and status), from the
    /// `authgate_http_requests_total` counter of `/metrics`.
    async fn token_requests(&self) -> u64 {
        let text = self.server.metrics().await;
        text.lines()
            .filter(|l| l.starts_with("authgate_http_requests_total{route=\"/oauth/token\","))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    }

    fn validator(&self) -> JwtValidator {
        JwtValidator::new(
            ValidatorConfig::jwks_url(self.server.at("/keys"))
                .with_issuer(self.server.url.clone())
                .with_audience(AUDIENCE),
        )
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_request_and_tokens_validate() {
    let s = setup().await;
    let fetcher = TokenFetcher::new(s.config()).unwrap();
    let before = s.token_requests().await;

    let calls: Vec<_> = (0..100)
        .map(|_| {
            let fetcher = fetcher.clone();
            tokio::spawn(async move { fetcher.get_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap().unwrap());
    }
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "every caller gets the same token"
    );
    assert_eq!(
        s.token_requests().await - before,
        1,
        "one request reached /oauth/token"
    );
    assert_eq!(fetcher.status().requests, 1);

    let token = &tokens[0];
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.lifetime, Duration::from_secs(60));
    assert_eq!(token.scopes(), ["read:a", "write:a"]);

    // The token validates against the server's published keys.
    let claims = s.validator().validate(token.access_token.expose()).await.unwrap();
    assert_eq!(claims.client_id(), Some(s.client_id.as_str()));
    assert_eq!(claims.organization_id(), Some(s.org.as_str()));
    claims.require_all(&["read:a", "write:a"]).unwrap();

    // Served from the cache afterwards: no further request.
    assert_eq!(&fetcher.get_token().await.unwrap(), token);
    assert_eq!(s.token_requests().await - before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_ahead_of_expiry_and_on_invalidate() {
    let s = setup().await;
    let validator = s.validator();
    let mut config = s.config();
    // Refresh after 1 % of the 60 s lifetime (0.6 s), without jitter, on a manual clock.
    config.refresh_ratio = 0.01;
    config.refresh_jitter = 0.0;
    let clock = ManualClock::new();
    config.dangerous_clock = Some(clock.clone());
    let fetcher = TokenFetcher::new(config).unwrap();
    let before = s.token_requests().await;

    let first = fetcher.get_token().await.unwrap();
    assert_eq!(
        fetcher.get_token().await.unwrap(),
        first,
        "fresh: served from the cache"
    );
    clock.advance(Duration::from_millis(599));
    assert_eq!(fetcher.get_token().await.unwrap(), first);
    assert_eq!(fetcher.status().requests, 1, "before the refresh point");
    clock.advance(Duration::from_millis(1));

    // Past the refresh point: the current token is handed out at once and a refresh starts.
    assert_eq!(fetcher.get_token().await.unwrap(), first);
    assert!(
        common::eventually(|| fetcher.status().requests == 2 && !fetcher.status().fetching).await,
        "no background refresh"
    );
    let refreshed = fetcher.get_token().await.unwrap();
    assert_ne!(refreshed.access_token, first.access_token);
    assert_eq!(s.token_requests().await - before, 2);
    validator.validate(refreshed.access_token.expose()).await.unwrap();

    // Forced refresh: invalidate() drops the token; the next call fetches a new one.
    let fetcher = TokenFetcher::new(s.config()).unwrap();
    let before = s.token_requests().await;
    let old = fetcher.get_token().await.unwrap();
    fetcher.invalidate();
    assert!(fetcher.cached().is_none());
    let new = fetcher.get_token().await.unwrap();
    assert_ne!(new.access_token, old.access_token);
    // invalidate_token() with a token no longer cached keeps the current one.
    fetcher.invalidate_token(old.access_token.expose());
    assert_eq!(fetcher.get_token().await.unwrap(), new);
    assert_eq!(s.token_requests().await - before, 2);
    assert_eq!(fetcher.status().requests, 2);
    validator.validate(new.access_token.expose()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_the_servers_oauth_errors() {
    let s = setup().await;

    // Wrong secret (client_secret_post and HTTP Basic alike).
    let mut config = s.config();
    config.client_secret = "ags_000000000000000000000000000000000000000".into();
    let wrong = TokenFetcher::new(config.clone()).unwrap();
    assert_eq!(wrong.get_token().await.unwrap_err(), Error::InvalidClient);
    config.auth_method = authgate_core::oauth::ClientAuthMethod::ClientSecretBasic;
    let basic = TokenFetcher::new(config).unwrap();
    assert_eq!(basic.get_token().await.unwrap_err(), Error::InvalidClient);

    // A scope the client was not granted.
    let mut config = s.config();
    config.scopes = vec!["read:a".into(), "admin".into()];
    let excess = TokenFetcher::new(config).unwrap();
    match excess.get_token().await.unwrap_err() {
        Error::InvalidScope(description) => assert!(description.contains("admin"), "{description}"),
        other => panic!("expected invalid_scope, got {other:?}"),
    }
    let status = excess.status();
    assert_eq!(
        (status.requests, status.failures, status.has_token),
        (1, 1, false)
    );

    // A granted subset works, with HTTP Basic too.
    let mut config = s.config();
    config.scopes = vec!["read:a".into()];
    config.auth_method = authgate_core::oauth::ClientAuthMethod::ClientSecretBasic;
    let subset = TokenFetcher::new(config).unwrap();
    let token = subset.get_token().await.unwrap();
    assert_eq!(token.scopes(), ["read:a"]);
    let claims = s.validator().validate(token.access_token.expose()).await.unwrap();
    assert_eq!(claims.scopes(), ["read:a".to_owned()]);
}
