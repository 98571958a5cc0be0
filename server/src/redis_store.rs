//! Redis lookups of the latest positions the full stack's Kafka Connect Redis sink copies
//! out of ksqlDB's `VEHICLE_LATEST` table.
//!
//! # Key schema (the only place it is written down)
//! * Database: the one in the sink's `redis.uri` (`connectors/redis-sink.json`: 0);
//!   `--redis-url` names the same one, e.g. `redis://host:6379/0`.
//! * `<operator>/<vehicle>` (e.g. `0018/01029`): the table's key, as the sink writes it
//!   with a `StringConverter`. The value is the table row as ksqlDB's JSON value format
//!   writes it: an object of the non-key columns, upper-case names
//!   (`{"MODE":"bus","LAT":60.17,"LON":24.94,"TIMESTAMP_MS":...}`).
//! * `com.redis.kafka.connect.sink.offset.<topic>.<partition>` (Redis Inc.'s sink, the one
//!   the stack runs) or `__kafka.offset.<topic>.<partition>` (jcustenborder's): the sink's
//!   offset bookkeeping, in the same database. Never a vehicle: listing skips every key that
//!   is not a vehicle id.
//!
//! Listing never uses `KEYS` (it blocks Redis for the whole keyspace): it walks the
//! keyspace with `SCAN` (a fixed `MATCH` pattern, no user text) and fetches values in
//! batches. Values are fetched by a small Lua script ([`FETCH`]) rather than `MGET`, so
//! that a key of another type or a value of any size is reported by Redis, never
//! transferred: one such key is a rejected value (counted), not a failed request. One
//! vehicle (a click) is one `GETRANGE` of at most a row's limit plus a byte: the same
//! answers, at the cost of a `GET` rather than of a script (which costs Redis seven times
//! as much). Neither can tell an empty value from no value, so both read it as none.
//! One [`ConnectionManager`] is shared by every request and reconnects by itself after
//! Redis restarts. [`RedisStore::watch`] pings it, so `/readyz` and `/metrics` say when
//! Redis is away (or hung) even while nobody clicks; the server stays ready meanwhile,
//! because the fallback store answers.

use std::sync::Arc;
use std::time::Duration;

use app::model::{DataSource, TransportMode, VehicleId, VehicleLookup, VehiclePosition};
use app::ssr::{Backend, BackendError};
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Deserialize;

use crate::metrics::Stats;
use crate::metrics::reasons::{Reason, RedisRejection, RedisSkip};
use crate::metrics::window::{Throttle, WINDOW};
use crate::readiness::{Readiness, Upstream};

/// Keys per `SCAN` step and per `MGET`: big enough that a 2,000-vehicle listing is a few
/// round trips, small enough that no single command holds Redis for long.
const BATCH: usize = 500;
/// A lookup is on a click's path: Redis answers in well under a millisecond, so anything
/// this slow is a Redis that is not there.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// The largest value taken as a row: a `VEHICLE_LATEST` row is about half a kilobyte.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Fetches each key's value if it is a string of at most `ARGV[1]` bytes; otherwise says
/// why not: 0 no such key (or an empty value, as `GETRANGE` sees it), 1 another type, 2 too
/// large. The keys are vehicle ids we built (`VehicleId` text), never request text. Run
/// with `EVAL`: the script is small, Redis caches it compiled, and a listing runs it once
/// per batch.
const FETCH: &str = "local limit = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'none' then out[i] = 0
  elseif kind ~= 'string' then out[i] = 1
  else
    local length = redis.call('STRLEN', key)
    if length == 0 then out[i] = 0
    elseif length > limit then out[i] = 2
    else out[i] = redis.call('GET', key) end
  end
end
return out";

/// What [`FETCH`] found under one key.
enum Fetched {
    Missing,
    Value(String),
    Rejected(RedisRejection),
}

/// Why Redis could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RedisStoreError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Why a stored value is not a position.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("value is not a VEHICLE_LATEST row: {0}")]
    Json(#[from] serde_json::Error),
    #[error("coordinates out of range")]
    Coordinates,
}

/// The latest-positions copy in Redis.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    stats: Arc<Stats>,
}

impl RedisStore {
    /// Does not connect yet: the server starts whether or not Redis is up, and the
    /// connection is made (and remade) on use. A `password` is sent with AUTH; it is kept
    /// out of the URL so that the URL can be logged and configured in the open.
    pub fn new(
        url: &str,
        password: Option<&str>,
        stats: Arc<Stats>,
    ) -> Result<Self, RedisStoreError> {
        use redis::IntoConnectionInfo;
        let mut info = url.into_connection_info()?;
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            info = info
                .clone()
                .set_redis_settings(info.redis_settings().clone().set_password(password));
        }
        let client = redis::Client::open(info)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // Fail the request quickly and let the caller fall back; the manager keeps
            // reconnecting in the background for the next one.
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self { connection, stats })
    }

    /// Pings Redis every `every` until `shutdown`: marks it degraded on the first failure
    /// (a closed connection or no answer within the response timeout) and restored on the
    /// first success, logging each change once.
    pub async fn watch(
        self,
        readiness: Readiness,
        every: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        // A Redis that keeps coming and going gets a line a window each way.
        let (mut losses, mut returns) = (Throttle::new(WINDOW), Throttle::new(WINDOW));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            let mut connection = self.connection.clone();
            let ping = redis::cmd("PING");
            // Raced against shutdown: a hung Redis holds a ping for its whole timeout.
            let pinged: Result<String, _> = tokio::select! {
                _ = shutdown.cancelled() => break,
                pinged = ping.query_async(&mut connection) => pinged,
            };
            match pinged {
                Ok(_) => {
                    if readiness.restored(Upstream::Redis)
                        && let Some(again) = returns.admit()
                    {
                        tracing::info!(
                            returned_meanwhile = again,
                            "Redis is back: lookups are answered from it again."
                        );
                    }
                }
                Err(error) => {
                    if readiness.degrade(Upstream::Redis, loss_reason(&error))
                        && let Some(again) = losses.admit()
                    {
                        tracing::warn!(
                            %error,
                            lost_meanwhile = again,
                            "Redis unavailable; lookups fall back until it answers."
                        );
                    }
                }
            }
        }
    }

    /// One vehicle. A stored value that is not a row (another type, too large, does not
    /// parse) counts as a miss, and is counted.
    pub async fn vehicle(&self, id: VehicleId) -> Result<Option<VehiclePosition>, RedisStoreError> {
        let mut connection = self.connection.clone();
        let found = fetch_one(&mut connection, &id.to_string()).await?;
        Ok(self.take(id, found))
    }

    /// Every vehicle in Redis. Offset keys and malformed values are skipped (and counted).
    pub async fn vehicles(&self) -> Result<Vec<VehiclePosition>, RedisStoreError> {
        let mut connection = self.connection.clone();
        let mut positions = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("*/*")
                .arg("COUNT")
                .arg(BATCH)
                .query_async(&mut connection)
                .await?;
            let ids: Vec<VehicleId> = keys
                .iter()
                .filter_map(|key| {
                    let id = key.parse().ok();
                    if id.is_none() {
                        self.stats.redis_keys_skipped.inc(RedisSkip::NotAVehicle);
                    }
                    id
                })
                .collect();
            for chunk in ids.chunks(BATCH) {
                let keys: Vec<String> = chunk.iter().map(VehicleId::to_string).collect();
                let fetched = fetch(&mut connection, &keys).await?;
                positions.extend(
                    chunk.iter().zip(fetched).filter_map(|(id, found)| self.take(*id, found)),
                );
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        // SCAN may return a key twice while the keyspace is rehashed.
        positions.sort_by_key(|p| p.id);
        positions.dedup_by_key(|p| p.id);
        Ok(positions)
    }

    /// The position a fetched value holds, if any. Rejections are counted and logged at
    /// debug level only: a bad key is read on every request, and the count tells operators.
    fn take(&self, id: VehicleId, found: Fetched) -> Option<VehiclePosition> {
        let reason = match found {
            Fetched::Missing => return None,
            Fetched::Value(value) => match parse_value(id, &value) {
                Ok(position) => return Some(position),
                Err(ValueError::Json(_)) => RedisRejection::NotARow,
                Err(ValueError::Coordinates) => RedisRejection::Coordinates,
            },
            Fetched::Rejected(reason) => reason,
        };
        self.stats.redis_values_rejected.inc(reason);
        let reason = reason.as_str();
        tracing::debug!(vehicle.id = %id, reason, "Skipping a Redis value that is not a row.");
        None
    }
}

/// Runs [`FETCH`] for `keys` (at most a batch): one round trip, bounded bytes.
async fn fetch(
    connection: &mut ConnectionManager,
    keys: &[String],
) -> Result<Vec<Fetched>, RedisStoreError> {
    let replies: Vec<redis::Value> = redis::cmd("EVAL")
        .arg(FETCH)
        .arg(keys.len())
        .arg(keys)
        .arg(MAX_VALUE_BYTES)
        .query_async(connection)
        .await?;
    Ok(replies
        .into_iter()
        .map(|reply| match reply {
            redis::Value::Int(0) | redis::Value::Nil => Fetched::Missing,
            redis::Value::Int(1) => Fetched::Rejected(RedisRejection::NotAString),
            redis::Value::Int(2) => Fetched::Rejected(RedisRejection::TooLarge),
            redis::Value::BulkString(bytes) => text(bytes),
            _ => Fetched::Rejected(RedisRejection::UnexpectedReply),
        })
        .collect())
}

/// Why a ping failed, as `/metrics` labels the loss.
fn loss_reason(error: &redis::RedisError) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_io_error() || error.is_connection_refusal() || error.is_connection_dropped()
    {
        "io"
    } else {
        // Redis answered, with an error (a wrong password, say).
        "error"
    }
}

/// One key's value, as [`fetch`] would find it, by `GETRANGE` of one byte more than a row
/// may hold: a longer answer is a value too large, and no more than that is transferred.
async fn fetch_one(
    connection: &mut ConnectionManager,
    key: &str,
) -> Result<Fetched, RedisStoreError> {
    let reply: Result<redis::Value, _> = redis::cmd("GETRANGE")
        .arg(key)
        .arg(0)
        // Inclusive: bytes 0 to MAX_VALUE_BYTES, one more than a row may have.
        .arg(MAX_VALUE_BYTES)
        .query_async(connection)
        .await;
    Ok(match reply {
        // A missing key and an empty value both read as "".
        Ok(redis::Value::BulkString(bytes)) if bytes.is_empty() => Fetched::Missing,
        Ok(redis::Value::BulkString(bytes)) if bytes.len() > MAX_VALUE_BYTES => {
            Fetched::Rejected(RedisRejection::TooLarge)
        }
        Ok(redis::Value::BulkString(bytes)) => text(bytes),
        Ok(_) => Fetched::Rejected(RedisRejection::UnexpectedReply),
        // `query_async` turns Redis' error replies into errors.
        Err(error) if error.code() == Some(WRONG_TYPE) => {
            Fetched::Rejected(RedisRejection::NotAString)
        }
        Err(error) => return Err(error.into()),
    })
}

/// Redis' error code for a command on a key of another type (a hash, a list).
const WRONG_TYPE: &str = "WRONGTYPE";

/// A string value: the row's text if it is UTF-8.
fn text(bytes: Vec<u8>) -> Fetched {
    match String::from_utf8(bytes) {
        Ok(text) => Fetched::Value(text),
        Err(_) => Fetched::Rejected(RedisRejection::NotUtf8),
    }
}

/// A `VEHICLE_LATEST` row as ksqlDB's JSON value format writes it.
#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Row {
    mode: Option<String>,
    line: Option<String>,
    route: Option<String>,
    direction: Option<u8>,
    headsign: Option<String>,
    operator: Option<u16>,
    lat: f64,
    lon: f64,
    timestamp_ms: i64,
    speed_mps: Option<f64>,
    heading: Option<u16>,
    delay_s: Option<i32>,
    start_time: Option<String>,
    next_stop: Option<String>,
    doors_open: Option<bool>,
    occupancy: Option<u8>,
    location_source: Option<String>,
}

/// Parses one stored value; the key gives the vehicle's identity.
pub fn parse_value(id: VehicleId, value: &str) -> Result<VehiclePosition, ValueError> {
    let row: Row = serde_json::from_str(value)?;
    if !(-90.0..=90.0).contains(&row.lat) || !(-180.0..=180.0).contains(&row.lon) {
        return Err(ValueError::Coordinates);
    }
    Ok(VehiclePosition {
        id,
        mode: row.mode.as_deref().map_or(TransportMode::Other, TransportMode::from_topic),
        line: row.line,
        route: row.route,
        direction: row.direction.filter(|d| matches!(d, 1 | 2)),
        headsign: row.headsign,
        operator: row.operator,
        lat: row.lat,
        lon: row.lon,
        speed_mps: row.speed_mps.filter(|s| s.is_finite() && *s >= 0.0),
        heading: row.heading.filter(|h| *h <= 360),
        delay_s: row.delay_s,
        timestamp_ms: row.timestamp_ms,
        start_time: row.start_time,
        next_stop: row.next_stop,
        doors_open: row.doors_open,
        occupancy: row.occupancy.filter(|o| *o <= 100),
        location_source: row.location_source,
    })
}

#[async_trait]
impl Backend for RedisStore {
    async fn vehicle(&self, id: VehicleId) -> Result<Option<VehicleLookup>, BackendError> {
        let position = RedisStore::vehicle(self, id).await.map_err(unavailable)?;
        Ok(position.map(|position| VehicleLookup { position, source: DataSource::Redis }))
    }

    async fn vehicles(&self) -> Result<Vec<VehicleLookup>, BackendError> {
        let positions = RedisStore::vehicles(self).await.map_err(unavailable)?;
        Ok(positions
            .into_iter()
            .map(|position| VehicleLookup { position, source: DataSource::Redis })
            .collect())
    }
}

fn unavailable(error: RedisStoreError) -> BackendError {
    BackendError::unavailable("Redis", error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> VehicleId {
        "0018/01029".parse().expect("valid")
    }

    #[test]
    fn a_ksqldb_json_row_becomes_a_position() {
        let value = r#"{"MODE":"bus","LINE":"550","ROUTE":"2550","DIRECTION":1,"HEADSIGN":"Itäkeskus (M)","OPERATOR":22,"VEHICLE_NUMBER":1029,"TIMESTAMP_MS":1795500000000,"SPEED_MPS":8.2,"HEADING":95,"LAT":60.2,"LON":24.9,"DELAY_S":-12,"ODOMETER":null,"DOORS_OPEN":false,"OCCUPANCY":0,"NEXT_STOP":"1201129","START_TIME":"08:15","LOCATION_SOURCE":"GPS"}"#;
        let p = parse_value(id(), value).expect("valid row");
        assert_eq!((p.id, p.mode, p.lat, p.lon), (id(), TransportMode::Bus, 60.2, 24.9));
        assert_eq!((p.delay_s, p.heading), (Some(-12), Some(95)));
        assert_eq!(p.headsign.as_deref(), Some("Itäkeskus (M)"));
    }

    #[test]
    fn values_that_are_not_rows_are_errors() {
        for value in [
            "60.278461|25.021287|1669603746",
            r#"{"topic":"vehicle_latest","partition":0,"offset":42}"#,
            r#"{"LAT":"sixty","LON":24.9,"TIMESTAMP_MS":1}"#,
            "",
        ] {
            assert!(matches!(parse_value(id(), value), Err(ValueError::Json(_))), "{value}");
        }
        let outside = r#"{"LAT":160.0,"LON":24.9,"TIMESTAMP_MS":1}"#;
        assert!(matches!(parse_value(id(), outside), Err(ValueError::Coordinates)));
    }
}
