//! Where embedded mode's positions come from. Every HFP source produces raw MQTT messages
//! (topic + payload bytes) and delivers them to a [`Sink`], normally [`Ingest`], so all of
//! them go through the same parser and counters as HSL's own feed.
//!
//! # Layout
//! * `mqtt`: the live feed (HSL's broker, or any HFP broker).
//! * `simulator`: synthetic vehicles on real lines.
//! * `replay`: a recording played back (see [`crate::recording`]).
//! * [`crate::ksqldb::Bridge`]: the full stack's table, followed with one push query.
//!
//! `--source auto` (the default) takes the live feed when its broker answers at start-up
//! and the simulator otherwise, saying so in the log and on the map.

pub mod mqtt;
pub mod replay;
pub mod simulator;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use app::model::Feed;

use crate::config::{Config, SourceKind};
use crate::ingest::Ingest;
use crate::metrics::reasons::ReplayFailure;
use crate::readiness::{Readiness, Upstream};
use crate::recording::RecordingError;

/// Where an HFP source delivers raw messages.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    async fn deliver(&self, topic: &str, payload: &[u8], received: Instant);

    /// A replay starts over: what the previous pass delivered should be forgotten.
    fn restart(&self) {}
}

#[async_trait]
impl Sink for Ingest {
    async fn deliver(&self, topic: &str, payload: &[u8], received: Instant) {
        // Rejections are counted by `message`; the reason goes to the debug log only, as a
        // broken publisher could otherwise flood the log.
        if let Err(error) = self.message(topic, payload, received) {
            tracing::debug!(%error, %topic, "Rejected an HFP message.");
        }
    }

    fn restart(&self) {
        self.clear(Instant::now());
    }
}

/// A configured source, ready to run.
pub enum Source {
    Live(mqtt::MqttSource),
    Simulator(simulator::Simulator),
    /// A recording; the readiness it clears if the recording cannot be played.
    Replay(replay::Replay, Readiness),
    Ksqldb(crate::ksqldb::Bridge),
}

/// What start-up chose, and what to tell users about it.
pub struct Choice {
    pub source: Option<Source>,
    /// Shown on the map when the data is not what the user would assume (live).
    pub notice: Option<String>,
}

/// Why no source could be set up.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Broker(#[from] mqtt::BrokerError),
}

impl Source {
    /// What the page's status says the data comes from.
    pub fn feed(&self) -> Feed {
        match self {
            Self::Live(_) => Feed::LiveHsl,
            Self::Simulator(_) => Feed::Simulator,
            Self::Replay(..) => Feed::Replay,
            Self::Ksqldb(_) => Feed::Ksqldb,
        }
    }

    /// The upstream it depends on, if any.
    pub fn upstream(&self) -> Option<Upstream> {
        match self {
            Self::Live(_) => Some(Upstream::Mqtt),
            Self::Simulator(_) => None,
            Self::Replay(..) => Some(Upstream::Replay),
            Self::Ksqldb(_) => Some(Upstream::Ksqldb),
        }
    }

    /// The embedded source the configuration asks for. `auto` probes the live broker.
    pub async fn choose(config: &Config, readiness: &Readiness) -> Result<Choice, SourceError> {
        let simulator = || {
            Source::Simulator(simulator::Simulator::new(
                config.sim_vehicles,
                config.sim_seed,
                crate::clock::now_ms(),
            ))
        };
        let broker = || config.mqtt.broker();
        let live = |broker| {
            // Not ready until subscribed: browsers are told the feed is stalled meanwhile.
            readiness.down(Upstream::Mqtt);
            Source::Live(mqtt::MqttSource {
                // A hang is reported within two pings.
                broker: mqtt::Broker::with_keep_alive(broker, config.upstream_timeout() / 2),
                topic_filter: config.mqtt.topic.clone(),
                readiness: readiness.clone(),
            })
        };
        let (source, notice) = match config.source {
            SourceKind::None => (None, None),
            SourceKind::Simulator => {
                (Some(simulator()), Some("Simulated vehicles (not live HSL data).".to_owned()))
            }
            SourceKind::Replay => (
                config.replay_file.clone().map(|path| {
                    let replay = replay::Replay::new(
                        path,
                        config.replay_speed,
                        config.replay_loop,
                        config.replay_retime,
                    );
                    Source::Replay(replay, readiness.clone())
                }),
                Some("Replay of recorded positions (not live).".to_owned()),
            ),
            SourceKind::Live => (Some(live(broker()?)), None),
            SourceKind::Auto => {
                let broker = broker()?;
                let timeout = Duration::from_secs(config.live_probe_secs);
                match mqtt::MqttSource::probe(&broker, timeout).await {
                    Ok(()) => {
                        tracing::info!(broker = %config.mqtt.url, "Live feed reachable: showing live vehicles.");
                        (Some(live(broker)), None)
                    }
                    Err(reason) => {
                        tracing::warn!(
                            broker = %config.mqtt.url,
                            %reason,
                            "The live feed is unreachable: showing SIMULATED vehicles instead."
                        );
                        let notice = "Simulated vehicles: the live HSL feed is unreachable from this server.";
                        (Some(simulator()), Some(notice.to_owned()))
                    }
                }
            }
        };
        Ok(Choice { source, notice })
    }

    /// Feeds `ingest` until `shutdown` (or, for a replay without looping, until it ends).
    pub async fn run(self, ingest: Ingest, shutdown: CancellationToken) {
        match self {
            Self::Live(source) => source.run(Arc::new(ingest), shutdown).await,
            Self::Simulator(simulator) => {
                simulator::run(simulator, Arc::new(ingest), shutdown).await
            }
            Self::Replay(replay, readiness) => {
                let path = replay.path.display().to_string();
                let stats = Arc::clone(ingest.stats());
                match replay.run(Arc::new(ingest), shutdown).await {
                    Ok(delivered) => tracing::info!(%path, delivered, "Replay finished."),
                    Err(error) => {
                        // Not ready: the server has no data coming, and /readyz and the
                        // page's status say so instead of serving an empty map as fine.
                        readiness.down(Upstream::Replay);
                        stats.replay_failures.inc(match error {
                            RecordingError::Io(_) => ReplayFailure::Io,
                            RecordingError::Unschedulable { .. } => ReplayFailure::Unschedulable,
                            RecordingError::Line { .. }
                            | RecordingError::Hex
                            | RecordingError::LineTooLong { .. } => ReplayFailure::NotARecording,
                        });
                        tracing::error!(%path, %error, "Replay failed.");
                    }
                }
            }
            Self::Ksqldb(bridge) => bridge.run(ingest, shutdown).await,
        }
    }
}
