//! `connectors`: parses the command line and runs the chosen command.

use clap::Parser;
use server::config::{Cli, Command};

/// mimalloc instead of glibc malloc: on the execute hot path glibc's malloc/free were ~20% of
/// the server's CPU (see docs/benchmarks.md). The library crate leaves the allocator to
/// whoever links it. `no_thp` (Cargo feature): no transparent huge pages, which would turn
/// each thread's first small allocations into 2 MiB of resident memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    allocator_settings();
    actix_web::rt::System::new().block_on(run())
}

/// mimalloc reads its options from the environment once, when the process starts, before
/// `main`. By default it gives freed memory back to the OS only after a delay that elapses
/// on a later allocation of the same thread, so the 19 MiB an argon2 secret check uses (token
/// issue) stayed resident on an idle server (44 MB instead of 24 MB). `MIMALLOC_PURGE_DELAY=0`
/// returns it at once at no measurable cost on the hot path; when it is not set, the process
/// runs itself again (same pid, same arguments) with it set. An explicit value wins.
fn allocator_settings() {
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(VAR, "0")
            .exec();
        // `exec` returns only when it failed: carry on with the defaults.
        eprintln!(
            "note: could not re-run with {VAR}=0 ({err}); freed memory returns to the OS later"
        );
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    server::logging::init(cli.log_format);
    match cli.command {
        Command::Serve(args) => {
            let config = server::Config::resolve(*args)?;
            server::run(config).await
        }
        Command::Orgs { command } => server::cli::orgs(command).await,
        Command::Apps { command } => server::cli::apps(command).await,
        Command::Sandbox(args) => server::sandbox::standalone(args).await,
        Command::Keys { command } => server::cli::keys(command).await,
        Command::Mcp(args) => server::mcp::stdio(*args).await,
    }
}
