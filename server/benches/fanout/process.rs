//! The servers under load, each in its own process so that its memory and CPU time can be
//! read from `/proc` apart from the load generator's: the real `transit-stream` binary,
//! and the baseline broadcast server (this bench binary started in `--serve-baseline`
//! mode).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

/// A server process, stopped (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// The `ws://` address of its live feed.
    pub ws_url: String,
    /// The URL it announced.
    pub url: String,
}

impl Server {
    /// Starts `command` and waits up to a minute for it to print a line containing
    /// `announce` followed by its `http://` URL (or a `ws://` one).
    pub fn start(mut command: Command, announce: &str, path: &str) -> anyhow::Result<Self> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (found, url) = mpsc::channel();
        let announce = announce.to_owned();
        // A thread, not the runtime: the line is read once and the rest of the output
        // drained so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once(&announce) {
                    let _ = found.send(rest.trim().to_owned());
                }
            }
        });
        let Ok(url) = url.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            bail!("{command:?} did not announce itself within 60 s");
        };
        let ws_url = url.replacen("http://", "ws://", 1).trim_end_matches('/').to_owned() + path;
        Ok(Self { child, ws_url, url })
    }

    /// Waits up to a minute for `/readyz` to say ready.
    pub async fn wait_until_ready(&self) -> anyhow::Result<()> {
        let readyz = format!("{}/readyz", self.url.trim_end_matches('/'));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let ready = reqwest::get(&readyz).await.is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "{readyz} not ready in 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in bytes.
    pub fn rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
            .context("no VmRSS")?;
        Ok(kib * 1024)
    }

    /// User plus system CPU time used so far, in seconds.
    pub fn cpu_seconds(&self, ticks_per_second: f64) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // The command name (field 2) may hold spaces; the fields after its ')' do not.
        let after = stat.rsplit_once(')').context("odd stat")?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ')'.
        let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
        Ok(ticks / ticks_per_second)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real server: the simulator at `vehicles`, connection caps opened for one machine's
/// load.
pub fn transit_stream(vehicles: u32, clients: usize) -> anyhow::Result<Server> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_transit-stream"));
    let site = std::env::temp_dir();
    command
        .args(["--bind", "127.0.0.1:0", "--source", "simulator"])
        .args(["--sim-vehicles", &vehicles.to_string()])
        .args(["--max-ws-clients", &(clients + 1_000).to_string()])
        // Every load client comes from 127.0.0.1.
        .args(["--max-connections-per-address", "0"])
        .arg("--site-root")
        .arg(&site)
        .env("RUST_LOG", "warn");
    Server::start(command, "serving the map at", "/ws")
}

/// The real server in full-stack mode on the ksqlDB at `ksqldb_url`, without clients.
pub fn transit_stream_on_ksqldb(ksqldb_url: &str) -> anyhow::Result<Server> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_transit-stream"));
    command
        .args(["--bind", "127.0.0.1:0", "--ksqldb-url", ksqldb_url])
        .arg("--site-root")
        .arg(std::env::temp_dir())
        .env("RUST_LOG", "warn");
    Server::start(command, "serving the map at", "/ws")
}

/// The baseline, replaying `frames` (a file written by [`crate::record`]).
pub fn baseline(frames: &Path) -> anyhow::Result<Server> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("--serve-baseline").arg(frames);
    Server::start(command, "baseline listening on", "/")
}

/// Clock ticks per second of `/proc`'s CPU times.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}
