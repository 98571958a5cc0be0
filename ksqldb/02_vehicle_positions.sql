-- One row per vehicle-position (vp) message with coordinates, keyed by the vehicle's
-- identity operator/vehicle from the topic (vehicle numbers repeat between operators).
-- Every message is kept: no sampling. Topic levels, 1-based after the leading '/':
-- [2]hfp [3]v2 [4]journey_type [5]temporal_type [6]event_type [7]transport_mode
-- [8]operator_id [9]vehicle_number [10]route_id [11]direction_id [12]headsign
-- [13]start_time [14]next_stop. Level 6 filters vp: only position events reach the table.
CREATE STREAM IF NOT EXISTS VEHICLE_POSITIONS
WITH (KAFKA_TOPIC = 'vehicle_positions', KEY_FORMAT = 'KAFKA', VALUE_FORMAT = 'JSON') AS
SELECT
  CONCAT(SPLIT(MQTT_TOPIC, '/')[8], '/', SPLIT(MQTT_TOPIC, '/')[9]) AS VEHICLE_ID,
  SPLIT(MQTT_TOPIC, '/')[7] AS MODE,
  `VP`->`desi` AS LINE,
  SPLIT(MQTT_TOPIC, '/')[10] AS ROUTE,
  CAST(`VP`->`dir` AS INT) AS DIRECTION,
  SPLIT(MQTT_TOPIC, '/')[12] AS HEADSIGN,
  `VP`->`oper` AS OPERATOR,
  CAST(SPLIT(MQTT_TOPIC, '/')[9] AS INT) AS VEHICLE_NUMBER,
  -- Event time in ms: `tst` has milliseconds except from metros; `tsi` (seconds) backs it up.
  COALESCE(
    UNIX_TIMESTAMP(PARSE_TIMESTAMP(`VP`->`tst`, 'yyyy-MM-dd''T''HH:mm:ss.SSSX', 'UTC')),
    UNIX_TIMESTAMP(PARSE_TIMESTAMP(`VP`->`tst`, 'yyyy-MM-dd''T''HH:mm:ssX', 'UTC')),
    `VP`->`tsi` * 1000
  ) AS TIMESTAMP_MS,
  `VP`->`spd` AS SPEED_MPS,
  `VP`->`hdg` AS HEADING,
  `VP`->`lat` AS LAT,
  `VP`->`long` AS LON,
  -- HFP's dl is seconds *ahead* of schedule; the app shows seconds late.
  -1 * `VP`->`dl` AS DELAY_S,
  `VP`->`odo` AS ODOMETER,
  `VP`->`drst` = 1 AS DOORS_OPEN,
  `VP`->`occu` AS OCCUPANCY,
  SPLIT(MQTT_TOPIC, '/')[14] AS NEXT_STOP,
  `VP`->`start` AS START_TIME,
  `VP`->`loc` AS LOCATION_SOURCE
FROM HFP_RAW
WHERE SPLIT(MQTT_TOPIC, '/')[6] = 'vp'
  AND `VP`->`lat` IS NOT NULL
  AND `VP`->`long` IS NOT NULL
PARTITION BY CONCAT(SPLIT(MQTT_TOPIC, '/')[8], '/', SPLIT(MQTT_TOPIC, '/')[9])
EMIT CHANGES;
