//! Wall-clock time in HFP's unit. Monotonic `Instant`s are used for everything measured
//! by the server itself; this is only for event times, which are wall-clock by nature.

use time::OffsetDateTime;
use time::macros::format_description;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// `ms` as HFP writes `tst`: RFC 3339 in UTC with milliseconds (`2026-11-24T06:00:00.123Z`).
pub fn hfp_timestamp(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default()
}
