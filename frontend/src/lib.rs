//! The browser entry point: compiled to wasm, it hydrates the server-rendered page.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script that `leptos::HydrationScripts` puts into the page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
