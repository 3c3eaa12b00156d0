//! `authgate`: the operator CLI and the HTTP server.

mod serve;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "authgate", version, about = "Machine-to-machine authentication")]
struct Cli {
    /// Database URL (`sqlite://PATH` or `postgres://…`).
    #[arg(
        long,
        global = true,
        env = "AUTHGATE_DATABASE_URL",
        default_value = "sqlite://authgate.db"
    )]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (Scalekit-compatible REST API, OAuth token endpoint, JWKS).
    Serve(serve::ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::main(&cli.database, args),
    }
}
