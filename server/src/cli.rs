//! The command line: serving the map (the default, configured by [`Config`]) and the tools
//! around it: `record`, `publish`, and (feature `kafka`) `ingest`.

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
    /// Forward HFP messages from MQTT to a Kafka topic, as the full stack's MQTT source
    /// connector does (key: the MQTT topic; value: the payload bytes).
    #[cfg(feature = "kafka")]
    Ingest(crate::kafka_ingest::IngestArgs),
}
