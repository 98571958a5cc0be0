//! The connection indicator: whether the live feed is flowing, and how many vehicles it shows.

use leptos::prelude::*;

/// State of the browser's `/ws` subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Opening the socket (first load).
    Connecting,
    /// The snapshot arrived; deltas are flowing.
    Live,
    /// The socket closed; the next attempt starts in `retry_in_s` seconds.
    Reconnecting { retry_in_s: u32 },
    /// Connected, but the server's data source is away: positions are the last known.
    Stalled,
}

impl ConnectionStatus {
    /// Stable name for CSS and tests (`data-state`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting { .. } => "reconnecting",
            Self::Stalled => "stalled",
        }
    }
}

/// Shows [`ConnectionStatus`] and the number of vehicles on the map.
#[component]
pub fn StatusBadge(
    status: RwSignal<ConnectionStatus>,
    vehicle_count: RwSignal<usize>,
) -> impl IntoView {
    let text = move || match status.get() {
        ConnectionStatus::Connecting => "Connecting…".to_owned(),
        ConnectionStatus::Live => match vehicle_count.get() {
            1 => "Live · 1 vehicle".to_owned(),
            n => format!("Live · {n} vehicles"),
        },
        ConnectionStatus::Reconnecting { retry_in_s } => {
            format!("Connection lost · retrying in {retry_in_s} s")
        }
        ConnectionStatus::Stalled => "Data source reconnecting · last known positions".to_owned(),
    };
    view! {
        <div
            class="status"
            data-testid="status"
            data-state=move || status.get().as_str()
            data-count=move || vehicle_count.get()
            role="status"
            aria-live="polite"
        >
            <span class="status-dot"></span>
            <span class="status-text">{text}</span>
        </div>
    }
}
