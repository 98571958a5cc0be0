//! The live source: an MQTT subscription to an HFP broker (HSL's public one by default,
//! `mqtts://mqtt.hsl.fi:8883`), QoS 0, clean session, random client id.
//!
//! Clean sessions mean the broker forgets our subscription on every disconnect, so we
//! subscribe again on every ConnAck. rumqttc reconnects when polled after an error; we
//! wait with capped, jittered backoff between attempts and report the feed stalled
//! meanwhile (browsers see it). A broker that hangs (its connection open, nothing said) is
//! found by keep-alive: rumqttc pings every `keep_alive` and fails the connection when a
//! ping is still unanswered at the next one, so a hang is reported within twice that.
//! Repeated deliveries need no extra bookkeeping: the table ignores a message whose event
//! time it already has, and counts it as a duplicate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use rumqttc::{
    AsyncClient, ConnectionError, Event, MqttOptions, Packet, QoS, StateError, SubscribeReasonCode,
    TlsConfiguration, Transport,
};
use tokio_util::sync::CancellationToken;

use super::Sink;
use crate::metrics::window::{Throttle, WINDOW};
use crate::readiness::{Readiness, Upstream};

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Larger than any HFP message by far, so an oversized message reaches our parser (which
/// refuses it with a count) instead of making rumqttc drop the whole connection.
const MAX_INCOMING_PACKET: usize = 1024 * 1024;
/// Half of the server's default `--upstream-timeout-secs`, for the tools that have no such
/// setting (`record`, `ingest`, `publish`).
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// PEM file of CA certificates trusted besides the system's (a private broker).
    pub extra_ca: Option<std::path::PathBuf>,
    /// How often to ping the broker; a ping unanswered by the next one fails the connection.
    pub keep_alive: Duration,
}

/// Why a broker URL is unusable.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("`{0}` is not an MQTT broker URL (mqtt://host:port or mqtts://host:port)")]
    Url(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

impl Broker {
    /// Parses `mqtt://host[:1883]` or `mqtts://host[:8883]`.
    pub fn parse(url: &str) -> Result<Self, BrokerError> {
        let bad = || BrokerError::Url(url.to_owned());
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| bad())?),
            None => (rest, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            tls,
            extra_ca: None,
            keep_alive: DEFAULT_KEEP_ALIVE,
        })
    }

    /// Pings every `keep_alive`, rounded to whole seconds (MQTT's unit), at least one.
    pub fn with_keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = Duration::from_secs(keep_alive.as_secs().max(1));
        self
    }

    /// Also trusts the CA certificates in `path` (PEM).
    pub fn with_extra_ca(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.extra_ca = path;
        self
    }

    /// Client options with a fresh random client id (so two servers never evict each
    /// other at the broker).
    pub fn options(&self, client_name: &str) -> Result<MqttOptions, BrokerError> {
        let id = format!("{client_name}-{:016x}", rand::rng().random::<u64>());
        let mut options = MqttOptions::new(id, self.host.clone(), self.port);
        options.set_clean_session(true);
        options.set_keep_alive(self.keep_alive);
        options.set_max_packet_size(MAX_INCOMING_PACKET, MAX_INCOMING_PACKET);
        if self.tls {
            options
                .set_transport(Transport::tls_with_config(tls_config(self.extra_ca.as_deref())?));
        }
        Ok(options)
    }
}

/// Rustls with the ring provider, the system's root certificates and any extra CA.
fn tls_config(extra_ca: Option<&std::path::Path>) -> Result<TlsConfiguration, BrokerError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // A certificate the store cannot use is skipped; the others still verify.
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|error| BrokerError::Tls(format!("{}: {error}", path.display())))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|error| BrokerError::Tls(format!("{}: {error}", path.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(BrokerError::Tls("no usable system root certificates".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| BrokerError::Tls(error.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}

/// Polls a fresh event loop until the broker accepts the connection, or says why not.
pub async fn connect(events: &mut rumqttc::EventLoop, timeout: Duration) -> Result<(), String> {
    tokio::time::timeout(timeout, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(error) => return Err(error.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}

/// A subscription, ready to run.
pub struct MqttSource {
    pub broker: Broker,
    pub topic_filter: String,
    pub readiness: Readiness,
}

impl MqttSource {
    /// Whether the broker accepts a connection within `timeout`: used to choose the live
    /// feed over the simulator at start-up.
    pub async fn probe(broker: &Broker, timeout: Duration) -> Result<(), String> {
        let options = broker.options("transit-stream-probe").map_err(|e| e.to_string())?;
        let (client, mut events) = AsyncClient::new(options, 10);
        let connected = connect(&mut events, timeout).await;
        let _ = client.try_disconnect();
        connected
    }

    pub async fn run(self, sink: Arc<dyn Sink>, shutdown: CancellationToken) {
        let options = match self.broker.options("transit-stream") {
            Ok(options) => options,
            Err(error) => {
                tracing::error!(%error, "The live source cannot start.");
                return;
            }
        };
        // The request queue only carries our subscribe requests.
        let (client, mut events) = AsyncClient::new(options, 10);
        let mut backoff = MIN_BACKOFF;
        // An outage is logged once, however many retries it takes (while the error stays
        // the same), and a broker that keeps dropping us gets a line a window, not one per
        // reconnect; every loss is counted in `/metrics` either way.
        let mut last_error: Option<String> = None;
        let mut disconnects = Throttle::new(WINDOW);
        let mut subscriptions = Throttle::new(WINDOW);
        tracing::info!(broker = %self.broker.host, filter = %self.topic_filter, "Live source started.");
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => break,
                event = events.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    sink.deliver(&publish.topic, &publish.payload, Instant::now()).await;
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    // Clean session: the broker forgot our subscription; ask again.
                    if let Err(error) =
                        client.try_subscribe(self.topic_filter.clone(), QoS::AtMostOnce)
                    {
                        tracing::warn!(%error, "Could not queue the subscription.");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(ack)))
                    if ack
                        .return_codes
                        .iter()
                        .any(|code| matches!(code, SubscribeReasonCode::Failure)) =>
                {
                    // Not ready, and loudly: reconnecting would not change the broker's mind.
                    tracing::error!(filter = %self.topic_filter, "The broker refused the subscription.");
                    self.readiness.down(Upstream::Mqtt);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(again) = subscriptions.admit() {
                        tracing::info!(
                            resubscribed_meanwhile = again,
                            "Subscribed to the live feed."
                        );
                    }
                    self.readiness.up();
                    backoff = MIN_BACKOFF;
                    last_error = None;
                }
                Ok(_) => {}
                Err(error) => {
                    self.readiness.lost(Upstream::Mqtt, loss_reason(&error));
                    let text = error.to_string();
                    let news = last_error.as_deref() != Some(text.as_str());
                    match news.then(|| disconnects.admit()).flatten() {
                        Some(held) => tracing::warn!(
                            error = %text,
                            disconnected_meanwhile = held,
                            "Live feed disconnected; reconnecting."
                        ),
                        None => tracing::debug!(error = %text, "Live feed still disconnected."),
                    }
                    last_error = Some(text);
                    let wait = backoff.mul_f64(rand::rng().random_range(0.8..1.2));
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        let _ = client.try_disconnect();
        tracing::info!("Live source stopped.");
    }
}

/// A stable label for why the connection was lost, for `/metrics`.
fn loss_reason(error: &ConnectionError) -> &'static str {
    match error {
        ConnectionError::MqttState(StateError::AwaitPingResp) => "no_ping_response",
        ConnectionError::MqttState(StateError::Io(_)) | ConnectionError::Io(_) => "io",
        ConnectionError::MqttState(StateError::ConnectionAborted) => "closed",
        ConnectionError::MqttState(_) | ConnectionError::NotConnAck(_) => "protocol",
        ConnectionError::NetworkTimeout | ConnectionError::FlushTimeout => "timeout",
        ConnectionError::ConnectionRefused(_) => "refused",
        ConnectionError::Tls(_) => "tls",
        ConnectionError::RequestsDone => "stopped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_with_default_ports() {
        assert_eq!(
            Broker::parse("mqtts://mqtt.hsl.fi:8883").expect("valid"),
            Broker {
                host: "mqtt.hsl.fi".into(),
                port: 8883,
                tls: true,
                extra_ca: None,
                keep_alive: DEFAULT_KEEP_ALIVE
            }
        );
        assert_eq!(Broker::parse("mqtt://127.0.0.1").expect("valid").port, 1883);
        assert_eq!(Broker::parse("mqtts://example.org/").expect("valid").port, 8883);
        for bad in ["", "http://x:1", "mqtt://", "mqtt://host:port", "mqtt://a/b:1", "tcp://x:1883"]
        {
            assert!(Broker::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keep_alive_is_whole_seconds_and_never_zero() {
        let broker = Broker::parse("mqtt://127.0.0.1").expect("valid");
        let keep_alive = |d| broker.clone().with_keep_alive(d).keep_alive;
        assert_eq!(keep_alive(Duration::from_millis(2_500)), Duration::from_secs(2));
        assert_eq!(keep_alive(Duration::from_millis(400)), Duration::from_secs(1));
        let options = broker.with_keep_alive(Duration::from_secs(7)).options("t").expect("valid");
        assert_eq!(options.keep_alive(), Duration::from_secs(7));
    }
}
