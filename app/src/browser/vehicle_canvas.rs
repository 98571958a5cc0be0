//! Draws the fleet on one `<canvas>` laid over the map, at most once per animation frame.
//!
//! Why our own canvas and not one Leaflet marker per vehicle: vehicles glide, so every
//! frame moves hundreds of them, and Leaflet redraws its whole canvas per changed marker
//! batch through its layer machinery. Here a frame is one pass over the fleet to lay it out
//! (plain arithmetic on positions projected as they arrive, [`Shown::projected_at`]; what
//! is off screen is skipped), and a second to paint, which the map skips when the layout
//! shows nothing new. Zoomed out, vehicles are dots batched into one path per colour and
//! opacity step (a few dozen `fill`s for thousands of vehicles); zoomed in, each is a mode
//! shape pointing where it heads, with its line number on it: a body drawn once and stamped
//! (`super::sprites`), and a wedge for its heading.

use std::f64::consts::TAU;

use rustc_hash::FxHashMap;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlElement};

use super::sprites::Sprites;
use crate::filter::Filter;
use crate::fleet::{self, Fleet, Placed, Shown};
use crate::glyph;
use crate::model::{Marker, NetworkLine, VehicleId};
use crate::palette::{ColourBy, DelayClass, mode_colour};

/// From this zoom vehicles are shapes with a heading; below, dots.
const SHAPES_FROM_ZOOM: f64 = 13.0;
/// From this zoom the line number is written on each vehicle.
const LABELS_FROM_ZOOM: f64 = 14.0;
/// Pixels beyond the edges still drawn, so shapes do not pop in at the border.
const MARGIN: f64 = 24.0;
/// Opacity steps for batched dots: fading is gradual enough with these.
const OPACITY_STEPS: usize = 4;

/// What the map shows right now: enough to place any position on the canvas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub zoom: f64,
    /// Projected pixel coordinates of the canvas's top-left corner at `zoom`.
    pub origin: (f64, f64),
    pub width: f64,
    pub height: f64,
}

impl View {
    /// Canvas coordinates of a position.
    pub fn place(&self, lat: f64, lon: f64) -> (f64, f64) {
        let (x, y) = fleet::project(lat, lon, self.zoom);
        (x - self.origin.0, y - self.origin.1)
    }

    /// Canvas coordinates of a point projected at zoom 0 ([`Shown::projected_at`]), given
    /// `scale`, 2^zoom.
    fn place_projected(&self, (x, y): (f64, f64), scale: f64) -> (f64, f64) {
        (x * scale - self.origin.0, y * scale - self.origin.1)
    }

    fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= -MARGIN && y >= -MARGIN && x <= self.width + MARGIN && y <= self.height + MARGIN
    }
}

pub struct VehicleCanvas {
    canvas: HtmlCanvasElement,
    context: CanvasRenderingContext2d,
    /// Canvas size in CSS pixels and the device pixel ratio it was sized for.
    size: (f64, f64, f64),
    /// Reused between frames: dots grouped by (colour, opacity step), looked up once per
    /// vehicle in view (Fx hashing: see `Fleet`).
    batches: FxHashMap<(&'static str, usize), Vec<(f64, f64)>>,
    /// Vehicle bodies, drawn once each and stamped.
    sprites: Sprites,
    /// The network sketch, drawn under the fleet when the tiles are missing.
    network: Vec<NetworkLine>,
}

/// How vehicles are drawn, as the page's controls set it.
#[derive(Clone, Debug, PartialEq)]
pub struct Look {
    pub selected: Option<VehicleId>,
    pub colour_by: ColourBy,
    pub filter: Filter,
    /// Whether to draw the network sketch (the map's tiles could not load).
    pub network: bool,
}

impl Look {
    fn colour(&self, marker: &Marker) -> &'static str {
        match self.colour_by {
            ColourBy::Mode => mode_colour(marker.mode),
            ColourBy::Delay => DelayClass::of(marker.delay_s).colour(),
        }
    }
}

impl VehicleCanvas {
    /// Adds the canvas to `container` (the map's element), above the tiles and below
    /// Leaflet's controls; it never takes pointer events, the map does.
    pub fn new(container: &HtmlElement) -> Result<Self, JsValue> {
        let (canvas, context) = canvas_2d()?;
        canvas.set_class_name("vehicle-canvas");
        canvas.set_attribute("aria-hidden", "true")?;
        container.append_child(&canvas)?;
        Ok(Self {
            canvas,
            context,
            size: (0.0, 0.0, 0.0),
            batches: FxHashMap::default(),
            sprites: Sprites::default(),
            network: Vec::new(),
        })
    }

    pub fn set_network(&mut self, network: Vec<NetworkLine>) {
        self.network = network;
    }

    /// Where every vehicle of `fleet` that `filter` lets through stands at `now_ms` (the
    /// animation clock): fills `placed` with those inside `view`; returns how many match,
    /// on screen or not. Plain arithmetic, no canvas calls: cheap enough to run on every
    /// animation frame, so the frame can tell whether painting would show anything new.
    pub fn layout(
        fleet: &Fleet,
        view: &View,
        now_ms: f64,
        filter: &Filter,
        placed: &mut Vec<Placed>,
    ) -> usize {
        placed.clear();
        let mut matching = 0;
        let scale = view.zoom.exp2();
        for shown in fleet.iter() {
            if !filter.matches(&shown.marker) {
                continue;
            }
            matching += 1;
            let at = view.place_projected(shown.projected_at(now_ms), scale);
            if view.contains(at) {
                placed.push(Placed { id: shown.marker.id, x: at.0, y: at.1 });
            }
        }
        matching
    }

    /// Paints the vehicles `placed` by [`Self::layout`], faded by age against `wall_ms`
    /// (the wall clock), with the network sketch and the selected vehicle's trail under them.
    pub fn paint(
        &mut self,
        fleet: &Fleet,
        view: &View,
        wall_ms: f64,
        look: &Look,
        placed: &[Placed],
    ) {
        self.resize(view.width, view.height);
        let ctx = &self.context;
        ctx.clear_rect(0.0, 0.0, view.width, view.height);
        if look.network {
            self.sketch_network(view);
        }
        let selected = look.selected.and_then(|id| {
            let p = placed.iter().find(|p| p.id == id)?;
            Some((fleet.get(&id)?, (p.x, p.y)))
        });
        if let Some((shown, at)) = selected {
            self.trail(shown, view, at, look);
        }
        let opacity = |timestamp_ms: i64| fleet::opacity(wall_ms - timestamp_ms as f64);

        if view.zoom < SHAPES_FROM_ZOOM {
            let radius = if view.zoom < 11.0 { 2.5 } else { 3.5 };
            for batch in self.batches.values_mut() {
                batch.clear();
            }
            for p in placed.iter() {
                let Some(shown) = fleet.get(&p.id) else { continue };
                let step = opacity_step(opacity(shown.marker.timestamp_ms));
                self.batches
                    .entry((look.colour(&shown.marker), step))
                    .or_default()
                    .push((p.x, p.y));
            }
            for (&(colour, step), points) in &self.batches {
                if points.is_empty() {
                    continue;
                }
                ctx.set_global_alpha(step_alpha(step));
                ctx.set_fill_style_str(colour);
                ctx.begin_path();
                for &(x, y) in points {
                    ctx.move_to(x + radius, y);
                    circle(ctx, (x, y), radius);
                }
                ctx.fill();
            }
        } else {
            let labels = view.zoom >= LABELS_FROM_ZOOM;
            let radius = if labels { 10.0 } else { 6.0 };
            self.sprites.scale_to((radius, self.size.2));
            // Bodies are stamped on whole device pixels; the wedge is drawn from the same
            // point, so that it stays where the body is.
            let ratio = self.size.2;
            let snap = |v: f64| (v * ratio).round() / ratio;
            for p in placed.iter() {
                let Some(shown) = fleet.get(&p.id) else { continue };
                let marker = &shown.marker;
                let colour = look.colour(marker);
                let at = (snap(p.x), snap(p.y));
                ctx.set_global_alpha(opacity(marker.timestamp_ms));
                if let Some(heading) = marker.heading {
                    ctx.set_fill_style_str(colour);
                    let reach = glyph::reach(marker.mode) * radius;
                    heading_nose(ctx, at, radius, reach, heading);
                }
                let label = if labels { marker.line.as_deref().unwrap_or("") } else { "" };
                self.sprites.body(ctx, marker.mode, colour, label, at);
            }
        }

        if let Some((_, at)) = selected {
            // A ring that reads on any background and in any mode colour.
            ctx.set_global_alpha(1.0);
            let radius = if view.zoom >= LABELS_FROM_ZOOM { 15.0 } else { 10.0 };
            ctx.begin_path();
            let _ = ctx.arc(at.0, at.1, radius, 0.0, TAU);
            ctx.set_line_width(3.0);
            ctx.set_stroke_style_str("#111111");
            ctx.stroke();
            ctx.begin_path();
            let _ = ctx.arc(at.0, at.1, radius + 2.5, 0.0, TAU);
            ctx.set_line_width(2.0);
            ctx.set_stroke_style_str("#ffffff");
            ctx.stroke();
        }
        ctx.set_global_alpha(1.0);
    }

    /// The network as faint lines in the modes' colours.
    fn sketch_network(&self, view: &View) {
        let ctx = &self.context;
        ctx.set_global_alpha(0.35);
        ctx.set_line_join("round");
        ctx.set_line_cap("round");
        ctx.set_line_width(if view.zoom >= SHAPES_FROM_ZOOM { 5.0 } else { 3.0 });
        for line in &self.network {
            let mut points = line.path.iter().map(|&(lat, lon)| view.place(lat, lon));
            let Some(first) = points.next() else { continue };
            ctx.begin_path();
            ctx.move_to(first.0, first.1);
            for (x, y) in points {
                ctx.line_to(x, y);
            }
            ctx.set_stroke_style_str(mode_colour(line.mode));
            ctx.stroke();
        }
        ctx.set_global_alpha(1.0);
    }

    /// The selected vehicle's recent trail, under the vehicles, ending where it is drawn.
    fn trail(&self, shown: &Shown, view: &View, at: (f64, f64), look: &Look) {
        let ctx = &self.context;
        ctx.begin_path();
        let mut points = shown.trail().map(|(lat, lon)| view.place(lat, lon));
        let Some(first) = points.next() else { return };
        ctx.move_to(first.0, first.1);
        for (x, y) in points {
            ctx.line_to(x, y);
        }
        ctx.line_to(at.0, at.1);
        ctx.set_global_alpha(0.55);
        ctx.set_line_join("round");
        ctx.set_line_cap("round");
        ctx.set_line_width(4.0);
        ctx.set_stroke_style_str(look.colour(&shown.marker));
        ctx.stroke();
        ctx.set_global_alpha(1.0);
    }

    /// Sizes the backing store for the device's pixel ratio, so shapes and text are sharp.
    fn resize(&mut self, width: f64, height: f64) {
        let ratio = device_pixel_ratio();
        if self.size == (width, height, ratio) {
            return;
        }
        self.size = (width, height, ratio);
        self.canvas.set_width((width * ratio).round() as u32);
        self.canvas.set_height((height * ratio).round() as u32);
        let style = self.canvas.style();
        let _ = style.set_property("width", &format!("{width}px"));
        let _ = style.set_property("height", &format!("{height}px"));
        let _ = self.context.set_transform(ratio, 0.0, 0.0, ratio, 0.0, 0.0);
    }
}

/// Device pixels per CSS pixel, at least 1: the canvas is never drawn coarser than CSS.
pub fn device_pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0)
}

/// A new canvas, not in the document yet, and its 2D context.
pub(super) fn canvas_2d() -> Result<(HtmlCanvasElement, CanvasRenderingContext2d), JsValue> {
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
    let context = canvas.get_context("2d")?.ok_or("no 2d context")?.dyn_into()?;
    Ok((canvas, context))
}

// `arc` as a plain call. web-sys declares it as one that may throw (it does for a negative
// radius), so its JavaScript glue wraps every call in a helper that catches exceptions,
// allocating a closure and an `arguments` object, and the paint zoomed out calls it once
// per dot: in a fresh page's CPU profiles `arc` took 7.5 % of the first paint's task through
// the helper, 4.6 % without. The dots' radii are positive constants: it cannot throw.
#[wasm_bindgen]
extern "C" {
    /// The 2D context, seen through the one method bound here.
    #[wasm_bindgen(js_name = CanvasRenderingContext2D)]
    type PlainArc;

    #[wasm_bindgen(method)]
    fn arc(this: &PlainArc, x: f64, y: f64, radius: f64, start_angle: f64, end_angle: f64);
}

/// Adds a whole circle of a positive `radius` to the current path.
fn circle(ctx: &CanvasRenderingContext2d, (x, y): (f64, f64), radius: f64) {
    debug_assert!(radius > 0.0, "arc throws for a negative radius");
    ctx.unchecked_ref::<PlainArc>().arc(x, y, radius, 0.0, TAU);
}

/// The step of an opacity between [`fleet::FADED_ALPHA`] (last step) and 1 (step 0).
fn opacity_step(alpha: f64) -> usize {
    let last = (OPACITY_STEPS - 1) as f64;
    let faded = (1.0 - alpha) / (1.0 - fleet::FADED_ALPHA);
    (faded * last).round().clamp(0.0, last) as usize
}

fn step_alpha(step: usize) -> f64 {
    1.0 - (1.0 - fleet::FADED_ALPHA) * step as f64 / (OPACITY_STEPS - 1) as f64
}

/// A small wedge pointing where the vehicle heads (degrees clockwise from north; the
/// canvas's y grows downwards), from inside the shape to past its edge at `reach`.
fn heading_nose(
    ctx: &CanvasRenderingContext2d,
    (x, y): (f64, f64),
    r: f64,
    reach: f64,
    heading: u16,
) {
    let angle = f64::from(heading).to_radians();
    let (dx, dy) = (angle.sin(), -angle.cos());
    let tip = (x + dx * (reach + r * 0.6), y + dy * (reach + r * 0.6));
    let (base, side) = (r * 0.6, r * 0.6);
    ctx.begin_path();
    ctx.move_to(tip.0, tip.1);
    ctx.line_to(x + dx * base - dy * side, y + dy * base + dx * side);
    ctx.line_to(x + dx * base + dy * side, y + dy * base - dx * side);
    ctx.close_path();
    ctx.fill();
}
