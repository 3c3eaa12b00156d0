//! The operator commands of `authgate`, on the core [`Authority`].
//!
//! Output is human-readable by default; with `--json` each command prints the JSON object the
//! REST API answers with (snake_case fields): `{token, token_id, token_info}`, `{client,
//! plain_secret}`, `{tokens, total_count, next_page_token, prev_page_token}`, … Commands without a
//! body (delete, revoke, remove) print `{}`.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use authgate_core::authority::{Authority, AuthorityConfig, limits};
use authgate_core::model::{
    CreateOrganization, CreateToken, CreateUser, CustomClaim, ListAuditEvents, ListOrganizations, ListTokens,
    OrganizationClient, RateLimit, RotateToken, UpdateToken, ValidateOptions,
};
use authgate_core::setup::master_key::{self, PostgresWithoutKey};
use authgate_core::{AuthApi, Error};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Subcommand};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub mod dev_cert;
mod output;
mod verify;

use output::Out;
pub use verify::VerifyArgs;

/// What a command ends with; errors are printed by [`execute`].
pub type Outcome = Result<(), Error>;

/// Options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Database URL: sqlite://PATH, postgres://… or postgresql://…
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "AUTHGATE_DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://authgate.db"
    )]
    pub database: String,

    /// Environment URL, the `iss` of issued access tokens. Default: derived as `authgate serve`
    /// derives it, from AUTHGATE_LISTEN (`http://` + that address, `https://` when
    /// AUTHGATE_TLS_CERT is set, 127.0.0.1 for an unspecified address); refused when that
    /// address has port 0.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "AUTHGATE_ISSUER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub issuer: String,

    /// Print JSON (the REST API's objects) instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// Where `--database` and `--issuer` came from; set by `main` with [`Given::of`].
    #[arg(skip)]
    pub given: Given,
}

/// Which global options were given rather than defaulted (the derived [`Global`] cannot tell).
#[derive(Debug, Clone, Copy, Default)]
pub struct Given {
    /// `--database` is on the command line (not only in `AUTHGATE_DATABASE_URL`).
    pub database_on_command_line: bool,
    /// `--issuer` is on the command line (not only in `AUTHGATE_ISSUER`).
    pub issuer_on_command_line: bool,
    /// `--issuer` or `AUTHGATE_ISSUER` is given (the issuer is not the default).
    pub issuer: bool,
}

impl Given {
    /// Reads the value sources of the global options from the parsed command line.
    pub fn of(matches: &ArgMatches) -> Given {
        let source = |id: &str| matches.value_source(id);
        Given {
            database_on_command_line: source("database") == Some(ValueSource::CommandLine),
            issuer_on_command_line: source("issuer") == Some(ValueSource::CommandLine),
            issuer: source("issuer").is_some_and(|s| s != ValueSource::DefaultValue),
        }
    }
}

impl Global {
    /// The configuration: `--issuer`, then `AUTHGATE_KEY_PEPPER`, `AUTHGATE_MASTER_KEY`,
    /// `AUTHGATE_ENVIRONMENT_TOKEN_TTL` and `AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY` from the
    /// environment. The master key file of a SQLite store is resolved by [`Global::open`].
    pub fn config(&self) -> Result<AuthorityConfig, Error> {
        // Commands that issue no token do not need the issuer: an underivable one (port 0) is
        // refused by `token issue` only.
        let issuer = if self.given.issuer {
            self.issuer.clone()
        } else {
            derived_issuer().unwrap_or_else(|_| self.issuer.clone())
        };
        let mut config = AuthorityConfig::from_env(issuer)?;
        // The audit log names the OS user running the CLI.
        config.audit_actor = authgate_core::audit::cli_actor();
        Ok(config)
    }

    /// Opens the authority on `--database` with [`Global::config`] and the master key as
    /// [`master_key`] resolves it for every mode: on SQLite without `AUTHGATE_MASTER_KEY`, the
    /// key file next to the database, created if missing (so a store the CLI creates first
    /// never holds a plain-text signing key); on PostgreSQL without it, plain-text keys (as
    /// before; `authgate serve` refuses that without `--insecure-dev`). Signing keys left in plain
    /// text are encrypted once a master key is there, by whichever opens the store first.
    pub async fn open(&self) -> Result<Authority, Error> {
        let opened =
            master_key::open_authority(&self.database, self.config()?, PostgresWithoutKey::PlainText).await?;
        Ok(opened.authority)
    }
}

/// The issuer `authgate serve` would use with the same environment and no `--issuer`:
/// `http(s)://` + AUTHGATE_LISTEN (default `127.0.0.1:8080`), an unspecified address shown as
/// 127.0.0.1. A port 0 (picked at start-up) cannot be known here: refused.
fn derived_issuer() -> Result<String, Error> {
    use std::net::ToSocketAddrs;
    let listen = std::env::var("AUTHGATE_LISTEN")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let mut addr = listen
        .trim()
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Error::invalid(
                "issuer",
                format!(
                    "cannot derive the issuer from AUTHGATE_LISTEN={listen}: set --issuer or AUTHGATE_ISSUER"
                ),
            )
        })?;
    if addr.port() == 0 {
        return Err(Error::invalid(
            "issuer",
            "AUTHGATE_LISTEN has port 0, so the server's address is only known once it runs: set \
             --issuer or AUTHGATE_ISSUER to the URL clients use",
        ));
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let tls = std::env::var_os("AUTHGATE_TLS_CERT").is_some_and(|v| !v.is_empty());
    Ok(format!("{}://{addr}", if tls { "https" } else { "http" }))
}

/// The exit status of a failed command: 1, except for `token verify` ([`AdminCommand::exit_status`]).
pub fn exit_status(_: &Error) -> u8 {
    1
}

/// Builds a runtime, runs a command, prints its error (if any) and gives the exit status
/// (`exit_status` of the error on failure).
pub fn execute(command: impl Future<Output = Outcome>, exit_status: fn(&Error) -> u8) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: internal: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {e}", e.code());
            ExitCode::from(exit_status(&e))
        }
    }
}

/// The operator commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organizations.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Users and their memberships.
    #[command(subcommand)]
    Users(UsersCommand),
    /// API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Organization M2M clients (OAuth 2.0 client credentials).
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// RS256 signing keys of issued access tokens.
    #[command(subcommand, name = "signing-keys")]
    SigningKeys(SigningKeysCommand),
    /// The client-credentials grant; access-token verification.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Environment credentials (skc_… ids): who may call the management API.
    #[command(subcommand, name = "env-credentials")]
    EnvCredentials(EnvCredentialsCommand),
    /// The audit log: management actions and refused management authentications.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, oldest first (filters combine).
    List {
        /// Only events of this organization (org_…).
        #[arg(long)]
        org: Option<String>,
        /// Only events of this actor (skc_…, cli:USER, embedded, server, unauthenticated).
        #[arg(long)]
        actor: Option<String>,
        /// Only events of this action (e.g. api_key.revoke, admin.authenticate).
        #[arg(long)]
        action: Option<String>,
        /// Only events at or after this time, RFC 3339.
        #[arg(long, value_parser = parse_rfc3339)]
        since: Option<OffsetDateTime>,
        /// Only events before this time, RFC 3339.
        #[arg(long, value_parser = parse_rfc3339)]
        until: Option<OffsetDateTime>,
        /// 1–100 (default 50).
        #[arg(long)]
        page_size: Option<u32>,
        /// From a previous listing.
        #[arg(long)]
        page_token: Option<String>,
    },
    /// Delete events older than a retention (what `serve --audit-retention-days` does hourly);
    /// for deployments without a server, e.g. from cron.
    Prune {
        /// Keep this many days of events (1–36500).
        #[arg(long)]
        retention_days: u64,
    },
}

impl AdminCommand {
    /// How a failure of this command maps to an exit status.
    pub fn exit_status(&self) -> fn(&Error) -> u8 {
        match self {
            AdminCommand::Token(TokenCommand::Verify(_)) => verify::exit_status,
            _ => exit_status,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Create an organization.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Your own unique identifier for it.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Show an organization.
    Get {
        /// org_…
        org: String,
    },
    /// List organizations, oldest first.
    List {
        /// Only the organization with this external id.
        #[arg(long)]
        external_id: Option<String>,
        /// 1–100 (default 10).
        #[arg(long)]
        page_size: Option<u32>,
        /// From a previous listing.
        #[arg(long)]
        page_token: Option<String>,
    },
    /// Delete an organization with its API keys, clients and memberships.
    Delete {
        /// org_…
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user (or reuse the one with this email) as a member of an organization.
    Create {
        /// org_…
        #[arg(long)]
        org: String,
        /// Email address (the user with this email is reused).
        #[arg(long)]
        email: String,
        /// Your own identifier for the user.
        #[arg(long)]
        external_id: Option<String>,
        /// A role in the organization (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; the key is printed once.
    Create {
        /// org_…
        #[arg(long)]
        org: String,
        /// usr_… (makes the key user-scoped; the user must be a member).
        #[arg(long)]
        user: Option<String>,
        /// A custom claim K=V (repeatable).
        #[arg(long = "claim", value_parser = parse_claim)]
        claims: Vec<(String, String)>,
        /// Expiry, RFC 3339 (e.g. 2030-01-01T00:00:00Z). Default: never.
        #[arg(long, value_parser = parse_rfc3339)]
        expires: Option<OffsetDateTime>,
        /// Free text (at most 255 characters).
        #[arg(long)]
        description: Option<String>,
        /// A network the key may be used from, e.g. 10.0.0.0/8 or 2001:db8::/32 (repeatable).
        /// Default: any address.
        #[arg(long = "allow-cidr")]
        allowed_cidrs: Vec<String>,
        /// At most LIMIT validations per window of SECONDS, as LIMIT/SECONDS (e.g. 100/60).
        /// Default: no limit.
        #[arg(long, value_parser = parse_rate_limit)]
        rate_limit: Option<RateLimit>,
    },
    /// Validate an API key (exit status 1 when it does not validate).
    Validate {
        /// The key, or `-` to read it from stdin.
        key: String,
        /// The address the key is used from (needed for keys restricted to networks).
        #[arg(long)]
        client_ip: Option<String>,
    },
    /// List the live keys of an organization, oldest first.
    List {
        /// org_…
        #[arg(long)]
        org: String,
        /// Only the keys of this user (usr_…).
        #[arg(long)]
        user: Option<String>,
        /// 1–30 (default 10).
        #[arg(long)]
        page_size: Option<u32>,
        /// From a previous listing.
        #[arg(long)]
        page_token: Option<String>,
        /// Also list revoked keys, with when they were revoked.
        #[arg(long)]
        include_revoked: bool,
        /// Only keys not used since this time (RFC 3339): never used, or last used before it.
        #[arg(long, value_parser = parse_rfc3339)]
        unused_since: Option<OffsetDateTime>,
    },
    /// Rotate a key: print a new key with the same organization, user, claims, description,
    /// expiry and settings; the old key keeps validating for the grace period, then is revoked.
    Rotate {
        /// The key, its apit_… id, or `-` to read either from stdin.
        key_or_id: String,
        /// Seconds the old key keeps validating (0 = revoke it at once; default 86400, at most
        /// 2592000).
        #[arg(long = "grace")]
        grace_seconds: Option<i64>,
        /// The new key's rate limit, LIMIT/SECONDS (default: the old key's).
        #[arg(long, value_parser = parse_rate_limit)]
        rate_limit: Option<RateLimit>,
    },
    /// Replace a key's claims, description, networks or rate limit.
    Update {
        /// The key, its apit_… id, or `-` to read either from stdin.
        key_or_id: String,
        /// A custom claim K=V (repeatable); when given, replaces all claims.
        #[arg(long = "claim", value_parser = parse_claim)]
        claims: Vec<(String, String)>,
        /// New description ("" clears it).
        #[arg(long)]
        description: Option<String>,
        /// A network the key may be used from (repeatable); when given, replaces the networks.
        #[arg(long = "allow-cidr", conflicts_with = "any_address")]
        allowed_cidrs: Vec<String>,
        /// Remove the key's network restriction (any address may use it).
        #[arg(long)]
        any_address: bool,
        /// New rate limit, LIMIT/SECONDS (e.g. 100/60).
        #[arg(long, value_parser = parse_rate_limit, conflicts_with = "no_rate_limit")]
        rate_limit: Option<RateLimit>,
        /// Remove the key's rate limit.
        #[arg(long)]
        no_rate_limit: bool,
    },
    /// Revoke a key (idempotent).
    Revoke {
        /// The key, its apit_… id, or `-` to read either from stdin.
        key_or_id: String,
    },
}

/// Flags shared by `clients create` and `clients update`.
#[derive(Debug, Args)]
pub struct ClientFlags {
    /// Free text (at most 512 characters).
    #[arg(long)]
    description: Option<String>,
    /// A scope the client may request (repeatable; on update, replaces the scopes).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// An audience of its tokens (repeatable; on update, replaces the audiences).
    #[arg(long = "audience")]
    audience: Vec<String>,
    /// A custom claim K=V copied into its tokens (repeatable; on update, replaces the claims).
    #[arg(long = "claim", value_parser = parse_claim)]
    claims: Vec<(String, String)>,
    /// Access-token lifetime in seconds (default 3600; 0 is refused).
    #[arg(long)]
    expiry: Option<i64>,
}

impl ClientFlags {
    fn into_input(self, name: Option<String>) -> Result<OrganizationClient, Error> {
        // Over REST a zero `expiry` means "unset" (proto3); on the command line it would be a
        // silent 3600, so it is refused.
        if self.expiry == Some(0) {
            return Err(Error::invalid(
                "expiry",
                "--expiry 0 is not a lifetime: give the access-token lifetime in seconds, or leave \
                 --expiry out for the default (3600)",
            ));
        }
        let non_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
        Ok(OrganizationClient {
            name,
            description: self.description,
            scopes: non_empty(self.scopes),
            audience: non_empty(self.audience),
            custom_claims: (!self.claims.is_empty()).then(|| {
                self.claims
                    .into_iter()
                    .map(|(key, value)| CustomClaim { key, value })
                    .collect()
            }),
            expiry: self.expiry,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register an M2M client; its first secret is printed once.
    Create {
        /// org_…
        #[arg(long)]
        org: String,
        /// Display name (at most 128 characters).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        flags: ClientFlags,
    },
    /// Show a client.
    Get {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// m2morg_…
        client_id: String,
    },
    /// Change a client; flags not given keep their values.
    Update {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// m2morg_…
        client_id: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        flags: ClientFlags,
    },
    /// Delete a client and its secrets.
    Delete {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// m2morg_…
        client_id: String,
    },
    /// List the clients of an organization.
    List {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// 10–100 (default 10).
        #[arg(long)]
        page_size: Option<u32>,
        /// From a previous listing.
        #[arg(long)]
        page_token: Option<String>,
    },
    /// Client secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Add a secret; it is printed once.
    Add {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// m2morg_…
        client_id: String,
    },
    /// Remove a secret (not the last one).
    Remove {
        /// The organization (org_…).
        #[arg(long)]
        org: String,
        /// m2morg_…
        client_id: String,
        /// sks_…
        secret_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigningKeysCommand {
    /// List signing keys, their state and activation time.
    List,
    /// Create a new signing key: published in the JWKS now, signing after a delay.
    ///
    /// The new key is `pending` (in the JWKS, not signing) until its activation time; then it
    /// becomes the active key and the current one stays published, so the tokens it signed keep
    /// validating until you retire it. Validators refetch the JWKS for an unknown kid at most
    /// once per cooldown (30 s by default in authgate, jose and PyJWT), so a key that signed at
    /// once would be refused for up to that long by validators that fetched the JWKS shortly
    /// before. The default delay, 60 s (AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY), covers that
    /// cooldown twice over, and the 60 s max-age of /keys.
    ///
    /// While a key is pending, another rotation is refused unless it is --now, which activates
    /// the pending key at once.
    Rotate(RotateArgs),
    /// Remove a non-active key from the JWKS.
    Retire {
        /// snk_…
        kid: String,
    },
}

/// Options of `signing-keys rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Seconds the new key is published before it signs, at most 2592000 (30 days)
    /// [default: AUTHGATE_SIGNING_KEY_ACTIVATION_DELAY, else 60]
    #[arg(long, value_name = "SECONDS", conflicts_with = "now")]
    pub activate_after: Option<u64>,
    /// Sign with the new key at once (emergencies, e.g. a compromised key): validators that
    /// fetched the JWKS within their cooldown refuse its tokens until it ends. With a key
    /// pending, activates that key instead of creating another.
    #[arg(long)]
    pub now: bool,
}

#[derive(Debug, Subcommand)]
pub enum EnvCredentialsCommand {
    /// List environment credentials, revoked ones included (never their secrets).
    List,
    /// Create an environment credential; its secret is printed once.
    Create,
    /// Revoke an environment credential: it can no longer obtain tokens, and the management
    /// API refuses the tokens it holds (at once on the server that revoked it; within
    /// --env-credential-recheck seconds on servers that share the store). The last live
    /// credential cannot be revoked.
    Revoke {
        /// skc_…
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an access token (client credentials).
    Issue {
        /// m2morg_… (or an environment client's skc_…).
        #[arg(long)]
        client_id: String,
        /// The secret, or `-` to read it from stdin.
        #[arg(long)]
        client_secret: String,
        /// A scope to request (repeatable; default: all the client's scopes).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Verify an access token (JWT) and print its claims as JSON.
    Verify(VerifyArgs),
}

fn parse_claim(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
        None => Err("expected KEY=VALUE".to_owned()),
    }
}

/// `LIMIT/SECONDS`, e.g. `100/60` (a trailing `s` is accepted); the ranges are the core's.
fn parse_rate_limit(s: &str) -> Result<RateLimit, String> {
    let usage = || format!("{s:?}: expected LIMIT/SECONDS, e.g. 100/60 for 100 validations a minute");
    let (limit, window) = s.split_once('/').ok_or_else(usage)?;
    let window = window.trim().strip_suffix('s').unwrap_or(window.trim());
    let rate = RateLimit {
        limit: limit.trim().parse().map_err(|_| usage())?,
        window_seconds: window.parse().map_err(|_| usage())?,
    };
    limits::rate_limit(&rate).map_err(|e| e.to_string())?;
    Ok(rate)
}

fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| "expected an RFC 3339 timestamp, e.g. 2030-01-01T00:00:00Z".into())
}

/// A secret argument: itself, or the first line of stdin for `-`.
fn secret_arg(value: String, field: &str) -> Result<String, Error> {
    if value != "-" {
        return Ok(value);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{field}: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::invalid(field, format!("cannot read stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn claims_map(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

/// Runs an operator command.
pub async fn admin(global: &Global, command: AdminCommand) -> Outcome {
    let out = Out::new(global.json);
    match command {
        AdminCommand::Orgs(cmd) => orgs(&global.open().await?, &out, cmd).await,
        AdminCommand::Users(cmd) => users(&global.open().await?, &out, cmd).await,
        AdminCommand::Keys(cmd) => keys(&global.open().await?, &out, cmd).await,
        AdminCommand::Clients(cmd) => clients(&global.open().await?, &out, cmd).await,
        AdminCommand::SigningKeys(cmd) => signing_keys(&global.open().await?, &out, cmd).await,
        AdminCommand::Token(cmd) => token(global, &out, cmd).await,
        AdminCommand::EnvCredentials(cmd) => env_credentials(&global.open().await?, &out, cmd).await,
        AdminCommand::Audit(cmd) => audit(&global.open().await?, &out, cmd).await,
    }
}

async fn audit(a: &Authority, out: &Out, cmd: AuditCommand) -> Outcome {
    match cmd {
        AuditCommand::List {
            org,
            actor,
            action,
            since,
            until,
            page_size,
            page_token,
        } => {
            let page = a
                .list_audit_events(ListAuditEvents {
                    organization_id: org,
                    actor,
                    action,
                    start_time: since,
                    end_time: until,
                    page_size,
                    page_token,
                })
                .await?;
            out.emit(&page, || output::audit_events(&page))
        }
        AuditCommand::Prune { retention_days } => {
            if !(1..=authgate_core::authority::audit::MAX_AUDIT_RETENTION_DAYS).contains(&retention_days) {
                return Err(Error::invalid(
                    "retention_days",
                    format!(
                        "must be 1–{} days",
                        authgate_core::authority::audit::MAX_AUDIT_RETENTION_DAYS
                    ),
                ));
            }
            let deleted = a
                .prune_audit_events(Duration::from_secs(retention_days * 86_400))
                .await?;
            out.emit(&json!({ "deleted": deleted }), || {
                format!("deleted {deleted} audit events older than {retention_days} days\n")
            })
        }
    }
}

async fn env_credentials(a: &Authority, out: &Out, cmd: EnvCredentialsCommand) -> Outcome {
    match cmd {
        EnvCredentialsCommand::List => {
            let list = a.list_environment_clients().await?;
            out.emit(&json!({ "credentials": list }), || {
                output::environment_credentials(&list)
            })
        }
        EnvCredentialsCommand::Create => {
            let (credential, secret) = a.create_environment_credential().await?;
            out.emit(
                &json!({ "credential": credential, "plain_secret": secret.expose() }),
                || output::created_environment_credential(&credential, secret.expose()),
            )
        }
        EnvCredentialsCommand::Revoke { client_id } => {
            let credential = a.revoke_environment_client(&client_id).await?;
            out.emit(&json!({ "credential": credential }), || {
                format!("revoked {}\n", credential.client_id)
            })
        }
    }
}

async fn orgs(a: &Authority, out: &Out, cmd: OrgsCommand) -> Outcome {
    match cmd {
        OrgsCommand::Create { name, external_id } => {
            let org = a
                .create_organization(CreateOrganization {
                    display_name: name,
                    external_id,
                })
                .await?;
            out.emit(&json!({ "organization": org }), || output::organization(&org))
        }
        OrgsCommand::Get { org } => {
            let org = a.get_organization(&org).await?;
            out.emit(&json!({ "organization": org }), || output::organization(&org))
        }
        OrgsCommand::List {
            external_id,
            page_size,
            page_token,
        } => {
            let page = a
                .list_organizations(ListOrganizations {
                    page_size,
                    page_token,
                    external_id,
                })
                .await?;
            out.emit(&page, || output::organizations(&page))
        }
        OrgsCommand::Delete { org } => {
            a.delete_organization(&org).await?;
            out.emit(&json!({}), || format!("deleted {org}\n"))
        }
    }
}

async fn users(a: &Authority, out: &Out, cmd: UsersCommand) -> Outcome {
    match cmd {
        UsersCommand::Create {
            org,
            email,
            external_id,
            roles,
        } => {
            let user = a
                .create_user_and_membership(
                    &org,
                    CreateUser {
                        email,
                        external_id,
                        roles,
                    },
                )
                .await?;
            out.emit(&json!({ "user": user }), || output::user(&user))
        }
    }
}

async fn keys(a: &Authority, out: &Out, cmd: KeysCommand) -> Outcome {
    match cmd {
        KeysCommand::Create {
            org,
            user,
            claims,
            expires,
            description,
            allowed_cidrs,
            rate_limit,
        } => {
            let created = a
                .create_token(CreateToken {
                    organization_id: org,
                    user_id: user,
                    custom_claims: claims_map(claims),
                    expiry: expires,
                    description,
                    allowed_cidrs: (!allowed_cidrs.is_empty()).then_some(allowed_cidrs),
                    rate_limit,
                })
                .await?;
            out.emit(&created, || output::created_key(&created))
        }
        KeysCommand::Validate { key, client_ip } => {
            let key = secret_arg(key, "key")?;
            let options = ValidateOptions {
                client_ip: client_ip.as_deref().map(limits::client_ip).transpose()?,
            };
            let info = a.validate_token_with(&key, &options).await?;
            // The use is noted in memory: write it before the process exits.
            a.flush_usage().await;
            out.emit(&json!({ "token_info": info }), || {
                format!("valid\n{}", output::token_info(&info))
            })
        }
        KeysCommand::List {
            org,
            user,
            page_size,
            page_token,
            include_revoked,
            unused_since,
        } => {
            let page = a
                .list_tokens(ListTokens {
                    organization_id: org,
                    user_id: user,
                    page_size,
                    page_token,
                    include_revoked,
                    unused_since,
                })
                .await?;
            out.emit(&page, || output::tokens(&page))
        }
        KeysCommand::Rotate {
            key_or_id,
            grace_seconds,
            rate_limit,
        } => {
            let token = secret_arg(key_or_id, "key_or_id")?;
            let rotated = a
                .rotate_token(RotateToken {
                    token,
                    grace_period_seconds: grace_seconds,
                    rate_limit,
                })
                .await?;
            out.emit(&rotated, || output::created_key(&rotated))
        }
        KeysCommand::Update {
            key_or_id,
            claims,
            description,
            allowed_cidrs,
            any_address,
            rate_limit,
            no_rate_limit,
        } => {
            let token = secret_arg(key_or_id, "key_or_id")?;
            let info = a
                .update_token(UpdateToken {
                    token,
                    custom_claims: (!claims.is_empty()).then(|| claims_map(claims)),
                    description,
                    allowed_cidrs: if any_address {
                        Some(None)
                    } else {
                        (!allowed_cidrs.is_empty()).then_some(Some(allowed_cidrs))
                    },
                    rate_limit: if no_rate_limit {
                        Some(None)
                    } else {
                        rate_limit.map(Some)
                    },
                })
                .await?;
            out.emit(&json!({ "token_info": info }), || output::token_info(&info))
        }
        KeysCommand::Revoke { key_or_id } => {
            let token = secret_arg(key_or_id, "key_or_id")?;
            a.invalidate_token(&token).await?;
            let what = if token.starts_with(authgate_core::keys::TOKEN_ID_PREFIX) {
                token.as_str()
            } else {
                "the key"
            };
            out.emit(&json!({}), || format!("revoked {what}\n"))
        }
    }
}

async fn clients(a: &Authority, out: &Out, cmd: ClientsCommand) -> Outcome {
    match cmd {
        ClientsCommand::Create { org, name, flags } => {
            let created = a
                .create_organization_client(&org, flags.into_input(Some(name))?)
                .await?;
            out.emit(&created, || output::created_client(&created))
        }
        ClientsCommand::Get { org, client_id } => {
            let client = a.get_organization_client(&org, &client_id).await?;
            out.emit(&json!({ "client": client }), || output::client(&client))
        }
        ClientsCommand::Update {
            org,
            client_id,
            name,
            flags,
        } => {
            let client = a
                .update_organization_client(&org, &client_id, flags.into_input(name)?)
                .await?;
            out.emit(&json!({ "client": client }), || output::client(&client))
        }
        ClientsCommand::Delete { org, client_id } => {
            a.delete_organization_client(&org, &client_id).await?;
            out.emit(&json!({}), || format!("deleted {client_id}\n"))
        }
        ClientsCommand::List {
            org,
            page_size,
            page_token,
        } => {
            let page = a.list_organization_clients(&org, page_size, page_token).await?;
            out.emit(&page, || output::clients(&page))
        }
        ClientsCommand::Secrets(SecretsCommand::Add { org, client_id }) => {
            let created = a.add_organization_client_secret(&org, &client_id).await?;
            out.emit(&created, || output::created_secret(&created))
        }
        ClientsCommand::Secrets(SecretsCommand::Remove {
            org,
            client_id,
            secret_id,
        }) => {
            a.remove_organization_client_secret(&org, &client_id, &secret_id)
                .await?;
            out.emit(&json!({}), || format!("removed {secret_id}\n"))
        }
    }
}

async fn signing_keys(a: &Authority, out: &Out, cmd: SigningKeysCommand) -> Outcome {
    match cmd {
        SigningKeysCommand::List => {
            let keys = a.list_signing_keys().await?;
            out.emit(&json!({ "signing_keys": keys }), || output::signing_keys(&keys))
        }
        SigningKeysCommand::Rotate(args) => {
            let delay = match (args.now, args.activate_after) {
                (true, _) => Duration::ZERO,
                (false, Some(seconds)) => Duration::from_secs(seconds),
                (false, None) => a.config().signing_key_activation_delay,
            };
            let key = a.rotate_signing_key(delay).await?;
            out.emit(&json!({ "signing_key": key }), || output::rotated(&key))
        }
        SigningKeysCommand::Retire { kid } => {
            let key = a.retire_signing_key(&kid).await?;
            out.emit(&json!({ "signing_key": key }), || {
                format!("retired {}\n", key.kid)
            })
        }
    }
}

async fn token(global: &Global, out: &Out, cmd: TokenCommand) -> Outcome {
    match cmd {
        TokenCommand::Issue {
            client_id,
            client_secret,
            scopes,
        } => {
            if !global.given.issuer {
                derived_issuer()?;
            }
            let a = global.open().await?;
            let secret = secret_arg(client_secret, "client_secret")?;
            let requested = (!scopes.is_empty()).then_some(scopes);
            let resp = a.issue_client_token(&client_id, &secret, requested).await?;
            out.emit(&resp, || output::access_token(&resp))
        }
        // Opens the store only for `--keys database`.
        TokenCommand::Verify(args) => verify::run(global, args).await,
    }
}
