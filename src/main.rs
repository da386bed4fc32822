//! `registrar`: command line → configuration → shards. Nothing else lives here.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use registrar::config::{AppConfig, Cli};
use tracing::{error, info};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match AppConfig::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("registrar: config error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        println!("{cfg:#?}");
        println!("configuration ok");
        return ExitCode::SUCCESS;
    }
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(&cfg.server.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            error!("cannot install the handler for signal {sig}: {e}");
            return ExitCode::from(1);
        }
    }
    let shards = cfg.server.shards;
    let cores = cfg.server.cores.clone();
    let result = registrar::shard::run(cfg, stop, |bound| {
        let list: Vec<String> = bound.iter().map(|l| l.to_string()).collect();
        info!(
            shards,
            cores = ?cores,
            "registrar {} listening {}",
            env!("CARGO_PKG_VERSION"),
            list.join(" ")
        );
    });
    match result {
        Ok(reports) => {
            let bindings: usize = reports.iter().map(|r| r.bindings).sum();
            info!(bindings, "stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("registrar: {e}");
            ExitCode::from(1)
        }
    }
}
