//! ksqlDB mode against the fake ksqlDB of `fake_ksqldb.rs` (a protocol fake, not ksqlDB).

use app::error::ApiError;
use app::model::{DataSource, FeedState, ServerFrame, VehicleId, VehicleLookup};
use reqwest::StatusCode;

use crate::fake_ksqldb::{FakeKsqldb, row};
use crate::helpers::{TestApp, WsClient, eventually, spawn_app_with};

async fn spawn_app_on(fake: &FakeKsqldb) -> TestApp {
    let url = fake.url.clone();
    spawn_app_with(move |config| config.ksqldb_url = Some(url)).await
}

/// An event time `offset_ms` from now: rows must be recent, or the bridge treats them as
/// vehicles long out of service.
fn fresh(offset_ms: i64) -> i64 {
    server::clock::now_ms() + offset_ms
}

fn id(text: &str) -> VehicleId {
    text.parse().expect("valid id")
}

fn marker_of(frame: &ServerFrame, wanted: VehicleId) -> Option<(f64, f64)> {
    let markers = match frame {
        ServerFrame::Snapshot { vehicles, .. } => vehicles,
        ServerFrame::Delta { upserts, .. } => upserts,
        ServerFrame::Status { .. } => return None,
    };
    markers.iter().find(|m| m.id == wanted).map(|m| (m.lat, m.lon))
}

async fn position_of(client: &mut WsClient, wanted: VehicleId, expected: (f64, f64)) {
    client.frame_where(|frame| marker_of(frame, wanted) == Some(expected)).await;
}

#[tokio::test]
async fn the_map_starts_from_the_table_snapshot_and_follows_the_push_query() {
    let fake = FakeKsqldb::start().await;
    fake.upsert(row("0040/00412", 60.17, 24.94, fresh(1_000))).await;
    fake.upsert(row("0040/00413", 60.18, 24.95, fresh(1_000))).await;
    let app = spawn_app_on(&fake).await;
    app.wait_until_ready(true).await;

    let mut client = app.connect().await;
    let ServerFrame::Snapshot { vehicles, .. } = client.next_frame().await else {
        panic!("snapshot first")
    };
    assert_eq!(vehicles.len(), 2);

    // A row split across two chunks, then two rows packed into one chunk.
    fake.upsert(row("0040/00412", 60.171, 24.941, fresh(2_000))).await;
    position_of(&mut client, id("0040/00412"), (60.171, 24.941)).await;
    fake.upsert_many(vec![
        row("0040/00413", 60.181, 24.951, fresh(2_000)),
        row("0040/00414", 60.19, 24.96, fresh(2_000)),
    ])
    .await;
    position_of(&mut client, id("0040/00414"), (60.19, 24.96)).await;
    assert_eq!(app.stats.ksqldb_rows_rejected.total(), 0);
}

#[tokio::test]
async fn vehicles_last_heard_of_long_ago_stay_off_the_map() {
    let fake = FakeKsqldb::start().await;
    // ksqlDB's table never forgets a vehicle; yesterday's must not reappear on the map.
    fake.upsert(row("0040/00001", 60.17, 24.94, fresh(-24 * 3_600_000))).await;
    fake.upsert(row("0040/00002", 60.18, 24.95, fresh(0))).await;
    let app = spawn_app_on(&fake).await;
    app.wait_until_ready(true).await;
    let mut client = app.connect().await;
    let ServerFrame::Snapshot { vehicles, .. } = client.next_frame().await else {
        panic!("snapshot first")
    };
    let ids: Vec<String> = vehicles.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(ids, ["0040/00002"]);
    // A click still finds its last known position: the panel shows how old it is.
    assert_eq!(app.lookup("0040/00001").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_browser_shares_one_upstream_push_query() {
    let fake = FakeKsqldb::start().await;
    let app = spawn_app_on(&fake).await;
    app.wait_until_ready(true).await;
    let _clients = app.connect_many(5).await;
    assert_eq!(fake.push_queries_opened(), 1);
    assert_eq!(fake.open_push_queries(), 1);
    assert_eq!(app.stats.ksqldb_push_queries.get(), 1);
}

#[tokio::test]
async fn a_click_runs_a_pull_query_by_key_with_the_id_quoted() {
    let fake = FakeKsqldb::start().await;
    fake.upsert(row("0040/00412", 60.17, 24.94, fresh(0))).await;
    let app = spawn_app_on(&fake).await;

    let response = app.lookup("40/412").await;
    assert_eq!(response.status(), StatusCode::OK);
    let found: VehicleLookup = response.json().await.expect("a lookup");
    assert_eq!(found.source, DataSource::Ksqldb);
    assert_eq!(found.position.id, id("0040/00412"));
    assert_eq!(found.position.headsign.as_deref(), Some("Jätkäsaari"));
    assert_eq!(found.position.delay_s, Some(30));
    assert!(
        fake.queries_received()
            .contains(&"SELECT * FROM VEHICLE_LATEST WHERE VEHICLE_ID = '0040/00412';".to_owned()),
        "{:?}",
        fake.queries_received()
    );

    let missing = app.lookup("0040/09999").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn injection_shaped_ids_are_rejected_before_any_query_is_sent() {
    let fake = FakeKsqldb::start().await;
    let app = spawn_app_on(&fake).await;
    for bad in [
        "0040/00412' OR '1'='1",
        "0040/00412'; DROP TABLE VEHICLE_LATEST; --",
        "' UNION SELECT * FROM HFP_RAW --",
        "0040/*",
        "0040/00412\\'",
    ] {
        let response = app.lookup(bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.json::<ApiError>().await.expect("error"), ApiError::InvalidVehicleId);
    }
    let lookups: Vec<String> =
        fake.queries_received().into_iter().filter(|sql| sql.contains("WHERE")).collect();
    assert!(lookups.is_empty(), "{lookups:?}");
}

#[tokio::test]
async fn a_dropped_push_stream_is_reopened_and_the_map_resynced() {
    let fake = FakeKsqldb::start().await;
    fake.upsert(row("0040/00001", 60.17, 24.94, fresh(1_000))).await;
    fake.upsert(row("0040/00002", 60.18, 24.95, fresh(1_000))).await;
    let app = spawn_app_on(&fake).await;
    app.wait_until_ready(true).await;
    let mut client = app.connect_past_snapshot().await;

    // ksqlDB restarts; while it is away, one vehicle leaves and another appears.
    fake.end_push_queries();
    fake.remove("0040/00002");
    fake.upsert(row("0040/00003", 60.19, 24.96, fresh(1_000))).await;

    let resynced = client
        .frame_where(|frame| {
            matches!(frame, ServerFrame::Delta { removed, .. } if removed.contains(&id("0040/00002")))
        })
        .await;
    assert_eq!(marker_of(&resynced, id("0040/00003")), Some((60.19, 24.96)));
    assert_eq!(fake.push_queries_opened(), 2);

    // And the new stream is followed.
    fake.upsert(row("0040/00001", 60.2, 24.9, fresh(2_000))).await;
    position_of(&mut client, id("0040/00001"), (60.2, 24.9)).await;
}

#[tokio::test]
async fn an_error_in_the_middle_of_the_stream_reconnects_too() {
    let fake = FakeKsqldb::start().await;
    let app = spawn_app_on(&fake).await;
    app.wait_until_ready(true).await;
    let mut client = app.connect_past_snapshot().await;

    fake.fail_push_queries().await;
    eventually("a second push query", || fake.push_queries_opened() == 2).await;
    app.wait_until_ready(true).await;
    fake.upsert(row("0040/00005", 60.2, 24.9, fresh(2_000))).await;
    position_of(&mut client, id("0040/00005"), (60.2, 24.9)).await;
    assert_eq!(fake.open_push_queries(), 1);
}

#[tokio::test]
async fn a_ksqldb_that_starts_late_leaves_the_server_up_and_not_ready_until_it_comes() {
    // Find a free port, then leave it closed: ksqlDB "is not up yet".
    let addr =
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let url = format!("http://{addr}");
    let app = spawn_app_with(move |config| config.ksqldb_url = Some(url)).await;

    let health = app.http.get(format!("{}/healthz", app.url)).send().await.expect("GET");
    assert_eq!(health.status(), StatusCode::OK, "the server itself is up");
    let ready = app.http.get(format!("{}/readyz", app.url)).send().await.expect("GET");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.expect("JSON");
    assert_eq!((body["ready"].as_bool(), body["down"].as_str()), (Some(false), Some("ksqldb")));
    let click = app.lookup("0040/00412").await;
    assert_eq!(click.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(click.json::<ApiError>().await.expect("error"), ApiError::Unavailable);

    // A browser that connects now is told the source is away, not shown a silent map.
    let mut client = app.connect().await;
    assert!(matches!(client.next_frame().await, ServerFrame::Snapshot { .. }));
    assert_eq!(client.next_frame().await, ServerFrame::Status { feed: FeedState::Stalled });

    let fake = FakeKsqldb::start_on(addr).await;
    fake.upsert(row("0040/00412", 60.17, 24.94, fresh(1_000))).await;
    app.wait_until_ready(true).await;
    client.frame_where(|frame| *frame == ServerFrame::Status { feed: FeedState::Live }).await;
    position_of(&mut client, id("0040/00412"), (60.17, 24.94)).await;

    // ksqlDB goes away again: the browser hears about it.
    fake.stop();
    client.frame_where(|frame| *frame == ServerFrame::Status { feed: FeedState::Stalled }).await;
}

#[tokio::test]
async fn a_failing_pull_query_is_a_clear_unavailable_for_the_browser() {
    let fake = FakeKsqldb::start().await;
    let app = spawn_app_on(&fake).await;
    fake.fail_pulls(true);
    let response = app.lookup("0040/00412").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = response.text().await.expect("body");
    assert_eq!(
        serde_json::from_str::<ApiError>(&body).expect("stable error"),
        ApiError::Unavailable
    );
    assert!(!body.contains("50000") && !body.contains("state store"), "no internals: {body}");
}

#[tokio::test]
async fn shutdown_closes_the_upstream_push_query() {
    let fake = FakeKsqldb::start().await;
    let app = spawn_app_on(&fake).await;
    app.wait_until_ready(true).await;
    assert_eq!(fake.open_push_queries(), 1);
    app.stop().await.expect("stops");
    assert_eq!(fake.closed_queries().len(), 1, "{:?}", fake.closed_queries());
    assert_eq!(fake.open_push_queries(), 0);
}

#[tokio::test]
async fn the_statements_are_applied_at_start_up_when_asked() {
    let fake = FakeKsqldb::start().await;
    let url = fake.url.clone();
    let app = spawn_app_with(move |config| {
        config.ksqldb_url = Some(url);
        config.ksqldb_apply_statements = true;
    })
    .await;
    app.wait_until_ready(true).await;
    let statements = fake.statements_received();
    assert_eq!(statements.len(), 1);
    assert!(statements[0].contains("CREATE TABLE IF NOT EXISTS VEHICLE_LATEST"));
}

#[tokio::test]
async fn the_client_reads_the_health_check() {
    let fake = FakeKsqldb::start().await;
    let client = server::ksqldb::KsqlClient::new(&fake.url, std::time::Duration::from_secs(10))
        .expect("a valid URL");
    assert!(client.is_healthy().await.expect("answers"));
    fake.stop();
    assert!(
        server::ksqldb::KsqlClient::new("ftp://example", std::time::Duration::from_secs(10))
            .is_err()
    );
}
