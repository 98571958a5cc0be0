//! The `/api/` HTTP API, its OpenAPI document and `/docs`.

use app::model::ServerFrame;
use reqwest::StatusCode;
use serde_json::Value;

use crate::fake_ksqldb::{FakeKsqldb, row};
use crate::helpers::{TestApp, spawn_app, spawn_app_with, upserted, vehicle};
use crate::redis_server::RedisServer;

fn sources(list: &Value) -> Vec<(String, String)> {
    list["vehicles"]
        .as_array()
        .expect("a vehicles array")
        .iter()
        .map(|v| {
            (
                v["position"]["id"].as_str().expect("id").to_owned(),
                v["source"].as_str().expect("source").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for path in [
        "/api/vehicles",
        "/api/vehicles/{operator}/{vehicle}",
        "/api/redis/vehicles",
        "/api/redis/vehicles/{operator}/{vehicle}",
        "/api/ksqldb/vehicles",
        "/api/ksqldb/vehicles/{operator}/{vehicle}",
        "/api/stream",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["VehiclePosition"].is_object());
}

#[tokio::test]
async fn vehicles_are_listed_and_found_by_a_typed_id() {
    let app = spawn_app().await;
    app.publish_position(2, "2026-11-24T06:00:00.000Z", 60.2, 24.9);
    app.publish_position(1, "2026-11-24T06:00:00.000Z", 60.1, 24.9);

    let (status, list) = app.get_json("/api/vehicles").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sources(&list),
        [("0022/00001".into(), "memory".into()), ("0022/00002".into(), "memory".into())]
    );
    let (status, one) = app.get_json("/api/vehicles/22/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["position"]["id"], "0022/00001");
    assert_eq!(one["position"]["lat"], 60.1);
}

#[tokio::test]
async fn bad_ids_and_unknown_vehicles_get_stable_json_errors() {
    let app = spawn_app().await;
    for path in [
        "/api/vehicles/00x2/1",
        "/api/vehicles/0022/123456",
        "/api/vehicles/%27%20OR%20%271%27=%271/1",
        "/api/redis/vehicles/*/*",
        "/api/ksqldb/vehicles/0022/1%3B%20DROP",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body["error"], "invalid_vehicle_id", "{path}");
        assert!(body["message"].is_string());
    }
    let (status, body) = app.get_json("/api/vehicles/0022/99999").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("vehicle_not_found"))
    );
}

#[tokio::test]
async fn the_redis_endpoints_read_redis_and_answer_503_while_it_is_down() {
    let mut redis = RedisServer::start();
    let value = r#"{"MODE":"tram","LAT":60.3,"LON":24.9,"TIMESTAMP_MS":1795500000000}"#;
    redis.command(1, &["SET", "0040/00412", value]);
    redis.command(1, &["SET", "__kafka.offset.vehicle_latest.0", r#"{"offset":1}"#]);
    let url = redis.url(1);
    let app = spawn_app_with(move |config| config.redis_url = Some(url)).await;

    let (status, list) = app.get_json("/api/redis/vehicles").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sources(&list), [("0040/00412".into(), "redis".into())]);

    redis.kill();
    // The listing fetched above is shared for one tick; after it, Redis is asked again.
    let body = tokio::time::timeout(crate::helpers::WAIT, async {
        loop {
            let (status, body) = app.get_json("/api/redis/vehicles").await;
            if status != StatusCode::OK {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                return body;
            }
        }
    })
    .await
    .expect("a 503 once the shared listing is a tick old");
    assert_eq!(body["error"], "unavailable");
    let (status, _) = app.get_json("/api/redis/vehicles/0040/00412").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    redis.restart();
    redis.command(1, &["SET", "0040/00412", value]);
    // Our server is not restarted: its connection to Redis comes back by itself.
    tokio::time::timeout(crate::helpers::WAIT, async {
        while app.get_json("/api/redis/vehicles/0040/00412").await.0 != StatusCode::OK {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the endpoint recovers without restarting our server");
}

#[tokio::test]
async fn the_ksqldb_endpoints_run_pull_queries() {
    let fake = FakeKsqldb::start().await;
    fake.upsert(row("0040/00412", 60.17, 24.94, server::clock::now_ms())).await;
    let url = fake.url.clone();
    let app = spawn_app_with(move |config| config.ksqldb_url = Some(url)).await;

    let (status, list) = app.get_json("/api/ksqldb/vehicles").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sources(&list), [("0040/00412".into(), "ksqldb".into())]);
    let (status, one) = app.get_json("/api/ksqldb/vehicles/0040/00412").await;
    assert_eq!((status, one["source"].as_str()), (StatusCode::OK, Some("ksqldb")));
    assert!(
        fake.queries_received()
            .contains(&"SELECT * FROM VEHICLE_LATEST WHERE VEHICLE_ID = '0040/00412';".to_owned())
    );
}

/// Reads NDJSON lines from a streaming response.
struct Lines {
    response: reqwest::Response,
    pending: Vec<u8>,
}

impl Lines {
    async fn next(&mut self) -> ServerFrame {
        tokio::time::timeout(crate::helpers::WAIT, async {
            loop {
                if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.pending.drain(..=end).collect();
                    return serde_json::from_slice(&line).expect("each line is a frame");
                }
                let chunk = self.response.chunk().await.expect("readable").expect("still open");
                self.pending.extend_from_slice(&chunk);
            }
        })
        .await
        .expect("a line in time")
    }
}

async fn open_stream(app: &TestApp) -> Lines {
    let response = app.http.get(format!("{}/api/stream", app.url)).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    Lines { response, pending: Vec::new() }
}

#[tokio::test]
async fn the_stream_sends_a_snapshot_then_deltas_as_json_lines() {
    let app = spawn_app().await;
    app.publish_position(1, "2026-11-24T06:00:00.000Z", 60.1, 24.9);
    let mut lines = open_stream(&app).await;
    let ServerFrame::Snapshot { vehicles, .. } = lines.next().await else {
        panic!("snapshot first")
    };
    assert_eq!(vehicles.len(), 1);

    app.publish_position(1, "2026-11-24T06:00:01.000Z", 60.11, 24.9);
    loop {
        let frame = lines.next().await;
        if upserted(&frame, vehicle(1)) == Some((60.11, 24.9)) {
            break;
        }
    }
}

#[tokio::test]
async fn stream_clients_share_the_one_upstream_push_query() {
    let fake = FakeKsqldb::start().await;
    let url = fake.url.clone();
    let app = spawn_app_with(move |config| config.ksqldb_url = Some(url)).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut lines = open_stream(&app).await;
        lines.next().await;
        streams.push(lines);
    }
    assert_eq!(fake.push_queries_opened(), 1);
    fake.upsert(row("0040/00001", 60.2, 24.9, server::clock::now_ms())).await;
    for lines in &mut streams {
        loop {
            let frame = lines.next().await;
            if matches!(&frame, ServerFrame::Delta { upserts, .. } if upserts.iter().any(|m| m.id.to_string() == "0040/00001"))
            {
                break;
            }
        }
    }
}

#[tokio::test]
async fn the_docs_page_needs_nothing_from_the_internet() {
    let app = spawn_app().await;
    let response = app.http.get(format!("{}/docs", app.url)).send().await.expect("GET /docs");
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"src="/docs/swagger-ui-bundle.js""#));
    assert!(html.contains("/api/openapi.json"));
    assert!(!html.contains("https://") && !html.contains("http://"), "no external assets");
}

#[tokio::test]
async fn other_sites_may_read_the_api_without_credentials_but_not_call_the_server_function() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/api/vehicles", app.url))
        .header("origin", "https://other.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(!response.headers().contains_key("access-control-allow-credentials"));

    // A browser asks before a cross-site form POST with a JSON body; it gets no grant.
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/api/vehicle", app.url))
        .header("origin", "https://other.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("OPTIONS");
    assert!(!preflight.headers().contains_key("access-control-allow-origin"));
}
