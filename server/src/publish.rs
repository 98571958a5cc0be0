//! `transit-stream publish`: sends simulated or recorded HFP messages, with their real HFP
//! topics, to any MQTT broker, so the full stack (or this server's live source) can run
//! offline against a local broker in place of HSL's. A recording can loop, with its event
//! times moved to now (`--retime`, see [`crate::hfp::retime`]), for a feed that never ends.
//!
//! It ends with an error when the broker goes away, rather than waiting on a queue
//! nobody drains: a supervisor restarts it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::Args;
use rumqttc::{AsyncClient, Event, Outgoing, QoS};
use tokio_util::sync::CancellationToken;

use crate::source::mqtt::Broker;
use crate::source::replay::Replay;
use crate::source::{Sink, simulator};

/// Options of `transit-stream publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Broker to publish to (mqtt://host:port, or mqtts:// for TLS).
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub broker: String,
    /// Publish this recording instead of simulated vehicles.
    #[arg(long)]
    pub replay_file: Option<PathBuf>,
    /// Replay speed: 1 is real time, 0 as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    pub replay_speed: f64,
    /// Start the recording over when it ends.
    #[arg(long)]
    pub replay_loop: bool,
    /// Set each message's event time (`tst`, `tsi`) to the time it is sent, so a replay
    /// looks live (and a looped one keeps moving).
    #[arg(long)]
    pub retime: bool,
    /// Number of simulated vehicles (without --replay-file).
    #[arg(long, default_value_t = 200)]
    pub sim_vehicles: u32,
    /// Seed of the simulator.
    #[arg(long, default_value_t = 2026)]
    pub sim_seed: u64,
    /// Stop after this many seconds (default: when the replay ends, or on Ctrl-C).
    #[arg(long)]
    pub duration_secs: Option<u64>,
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Broker(#[from] crate::source::mqtt::BrokerError),
    #[error("MQTT broker: {0}")]
    Connect(String),
    #[error(transparent)]
    Replay(#[from] crate::recording::RecordingError),
}

/// Hands each message to the MQTT client; waits when its queue is full, so a slow broker
/// slows the source down instead of growing memory.
struct Publisher {
    client: AsyncClient,
    published: AtomicU64,
    retime: bool,
    /// Cancelled when the connection is lost: a full queue would otherwise wait forever.
    stop: CancellationToken,
}

#[async_trait]
impl Sink for Publisher {
    async fn deliver(&self, topic: &str, payload: &[u8], _received: Instant) {
        let payload = match self.retime {
            true => crate::hfp::retime(payload, crate::clock::now_ms())
                .unwrap_or_else(|| payload.to_vec()),
            false => payload.to_vec(),
        };
        tokio::select! {
            queued = self.client.publish(topic, QoS::AtMostOnce, false, payload) => {
                if queued.is_ok() {
                    self.published.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ = self.stop.cancelled() => {}
        }
    }
}

/// Publishes until the source ends, the duration passes or `shutdown`. Returns the number
/// of messages published.
pub async fn run(args: PublishArgs, shutdown: CancellationToken) -> Result<u64, PublishError> {
    let broker = Broker::parse(&args.broker)?;
    let (client, mut events) = AsyncClient::new(broker.options("transit-stream-publisher")?, 1_000);
    // Connect first, so an unreachable broker is one clear error, not a silent queue.
    crate::source::mqtt::connect(&mut events, Duration::from_secs(10))
        .await
        .map_err(PublishError::Connect)?;

    let stop = crate::shutdown::stop_after(&shutdown, args.duration_secs);
    // The event loop sends what the client queues; it runs until the disconnect is out,
    // or the connection is lost, which stops the source too.
    let lost = stop.clone();
    let pump = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return Ok(()),
                Ok(_) => {}
                Err(error) => {
                    lost.cancel();
                    return Err(error.to_string());
                }
            }
        }
    });

    let publisher = Arc::new(Publisher {
        client: client.clone(),
        published: AtomicU64::new(0),
        retime: args.retime,
        stop: stop.clone(),
    });
    let sink: Arc<dyn Sink> = publisher.clone();
    match args.replay_file {
        Some(path) => {
            Replay::new(path, args.replay_speed, args.replay_loop, false).run(sink, stop).await?;
        }
        None => {
            let fleet =
                simulator::Simulator::new(args.sim_vehicles, args.sim_seed, crate::clock::now_ms());
            simulator::run(fleet, sink, stop).await;
        }
    }
    if !pump.is_finished() {
        let _ = tokio::time::timeout(Duration::from_secs(10), client.disconnect()).await;
    }
    match tokio::time::timeout(Duration::from_secs(10), pump).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => return Err(PublishError::Connect(error)),
        _ => tracing::warn!("The broker did not take the disconnect in time."),
    }
    Ok(publisher.published.load(Ordering::Relaxed))
}
