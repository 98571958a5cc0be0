//! The `transit-stream` binary: parse the configuration, start the application, print where
//! it is, and serve until Ctrl-C or SIGTERM. Everything else lives in the library.

use clap::Parser;
use server::config::Config;
use server::startup::{Application, shutdown_signal};
use server::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init();
    let application = Application::build(config).await?;
    // Scripts and the browser tests read this line to find the server (port 0 picks one).
    println!("transit-stream is serving the map at {}", application.url());
    let shutdown = application.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        shutdown.cancel();
    });
    application.run_until_stopped().await?;
    Ok(())
}
