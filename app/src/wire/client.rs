//! What a browser sends on `/ws`: the part of the map it shows (`crate::viewport`).
//!
//! ```text
//! message    = version:u8 (=2) kind:u8 body
//! view       = kind 16: south:i32 west:i32 north:i32 east:i32 (1e-7 degrees)
//! everything = kind 17
//! ```
//! Kinds 16 and up, so a message can never be mistaken for a server frame.

use super::{COORDINATE_SCALE, Reader, VERSION, WireError};
use crate::viewport::Bounds;

const VIEW: u8 = 16;
const EVERYTHING: u8 = 17;

/// A message from a browser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClientMessage {
    /// Send only the vehicles in and around these bounds.
    View(Bounds),
    /// Send the whole fleet (zoomed out, or searching).
    Everything,
}

/// Encodes a message, as the browser sends it.
pub fn encode(message: &ClientMessage) -> Vec<u8> {
    match message {
        ClientMessage::Everything => vec![VERSION, EVERYTHING],
        ClientMessage::View(bounds) => {
            let mut out = Vec::with_capacity(18);
            out.extend([VERSION, VIEW]);
            for degrees in [bounds.south(), bounds.west(), bounds.north(), bounds.east()] {
                out.extend(((degrees * COORDINATE_SCALE).round() as i32).to_le_bytes());
            }
            out
        }
    }
}

/// Reads a message from a browser. Never panics.
pub fn decode(bytes: &[u8]) -> Result<ClientMessage, WireError> {
    let mut r = Reader { bytes };
    r.version()?;
    let message = match r.u8()? {
        EVERYTHING => ClientMessage::Everything,
        VIEW => {
            let mut degrees = [0.0; 4];
            for value in &mut degrees {
                *value = f64::from(r.i32()?) / COORDINATE_SCALE;
            }
            let [south, west, north, east] = degrees;
            let bounds = Bounds::new(south, west, north, east).ok_or(WireError::Coordinates)?;
            ClientMessage::View(bounds)
        }
        kind => return Err(WireError::Kind(kind)),
    };
    if r.bytes.is_empty() { Ok(message) } else { Err(WireError::Trailing) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ClientMessage {
        ClientMessage::View(Bounds::new(60.16, 24.9, 60.182, 24.982).expect("a valid view"))
    }

    #[test]
    fn a_view_and_everything_read_back_as_sent() {
        for message in [view(), ClientMessage::Everything] {
            assert_eq!(decode(&encode(&message)), Ok(message));
        }
        assert_eq!(encode(&view()).len(), 18);
    }

    #[test]
    fn every_cut_of_a_view_is_a_typed_error() {
        let bytes = encode(&view());
        for end in 0..bytes.len() {
            assert_eq!(decode(&bytes[..end]), Err(WireError::Truncated), "cut at {end}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(WireError::Trailing));
    }

    #[test]
    fn foreign_versions_kinds_and_impossible_bounds_are_refused() {
        let mut bytes = encode(&view());
        bytes[0] = 1;
        assert_eq!(decode(&bytes), Err(WireError::Version(1)));
        assert_eq!(decode(&[VERSION, 1]), Err(WireError::Kind(1)), "a server frame's kind");
        let mut upside_down = encode(&view());
        // North (bytes 10..14) below south.
        upside_down[10..14].copy_from_slice(&0i32.to_le_bytes());
        assert_eq!(decode(&upside_down), Err(WireError::Coordinates));
        let mut off_globe = encode(&view());
        off_globe[2..6].copy_from_slice(&i32::MAX.to_le_bytes());
        assert_eq!(decode(&off_globe), Err(WireError::Coordinates));
    }
}
