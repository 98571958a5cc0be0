//! When the map's next animation frame runs: at the next display frame when something
//! changed (a frame from the server, the map moved, a control), at a set time when only
//! glides go on (when the fastest vehicle will have moved a visible step), and not before.
//!
//! Why not a `requestAnimationFrame` loop: most frames of a live map show nothing new (a
//! bus crosses a pixel every half second at zoom 14, every two at zoom 12), yet each one
//! costs a task: the browser's frame, the call into wasm, the map's view read back from
//! Leaflet, the fleet laid out to see whether anything moved. Sixty a second, they were
//! about half the page's main-thread time in the city view, with nothing painted in most.
//!
//! One timer and at most one requested frame at a time: asking again before either fires
//! changes nothing, or moves the timer earlier.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

/// What a frame's work says about the next one: at the next display frame, or at a time
/// on the animation clock (`performance.now()`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    Frame,
    At(f64),
}

/// A handle on the clock: cheap to clone, held by whatever may ask for a frame.
#[derive(Clone)]
pub struct FrameClock(Rc<Inner>);

type Work = Box<dyn FnMut(f64) -> Next>;

struct Inner {
    /// The frame's work, set once by [`FrameClock::drive`].
    work: RefCell<Option<Work>>,
    on_frame: Closure<dyn FnMut(f64)>,
    on_timer: Closure<dyn FnMut()>,
    frame_requested: Cell<bool>,
    /// The pending timer's handle and when (animation clock) it is due.
    timer: Cell<Option<(i32, f64)>>,
}

impl FrameClock {
    /// A clock that runs nothing until [`FrameClock::drive`] gives it its work.
    pub fn new() -> Self {
        // Weak: the closures live inside what they point to.
        Self(Rc::new_cyclic(|clock: &Weak<Inner>| {
            let frame_clock = clock.clone();
            let timer_clock = clock.clone();
            Inner {
                work: RefCell::new(None),
                on_frame: Closure::new(move |now: f64| {
                    let Some(inner) = frame_clock.upgrade() else { return };
                    inner.frame_requested.set(false);
                    let next = inner.work.borrow_mut().as_mut().map(|work| work(now));
                    match next {
                        Some(Next::Frame) => FrameClock(inner).soon(),
                        Some(Next::At(due)) => FrameClock(inner).at(due),
                        None => {}
                    }
                }),
                on_timer: Closure::new(move || {
                    let Some(inner) = timer_clock.upgrade() else { return };
                    inner.timer.set(None);
                    FrameClock(inner).soon();
                }),
                frame_requested: Cell::new(false),
                timer: Cell::new(None),
            }
        }))
    }

    /// Gives the clock its work, which runs in animation frames from now on, for the life
    /// of the page, and asks for the first frame.
    pub fn drive(&self, work: impl FnMut(f64) -> Next + 'static) {
        *self.0.work.borrow_mut() = Some(Box::new(work));
        self.soon();
    }

    /// Asks for the next display frame.
    pub fn soon(&self) {
        if self.0.frame_requested.get() {
            return;
        }
        let Some(window) = web_sys::window() else { return };
        // Marked only once asked for: a refused request must not stop every later one.
        let asked = window.request_animation_frame(self.0.on_frame.as_ref().unchecked_ref());
        self.0.frame_requested.set(asked.is_ok());
    }

    /// Asks for a frame at `due` (animation clock), unless one comes by then anyway.
    pub fn at(&self, due: f64) {
        if self.0.frame_requested.get() {
            return;
        }
        let Some(window) = web_sys::window() else { return };
        let now = now();
        if due <= now {
            return self.soon();
        }
        if let Some((handle, pending)) = self.0.timer.get() {
            if pending <= due {
                return;
            }
            window.clear_timeout_with_handle(handle);
            self.0.timer.set(None);
        }
        // The timer wakes the clock, which then waits for the display's next frame.
        let delay = (due - now).ceil() as i32;
        if let Ok(handle) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            self.0.on_timer.as_ref().unchecked_ref(),
            delay,
        ) {
            self.0.timer.set(Some((handle, due)));
        }
    }
}

/// Milliseconds on the clock `requestAnimationFrame` passes to its callbacks.
pub fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}
