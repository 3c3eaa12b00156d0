//! `authgate`: the operator CLI and the HTTP server.
//!
//! Every subcommand opens the store named by `--database` (`AUTHGATE_DATABASE_URL`) with the
//! configuration from the environment (`AUTHGATE_KEY_PEPPER`, `AUTHGATE_MASTER_KEY`, …; see
//! [`cli::Global`]). Errors go to stderr as `error: <code>: <message>` with exit status 1
//! (2 for command-line usage errors).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

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
    // Further subcommands hook in here, e.g. `Serve(serve::ServeArgs),` with a match arm in `run`.
}

async fn run(global: cli::Global, command: Command) -> cli::Outcome {
    match command {
        Command::Admin(cmd) => cli::admin(&global, cmd).await,
    }
}

fn main() -> ExitCode {
    let Cli { global, command } = Cli::parse();
    cli::execute(run(global, command))
}
