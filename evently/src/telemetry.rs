//! Logs: `tracing` with a `RUST_LOG`-style filter.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber unless the program installed its own.
pub(crate) fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .try_init();
}
