//! `/ws`: the live feed to browsers. Each client gets a snapshot, then the hub's shared
//! delta frames; it is resynced with a snapshot when it falls behind, dropped when it stops
//! reading, and closed with "going away" when the server shuts down.
//!
//! A client may say which part of the map it shows (`app::wire::client`); its frames are
//! then cut to that view (`hub`). Anything else a client sends is counted and ignored.
//! Every ending says
//! why in a close frame, as the protocol asks: a client's own close is echoed, and a
//! message larger than [`MAX_CLIENT_MESSAGE`] (1009), text that is not UTF-8 (1007) or a
//! broken frame (1002) is answered with its code before the connection ends.

mod framing;
mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use app::viewport::{self, Bounds, BoundsError, CellRect};
use app::wire::{self, client::ClientMessage};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{MissedTickBehavior, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

pub use framing::binary_message;
#[cfg(test)]
pub use framing::payload_of;

use crate::hub::Hub;
use crate::metrics::Stats;
use crate::metrics::reasons::{WsDrop, WsIgnored, WsRefusal};

/// Clients send pongs and their view (18 bytes); nothing legitimate is large.
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// A send that takes longer than this means the client stopped reading (a frozen tab, a
/// dead network). Dropping it keeps its unsent frames from piling up in our buffers.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Pings keep idle proxies from closing the connection and reveal dead peers.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// What tungstenite reads from a client at a time, and zero-fills before each read: the
/// loop polls the client after every frame it sends, and clients send next to nothing.
/// (tungstenite's default, 128 KiB, made a third of the server's CPU a memset at 5,000
/// clients, and was most of each connection's memory.)
const READ_BUFFER: usize = 1024;
/// What tungstenite itself writes is control frames (pongs, close frames, pings); the
/// feed's messages bypass it ([`framing`]).
const MAX_WRITE_BUFFER: usize = 16 * 1024;

/// The socket of one `/ws` client.
type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

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
            self.stats.ws_refused.inc(WsRefusal::Full);
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
pub async fn upgrade(State(context): State<WsContext>, request: Request) -> Response {
    if !origin_allowed(request.headers(), &context.allowed_origins) {
        context.stats.ws_refused.inc(WsRefusal::Origin);
        return (StatusCode::FORBIDDEN, "This page's origin may not open the live feed.")
            .into_response();
    }
    if context.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "The server is shutting down.").into_response();
    }
    let view = match requested_view(request.uri()) {
        Ok(view) => view,
        Err(error) => {
            context.stats.ws_refused.inc(WsRefusal::BadRequest);
            return (StatusCode::BAD_REQUEST, format!("{error}.")).into_response();
        }
    };
    let accepted = match upgrade::accept(request) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.into_response(),
    };
    let Some(slot) = context.take_slot() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Too many live connections; try again soon.")
            .into_response();
    };
    let tracker = context.tracker.clone();
    // The connection is handed over only after hyper has sent the 101 below, so the task
    // waits for it; the tracker lets shutdown wait for its close frame.
    tracker.spawn(async move {
        match accepted.connection.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER)
                    .write_buffer_size(0)
                    .max_write_buffer_size(MAX_WRITE_BUFFER)
                    .max_message_size(Some(MAX_CLIENT_MESSAGE))
                    .max_frame_size(Some(MAX_CLIENT_MESSAGE));
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                serve(socket, context, slot, view).await;
            }
            Err(error) => tracing::debug!(%error, "A WebSocket upgrade did not complete."),
        }
    });
    accepted.response
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

/// The view a page opens the feed in (`/ws?view=south,west,north,east`), so a zoomed-in
/// page's first snapshot is already cut to it; no view is the whole fleet.
fn requested_view(uri: &axum::http::Uri) -> Result<Option<CellRect>, BoundsError> {
    #[derive(serde::Deserialize)]
    struct Query {
        view: Option<String>,
    }
    let Ok(Query { view }) = axum::extract::Query::<Query>::try_from_uri(uri).map(|q| q.0) else {
        return Err(BoundsError);
    };
    match view {
        Some(view) => Ok(viewport::cells(&view.parse::<Bounds>()?)),
        None => Ok(None),
    }
}

async fn serve(socket: Socket, context: WsContext, _slot: ClientSlot, view: Option<CellRect>) {
    context.stats.ws_accepted.inc();
    let end = feed(socket, &context, view).await;
    tracing::debug!(?end, "WebSocket client finished.");
}

/// What woke the feed loop.
enum Event {
    Shutdown,
    Frame(Option<crate::hub::Frame>),
    FromClient(Option<Result<Message, tungstenite::Error>>),
    Ping,
}

async fn feed(mut socket: Socket, context: &WsContext, view: Option<CellRect>) -> End {
    let mut frames = context.hub.follow().starting_in(view);

    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.tick().await; // the first tick is immediate

    loop {
        // Biased towards shutdown, so a busy feed cannot postpone the close frame.
        let event = tokio::select! {
            biased;
            _ = context.shutdown.cancelled() => Event::Shutdown,
            frame = frames.next() => Event::Frame(frame),
            from_client = socket.next() => Event::FromClient(from_client),
            _ = ping.tick() => Event::Ping,
        };
        let sent = match event {
            Event::Shutdown => {
                let close =
                    CloseFrame { code: CloseCode::Away, reason: "server shutting down".into() };
                let _ = send(&mut socket, Message::Close(Some(close)), context).await;
                return End::Shutdown;
            }
            Event::Frame(Some(frame)) => match frame.ws_message_in(frames.view()) {
                Some(message) => write_message(&mut socket, message, context).await,
                None => Ok(()),
            },
            // The hub is gone: the server is stopping.
            Event::Frame(None) => return End::Shutdown,
            Event::FromClient(None) => return End::ClientLeft,
            Event::FromClient(Some(Ok(Message::Close(_)))) => {
                // tungstenite has queued the echo of the client's close frame; flushing
                // sends it and completes the closing handshake.
                let _ = timeout(SEND_TIMEOUT, socket.flush()).await;
                return End::ClientLeft;
            }
            Event::FromClient(Some(Err(error))) => {
                let Some((close, reason)) = close_for(&error) else { return End::ClientLeft };
                context.stats.ws_dropped.inc(reason);
                let _ = send(&mut socket, Message::Close(Some(close)), context).await;
                return End::ClientRefused;
            }
            Event::FromClient(Some(Ok(Message::Binary(bytes)))) => {
                match wire::client::decode(&bytes) {
                    Ok(ClientMessage::View(bounds)) => frames.set_view(viewport::cells(&bounds)),
                    Ok(ClientMessage::Everything) => frames.set_view(None),
                    Err(_) => context.stats.ws_ignored.inc(WsIgnored::Malformed),
                }
                Ok(())
            }
            Event::FromClient(Some(Ok(Message::Text(_)))) => {
                context.stats.ws_ignored.inc(WsIgnored::Text);
                Ok(())
            }
            // tungstenite answers pings itself; pongs need nothing.
            Event::FromClient(Some(Ok(
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_),
            ))) => Ok(()),
            Event::Ping => send(&mut socket, Message::Ping(Default::default()), context).await,
        };
        if let Err(end) = sent {
            return end;
        }
    }
}

/// The close frame telling a client what went wrong reading from it, or `None` when the
/// connection itself is gone (nothing can be told).
fn close_for(error: &tungstenite::Error) -> Option<(CloseFrame, WsDrop)> {
    let (code, reason, drop) = match error {
        tungstenite::Error::Capacity(_) => {
            (CloseCode::Size, "message too large: this feed takes no messages", WsDrop::TooLarge)
        }
        tungstenite::Error::Utf8(_) => {
            (CloseCode::Invalid, "text that is not UTF-8", WsDrop::InvalidUtf8)
        }
        tungstenite::Error::Protocol(_) => {
            (CloseCode::Protocol, "WebSocket protocol error", WsDrop::Protocol)
        }
        _ => return None,
    };
    Some((CloseFrame { code, reason: reason.into() }, drop))
}

/// Writes one of the hub's pre-framed messages, shared by every client, straight to the
/// socket.
async fn write_message(
    socket: &mut Socket,
    message: Bytes,
    context: &WsContext,
) -> Result<(), End> {
    let write = async {
        // Anything tungstenite queued (a pong) goes out first, so the message starts on a
        // frame boundary; nothing else writes until it is done.
        socket.flush().await.map_err(|_| End::SendFailed)?;
        let io = socket.get_mut();
        io.write_all(&message).await.map_err(|_| End::SendFailed)?;
        io.flush().await.map_err(|_| End::SendFailed)
    };
    timed(write, context).await
}

/// Sends a control message through tungstenite.
async fn send(socket: &mut Socket, message: Message, context: &WsContext) -> Result<(), End> {
    timed(async { socket.send(message).await.map_err(|_| End::SendFailed) }, context).await
}

async fn timed(
    write: impl Future<Output = Result<(), End>>,
    context: &WsContext,
) -> Result<(), End> {
    timeout(SEND_TIMEOUT, write).await.unwrap_or_else(|_| {
        context.stats.ws_dropped.inc(WsDrop::Slow);
        Err(End::TooSlow)
    })
}
