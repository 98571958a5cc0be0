//! Faults under load: 500 browsers connected while positions flow, and an upstream killed
//! and restarted, frozen (a hung server: SIGSTOP, or the fault proxy holding every byte
//! for the in-process ksqlDB fake) or cut in the middle of a frame by the fault proxy.
//! Each time the server keeps serving, `/readyz` says what is down or degraded and then
//! recovers, browsers are told when the feed stalls and when it is live again, the
//! server's open files, tasks and live clients come back to where they were, and
//! afterwards every browser holds exactly the upstream's state.
//!
//! Layout: this file holds the browsers and the checks every scenario shares; one file per
//! upstream holds its scenarios (`mqtt`, `ksqldb`, `redis`).

mod ksqldb;
mod mqtt;
mod redis;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::model::{FeedState, ServerFrame, VehicleId};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::helpers::{TestApp, WAIT, WsClient};

pub const BROWSERS: usize = 500;
/// How long a frozen upstream stays frozen.
pub const FREEZE: Duration = Duration::from_secs(10);
/// The servers here give up on a silent upstream after this many seconds, pinging every
/// half of it: well within the freeze.
pub const UPSTREAM_TIMEOUT_SECS: u64 = 2;

/// What every scenario's server is set to: a short upstream timeout, and room for all the
/// browsers, which all come from 127.0.0.1.
pub fn under_load(config: &mut server::config::Config) {
    config.upstream_timeout_secs = UPSTREAM_TIMEOUT_SECS;
    config.max_connections_per_address = 0;
    config.max_ws_clients = BROWSERS as u32 + 10;
}

/// Where every vehicle is, as the wire keeps positions (to 1e-7 degrees).
pub type Positions = HashMap<VehicleId, (f64, f64)>;

pub fn on_the_wire(degrees: f64) -> f64 {
    (degrees * 1e7).round() / 1e7
}

/// What one browser went through.
#[derive(Debug, Default)]
pub struct Seen {
    pub stalled: bool,
    pub live_again: bool,
    pub current: bool,
}

/// Many browsers, each reading every frame until it holds the positions it is told to
/// expect.
pub struct Browsers {
    target: watch::Sender<Option<Arc<Positions>>>,
    tasks: JoinSet<(Seen, WsClient)>,
}

impl Browsers {
    pub async fn open(app: &TestApp, count: usize) -> Self {
        let (target, watching) = watch::channel(None);
        let mut tasks = JoinSet::new();
        for _ in 0..count {
            tasks.spawn(browse(app.connect().await, watching.clone()));
        }
        Self { target, tasks }
    }

    /// Waits until every browser holds exactly `last`, and says what each went through.
    /// The clients stay connected until the caller drops what is returned.
    pub async fn end_with(mut self, last: Positions) -> (Vec<Seen>, Vec<WsClient>) {
        let count = self.tasks.len();
        self.target.send_replace(Some(Arc::new(last)));
        let (mut seen, mut connected) = (Vec::with_capacity(count), Vec::with_capacity(count));
        let joined = tokio::time::timeout(WAIT * 3, async {
            while let Some(browser) = self.tasks.join_next().await {
                let (browser, client) = browser.expect("a browser task");
                seen.push(browser);
                connected.push(client);
            }
        })
        .await;
        assert!(
            joined.is_ok(),
            "{} of {count} browsers caught up in time (held the upstream's state and, after a \
             stall, heard that the feed is live again)",
            seen.len()
        );
        assert!(seen.iter().all(|s| s.current), "every browser ends with the upstream's state");
        (seen, connected)
    }
}

/// Reads until the browser holds exactly the `target` positions (once there is one) and,
/// if it was told the feed stalled, has been told it is live again; notes the status frames
/// on the way. Returns the client still connected.
///
/// A connected browser hears that the feed is live no later than the tick that brings the
/// recovered positions (`Hub::tick`). But one that gets a snapshot between the reload and
/// that tick (resynced after falling behind) holds them while it was last told the feed
/// stalled, as new clients are told what the hub last announced; it hears the word a tick
/// later. So a browser holding them keeps reading for that word.
async fn browse(
    mut client: WsClient,
    mut target: watch::Receiver<Option<Arc<Positions>>>,
) -> (Seen, WsClient) {
    let mut seen = Seen::default();
    loop {
        if let Some(target) = target.borrow().clone() {
            let held: Positions = client.known().values().map(|m| (m.id, (m.lat, m.lon))).collect();
            seen.current = held == *target;
            if seen.current && (seen.live_again || !seen.stalled) {
                return (seen, client);
            }
        }
        tokio::select! {
            changed = target.changed() => if changed.is_err() { return (seen, client) },
            frame = client.next_frame_or_end() => match frame {
                None => return (seen, client),
                Some(ServerFrame::Status { feed: FeedState::Stalled }) => seen.stalled = true,
                Some(ServerFrame::Status { feed: FeedState::Live }) => seen.live_again = seen.stalled,
                Some(_) => {}
            },
        }
    }
}

/// Every browser was told the feed stalled, and then that it is live again.
pub fn assert_all_told(seen: &[Seen]) {
    let not_stalled = seen.iter().filter(|s| !s.stalled).count();
    let not_live = seen.iter().filter(|s| s.stalled && !s.live_again).count();
    assert!(
        not_stalled + not_live == 0,
        "every browser was told the feed stalled, then that it is live: {not_stalled} of {} \
         never heard it stalled, {not_live} never heard it is live again",
        seen.len()
    );
}

/// How many vehicles `/api/vehicles` lists (it answers 200 even while the feed is down).
pub async fn listed(app: &TestApp) -> usize {
    let (status, listing) = app.get_json("/api/vehicles").await;
    assert_eq!(status, 200);
    listing["vehicles"].as_array().map_or(0, Vec::len)
}

/// Waits until the server lists `count` vehicles.
pub async fn until_listed(app: &TestApp, count: usize) {
    tokio::time::timeout(WAIT, async {
        while listed(app).await != count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server lists {count} vehicles in time"));
}

/// `/readyz`'s status and body.
pub async fn readiness(app: &TestApp) -> (u16, serde_json::Value) {
    let (status, body) = app.get_json("/readyz").await;
    (status.as_u16(), body)
}

/// The sum of `transit_upstream_losses_total` for `upstream` on `/metrics`, and its
/// reasons.
pub async fn losses(app: &TestApp, upstream: &str) -> (u64, Vec<String>) {
    let text = app.http.get(format!("{}/metrics", app.url)).send().await.expect("GET");
    let text = text.text().await.expect("text");
    let prefix = format!("transit_upstream_losses_total{{upstream=\"{upstream}\",reason=\"");
    let mut total = 0;
    let mut reasons = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(&prefix)
            && let Some((reason, count)) = rest.split_once("\"} ")
        {
            total += count.parse::<u64>().expect("a count");
            reasons.push(reason.to_owned());
        }
    }
    (total, reasons)
}

/// Held for the whole of a scenario: the scenarios run one at a time. Each holds 500
/// browsers (a thousand sockets in this process) and counts the process's open files
/// before and after its fault, which another scenario starting or ending meanwhile would
/// upset; two at once would also share two cores between a thousand clients.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static SCENARIO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SCENARIO.lock().await
}

/// Files the tests running beside this one may open meanwhile.
const OTHER_TESTS_FILES: usize = 100;

/// Tasks a recovery may legitimately leave besides the ones it replaced (a new upstream
/// connection's, the fault proxy's); anything kept per browser would be hundreds over.
const TASK_MARGIN: usize = 30;
/// What the server holds that a fault could make pile up: open files (of this process: the
/// test and the server share it), the live clients, and the tasks of this test's runtime
/// (the server's and the test's own; other tests have their own runtimes).
///
/// Not memory: the other tests running in this process move its resident memory by tens
/// of megabytes (35 MB during one recovery in a rehearsal of CI), far more than a fault
/// could leave behind. The soak (`server/benches/fanout/soak.rs`) measures the real
/// binary's memory apart, under clients coming and going.
#[derive(Debug)]
pub struct Footprint {
    files: usize,
    clients: i64,
    tasks: usize,
}

impl Footprint {
    /// Taken with the browsers reading (each has its task).
    pub fn of(app: &TestApp) -> Self {
        let files = std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count());
        let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        Self { files, clients: app.stats.ws_clients.get(), tasks }
    }

    /// Nothing was left behind, now that the browsers' tasks have ended (their clients
    /// still connected). Other tests run in this process too, so the file count has a
    /// margin; anything kept per browser would be hundreds over it.
    pub fn assert_back_to(&self, before: &Self) {
        assert!(
            self.files <= before.files + OTHER_TESTS_FILES,
            "open files {} before the fault, {} after",
            before.files,
            self.files
        );
        assert_eq!(self.clients, before.clients, "every browser still connected, no more");
        assert!(
            self.tasks + BROWSERS <= before.tasks + TASK_MARGIN,
            "tasks {} before the fault (with {BROWSERS} browsers), {} after",
            before.tasks,
            self.tasks
        );
    }
}
