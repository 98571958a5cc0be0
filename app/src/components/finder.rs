//! The search box: a line (`550`, `M1`), a vehicle id (`0018/01029`) or part of a
//! destination, with suggestions from the lines running now. The filter applies as the
//! rider types, to the map and to the count in the status.

use leptos::prelude::*;

use super::MapState;

#[component]
pub fn Finder(state: MapState) -> impl IntoView {
    let MapState {
        filter, lines, matching, vehicle_count, follow_lost, selected, following, ..
    } = state;
    let on_input = move |event: leptos::ev::Event| {
        let text = event_target_value(&event);
        filter.update(|filter| *filter = filter.searching(&text));
    };
    view! {
        <div class="finder" role="search">
            <label class="visually-hidden" for="finder-input">
                "Find a line, vehicle or destination"
            </label>
            <input
                id="finder-input"
                data-testid="finder"
                type="search"
                list="lines-now"
                placeholder="Line, vehicle or destination"
                autocomplete="off"
                spellcheck="false"
                prop:value=move || filter.with(|filter| filter.query().to_owned())
                on:input=on_input
            />
            <datalist id="lines-now">
                <For each=move || lines.get() key=|line| line.clone() let:line>
                    <option value=line></option>
                </For>
            </datalist>
            <Show when=move || filter.with(|filter| filter.is_active())>
                <p class="finder-count" data-testid="finder-count" aria-live="polite">
                    {move || format!("{} of {} vehicles", matching.get(), vehicle_count.get())}
                </p>
                <button
                    type="button"
                    class="finder-clear"
                    on:click=move |_| filter.set(Default::default())
                >
                    "Show all"
                </button>
            </Show>
            <Show when=move || follow_lost.get() && selected.get().is_some()>
                <button
                    type="button"
                    class="refollow"
                    data-testid="refollow"
                    on:click=move |_| {
                        follow_lost.set(false);
                        following.set(true);
                    }
                >
                    "⌖ Follow again"
                </button>
            </Show>
        </div>
    }
}
