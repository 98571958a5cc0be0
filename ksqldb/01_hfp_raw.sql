-- The raw feed as the Kafka Connect MQTT source connector writes it: key = the MQTT topic
-- (StringConverter), value = the payload bytes unchanged (ByteArrayConverter), which are
-- HFP's JSON, so ksqlDB reads them as JSON directly.
-- Field names are quoted: HFP's are lower case and ksqlDB would upper-case them.
CREATE STREAM IF NOT EXISTS HFP_RAW (
  MQTT_TOPIC STRING KEY,
  `VP` STRUCT<
    `desi` STRING, `dir` STRING, `oper` INT, `veh` INT, `tst` STRING, `tsi` BIGINT,
    `spd` DOUBLE, `hdg` INT, `lat` DOUBLE, `long` DOUBLE, `acc` DOUBLE, `dl` INT,
    `odo` DOUBLE, `drst` INT, `oday` STRING, `jrn` INT, `line` INT, `start` STRING,
    `loc` STRING, `stop` STRING, `route` STRING, `occu` INT
  >
) WITH (
  KAFKA_TOPIC = 'hfp_raw',
  KEY_FORMAT = 'KAFKA',
  VALUE_FORMAT = 'JSON',
  PARTITIONS = 1
);
