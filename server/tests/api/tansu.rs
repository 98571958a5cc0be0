//! A real Kafka-protocol broker on a free loopback port: tansu (Apache-2.0, a Kafka-compatible
//! broker in Rust; not Apache Kafka), installed by the test command under `target/tools/tansu`.
//!
//! Two storages: memory (fast; a restart starts empty, topics included) and an SQLite file
//! in the broker's own temporary directory, kept across a kill and restart the way a Kafka
//! broker keeps its log directory. A broker restart is only tested with the second: a Kafka
//! broker that comes back remembers its idempotent producers (their ids and sequence
//! numbers are in its log), and librdkafka relies on that. When a broker answers
//! UNKNOWN_PRODUCER_ID, librdkafka bumps the producer epoch and restarts the sequence at 0,
//! which Apache Kafka accepts from a producer it has lost track of; tansu 0.6 refuses any
//! producer id it does not hold, so after a memory restart the same batch is refused on
//! every retry (seen in librdkafka's `eos` debug log).

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::daemon::Daemon;

/// Where `scripts/setup.sh --test` installs it.
const TANSU: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/tools/tansu/bin/tansu");

pub struct Tansu(Daemon);

/// One record as a consumer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

impl Tansu {
    /// A broker with memory storage.
    pub fn start() -> Self {
        Self(Daemon::start(TANSU, |port| broker_args(port, "memory://tansu/")))
    }

    /// A broker whose data survives [`Daemon::kill`] and [`Daemon::restart`]: an SQLite
    /// file (tansu resolves the URL against its working directory).
    pub fn start_durable() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "transit-stream-tansu-{}-{}",
            std::process::id(),
            crate::daemon::free_port().port()
        ));
        Self(Daemon::start_in(Some(dir), TANSU, |port| broker_args(port, "sqlite://tansu.db")))
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Creates `topic` with one partition, as the stack's `kafka-init` service does.
    pub async fn create_topic(&self, topic: &str) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("admin client");
        let new =
            NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("retention.ms", "3600000");
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin.create_topics([&new], &options).await.expect("CreateTopics answered");
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => panic!("creating {name}: {code}"),
            }
        }
    }

    /// Reads partition 0 of `topic` from the start until `count` records arrived (failing
    /// the test after `within`), then a little longer to catch any extra ones.
    pub async fn read(&self, topic: &str, count: usize, within: Duration) -> Vec<Record> {
        let (bootstrap, topic) = (self.bootstrap(), topic.to_owned());
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", "transit-stream-test-reader")
                .set("enable.auto.commit", "false")
                .create()
                .expect("consumer");
            let mut assignment = TopicPartitionList::new();
            assignment.add_partition_offset(&topic, 0, Offset::Beginning).expect("partition 0");
            consumer.assign(&assignment).expect("assign");
            let mut records = Vec::new();
            let deadline = Instant::now() + within;
            // Once `count` arrived, one more quiet poll: a duplicate would show up there.
            let mut settle = None;
            loop {
                if records.len() >= count && settle.is_none() {
                    settle = Some(Instant::now() + Duration::from_millis(500));
                }
                let now = Instant::now();
                if settle.is_some_and(|until| now >= until) {
                    return records;
                }
                assert!(
                    now < deadline,
                    "only {} of {count} records within {within:?}",
                    records.len()
                );
                // Errors are transient here: the broker (re)starts, the topic appears.
                if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
                    records.push(Record {
                        key: message.key().unwrap_or_default().to_vec(),
                        value: message.payload().unwrap_or_default().to_vec(),
                    });
                }
            }
        })
        .await
        .expect("the reader does not panic")
    }
}

fn broker_args(port: u16, storage: &str) -> Vec<String> {
    let url = format!("tcp://127.0.0.1:{port}");
    ["broker", "--listener-url", &url, "--advertised-listener-url", &url]
        .into_iter()
        .chain(["--storage-engine", storage])
        .map(str::to_owned)
        .collect()
}

impl Deref for Tansu {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.0
    }
}

impl DerefMut for Tansu {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.0
    }
}
