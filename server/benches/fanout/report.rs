//! From client logs and `/proc` readings to the figures: one [`Run`] per server run, a
//! [`Summary`] of medians across pairs with the ratios against the baseline.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::client::{ClientLog, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Baseline,
    Candidate,
    /// The candidate with clients that never read connected too.
    WithStalled,
    /// The candidate with clients zoomed in (`views`).
    Views,
}

/// What one run produced, before it is reduced.
pub struct Measured {
    pub variant: Variant,
    pub pair: usize,
    pub logs: Vec<ClientLog>,
    pub failed: usize,
    pub connect_s: f64,
    pub window: (Duration, Duration),
    pub cpu_s: f64,
    pub rss_before: u64,
    pub rss_connected: u64,
    pub rss_end: u64,
    pub stalled: usize,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub variant: Variant,
    pub pair: usize,
    pub clients: usize,
    pub failed_to_connect: usize,
    pub dropped: usize,
    pub stalled: usize,
    pub connect_s: f64,
    pub window_s: f64,
    pub frames_per_client_s: f64,
    pub bytes_per_client_s: f64,
    /// Per group of `views::GROUPS` (only the first in runs without views).
    pub bytes_per_client_s_by_group: Vec<f64>,
    pub resyncs: u64,
    /// Server CPU in use during the window, in cores.
    pub server_cores: f64,
    pub frames_per_core_s: f64,
    pub rss_before_mb: f64,
    pub rss_connected_mb: f64,
    pub rss_end_mb: f64,
    pub kib_per_connection: f64,
    /// Deltas in the window that every connected client received, and the rest.
    pub deltas_complete: usize,
    pub deltas_incomplete: usize,
    pub skew_p50_ms: f64,
    pub skew_p99_ms: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

impl Run {
    pub fn from_logs(m: Measured) -> Self {
        let (start, end) = (m.window.0.as_micros() as u64, m.window.1.as_micros() as u64);
        let window_s = (m.window.1 - m.window.0).as_secs_f64();
        let clients = m.logs.len();
        let dropped = m.logs.iter().filter(|log| log.dropped).count();
        let (mut frames, mut bytes, mut resyncs) = (0u64, 0u64, 0u64);
        let mut latencies = Vec::new();
        // seq → (first arrival, last arrival, clients that got it)
        let mut arrivals: HashMap<u64, (u64, u64, usize)> = HashMap::new();
        for frame in m.logs.iter().flat_map(|log| &log.frames) {
            if !(start..end).contains(&frame.at_us) {
                continue;
            }
            frames += 1;
            bytes += u64::from(frame.bytes);
            match frame.kind {
                Kind::Delta { seq, latency_ms } => {
                    let entry = arrivals.entry(seq).or_insert((u64::MAX, 0, 0));
                    entry.0 = entry.0.min(frame.at_us);
                    entry.1 = entry.1.max(frame.at_us);
                    entry.2 += 1;
                    latencies.extend(latency_ms);
                }
                Kind::Snapshot => resyncs += 1,
                Kind::Status | Kind::Undecodable => {}
            }
        }
        // A delta at the window's edge reached some clients inside it and some after:
        // only deltas every client got inside the window have a skew.
        let everyone = clients - dropped;
        let mut skews: Vec<f64> = arrivals
            .values()
            .filter(|(_, _, count)| *count == everyone)
            .map(|(first, last, _)| (last - first) as f64 / 1e3)
            .collect();
        let deltas_complete = skews.len();
        let mut latencies: Vec<f64> = latencies.into_iter().map(f64::from).collect();
        let groups = m.logs.iter().map(|log| log.group + 1).max().unwrap_or(1);
        let bytes_per_client_s_by_group = (0..groups)
            .map(|group| {
                let members: Vec<&ClientLog> =
                    m.logs.iter().filter(|log| log.group == group).collect();
                let bytes: u64 = members
                    .iter()
                    .flat_map(|log| &log.frames)
                    .filter(|frame| (start..end).contains(&frame.at_us))
                    .map(|frame| u64::from(frame.bytes))
                    .sum();
                bytes as f64 / members.len().max(1) as f64 / window_s
            })
            .collect();
        let mb = |bytes: u64| bytes as f64 / 1e6;
        Self {
            variant: m.variant,
            pair: m.pair,
            clients,
            failed_to_connect: m.failed,
            dropped,
            stalled: m.stalled,
            connect_s: m.connect_s,
            window_s,
            frames_per_client_s: frames as f64 / clients.max(1) as f64 / window_s,
            bytes_per_client_s: bytes as f64 / clients.max(1) as f64 / window_s,
            bytes_per_client_s_by_group,
            resyncs,
            server_cores: m.cpu_s / window_s,
            frames_per_core_s: frames as f64 / m.cpu_s.max(1e-3),
            rss_before_mb: mb(m.rss_before),
            rss_connected_mb: mb(m.rss_connected),
            rss_end_mb: mb(m.rss_end),
            kib_per_connection: m.rss_connected.saturating_sub(m.rss_before) as f64
                / 1024.0
                / (clients + m.stalled).max(1) as f64,
            deltas_complete,
            deltas_incomplete: arrivals.len() - deltas_complete,
            skew_p50_ms: percentile(&mut skews, 0.50).unwrap_or(f64::NAN),
            skew_p99_ms: percentile(&mut skews, 0.99).unwrap_or(f64::NAN),
            latency_p50_ms: percentile(&mut latencies, 0.50),
            latency_p99_ms: percentile(&mut latencies, 0.99),
        }
    }

    /// One line for the progress log.
    pub fn line(&self) -> String {
        format!(
            "pair {} {:?}: {} clients ({} failed, {} dropped) connected in {:.1} s; \
             {:.2} frames/s and {:.0} B/s per client; server {:.2} cores, {:.0} frames/s per core; \
             RSS {:.0} → {:.0} MB ({:.1} KiB per connection); skew p50 {:.1} p99 {:.1} ms; \
             latency p50 {} p99 {} ms; {} resyncs",
            self.pair,
            self.variant,
            self.clients,
            self.failed_to_connect,
            self.dropped,
            self.connect_s,
            self.frames_per_client_s,
            self.bytes_per_client_s,
            self.server_cores,
            self.frames_per_core_s,
            self.rss_before_mb,
            self.rss_connected_mb,
            self.kib_per_connection,
            self.skew_p50_ms,
            self.skew_p99_ms,
            show(self.latency_p50_ms),
            show(self.latency_p99_ms),
            self.resyncs,
        )
    }
}

/// Medians across pairs.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub baseline_frames_per_core_s: f64,
    pub candidate_frames_per_core_s: f64,
    /// Median of the per-pair ratios candidate / baseline (goal ≥ 0.8).
    pub frames_per_core_ratio: f64,
    pub skew_p99_ms: f64,
    /// The baseline's skew: what the machine and the load generator add by themselves.
    pub baseline_skew_p99_ms: f64,
    pub latency_p99_ms: Option<f64>,
    /// The baseline's receipt-to-client time counts from its tick: delivery alone.
    pub baseline_delivery_p99_ms: Option<f64>,
    pub kib_per_connection: f64,
    pub baseline_kib_per_connection: f64,
    pub bytes_per_client_s: f64,
    pub dropped: usize,
    pub failed_to_connect: usize,
    /// With clients that never read: the others' p99 latency over the plain run's, and
    /// memory per stalled client.
    pub stalled_latency_p99_ratio: Option<f64>,
    pub stalled_skew_p99_ratio: Option<f64>,
    pub stalled_kib_each: Option<f64>,
    /// With clients zoomed in (`--views`): bytes per client per second by group, medians.
    pub views_bytes_per_client_s: Option<Vec<f64>>,
    /// The city centre at zoom 15 against the whole fleet in the same run: bytes saved.
    pub views_centre_saved: Option<f64>,
    /// Server CPU with a quarter each of the groups over the plain run's (all whole fleet).
    pub views_cpu_ratio: Option<f64>,
}

pub fn summarize(runs: &[Run], stalled: usize) -> Summary {
    let of = |variant| runs.iter().filter(move |run: &&Run| run.variant == variant);
    let median_of = |variant, figure: fn(&Run) -> f64| {
        let mut values: Vec<f64> = of(variant).map(figure).collect();
        percentile(&mut values, 0.5).unwrap_or(f64::NAN)
    };
    let paired = |figure: fn(&Run, &Run) -> Option<f64>, other: Variant| {
        let mut ratios: Vec<f64> = of(Variant::Candidate)
            .filter_map(|candidate| {
                let twin = of(other).find(|run| run.pair == candidate.pair)?;
                figure(candidate, twin)
            })
            .collect();
        percentile(&mut ratios, 0.5)
    };
    Summary {
        baseline_frames_per_core_s: median_of(Variant::Baseline, |r| r.frames_per_core_s),
        candidate_frames_per_core_s: median_of(Variant::Candidate, |r| r.frames_per_core_s),
        frames_per_core_ratio: paired(
            |c, b| Some(c.frames_per_core_s / b.frames_per_core_s),
            Variant::Baseline,
        )
        .unwrap_or(f64::NAN),
        skew_p99_ms: median_of(Variant::Candidate, |r| r.skew_p99_ms),
        baseline_skew_p99_ms: median_of(Variant::Baseline, |r| r.skew_p99_ms),
        latency_p99_ms: Some(median_of(Variant::Candidate, |r| {
            r.latency_p99_ms.unwrap_or(f64::NAN)
        })),
        baseline_delivery_p99_ms: Some(median_of(Variant::Baseline, |r| {
            r.latency_p99_ms.unwrap_or(f64::NAN)
        })),
        kib_per_connection: median_of(Variant::Candidate, |r| r.kib_per_connection),
        baseline_kib_per_connection: median_of(Variant::Baseline, |r| r.kib_per_connection),
        bytes_per_client_s: median_of(Variant::Candidate, |r| r.bytes_per_client_s),
        dropped: runs.iter().filter(|r| r.variant == Variant::Candidate).map(|r| r.dropped).sum(),
        failed_to_connect: runs.iter().map(|r| r.failed_to_connect).sum(),
        stalled_latency_p99_ratio: paired(
            |c, s| Some(s.latency_p99_ms? / c.latency_p99_ms?),
            Variant::WithStalled,
        ),
        stalled_skew_p99_ratio: paired(
            |c, s| Some(s.skew_p99_ms / c.skew_p99_ms),
            Variant::WithStalled,
        ),
        stalled_kib_each: paired(
            |c, s| {
                let grown = (s.rss_connected_mb - c.rss_connected_mb) * 1e6 / 1024.0;
                Some(grown / s.stalled.max(1) as f64)
            },
            Variant::WithStalled,
        )
        .filter(|_| stalled > 0),
        views_bytes_per_client_s: of(Variant::Views).next().map(|first| {
            (0..first.bytes_per_client_s_by_group.len())
                .map(|group| {
                    let mut values: Vec<f64> = of(Variant::Views)
                        .filter_map(|run| run.bytes_per_client_s_by_group.get(group).copied())
                        .collect();
                    percentile(&mut values, 0.5).unwrap_or(f64::NAN)
                })
                .collect()
        }),
        views_centre_saved: {
            let mut saved: Vec<f64> = of(Variant::Views)
                .filter_map(|run| match run.bytes_per_client_s_by_group[..] {
                    [whole, centre, ..] if whole > 0.0 => Some(1.0 - centre / whole),
                    _ => None,
                })
                .collect();
            percentile(&mut saved, 0.5)
        },
        views_cpu_ratio: paired(|c, v| Some(v.server_cores / c.server_cores), Variant::Views),
    }
}

impl Summary {
    /// The summary as a Markdown table.
    pub fn table(&self) -> String {
        let mut rows = vec![
            "| Figure | transit-stream | Baseline | Goal |".to_owned(),
            "| --- | --- | --- | --- |".to_owned(),
            format!(
                "| Frames/s per core | {:.0} ({:.2}×) | {:.0} | ≥ 0.8× |",
                self.candidate_frames_per_core_s,
                self.frames_per_core_ratio,
                self.baseline_frames_per_core_s
            ),
            format!(
                "| Delivery skew p99 | {:.1} ms | {:.1} ms | ≤ 100 ms |",
                self.skew_p99_ms, self.baseline_skew_p99_ms
            ),
            format!(
                "| Receipt to client p99 (baseline: tick to client) | {} ms | {} ms | ≤ tick + 25 ms |",
                show(self.latency_p99_ms),
                show(self.baseline_delivery_p99_ms)
            ),
            format!(
                "| Memory per connection | {:.1} KiB | {:.1} KiB | ≤ 16 KiB |",
                self.kib_per_connection, self.baseline_kib_per_connection
            ),
            format!("| Bytes per client per second | {:.0} | | |", self.bytes_per_client_s),
            format!(
                "| Clients dropped / failed to connect | {} / {} | | 0 |",
                self.dropped, self.failed_to_connect
            ),
        ];
        if let Some(kib) = self.stalled_kib_each {
            rows.push(format!(
                "| With stalled clients: others' p99 latency, skew | {}×, {}× | | < 1.1× |",
                show_ratio(self.stalled_latency_p99_ratio),
                show_ratio(self.stalled_skew_p99_ratio)
            ));
            rows.push(format!("| Memory per stalled client | {kib:.1} KiB | | bounded |"));
        }
        if let Some(groups) = &self.views_bytes_per_client_s {
            let each: Vec<String> = crate::views::GROUPS
                .iter()
                .zip(groups)
                .map(|(name, bytes)| format!("{name} {bytes:.0}"))
                .collect();
            rows.push(format!(
                "| Zoomed-in clients: bytes/s per client | {} | | |",
                each.join(", ")
            ));
            rows.push(format!(
                "| City centre at zoom 15: bytes saved against the whole fleet | {} | | |",
                self.views_centre_saved.map_or("–".to_owned(), |s| format!("{:.0} %", s * 100.0))
            ));
            rows.push(format!(
                "| Server CPU, mixed views over all whole fleet | {}× | | |",
                show_ratio(self.views_cpu_ratio)
            ));
        }
        rows.join("\n")
    }
}

/// The value at `q` (0..=1) of `values`, nearest rank; `None` when empty.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    let values: &mut [f64] = values;
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"))
}

fn show_ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

/// The machine, as `docs/BENCHMARKS.md` describes it.
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown", |(_, name)| name.trim());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    serde_json::json!({ "cpu": model, "cores": cores })
}
