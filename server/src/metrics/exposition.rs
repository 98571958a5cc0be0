//! The Prometheus text exposition of [`Stats`] (version 0.0.4), built from one table of
//! metric families, and the series whose rise means trouble, for the log window.

use std::fmt::Write;

use super::{Counter, Gauge, Stats};

/// One metric and its series, as `/metrics` shows it.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    /// The label the series are split by, if any.
    label: &'static str,
    /// (label value, value); one unlabelled series when `label` is empty.
    series: Vec<(&'static str, i64)>,
    /// Whether its series going up means something is going wrong, summed up per log
    /// window.
    trouble: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

impl Stats {
    fn families(&self) -> Vec<Family> {
        fn one(value: &Counter) -> Vec<(&'static str, i64)> {
            vec![("", value.get() as i64)]
        }
        let family = |name, help, label, series, trouble: bool| Family {
            name,
            help,
            kind: Kind::Counter,
            label,
            series,
            trouble,
        };
        let gauge = |name, help, value: &Gauge| Family {
            name,
            help,
            kind: Kind::Gauge,
            label: "",
            series: vec![("", value.get())],
            trouble: false,
        };
        vec![
            family(
                "transit_hfp_messages_received_total",
                "HFP messages received.",
                "",
                one(&self.messages_received),
                false,
            ),
            family(
                "transit_hfp_messages_rejected_total",
                "Rejected HFP messages by reason.",
                "reason",
                self.hfp_rejected.series(),
                true,
            ),
            family(
                "transit_hfp_other_events_total",
                "Valid HFP messages of events other than vp.",
                "",
                one(&self.other_events),
                false,
            ),
            family(
                "transit_hfp_positions_without_coordinates_total",
                "Valid vp messages without usable coordinates.",
                "",
                one(&self.positions_without_coordinates),
                false,
            ),
            family(
                "transit_upserts_total",
                "Outcomes of latest-position upserts.",
                "outcome",
                self.upserts.series(),
                false,
            ),
            family(
                "transit_vehicles_expired_total",
                "Vehicles removed for not being heard from.",
                "",
                one(&self.vehicles_expired),
                false,
            ),
            family(
                "transit_frames_published_total",
                "Delta frames serialized for /ws.",
                "",
                one(&self.frames_published),
                false,
            ),
            family(
                "transit_snapshots_built_total",
                "Snapshot frames serialized for /ws.",
                "",
                one(&self.snapshots_built),
                false,
            ),
            family(
                "transit_ws_accepted_total",
                "WebSocket clients accepted.",
                "",
                one(&self.ws_accepted),
                false,
            ),
            family(
                "transit_ws_refused_total",
                "Live clients refused before they began, by reason.",
                "reason",
                self.ws_refused.series(),
                true,
            ),
            family(
                "transit_ws_dropped_total",
                "WebSocket clients dropped, by reason.",
                "reason",
                self.ws_dropped.series(),
                true,
            ),
            family(
                "transit_ws_client_messages_ignored_total",
                "Messages from WebSocket clients that are not a view (ignored), by reason.",
                "reason",
                self.ws_ignored.series(),
                true,
            ),
            family(
                "transit_ws_view_changes_total",
                "Views applied to WebSocket clients (zoom in, zoom out, pan to other cells).",
                "",
                one(&self.ws_view_changes),
                false,
            ),
            family(
                "transit_resyncs_total",
                "Live clients (WebSocket or stream) started over from a snapshot, by reason.",
                "reason",
                self.resyncs.series(),
                true,
            ),
            family(
                "transit_http_connections_closed_total",
                "HTTP connections the server closed for cause, by reason.",
                "reason",
                self.http_closed.series(),
                true,
            ),
            family(
                "transit_http_connections_idle_closed_total",
                "HTTP connections closed when no request began within the header deadline \
                 (kept-alive or unused browser sockets: routine).",
                "",
                one(&self.http_idle_closed),
                false,
            ),
            family(
                "transit_http_accept_errors_total",
                "Failures to accept HTTP connections (other than the peer's own).",
                "",
                one(&self.http_accept_errors),
                true,
            ),
            family(
                "transit_replay_failures_total",
                "Replays stopped by an error, by reason.",
                "reason",
                self.replay_failures.series(),
                true,
            ),
            family(
                "transit_ksqldb_rows_rejected_total",
                "ksqlDB rows that were not usable positions, by reason.",
                "reason",
                self.ksqldb_rows_rejected.series(),
                true,
            ),
            family(
                "transit_ksqldb_sessions_total",
                "ksqlDB push-query sessions started.",
                "",
                one(&self.ksqldb_sessions),
                false,
            ),
            // The sink's offset keys are skipped on every listing: expected, not trouble.
            family(
                "transit_redis_keys_skipped_total",
                "Redis keys that were not vehicles (skipped), by reason.",
                "reason",
                self.redis_keys_skipped.series(),
                false,
            ),
            family(
                "transit_redis_values_rejected_total",
                "Redis values that were not position rows (skipped), by reason.",
                "reason",
                self.redis_values_rejected.series(),
                true,
            ),
            // Misses are routine and errors are reported by the Redis watch as they begin.
            family(
                "transit_lookup_fallbacks_total",
                "Lookups answered by the fallback store, by reason.",
                "reason",
                self.lookup_fallbacks.series(),
                false,
            ),
            family(
                "transit_api_responses_total",
                "Server function answers by status class.",
                "class",
                vec![
                    ("2xx", self.api_ok.get() as i64),
                    ("4xx", self.api_client_errors.get() as i64),
                    ("5xx", self.api_server_errors.get() as i64),
                ],
                false,
            ),
            family(
                "transit_api_errors_total",
                "Error answers under /api/, by error code.",
                "code",
                self.api_errors.series(),
                true,
            ),
            gauge("transit_vehicles", "Vehicles in the latest-positions table.", &self.vehicles),
            gauge(
                "transit_ws_clients",
                "Live clients connected (WebSocket and /api/stream).",
                &self.ws_clients,
            ),
            gauge(
                "transit_ksqldb_push_queries",
                "ksqlDB push queries open.",
                &self.ksqldb_push_queries,
            ),
        ]
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        for family in self.families() {
            let Family { name, help, kind, label, series, .. } = family;
            let kind = if kind == Kind::Counter { "counter" } else { "gauge" };
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (value_label, value) in series {
                if label.is_empty() {
                    let _ = writeln!(out, "{name} {value}");
                } else {
                    let _ = writeln!(out, "{name}{{{label}=\"{value_label}\"}} {value}");
                }
            }
        }
        out
    }

    /// Every series whose increase means something went wrong, as
    /// (`name{label="value"}`, count), in a fixed order: what [`window`] sums up.
    pub fn troubles(&self) -> Vec<(String, u64)> {
        let mut troubles = Vec::new();
        for family in self.families().into_iter().filter(|f| f.trouble) {
            let short = family.name.trim_start_matches("transit_").trim_end_matches("_total");
            for (value_label, value) in family.series {
                let key = if family.label.is_empty() {
                    short.to_owned()
                } else {
                    format!("{short}{{{}={value_label}}}", family.label)
                };
                troubles.push((key, u64::try_from(value).unwrap_or(0)));
            }
        }
        troubles
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hfp::RejectKind;
    use crate::metrics::reasons::{HttpClosed, Resync, WsDrop, WsRefusal};

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
    fn drops_refusals_and_resyncs_say_why() {
        let stats = Stats::default();
        stats.ws_dropped.inc(WsDrop::Slow);
        stats.ws_refused.inc(WsRefusal::Origin);
        stats.resyncs.inc(Resync::Lagged);
        stats.http_closed.inc(HttpClosed::WriteStall);
        let text = stats.render();
        for line in [
            "transit_ws_dropped_total{reason=\"slow\"} 1\n",
            "transit_ws_dropped_total{reason=\"protocol\"} 0\n",
            "transit_ws_refused_total{reason=\"origin\"} 1\n",
            "transit_resyncs_total{reason=\"lagged\"} 1\n",
            "transit_http_connections_closed_total{reason=\"write_stall\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn every_family_has_help_and_type_once() {
        let text = Stats::default().render();
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = line.split(' ').nth(2).expect("a name");
            assert_eq!(text.matches(&format!("# TYPE {name} ")).count(), 1, "{name}");
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        }
    }

    #[test]
    fn troubles_list_every_labelled_series_of_the_families_that_are_trouble() {
        let stats = Stats::default();
        stats.ws_dropped.inc(WsDrop::TooLarge);
        let troubles = stats.troubles();
        assert!(troubles.contains(&("ws_dropped{reason=too_large}".to_owned(), 1)));
        assert!(troubles.contains(&("http_accept_errors".to_owned(), 0)));
        assert!(!troubles.iter().any(|(key, _)| key.starts_with("upserts")), "not trouble");
        assert!(troubles.contains(&("api_errors{code=vehicle_not_found}".to_owned(), 0)));
    }

    #[test]
    fn gauges_are_rendered_as_gauges() {
        let stats = Stats::default();
        stats.ws_clients.inc();
        let text = stats.render();
        assert!(text.contains("# TYPE transit_ws_clients gauge\ntransit_ws_clients 1\n"));
    }
}
