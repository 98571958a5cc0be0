//! The server's configuration: one typed struct, read from flags and `TRANSIT_*` environment
//! variables by clap, and validated once at start-up. Tests build it directly with
//! [`Config::for_tests`], never through the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::source::mqtt::{Broker, BrokerError};

/// transit-stream: every Helsinki public-transport vehicle on a live map.
///
/// With no options it runs in embedded mode: a built-in simulator feeds an in-memory table
/// and the map is served on http://127.0.0.1:3000.
#[derive(Debug, Clone, Parser)]
#[command(name = "transit-stream", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port; the chosen URL is printed.
    #[arg(long, env = "TRANSIT_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// Directory holding the built site (wasm bundle, CSS, Leaflet), as written by the
    /// build script.
    #[arg(long, env = "TRANSIT_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Where positions come from in embedded mode (ignored with --ksqldb-url). `auto` takes
    /// the live feed when its broker answers at start-up, else the simulator.
    #[arg(long, env = "TRANSIT_SOURCE", value_enum, default_value_t = SourceKind::Auto)]
    pub source: SourceKind,

    #[command(flatten)]
    pub mqtt: MqttArgs,

    /// Seconds `--source auto` waits for the live broker before using the simulator.
    #[arg(long, env = "TRANSIT_LIVE_PROBE_SECS", default_value_t = 5)]
    pub live_probe_secs: u64,

    /// Recording to play with `--source replay` (see `transit-stream record`).
    #[arg(long, env = "TRANSIT_REPLAY_FILE")]
    pub replay_file: Option<PathBuf>,

    /// Replay speed: 1 is real time, 10 ten times faster, 0 as fast as possible.
    #[arg(long, env = "TRANSIT_REPLAY_SPEED", default_value_t = 1.0)]
    pub replay_speed: f64,

    /// Start the replay over when it ends.
    #[arg(long, env = "TRANSIT_REPLAY_LOOP")]
    pub replay_loop: bool,

    /// Give replayed positions the time they are played at, so the replay looks live.
    #[arg(long, env = "TRANSIT_REPLAY_RETIME")]
    pub replay_retime: bool,

    /// Number of simulated vehicles (simulator source).
    #[arg(long, env = "TRANSIT_SIM_VEHICLES", default_value_t = defaults::SIM_VEHICLES)]
    pub sim_vehicles: u32,

    /// Seed of the simulator's random choices: the same seed gives the same fleet.
    #[arg(long, env = "TRANSIT_SIM_SEED", default_value_t = defaults::SIM_SEED)]
    pub sim_seed: u64,

    /// Seconds after which a vehicle that has not been heard from leaves the map.
    #[arg(long, env = "TRANSIT_VEHICLE_TTL_SECS", default_value_t = defaults::VEHICLE_TTL_SECS)]
    pub vehicle_ttl_secs: u64,

    /// Milliseconds between two delta frames sent to browsers.
    #[arg(long, env = "TRANSIT_TICK_MS", default_value_t = defaults::TICK_MS)]
    pub tick_ms: u64,

    /// Milliseconds a client has to send a request's headers (counted from when the
    /// server starts waiting for them, so also how long a connection may sit silent or
    /// idle), a request has to be answered, body received included (408 after that), and
    /// a client may stop reading before its connection is closed.
    #[arg(long, env = "TRANSIT_REQUEST_TIMEOUT_MS", default_value_t = defaults::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,

    /// Seconds an upstream (the MQTT broker, ksqlDB, Redis) may leave a liveness probe
    /// unanswered before the server treats it as down: a hung upstream, whose connection
    /// stays open but says nothing, as well as a closed one. Probes go out every half of
    /// this, so the cost is a few bytes per upstream every few seconds.
    #[arg(long, env = "TRANSIT_UPSTREAM_TIMEOUT_SECS", default_value_t = defaults::UPSTREAM_TIMEOUT_SECS)]
    pub upstream_timeout_secs: u64,

    /// Most connections one client address may hold open at once (WebSockets included);
    /// more are closed on arrival. 0 for no cap, as behind a reverse proxy, where every
    /// connection comes from the proxy's address.
    #[arg(
        long,
        env = "TRANSIT_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = defaults::MAX_CONNECTIONS_PER_ADDRESS
    )]
    pub max_connections_per_address: u32,

    /// Most browsers connected to `/ws` at once; more are refused with 503.
    #[arg(long, env = "TRANSIT_MAX_WS_CLIENTS", default_value_t = defaults::MAX_WS_CLIENTS)]
    pub max_ws_clients: u32,

    /// ksqlDB server (e.g. http://localhost:8088). When set, the server runs in full-stack
    /// mode: positions come from ksqlDB's VEHICLE_LATEST table over one push query, and
    /// clicks are answered by pull queries. Unset: embedded mode.
    #[arg(long, env = "TRANSIT_KSQLDB_URL")]
    pub ksqldb_url: Option<String>,

    /// In ksqlDB mode, create the streams and table of `ksqldb/*.sql` at start-up (each
    /// statement is `IF NOT EXISTS`).
    #[arg(long, env = "TRANSIT_KSQLDB_APPLY_STATEMENTS")]
    pub ksqldb_apply_statements: bool,

    /// Redis holding the Kafka Connect sink's copy of the latest positions (e.g.
    /// redis://localhost:6379/0). When set, clicks ask Redis first and fall back to ksqlDB
    /// (or to the in-memory table in embedded mode) on a miss or when Redis is down.
    #[arg(long, env = "TRANSIT_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Password for Redis (AUTH), kept out of --redis-url so the URL can be shown.
    #[arg(long, env = "TRANSIT_REDIS_PASSWORD", hide_env_values = true)]
    pub redis_password: Option<Secret>,

    /// Origins (`https://maps.example.org`) of other sites whose pages may open `/ws`,
    /// comma-separated. Pages served by this server itself always may.
    #[arg(long, env = "TRANSIT_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Map tile URL template (`{s}`, `{z}`, `{x}`, `{y}`). Empty for no tiles.
    #[arg(
        long,
        env = "TRANSIT_TILE_URL",
        default_value = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    )]
    pub tile_url: String,

    /// Attribution HTML shown for the tiles.
    #[arg(
        long,
        env = "TRANSIT_TILE_ATTRIBUTION",
        default_value = "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors"
    )]
    pub tile_attribution: String,
}

/// Where the live feed comes from: the same options for the server, `ingest` and `record`.
#[derive(Debug, Clone, clap::Args)]
pub struct MqttArgs {
    /// MQTT broker of the live feed: mqtts://host:port (TLS, system roots) or mqtt://.
    #[arg(
        id = "mqtt_url",
        long = "mqtt-url",
        value_name = "URL",
        env = "TRANSIT_MQTT_URL",
        default_value = HSL_BROKER
    )]
    pub url: String,

    /// Extra CA certificates (PEM) to trust for an mqtts:// broker, besides the system's.
    #[arg(
        id = "mqtt_ca_file",
        long = "mqtt-ca-file",
        value_name = "PEM_FILE",
        env = "TRANSIT_MQTT_CA_FILE"
    )]
    pub ca_file: Option<PathBuf>,

    /// Topic filter of the live feed (default: vehicle positions of every mode).
    #[arg(
        id = "mqtt_topic",
        long = "mqtt-topic",
        value_name = "FILTER",
        env = "TRANSIT_MQTT_TOPIC",
        default_value = HSL_POSITIONS
    )]
    pub topic: String,
}

/// HSL's public HFP broker.
const HSL_BROKER: &str = "mqtts://mqtt.hsl.fi:8883";
/// Vehicle positions of every mode, ongoing journeys only.
const HSL_POSITIONS: &str = "/hfp/v2/journey/ongoing/vp/#";

impl MqttArgs {
    /// The defaults: HSL's broker, every vehicle position.
    pub fn hsl() -> Self {
        Self { url: HSL_BROKER.to_owned(), ca_file: None, topic: HSL_POSITIONS.to_owned() }
    }

    /// Refuses an unusable broker URL or an empty topic filter.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.broker()?;
        if self.topic.is_empty() {
            return Err(ConfigError::Topic);
        }
        Ok(())
    }

    /// The broker to subscribe to, trusting the extra CA if one is given.
    pub fn broker(&self) -> Result<Broker, BrokerError> {
        Ok(Broker::parse(&self.url)?.with_extra_ca(self.ca_file.clone()))
    }
}

/// A value that must not appear in logs: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_owned()))
    }
}

/// Defaults shared by the command line and [`Config::for_tests`].
mod defaults {
    pub const SIM_VEHICLES: u32 = 400;
    pub const SIM_SEED: u64 = 2026;
    pub const VEHICLE_TTL_SECS: u64 = 180;
    pub const TICK_MS: u64 = 250;
    /// Long enough for any real client on a slow mobile link; short enough that thousands
    /// of stalled connections cannot pile up.
    pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
    /// A hung upstream is reported within 10 s: sooner than a rider wonders why nothing
    /// moves, and pings every 5 s cost nothing worth counting.
    pub const UPSTREAM_TIMEOUT_SECS: u64 = 10;
    /// Far above a browser's handful of connections (six or so, plus its WebSocket), far
    /// below what would starve everyone else of file descriptors.
    pub const MAX_CONNECTIONS_PER_ADDRESS: u32 = 256;
    pub const MAX_WS_CLIENTS: u32 = 10_000;
}

/// The embedded mode's position source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// The live feed if its broker answers at start-up, else the simulator.
    Auto,
    /// The live feed (`--mqtt-url`), reconnecting whenever it drops.
    Live,
    /// Synthetic vehicles on Helsinki routes, sent as real HFP v2 messages.
    Simulator,
    /// A recording (`--replay-file`).
    Replay,
    /// No source: the table is fed only through the server's API (used by tests).
    #[value(hide = true)]
    None,
}

/// A setting that cannot work, found before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--sim-vehicles must be between 1 and {max}, not {got}")]
    SimVehicles { got: u32, max: u32 },
    #[error("--vehicle-ttl-secs must be at least 5 (got {0}): vehicles report once a second")]
    Ttl(u64),
    #[error("--tick-ms must be between 50 and 5000, not {0}")]
    Tick(u64),
    #[error("--allowed-origins takes origins like https://maps.example.org, not {0:?}")]
    Origin(String),
    #[error("--request-timeout-ms must be between 100 and 600000, not {0}")]
    RequestTimeout(u64),
    #[error("--upstream-timeout-secs must be between 2 and 600, not {0}")]
    UpstreamTimeout(u64),
    #[error("--max-ws-clients must be at least 1")]
    MaxClients,
    #[error("--tile-url must be empty or an http(s) URL template, not `{0}`")]
    TileUrl(String),
    #[error("--source replay needs --replay-file")]
    ReplayFile,
    #[error(
        "--replay-speed must be 0 (as fast as possible) or at least {min}, not {0:?}",
        min = crate::source::replay::MIN_SPEED
    )]
    ReplaySpeed(f64),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("--mqtt-topic must not be empty")]
    Topic,
}

/// `scheme://host[:port]` and nothing else, as browsers send it in `Origin`.
fn is_origin(text: &str) -> bool {
    let Some((scheme, authority)) = text.split_once("://") else { return false };
    matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && authority.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// Largest simulated fleet: HSL's peak is about 2,000 vehicles, this leaves room for load tests.
const MAX_SIM_VEHICLES: u32 = 20_000;

impl Config {
    /// Checks settings whose types alone do not rule out nonsense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if matches!(self.source, SourceKind::Simulator | SourceKind::Auto)
            && self.ksqldb_url.is_none()
            && !(1..=MAX_SIM_VEHICLES).contains(&self.sim_vehicles)
        {
            return Err(ConfigError::SimVehicles { got: self.sim_vehicles, max: MAX_SIM_VEHICLES });
        }
        if self.vehicle_ttl_secs < 5 {
            return Err(ConfigError::Ttl(self.vehicle_ttl_secs));
        }
        if !(50..=5_000).contains(&self.tick_ms) {
            return Err(ConfigError::Tick(self.tick_ms));
        }
        if !(100..=600_000).contains(&self.request_timeout_ms) {
            return Err(ConfigError::RequestTimeout(self.request_timeout_ms));
        }
        // MQTT keep-alive is whole seconds, at least one: half of this.
        if !(2..=600).contains(&self.upstream_timeout_secs) {
            return Err(ConfigError::UpstreamTimeout(self.upstream_timeout_secs));
        }
        if self.max_ws_clients == 0 {
            return Err(ConfigError::MaxClients);
        }
        if let Some(bad) = self.allowed_origins.iter().find(|origin| !is_origin(origin)) {
            return Err(ConfigError::Origin(bad.clone()));
        }
        let url = &self.tile_url;
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::TileUrl(url.clone()));
        }
        if self.source == SourceKind::Replay && self.replay_file.is_none() {
            return Err(ConfigError::ReplayFile);
        }
        let speed = self.replay_speed;
        if !(speed == 0.0 || (speed.is_finite() && speed >= crate::source::replay::MIN_SPEED)) {
            return Err(ConfigError::ReplaySpeed(speed));
        }
        self.mqtt.validate()
    }

    pub fn vehicle_ttl(&self) -> Duration {
        Duration::from_secs(self.vehicle_ttl_secs)
    }

    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_secs(self.upstream_timeout_secs)
    }

    /// The defaults, listening on a free loopback port, built directly: the environment of
    /// the test process never leaks in. Tests adjust fields from here.
    pub fn for_tests() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            site_root: PathBuf::from("target/site"),
            source: SourceKind::Simulator,
            mqtt: MqttArgs::hsl(),
            live_probe_secs: 5,
            replay_file: None,
            replay_speed: 1.0,
            replay_loop: false,
            replay_retime: false,
            sim_vehicles: defaults::SIM_VEHICLES,
            sim_seed: defaults::SIM_SEED,
            vehicle_ttl_secs: defaults::VEHICLE_TTL_SECS,
            tick_ms: defaults::TICK_MS,
            request_timeout_ms: defaults::REQUEST_TIMEOUT_MS,
            upstream_timeout_secs: defaults::UPSTREAM_TIMEOUT_SECS,
            max_connections_per_address: defaults::MAX_CONNECTIONS_PER_ADDRESS,
            max_ws_clients: defaults::MAX_WS_CLIENTS,
            ksqldb_url: None,
            ksqldb_apply_statements: false,
            redis_url: None,
            redis_password: None,
            // Tests read what they need from the API; tiles would only reach for the network.
            allowed_origins: Vec::new(),
            tile_url: String::new(),
            tile_attribution: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_prefer_the_live_feed() {
        let config = Config::parse_from(["transit-stream"]);
        config.validate().expect("defaults are valid");
        assert_eq!(config.source, SourceKind::Auto);
        assert_eq!(config.vehicle_ttl(), Duration::from_secs(180));
        assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
    }

    #[test]
    fn the_test_configuration_differs_from_the_command_line_defaults_only_where_it_says() {
        let cli = Config::parse_from([
            "transit-stream",
            "--bind=127.0.0.1:0",
            "--source=simulator",
            "--tile-url=",
            "--tile-attribution=",
        ]);
        assert_eq!(format!("{cli:?}"), format!("{:?}", Config::for_tests()));
    }

    #[test]
    fn nonsense_settings_are_refused_at_start_up() {
        let mut config = Config::for_tests();
        config.tick_ms = 0;
        assert!(matches!(config.validate(), Err(ConfigError::Tick(0))));

        for bad in ["*", "https://example.org/", "example.org", "javascript://x", "https://a b"] {
            let mut config = Config::for_tests();
            config.allowed_origins = vec!["https://ok.example:8443".into(), bad.into()];
            assert!(matches!(config.validate(), Err(ConfigError::Origin(_))), "{bad}");
        }

        let mut config = Config::for_tests();
        config.request_timeout_ms = 0;
        assert!(matches!(config.validate(), Err(ConfigError::RequestTimeout(0))));

        for secs in [0, 1, 601] {
            let mut config = Config::for_tests();
            config.upstream_timeout_secs = secs;
            assert!(matches!(config.validate(), Err(ConfigError::UpstreamTimeout(s)) if s == secs));
        }

        let mut config = Config::for_tests();
        config.sim_vehicles = 0;
        assert!(matches!(config.validate(), Err(ConfigError::SimVehicles { .. })));

        let mut config = Config::for_tests();
        config.tile_url = "javascript:alert(1)".into();
        assert!(matches!(config.validate(), Err(ConfigError::TileUrl(_))));

        for speed in [1e-300, -1.0, f64::NAN, f64::INFINITY] {
            let mut config = Config::for_tests();
            config.replay_speed = speed;
            assert!(matches!(config.validate(), Err(ConfigError::ReplaySpeed(_))), "{speed}");
        }
        for speed in [0.0, 0.001, 1.0, 1e6] {
            let mut config = Config::for_tests();
            config.replay_speed = speed;
            assert!(config.validate().is_ok(), "{speed}");
        }
    }

    #[test]
    fn a_redis_password_never_shows_in_the_configuration_s_debug_output() {
        let config = Config::parse_from(["transit-stream", "--redis-password", "hunter2"]);
        assert_eq!(config.redis_password.as_ref().map(Secret::expose), Some("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn the_no_source_mode_needs_no_fleet_size() {
        let mut config = Config::for_tests();
        config.source = SourceKind::None;
        config.sim_vehicles = 0;
        config.validate().expect("no simulator, no fleet size needed");
    }
}
