//! Where the master key (encryption of signing keys at rest) comes from, for every mode alike:
//! `authgate serve`, the CLI and embedded clients (`ScalekitClient.local(…)` in Python and Node,
//! [`Client::embedded`](super::Client::embedded)).
//!
//! 1. A master key given explicitly (`master_key`/`masterKey` of an embedded client) or by
//!    `AUTHGATE_MASTER_KEY` wins.
//! 2. **SQLite**: else a key file next to the database, `<database file>.master-key` (mode 0600,
//!    32 random bytes, base64), is read if it exists and created otherwise, before the store is
//!    opened (so before its first signing key is written). A file readable by group or others is
//!    refused (`failed_precondition`): it decrypts the signing keys. Creation is atomic (written
//!    under a temporary name, then linked into place, which fails if the file exists): of two
//!    processes racing to create it, the loser reads the winner's complete file, and both use one
//!    key. Keep the file with the database's backups: without it the signing keys cannot be
//!    decrypted (they can be replaced by rotating; tokens they signed then stop validating).
//! 3. **PostgreSQL**: no file can travel with the database. `authgate serve` refuses to start
//!    without a master key unless `--insecure-dev`; the CLI and embedded clients keep signing
//!    keys they create in plain text ([`PostgresWithoutKey::PlainText`]), and `authgate serve`
//!    encrypts them when it starts with a master key.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::authority::{Authority, AuthorityConfig, MIN_SECRET_CONFIG_LEN};
use crate::store::StoreKind;
use crate::{Error, Result, Secret};

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Given: `AUTHGATE_MASTER_KEY` or an explicit option.
    Given,
    /// The key file next to the SQLite database; `created` on this run.
    File {
        /// The key file.
        path: PathBuf,
        /// Whether this run created it.
        created: bool,
    },
    /// None: signing keys in plain text (PostgreSQL without a master key).
    None,
}

/// What to do on PostgreSQL without a master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostgresWithoutKey {
    /// Refuse (`failed_precondition`): `authgate serve` without `--insecure-dev`.
    Refuse,
    /// Store signing keys in plain text: `authgate serve --insecure-dev`, the CLI, embedded clients.
    PlainText,
}

/// The key file of a SQLite database URL: `<file>.master-key`; `None` for other stores.
pub fn key_file_for(database_url: &str) -> Option<PathBuf> {
    if StoreKind::of_url(database_url).ok()? != StoreKind::Sqlite {
        return None;
    }
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    // URLs the store refuses (in-memory, options) get no file: opening them fails anyway.
    if rest.is_empty() || rest.contains('?') || rest.starts_with(":memory:") || rest.starts_with("file:") {
        return None;
    }
    Some(PathBuf::from(format!("{rest}.master-key")))
}

/// Fills `config.master_key` when it is not given, by the rules of the [module docs](self).
///
/// A database whose directory does not exist gets no key file (`Source::None`): opening the
/// store then reports the missing directory, and nothing is created.
pub fn resolve(
    database_url: &str,
    config: &mut AuthorityConfig,
    postgres: PostgresWithoutKey,
) -> Result<Source> {
    if config.master_key.is_some() {
        return Ok(Source::Given);
    }
    match key_file_for(database_url) {
        Some(path) if !parent_exists(&path) => Ok(Source::None),
        Some(path) => {
            let (key, created) = read_or_create(&path)?;
            config.master_key = Some(key);
            Ok(Source::File { path, created })
        }
        None if StoreKind::of_url(database_url).ok() != Some(StoreKind::Postgres) => Ok(Source::None),
        None if postgres == PostgresWithoutKey::PlainText => Ok(Source::None),
        None => Err(Error::FailedPrecondition(
            "AUTHGATE_MASTER_KEY is not set: on PostgreSQL the server would store signing keys in plain \
             text. Set it (e.g. `openssl rand -base64 32`, at least 32 characters) or pass --insecure-dev"
                .into(),
        )),
    }
}

/// An authority opened by [`open_authority`], with what its opening did.
#[derive(Debug)]
pub struct Opened {
    /// The authority.
    pub authority: Authority,
    /// Where its master key came from.
    pub source: Source,
    /// Signing keys found in plain text (written before the store had a master key) and
    /// encrypted under it by this opening: the migration every mode runs, the server, the CLI
    /// and embedded clients alike. Empty without a master key.
    pub sealed: Vec<String>,
}

/// [`resolve`]s the master key, opens the authority, then encrypts every signing key still
/// stored in plain text ([`Authority::encrypt_plaintext_signing_keys`]).
///
/// If the store's signing keys are encrypted with another key (a server run with
/// `AUTHGATE_MASTER_KEY`), a key file created by this call is removed again: it could never open
/// this store, and a stray file would only mislead. On any other failure the file stays: another
/// process may already be using the key it holds.
pub async fn open_authority(
    database_url: &str,
    mut config: AuthorityConfig,
    postgres: PostgresWithoutKey,
) -> Result<Opened> {
    let source = resolve(database_url, &mut config, postgres)?;
    let authority = match Authority::open(database_url, config).await {
        Ok(authority) => authority,
        Err(e) => {
            if let Source::File { path, created: true } = &source
                && is_other_master_key(&e)
            {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    let sealed = authority.encrypt_plaintext_signing_keys().await?;
    Ok(Opened {
        authority,
        source,
        sealed,
    })
}

/// The refusal of [`Authority::open`] when the store's signing keys are encrypted with another
/// master key (pinned by `core/tests/master_key.rs`).
fn is_other_master_key(e: &Error) -> bool {
    matches!(e, Error::FailedPrecondition(m) if m.contains("is not the key this store's signing keys are encrypted with"))
}

fn parent_exists(path: &Path) -> bool {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.is_dir(),
        _ => true,
    }
}

fn read_or_create(path: &Path) -> Result<(Secret, bool)> {
    match read(path) {
        Err(ReadError::Missing) => match create(path)? {
            Some(key) => Ok((key, true)),
            // Another process created it first: use its key.
            None => read(path)
                .map(|k| (k, false))
                .map_err(ReadError::into_error(path)),
        },
        other => other.map(|k| (k, false)).map_err(ReadError::into_error(path)),
    }
}

enum ReadError {
    Missing,
    Unusable(Error),
}

impl ReadError {
    fn into_error(path: &Path) -> impl Fn(ReadError) -> Error + '_ {
        move |e| match e {
            ReadError::Missing => unusable(path, "it disappeared while being read"),
            ReadError::Unusable(e) => e,
        }
    }
}

fn read(path: &Path) -> std::result::Result<Secret, ReadError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Unusable(unusable(path, &e.to_string()))),
    };
    check_private(path, &file).map_err(ReadError::Unusable)?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| ReadError::Unusable(unusable(path, &e.to_string())))?;
    let key = text.trim().to_owned();
    if key.chars().count() < MIN_SECRET_CONFIG_LEN {
        return Err(ReadError::Unusable(unusable(path, "it holds no key (too short)")));
    }
    Ok(Secret::new(key))
}

fn unusable(path: &Path, why: &str) -> Error {
    Error::FailedPrecondition(format!(
        "the master key file {} cannot be used: {why}",
        path.display()
    ))
}

/// A key file readable by others is refused: it decrypts the signing keys.
#[cfg(unix)]
fn check_private(path: &Path, file: &std::fs::File) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|e| unusable(path, &e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(unusable(
            path,
            &format!(
                "its mode is {:o}; make it readable by its owner only (chmod 600)",
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _file: &std::fs::File) -> Result<()> {
    Ok(())
}

/// Creates the key file atomically: the key is written and synced under a unique temporary
/// name, then hard-linked to `path` (which fails if `path` exists). `None`: another process
/// created `path` first.
#[cfg(unix)]
fn create(path: &Path) -> Result<Option<Secret>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::Internal("the system CSPRNG failed".into()))?;
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut nonce = [0u8; 8];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| Error::Internal("the system CSPRNG failed".into()))?;
    let tmp = PathBuf::from(format!(
        "{}.{}-{}.tmp",
        path.display(),
        std::process::id(),
        u64::from_le_bytes(nonce)
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(format!("{key}\n").as_bytes())?;
            file.sync_all()
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(unusable(path, &format!("cannot create it: {e}")));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            // The new name is durable once its directory is synced.
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(Some(Secret::new(key)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(unusable(path, &format!("cannot create it: {e}"))),
    }
}

#[cfg(not(unix))]
fn create(path: &Path) -> Result<Option<Secret>> {
    Err(unusable(
        path,
        "key files are created on Unix only; set AUTHGATE_MASTER_KEY",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_paths() {
        assert_eq!(
            key_file_for("sqlite:///var/lib/a.db"),
            Some(PathBuf::from("/var/lib/a.db.master-key"))
        );
        assert_eq!(
            key_file_for("sqlite://a.db"),
            Some(PathBuf::from("a.db.master-key"))
        );
        assert_eq!(key_file_for("sqlite::memory:"), None);
        assert_eq!(key_file_for("sqlite://a.db?mode=ro"), None);
        assert_eq!(key_file_for("postgres://h/db"), None);
    }

    /// Processes racing to create the file agree on one key (threads stand in for processes:
    /// the link is atomic across both).
    #[test]
    fn racing_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db.master-key");
        let keys: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| read_or_create(&path).unwrap()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().0.expose().to_owned())
                .collect()
        });
        assert!(keys.iter().all(|k| k == &keys[0]), "{} distinct keys", keys.len());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
