//! The command line: serving the map (the default, configured by [`Config`]) and the two
//! tools around it, `record` and `publish`.

use clap::{Parser, Subcommand};

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
