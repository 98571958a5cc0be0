//! The legend: what the shapes and colours on the map mean, the switch between colouring
//! by mode and by delay (with the delay thresholds spelled out), and the mode toggles: each
//! mode's entry shows or hides that mode.

use leptos::prelude::*;

use super::MapState;
use crate::glyph::Outline;
use crate::palette::{ColourBy, DelayClass, LEGEND_MODES, mode_colour};

/// Radius of the legend's shapes, in the SVG's units.
const R: f64 = 8.0;

#[component]
pub fn Legend(state: MapState) -> impl IntoView {
    let MapState { colour_by, filter, .. } = state;
    let choice = move |by: ColourBy, label: &'static str| {
        view! {
            <button
                type="button"
                role="radio"
                class="legend-choice"
                data-colour-by=by.as_str()
                aria-checked=move || (colour_by.get() == by).to_string()
                on:click=move |_| colour_by.set(by)
            >
                {label}
            </button>
        }
    };
    view! {
        <section class="legend" data-testid="legend" aria-label="Legend">
            <div class="legend-switch" role="radiogroup" aria-label="Colour vehicles by">
                {choice(ColourBy::Mode, "Mode")}
                {choice(ColourBy::Delay, "Delay")}
            </div>
            <ul class="legend-items">
                {LEGEND_MODES
                    .into_iter()
                    .map(|(mode, name)| {
                        let fill = move || match colour_by.get() {
                            ColourBy::Mode => mode_colour(mode),
                            ColourBy::Delay => "#5f6b73",
                        };
                        let shown = move || filter.with(|filter| filter.shows_mode(mode));
                        view! {
                            <li data-mode=mode.as_str()>
                                <button
                                    type="button"
                                    class="legend-mode"
                                    aria-pressed=move || shown().to_string()
                                    title=move || if shown() { format!("Hide {name}") } else { format!("Show {name}") }
                                    on:click=move |_| filter.update(|filter| *filter = filter.toggled(mode))
                                >
                                    <svg class="glyph" viewBox="-12 -12 24 24" aria-hidden="true">
                                        <path d=Outline::of(mode, R).svg_path() fill=fill stroke="#fff" stroke-width="1.5" />
                                    </svg>
                                    {name}
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <Show when=move || colour_by.get() == ColourBy::Delay>
                <ul class="legend-items" data-testid="delay-legend">
                    {DelayClass::ALL
                        .into_iter()
                        .map(|class| {
                            view! {
                                <li>
                                    <svg class="glyph" viewBox="-12 -12 24 24" aria-hidden="true">
                                        <circle r=R fill=class.colour() stroke="#fff" stroke-width="1.5" />
                                    </svg>
                                    {class.label()}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </Show>
        </section>
    }
}
