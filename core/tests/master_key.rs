#![cfg(unix)]

//! The master key file of a SQLite store, resolved alike by `authgate serve`, the CLI and
//! embedded clients ([`authgate_core::setup::master_key`]): an embedded client creates it before
//! the first signing key, reads it afterwards, and refuses one others can read.

use authgate_core::authority::AuthorityConfig;
use authgate_core::setup::master_key::{self, PostgresWithoutKey, Source};
use authgate_core::setup::{Client, LocalSettings};

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn an_embedded_client_creates_then_reuses_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let key_file = dir.path().join("a.db.master-key");

    let master_key::Opened {
        authority, source, ..
    } = master_key::open_authority(
        &url,
        AuthorityConfig::new("http://localhost"),
        PostgresWithoutKey::Refuse,
    )
    .await
    .unwrap();
    assert_eq!(
        source,
        Source::File {
            path: key_file.clone(),
            created: true
        }
    );
    assert_eq!(mode(&key_file), 0o600);
    authority
        .rotate_signing_key(std::time::Duration::ZERO)
        .await
        .unwrap();
    let keys = authority.list_signing_keys().await.unwrap();
    assert!(keys.iter().all(|k| k.encrypted), "{keys:?}");
    let written = std::fs::read_to_string(&key_file).unwrap();
    drop(authority);

    // An embedded client on the same store reads the same file and can sign.
    let client = Client::embedded(&url, &LocalSettings::default()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), written);
    assert_eq!(client.mode.name(), "embedded");
}

#[tokio::test]
async fn a_key_file_others_can_read_is_refused_and_nothing_is_created() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let key_file = dir.path().join("b.db.master-key");
    std::fs::write(&key_file, "k".repeat(44)).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let err = Client::embedded(&format!("sqlite://{}", db.display()), &LocalSettings::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "failed_precondition", "{err}");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(!db.exists(), "the store was not created");
}

#[tokio::test]
async fn a_missing_directory_gets_no_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/missing/c.db", dir.path().display());
    let err = Client::embedded(&url, &LocalSettings::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err}");
    assert!(!dir.path().join("missing").exists());
}

#[tokio::test]
async fn a_key_file_is_removed_when_the_store_cannot_be_opened_with_it() {
    // A store encrypted with another key (AUTHGATE_MASTER_KEY on the server): the key file an
    // embedded client would create does not match, the open fails, and no stray file remains.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let mut config = AuthorityConfig::new("http://localhost");
    config.master_key = Some(authgate_core::Secret::new(
        "master-key-master-key-master-key-0001",
    ));
    let master_key::Opened {
        authority, source, ..
    } = master_key::open_authority(&url, config, PostgresWithoutKey::Refuse)
        .await
        .unwrap();
    assert_eq!(source, Source::Given);
    authority
        .rotate_signing_key(std::time::Duration::ZERO)
        .await
        .unwrap();
    drop(authority);

    let err = Client::embedded(&url, &LocalSettings::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "failed_precondition", "{err}");
    assert!(!dir.path().join("d.db.master-key").exists());
}

#[test]
fn postgres_without_a_key_is_refused_only_when_asked() {
    let url = "postgres://u@127.0.0.1:1/db";
    let mut config = AuthorityConfig::new("http://localhost");
    let err = master_key::resolve(url, &mut config, PostgresWithoutKey::Refuse).unwrap_err();
    assert_eq!(err.code(), "failed_precondition");
    assert_eq!(
        master_key::resolve(url, &mut config, PostgresWithoutKey::PlainText).unwrap(),
        Source::None
    );
    assert!(config.master_key.is_none());
}

#[tokio::test]
async fn every_mode_encrypts_signing_keys_left_in_plain_text() {
    use authgate_core::authority::Authority;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("e.db").display());
    // A store from before key files existed: the authority opened without any master key.
    let old = Authority::open(&url, AuthorityConfig::new("http://localhost"))
        .await
        .unwrap();
    let kid = old
        .rotate_signing_key(std::time::Duration::ZERO)
        .await
        .unwrap()
        .kid;
    assert!(
        old.list_signing_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| !k.encrypted)
    );
    drop(old);

    // Opening it the way an embedded client (and the CLI, and the server) does encrypts them.
    let master_key::Opened {
        authority,
        source,
        sealed,
    } = master_key::open_authority(
        &url,
        AuthorityConfig::new("http://localhost"),
        PostgresWithoutKey::PlainText,
    )
    .await
    .unwrap();
    assert!(matches!(source, Source::File { created: true, .. }), "{source:?}");
    assert!(sealed.contains(&kid), "{sealed:?}");
    let keys = authority.list_signing_keys().await.unwrap();
    assert!(!keys.is_empty() && keys.iter().all(|k| k.encrypted), "{keys:?}");
    drop(authority);

    // Nothing left to do the next time; the keys still sign through an embedded client.
    let again = master_key::open_authority(
        &url,
        AuthorityConfig::new("http://localhost"),
        PostgresWithoutKey::PlainText,
    )
    .await
    .unwrap();
    assert!(again.sealed.is_empty());
    drop(again);
    let client = Client::embedded(&url, &LocalSettings::default()).await.unwrap();
    assert!(
        client
            .api
            .jwks()
            .await
            .unwrap()
            .keys
            .iter()
            .any(|k| k.kid.as_deref() == Some(kid.as_str()))
    );
}
