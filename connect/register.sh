#!/usr/bin/env bash
# Registers the stack's connectors with Kafka Connect, idempotently: PUT
# /connectors/<name>/config creates a connector (201) or updates it (200), so running this
# again, or after `docker compose up` on an existing stack, is safe. Run by the
# `connect-init` service once Connect is healthy and the app has created ksqlDB's table.
#
# Which MQTT broker the source reads is decided here, once, by which services run:
# * the `offline` profile's `mosquitto` answers: read it (our `publish` feeds it);
# * otherwise: HSL's live broker (TLS; the JVM's trust store verifies it).
# With the `ingest` profile, our `transit-stream ingest` feeds Kafka instead: the MQTT
# source connector is removed so no message is written twice.
set -euo pipefail

connect=${CONNECT_URL:-http://connect:8083}
dir=${CONNECTORS_DIR:-/etc/transit-stream/connectors}

# True when something accepts a TCP connection at host:port (bash's /dev/tcp).
answers() { timeout 2 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }

answer=$(mktemp)
trap 'rm -f "$answer"' EXIT

put() {
  local name=$1 body=$2 status
  status=$(curl -sS -o "$answer" -w '%{http_code}' -X PUT \
    -H 'Content-Type: application/json' --data "$body" "$connect/connectors/$name/config")
  case $status in
    200) echo "Updated connector $name." ;;
    201) echo "Created connector $name." ;;
    *) echo "Connect refused $name (HTTP $status):" >&2; cat "$answer" >&2; exit 1 ;;
  esac
}

if answers ingest:9100; then
  echo "The ingest profile feeds Kafka: no MQTT source connector."
  curl -sS -o /dev/null -X DELETE "$connect/connectors/mqtt-source" || true
else
  hosts=ssl://mqtt.hsl.fi:8883
  if answers mosquitto:1883; then
    hosts=tcp://mosquitto:1883
  fi
  echo "The MQTT source reads $hosts."
  put mqtt-source "$(sed "s|\${MQTT_HOSTS}|$hosts|" "$dir/mqtt-source.json")"
fi
put redis-sink "$(cat "$dir/redis-sink.json")"
