//! `connectors`: parses the command line and runs the chosen command.

use clap::Parser;
use server::config::{Cli, Command};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    server::logging::init(cli.log_format);
    match cli.command {
        Command::Serve(args) => {
            let config = server::Config::resolve(*args)?;
            server::sandbox::serve(config).await
        }
        Command::Orgs { command } => server::cli::orgs(command).await,
        Command::Apps { command } => server::cli::apps(command).await,
        Command::Sandbox(args) => server::sandbox::standalone(args).await,
        Command::Keys { command } => server::cli::keys(command).await,
    }
}
