//! The load: N WebSocket clients that read every frame and log, per frame, its sequence
//! number, when it arrived, and (for deltas) how long after the server received its oldest
//! message; plus clients that connect and then never read, as a frozen tab would.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use app::wire::{self, Header};
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// Handshakes in flight at once: enough to connect 10,000 clients in seconds without
/// overflowing the server's accept backlog.
const CONNECTING_AT_ONCE: usize = 256;

/// What one reading client saw.
#[derive(Debug, Default)]
pub struct ClientLog {
    /// Which kind of view the client opened the feed in (`views`), 0 for the whole fleet.
    pub group: usize,
    pub frames: Vec<Received>,
    /// Whether the connection ended before the run did.
    pub dropped: bool,
}

/// One frame as a client received it.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Arrival, in µs since the run's epoch.
    pub at_us: u64,
    pub bytes: u32,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A delta, with the ms from the server's receipt of its oldest message to its
    /// arrival here (when it says).
    Delta {
        seq: u64,
        latency_ms: Option<f32>,
    },
    Snapshot,
    Status,
    /// Not a frame this build decodes.
    Undecodable,
}

/// Opens a reading client on each `(url, group)`; each runs until `stop`. Returns the
/// running clients and how many failed to connect.
pub async fn readers(
    targets: Vec<(String, usize)>,
    epoch: Instant,
    stop: &CancellationToken,
) -> (JoinSet<ClientLog>, usize) {
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut connecting = JoinSet::new();
    for (url, group) in targets {
        let gate = Arc::clone(&gate);
        connecting.spawn(async move {
            let _turn = gate.acquire_owned().await;
            connect(&url).await.map(|socket| (socket, group))
        });
    }
    let mut running = JoinSet::new();
    let mut failed = 0;
    while let Some(connected) = connecting.join_next().await {
        match connected {
            Ok(Ok((socket, group))) => {
                running.spawn(read(socket, group, epoch, stop.clone()));
            }
            _ => failed += 1,
        }
    }
    (running, failed)
}

/// A load client's socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `count` clients that never read; they hold their sockets until dropped.
pub async fn stalled(url: &str, count: usize) -> Vec<Socket> {
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        if let Ok(socket) = connect(url).await {
            sockets.push(socket);
        }
    }
    sockets
}

pub async fn connect(url: &str) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    // A small read buffer: tungstenite's default 128 KiB, zero-filled, times 10,000
    // clients would be the load generator's own bottleneck.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (socket, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), false).await?;
    Ok(socket)
}

/// What a reading client gets next.
pub enum Next {
    Frame(Bytes),
    /// The run is over.
    Stopped,
    /// The server closed the connection or broke it.
    Ended,
}

/// The next data message (control frames skipped), unless `stop` comes first.
pub async fn next_frame(socket: &mut Socket, stop: &CancellationToken) -> Next {
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Next::Stopped,
            message = socket.next() => message,
        };
        match message {
            Some(Ok(Message::Binary(bytes))) => return Next::Frame(bytes),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Next::Ended,
        }
    }
}

async fn read(
    mut socket: Socket,
    group: usize,
    epoch: Instant,
    stop: CancellationToken,
) -> ClientLog {
    let mut log = ClientLog { group, ..ClientLog::default() };
    loop {
        let bytes = match next_frame(&mut socket, &stop).await {
            Next::Frame(bytes) => bytes,
            Next::Stopped => return log,
            Next::Ended => {
                log.dropped = true;
                return log;
            }
        };
        let at_us = epoch.elapsed().as_micros() as u64;
        let kind = match wire::header(&bytes) {
            Ok(Header::Delta { seq, received_ms }) => {
                let latency_ms = (received_ms > 0).then(|| {
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                    (now.as_secs_f64() * 1e3 - received_ms as f64) as f32
                });
                Kind::Delta { seq, latency_ms }
            }
            Ok(Header::Snapshot { .. }) => Kind::Snapshot,
            Ok(Header::Status) => Kind::Status,
            Err(_) => Kind::Undecodable,
        };
        log.frames.push(Received { at_us, bytes: bytes.len() as u32, kind });
    }
}
