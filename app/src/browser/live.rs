//! The browser's `/ws` subscription: open, read frames, tell the server which part of the
//! map is shown ([`ViewRequest`]), and reconnect with capped backoff when the socket
//! closes, so a server restart shows as a status change, not a dead map.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{Either, select};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::ConnectionStatus;
use crate::early_socket;
use crate::model::FeedState;
use crate::viewport;
use crate::wire::client::{self, ClientMessage};
use crate::wire::{self, WireFrame};

/// First retry delay; doubled after each failed attempt up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Long enough not to hammer a server that is down, short enough that a map left open
/// recovers soon after it returns.
const MAX_BACKOFF: Duration = Duration::from_secs(16);

/// The part of the map the page wants to be sent: told to the server when the cells it
/// covers change (`crate::viewport`), and again on every new connection.
#[derive(Clone)]
pub struct ViewRequest {
    latest: Rc<Cell<Option<ClientMessage>>>,
    /// Wakes the socket. One sender, so at most one wake waits: enough, since a wake sends
    /// the latest view.
    changed: Rc<RefCell<mpsc::Sender<()>>>,
}

impl ViewRequest {
    /// Asks for `message`'s view; says nothing when that would not change what is sent.
    pub fn set(&self, message: ClientMessage) {
        let cells = |message: ClientMessage| match message {
            ClientMessage::View(bounds) => viewport::cells(&bounds),
            ClientMessage::Everything => None,
        };
        if self.latest.get().map(cells) == Some(cells(message)) {
            return;
        }
        self.latest.set(Some(message));
        // Full means a wake is already waiting.
        let _ = self.changed.borrow_mut().try_send(());
    }
}

/// Subscribes for the life of the page, calling `on_frame` for each frame received. The
/// returned handle says which part of the map to send.
pub fn subscribe(
    status: RwSignal<ConnectionStatus>,
    on_frame: impl Fn(WireFrame) + 'static,
) -> ViewRequest {
    let (changed, mut wakes) = mpsc::channel(1);
    let request = ViewRequest { latest: Rc::default(), changed: Rc::new(RefCell::new(changed)) };
    let latest = Rc::clone(&request.latest);
    spawn_local(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            status.set(ConnectionStatus::Connecting);
            if read_until_closed(status, &on_frame, &latest, &mut wakes).await {
                // The connection was healthy for a while: start the next wait from scratch.
                backoff = MIN_BACKOFF;
            }
            // Jitter spreads the reconnects of many browsers after a server restart.
            let jitter_ms = (js_sys::Math::random() * 500.0) as u64;
            let wait = backoff + Duration::from_millis(jitter_ms);
            status.set(ConnectionStatus::Reconnecting { retry_in_s: wait.as_secs().max(1) as u32 });
            gloo_timers::future::sleep(wait).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    });
    request
}

/// Reads one connection to its end, telling the server the view whenever it changes.
/// Returns whether it delivered at least a snapshot.
async fn read_until_closed(
    status: RwSignal<ConnectionStatus>,
    on_frame: &impl Fn(WireFrame),
    view: &Cell<Option<ClientMessage>>,
    wakes: &mut mpsc::Receiver<()>,
) -> bool {
    // The page's first connection was opened before the map code loaded, asking for
    // everything; the view goes out at the top of the loop, as after any change.
    let (socket, early, mut told) = match early_socket::take()
        .and_then(|(socket, frames)| Some((WebSocket::try_from(socket).ok()?, frames)))
    {
        Some((socket, frames)) => (socket, frames, None),
        None => {
            // The view goes into the address, so the first snapshot is already cut to it.
            let told = view.get();
            let Some(url) = ws_url(told) else { return false };
            let Ok(socket) = WebSocket::open(&url) else { return false };
            (socket, Vec::new(), told)
        }
    };
    if !early.is_empty() {
        // Adopted while the map starts, in the same task: the frames are applied in a
        // task of their own, so that the two do not add up to one long one.
        super::yielding::yield_now().await;
    }
    let mut early = early.into_iter();
    let (mut sink, mut stream) = socket.split();
    let mut wakes_open = true;
    let mut healthy = false;
    loop {
        if let Some(message) = view.get().filter(|wanted| Some(*wanted) != told) {
            // A failed send means the socket closed: the read below ends the connection.
            let _ = sink.send(Message::Bytes(client::encode(&message))).await;
            told = Some(message);
        }
        let next = if let Some(bytes) = early.next() {
            Some(Ok(Message::Bytes(bytes)))
        } else if wakes_open {
            match select(stream.next(), wakes.next()).await {
                Either::Left((next, _)) => next,
                // A wake: the top of the loop sends the view.
                Either::Right((Some(()), _)) => continue,
                Either::Right((None, _)) => {
                    wakes_open = false;
                    continue;
                }
            }
        } else {
            stream.next().await
        };
        let Some(message) = next else { break };
        let bytes = match message {
            Ok(Message::Bytes(bytes)) => bytes,
            Ok(Message::Text(_)) => {
                leptos::logging::warn!("Ignoring a text frame: the server sends binary frames.");
                continue;
            }
            Err(_) => break,
        };
        match wire::decode(&bytes) {
            Ok(WireFrame::Status { feed }) => status.set(match feed {
                FeedState::Live => ConnectionStatus::Live,
                FeedState::Stalled => ConnectionStatus::Stalled,
            }),
            Ok(frame) => {
                if !healthy {
                    healthy = true;
                    status.set(ConnectionStatus::Live);
                }
                on_frame(frame);
            }
            Err(error) => leptos::logging::warn!("Ignoring an unreadable frame: {error}"),
        }
    }
    healthy
}

/// `ws://` or `wss://` to `/ws` on the page's own host, in `view` if the page has one.
fn ws_url(view: Option<ClientMessage>) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    let query = match view {
        Some(ClientMessage::View(bounds)) => format!("?view={bounds}"),
        Some(ClientMessage::Everything) | None => String::new(),
    };
    Some(format!("{scheme}://{}/ws{query}", location.host().ok()?))
}
