//! The connection indicator: whether the live feed is flowing, and how many vehicles it shows.

use leptos::prelude::*;

use super::MapState;
use crate::model::Feed;

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

/// Shows [`ConnectionStatus`], the number of vehicles on the map, how many position
/// updates reach it per second, and where they come from.
#[component]
pub fn StatusBadge(state: MapState) -> impl IntoView {
    let MapState { status, vehicle_count, partial, updates_per_s, .. } = state;
    let source = RwSignal::new(None::<Feed>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let feed = crate::browser::meta_content(crate::META_SOURCE);
        source.set(feed.as_deref().and_then(Feed::parse));
    });
    let text = move || match status.get() {
        ConnectionStatus::Connecting => "Connecting…".to_owned(),
        ConnectionStatus::Live => {
            let headline = source.get().map_or("Live", |feed| feed.headline());
            let area = if partial.get() { " in this area" } else { "" };
            match vehicle_count.get() {
                1 => format!("{headline} · 1 vehicle{area}"),
                n => format!("{headline} · {n} vehicles{area}"),
            }
        }
        ConnectionStatus::Reconnecting { retry_in_s } => {
            format!("Connection lost · retrying in {retry_in_s} s")
        }
        ConnectionStatus::Stalled => "Data source reconnecting · last known positions".to_owned(),
    };
    let live = move || status.get() == ConnectionStatus::Live;
    view! {
        <div
            class="status"
            data-testid="status"
            data-state=move || status.get().as_str()
            data-count=move || vehicle_count.get()
            data-rate=move || updates_per_s.get()
        >
            <span class="status-dot"></span>
            // Only this part is a live region: the rate changes every second, and a screen
            // reader announcing it would drown everything else.
            <span class="status-text" role="status">{text}</span>
            <Show when=live>
                <span class="status-detail" data-testid="rate">
                    {move || format!("{} updates/s", updates_per_s.get())}
                </span>
            </Show>
            <Show when=move || source.get().is_some()>
                <span class="status-detail" data-testid="source" title="Where positions come from">
                    {move || source.get().map(|feed| feed.label())}
                </span>
            </Show>
        </div>
    }
}
