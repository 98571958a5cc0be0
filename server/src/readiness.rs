//! Whether the server can answer with data (`/readyz`), and if not, which upstream it is
//! waiting for: always ready in embedded mode with the simulator; with the live feed once
//! subscribed; in ksqlDB mode once the bridge has loaded a snapshot, and not while it is
//! reconnecting; never after a replay failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// An upstream the server can be waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// The live MQTT feed (HSL's broker or another).
    Mqtt,
    /// ksqlDB's push query (full stack).
    Ksqldb,
    /// The recording being replayed, which failed.
    Replay,
}

impl Upstream {
    const ALL: [Self; 3] = [Self::Mqtt, Self::Ksqldb, Self::Replay];

    /// Stable name, as `/readyz` says it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Mqtt => "mqtt",
            Self::Ksqldb => "ksqldb",
            Self::Replay => "replay",
        }
    }
}

/// A shared flag with the upstream that cleared it. `Relaxed` is enough: it is a status
/// report, and nothing else is published through it.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<AtomicU8>);

/// The stored value for "ready"; an upstream is stored as 1 + its place in `ALL`.
const READY: u8 = 0;

impl Readiness {
    /// Ready from the start.
    pub fn ready() -> Self {
        Self(Arc::new(AtomicU8::new(READY)))
    }

    /// Not ready until `upstream` delivers.
    pub fn waiting_for(upstream: Upstream) -> Self {
        let readiness = Self::ready();
        readiness.down(upstream);
        readiness
    }

    pub fn up(&self) {
        self.0.store(READY, Ordering::Relaxed);
    }

    /// Not ready, because of `upstream`.
    pub fn down(&self, upstream: Upstream) {
        let index = Upstream::ALL.iter().position(|u| *u == upstream).unwrap_or(0);
        self.0.store(1 + index as u8, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.down_upstream().is_none()
    }

    /// The upstream the server is waiting for, if any.
    pub fn down_upstream(&self) -> Option<Upstream> {
        let value = self.0.load(Ordering::Relaxed);
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
}
