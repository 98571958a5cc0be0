//! The browser's `/ws` subscription: open, read frames, and reconnect with capped backoff
//! when the socket closes, so a server restart shows as a status change, not a dead map.

use std::time::Duration;

use futures::StreamExt;
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::ConnectionStatus;
use crate::model::FeedState;
use crate::wire::{self, WireFrame};

/// First retry delay; doubled after each failed attempt up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Long enough not to hammer a server that is down, short enough that a map left open
/// recovers soon after it returns.
const MAX_BACKOFF: Duration = Duration::from_secs(16);

/// Subscribes for the life of the page, calling `on_frame` for each frame received.
pub fn subscribe(status: RwSignal<ConnectionStatus>, on_frame: impl Fn(WireFrame) + 'static) {
    spawn_local(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            status.set(ConnectionStatus::Connecting);
            if read_until_closed(status, &on_frame).await {
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
}

/// Reads one connection to its end. Returns whether it delivered at least a snapshot.
async fn read_until_closed(
    status: RwSignal<ConnectionStatus>,
    on_frame: &impl Fn(WireFrame),
) -> bool {
    let Some(url) = ws_url() else { return false };
    let Ok(socket) = WebSocket::open(&url) else { return false };
    let (_sink, mut stream) = socket.split();
    let mut healthy = false;
    while let Some(message) = stream.next().await {
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

/// `ws://` or `wss://` to `/ws` on the page's own host.
fn ws_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    Some(format!("{scheme}://{}/ws", location.host().ok()?))
}
