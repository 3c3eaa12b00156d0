//! Where the master key (encryption of signing keys at rest) comes from when
//! `AUTHGATE_MASTER_KEY` is not set: never "nowhere" on a server.
//!
//! - **SQLite**: a key file next to the database, `<database file>.master-key` (mode 0600,
//!   32 random bytes, base64), created on first use and read afterwards by `authgate serve` and
//!   every CLI command on that database. Keep it with the database's backups: without it the
//!   signing keys cannot be decrypted (they can be replaced by rotating, and tokens they signed
//!   then stop validating).
//! - **PostgreSQL**: no file can travel with the database, so `authgate serve` refuses to start
//!   without `AUTHGATE_MASTER_KEY` unless `--insecure-dev` is given (private keys then stored in
//!   plain text, with a warning).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use authgate_core::authority::{AuthorityConfig, MIN_SECRET_CONFIG_LEN};
use authgate_core::store::StoreKind;
use authgate_core::{Error, Result, Secret};
use base64::Engine as _;

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `AUTHGATE_MASTER_KEY`.
    Environment,
    /// The key file next to the SQLite database; `created` on this run.
    File {
        /// The key file.
        path: PathBuf,
        /// Whether this run created it.
        created: bool,
    },
    /// None: private keys in plain text (PostgreSQL with `--insecure-dev`).
    None,
}

/// The key file of a SQLite database URL: `<file>.master-key`; `None` for other stores.
pub fn key_file_for(database_url: &str) -> Option<PathBuf> {
    if StoreKind::of_url(database_url).ok()? != StoreKind::Sqlite {
        return None;
    }
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    (!rest.is_empty()).then(|| PathBuf::from(format!("{rest}.master-key")))
}

/// Fills `config.master_key` when `AUTHGATE_MASTER_KEY` did not: from (or, with `create`, into)
/// the SQLite key file; on PostgreSQL, an error unless `insecure_dev`.
///
/// The CLI passes `create = false`: it reads the key file `authgate serve` made, and never
/// creates one (a store the CLI creates first has its keys encrypted when the server starts).
pub fn resolve(
    database_url: &str,
    config: &mut AuthorityConfig,
    insecure_dev: bool,
    create: bool,
) -> Result<Source> {
    if config.master_key.is_some() {
        return Ok(Source::Environment);
    }
    match key_file_for(database_url) {
        Some(path) if !create && !path.exists() => Ok(Source::None),
        Some(path) => {
            let (key, created) = read_or_create(&path)?;
            config.master_key = Some(key);
            Ok(Source::File { path, created })
        }
        None if insecure_dev => Ok(Source::None),
        None => Err(Error::FailedPrecondition(
            "AUTHGATE_MASTER_KEY is not set: on PostgreSQL the server would store signing keys in plain \
             text. Set it (e.g. `openssl rand -base64 32`, at least 32 characters) or pass --insecure-dev"
                .into(),
        )),
    }
}

fn read_or_create(path: &Path) -> Result<(Secret, bool)> {
    match std::fs::File::open(path) {
        Ok(mut file) => {
            check_private(path, &file)?;
            let mut text = String::new();
            file.read_to_string(&mut text)
                .map_err(|e| unusable(path, &e.to_string()))?;
            let key = text.trim().to_owned();
            if key.chars().count() < MIN_SECRET_CONFIG_LEN {
                return Err(unusable(path, "it holds no key (too short)"));
            }
            Ok((Secret::new(key), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path).map(|k| (k, true)),
        Err(e) => Err(unusable(path, &e.to_string())),
    }
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

#[cfg(unix)]
fn create(path: &Path) -> Result<Secret> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::Internal(format!("cannot read /dev/urandom: {e}")))?;
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| unusable(path, &format!("cannot create it: {e}")))?;
    file.write_all(format!("{key}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| unusable(path, &format!("cannot write it: {e}")))?;
    Ok(Secret::new(key))
}

#[cfg(not(unix))]
fn create(path: &Path) -> Result<Secret> {
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
        assert_eq!(key_file_for("postgres://h/db"), None);
    }
}
