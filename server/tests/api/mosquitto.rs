//! A real Mosquitto broker (Debian's, installed by the test command) on a free loopback
//! port. `-p` alone runs it in local-only mode: loopback, anonymous, no persistence.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Command;

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, QoS};
use server::config::SourceKind;

use crate::daemon::{Daemon, free_port};
use crate::helpers::{ScratchDir, TestApp, WAIT, spawn_app_with};

pub struct Mosquitto(Daemon);

impl Mosquitto {
    pub fn start() -> Self {
        Self(Daemon::start("mosquitto", |port| vec!["-p".into(), port.to_string()]))
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.0.addr)
    }

    /// The real application, its live source subscribed to `topic` on this broker.
    pub async fn spawn_subscribed_app(&self, topic: &str) -> TestApp {
        let (url, topic) = (self.url(), topic.to_owned());
        spawn_app_with(move |config| {
            config.source = SourceKind::Live;
            config.mqtt.url = url;
            config.mqtt.topic = topic;
        })
        .await
    }

    /// Publishes hand-made messages with a plain MQTT client, QoS 0, in order.
    pub async fn publish_raw(&self, messages: Vec<(String, Vec<u8>)>) {
        publish_raw_to(self.addr.port(), messages).await;
    }

    /// Runs `transit-stream publish` (the real binary) against this broker until it exits,
    /// and returns what it printed.
    pub async fn publish_with_the_subcommand(&self, args: &[&str]) -> String {
        let mut command = Command::new(env!("CARGO_BIN_EXE_transit-stream"));
        command.args(["publish", "--broker", &self.url()]).args(args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("joins")
            .expect("runs");
        assert!(
            output.status.success(),
            "publish failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A broker with a TLS listener (its address is `addr`, certificate from `pki`) and a
    /// plain one (returned) for test publishers.
    pub fn start_tls(pki: &TestPki) -> (Self, SocketAddr) {
        let plain = free_port();
        let dir = pki.dir.path();
        let config = dir.join("mosquitto.conf");
        let (cert, key, ca) = (dir.join("server.pem"), dir.join("server.key"), pki.ca());
        let broker = Daemon::start("mosquitto", move |port| {
            let text = format!(
                "per_listener_settings false\nallow_anonymous true\npersistence false\n\
                 listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
                 listener {} 127.0.0.1\n",
                ca.display(),
                cert.display(),
                key.display(),
                plain.port(),
            );
            std::fs::write(&config, text).expect("write mosquitto.conf");
            vec!["-c".into(), config.display().to_string()]
        });
        (Self(broker), plain)
    }
}

/// Publishes hand-made messages to the broker on loopback `port`, QoS 0, in order, and
/// returns once they are all out.
pub async fn publish_raw_to(port: u16, messages: Vec<(String, Vec<u8>)>) {
    let mut options = MqttOptions::new("test-raw-publisher", "127.0.0.1", port);
    options.set_max_packet_size(1024 * 1024, 1024 * 1024);
    let (client, mut events) = AsyncClient::new(options, 100);
    // The client's queue is bounded: queue from a task while the event loop below sends.
    let queue = tokio::spawn(async move {
        for (topic, payload) in messages {
            client.publish(topic, QoS::AtMostOnce, false, payload).await.expect("queued");
        }
        client.disconnect().await.expect("queued");
    });
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.poll().await.expect("broker reachable");
            if let Event::Outgoing(Outgoing::Disconnect) = event {
                return;
            }
        }
    })
    .await
    .expect("published in time");
    queue.await.expect("every message queued");
}

/// A throw-away CA and a server certificate for 127.0.0.1, made with the openssl CLI.
pub struct TestPki {
    dir: ScratchDir,
}

impl TestPki {
    pub fn create(name: &str) -> Self {
        let scratch = ScratchDir::new(&format!("pki-{name}"));
        let dir = scratch.path();
        let run = |args: &[&str]| {
            let output =
                Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        run(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key"]
            .into_iter()
            .chain(["-out", "ca.pem", "-days", "2", "-subj", "/CN=transit-stream test CA"])
            .collect::<Vec<_>>());
        run(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out"]
            .into_iter()
            .chain(["server.csr", "-subj", "/CN=127.0.0.1"])
            .collect::<Vec<_>>());
        std::fs::write(dir.join("san.cnf"), "subjectAltName=IP:127.0.0.1\n").expect("san.cnf");
        run(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key"]
            .into_iter()
            .chain(["-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf"])
            .collect::<Vec<_>>());
        // Mosquitto may drop to its own user: let it read this test-only key.
        make_readable(&dir.join("server.key"));
        Self { dir: scratch }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

fn make_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
}

impl Deref for Mosquitto {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.0
    }
}

impl DerefMut for Mosquitto {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.0
    }
}
