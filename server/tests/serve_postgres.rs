//! Two `authgate serve` processes on one PostgreSQL database (a fresh database per test, on the
//! server of `AUTHGATE_TEST_DATABASE_URL`, dropped afterwards). Ignored unless run with
//! `--include-ignored`, which `make test-rust` does when that variable is set.

mod common;

use authgate_core::model::{CreateOrganization, CreateToken};
use authgate_core::{AuthApi, Error};

#[test]
#[ignore = "needs PostgreSQL: set AUTHGATE_TEST_DATABASE_URL (scripts/with-postgres)"]
fn two_nodes_share_one_postgres() {
    let database = common::postgres_database("two_nodes_share_one_postgres");
    let (a, b) = common::two_nodes(Some(database.url.clone()), &[]);
    common::runtime().block_on(async {
        let (node_a, node_b) = (a.remote(), b.remote());

        // Both nodes publish the same JWKS.
        let (jwks_a, jwks_b) = (node_a.jwks().await.unwrap(), node_b.jwks().await.unwrap());
        assert!(!jwks_a.keys.is_empty());
        assert_eq!(jwks_a, jwks_b);

        let org = node_a
            .create_organization(CreateOrganization {
                display_name: "Shared".into(),
                external_id: None,
            })
            .await
            .unwrap();
        assert_eq!(node_b.get_organization(&org.id).await.unwrap(), org);

        // A key created and invalidated through A is refused by B within milliseconds (B
        // answers from its validation cache until the revocation's notification arrives; the
        // bound and its measurement are in `serve_pg_cache.rs`).
        let key = node_a
            .create_token(CreateToken {
                organization_id: org.id.clone(),
                ..CreateToken::default()
            })
            .await
            .unwrap();
        let info = node_b.validate_token(key.token.expose()).await.unwrap();
        assert_eq!(info.token_id, key.token_id);
        node_a.invalidate_token(&key.token_id).await.unwrap();
        let revoked = std::time::Instant::now();
        while node_b.validate_token(key.token.expose()).await.is_ok() {
            assert!(revoked.elapsed() < std::time::Duration::from_millis(50));
        }
        assert_eq!(
            node_b.validate_token(key.token.expose()).await.unwrap_err(),
            Error::TokenValidationFailed
        );

        // A client created on A issues tokens on B.
        let client = node_a
            .create_organization_client(&org.id, common::client_input("svc", &["read:x"]))
            .await
            .unwrap();
        let token = node_b
            .issue_client_token(&client.client.client_id, client.plain_secret.expose(), None)
            .await
            .unwrap();
        assert_eq!(token.scope, "read:x");

        // An environment token from A is accepted by B (same signing keys, same issuer).
        let admin = node_a
            .issue_client_token(&a.client_id, &a.client_secret, None)
            .await
            .unwrap();
        assert_eq!(b.management_status(admin.access_token.expose()).await, 200);
    });
}
