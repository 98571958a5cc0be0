//! The fan-out from the latest-positions table to every `/ws` client.
//!
//! Once per tick the hub drains the table's changes, serializes them into ONE delta frame
//! and broadcasts that frame's shared bytes; every client sends the same bytes. A new or
//! lagging client gets a snapshot frame, serialized at most once per sequence number and
//! shared too. Whatever the number of clients, the hub does one serialization per tick.
//!
//! Memory is bounded by construction: the broadcast channel keeps at most
//! [`BROADCAST_CAPACITY`] frames, and a client that falls further behind gets a fresh
//! snapshot instead of a growing backlog.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use app::model::{FeedState, ServerFrame};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::metrics::Stats;
use crate::positions::LatestPositions;
use crate::readiness::Readiness;

/// Frames a client may fall behind before it is resynced. At a 250 ms tick this is four
/// seconds: room for a browser tab that stalls briefly, while a client that stays behind
/// costs one snapshot rather than an unbounded queue.
pub const BROADCAST_CAPACITY: usize = 16;

/// One serialized frame. Cloning shares the bytes.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: FrameKind,
    /// The table sequence number the frame brings a client to.
    pub seq: u64,
    /// The frame's JSON text, as sent on the socket.
    pub text: Utf8Bytes,
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
    /// A std mutex held across the (synchronous) serialization on purpose: when hundreds
    /// of browsers reconnect at once after a restart, one builds the snapshot and the
    /// others wait a few milliseconds and reuse it, instead of all serializing it.
    snapshot: Mutex<Option<Frame>>,
    /// Whether the data source is delivering, and what clients were last told about it.
    readiness: Readiness,
    announced_live: AtomicBool,
}

impl Hub {
    pub fn new(positions: Arc<LatestPositions>, stats: Arc<Stats>, readiness: Readiness) -> Self {
        let (deltas, _) = broadcast::channel(BROADCAST_CAPACITY);
        let announced_live = AtomicBool::new(readiness.is_ready());
        Self { positions, stats, deltas, snapshot: Mutex::new(None), readiness, announced_live }
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
        Subscription { hub: Arc::clone(self), deltas, seq, pending }
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
        let frame = serialize(FrameKind::Snapshot, seq, &ServerFrame::Snapshot { seq, vehicles });
        self.stats.snapshots_built.inc();
        *cached = Some(frame.clone());
        frame
    }

    /// One tick: expire, drain and publish the changes as a single shared frame.
    pub fn tick(&self, now: Instant) {
        // Only the ticker writes `announced_live`; the swap reads the previous announcement
        // and records the new one in one step.
        let live = self.readiness.is_ready();
        if live != self.announced_live.swap(live, Ordering::Relaxed) {
            let feed = if live { FeedState::Live } else { FeedState::Stalled };
            let _ = self.deltas.send(status_frame(feed));
        }
        let changes = self.positions.drain_changes(now);
        self.stats.vehicles.set(i64::try_from(self.positions.len()).unwrap_or(i64::MAX));
        let Some(changes) = changes else { return };
        self.stats.vehicles_expired.add(changes.removed.len() as u64);
        // Nobody listening: the drain still had to happen (it expires vehicles and keeps
        // the change set from growing), but there is no one to serialize for.
        if self.deltas.receiver_count() == 0 {
            return;
        }
        let seq = changes.seq;
        let frame = serialize(
            FrameKind::Delta,
            seq,
            &ServerFrame::Delta { seq, upserts: changes.upserts, removed: changes.removed },
        );
        self.stats.frames_published.inc();
        // An error only means every receiver went away since the check above.
        let _ = self.deltas.send(frame);
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

/// One client's place in the hub's frames (see [`Hub::follow`]).
pub struct Subscription {
    hub: Arc<Hub>,
    deltas: broadcast::Receiver<Frame>,
    /// The table sequence the client has reached: deltas at or below it are covered.
    seq: u64,
    /// Frames to send before reading the broadcast (the snapshot, a stalled status).
    pending: VecDeque<Frame>,
}

impl Subscription {
    /// The next frame to send, or `None` when the hub is gone. Cancel-safe: its state
    /// changes only once a frame has been taken, so it can sit in a `select!`.
    pub async fn next(&mut self) -> Option<Frame> {
        if let Some(frame) = self.pending.pop_front() {
            return Some(frame);
        }
        loop {
            match self.deltas.recv().await {
                Ok(frame) if frame.kind == FrameKind::Delta && frame.seq <= self.seq => continue,
                Ok(frame) => {
                    if frame.kind == FrameKind::Delta {
                        self.seq = frame.seq;
                    }
                    return Some(frame);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.hub.stats.resyncs.inc();
                    let snapshot = self.hub.snapshot();
                    self.seq = snapshot.seq;
                    return Some(snapshot);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

fn status_frame(feed: FeedState) -> Frame {
    serialize(FrameKind::Status, 0, &ServerFrame::Status { feed })
}

fn serialize(kind: FrameKind, seq: u64, frame: &ServerFrame) -> Frame {
    // Serializing our own types into a String cannot fail: no maps with non-string keys,
    // no floats that JSON cannot hold (NaN and infinities never pass the parser).
    let text = serde_json::to_string(frame).unwrap_or_default();
    Frame { kind, seq, text: Utf8Bytes::from(text) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{TransportMode, VehicleId, VehiclePosition};

    fn hub() -> (Hub, Arc<LatestPositions>, Arc<Stats>) {
        let positions = Arc::new(LatestPositions::new(Duration::from_secs(60)));
        let stats = Arc::new(Stats::default());
        (Hub::new(Arc::clone(&positions), Arc::clone(&stats), Readiness::ready()), positions, stats)
    }

    fn position(number: u32, timestamp_ms: i64) -> VehiclePosition {
        VehiclePosition {
            id: VehicleId::new(12, number).expect("fits"),
            mode: TransportMode::Bus,
            line: None,
            route: None,
            direction: None,
            headsign: None,
            operator: None,
            lat: 60.2,
            lon: 24.9 + timestamp_ms as f64 * 1e-6,
            speed_mps: None,
            heading: None,
            delay_s: None,
            timestamp_ms,
            start_time: None,
            next_stop: None,
            doors_open: None,
            occupancy: None,
            location_source: None,
        }
    }

    fn parse(frame: &Frame) -> ServerFrame {
        serde_json::from_str(frame.text.as_str()).expect("frames are valid JSON")
    }

    #[test]
    fn every_subscriber_receives_the_same_bytes_serialized_once() {
        let (hub, positions, stats) = hub();
        let (_, mut first) = hub.subscribe();
        let (_, mut second) = hub.subscribe();
        positions.upsert(position(1, 1_000), Instant::now());
        hub.tick(Instant::now());

        let a = first.try_recv().expect("a frame");
        let b = second.try_recv().expect("a frame");
        assert_eq!(a.text.as_str().as_ptr(), b.text.as_str().as_ptr(), "shared, not copied");
        assert_eq!(stats.frames_published.get(), 1);
        match parse(&a) {
            ServerFrame::Delta { seq, upserts, removed } => {
                assert_eq!(seq, 1);
                assert_eq!(upserts.len(), 1);
                assert!(removed.is_empty());
            }
            other => panic!("expected a delta, got {other:?}"),
        }
    }

    #[test]
    fn a_snapshot_is_built_once_per_sequence_number() {
        let (hub, positions, stats) = hub();
        positions.upsert(position(1, 1_000), Instant::now());
        let (first, _rx1) = hub.subscribe();
        let (second, _rx2) = hub.subscribe();
        assert_eq!(stats.snapshots_built.get(), 1);
        assert_eq!(first.text, second.text);

        hub.tick(Instant::now());
        let (third, _rx3) = hub.subscribe();
        assert_eq!(third.seq, 1);
        assert_eq!(stats.snapshots_built.get(), 2);
    }

    #[test]
    fn a_subscriber_that_falls_behind_is_told_it_lagged_instead_of_queueing() {
        let (hub, positions, _) = hub();
        let (_, mut slow) = hub.subscribe();
        for n in 0..(BROADCAST_CAPACITY as i64 + 5) {
            positions.upsert(position(1, 1_000 + n), Instant::now());
            hub.tick(Instant::now());
        }
        assert!(matches!(slow.try_recv(), Err(broadcast::error::TryRecvError::Lagged(5))));
    }

    #[test]
    fn without_subscribers_ticks_still_drain_but_serialize_nothing() {
        let (hub, positions, stats) = hub();
        positions.upsert(position(1, 1_000), Instant::now());
        hub.tick(Instant::now());
        assert_eq!(stats.frames_published.get(), 0);
        assert_eq!(positions.seq(), 1);
    }

    #[test]
    fn clients_are_told_when_the_data_source_stalls_and_recovers() {
        let positions = Arc::new(LatestPositions::new(Duration::from_secs(60)));
        let readiness = Readiness::default();
        let hub = Hub::new(positions, Arc::new(Stats::default()), readiness.clone());
        let (_, mut rx) = hub.subscribe();
        assert!(hub.stalled_status().is_some(), "a new client hears it is stalled");

        hub.tick(Instant::now());
        assert!(rx.try_recv().is_err(), "no change, no frame");

        readiness.set(true);
        hub.tick(Instant::now());
        let frame = rx.try_recv().expect("a status frame");
        assert_eq!(frame.kind, FrameKind::Status);
        assert_eq!(parse(&frame), ServerFrame::Status { feed: FeedState::Live });
        assert!(hub.stalled_status().is_none());

        readiness.set(false);
        hub.tick(Instant::now());
        assert_eq!(
            parse(&rx.try_recv().expect("a status frame")),
            ServerFrame::Status { feed: FeedState::Stalled }
        );
    }

    #[test]
    fn a_client_joining_between_ticks_follows_the_announcements() {
        let positions = Arc::new(LatestPositions::new(Duration::from_secs(60)));
        let readiness = Readiness::default();
        let hub = Hub::new(positions, Arc::new(Stats::default()), readiness.clone());
        // The source came up, and a client joins before the ticker noticed.
        readiness.set(true);
        let (_, mut rx) = hub.subscribe();
        assert!(hub.stalled_status().is_some(), "told the last announcement: stalled");
        // The source drops again before any tick: nothing changed for the hub...
        readiness.set(false);
        hub.tick(Instant::now());
        assert!(rx.try_recv().is_err());
        // ...and the client's view (stalled) was right all along. When it recovers:
        readiness.set(true);
        hub.tick(Instant::now());
        assert_eq!(
            parse(&rx.try_recv().expect("status")),
            ServerFrame::Status { feed: FeedState::Live }
        );
    }
}
