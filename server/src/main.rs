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
/// `main`. By default it gives freed memory back to the OS 1 s after it was freed, at a later
/// allocation of the same thread, so an idle server kept what its last burst freed (an argon2
/// secret check's memory stayed resident). Giving it back at once
/// (`0`) cost two `madvise` calls and two page faults per execute: the boxed execute future
/// and the answer's buffer each empty a page that the next request faults in again
/// (docs/benchmarks.md). 10 ms keeps those pages while requests come, and secret checks run on
/// threads that end with them (`auth::on_own_thread`), which gives their memory back at once.
/// When the variable is not set, the process runs itself again (same pid, same arguments)
/// with it set. An explicit value wins.
fn allocator_settings() {
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    const PURGE_DELAY_MS: &str = "10";
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
            .env(VAR, PURGE_DELAY_MS)
            .exec();
        // `exec` returns only when it failed: carry on with the defaults.
        eprintln!(
            "note: could not re-run with {VAR}={PURGE_DELAY_MS} ({err}); freed memory returns to the OS later"
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
