//! Says so when the map does not show live HSL data (simulated, replayed, or the live feed
//! unreachable). The server writes the text into the page head; it is shown once the page
//! runs in the browser.

use leptos::prelude::*;

#[component]
pub fn DataNotice() -> impl IntoView {
    let notice = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| notice.set(crate::browser::meta_content(crate::META_NOTICE)));
    view! {
        <Show when=move || notice.get().is_some()>
            <span class="notice" data-testid="notice" role="note">
                {move || notice.get()}
            </span>
        </Show>
    }
}
