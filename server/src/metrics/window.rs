//! What went wrong, logged once per window instead of once per event: a broken publisher
//! or a thousand slow clients would otherwise flood the log (and slow the server with it),
//! while a single line a minute says what went up and by how much. The events themselves
//! are logged at debug level where they happen. Upstream outages are logged where they
//! begin and end, through a [`Throttle`], so a flapping upstream gives one line a window.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Stats;

/// How often the summary is written, when there is something to say.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Lets a repeating event be logged at most once per window.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    last: Option<tokio::time::Instant>,
    held: u64,
}

impl Throttle {
    pub fn new(window: Duration) -> Self {
        Self { window, last: None, held: 0 }
    }

    /// `Some(n)` when this occurrence may be logged, `n` being how many were held back
    /// since the last one that was; `None` when it should not be (it is counted).
    pub fn admit(&mut self) -> Option<u64> {
        let now = tokio::time::Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < self.window) {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

/// Logs, every `window` until `shutdown`, the trouble counters that went up in it.
pub async fn log_every(stats: Arc<Stats>, window: Duration, shutdown: CancellationToken) {
    let mut previous = stats.troubles();
    let start = tokio::time::Instant::now() + window;
    let mut ticks = tokio::time::interval_at(start, window);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let now = stats.troubles();
        if let Some(summary) = summary(&previous, &now) {
            tracing::warn!(window_secs = window.as_secs(), "In the last window: {summary}.");
        }
        previous = now;
    }
}

/// `key +n` for each series that went up from `previous` to `now`, or `None`.
fn summary(previous: &[(String, u64)], now: &[(String, u64)]) -> Option<String> {
    let rises: Vec<String> = now
        .iter()
        .filter_map(|(key, count)| {
            let before = previous.iter().find(|(k, _)| k == key).map_or(0, |(_, c)| *c);
            (*count > before).then(|| format!("{key} +{}", count - before))
        })
        .collect();
    (!rises.is_empty()).then(|| rises.join(", "))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;
    use crate::hfp::RejectKind;
    use crate::metrics::reasons::WsDrop;

    #[test]
    fn a_summary_names_what_went_up_and_by_how_much() {
        let stats = Stats::default();
        let before = stats.troubles();
        assert_eq!(summary(&before, &stats.troubles()), None, "nothing to say");
        for _ in 0..3 {
            stats.rejected(RejectKind::Json).inc();
        }
        stats.ws_dropped.inc(WsDrop::Slow);
        assert_eq!(
            summary(&before, &stats.troubles()).as_deref(),
            Some("hfp_messages_rejected{reason=json} +3, ws_dropped{reason=slow} +1")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_admits_one_occurrence_per_window_and_counts_the_rest() {
        let mut throttle = Throttle::new(WINDOW);
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!(throttle.admit(), None);
        tokio::time::sleep(WINDOW / 2).await;
        assert_eq!(throttle.admit(), None);
        tokio::time::sleep(WINDOW / 2).await;
        assert_eq!(throttle.admit(), Some(2), "the two held back");
        assert_eq!(throttle.admit(), None);
    }

    /// The log lines written, shared with the subscriber.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn count(&self) -> usize {
            let bytes = self.0.lock().expect("not poisoned");
            String::from_utf8_lossy(&bytes).lines().count()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_thousand_rejections_in_a_window_make_one_line() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber =
            tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let stats = Arc::new(Stats::default());
        let shutdown = CancellationToken::new();
        let logger = tokio::spawn(log_every(Arc::clone(&stats), WINDOW, shutdown.clone()));
        // Let the logger take its first reading before anything goes wrong.
        tokio::task::yield_now().await;

        for _ in 0..1_000 {
            stats.rejected(RejectKind::Topic).inc();
        }
        tokio::time::sleep(WINDOW / 2).await;
        assert_eq!(lines.count(), 0, "nothing before the window ends");
        tokio::time::sleep(WINDOW).await;
        assert_eq!(lines.count(), 1);
        tokio::time::sleep(WINDOW * 3).await;
        assert_eq!(lines.count(), 1, "quiet windows write nothing");
        shutdown.cancel();
        logger.await.expect("the logger stops");
        let text = String::from_utf8_lossy(&lines.0.lock().expect("not poisoned")).into_owned();
        assert!(text.contains("hfp_messages_rejected{reason=topic} +1000"), "{text}");
    }
}
