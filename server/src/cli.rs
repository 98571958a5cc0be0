//! The command line: serving the map (the default, configured by [`Config`]) and the two
//! tools around it, `record` and `publish`.

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::publish::PublishArgs;
use crate::recording::RecordArgs;

/// transit-stream: every Helsinki public-transport vehicle on a live map.
///
/// Without a command it serves the map (see the options below).
#[derive(Debug, Parser)]
#[command(name = "transit-stream", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record the live feed (or the simulator) to a replay file.
    Record(RecordArgs),
    /// Publish simulated or recorded HFP messages to an MQTT broker.
    Publish(PublishArgs),
}

/// A token for a tool's run: cancelled with `shutdown`, or after `duration_secs` when given.
pub fn stop_after(shutdown: &CancellationToken, duration_secs: Option<u64>) -> CancellationToken {
    let stop = shutdown.child_token();
    if let Some(seconds) = duration_secs {
        let stop = stop.clone();
        // Detached on purpose: it only cancels a token, and is harmless once the run ended.
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
            stop.cancel();
        });
    }
    stop
}
