//! Counters of everything that crosses an edge of the server (messages in, rejections by
//! reason, frames out, WebSocket clients), served as Prometheus text on `/metrics`.
//!
//! Plain atomics with `Relaxed` ordering: each counter is independent and only ever read
//! for reporting, so no ordering between them is needed, and an increment costs one
//! uncontended atomic add on the ingest path.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::hfp::RejectKind;
use crate::positions::Upsert;

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

/// All of the server's counters. One instance, shared by `Arc`.
#[derive(Debug, Default)]
pub struct Stats {
    /// HFP messages received from the source, valid or not.
    pub messages_received: Counter,
    /// Rejected messages, one counter per [`RejectKind`] (indexed by its position in `ALL`).
    rejected: [Counter; RejectKind::ALL.len()],
    /// Valid messages of events other than `vp` (doors, stops, ...): parsed, not mapped.
    pub other_events: Counter,
    /// Valid `vp` messages without usable coordinates.
    pub positions_without_coordinates: Counter,
    /// Outcomes of table upserts, one counter per [`Upsert`].
    pub upserts_inserted: Counter,
    pub upserts_moved: Counter,
    pub upserts_refreshed: Counter,
    pub upserts_duplicate: Counter,
    pub upserts_stale: Counter,
    /// Vehicles removed for not being heard from.
    pub vehicles_expired: Counter,
    /// Vehicles currently in the table.
    pub vehicles: Gauge,
    /// Frames serialized by the hub (each sent to every client).
    pub frames_published: Counter,
    /// Snapshots serialized (cached per sequence number, so far fewer than clients).
    pub snapshots_built: Counter,
    /// Live clients (`/ws` and `/api/stream`) connected now; WebSocket clients accepted in
    /// total; live clients refused for being over the cap.
    pub ws_clients: Gauge,
    pub ws_accepted: Counter,
    pub ws_refused_full: Counter,
    /// WebSocket clients refused because their page's origin is not allowed.
    pub ws_refused_origin: Counter,
    /// WebSocket requests refused for a malformed `view` parameter.
    pub ws_refused_bad_request: Counter,
    /// Live clients (`/ws` or `/api/stream`) that fell behind the broadcast and were
    /// resynced with a snapshot.
    pub resyncs: Counter,
    /// Clients dropped because a send did not complete in time.
    pub ws_slow_dropped: Counter,
    /// HTTP connections closed for not sending a request's headers in time (half-sent
    /// requests, silent or idle connections).
    pub http_header_timeouts: Counter,
    /// HTTP connections closed because a write made no progress in time: the client
    /// stopped reading.
    pub http_write_stalls: Counter,
    /// Connections closed on arrival because their address had as many open as it may.
    pub http_refused_per_address: Counter,
    /// Failures to accept a connection that were not the connection's own (such as running
    /// out of file descriptors).
    pub http_accept_errors: Counter,
    /// WebSocket clients closed for breaking the protocol or the message size limit.
    pub ws_client_errors: Counter,
    /// Messages clients sent us that are not a view (`app::wire::client`): counted and
    /// ignored.
    pub ws_client_messages_ignored: Counter,
    /// Views applied: a client zoomed in, out, or panned to other cells.
    pub ws_view_changes: Counter,
    /// Replays that stopped on an error (a missing or corrupt recording).
    pub replay_failures: Counter,
    /// ksqlDB mode: rows that did not map to a position (counted, skipped).
    pub ksqldb_rows_rejected: Counter,
    /// ksqlDB mode: push-query sessions started (1 + reconnects).
    pub ksqldb_sessions: Counter,
    /// ksqlDB mode: push queries open now (at most one per server, whatever the clients).
    pub ksqldb_push_queries: Gauge,
    /// Redis keys listed that were not vehicles (the sink's offset keys), skipped.
    pub redis_keys_skipped: Counter,
    /// Redis values that were not position rows, skipped.
    pub redis_values_rejected: Counter,
    /// Lookups the first store could not answer (miss or down) that went to the fallback.
    pub lookup_fallbacks: Counter,
    /// Answers of the server functions under `/api/`, by status class.
    pub api_ok: Counter,
    pub api_client_errors: Counter,
    pub api_server_errors: Counter,
}

impl Stats {
    pub fn rejected(&self, kind: RejectKind) -> &Counter {
        let index = RejectKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        &self.rejected[index]
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

    pub fn upsert(&self, outcome: Upsert) -> &Counter {
        match outcome {
            Upsert::Inserted => &self.upserts_inserted,
            Upsert::Moved => &self.upserts_moved,
            Upsert::Refreshed => &self.upserts_refreshed,
            Upsert::Duplicate => &self.upserts_duplicate,
            Upsert::Stale => &self.upserts_stale,
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            "transit_hfp_messages_received_total",
            "HFP messages received.",
            self.messages_received.get(),
        );
        counter(
            "transit_hfp_other_events_total",
            "Valid HFP messages of events other than vp.",
            self.other_events.get(),
        );
        counter(
            "transit_hfp_positions_without_coordinates_total",
            "Valid vp messages without usable coordinates.",
            self.positions_without_coordinates.get(),
        );
        counter(
            "transit_vehicles_expired_total",
            "Vehicles removed for not being heard from.",
            self.vehicles_expired.get(),
        );
        counter(
            "transit_frames_published_total",
            "Delta frames serialized for /ws.",
            self.frames_published.get(),
        );
        counter(
            "transit_snapshots_built_total",
            "Snapshot frames serialized for /ws.",
            self.snapshots_built.get(),
        );
        counter(
            "transit_ksqldb_rows_rejected_total",
            "ksqlDB rows that were not usable positions.",
            self.ksqldb_rows_rejected.get(),
        );
        counter(
            "transit_ksqldb_sessions_total",
            "ksqlDB push-query sessions started.",
            self.ksqldb_sessions.get(),
        );
        counter(
            "transit_replay_failures_total",
            "Replays stopped by an error in the recording.",
            self.replay_failures.get(),
        );
        counter(
            "transit_redis_keys_skipped_total",
            "Redis keys that were not vehicles (skipped).",
            self.redis_keys_skipped.get(),
        );
        counter(
            "transit_redis_values_rejected_total",
            "Redis values that were not position rows (skipped).",
            self.redis_values_rejected.get(),
        );
        counter(
            "transit_lookup_fallbacks_total",
            "Lookups answered by the fallback store.",
            self.lookup_fallbacks.get(),
        );
        counter("transit_ws_accepted_total", "WebSocket clients accepted.", self.ws_accepted.get());
        counter(
            "transit_ws_refused_full_total",
            "WebSocket clients refused at the connection cap.",
            self.ws_refused_full.get(),
        );
        counter(
            "transit_ws_refused_origin_total",
            "WebSocket clients refused for their page's origin.",
            self.ws_refused_origin.get(),
        );
        counter(
            "transit_ws_refused_bad_request_total",
            "WebSocket requests refused for a malformed view parameter.",
            self.ws_refused_bad_request.get(),
        );
        counter(
            "transit_resyncs_total",
            "Lagging live clients (WebSocket or stream) resynced from a snapshot.",
            self.resyncs.get(),
        );
        counter(
            "transit_ws_slow_dropped_total",
            "WebSocket clients dropped for not reading.",
            self.ws_slow_dropped.get(),
        );
        counter(
            "transit_http_header_timeouts_total",
            "HTTP connections closed for not sending request headers in time.",
            self.http_header_timeouts.get(),
        );
        counter(
            "transit_http_write_stalls_total",
            "HTTP connections closed because the client stopped reading.",
            self.http_write_stalls.get(),
        );
        counter(
            "transit_http_refused_per_address_total",
            "Connections closed on arrival: their address was at its cap.",
            self.http_refused_per_address.get(),
        );
        counter(
            "transit_http_accept_errors_total",
            "Failures to accept HTTP connections (other than the peer's own).",
            self.http_accept_errors.get(),
        );
        counter(
            "transit_ws_client_errors_total",
            "WebSocket clients closed for a protocol error or an oversized message.",
            self.ws_client_errors.get(),
        );
        counter(
            "transit_ws_client_messages_ignored_total",
            "Messages sent by WebSocket clients that are not a view (ignored).",
            self.ws_client_messages_ignored.get(),
        );
        counter(
            "transit_ws_view_changes_total",
            "Views applied to WebSocket clients (zoom in, zoom out, pan to other cells).",
            self.ws_view_changes.get(),
        );

        out.push_str(
            "# HELP transit_hfp_messages_rejected_total Rejected HFP messages by reason.\n",
        );
        out.push_str("# TYPE transit_hfp_messages_rejected_total counter\n");
        for kind in RejectKind::ALL {
            let _ = writeln!(
                out,
                "transit_hfp_messages_rejected_total{{reason=\"{}\"}} {}",
                kind.as_str(),
                self.rejected(kind).get()
            );
        }
        out.push_str("# HELP transit_upserts_total Outcomes of latest-position upserts.\n");
        out.push_str("# TYPE transit_upserts_total counter\n");
        for (outcome, value) in [
            ("inserted", &self.upserts_inserted),
            ("moved", &self.upserts_moved),
            ("refreshed", &self.upserts_refreshed),
            ("duplicate", &self.upserts_duplicate),
            ("stale", &self.upserts_stale),
        ] {
            let _ = writeln!(out, "transit_upserts_total{{outcome=\"{outcome}\"}} {}", value.get());
        }
        out.push_str(
            "# HELP transit_api_responses_total Server function answers by status class.\n",
        );
        out.push_str("# TYPE transit_api_responses_total counter\n");
        for (class, value) in [
            ("2xx", &self.api_ok),
            ("4xx", &self.api_client_errors),
            ("5xx", &self.api_server_errors),
        ] {
            let _ =
                writeln!(out, "transit_api_responses_total{{class=\"{class}\"}} {}", value.get());
        }
        for (name, help, value) in [
            ("transit_vehicles", "Vehicles in the latest-positions table.", self.vehicles.get()),
            (
                "transit_ws_clients",
                "Live clients connected (WebSocket and /api/stream).",
                self.ws_clients.get(),
            ),
            (
                "transit_ksqldb_push_queries",
                "ksqlDB push queries open.",
                self.ksqldb_push_queries.get(),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rejection_reason_has_its_own_labelled_counter() {
        let stats = Stats::default();
        stats.rejected(RejectKind::Json).inc();
        stats.rejected(RejectKind::Json).inc();
        stats.rejected(RejectKind::TooLarge).inc();
        let text = stats.render();
        assert!(
            text.contains("transit_hfp_messages_rejected_total{reason=\"json\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("transit_hfp_messages_rejected_total{reason=\"too_large\"} 1\n"));
        assert!(text.contains("transit_hfp_messages_rejected_total{reason=\"topic\"} 0\n"));
    }

    #[test]
    fn gauges_go_down_as_well_as_up() {
        let stats = Stats::default();
        stats.ws_clients.inc();
        stats.ws_clients.inc();
        stats.ws_clients.dec();
        assert!(stats.render().contains("\ntransit_ws_clients 1\n"));
    }
}
