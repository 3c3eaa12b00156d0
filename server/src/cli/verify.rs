//! `authgate token verify`: validates a JWT access token with the core JWT engine and prints its
//! verified claims as JSON.
//!
//! The key source is chosen explicitly (see [`AFTER_HELP`]): a JWKS URL, OpenID Connect discovery
//! from the issuer, or the signing keys of the store named by `--database`. The exit status tells
//! a rejected token (1) from a usage error (2) and from a verification that could not reach a
//! verdict because the keys could not be obtained (3).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use authgate_core::Error;
use authgate_core::jwt::{JwtValidator, KeySource, ScopeMatch, ValidatorConfig};
use clap::{Args, ValueEnum};

use super::output::Out;
use super::{Global, Outcome, secret_arg};

/// Exit status: the token is rejected (invalid, expired, wrong issuer or audience, missing scopes).
pub const EXIT_REJECTED: u8 = 1;
/// Exit status: bad or conflicting options (clap uses 2 for its own usage errors too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: no verdict; the keys could not be obtained (`keys_unavailable`), or the store or
/// network failed otherwise.
pub const EXIT_UNAVAILABLE: u8 = 3;

/// The key sources and exit statuses, shown by `authgate token verify --help`.
pub const AFTER_HELP: &str = "\
Key source, one of:
  --jwks-url URL      the JWK Set at URL (https, or http to a loopback host)
  --issuer URL        OpenID Connect discovery: URL/.well-known/openid-configuration, then its jwks_uri
  --database URL      the signing keys of this authgate store (what `authgate serve` publishes)
The source is the one of these flags given on the command line. Name it with --keys when
--database and --issuer are both given, or when it comes only from the environment
(AUTHGATE_DATABASE_URL, AUTHGATE_ISSUER); the store is never used unless named.
--issuer (or AUTHGATE_ISSUER) is also the required `iss`, compared exactly, with every source;
without it `iss` is not checked.

Output: the verified claims as a JSON object on stdout (always JSON).

Exit status:
  0  the token is valid
  1  the token is rejected; stderr says `error: <code>: <message>` with code e.g.
     invalid_signature, token_expired, invalid_issuer, invalid_audience, unknown_kid,
     token_malformed, insufficient_scope
  2  usage error: bad or conflicting options (stderr: `error: invalid_argument: …`)
  3  no verdict: the keys could not be obtained (keys_unavailable), or the store failed";

/// Where `token verify` takes the verification keys from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeysFrom {
    /// The signing keys of the store named by --database.
    Database,
    /// The JWK Set at --jwks-url.
    JwksUrl,
    /// OpenID Connect discovery from --issuer.
    Discovery,
}

/// `authgate token verify`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct VerifyArgs {
    /// The access token (a JWT), or `-` to read it from stdin.
    token: String,
    /// Where the keys come from (default: the source flag given on the command line; see below).
    #[arg(long, value_enum, value_name = "SOURCE")]
    keys: Option<KeysFrom>,
    /// JWK Set URL (implies --keys jwks-url).
    #[arg(long, value_name = "URL")]
    jwks_url: Option<String>,
    /// An accepted audience: `aud` must hold one of them (repeatable; default: not checked).
    #[arg(long = "audience", value_name = "AUDIENCE")]
    audiences: Vec<String>,
    /// A scope the token must carry (repeatable; all of them unless --any-scope). Scopes are read
    /// from `scopes`, `scope`, `scp` and `permissions`.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// One of the --scope values is enough.
    #[arg(long, requires = "scopes")]
    any_scope: bool,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    leeway: u64,
}

/// The exit status of a failed `token verify` (see [`AFTER_HELP`]).
pub fn exit_status(error: &Error) -> u8 {
    match error {
        Error::InvalidToken(_) | Error::InsufficientScope { .. } => EXIT_REJECTED,
        Error::InvalidArgument { .. } => EXIT_USAGE,
        _ => EXIT_UNAVAILABLE,
    }
}

/// Which key source the flags name; an `invalid_argument` error when none or several do.
fn key_source(global: &Global, args: &VerifyArgs) -> Result<KeysFrom, Error> {
    let usage = |message: &str| Error::invalid("keys", message);
    let given = global.given;
    let source = match args.keys {
        Some(source) => source,
        None if args.jwks_url.is_some() => {
            if given.database_on_command_line {
                return Err(usage(
                    "--jwks-url and --database both name a key source; choose one with --keys",
                ));
            }
            KeysFrom::JwksUrl
        }
        None => match (given.database_on_command_line, given.issuer_on_command_line) {
            (true, true) => {
                return Err(usage(
                    "--database and --issuer both name a key source: add --keys database (the store's \
                     keys, iss checked against --issuer) or --keys discovery",
                ));
            }
            (true, false) => KeysFrom::Database,
            (false, true) => KeysFrom::Discovery,
            (false, false) => {
                return Err(usage(
                    "no key source: give --jwks-url URL, --issuer URL (discovery) or --database URL \
                     (or --keys database for the store in AUTHGATE_DATABASE_URL)",
                ));
            }
        },
    };
    match source {
        KeysFrom::JwksUrl if args.jwks_url.is_none() => Err(usage("--keys jwks-url needs --jwks-url URL")),
        KeysFrom::Database | KeysFrom::Discovery if args.jwks_url.is_some() => Err(usage(
            "--jwks-url conflicts with the chosen key source; drop one of them",
        )),
        KeysFrom::Discovery if !given.issuer => Err(usage(
            "--keys discovery needs the issuer: --issuer URL or AUTHGATE_ISSUER",
        )),
        source => Ok(source),
    }
}

/// The file behind a `sqlite:` URL, if it is one (the same forms the store accepts).
fn sqlite_path(database: &str) -> Option<&Path> {
    let rest = database.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    Some(Path::new(rest.split('?').next().unwrap_or(rest)))
}

/// Runs `token verify`.
pub async fn run(global: &Global, args: VerifyArgs) -> Outcome {
    let source = key_source(global, &args)?;
    let token = secret_arg(args.token, "token")?;
    let token = token.trim();
    let issuer = global.given.issuer.then(|| global.issuer.clone());

    let keys = match source {
        KeysFrom::JwksUrl => KeySource::JwksUrl(args.jwks_url.unwrap_or_default()),
        KeysFrom::Discovery => KeySource::Discovery,
        KeysFrom::Database => {
            // Verifying must not create a store: a mistyped path would otherwise become a new
            // database with a fresh signing key.
            if let Some(path) = sqlite_path(&global.database)
                && !path.is_file()
            {
                return Err(Error::invalid(
                    "database",
                    format!(
                        "no SQLite database at {} (token verify never creates one)",
                        path.display()
                    ),
                ));
            }
            KeySource::api(Arc::new(global.open().await?))
        }
    };
    let mut config = ValidatorConfig::new(keys);
    config.issuer = issuer;
    config.audiences = args.audiences;
    config.leeway = Duration::from_secs(args.leeway);
    config.required_scopes = args.scopes;
    config.scope_match = if args.any_scope {
        ScopeMatch::Any
    } else {
        ScopeMatch::All
    };
    config.token_cache_capacity = 0; // one token per process
    let validator = JwtValidator::new(config)?;
    let claims = validator.validate(token).await?;
    Out::new(true).emit(&claims, String::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://a.db"), Some(Path::new("a.db")));
        assert_eq!(sqlite_path("sqlite:///tmp/a.db"), Some(Path::new("/tmp/a.db")));
        assert_eq!(sqlite_path("sqlite:a.db"), Some(Path::new("a.db")));
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[test]
    fn exit_statuses() {
        use authgate_core::TokenError;
        assert_eq!(exit_status(&Error::InvalidToken(TokenError::InvalidSignature)), 1);
        assert_eq!(exit_status(&Error::InsufficientScope { missing: vec![] }), 1);
        assert_eq!(exit_status(&Error::invalid("keys", "x")), 2);
        assert_eq!(exit_status(&Error::KeysUnavailable("x".into())), 3);
        assert_eq!(exit_status(&Error::Store("x".into())), 3);
    }
}
