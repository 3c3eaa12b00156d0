//! `authgate dev-cert --out DIR`: a local CA and a server certificate for development and tests.

use std::io::Write;
use std::path::{Path, PathBuf};

use authgate_core::Error;

use super::Outcome;
use crate::serve::tls::dev_cert;

/// Options of `authgate dev-cert`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevCertArgs {
    /// Directory to write ca.pem, cert.pem and key.pem into (created when missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

fn write(path: &Path, contents: &str, private: bool, force: bool) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
            " (use --force to replace it)"
        } else {
            ""
        };
        Error::invalid("out", format!("cannot write {}: {e}{hint}", path.display()))
    })?;
    file.write_all(contents.as_bytes())
        .map_err(|e| Error::invalid("out", format!("cannot write {}: {e}", path.display())))
}

/// Writes `DIR/ca.pem`, `DIR/cert.pem` and `DIR/key.pem` (mode 0600) and prints how to use them.
pub fn run(args: &DevCertArgs) -> Outcome {
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::invalid("out", format!("cannot create {}: {e}", args.out.display())))?;
    let files = dev_cert()?;
    let (ca, cert, key) = (
        args.out.join("ca.pem"),
        args.out.join("cert.pem"),
        args.out.join("key.pem"),
    );
    if !args.force {
        for path in [&ca, &cert, &key] {
            if path.exists() {
                return Err(Error::invalid(
                    "out",
                    format!("{} exists (use --force to replace it)", path.display()),
                ));
            }
        }
    }
    write(&key, &files.key_pem, true, args.force)?;
    write(&cert, &files.cert_pem, false, args.force)?;
    write(&ca, &files.ca_pem, false, args.force)?;
    println!("wrote {}, {} and {}", ca.display(), cert.display(), key.display());
    println!(
        "serve:  authgate serve --tls-cert {} --tls-key {}",
        cert.display(),
        key.display()
    );
    println!(
        "trust:  REQUESTS_CA_BUNDLE / GRPC_DEFAULT_SSL_ROOTS_FILE_PATH / NODE_EXTRA_CA_CERTS / SSL_CERT_FILE={}",
        ca.display()
    );
    Ok(())
}
