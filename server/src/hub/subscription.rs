//! One client's way through the hub's frames: its snapshot, then every delta above it, a
//! new snapshot when it falls behind or changes view.

use std::collections::VecDeque;
use std::sync::Arc;

use app::viewport::CellRect;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{Frame, FrameKind, Hub, VIEW_CHANGE_INTERVAL};
use crate::metrics::reasons::Resync;

/// One client's place in the hub's frames (see [`Hub::follow`]).
pub struct Subscription {
    hub: Arc<Hub>,
    deltas: broadcast::Receiver<Frame>,
    /// The table sequence the client has reached: deltas at or below it are covered.
    seq: u64,
    /// Frames to send before reading the broadcast (the snapshot, a stalled status).
    pending: VecDeque<Frame>,
    /// The cells the client is shown (`None`: the whole fleet): what its frames are cut to.
    view: Option<CellRect>,
    /// A different view the client asked for, not applied yet.
    wanted: Option<Option<CellRect>>,
    view_changed_at: Option<Instant>,
}

impl Subscription {
    pub(super) fn new(
        hub: Arc<Hub>,
        deltas: broadcast::Receiver<Frame>,
        seq: u64,
        pending: VecDeque<Frame>,
    ) -> Self {
        Self { hub, deltas, seq, pending, view: None, wanted: None, view_changed_at: None }
    }

    /// Starts the client in `view`: its first snapshot is cut to it. Before the first
    /// [`Subscription::next`] only.
    pub fn starting_in(mut self, view: Option<CellRect>) -> Self {
        self.view = view;
        self
    }

    /// The view this client's frames are cut to ([`Frame::ws_message_in`]).
    pub fn view(&self) -> Option<CellRect> {
        self.view
    }

    /// Asks for the client to be shown `view` from now on. It takes effect with a snapshot
    /// of the new view, which [`Subscription::next`] sends as soon as
    /// [`VIEW_CHANGE_INTERVAL`] allows; asking again before that replaces the request.
    pub fn set_view(&mut self, view: Option<CellRect>) {
        self.wanted = (view != self.view).then_some(view);
    }

    /// The next frame to send, or `None` when the hub is gone. Cancel-safe: its state
    /// changes only once a frame has been taken, so it can sit in a `select!`.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            let view_due = self.wanted.is_some().then(|| {
                let now = Instant::now();
                self.view_changed_at.map_or(now, |at| (at + VIEW_CHANGE_INTERVAL).max(now))
            });
            if view_due.is_some_and(|due| due <= Instant::now()) {
                return Some(self.resync());
            }
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            let received = match view_due {
                Some(due) => tokio::select! {
                    received = self.deltas.recv() => received,
                    () = tokio::time::sleep_until(due) => continue,
                },
                None => self.deltas.recv().await,
            };
            match received {
                Ok(frame) if frame.kind == FrameKind::Delta && frame.seq <= self.seq => continue,
                Ok(frame) => {
                    if frame.kind == FrameKind::Delta {
                        self.seq = frame.seq;
                    }
                    return Some(frame);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.hub.stats.resyncs.inc(Resync::Lagged);
                    return Some(self.resync());
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Starts the client over from a current snapshot, in the view it asked for if any.
    fn resync(&mut self) -> Frame {
        let snapshot = self.hub.snapshot();
        self.seq = snapshot.seq;
        // An older snapshot not sent yet would take the client back.
        self.pending.retain(|frame| frame.kind != FrameKind::Snapshot);
        if let Some(view) = self.wanted.take() {
            self.view = view;
            self.view_changed_at = Some(Instant::now());
            self.hub.stats.ws_view_changes.inc();
        }
        snapshot
    }
}
