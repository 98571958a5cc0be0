//! Vehicle bodies (the mode's outline in its colour, a white edge and the line number),
//! each drawn once on a small canvas of its own and stamped onto the fleet's canvas with
//! `drawImage`.
//!
//! Why: zoomed in, every paint during a glide redraws every vehicle in view, and
//! rasterising hundreds of antialiased outlines and line numbers on each paint was
//! most of the page's main-thread time (in Chromium's `Commit`, where a software canvas is
//! rasterised). A stamp on whole device pixels is a copy of a few hundred pixels; anywhere
//! between, the canvas filters every pixel, which cost about as much as the paths did.
//! Leaflet rounds its markers' positions the same way. The heading wedge, which turns with
//! the vehicle, is still drawn as a path: stamped from an atlas of 72 headings it cost no
//! less.

use std::f64::consts::TAU;

use rustc_hash::FxHashMap;
use wasm_bindgen::JsValue;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::vehicle_canvas::canvas_2d;
use crate::glyph::{self, Outline};
use crate::model::TransportMode;

/// Bodies kept before the cache starts over: 2-7 KB each at a device pixel ratio of 1,
/// four times that at 2. Labels are drawn only in street views, which show a few hundred
/// vehicles; the limit keeps a page panned around for days from growing.
const MAX_BODIES: usize = 1_024;

/// A body, alone on its canvas, centred on a pixel corner `half` device pixels from its
/// top and left edges.
struct Body {
    canvas: HtmlCanvasElement,
    half: f64,
}

/// What has been drawn so far, for one radius and device pixel ratio.
#[derive(Default)]
pub struct Sprites {
    /// The radius (CSS pixels) and device pixel ratio everything cached was drawn at.
    scale: (f64, f64),
    /// By mode and colour, then by label ("" for none): the label is looked up as a `&str`
    /// without allocating, on every paint for every vehicle in view.
    bodies: FxHashMap<(TransportMode, &'static str), FxHashMap<String, Body>>,
    len: usize,
}

impl Sprites {
    /// Starts over when the radius or the device pixel ratio changed.
    pub fn scale_to(&mut self, scale: (f64, f64)) {
        if self.scale != scale {
            *self = Self { scale, ..Self::default() };
        }
    }

    /// Stamps the body of a `mode` vehicle in `colour`, labelled `label` ("" for none),
    /// at `at` (CSS pixels), at the context's global alpha.
    pub fn body(
        &mut self,
        ctx: &CanvasRenderingContext2d,
        mode: TransportMode,
        colour: &'static str,
        label: &str,
        at: (f64, f64),
    ) {
        if self.len >= MAX_BODIES {
            self.bodies.clear();
            self.len = 0;
        }
        let (radius, ratio) = self.scale;
        let by_label = self.bodies.entry((mode, colour)).or_default();
        let body = match by_label.get(label) {
            Some(body) => body,
            None => match draw_body(mode, colour, label, radius, ratio) {
                Ok(body) => {
                    self.len += 1;
                    by_label.entry(label.to_owned()).or_insert(body)
                }
                // No canvas to draw on (the document is going away): nothing to stamp.
                Err(_) => return,
            },
        };
        // The corner on whole device pixels, one to one (the context draws in CSS pixels).
        let corner = |centre: f64| ((centre * ratio).round() - body.half) / ratio;
        let size = 2.0 * body.half / ratio;
        let _ = ctx.draw_image_with_html_canvas_element_and_dw_and_dh(
            &body.canvas,
            corner(at.0),
            corner(at.1),
            size,
            size,
        );
    }
}

/// Draws one body on a canvas of its own.
fn draw_body(
    mode: TransportMode,
    colour: &str,
    label: &str,
    radius: f64,
    ratio: f64,
) -> Result<Body, JsValue> {
    // The outline stays within 1.2 × its reach (glyph's tests), plus the white edge.
    let half = ((glyph::reach(mode) * radius * 1.2 + 2.0) * ratio).ceil();
    let (canvas, ctx) = canvas_2d()?;
    canvas.set_width(2 * half as u32);
    canvas.set_height(2 * half as u32);
    ctx.set_transform(ratio, 0.0, 0.0, ratio, half, half)?;
    ctx.set_fill_style_str(colour);
    ctx.begin_path();
    match Outline::of(mode, radius) {
        Outline::Circle(r) => ctx.arc(0.0, 0.0, r, 0.0, TAU)?,
        Outline::Polygon(points) => {
            for (i, &(x, y)) in points.iter().enumerate() {
                if i == 0 { ctx.move_to(x, y) } else { ctx.line_to(x, y) }
            }
        }
    }
    ctx.close_path();
    ctx.fill();
    ctx.set_line_width(1.5);
    ctx.set_stroke_style_str("#ffffff");
    ctx.stroke();
    if !label.is_empty() {
        ctx.set_fill_style_str("#ffffff");
        ctx.set_text_align("center");
        ctx.set_text_baseline("middle");
        ctx.set_font(if label.len() > 3 {
            "bold 8px system-ui, sans-serif"
        } else {
            "bold 10px system-ui, sans-serif"
        });
        ctx.fill_text(label, 0.0, 0.5)?;
    }
    Ok(Body { canvas, half })
}
