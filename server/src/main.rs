//! The `transit-stream` binary: parse the command line, then serve the map (printing where
//! it is) or run one of the tools, until done or until Ctrl-C / SIGTERM. Everything else
//! lives in the library.

use clap::Parser;
use server::cli::{Cli, Command};
use server::shutdown::cancel_on_signal;
use server::startup::Application;
use server::{publish, recording, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    match cli.command {
        None => {
            let application = Application::build(cli.serve).await?;
            // Scripts and the browser tests read this line to find the server (port 0
            // picks one).
            println!("transit-stream is serving the map at {}", application.url());
            cancel_on_signal(application.shutdown_token());
            application.run_until_stopped().await?;
        }
        Some(Command::Record(args)) => {
            let shutdown = CancellationToken::new();
            cancel_on_signal(shutdown.clone());
            recording::record(args, shutdown).await?;
        }
        Some(Command::Publish(args)) => {
            let shutdown = CancellationToken::new();
            cancel_on_signal(shutdown.clone());
            let published = publish::run(args, shutdown).await?;
            println!("published {published} messages");
        }
        #[cfg(feature = "kafka")]
        Some(Command::Ingest(args)) => {
            let forwarder = server::kafka_ingest::Forwarder::build(args).await?;
            println!(
                "transit-stream ingest: health and metrics at http://{}",
                forwarder.local_addr()
            );
            let shutdown = CancellationToken::new();
            cancel_on_signal(shutdown.clone());
            forwarder.run_until_stopped(shutdown).await?;
        }
    }
    Ok(())
}
