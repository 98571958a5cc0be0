//! Whether the server can answer with data (`/readyz`): always in embedded mode; in ksqlDB
//! mode once the bridge has loaded a snapshot, and not while it is reconnecting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared flag. `Relaxed` is enough: it is a status report, and nothing else is
/// published through it.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn ready() -> Self {
        let readiness = Self::default();
        readiness.set(true);
        readiness
    }

    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
