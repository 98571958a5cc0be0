//! The full stack's wiring, checked across files, since Docker (and with it Kafka Connect
//! and ksqlDB) cannot run here: `docker-compose.yml`, `connectors/*.json`,
//! `connect/register.sh`, `ksqldb/*.sql` and the server's own configuration must agree on
//! topics, formats, the Redis database, and every host and port.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::{CommandFactory, Parser};
use serde_norway::Value;
use server::cli::Cli;
use server::config::Config;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// `docker-compose.yml`, with YAML merge keys (`<<: *restart`) applied.
fn compose() -> Value {
    let mut compose: Value = serde_norway::from_str(&read("docker-compose.yml")).expect("YAML");
    compose.apply_merge().expect("merge keys");
    compose
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"].get(name).unwrap_or_else(|| panic!("no service {name}"))
}

/// A service's `environment` as a map (the file uses the map form throughout).
fn environment(compose: &Value, name: &str) -> BTreeMap<String, String> {
    serde_norway::from_value(service(compose, name)["environment"].clone())
        .map(|env: BTreeMap<String, Value>| {
            env.into_iter()
                .map(|(key, value)| {
                    let text = match value {
                        Value::String(text) => text,
                        other => serde_norway::to_string(&other).expect("scalar").trim().to_owned(),
                    };
                    (key, text)
                })
                .collect()
        })
        .unwrap_or_else(|error| panic!("{name}.environment: {error}"))
}

/// Every string in a YAML value (commands, health checks, environment values).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Sequence(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Mapping(map) => map.values().for_each(|item| strings(item, out)),
        Value::Number(number) => out.push(number.to_string()),
        _ => {}
    }
}

/// A connector's configuration: every value is a string in Kafka Connect's REST API.
fn connector(name: &str) -> BTreeMap<String, String> {
    serde_json::from_str(&read(&format!("connectors/{name}.json")))
        .unwrap_or_else(|error| panic!("connectors/{name}.json: {error}"))
}

/// One `CREATE ... WITH (...)` statement of `ksqldb/`: its name and its WITH properties.
#[derive(Debug)]
struct Statement {
    name: String,
    with: BTreeMap<String, String>,
    key_type: Option<String>,
}

fn statements() -> Vec<Statement> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("ksqldb"))
        .expect("ksqldb/")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let code: String = files
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .expect("readable")
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .filter(|statement| statement.contains("CREATE "))
        .map(|statement| {
            let words: Vec<&str> = statement.split_whitespace().collect();
            let name = words[words.iter().position(|w| *w == "EXISTS").expect("IF NOT EXISTS") + 1];
            let name = name.split('(').next().expect("name").to_owned();
            let with_start = statement.find("WITH (").expect("a WITH clause") + "WITH (".len();
            let with_end = with_start + statement[with_start..].find(')').expect("closed");
            let with = statement[with_start..with_end]
                .split(',')
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.trim().to_owned(), value.trim().trim_matches('\'').to_owned()))
                })
                .collect();
            let key_type = statement
                .lines()
                .find(|line| line.trim_end().ends_with(" KEY,"))
                .map(|line| line.split_whitespace().nth(1).expect("type").to_owned());
            Statement { name, with, key_type }
        })
        .collect()
}

fn statement(name: &str) -> Statement {
    statements()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("ksqldb/ defines no {name}"))
}

/// `kafka-init`'s `--name=value` arguments.
fn kafka_init_arg(compose: &Value, name: &str) -> String {
    let mut args = Vec::new();
    strings(&service(compose, "kafka-init")["command"], &mut args);
    args.iter()
        .find_map(|arg| arg.strip_prefix(&format!("--{name}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("kafka-init has no --{name}"))
}

/// Turns `TRANSIT_*` variables into the command line they stand for, by `command`'s own
/// table of options and their variables, so that the server's parser and validation judge
/// them. A variable no option reads fails the test: it would be silently ignored.
fn as_flags(command: &clap::Command, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut flags = Vec::new();
    for (key, value) in env.iter().filter(|(key, _)| key.starts_with("TRANSIT_")) {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_env().is_some_and(|name| name == key.as_str()))
            .unwrap_or_else(|| panic!("no option of `{}` reads {key}", command.get_name()));
        let flag = format!("--{}", arg.get_long().expect("long options only"));
        flags.push(match arg.get_action() {
            clap::ArgAction::SetTrue => {
                assert_eq!(value, "true", "{key}");
                flag
            }
            _ => format!("{flag}={value}"),
        });
    }
    flags
}

#[test]
fn the_connectors_read_and_write_the_topics_and_formats_of_the_ksqldb_statements() {
    let (compose, source, sink) = (compose(), connector("mqtt-source"), connector("redis-sink"));
    let (raw, latest) = (statement("HFP_RAW"), statement("VEHICLE_LATEST"));

    // The source writes the topic HFP_RAW reads: key = the MQTT topic as a string (KAFKA
    // format, STRING key column), value = the payload bytes unchanged (JSON text).
    let kcql = &source["connect.mqtt.kcql"];
    assert!(kcql.starts_with(&format!("INSERT INTO {} SELECT", raw.with["KAFKA_TOPIC"])), "{kcql}");
    assert_eq!(raw.with["KEY_FORMAT"], "KAFKA");
    assert_eq!(raw.key_type.as_deref(), Some("STRING"));
    assert_eq!(source["key.converter"], "org.apache.kafka.connect.storage.StringConverter");
    assert_eq!(raw.with["VALUE_FORMAT"], "JSON");
    assert_eq!(source["value.converter"], "org.apache.kafka.connect.converters.ByteArrayConverter");
    // The connector's key is a struct {topic, id}: the transform keeps the topic alone.
    let transform = &source["transforms"];
    assert_eq!(
        source[&format!("transforms.{transform}.type")],
        "org.apache.kafka.connect.transforms.ExtractField$Key"
    );
    assert_eq!(source[&format!("transforms.{transform}.field")], "topic");

    // kafka-init creates that topic, with the partition count HFP_RAW declares.
    assert_eq!(kafka_init_arg(&compose, "topic"), raw.with["KAFKA_TOPIC"]);
    assert_eq!(kafka_init_arg(&compose, "partitions"), raw.with["PARTITIONS"]);

    // The sink copies VEHICLE_LATEST's topic: key string as the Redis key, the row's JSON
    // as the value, as redis_store.rs reads them.
    assert_eq!(sink["topics"], latest.with["KAFKA_TOPIC"]);
    assert_eq!(latest.with["KEY_FORMAT"], "KAFKA");
    assert_eq!(latest.with["VALUE_FORMAT"], "JSON");
    for converter in ["key.converter", "value.converter"] {
        assert_eq!(sink[converter], "org.apache.kafka.connect.storage.StringConverter");
    }
    assert_eq!(sink["redis.type"], "STRING", "SET key value; a tombstone deletes the key");
    assert_eq!(sink["redis.keyspace"], "", "the key is the table's key, with no prefix");
}

#[test]
fn the_app_in_compose_is_a_valid_configuration_using_the_sinks_redis_database() {
    let compose = compose();
    let env = environment(&compose, "app");
    let flags = as_flags(&Config::command(), &env);
    let config = Config::try_parse_from(std::iter::once("transit-stream".to_owned()).chain(flags))
        .expect("the app's TRANSIT_* variables parse");
    config.validate().expect("and are valid");
    assert!(config.ksqldb_apply_statements, "the app creates the streams and the table");

    let app_redis = config.redis_url.expect("the app reads Redis");
    let sink_redis = &connector("redis-sink")["redis.uri"];
    assert_eq!(&app_redis, sink_redis, "same Redis, same database");
    // Vehicles leave Redis when the map would drop them too (ksqlDB never deletes them).
    assert_eq!(connector("redis-sink")["redis.key.ttl"], config.vehicle_ttl_secs.to_string());
    // The password reaches Redis, the sink and the app from the same variable.
    assert_eq!(env["TRANSIT_REDIS_PASSWORD"], "${REDIS_PASSWORD:-}");
    assert_eq!(environment(&compose, "connect")["REDIS_PASSWORD"], "${REDIS_PASSWORD:-}");
    assert_eq!(connector("redis-sink")["redis.password"], "${env:REDIS_PASSWORD}");
    assert_eq!(environment(&compose, "redis")["REDIS_PASSWORD"], "${REDIS_PASSWORD:-}");
}

#[cfg(feature = "kafka")]
#[test]
fn the_ingest_service_is_a_valid_ingest_command_line() {
    let compose = compose();
    let env = environment(&compose, "ingest");
    let cli = Cli::command();
    let ingest = cli.find_subcommand("ingest").expect("the ingest subcommand");
    let flags = as_flags(ingest, &env);
    let args = ["transit-stream".to_owned(), "ingest".to_owned()].into_iter().chain(flags);
    Cli::try_parse_from(args).expect("the ingest service's TRANSIT_* variables parse");
    assert_eq!(env["TRANSIT_KAFKA_TOPIC"], statement("HFP_RAW").with["KAFKA_TOPIC"]);
}

#[test]
fn every_host_and_port_a_service_uses_is_one_another_service_exposes() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    let exposed: BTreeMap<String, BTreeSet<String>> = services
        .iter()
        .map(|(name, definition)| {
            let mut ports = Vec::new();
            strings(&definition["expose"], &mut ports);
            (name.as_str().expect("name").to_owned(), ports.into_iter().collect())
        })
        .collect();

    // Everything that can name a host: the compose file, the connectors, the register
    // script (with both brokers it may choose).
    let mut texts = Vec::new();
    for definition in services.values() {
        let mut definition = definition.clone();
        // `redis:7.2.11-alpine` is an image tag, not a host and port.
        definition.as_mapping_mut().expect("a service").remove("image");
        strings(&definition, &mut texts);
    }
    for name in ["mqtt-source", "redis-sink"] {
        texts.extend(connector(name).into_values());
    }
    texts.push(read("connect/register.sh"));

    let mut checked = 0;
    for text in &texts {
        for (host, ports) in &exposed {
            for (at, _) in text.match_indices(&format!("{host}:")) {
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '.' || c == '_') {
                    continue; // part of a longer name, e.g. `kafka-init:`
                }
                let port: String =
                    text[at + host.len() + 1..].chars().take_while(char::is_ascii_digit).collect();
                if port.is_empty() {
                    continue; // `kafka:` as a YAML key or a URL scheme, not host:port
                }
                assert!(
                    ports.contains(&port),
                    "{host}:{port} is used, but {host} exposes {ports:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} host:port references found");

    // The listeners behind those ports.
    let kafka = environment(&compose, "kafka");
    assert!(kafka["KAFKA_LISTENERS"].contains("PLAINTEXT://kafka:29092"));
    assert!(kafka["KAFKA_ADVERTISED_LISTENERS"].contains("PLAINTEXT://kafka:29092"));
    assert!(environment(&compose, "ksqldb")["KSQL_LISTENERS"].ends_with(":8088"));
    assert_eq!(environment(&compose, "connect")["CONNECT_REST_PORT"], "8083");
    assert!(environment(&compose, "ingest")["TRANSIT_INGEST_BIND"].ends_with(":9100"));
    assert!(read("Dockerfile").contains("TRANSIT_BIND=0.0.0.0:3000"));
}

#[test]
fn the_offline_profile_replays_a_recording_that_is_in_the_image() {
    let compose = compose();
    let mut args = Vec::new();
    strings(&service(&compose, "replay")["command"], &mut args);
    let file = args
        .iter()
        .find_map(|arg| arg.strip_prefix("--replay-file=/srv/transit-stream/replay/"))
        .expect("the replay service plays a file from the image");
    assert!(read("Dockerfile").contains("COPY data/replay/ /srv/transit-stream/replay/"));
    assert!(repo("data/replay").join(file).is_file(), "data/replay/{file} is in the repository");
    let cli = Cli::try_parse_from(std::iter::once("transit-stream".to_owned()).chain(args));
    cli.expect("the replay service's command line parses");
}
