//! Whether the server can answer with data (`/readyz`), and if not, which upstream it is
//! waiting for: always ready in embedded mode with the simulator; with the live feed once
//! subscribed; in ksqlDB mode once the bridge has loaded a snapshot, and not while it is
//! reconnecting; never after a replay failed.
//!
//! Also what is *degraded* without making the server unready: Redis, whose lookups the
//! fallback store answers while it is away. And how often each upstream was lost, by
//! reason, for `/metrics`: every loss is counted here, where it is also reported.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// An upstream the server can be waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// The live MQTT feed (HSL's broker or another).
    Mqtt,
    /// ksqlDB's push query (full stack).
    Ksqldb,
    /// The recording being replayed, which failed.
    Replay,
    /// Redis, for lookups (`--redis-url`): degrades the server, never makes it unready.
    Redis,
}

impl Upstream {
    const ALL: [Self; 4] = [Self::Mqtt, Self::Ksqldb, Self::Replay, Self::Redis];

    /// Stable name, as `/readyz` says it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Mqtt => "mqtt",
            Self::Ksqldb => "ksqldb",
            Self::Replay => "replay",
            Self::Redis => "redis",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|u| *u == self).unwrap_or(0)
    }
}

/// A shared flag with the upstream that cleared it, the degraded upstreams and the loss
/// counts. The flags are `Relaxed` atomics: they are a status report, and nothing else is
/// published through them. Where the flag must agree with the table (the ksqlDB bridge's
/// reload), it is set under the table's lock, which orders it. Losses are rare (a
/// reconnect, not a message), so a mutex is fine.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// [`READY`], or 1 + the place in `ALL` of the upstream waited for.
    down: AtomicU8,
    /// One bit per place in `ALL`.
    degraded: AtomicU8,
    /// The upstreams this server uses (for `/metrics`), one bit each.
    used: AtomicU8,
    /// (upstream, reason) → losses.
    losses: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

const READY: u8 = 0;

impl Readiness {
    /// Ready from the start.
    pub fn ready() -> Self {
        Self(Arc::new(Inner {
            down: AtomicU8::new(READY),
            degraded: AtomicU8::new(0),
            used: AtomicU8::new(0),
            losses: Mutex::default(),
        }))
    }

    /// Not ready until `upstream` delivers.
    pub fn waiting_for(upstream: Upstream) -> Self {
        let readiness = Self::ready();
        readiness.down(upstream);
        readiness
    }

    /// This server depends on `upstream`: `/metrics` reports whether it is up.
    pub fn uses(&self, upstream: Upstream) {
        self.0.used.fetch_or(1 << upstream.index(), Ordering::Relaxed);
    }

    pub fn up(&self) {
        self.0.down.store(READY, Ordering::Relaxed);
    }

    /// Not ready, because of `upstream`.
    pub fn down(&self, upstream: Upstream) {
        self.0.down.store(1 + upstream.index() as u8, Ordering::Relaxed);
    }

    /// Not ready: `upstream` was lost for `reason` (a stable label: `io`, `timeout`,
    /// `no_ping_response`, ...). Counted for `/metrics`.
    pub fn lost(&self, upstream: Upstream, reason: &'static str) {
        self.down(upstream);
        self.count_loss(upstream, reason);
    }

    /// Still ready, but `upstream` is away for `reason` (counted), until [`Self::restored`].
    /// Returns whether this is news: it was not degraded already.
    pub fn degrade(&self, upstream: Upstream, reason: &'static str) -> bool {
        let bit = 1 << upstream.index();
        let before = self.0.degraded.fetch_or(bit, Ordering::Relaxed);
        let news = before & bit == 0;
        if news {
            self.count_loss(upstream, reason);
        }
        news
    }

    /// `upstream` is back. Returns whether it had been degraded.
    pub fn restored(&self, upstream: Upstream) -> bool {
        let bit = 1 << upstream.index();
        self.0.degraded.fetch_and(!bit, Ordering::Relaxed) & bit != 0
    }

    /// The upstreams away that do not make the server unready.
    pub fn degraded(&self) -> Vec<Upstream> {
        let bits = self.0.degraded.load(Ordering::Relaxed);
        Upstream::ALL.into_iter().filter(|u| bits & (1 << u.index()) != 0).collect()
    }

    fn count_loss(&self, upstream: Upstream, reason: &'static str) {
        let mut losses = self.0.losses.lock().unwrap_or_else(PoisonError::into_inner);
        *losses.entry((upstream.as_str(), reason)).or_default() += 1;
    }

    /// The Prometheus text of the upstreams: losses by upstream and reason, and a gauge
    /// per upstream this server uses (1 up, 0 down or degraded).
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str(
            "# HELP transit_upstream_losses_total Connections to an upstream lost, by reason.\n",
        );
        out.push_str("# TYPE transit_upstream_losses_total counter\n");
        let losses = self.0.losses.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for ((upstream, reason), count) in losses {
            let _ = writeln!(
                out,
                "transit_upstream_losses_total{{upstream=\"{upstream}\",reason=\"{reason}\"}} {count}"
            );
        }
        out.push_str("# HELP transit_upstream_up Whether an upstream is serving (1) or not (0).\n");
        out.push_str("# TYPE transit_upstream_up gauge\n");
        let (down, degraded) = (self.down_upstream(), self.degraded());
        let used = self.0.used.load(Ordering::Relaxed);
        for upstream in Upstream::ALL.into_iter().filter(|u| used & (1 << u.index()) != 0) {
            let up = down != Some(upstream) && !degraded.contains(&upstream);
            let _ = writeln!(
                out,
                "transit_upstream_up{{upstream=\"{}\"}} {}",
                upstream.as_str(),
                u8::from(up)
            );
        }
    }

    pub fn is_ready(&self) -> bool {
        self.down_upstream().is_none()
    }

    /// The upstream the server is waiting for, if any.
    pub fn down_upstream(&self) -> Option<Upstream> {
        let value = self.0.down.load(Ordering::Relaxed);
        Upstream::ALL.get(usize::from(value.checked_sub(1)?)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_says_which_upstream_it_waits_for() {
        let readiness = Readiness::ready();
        assert!(readiness.is_ready());
        for upstream in Upstream::ALL {
            readiness.down(upstream);
            assert!(!readiness.is_ready());
            assert_eq!(readiness.down_upstream(), Some(upstream));
        }
        readiness.up();
        assert_eq!(readiness.down_upstream(), None);
        assert_eq!(
            Readiness::waiting_for(Upstream::Ksqldb).down_upstream(),
            Some(Upstream::Ksqldb)
        );
    }

    #[test]
    fn a_degraded_upstream_leaves_the_server_ready_and_is_counted_once_per_outage() {
        let readiness = Readiness::ready();
        assert!(readiness.degrade(Upstream::Redis, "timeout"));
        assert!(!readiness.degrade(Upstream::Redis, "timeout"), "the same outage");
        assert!(readiness.is_ready());
        assert_eq!(readiness.degraded(), [Upstream::Redis]);
        assert!(readiness.restored(Upstream::Redis));
        assert!(!readiness.restored(Upstream::Redis));
        assert!(readiness.degraded().is_empty());
        let mut text = String::new();
        readiness.render_metrics(&mut text);
        assert!(text.contains("{upstream=\"redis\",reason=\"timeout\"} 1\n"), "{text}");
    }

    #[test]
    fn losses_are_labelled_by_upstream_and_reason() {
        let readiness = Readiness::ready();
        readiness.uses(Upstream::Mqtt);
        readiness.lost(Upstream::Mqtt, "no_ping_response");
        readiness.lost(Upstream::Mqtt, "no_ping_response");
        readiness.lost(Upstream::Mqtt, "io");
        assert_eq!(readiness.down_upstream(), Some(Upstream::Mqtt));
        let mut text = String::new();
        readiness.render_metrics(&mut text);
        assert!(
            text.contains(
                "transit_upstream_losses_total{upstream=\"mqtt\",reason=\"no_ping_response\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("{upstream=\"mqtt\",reason=\"io\"} 1\n"));
        assert!(text.contains("transit_upstream_up{upstream=\"mqtt\"} 0\n"));
        assert!(!text.contains("transit_upstream_up{upstream=\"redis\"}"), "not used here");
        readiness.up();
        let mut text = String::new();
        readiness.render_metrics(&mut text);
        assert!(text.contains("transit_upstream_up{upstream=\"mqtt\"} 1\n"));
    }
}
