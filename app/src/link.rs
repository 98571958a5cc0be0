//! The page's view as a URL query, so a shared link opens the same view and back and
//! forward step through selections: `?v=0018/01029&q=550&off=bus,tram&by=delay&at=60.1699,24.9384,14&follow=1`.
//!
//! Parsing is forgiving: a part that does not parse is dropped, never an error, because a
//! link typed by hand or cut short must still open the map.

use crate::filter::Filter;
use crate::model::{TransportMode, VehicleId};
use crate::palette::ColourBy;

/// Helsinki's area, generously: a centre outside it is not a transit map view.
const LAT_RANGE: std::ops::RangeInclusive<f64> = 59.0..=61.5;
const LON_RANGE: std::ops::RangeInclusive<f64> = 22.0..=27.5;
const ZOOM_RANGE: std::ops::RangeInclusive<f64> = 3.0..=19.0;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link {
    pub selected: Option<VehicleId>,
    pub filter: Filter,
    pub colour_by: ColourBy,
    /// Latitude, longitude and zoom of the map's centre.
    pub at: Option<(f64, f64, f64)>,
    pub follow: bool,
}

impl Link {
    /// Reads a query string (with or without the leading `?`).
    pub fn parse(query: &str) -> Self {
        let mut link = Self::default();
        let mut search = String::new();
        let mut hidden = Vec::new();
        for pair in query.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match key {
                "v" => link.selected = value.parse().ok(),
                "q" => search = value,
                "off" => hidden.extend(
                    value
                        .split(',')
                        .map(TransportMode::from_topic)
                        .filter(|m| *m != TransportMode::Other),
                ),
                "by" => link.colour_by = ColourBy::parse(&value).unwrap_or_default(),
                "at" => link.at = parse_at(&value),
                "follow" => link.follow = value == "1",
                _ => {}
            }
        }
        link.filter = Filter::new(&search, hidden);
        link.follow &= link.selected.is_some();
        link
    }

    /// The query string, `?` included, or empty for the default view.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = self.selected {
            parts.push(format!("v={id}"));
        }
        if !self.filter.query().is_empty() {
            parts.push(format!("q={}", encode(self.filter.query())));
        }
        let hidden: Vec<&str> =
            self.filter.hidden_modes().iter().map(TransportMode::as_str).collect();
        if !hidden.is_empty() {
            parts.push(format!("off={}", hidden.join(",")));
        }
        if self.colour_by != ColourBy::default() {
            parts.push(format!("by={}", self.colour_by.as_str()));
        }
        if let Some((lat, lon, zoom)) = self.at {
            parts.push(format!("at={lat:.5},{lon:.5},{}", (zoom * 100.0).round() / 100.0));
        }
        if self.follow && self.selected.is_some() {
            parts.push("follow=1".to_owned());
        }
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }
}

fn parse_at(value: &str) -> Option<(f64, f64, f64)> {
    let mut numbers = value.split(',').map(|part| part.parse::<f64>().ok());
    let (lat, lon, zoom) = (numbers.next()??, numbers.next()??, numbers.next()??);
    (numbers.next().is_none()
        && LAT_RANGE.contains(&lat)
        && LON_RANGE.contains(&lon)
        && ZOOM_RANGE.contains(&zoom))
    .then_some((lat, lon, zoom))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), as UTF-8.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Undoes [`encode`] (and `+` for a space, as forms send it); invalid escapes stay as text.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?))
            .flatten();
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|value| value as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_view_round_trips_through_its_link() {
        let link = Link {
            selected: Some("0018/01029".parse().expect("id")),
            filter: Filter::new("Itäkeskus (M)", [TransportMode::Tram, TransportMode::Ferry]),
            colour_by: ColourBy::Delay,
            at: Some((60.1699, 24.9384, 14.5)),
            follow: true,
        };
        let query = link.to_query();
        assert_eq!(
            query,
            "?v=0018/01029&q=It%C3%A4keskus%20%28M%29&off=tram,ferry&by=delay&at=60.16990,24.93840,14.5&follow=1"
        );
        assert_eq!(Link::parse(&query), link);
    }

    #[test]
    fn the_default_view_has_an_empty_link() {
        assert_eq!(Link::default().to_query(), "");
        assert_eq!(Link::parse(""), Link::default());
    }

    #[test]
    fn broken_parts_are_dropped_and_the_rest_kept() {
        let link = Link::parse("?v=0018/x&q=550&at=91,24,12&by=rainbow&follow=1&junk&%zz=1");
        assert_eq!(link.selected, None);
        assert_eq!(link.filter, Filter::new("550", []));
        assert_eq!(link.at, None, "a latitude outside Helsinki's area");
        assert_eq!(link.colour_by, ColourBy::Mode);
        assert!(!link.follow, "nothing to follow without a vehicle");
        assert_eq!(Link::parse("?at=60.2,24.9,12,5").at, None);
        assert_eq!(Link::parse("?at=60.2,24.9").at, None);
    }

    #[test]
    fn escapes_that_are_not_escapes_stay_text() {
        assert_eq!(decode("50%"), "50%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%zz+1"), "%zz 1");
        assert_eq!(decode("%C3%A4"), "ä");
        assert_eq!(decode("%ä"), "%ä", "no escape, and no panic inside a character");
    }
}
