//! The fan-out from the latest-positions table to every `/ws` client.
//!
//! Once per tick the hub drains the table's changes, encodes them into ONE delta frame
//! and broadcasts that frame's shared bytes; every client sends the same bytes. A new or
//! lagging client gets a snapshot frame, encoded at most once per sequence number and
//! shared too. Whatever the number of clients, the hub encodes once per tick: the compact
//! binary form `/ws` sends (`app::wire`), and the JSON form `/api/stream` sends only when
//! a stream client first asks for it.
//!
//! A client zoomed into part of the map (`app::viewport`) gets each frame cut down to its
//! cells: what moved inside them, and what left them. The cut is made once per distinct
//! view and frame and shared, like the whole frame, by clients looking at the same cells.
//!
//! Memory is bounded by construction: the broadcast channel keeps at most
//! [`BROADCAST_CAPACITY`] frames, and a client that falls further behind gets a fresh
//! snapshot instead of a growing backlog.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use app::model::{FeedState, Marker, ServerFrame};
use app::viewport::{Cell, CellRect};
use app::wire;
use axum::body::Bytes;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::metrics::Stats;
use crate::positions::LatestPositions;
use crate::readiness::Readiness;
use crate::ws;

/// Frames a client may fall behind before it is resynced. At a 250 ms tick this is four
/// seconds: room for a browser tab that stalls briefly, while a client that stays behind
/// costs one snapshot rather than an unbounded queue.
pub const BROADCAST_CAPACITY: usize = 16;

/// Views a frame keeps its cuts for. Views snap to cells, so even 10,000 clients zoomed in
/// all over the city ask for a few hundred distinct ones per zoom level; past this many,
/// clients each cut their own (a few microseconds), so what a frame holds stays bounded
/// whatever they ask for. A delta's cuts are let go two deltas later
/// ([`Frame::retire_cuts`]): by then only clients that fell behind still read it.
const MAX_CACHED_VIEWS: usize = 2048;

/// Shortest time between two view changes of one client. Each change costs a snapshot of
/// the new view, so a client cannot make the server build them faster than the feed ticks;
/// a change asked for sooner waits (it is never lost).
pub const VIEW_CHANGE_INTERVAL: Duration = Duration::from_millis(250);

mod subscription;

pub use subscription::Subscription;

/// One frame, encoded once per form that is asked for. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: FrameKind,
    /// The table sequence number the frame brings a client to.
    pub seq: u64,
    body: Arc<Body>,
}

#[derive(Debug)]
struct Body {
    /// The `/ws` encoding as a complete WebSocket message, made with the frame: browsers
    /// are nearly always connected.
    message: Bytes,
    /// The frame itself, kept for its JSON form.
    frame: ServerFrame,
    /// `/api/stream`'s JSON text, serialized by the first stream client to need it.
    json: OnceLock<Bytes>,
    /// For a delta, what cutting it to a view needs: one [`Move`] per upsert, in order.
    moves: Vec<Move>,
    received_ms: u64,
    /// The cuts made so far, by view; `None` when nothing in the frame concerns the view.
    /// `None` once retired.
    views: Mutex<Option<HashMap<CellRect, Option<Bytes>>>>,
}

/// Where one upserted vehicle of a delta is and has been (see `positions::Changed`).
#[derive(Debug, Clone, Copy)]
struct Move {
    cell: Cell,
    visited: CellRect,
    described: bool,
}

impl Frame {
    fn new(kind: FrameKind, seq: u64, binary: Vec<u8>, frame: ServerFrame) -> Self {
        Self::with_moves(kind, seq, binary, frame, Vec::new(), 0)
    }

    fn with_moves(
        kind: FrameKind,
        seq: u64,
        binary: Vec<u8>,
        frame: ServerFrame,
        moves: Vec<Move>,
        received_ms: u64,
    ) -> Self {
        let message = ws::binary_message(&binary);
        let views = Mutex::new(Some(HashMap::new()));
        let body = Body { message, frame, json: OnceLock::new(), moves, received_ms, views };
        Self { kind, seq, body: Arc::new(body) }
    }

    /// The compact binary form (`app::wire`), unframed: what tests decode. The server only
    /// ever sends it framed ([`Frame::ws_message`]).
    #[cfg(test)]
    pub fn binary(&self) -> Bytes {
        ws::payload_of(&self.body.message)
    }

    /// The binary form framed as a WebSocket message, as `/ws` writes it.
    pub fn ws_message(&self) -> Bytes {
        self.body.message.clone()
    }

    /// The framed message for a client shown `view` (`None`: the whole fleet), or `None`
    /// when nothing in this frame concerns that view.
    pub fn ws_message_in(&self, view: Option<CellRect>) -> Option<Bytes> {
        let Some(view) = view.filter(|_| self.kind != FrameKind::Status) else {
            return Some(self.ws_message());
        };
        let views = || self.body.views.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cut) = views().as_ref().and_then(|cuts| cuts.get(&view)) {
            return cut.clone();
        }
        // Cut outside the lock: clients of other views need not wait for this one, and two
        // clients racing on the same new view at worst both cut it.
        let cut = self.cut(&view).map(|binary| ws::binary_message(&binary));
        if let Some(cuts) = views().as_mut().filter(|cuts| cuts.len() < MAX_CACHED_VIEWS) {
            cuts.insert(view, cut.clone());
        }
        cut
    }

    /// Lets go of the cuts made so far and makes no more: for a frame that clients
    /// keeping up are done with.
    fn retire_cuts(&self) {
        self.body.views.lock().unwrap_or_else(PoisonError::into_inner).take();
    }

    /// The frame as a client shown `view` needs it, unframed. A snapshot keeps the vehicles
    /// in view. A delta keeps those that moved in view, saying what they are when they
    /// may be new to the client (they were outside the view since the last delta), and
    /// removes those that left it.
    fn cut(&self, view: &CellRect) -> Option<Vec<u8>> {
        let in_view = |marker: &Marker| view.contains(Cell::of(marker.lat, marker.lon));
        match &self.body.frame {
            ServerFrame::Snapshot { seq, vehicles } => {
                let shown: Vec<&Marker> = vehicles.iter().filter(|m| in_view(m)).collect();
                Some(wire::snapshot(*seq, shown.into_iter()))
            }
            ServerFrame::Delta { seq, upserts, removed } => {
                let mut shown = Vec::new();
                // Vehicles that expired are few: every view hears of them.
                let mut left = removed.clone();
                for (marker, moved) in upserts.iter().zip(&self.body.moves) {
                    if view.contains(moved.cell) {
                        shown
                            .push((marker, moved.described || !view.contains_rect(&moved.visited)));
                    } else if view.intersects(&moved.visited) {
                        left.push(marker.id);
                    }
                }
                if shown.is_empty() && left.is_empty() {
                    return None;
                }
                Some(wire::delta(*seq, self.body.received_ms, shown.into_iter(), &left))
            }
            ServerFrame::Status { feed } => Some(wire::status(*feed)),
        }
    }

    /// The JSON form (`ServerFrame`), as `/api/stream` sends it.
    pub fn json(&self) -> Bytes {
        self.body
            .json
            .get_or_init(|| {
                // Serializing our own types cannot fail: no maps with non-string keys, no
                // floats JSON cannot hold (the parser admits none).
                Bytes::from(serde_json::to_vec(&self.body.frame).unwrap_or_default())
            })
            .clone()
    }
}

/// What a frame is, for the client loop: deltas a snapshot already covers are skipped;
/// status frames are never skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Snapshot,
    Delta,
    Status,
}

/// Broadcasts table changes to every subscribed client.
#[derive(Debug)]
pub struct Hub {
    positions: Arc<LatestPositions>,
    stats: Arc<Stats>,
    deltas: broadcast::Sender<Frame>,
    /// The last snapshot built, reused while the table's sequence number has not moved.
    /// A std mutex held across the (synchronous) encoding on purpose: when hundreds of
    /// browsers reconnect at once after a restart, one builds the snapshot and the others
    /// wait a few milliseconds and reuse it, instead of all encoding it.
    snapshot: Mutex<Option<Frame>>,
    /// The last two deltas published, whose cuts are still in use (only the ticker
    /// touches it).
    recent_deltas: Mutex<VecDeque<Frame>>,
    /// Whether the data source is delivering, and what clients were last told about it.
    readiness: Readiness,
    announced_live: AtomicBool,
}

impl Hub {
    pub fn new(positions: Arc<LatestPositions>, stats: Arc<Stats>, readiness: Readiness) -> Self {
        let (deltas, _) = broadcast::channel(BROADCAST_CAPACITY);
        let announced_live = AtomicBool::new(readiness.is_ready());
        Self {
            positions,
            stats,
            deltas,
            snapshot: Mutex::new(None),
            recent_deltas: Mutex::default(),
            readiness,
            announced_live,
        }
    }

    /// The status frame to send a new client (after [`Hub::subscribe`]) if the source is
    /// stalled. It reports what the hub last announced, not the flag itself: the client's
    /// view then follows the announcements, and a change the ticker has yet to see reaches
    /// it as the next status frame instead of being missed.
    pub fn stalled_status(&self) -> Option<Frame> {
        (!self.announced_live.load(Ordering::Relaxed)).then(|| status_frame(FeedState::Stalled))
    }

    /// A client's feed: the snapshot, the stalled status if any, then every later frame,
    /// resynced from a snapshot whenever the client falls behind. Every live transport
    /// (`/ws`, `/api/stream`) sends exactly what this yields.
    pub fn follow(self: &Arc<Self>) -> Subscription {
        let (snapshot, deltas) = self.subscribe();
        let seq = snapshot.seq;
        let mut pending = VecDeque::from([snapshot]);
        pending.extend(self.stalled_status());
        Subscription::new(Arc::clone(self), deltas, seq, pending)
    }

    /// Subscribes a client: the receiver for deltas and the snapshot to start from.
    ///
    /// The receiver is created *before* the snapshot is taken, so every delta published
    /// after the snapshot's sequence number reaches the client; deltas the snapshot already
    /// covers (`seq <= snapshot.seq`) are skipped by the client loop.
    pub fn subscribe(&self) -> (Frame, broadcast::Receiver<Frame>) {
        let receiver = self.deltas.subscribe();
        (self.snapshot(), receiver)
    }

    /// The current snapshot frame, shared while nothing has changed.
    pub fn snapshot(&self) -> Frame {
        let mut cached = self.snapshot.lock().unwrap_or_else(PoisonError::into_inner);
        let current_seq = self.positions.seq();
        if let Some(frame) = cached.as_ref().filter(|frame| frame.seq == current_seq) {
            return frame.clone();
        }
        let (seq, vehicles) = self.positions.snapshot();
        let binary = wire::snapshot(seq, vehicles.iter());
        let frame =
            Frame::new(FrameKind::Snapshot, seq, binary, ServerFrame::Snapshot { seq, vehicles });
        self.stats.snapshots_built.inc();
        *cached = Some(frame.clone());
        frame
    }

    /// One tick: expire, drain and publish the changes as a single shared frame.
    pub fn tick(&self, now: Instant) {
        let changes = self.positions.drain_changes(now);
        // Read after the drain, and announced ahead of its delta: an upstream that reloads
        // the table marks itself up under the table's lock (`Ingest::snapshot`), so a drain
        // that carries the reloaded positions finds it up, and clients hear that the feed
        // is live before they get them. Read before the drain, the flag could still be down
        // while the drain already held the reload. Only the ticker writes `announced_live`;
        // the swap reads the previous announcement and records the new one in one step.
        let live = self.readiness.is_ready();
        if live != self.announced_live.swap(live, Ordering::Relaxed) {
            let feed = if live { FeedState::Live } else { FeedState::Stalled };
            let _ = self.deltas.send(status_frame(feed));
        }
        self.stats.vehicles.set(i64::try_from(self.positions.len()).unwrap_or(i64::MAX));
        let Some(changes) = changes else { return };
        self.stats.vehicles_expired.add(changes.removed.len() as u64);
        // Nobody listening: the drain still had to happen (it expires vehicles and keeps
        // the change set from growing), but there is no one to encode for.
        if self.deltas.receiver_count() == 0 {
            return;
        }
        let (seq, removed) = (changes.seq, changes.removed);
        let received_ms = changes.since.map_or(0, |since| {
            let age = now.saturating_duration_since(since).as_millis();
            u64::try_from(clock::now_ms()).unwrap_or(0).saturating_sub(age as u64)
        });
        let upserts = changes.upserts.iter().map(|c| (&c.marker, c.described));
        let binary = wire::delta(seq, received_ms, upserts, &removed);
        let moves = changes
            .upserts
            .iter()
            .map(|c| Move {
                cell: Cell::of(c.marker.lat, c.marker.lon),
                visited: c.visited,
                described: c.described,
            })
            .collect();
        let upserts = changes.upserts.into_iter().map(|c| c.marker).collect();
        let frame = Frame::with_moves(
            FrameKind::Delta,
            seq,
            binary,
            ServerFrame::Delta { seq, upserts, removed },
            moves,
            received_ms,
        );
        self.stats.frames_published.inc();
        let retired = {
            let mut recent = self.recent_deltas.lock().unwrap_or_else(PoisonError::into_inner);
            recent.push_back(frame.clone());
            (recent.len() > 2).then(|| recent.pop_front()).flatten()
        };
        // An error only means every receiver went away since the check above.
        let _ = self.deltas.send(frame);
        if let Some(retired) = retired {
            retired.retire_cuts();
        }
    }

    /// Ticks every `period` until `shutdown`.
    pub async fn run(self: Arc<Self>, period: Duration, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(period);
        // After a stall, one catch-up tick carries everything; a burst of ticks would only
        // send empty work.
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = interval.tick() => self.tick(Instant::now()),
            }
        }
        tracing::debug!("Hub stopped.");
    }
}

fn status_frame(feed: FeedState) -> Frame {
    Frame::new(FrameKind::Status, 0, wire::status(feed), ServerFrame::Status { feed })
}

#[cfg(test)]
mod tests;
