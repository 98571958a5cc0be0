//! The panel for the clicked vehicle: its latest position as the server's backend reports
//! it, fetched through the `vehicle_position` server function, with a live "age".

use leptos::prelude::*;

use super::MapState;
use crate::api::vehicle_position;
use crate::format;
use crate::model::VehicleLookup;

/// How often an open panel asks for the vehicle's position again. Vehicles report every
/// second; every few seconds keeps the panel current without a request per second per user.
#[cfg(feature = "hydrate")]
const REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Shows the selected vehicle, if any. The lookup runs in the browser only: there is no
/// selection during server rendering.
#[component]
pub fn VehiclePanel(state: MapState) -> impl IntoView {
    let MapState { selected, following, follow_lost, filter, nearby, .. } = state;
    let lookup = LocalResource::new(move || {
        let id = selected.get();
        async move {
            match id {
                Some(id) => Some(vehicle_position(id.to_string()).await),
                None => None,
            }
        }
    });
    // Milliseconds since the epoch, ticking once a second in the browser so ages stay true.
    let now_ms = RwSignal::new(0_i64);
    #[cfg(feature = "hydrate")]
    crate::browser::tick_clock(now_ms);
    // The panel follows the vehicle: its position is asked for again while it stays open.
    #[cfg(feature = "hydrate")]
    crate::browser::every(REFRESH, move || {
        if selected.get_untracked().is_some() {
            lookup.refetch();
        }
    });

    view! {
        <Show when=move || selected.get().is_some()>
            <aside class="panel" data-testid="vehicle-panel" aria-label="Selected vehicle">
                <header class="panel-header">
                    <h2>{move || selected.get().map(|id| format!("Vehicle {id}"))}</h2>
                    <button
                        type="button"
                        class="panel-follow"
                        data-testid="follow"
                        aria-pressed=move || following.get().to_string()
                        on:click=move |_| {
                            follow_lost.set(false);
                            following.update(|on| *on = !*on);
                        }
                    >
                        {move || if following.get() { "Following" } else { "Follow" }}
                    </button>
                    <button type="button" class="panel-button" aria-label="Refresh" title="Refresh" on:click=move |_| lookup.refetch()>
                        "↻"
                    </button>
                    <button type="button" class="panel-button" aria-label="Close" title="Close (Esc)" on:click=move |_| state.select(None)>
                        "×"
                    </button>
                </header>
                <Show when=move || !others(nearby, selected).is_empty()>
                    <nav class="panel-nearby" data-testid="nearby" aria-label="Other vehicles here">
                        <span class="panel-note">"Also here:"</span>
                        <For each=move || others(nearby, selected) key=|other| other.id let:other>
                            <button
                                type="button"
                                class="panel-action"
                                data-vehicle=other.id.to_string()
                                on:click=move |_| state.select(Some(other.id))
                            >
                                {nearby_label(&other)}
                            </button>
                        </For>
                    </nav>
                </Show>
                <Transition fallback=|| view! { <p class="panel-note">"Loading…"</p> }>
                    {move || {
                        lookup
                            .get()
                            .flatten()
                            .map(|answer| match answer {
                                Ok(found) => details(found, now_ms, filter).into_any(),
                                Err(error) => {
                                    view! { <p class="panel-error" data-testid="panel-error">{error.to_string()}</p> }
                                        .into_any()
                                }
                            })
                    }}
                </Transition>
            </aside>
        </Show>
    }
}

fn details(
    found: VehicleLookup,
    now_ms: RwSignal<i64>,
    filter: RwSignal<crate::filter::Filter>,
) -> impl IntoView {
    let p = found.position;
    let timestamp_ms = p.timestamp_ms;
    let line = match (&p.line, &p.route) {
        (Some(line), _) => line.clone(),
        (None, Some(route)) => route.clone(),
        (None, None) => "—".to_owned(),
    };
    let rows: Vec<(&'static str, &'static str, String)> = vec![
        ("id", "Vehicle", p.id.to_string()),
        ("line", "Line", line),
        ("headsign", "Headsign", p.headsign.clone().unwrap_or_else(|| "—".to_owned())),
        ("mode", "Mode", p.mode.as_str().to_owned()),
        ("operator", "Operator", format::operator(p.operator)),
        ("speed", "Speed", format::speed(p.speed_mps)),
        ("heading", "Heading", format::heading(p.heading)),
        ("delay", "Delay", format::delay(p.delay_s)),
        (
            "timestamp",
            "Position time",
            format!("{} Helsinki", format::helsinki_clock(timestamp_ms)),
        ),
        ("next-stop", "Next stop", p.next_stop.clone().unwrap_or_else(|| "—".to_owned())),
        ("source", "Answered by", found.source.label().to_owned()),
    ];
    view! {
        <dl class="panel-fields" data-vehicle=p.id.to_string() data-timestamp-ms=timestamp_ms>
            {rows
                .into_iter()
                .map(|(key, label, value)| {
                    view! {
                        <dt>{label}</dt>
                        <dd data-field=key>{value}</dd>
                    }
                })
                .collect_view()}
            <dt>"Age"</dt>
            <dd data-field="age">{move || format::age(timestamp_ms, now_ms.get())}</dd>
        </dl>
        {p.line.clone().map(|line| {
            let label = format!("Show only line {line}");
            view! {
                <button
                    type="button"
                    class="panel-action"
                    data-testid="only-line"
                    on:click=move |_| filter.update(|filter| *filter = filter.searching(&line))
                >
                    {label}
                </button>
            }
        })}
    }
}

/// The vehicles of the last click's group other than the selected one, nearest first.
fn others(
    nearby: RwSignal<Vec<super::Nearby>>,
    selected: RwSignal<Option<crate::model::VehicleId>>,
) -> Vec<super::Nearby> {
    let selected = selected.get();
    nearby.with(|group| group.iter().filter(|v| Some(v.id) != selected).cloned().collect())
}

/// "Tram 9 → Jätkäsaari", or the vehicle id when it runs no line.
fn nearby_label(other: &super::Nearby) -> String {
    let mode = other.mode.as_str();
    match (&other.line, &other.headsign) {
        (Some(line), Some(headsign)) => format!("{mode} {line} → {headsign}"),
        (Some(line), None) => format!("{mode} {line}"),
        _ => format!("{mode} {}", other.id),
    }
}
