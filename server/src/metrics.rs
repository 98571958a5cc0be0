//! Counters of everything that crosses an edge of the server (messages in, rejections,
//! frames out, clients refused, dropped and resynced), served as Prometheus text on
//! `/metrics`. Every rejection, drop, refusal and resync is counted with its reason.
//!
//! Layout:
//! * this file: [`Counter`], [`Gauge`], [`ByReason`] and the server's [`Stats`];
//! * `exposition`: the Prometheus text of them, and which series are trouble;
//! * `reasons`: the closed sets of reasons, with their labels;
//! * `window`: a log line per window that sums up what went wrong in it, instead of a line
//!   per rejected message.
//!
//! Plain atomics with `Relaxed` ordering: each counter is independent and only ever read
//! for reporting, so no ordering between them is needed, and an increment costs one
//! uncontended atomic add on the ingest path.

mod exposition;
pub mod reasons;
pub mod window;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::hfp::RejectKind;
use crate::positions::Upsert;
use reasons::{
    HttpClosed, LookupFallback, Reason, RedisRejection, RedisSkip, ReplayFailure, Resync,
    RowRejection, WsDrop, WsIgnored, WsRefusal,
};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One counter per reason of `R`, each rendered with its label.
#[derive(Debug)]
pub struct ByReason<R: Reason> {
    counts: Box<[Counter]>,
    reasons: PhantomData<R>,
}

impl<R: Reason> Default for ByReason<R> {
    fn default() -> Self {
        Self { counts: R::ALL.iter().map(|_| Counter::default()).collect(), reasons: PhantomData }
    }
}

impl<R: Reason> ByReason<R> {
    pub fn inc(&self, reason: R) {
        self.counter(reason).inc();
    }

    pub fn get(&self, reason: R) -> u64 {
        self.counter(reason).get()
    }

    /// Every reason together.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(Counter::get).sum()
    }

    pub fn counter(&self, reason: R) -> &Counter {
        // The sets are a handful long; a scan is as fast as any map.
        let index = R::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        &self.counts[index]
    }

    fn series(&self) -> Vec<(&'static str, i64)> {
        R::ALL.iter().map(|r| (r.as_str(), self.get(*r) as i64)).collect()
    }
}

/// All of the server's counters. One instance, shared by `Arc`.
#[derive(Debug, Default)]
pub struct Stats {
    /// HFP messages received from the source, valid or not.
    pub messages_received: Counter,
    /// Rejected messages, by [`RejectKind`].
    pub hfp_rejected: ByReason<RejectKind>,
    /// Valid messages of events other than `vp` (doors, stops, ...): parsed, not mapped.
    pub other_events: Counter,
    /// Valid `vp` messages without usable coordinates.
    pub positions_without_coordinates: Counter,
    /// Outcomes of table upserts.
    pub upserts: ByReason<Upsert>,
    /// Vehicles removed for not being heard from.
    pub vehicles_expired: Counter,
    /// Vehicles currently in the table.
    pub vehicles: Gauge,
    /// Frames serialized by the hub (each sent to every client).
    pub frames_published: Counter,
    /// Snapshots serialized (cached per sequence number, so far fewer than clients).
    pub snapshots_built: Counter,
    /// Live clients (`/ws` and `/api/stream`) connected now; WebSocket clients accepted in
    /// total.
    pub ws_clients: Gauge,
    pub ws_accepted: Counter,
    /// Live clients turned away before they began.
    pub ws_refused: ByReason<WsRefusal>,
    /// WebSocket clients dropped after they began.
    pub ws_dropped: ByReason<WsDrop>,
    /// Messages clients sent us that are not a view: counted and ignored.
    pub ws_ignored: ByReason<WsIgnored>,
    /// Views applied: a client zoomed in, out, or panned to other cells.
    pub ws_view_changes: Counter,
    /// Live clients (`/ws` or `/api/stream`) started over from a snapshot.
    pub resyncs: ByReason<Resync>,
    /// HTTP connections the server closed itself, for cause.
    pub http_closed: ByReason<HttpClosed>,
    /// HTTP connections closed because no request began in time: browsers keep sockets
    /// open after a page loads, and open some they never use. Routine, not trouble.
    pub http_idle_closed: Counter,
    /// Failures to accept a connection that were not the connection's own (such as running
    /// out of file descriptors).
    pub http_accept_errors: Counter,
    /// Replays that stopped on an error.
    pub replay_failures: ByReason<ReplayFailure>,
    /// ksqlDB mode: rows that did not map to a position (counted, skipped).
    pub ksqldb_rows_rejected: ByReason<RowRejection>,
    /// ksqlDB mode: push-query sessions started (1 + reconnects).
    pub ksqldb_sessions: Counter,
    /// ksqlDB mode: push queries open now (at most one per server, whatever the clients).
    pub ksqldb_push_queries: Gauge,
    /// Redis keys listed that were not vehicles, skipped.
    pub redis_keys_skipped: ByReason<RedisSkip>,
    /// Redis values that were not position rows, skipped.
    pub redis_values_rejected: ByReason<RedisRejection>,
    /// Lookups the first store could not answer that went to the fallback.
    pub lookup_fallbacks: ByReason<LookupFallback>,
    /// Answers under `/api/`, by status class; and the errors among them by code.
    pub api_ok: Counter,
    pub api_client_errors: Counter,
    pub api_server_errors: Counter,
    pub api_errors: ByReason<app::error::ApiError>,
}

impl Stats {
    /// The counter of `kind`'s rejections.
    pub fn rejected(&self, kind: RejectKind) -> &Counter {
        self.hfp_rejected.counter(kind)
    }

    pub fn upsert(&self, outcome: Upsert) -> &Counter {
        self.upserts.counter(outcome)
    }

    /// Counts one `/api/` answer by its HTTP status.
    pub fn api_response(&self, status: u16) {
        match status {
            200..=299 => self.api_ok.inc(),
            400..=499 => self.api_client_errors.inc(),
            500..=599 => self.api_server_errors.inc(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_counts_on_its_own_and_all_add_up() {
        let stats = Stats::default();
        stats.ws_dropped.inc(WsDrop::Slow);
        stats.ws_dropped.inc(WsDrop::Slow);
        stats.ws_dropped.inc(WsDrop::Protocol);
        assert_eq!(stats.ws_dropped.get(WsDrop::Slow), 2);
        assert_eq!(stats.ws_dropped.get(WsDrop::TooLarge), 0);
        assert_eq!(stats.ws_dropped.total(), 3);
    }

    #[test]
    fn gauges_go_down_as_well_as_up() {
        let stats = Stats::default();
        stats.ws_clients.inc();
        stats.ws_clients.inc();
        stats.ws_clients.dec();
        assert_eq!(stats.ws_clients.get(), 1);
    }
}
