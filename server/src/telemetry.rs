//! Logging set-up: `tracing` to stderr, filtered by `RUST_LOG` (default: info for our code,
//! warnings for dependencies).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, from `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,server=info,transit_stream=info"));
    // Colours only for someone at a terminal: a file, a pipe or a container's log driver
    // would keep the escape codes as text. `NO_COLOR` (no-color.org) turns them off there.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let colours = std::io::stderr().is_terminal() && !no_color;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .init();
}
