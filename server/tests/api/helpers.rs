//! Starting the real application for a test, and talking to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::HashMap;

use app::model::{Marker, ServerFrame, VehicleId};
use app::wire::{self, WireFrame};
use futures::{SinkExt, StreamExt};
use server::config::{Config, SourceKind};
use server::ingest::Ingest;
use server::metrics::Stats;
use server::startup::Application;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// Generous bound on anything a test waits for; a healthy run needs milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// Reads a raw connection until the server closes it; fails the test if it stays open.
pub async fn read_until_closed(stream: &mut TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&received).into_owned()
}

pub struct TestApp {
    pub url: String,
    /// Where the server listens, for tests that speak TCP.
    pub addr: std::net::SocketAddr,
    pub ws_url: String,
    ingest: Ingest,
    pub stats: Arc<Stats>,
    pub shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    pub http: reqwest::Client,
}

/// The server with no source (tests feed messages through [`TestApp::publish`]) and a fast
/// tick.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_tests();
    config.source = SourceKind::None;
    config.tick_ms = 50;
    adjust(&mut config);
    let application = Application::build(config).await.expect("the application builds");
    let url = application.url();
    let addr = application.local_addr();
    let ws_url = format!("ws://{}/ws", application.local_addr());
    let ingest = application.ingest();
    let stats = application.stats();
    let shutdown = application.shutdown_token();
    let server = tokio::spawn(application.run_until_stopped());
    TestApp {
        url,
        addr,
        ws_url,
        ingest,
        stats,
        shutdown,
        server: Some(server),
        http: reqwest::Client::new(),
    }
}

impl TestApp {
    /// Hands one MQTT message to the server, as a source would.
    pub fn publish(&self, topic: &str, payload: &[u8]) -> bool {
        self.ingest.message(topic, payload, std::time::Instant::now()).is_ok()
    }

    /// Publishes a valid `vp` message for bus `0022/<number>`.
    pub fn publish_position(&self, number: u32, tst: &str, lat: f64, lon: f64) {
        let (topic, payload) = vp_message(number, tst, lat, lon);
        assert!(self.publish(&topic, payload.as_bytes()), "test message is valid");
    }

    /// Moves buses `0022/1..=vehicles` to where `round` puts them, onto line 500 or 501
    /// by turns, so that the next frame carries every one of them with its text: how tests
    /// fill a client's buffers fast. The positions are handed over typed, as the ksqlDB
    /// bridge does, because parsing could not produce them in time.
    pub fn move_fleet(&self, vehicles: u32, round: u32) {
        let (topic, payload) = vp_message(1, "2026-11-24T06:00:00.000Z", 60.0, 24.9);
        let template = server::hfp::parse(&topic, payload.as_bytes())
            .expect("a valid message")
            .position()
            .expect("with a position");
        for number in 1..=vehicles {
            let mut position = template.clone();
            position.id = vehicle(number);
            position.lat = 60.0 + f64::from(round) * 0.001;
            position.timestamp_ms += i64::from(round) * 1_000;
            position.line = Some(format!("{}", 500 + round % 2));
            self.ingest.position(position, std::time::Instant::now());
        }
    }

    pub async fn connect(&self) -> WsClient {
        self.connect_to(&self.ws_url).await
    }

    /// A client of `/ws` at `url` (with a query, say).
    pub async fn connect_to(&self, url: &str) -> WsClient {
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("/ws accepts");
        WsClient { stream, known: HashMap::new() }
    }

    /// Calls the `vehicle_position` server function as the browser does: a form-encoded
    /// POST to `/api/vehicle`.
    pub async fn lookup(&self, id: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/vehicle", self.url))
            .form(&[("id", id)])
            .send()
            .await
            .expect("POST /api/vehicle")
    }

    /// GETs `path` and reads the body as JSON, whatever the status.
    pub async fn get_json(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.expect("GET");
        let status = response.status();
        (status, response.json().await.expect("JSON"))
    }

    /// What `/readyz` says right now.
    pub async fn is_ready(&self) -> bool {
        let response =
            self.http.get(format!("{}/readyz", self.url)).send().await.expect("GET /readyz");
        response.status().is_success()
    }

    /// Waits until `/readyz` says `ready` (or not).
    pub async fn wait_until_ready(&self, ready: bool) {
        tokio::time::timeout(WAIT, async {
            while self.is_ready().await != ready {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("readiness changes in time");
    }

    /// A client past its initial snapshot, for tests about what follows it.
    pub async fn connect_past_snapshot(&self) -> WsClient {
        let mut client = self.connect().await;
        client.next_frame().await;
        client
    }

    /// A raw TCP connection to the server, for tests that speak HTTP byte by byte.
    pub async fn tcp(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connects")
    }

    /// A raw TCP connection that takes in at most a few KiB unread, so that a test can
    /// make the server's sends to it wait without first filling megabytes of kernel
    /// buffers.
    pub async fn tcp_with_small_window(&self) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(4 * 1024).expect("a small receive buffer");
        socket.connect(self.addr).await.expect("connects")
    }

    /// A WebSocket client on [`TestApp::tcp_with_small_window`], past its snapshot.
    pub async fn connect_with_small_window(&self) -> WsClient {
        let tcp = MaybeTlsStream::Plain(self.tcp_with_small_window().await);
        let (stream, _) =
            tokio_tungstenite::client_async(self.ws_url.as_str(), tcp).await.expect("/ws accepts");
        let mut client = WsClient { stream, known: HashMap::new() };
        client.next_frame().await;
        client
    }

    /// `n` clients, each past its initial snapshot.
    pub async fn connect_many(&self, n: usize) -> Vec<WsClient> {
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            clients.push(self.connect_past_snapshot().await);
        }
        clients
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.cancel();
        let server = self.server.take().expect("running");
        tokio::time::timeout(WAIT, server).await.expect("stops in time").expect("no panic")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Waits until `condition` holds, checking after every scheduler turn; fails the test if
/// it does not within [`WAIT`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A directory of a test's own under the system's temp directory, removed when dropped:
/// also when the test fails, so that a failed run leaves nothing behind.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `transit-stream-<name>-<process>`: `name` must be unique among the tests.
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("transit-stream-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn vehicle(number: u32) -> VehicleId {
    VehicleId::new(22, number).expect("fits")
}

/// A realistic bus `vp` message (topic with a non-ASCII headsign and spaces).
pub fn vp_message(number: u32, tst: &str, lat: f64, lon: f64) -> (String, String) {
    let topic = format!(
        "/hfp/v2/journey/ongoing/vp/bus/0022/{number:05}/2510/1/Westendinasema/08:05/1130109/4/60;24/19/83/55"
    );
    let payload = format!(
        r#"{{"VP":{{"desi":"510","dir":"1","oper":22,"veh":{number},"tst":"{tst}","tsi":1795500000,"spd":7.43,"hdg":251,"lat":{lat},"long":{lon},"acc":0.0,"dl":-45,"odo":1200,"drst":0,"oday":"2026-11-24","jrn":12,"line":1034,"start":"08:05","loc":"GPS","stop":null,"route":"2510","occu":0}}}}"#
    );
    (topic, payload)
}

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every vehicle as this client knows it, as a browser keeps it: deltas say what a
    /// vehicle is only when that is news (`app::wire`).
    known: HashMap<VehicleId, Marker>,
}

impl WsClient {
    /// The next data frame, decoded and completed from what the client knows into the
    /// `ServerFrame` it stands for. Control frames are skipped. Fails the test when a
    /// frame moves a vehicle the client was never told about.
    pub async fn next_frame(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame within the wait")
                .expect("the socket is open")
                .expect("a valid WebSocket message");
            match message {
                Message::Binary(bytes) => {
                    return self.complete(wire::decode(&bytes).expect("frames decode"));
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// Every vehicle the client holds now, as a browser's map would show it.
    pub fn known(&self) -> &HashMap<VehicleId, Marker> {
        &self.known
    }

    fn complete(&mut self, frame: WireFrame) -> ServerFrame {
        match frame {
            WireFrame::Snapshot { seq, vehicles } => {
                self.known.clear();
                ServerFrame::Snapshot { seq, vehicles: self.learn(vehicles) }
            }
            WireFrame::Delta { seq, upserts, removed, .. } => {
                let upserts = self.learn(upserts);
                for id in &removed {
                    self.known.remove(id);
                }
                ServerFrame::Delta { seq, upserts, removed }
            }
            WireFrame::Status { feed } => ServerFrame::Status { feed },
        }
    }

    fn learn(&mut self, updates: Vec<wire::Update>) -> Vec<Marker> {
        let mut markers = Vec::with_capacity(updates.len());
        for update in updates {
            let marker = match self.known.remove(&update.id) {
                Some(mut marker) => {
                    update.apply_to(&mut marker);
                    marker
                }
                None => update.into_marker().expect("a vehicle new to the client is described"),
            };
            self.known.insert(marker.id, marker.clone());
            markers.push(marker);
        }
        markers
    }

    /// Reads frames until one satisfies `found`, returning it.
    pub async fn frame_where(&mut self, found: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
        tokio::time::timeout(WAIT, async {
            loop {
                let frame = self.next_frame().await;
                if found(&frame) {
                    return frame;
                }
            }
        })
        .await
        .expect("the expected frame arrives")
    }

    /// The next data frame with no time limit, or `None` when the socket ended: for
    /// clients that stay connected through an outage, when nothing may come for a while.
    pub async fn next_frame_or_end(&mut self) -> Option<ServerFrame> {
        loop {
            match self.stream.next().await? {
                Ok(Message::Binary(bytes)) => {
                    return Some(self.complete(wire::decode(&bytes).expect("frames decode")));
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(other) => panic!("unexpected message {other:?}"),
                Err(_) => return None,
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream.send(Message::text(text)).await.expect("send");
    }

    /// The next raw message, or `None` when the socket ended.
    pub async fn next_raw(
        &mut self,
    ) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
        tokio::time::timeout(WAIT, self.stream.next()).await.expect("something within the wait")
    }
}

/// The markers of a delta's upserts, by vehicle.
pub fn upserted(frame: &ServerFrame, id: VehicleId) -> Option<(f64, f64)> {
    match frame {
        ServerFrame::Delta { upserts, .. } => {
            upserts.iter().find(|m| m.id == id).map(|m| (m.lat, m.lon))
        }
        ServerFrame::Snapshot { .. } | ServerFrame::Status { .. } => None,
    }
}
