//! TLS for `authgate serve` (`--tls-cert`, `--tls-key`): rustls with aws-lc-rs, ALPN `h2` and
//! `http/1.1` (gRPC clients require `h2`), and reloading of the certificate and key on SIGHUP.
//!
//! A reload swaps the configuration used for new handshakes; established connections keep the
//! one they were made with, so none is dropped. A reload that fails (unreadable file, key not
//! matching the certificate) is logged and the previous certificate stays in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use authgate_core::{Error, Result};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The server's TLS configuration, reloadable from its files.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

/// Reads a PEM certificate chain and private key into a rustls server configuration.
pub fn load(cert: &Path, key: &Path) -> Result<ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<std::result::Result<_, _>>())
        .map_err(|e| Error::invalid("tls_cert", format!("cannot read {}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(Error::invalid(
            "tls_cert",
            format!("{} holds no PEM certificate", cert.display()),
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Error::invalid("tls_key", format!("cannot read {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| Error::invalid("tls_key", format!("does not match the certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

impl Tls {
    /// Loads the certificate chain and key (PEM files).
    pub fn new(cert: PathBuf, key: PathBuf) -> Result<Self> {
        let config = load(&cert, &key)?;
        Ok(Tls {
            cert,
            key,
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// The configuration for the next handshake.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the files; on failure the current configuration stays.
    pub fn reload(&self) -> Result<()> {
        let config = Arc::new(load(&self.cert, &self.key)?);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        Ok(())
    }

    /// Reloads on every SIGHUP, for the life of the process.
    #[cfg(unix)]
    pub fn reload_on_sighup(self: &Arc<Self>) -> Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())
            .map_err(|e| Error::Internal(format!("cannot listen for SIGHUP: {e}")))?;
        let tls = Arc::downgrade(self);
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let Some(tls) = tls.upgrade() else { break };
                match tls.reload() {
                    Ok(()) => tracing::info!(cert = %tls.cert.display(), "TLS certificate reloaded"),
                    Err(err) => {
                        tracing::error!(error = %err, "TLS reload failed; keeping the current certificate");
                    }
                }
            }
        });
        Ok(())
    }

    /// No SIGHUP off Unix.
    #[cfg(not(unix))]
    pub fn reload_on_sighup(self: &Arc<Self>) -> Result<()> {
        Ok(())
    }
}

/// The files `authgate dev-cert` writes.
#[derive(Debug)]
pub struct DevCert {
    /// The local CA certificate (trust this one).
    pub ca_pem: String,
    /// The server certificate, for `localhost`, `127.0.0.1` and `::1`, signed by the CA.
    pub cert_pem: String,
    /// The server certificate's private key (PKCS#8).
    pub key_pem: String,
}

/// A local CA and a server certificate for `localhost`, `127.0.0.1` and `::1` (ECDSA P-256,
/// valid for a year), for development and tests.
pub fn dev_cert() -> Result<DevCert> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
        SanType,
    };
    let fail = |e: rcgen::Error| Error::Internal(format!("dev-cert: {e}"));
    let now = time::OffsetDateTime::now_utc();

    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "authgate development CA");
    ca.distinguished_name.push(DnType::OrganizationName, "authgate");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - time::Duration::hours(1);
    ca.not_after = now + time::Duration::days(365);
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(fail)?;
    let mut server = CertificateParams::default();
    server.distinguished_name.push(DnType::CommonName, "localhost");
    server.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().map_err(fail)?),
        SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
        SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
    ];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = now - time::Duration::hours(1);
    server.not_after = now + time::Duration::days(365);
    let cert = server.signed_by(&key, &issuer).map_err(fail)?;
    Ok(DevCert {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_cert_loads_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let files = dev_cert().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, &files.cert_pem).unwrap();
        std::fs::write(&key, &files.key_pem).unwrap();
        let tls = Tls::new(cert.clone(), key.clone()).unwrap();
        assert_eq!(tls.config().alpn_protocols[0], b"h2");
        let before = tls.config();
        // A broken key file: the reload fails, the current configuration stays.
        std::fs::write(&key, "not a key").unwrap();
        assert!(tls.reload().is_err());
        assert!(Arc::ptr_eq(&before, &tls.config()));
        let again = dev_cert().unwrap();
        std::fs::write(&cert, &again.cert_pem).unwrap();
        std::fs::write(&key, &again.key_pem).unwrap();
        tls.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, &tls.config()));
        // A key that does not match the certificate is refused.
        std::fs::write(&key, &files.key_pem).unwrap();
        assert!(tls.reload().is_err());
    }
}
