//! The browser entry point: compiled to wasm, it hydrates the server-rendered page.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script that `leptos::HydrationScripts` puts into the page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // In a task of its own: this is called in the task that instantiated the wasm, and
    // the two together were one long task.
    app::after_yield(async { leptos::mount::hydrate_body(app::App) });
}
