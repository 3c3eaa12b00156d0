//! `authgate`: the operator CLI and the HTTP server.
//!
//! Every subcommand opens the store named by `--database` (`AUTHGATE_DATABASE_URL`) with the
//! configuration from the environment (`AUTHGATE_KEY_PEPPER`, `AUTHGATE_MASTER_KEY`, …; see
//! [`cli::Global`]). Errors go to stderr as `error: <code>: <message>` with exit status 1
//! (2 for command-line usage errors; `token verify` documents its own statuses in its `--help`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use authgate_server::{cli, serve};

/// Machine-to-machine authentication: API keys, OAuth 2.0 client credentials, JWKS.
#[derive(Debug, Parser)]
#[command(name = "authgate", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Operator commands (orgs, users, keys, clients, signing-keys, token).
    #[command(flatten)]
    Admin(cli::AdminCommand),
    /// Run the HTTP server: the Scalekit-compatible REST API and gRPC services, the OAuth
    /// token endpoint, JWKS.
    Serve(serve::ServeArgs),
    /// Write a local CA and a server certificate for localhost (ca.pem, cert.pem, key.pem).
    DevCert(cli::dev_cert::DevCertArgs),
}

async fn run(global: cli::Global, command: Command, issuer_given: bool) -> cli::Outcome {
    match command {
        Command::Admin(cmd) => cli::admin(&global, cmd).await,
        Command::Serve(args) => {
            serve::run(&global.database, issuer_given.then_some(&*global.issuer), args).await
        }
        Command::DevCert(args) => cli::dev_cert::run(&args),
    }
}

fn main() -> ExitCode {
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let Cli { mut global, command } =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // `serve` defaults the issuer to its bound address unless --issuer / AUTHGATE_ISSUER is given;
    // `token verify` picks its key source from the options on the command line.
    global.given = cli::Given::of(&matches);
    let issuer_given = global.given.issuer;
    let exit_status = match &command {
        Command::Admin(cmd) => cmd.exit_status(),
        Command::Serve(_) | Command::DevCert(_) => cli::exit_status,
    };
    cli::execute(run(global, command, issuer_given), exit_status)
}
