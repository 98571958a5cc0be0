//! Wall-clock time in HFP's unit. Monotonic `Instant`s are used for everything measured
//! by the server itself; this is only for event times, which are wall-clock by nature.

use time::OffsetDateTime;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
