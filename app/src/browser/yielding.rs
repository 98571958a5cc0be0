//! Giving the main thread back between the steps of start-up, so that none of them adds
//! up to one long task: the browser may paint, and answer input, in between.
//!
//! Where the browser has `scheduler.yield()` (Chromium 129 on), the rest of the work
//! resumes ahead of the tasks queued meanwhile (tile images, socket messages), so a yield
//! costs little more than the paint it lets through. Elsewhere a zero timeout resumes it
//! behind them.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Ends the current task; resumes in a new one.
pub async fn yield_now() {
    match scheduler_yield() {
        // It never rejects; if it did, resuming is still right.
        Some(promise) => drop(JsFuture::from(promise).await),
        None => gloo_timers::future::TimeoutFuture::new(0).await,
    }
}

/// Runs `work` from a task of its own, after the current one.
pub fn after_yield(work: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(async move {
        yield_now().await;
        work.await;
    });
}

/// `scheduler.yield()`'s promise, if the browser has it.
fn scheduler_yield() -> Option<js_sys::Promise> {
    let get = |target: &wasm_bindgen::JsValue, name: &str| {
        js_sys::Reflect::get(target, &name.into()).ok().filter(|value| !value.is_undefined())
    };
    let scheduler = get(&js_sys::global(), "scheduler")?;
    let function: js_sys::Function = get(&scheduler, "yield")?.dyn_into().ok()?;
    function.call0(&scheduler).ok()?.dyn_into().ok()
}
