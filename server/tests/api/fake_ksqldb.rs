//! A fake of ksqlDB's HTTP API for tests. It is NOT ksqlDB and proves nothing about ksqlDB
//! itself: it serves the documented protocol of the endpoints transit-stream uses, so the
//! client, the push bridge and the pull-query backend can be tested against the framing
//! and failure modes ksqlDB documents.
//!
//! Documented facts it follows, with their sources (ksqlDB documentation, docs.ksqldb.io
//! versions 0.14, 0.23 and current, and the Confluent Platform copies):
//! * "Run push and pull queries" (`developer-guide/ksqldb-rest-api/streaming-endpoint`):
//!   - `POST /query-stream`, body `{"sql": ..., "properties": {...}}`; "These endpoints are
//!     only available when using HTTP 2" (the fake refuses other versions).
//!   - `Accept: application/vnd.ksqlapi.delimited.v1` (the default): "a header JSON object
//!     followed by zero or more JSON arrays that are delimited by newlines"; the header
//!     has `queryId`, `columnNames`, `columnTypes`. `application/json`: "a single JSON
//!     array" of the header and the rows.
//!   - A push query (`EMIT CHANGES`) streams rows until closed; `POST /close-query` with
//!     `{"queryId": ...}` closes it.
//! * "HTTP API Reference": errors are `{"@type", "error_code", "message"}` objects with
//!   five-digit codes (HTTP status × 100 + detail), e.g. 40001 for a bad statement; on a
//!   running stream an error can take the place of a row.
//! * "Execute a statement" (`/ksql`): body `{"ksql": ..., "streamsProperties": {}}`, answer
//!   an array with one `currentStatus` entry per statement.
//! * "Check the health of a ksqlDB server" (`/healthcheck`): `{"isHealthy": true, ...}`.
//! * SQL string literals use single quotes, a quote inside doubled (`'O''Brien'`).
//!
//! What it does not do: parse SQL in general. It answers exactly the statements the server
//! sends (a table scan, a lookup by `VEHICLE_ID`, `EMIT CHANGES`) and gives a 40001
//! statement error for anything else, as ksqlDB would for a statement it cannot run.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use app::model::{TransportMode, VehiclePosition};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const TABLE: &str = "VEHICLE_LATEST";
const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";

/// The table's columns, in the order `ksqldb/03_vehicle_latest.sql` creates them.
pub const COLUMNS: [(&str, &str); 20] = [
    ("VEHICLE_ID", "STRING"),
    ("MODE", "STRING"),
    ("LINE", "STRING"),
    ("ROUTE", "STRING"),
    ("DIRECTION", "INTEGER"),
    ("HEADSIGN", "STRING"),
    ("OPERATOR", "INTEGER"),
    ("VEHICLE_NUMBER", "INTEGER"),
    ("TIMESTAMP_MS", "BIGINT"),
    ("SPEED_MPS", "DOUBLE"),
    ("HEADING", "INTEGER"),
    ("LAT", "DOUBLE"),
    ("LON", "DOUBLE"),
    ("DELAY_S", "INTEGER"),
    ("ODOMETER", "DOUBLE"),
    ("DOORS_OPEN", "BOOLEAN"),
    ("OCCUPANCY", "INTEGER"),
    ("NEXT_STOP", "STRING"),
    ("START_TIME", "STRING"),
    ("LOCATION_SOURCE", "STRING"),
];

/// A row of the fake table for vehicle `id` (`0018/01029`): a tram on line 9.
pub fn row(id: &str, lat: f64, lon: f64, timestamp_ms: i64) -> Vec<Value> {
    let position = VehiclePosition {
        id: id.parse().expect("test ids are valid"),
        mode: TransportMode::Tram,
        line: Some("9".into()),
        route: Some("1009".into()),
        direction: Some(1),
        headsign: Some("Jätkäsaari".into()),
        operator: Some(40),
        lat,
        lon,
        speed_mps: Some(5.5),
        heading: Some(181),
        delay_s: Some(30),
        timestamp_ms,
        start_time: Some("08:11".into()),
        next_stop: Some("1130446".into()),
        doors_open: Some(false),
        occupancy: Some(0),
        location_source: Some("GPS".into()),
    };
    row_from(&position)
}

/// The row ksqlDB's table would hold for `p`, in [`COLUMNS`] order.
pub fn row_from(p: &VehiclePosition) -> Vec<Value> {
    vec![
        json!(p.id.to_string()),
        json!(p.mode.as_str()),
        json!(p.line),
        json!(p.route),
        json!(p.direction),
        json!(p.headsign),
        json!(p.operator),
        json!(p.id.number()),
        json!(p.timestamp_ms),
        json!(p.speed_mps),
        json!(p.heading),
        json!(p.lat),
        json!(p.lon),
        json!(p.delay_s),
        json!(null),
        json!(p.doors_open),
        json!(p.occupancy),
        json!(p.next_stop),
        json!(p.start_time),
        json!(p.location_source),
    ]
}

#[derive(Default)]
struct Shared {
    table: Mutex<BTreeMap<String, Vec<Value>>>,
    /// Open push queries: id → the sender of their body chunks.
    pushes: Mutex<BTreeMap<String, mpsc::Sender<Bytes>>>,
    queries_received: Mutex<Vec<String>>,
    statements_received: Mutex<Vec<String>>,
    closed: Mutex<Vec<String>>,
    pushes_opened: AtomicU64,
    fail_pulls: AtomicBool,
    next_id: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake ksqlDB.
pub struct FakeKsqldb {
    pub url: String,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl FakeKsqldb {
    /// On a free loopback port.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("address")).await
    }

    /// On `addr`, once it is free: a fake just stopped there lets go of it as its task ends.
    pub async fn start_on(addr: SocketAddr) -> Self {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(error) => {
                    assert!(tokio::time::Instant::now() < deadline, "the fake binds: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        };
        let addr = listener.local_addr().expect("bound");
        let shared = Arc::new(Shared::default());
        let shutdown = CancellationToken::new();
        let router = Router::new()
            .route("/query-stream", post(query_stream))
            .route("/close-query", post(close_query))
            .route("/ksql", post(ksql))
            .route(
                "/healthcheck",
                get(|| async { axum::Json(json!({"isHealthy": true, "details": {}})) }),
            )
            .with_state(Arc::clone(&shared));
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ =
                axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await;
        });
        Self { url: format!("http://{addr}"), shared, shutdown }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.url.trim_start_matches("http://").parse().expect("the fake's own address")
    }

    /// Sets a row and sends it to every open push query, split over two chunks so the
    /// client must reassemble it.
    pub async fn upsert(&self, row: Vec<Value>) {
        let id = row[0].as_str().expect("id column").to_owned();
        let line = format!("{}\n", Value::Array(row.clone()));
        lock(&self.shared.table).insert(id, row);
        let (first, second) = line.as_bytes().split_at(line.len() / 2);
        for sender in self.senders() {
            let _ = sender.send(Bytes::copy_from_slice(first)).await;
            let _ = sender.send(Bytes::copy_from_slice(second)).await;
        }
    }

    /// Sets several rows and sends them to push queries packed into one chunk.
    pub async fn upsert_many(&self, rows: Vec<Vec<Value>>) {
        let mut chunk = String::new();
        for row in rows {
            chunk.push_str(&Value::Array(row.clone()).to_string());
            chunk.push('\n');
            let id = row[0].as_str().expect("id column").to_owned();
            lock(&self.shared.table).insert(id, row);
        }
        for sender in self.senders() {
            let _ = sender.send(Bytes::from(chunk.clone())).await;
        }
    }

    /// Removes a row without telling push queries (as if it changed while they were down).
    pub fn remove(&self, id: &str) {
        lock(&self.shared.table).remove(id);
    }

    /// Ends every push query's response, as a restarting ksqlDB would.
    pub fn end_push_queries(&self) {
        lock(&self.shared.pushes).clear();
    }

    /// Sends an error object in place of a row on every push query, then ends them.
    pub async fn fail_push_queries(&self) {
        let error = json!({"@type": "generic_error", "error_code": 50000, "message": "Query terminated due to an internal error"});
        for sender in self.senders() {
            let _ = sender.send(Bytes::from(format!("{error}\n"))).await;
        }
        self.end_push_queries();
    }

    pub fn fail_pulls(&self, fail: bool) {
        self.shared.fail_pulls.store(fail, Ordering::SeqCst);
    }

    /// Push queries opened since start.
    pub fn push_queries_opened(&self) -> u64 {
        self.shared.pushes_opened.load(Ordering::SeqCst)
    }

    /// Push queries whose client is still reading.
    pub fn open_push_queries(&self) -> usize {
        lock(&self.shared.pushes).values().filter(|sender| !sender.is_closed()).count()
    }

    pub fn queries_received(&self) -> Vec<String> {
        lock(&self.shared.queries_received).clone()
    }

    pub fn statements_received(&self) -> Vec<String> {
        lock(&self.shared.statements_received).clone()
    }

    pub fn closed_queries(&self) -> Vec<String> {
        lock(&self.shared.closed).clone()
    }

    pub fn stop(&self) {
        self.end_push_queries();
        self.shutdown.cancel();
    }

    fn senders(&self) -> Vec<mpsc::Sender<Bytes>> {
        lock(&self.shared.pushes).values().cloned().collect()
    }
}

impl Drop for FakeKsqldb {
    fn drop(&mut self) {
        self.stop();
    }
}

fn error(status: StatusCode, error_code: u32, message: &str) -> Response {
    let body = json!({"@type": if status.is_server_error() { "generic_error" } else { "statement_error" }, "error_code": error_code, "message": message});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn header_object(query_id: &str) -> Value {
    json!({
        "queryId": query_id,
        "columnNames": COLUMNS.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "columnTypes": COLUMNS.iter().map(|(_, kind)| *kind).collect::<Vec<_>>(),
    })
}

/// What the fake understands of a statement.
enum Query {
    Scan,
    Key(String),
    Changes,
}

fn understand(sql: &str) -> Option<Query> {
    let sql = sql.trim();
    if sql == format!("SELECT * FROM {TABLE};") {
        return Some(Query::Scan);
    }
    if sql == format!("SELECT * FROM {TABLE} EMIT CHANGES;") {
        return Some(Query::Changes);
    }
    let literal = sql
        .strip_prefix(&format!("SELECT * FROM {TABLE} WHERE VEHICLE_ID = "))?
        .strip_suffix(';')?;
    let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    // Inside a literal a quote must be doubled; a lone one would end it early, which
    // ksqlDB rejects as a syntax error.
    let mut value = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        value.push(c);
    }
    Some(Query::Key(value))
}

async fn query_stream(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if request.version() != Version::HTTP_2 {
        return error(
            StatusCode::BAD_REQUEST,
            40000,
            "The /query-stream endpoint is only available over HTTP/2",
        );
    }
    let json_form = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.starts_with("application/json"));
    let Ok(body) = axum::body::to_bytes(request.into_body(), 64 * 1024).await else {
        return error(StatusCode::BAD_REQUEST, 40000, "Unreadable request body");
    };
    #[derive(serde::Deserialize)]
    struct QueryRequest {
        sql: String,
        #[serde(default)]
        #[allow(dead_code)]
        properties: serde_json::Map<String, Value>,
    }
    let Ok(QueryRequest { sql, .. }) = serde_json::from_slice(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            40000,
            "Request body is not {\"sql\": ..., \"properties\": ...}",
        );
    };
    lock(&shared.queries_received).push(sql.clone());
    let query_id = format!("transient_{TABLE}_{}", shared.next_id.fetch_add(1, Ordering::SeqCst));

    let rows: Vec<Vec<Value>> = match understand(&sql) {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                40001,
                &format!("line 1:1: Syntax error or unknown statement: {sql}"),
            );
        }
        Some(Query::Changes) => return push(&shared, query_id, json_form),
        Some(_) if shared.fail_pulls.load(Ordering::SeqCst) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                50000,
                "Pull query failed: state store unavailable",
            );
        }
        Some(Query::Scan) => lock(&shared.table).values().cloned().collect(),
        Some(Query::Key(key)) => lock(&shared.table).get(&key).cloned().into_iter().collect(),
    };
    let header = header_object(&query_id);
    if json_form {
        let mut elements = vec![header];
        elements.extend(rows.into_iter().map(Value::Array));
        return ([(header::CONTENT_TYPE, "application/json")], Value::Array(elements).to_string())
            .into_response();
    }
    let mut body = format!("{header}\n");
    for row in rows {
        body.push_str(&Value::Array(row).to_string());
        body.push('\n');
    }
    ([(header::CONTENT_TYPE, DELIMITED)], body).into_response()
}

fn push(shared: &Arc<Shared>, query_id: String, json_form: bool) -> Response {
    if json_form {
        return error(
            StatusCode::BAD_REQUEST,
            40000,
            "The fake serves push queries in the delimited format only",
        );
    }
    shared.pushes_opened.fetch_add(1, Ordering::SeqCst);
    // Bounded: a client that stops reading holds up the test's upserts, not our memory.
    let (sender, receiver) = mpsc::channel::<Bytes>(256);
    let header = Bytes::from(format!("{}\n", header_object(&query_id)));
    lock(&shared.pushes).insert(query_id, sender);
    let rows = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), receiver))
    });
    let body =
        futures::stream::StreamExt::chain(futures::stream::once(async move { Ok(header) }), rows);
    ([(header::CONTENT_TYPE, DELIMITED)], Body::from_stream(body)).into_response()
}

async fn close_query(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(query_id) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("queryId").and_then(Value::as_str).map(str::to_owned))
    else {
        return error(StatusCode::BAD_REQUEST, 40000, "Request body is not {\"queryId\": ...}");
    };
    let known = lock(&shared.pushes).remove(&query_id).is_some();
    lock(&shared.closed).push(query_id.clone());
    if known {
        StatusCode::OK.into_response()
    } else {
        error(StatusCode::BAD_REQUEST, 40000, &format!("No query with id {query_id}"))
    }
}

async fn ksql(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(statements) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("ksql").and_then(Value::as_str).map(str::to_owned))
    else {
        return error(StatusCode::BAD_REQUEST, 40000, "Request body is not {\"ksql\": ...}");
    };
    lock(&shared.statements_received).push(statements.clone());
    let body = json!([{"@type": "currentStatus", "statementText": statements, "commandStatus": {"status": "SUCCESS", "message": "Created"}}]);
    axum::Json(body).into_response()
}
