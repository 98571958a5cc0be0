//! `/ws`: the live feed to browsers. Each client gets a snapshot, then the hub's shared
//! delta frames; it is resynced with a snapshot when it falls behind, dropped when it stops
//! reading, and closed with "going away" when the server shuts down.
//!
//! The socket is one-way. Anything a client sends is counted and ignored. Every ending says
//! why in a close frame, as the protocol asks: a client's own close is echoed, and a
//! message larger than [`MAX_CLIENT_MESSAGE`] (1009), text that is not UTF-8 (1007) or a
//! broken frame (1002) is answered with its code before the connection ends.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{MissedTickBehavior, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::metrics::Stats;
use crate::state::AppState;

/// Clients only send pongs and the occasional stray message; nothing legitimate is large.
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// A send that takes longer than this means the client stopped reading (a frozen tab, a
/// dead network). Dropping it keeps its unsent frames from piling up in our buffers.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Pings keep idle proxies from closing the connection and reveal dead peers.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Bytes tungstenite may buffer for one client before a send fails: above the largest
/// snapshot (a few hundred KiB at peak), far below anything that threatens the server.
const MAX_WRITE_BUFFER: usize = 4 * 1024 * 1024;

/// What every connection needs from the server.
#[derive(Debug, Clone)]
pub struct WsContext {
    pub hub: Arc<Hub>,
    pub stats: Arc<Stats>,
    /// One permit per connected client: the cap on concurrent connections.
    pub slots: Arc<Semaphore>,
    /// Connection tasks are tracked so shutdown can wait for their close frames.
    pub tracker: TaskTracker,
    pub shutdown: CancellationToken,
    /// Pages on other origins allowed to open the feed (`--allowed-origins`).
    pub allowed_origins: Arc<[String]>,
}

impl WsContext {
    /// A place for one more live client (`/ws` or `/api/stream`), or `None` (counted) when
    /// the cap is reached.
    pub fn take_slot(&self) -> Option<ClientSlot> {
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            self.stats.ws_refused_full.inc();
            return None;
        };
        self.stats.ws_clients.inc();
        Some(ClientSlot { _permit: permit, stats: Arc::clone(&self.stats) })
    }
}

/// One live client's place: its permit under the cap and its count in the clients gauge,
/// both given back when it is dropped, however the client ends.
pub struct ClientSlot {
    _permit: OwnedSemaphorePermit,
    stats: Arc<Stats>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.stats.ws_clients.dec();
    }
}

/// Whether a page at the request's `Origin` may open the feed: one served by this server
/// (the origin names the host the request was sent to) or one the operator allowed.
/// Browsers always send `Origin` on a WebSocket; a client without one is not a browser
/// page, and what this check protects is browsers' users (another site cannot ride on
/// their connection), not the data, which is public anyway.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if allowed.iter().any(|one| one.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
    matches!((authority, host), (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host))
}

/// The `/ws` route.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let context = state.ws;
    if !origin_allowed(&headers, &context.allowed_origins) {
        context.stats.ws_refused_origin.inc();
        return (StatusCode::FORBIDDEN, "This page's origin may not open the live feed.")
            .into_response();
    }
    if context.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "The server is shutting down.").into_response();
    }
    let Some(slot) = context.take_slot() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Too many live connections; try again soon.")
            .into_response();
    };
    let tracker = context.tracker.clone();
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| tracker.track_future(serve(socket, context, slot)))
}

/// Why a connection ended, for the log.
#[derive(Debug)]
enum End {
    ClientLeft,
    /// The client broke the protocol or a limit; its close frame said which.
    ClientRefused,
    Shutdown,
    TooSlow,
    SendFailed,
}

async fn serve(socket: WebSocket, context: WsContext, _slot: ClientSlot) {
    context.stats.ws_accepted.inc();
    let end = feed(socket, &context).await;
    tracing::debug!(?end, "WebSocket client finished.");
}

async fn feed(socket: WebSocket, context: &WsContext) -> End {
    let (mut sink, mut incoming) = socket.split();
    let mut frames = context.hub.follow();

    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.tick().await; // the first tick is immediate

    loop {
        // Biased towards shutdown, so a busy feed cannot postpone the close frame.
        let message = tokio::select! {
            biased;
            _ = context.shutdown.cancelled() => {
                let close = CloseFrame {
                    code: close_code::AWAY,
                    reason: "server shutting down".into(),
                };
                let _ = send(&mut sink, Message::Close(Some(close)), context).await;
                return End::Shutdown;
            }
            frame = frames.next() => match frame {
                Some(frame) => Message::Binary(frame.binary()),
                // The hub is gone: the server is stopping.
                None => return End::Shutdown,
            },
            from_client = incoming.next() => match from_client {
                None => return End::ClientLeft,
                Some(Ok(Message::Close(_))) => {
                    // tungstenite has queued the echo of the client's close frame; flushing
                    // sends it and completes the closing handshake.
                    let _ = timeout(SEND_TIMEOUT, sink.flush()).await;
                    return End::ClientLeft;
                }
                Some(Err(error)) => {
                    let Some(close) = close_for(error) else { return End::ClientLeft };
                    context.stats.ws_client_errors.inc();
                    let _ = send(&mut sink, Message::Close(Some(close)), context).await;
                    return End::ClientRefused;
                }
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    context.stats.ws_client_messages_ignored.inc();
                    continue;
                }
                // tungstenite answers pings itself; pongs need nothing.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            },
            _ = ping.tick() => Message::Ping(Default::default()),
        };
        if let Err(end) = send(&mut sink, message, context).await {
            return end;
        }
    }
}

/// The close frame telling a client what went wrong reading from it, or `None` when the
/// connection itself is gone (nothing can be told).
fn close_for(error: axum::Error) -> Option<CloseFrame> {
    let error = error.into_inner();
    let (code, reason) = match error.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => {
            (close_code::SIZE, "message too large: this feed takes no messages")
        }
        tungstenite::Error::Utf8(_) => (close_code::INVALID, "text that is not UTF-8"),
        tungstenite::Error::Protocol(_) => (close_code::PROTOCOL, "WebSocket protocol error"),
        _ => return None,
    };
    Some(CloseFrame { code, reason: reason.into() })
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: Message,
    context: &WsContext,
) -> Result<(), End> {
    match timeout(SEND_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::SendFailed),
        Err(_) => {
            context.stats.ws_slow_dropped.inc();
            Err(End::TooSlow)
        }
    }
}
