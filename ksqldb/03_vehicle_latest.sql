-- Each vehicle's latest position, keyed by operator/vehicle: what the map, the pull
-- queries and the Redis sink read. JSON values, so Redis holds readable rows.
--
-- LATEST_BY_OFFSET(col, false) keeps nulls (the default, true, ignores them; the
-- parameter exists since ksqlDB 0.13.0, docs "Aggregate functions"), so every column of a
-- row comes from the same (latest) message instead of mixing in older non-null values. It is arrival order, not
-- event time: the app's own table re-orders by TIMESTAMP_MS, so a late message never
-- moves a marker backwards on the map.
--
-- For a live map set, on the ksqlDB server, ksql.streams.cache.max.bytes.buffering=0 and
-- a short ksql.streams.commit.interval.ms (say 100 ms): with the
-- defaults (10 MB cache, 2 s commits) changes reach push queries late and coalesced.
CREATE TABLE IF NOT EXISTS VEHICLE_LATEST
WITH (KAFKA_TOPIC = 'vehicle_latest', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON') AS
SELECT
  VEHICLE_ID,
  LATEST_BY_OFFSET(MODE, false) AS MODE,
  LATEST_BY_OFFSET(LINE, false) AS LINE,
  LATEST_BY_OFFSET(ROUTE, false) AS ROUTE,
  LATEST_BY_OFFSET(DIRECTION, false) AS DIRECTION,
  LATEST_BY_OFFSET(HEADSIGN, false) AS HEADSIGN,
  LATEST_BY_OFFSET(OPERATOR, false) AS OPERATOR,
  LATEST_BY_OFFSET(VEHICLE_NUMBER, false) AS VEHICLE_NUMBER,
  LATEST_BY_OFFSET(TIMESTAMP_MS, false) AS TIMESTAMP_MS,
  LATEST_BY_OFFSET(SPEED_MPS, false) AS SPEED_MPS,
  LATEST_BY_OFFSET(HEADING, false) AS HEADING,
  LATEST_BY_OFFSET(LAT, false) AS LAT,
  LATEST_BY_OFFSET(LON, false) AS LON,
  LATEST_BY_OFFSET(DELAY_S, false) AS DELAY_S,
  LATEST_BY_OFFSET(ODOMETER, false) AS ODOMETER,
  LATEST_BY_OFFSET(DOORS_OPEN, false) AS DOORS_OPEN,
  LATEST_BY_OFFSET(OCCUPANCY, false) AS OCCUPANCY,
  LATEST_BY_OFFSET(NEXT_STOP, false) AS NEXT_STOP,
  LATEST_BY_OFFSET(START_TIME, false) AS START_TIME,
  LATEST_BY_OFFSET(LOCATION_SOURCE, false) AS LOCATION_SOURCE
FROM VEHICLE_POSITIONS
GROUP BY VEHICLE_ID
EMIT CHANGES;
