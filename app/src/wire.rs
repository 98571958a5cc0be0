//! The `/ws` wire format: the hub's frames as compact binary messages, encoded by the server
//! and decoded by the browser from this one definition.
//!
//! Why binary, and why deltas carry only what changed: at HSL's peak a delta holds hundreds
//! of moved vehicles four times a second, for every connected browser. As JSON objects
//! (`ServerFrame`, still served on `/api/stream`) each vehicle costs ~150 bytes, mostly
//! text that has not changed (mode, line, destination), and parsing that text is most of a
//! browser's work per frame. Here a moved vehicle costs ~18 bytes, and its *about* part
//! (mode, line, destination) is sent only with a snapshot, when the vehicle is new, or
//! when that part changed since the previous delta.
//!
//! That last rule is safe because every client reaches a delta through the same chain:
//! a snapshot whose sequence number is below the delta, then every delta in order (a client
//! that misses one gets a new snapshot). The table marks a vehicle "described" whenever its
//! about part is set or changes between two drains, so a client holding any state from
//! within that interval ends the delta with the right text.
//!
//! # Layout (little-endian; `varint` is unsigned LEB128, `zigzag` a signed varint)
//! ```text
//! frame    = version:u8 (=2) kind:u8 body
//! snapshot = kind 0: seq:varint base_ms:zigzag count:varint record*count
//! delta    = kind 1: seq:varint received_ms:varint base_ms:zigzag count:varint record*count
//!                    removed:varint id*removed
//! status   = kind 2: feed:u8 (0 live, 1 stalled)
//! record   = id flags:u8 lat:i32 lon:i32 (1e-7 degrees) ts:zigzag (ms after base_ms)
//!            [heading:varint] [delay_s:zigzag] [mode:u8 [line:text] [headsign:text]]
//! id       = varint: operator * 100000 + vehicle number
//! text     = len:varint utf-8 bytes
//! ```
//! What a browser sends back (the part of the map it shows) is in [`client`].
//!
//! `received_ms` is when the server received the oldest message in the delta (Unix
//! milliseconds by the server's clock, 0 when the delta only removes vehicles): a client
//! on the same clock, such as the load generator (`server/benches/fanout.rs`), measures
//! how late a position reaches it without guessing.
//! Which optional fields follow is said by `flags` ([`HEADING`], [`DELAY`], [`ABOUT`],
//! [`LINE`], [`HEADSIGN`]). Coordinates are kept to 1e-7 degrees (about a centimetre); the
//! click panel's lookup carries them unrounded.

pub mod client;

use crate::model::{FeedState, Marker, TransportMode, VehicleId};

/// The format's version, the first byte of every frame. A browser running an older build
/// rejects frames of another version instead of misreading them.
pub const VERSION: u8 = 2;

const SNAPSHOT: u8 = 0;
const DELTA: u8 = 1;
const STATUS: u8 = 2;

const HEADING: u8 = 1;
const DELAY: u8 = 1 << 1;
const ABOUT: u8 = 1 << 2;
const LINE: u8 = 1 << 3;
const HEADSIGN: u8 = 1 << 4;

/// Coordinates travel as whole multiples of this many degrees.
const COORDINATE_SCALE: f64 = 1e7;
/// Vehicle numbers have five digits, so this packs an id into one integer.
const NUMBERS_PER_OPERATOR: u32 = 100_000;
/// The fewest bytes a record can take (id, flags, lat, lon, ts): bounds what a claimed
/// count may reserve before the bytes are there.
const MIN_RECORD: usize = 1 + 1 + 4 + 4 + 1;

/// What a vehicle is, as opposed to where: sent only when it is news (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct About {
    pub mode: TransportMode,
    pub line: Option<String>,
    pub headsign: Option<String>,
}

/// One vehicle in a frame: where it is now, and what it is when that is news.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub id: VehicleId,
    pub lat: f64,
    pub lon: f64,
    pub heading: Option<u16>,
    pub delay_s: Option<i32>,
    pub timestamp_ms: i64,
    pub about: Option<About>,
}

impl Update {
    /// The vehicle as a marker, when the update says what it is.
    pub fn into_marker(self) -> Option<Marker> {
        let About { mode, line, headsign } = self.about?;
        Some(Marker {
            id: self.id,
            lat: self.lat,
            lon: self.lon,
            mode,
            line,
            headsign,
            heading: self.heading,
            delay_s: self.delay_s,
            timestamp_ms: self.timestamp_ms,
        })
    }

    /// Brings a marker of the same vehicle up to date.
    pub fn apply_to(self, marker: &mut Marker) {
        marker.lat = self.lat;
        marker.lon = self.lon;
        marker.heading = self.heading;
        marker.delay_s = self.delay_s;
        marker.timestamp_ms = self.timestamp_ms;
        if let Some(About { mode, line, headsign }) = self.about {
            marker.mode = mode;
            marker.line = line;
            marker.headsign = headsign;
        }
    }
}

impl From<&Marker> for Update {
    /// The whole marker, about part included.
    fn from(marker: &Marker) -> Self {
        Self {
            id: marker.id,
            lat: marker.lat,
            lon: marker.lon,
            heading: marker.heading,
            delay_s: marker.delay_s,
            timestamp_ms: marker.timestamp_ms,
            about: Some(About {
                mode: marker.mode,
                line: marker.line.clone(),
                headsign: marker.headsign.clone(),
            }),
        }
    }
}

/// A decoded frame: `ServerFrame`'s shape, with [`Update`]s for markers.
#[derive(Clone, Debug, PartialEq)]
pub enum WireFrame {
    Snapshot { seq: u64, vehicles: Vec<Update> },
    Delta { seq: u64, received_ms: u64, upserts: Vec<Update>, removed: Vec<VehicleId> },
    Status { feed: FeedState },
}

/// Why bytes are not a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the frame ends in the middle of a field")]
    Truncated,
    #[error("frame format version {0}, this page reads version {VERSION}")]
    Version(u8),
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("a number does not fit its field")]
    Overflow,
    #[error("a vehicle id out of range")]
    Id,
    #[error("coordinates outside the globe")]
    Coordinates,
    #[error("text that is not UTF-8")]
    Text,
    #[error("bytes after the end of the frame")]
    Trailing,
}

/// A snapshot: every vehicle, each with its about part.
pub fn snapshot<'a>(seq: u64, markers: impl ExactSizeIterator<Item = &'a Marker>) -> Vec<u8> {
    records(SNAPSHOT, seq, None, markers.map(|marker| (marker, true)))
}

/// A delta: the vehicles that moved, each paired with whether its about part is news, and
/// the vehicles that left; `received_ms` as the module doc says.
pub fn delta<'a>(
    seq: u64,
    received_ms: u64,
    upserts: impl ExactSizeIterator<Item = (&'a Marker, bool)>,
    removed: &[VehicleId],
) -> Vec<u8> {
    let mut out = records(DELTA, seq, Some(received_ms), upserts);
    varint(&mut out, removed.len() as u64);
    for id in removed {
        varint(&mut out, u64::from(packed(*id)));
    }
    out
}

/// A status frame.
pub fn status(feed: FeedState) -> Vec<u8> {
    let code = match feed {
        FeedState::Live => 0,
        FeedState::Stalled => 1,
    };
    vec![VERSION, STATUS, code]
}

fn records<'a>(
    kind: u8,
    seq: u64,
    received_ms: Option<u64>,
    markers: impl ExactSizeIterator<Item = (&'a Marker, bool)>,
) -> Vec<u8> {
    let mut markers = markers.peekable();
    let base = markers.peek().map_or(0, |(marker, _)| marker.timestamp_ms);
    let mut out = Vec::with_capacity(24 + markers.len() * 24);
    out.extend([VERSION, kind]);
    varint(&mut out, seq);
    if let Some(received_ms) = received_ms {
        varint(&mut out, received_ms);
    }
    zigzag(&mut out, base);
    varint(&mut out, markers.len() as u64);
    for (marker, about) in markers {
        record(&mut out, marker, about, base);
    }
    out
}

fn record(out: &mut Vec<u8>, marker: &Marker, about: bool, base: i64) {
    let mut flags = 0;
    if marker.heading.is_some() {
        flags |= HEADING;
    }
    if marker.delay_s.is_some() {
        flags |= DELAY;
    }
    if about {
        flags |= ABOUT;
        if marker.line.is_some() {
            flags |= LINE;
        }
        if marker.headsign.is_some() {
            flags |= HEADSIGN;
        }
    }
    varint(out, u64::from(packed(marker.id)));
    out.push(flags);
    // `as` saturates: coordinates are range-checked where they enter the server, and a
    // value beyond i32 could only come from outside the globe.
    out.extend(((marker.lat * COORDINATE_SCALE).round() as i32).to_le_bytes());
    out.extend(((marker.lon * COORDINATE_SCALE).round() as i32).to_le_bytes());
    zigzag(out, marker.timestamp_ms.wrapping_sub(base));
    if let Some(heading) = marker.heading {
        varint(out, u64::from(heading));
    }
    if let Some(delay) = marker.delay_s {
        zigzag(out, i64::from(delay));
    }
    if about {
        out.push(mode_code(marker.mode));
        for text in [&marker.line, &marker.headsign].into_iter().flatten() {
            varint(out, text.len() as u64);
            out.extend(text.as_bytes());
        }
    }
}

fn packed(id: VehicleId) -> u32 {
    u32::from(id.operator()) * NUMBERS_PER_OPERATOR + id.number()
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(out: &mut Vec<u8>, value: i64) {
    varint(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Stable codes, independent of the enum's order.
fn mode_code(mode: TransportMode) -> u8 {
    match mode {
        TransportMode::Bus => 0,
        TransportMode::Tram => 1,
        TransportMode::Train => 2,
        TransportMode::Ferry => 3,
        TransportMode::Metro => 4,
        TransportMode::Ubus => 5,
        TransportMode::Robot => 6,
        TransportMode::Other => 255,
    }
}

/// Unknown codes are a mode a newer server knows: still a vehicle, drawn as "other".
fn mode_from(code: u8) -> TransportMode {
    match code {
        0 => TransportMode::Bus,
        1 => TransportMode::Tram,
        2 => TransportMode::Train,
        3 => TransportMode::Ferry,
        4 => TransportMode::Metro,
        5 => TransportMode::Ubus,
        6 => TransportMode::Robot,
        _ => TransportMode::Other,
    }
}

/// What a frame is, read from its first bytes alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    Snapshot { seq: u64 },
    Delta { seq: u64, received_ms: u64 },
    Status,
}

/// Reads a frame's header without decoding its vehicles: for clients that count and time
/// frames, such as the load generator, at a fraction of [`decode`]'s cost.
pub fn header(bytes: &[u8]) -> Result<Header, WireError> {
    let mut r = Reader { bytes };
    r.version()?;
    match r.u8()? {
        SNAPSHOT => Ok(Header::Snapshot { seq: r.varint()? }),
        DELTA => Ok(Header::Delta { seq: r.varint()?, received_ms: r.varint()? }),
        STATUS => Ok(Header::Status),
        kind => Err(WireError::Kind(kind)),
    }
}

/// `delta` renumbered to `seq` and stamped as received at `received_ms`, its vehicles
/// untouched: how a replay of recorded deltas (the fan-out benchmark's baseline server)
/// sends them as new ones.
pub fn restamped(delta: &[u8], seq: u64, received_ms: u64) -> Result<Vec<u8>, WireError> {
    let mut r = Reader { bytes: delta };
    r.version()?;
    match r.u8()? {
        DELTA => {}
        kind => return Err(WireError::Kind(kind)),
    }
    r.varint()?;
    r.varint()?;
    let mut out = Vec::with_capacity(delta.len() + 8);
    out.extend([VERSION, DELTA]);
    varint(&mut out, seq);
    varint(&mut out, received_ms);
    out.extend_from_slice(r.bytes);
    Ok(out)
}

/// Reads one frame. Never panics, and never reserves more than the bytes could hold.
pub fn decode(bytes: &[u8]) -> Result<WireFrame, WireError> {
    let mut r = Reader { bytes };
    r.version()?;
    let frame = match r.u8()? {
        STATUS => match r.u8()? {
            0 => WireFrame::Status { feed: FeedState::Live },
            1 => WireFrame::Status { feed: FeedState::Stalled },
            _ => return Err(WireError::Overflow),
        },
        kind @ (SNAPSHOT | DELTA) => {
            let seq = r.varint()?;
            let received_ms = if kind == DELTA { r.varint()? } else { 0 };
            let base = r.zigzag()?;
            let count = r.count(MIN_RECORD)?;
            let mut updates = Vec::with_capacity(count);
            for _ in 0..count {
                updates.push(r.record(base)?);
            }
            if kind == SNAPSHOT {
                WireFrame::Snapshot { seq, vehicles: updates }
            } else {
                let count = r.count(1)?;
                let mut removed = Vec::with_capacity(count);
                for _ in 0..count {
                    removed.push(r.id()?);
                }
                WireFrame::Delta { seq, received_ms, upserts: updates, removed }
            }
        }
        kind => return Err(WireError::Kind(kind)),
    };
    if r.bytes.is_empty() { Ok(frame) } else { Err(WireError::Trailing) }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    /// The leading version byte, which must be this build's.
    fn version(&mut self) -> Result<(), WireError> {
        match self.u8()? {
            VERSION => Ok(()),
            other => Err(WireError::Version(other)),
        }
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let (head, rest) = self.bytes.split_first_chunk::<N>().ok_or(WireError::Truncated)?;
        self.bytes = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take::<1>()?[0])
    }

    fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_le_bytes(self.take()?))
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(WireError::Overflow);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Overflow)
    }

    fn zigzag(&mut self) -> Result<i64, WireError> {
        let raw = self.varint()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    /// A count of items at least `min_size` bytes each: more than the rest could hold is
    /// a truncated frame, found before anything is reserved for them.
    fn count(&mut self, min_size: usize) -> Result<usize, WireError> {
        let count = usize::try_from(self.varint()?).map_err(|_| WireError::Overflow)?;
        if count > self.bytes.len() / min_size {
            return Err(WireError::Truncated);
        }
        Ok(count)
    }

    fn id(&mut self) -> Result<VehicleId, WireError> {
        let packed = u32::try_from(self.varint()?).map_err(|_| WireError::Id)?;
        let operator = u16::try_from(packed / NUMBERS_PER_OPERATOR).map_err(|_| WireError::Id)?;
        VehicleId::new(operator, packed % NUMBERS_PER_OPERATOR).ok_or(WireError::Id)
    }

    fn text(&mut self) -> Result<String, WireError> {
        let len = self.count(1)?;
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        std::str::from_utf8(text).map(str::to_owned).map_err(|_| WireError::Text)
    }

    fn record(&mut self, base: i64) -> Result<Update, WireError> {
        let id = self.id()?;
        let flags = self.u8()?;
        let lat = f64::from(self.i32()?) / COORDINATE_SCALE;
        let lon = f64::from(self.i32()?) / COORDINATE_SCALE;
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(WireError::Coordinates);
        }
        let timestamp_ms = base.wrapping_add(self.zigzag()?);
        let heading = if flags & HEADING != 0 {
            Some(u16::try_from(self.varint()?).map_err(|_| WireError::Overflow)?)
        } else {
            None
        };
        let delay_s = if flags & DELAY != 0 {
            Some(i32::try_from(self.zigzag()?).map_err(|_| WireError::Overflow)?)
        } else {
            None
        };
        let about = if flags & ABOUT != 0 {
            let mode = mode_from(self.u8()?);
            let line = if flags & LINE != 0 { Some(self.text()?) } else { None };
            let headsign = if flags & HEADSIGN != 0 { Some(self.text()?) } else { None };
            Some(About { mode, line, headsign })
        } else {
            None
        };
        Ok(Update { id, lat, lon, heading, delay_s, timestamp_ms, about })
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
