//! The SQLite validation cache across processes: two `authgate serve` on one SQLite file, keys
//! cached by B, then revoked through A's REST API, through the CLI (a third process) or by plain
//! SQL. B checks the file's data version before its cache answers, so the first validation sent
//! to B after the revocation returned must already be refused: there is no bound to wait for.
//! B's `/metrics` shows that it answered from memory before.

mod common;

use authgate_core::AuthApi;
use authgate_core::model::{CreateOrganization, CreateToken};
use common::http;

/// Keys revoked through each of the three paths.
const PER_PATH: usize = 100;

#[test]
fn a_revocation_by_another_process_is_refused_by_the_next_validation() {
    let (a, b) = common::two_nodes(None, &[]);
    common::runtime().block_on(async {
        let ready: serde_json::Value = http()
            .get(b.at("/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["validation_cache"], "exact", "{ready}");
        let (node_a, node_b) = (a.remote(), b.remote());
        let org = node_a
            .create_organization(CreateOrganization {
                display_name: "Shared file".into(),
                external_id: None,
            })
            .await
            .unwrap()
            .id;
        let mut keys = Vec::new();
        for _ in 0..3 * PER_PATH {
            let k = node_a
                .create_token(CreateToken {
                    organization_id: org.clone(),
                    ..CreateToken::default()
                })
                .await
                .unwrap();
            keys.push((k.token_id, k.token.expose().to_owned()));
        }
        for _ in 0..2 {
            for (_, t) in &keys {
                node_b.validate_token(t).await.unwrap();
            }
        }
        const HITS: &str = "authgate_validation_cache_lookups_total{outcome=\"hit\"}";
        let before = b.metric(HITS).await;
        assert!(
            before >= keys.len() as u64 / 2,
            "B does not answer from its cache: {before} hits"
        );

        for (i, (id, token)) in keys.iter().enumerate() {
            // Cached on B just before (the previous revocation emptied B's cache: the first
            // validation fills it, the second is answered from it).
            node_b.validate_token(token).await.unwrap();
            node_b.validate_token(token).await.unwrap();
            let how = match i % 3 {
                0 => {
                    node_a.invalidate_token(id).await.unwrap();
                    "A's REST API"
                }
                1 => {
                    b.cli(&["keys", "revoke", id]);
                    "the CLI"
                }
                _ => {
                    common::exec_sql(
                        &a.database,
                        &format!("UPDATE authgate_api_keys SET revoked_at = 1 WHERE id = '{id}'"),
                    );
                    "plain SQL"
                }
            };
            let answer = node_b.validate_token(token).await;
            assert!(
                answer.is_err(),
                "key {i}, revoked through {how}: B still accepted it: {answer:?}"
            );
        }
        let after = b.metric(HITS).await;
        assert!(
            after >= before + keys.len() as u64,
            "B did not answer from its cache between revocations: {before} → {after} hits"
        );
    });
}
