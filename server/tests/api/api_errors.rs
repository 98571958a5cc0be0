//! Every `/api/` error answers in one JSON shape with the status its code stands for, and
//! live stream clients are held to the same cap, gauge and reading duty as WebSockets.

use app::error::ApiError;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::helpers::{TestApp, eventually, read_until_closed, spawn_app, spawn_app_with};
use server::metrics::reasons::HttpClosed;

/// Status, `error` code and whether a readable `message` came with it.
async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    (status, body["error"].as_str().expect("an error code").to_owned())
}

async fn post_form(app: &TestApp, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.http
        .post(format!("{}/api/vehicle", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST")
}

#[tokio::test]
async fn the_frameworks_own_errors_under_api_have_our_shape() {
    let app = spawn_app().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.url)).send();

    let response = get("/api/no-such-thing").await.expect("GET");
    assert_eq!(error_of(response).await, (StatusCode::NOT_FOUND, "not_found".into()));

    let response =
        app.http.delete(format!("{}/api/vehicles", app.url)).send().await.expect("DELETE");
    assert!(response.headers().contains_key("allow"), "the Allow header stays");
    assert_eq!(
        error_of(response).await,
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed".into())
    );

    let response = get("/api/vehicles/%ff/1").await.expect("GET");
    assert_eq!(error_of(response).await, (StatusCode::BAD_REQUEST, "bad_request".into()));

    // Errors elsewhere are the site's business: a missing file is a plain 404.
    let response = get("/no-such-file.txt").await.expect("GET");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok());
    assert!(!kind.unwrap_or_default().contains("json"), "{kind:?}");
}

#[tokio::test]
async fn a_server_function_body_over_the_limit_is_413_however_it_is_sent() {
    let app = spawn_app().await;
    let large = format!("id={}", "0".repeat(3 * 1024 * 1024));
    assert_eq!(
        error_of(post_form(&app, large).await).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    let small_but_over = format!("id=0022/1&pad={}", "x".repeat(2_000));
    assert_eq!(
        error_of(post_form(&app, small_but_over).await).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    // Chunked: no length said up front.
    let mut stream = app.tcp().await;
    let mut request = b"POST /api/vehicle HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n"
        .to_vec();
    for _ in 0..100 {
        request.extend(b"20\r\nid=0022%2F00101&pad=xxxxxxxxxxxx\r\n");
    }
    request.extend(b"0\r\n\r\n");
    stream.write_all(&request).await.expect("writes");
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""error":"too_large""#), "{answer}");
    assert_eq!(app.stats.api_server_errors.get(), 0);
    assert_eq!(app.stats.api_errors.get(ApiError::TooLarge), 3, "each counted by code");
}

#[tokio::test]
async fn repeated_or_array_form_fields_are_a_400_not_a_500() {
    let app = spawn_app().await;
    app.publish_position(101, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    for form in ["id=0022/00101&id=0018/1", "id[]=1", "id[a]=0022/00101", "id=0022%2F00101&id"] {
        let response = post_form(&app, form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["error"], "invalid_vehicle_id", "{form}");
    }
    assert_eq!(app.stats.api_client_errors.get(), 4);
    assert_eq!(app.stats.api_server_errors.get(), 0);
    assert_eq!(app.stats.api_errors.get(ApiError::InvalidVehicleId), 4, "counted by code");
}

#[tokio::test]
async fn stream_clients_are_live_clients_in_the_gauge_and_a_refused_one_is_told_why() {
    let app = spawn_app_with(|config| config.max_ws_clients = 1).await;
    let stream = app.http.get(format!("{}/api/stream", app.url)).send().await.expect("GET");
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(app.stats.ws_clients.get(), 1);

    let refused = app.http.get(format!("{}/api/stream", app.url)).send().await.expect("GET");
    assert_eq!(
        error_of(refused).await,
        (StatusCode::SERVICE_UNAVAILABLE, "too_many_clients".into())
    );

    drop(stream);
    let stats = std::sync::Arc::clone(&app.stats);
    eventually("the slot is given back", || stats.ws_clients.get() == 0).await;
    app.connect_past_snapshot().await; // a WebSocket gets the freed place
}

#[tokio::test]
async fn a_stream_client_that_stops_reading_is_dropped_and_frees_its_place() {
    let app = spawn_app_with(|config| {
        config.max_ws_clients = 1;
        config.request_timeout_ms = 500;
    })
    .await;
    let mut reader = app.tcp_with_small_window().await;
    reader.write_all(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("writes");
    let stats = std::sync::Arc::clone(&app.stats);
    eventually("the stream is open", || stats.ws_clients.get() == 1).await;

    // Never reading from here on. Every round moves 3,000 vehicles onto another line, so
    // each JSON frame is ~600 KB: a few fill the socket, then the writes stall.
    for round in 1..=200_u32 {
        if stats.ws_clients.get() == 0 {
            break;
        }
        app.move_fleet(3_000, round);
        let published = stats.frames_published.get();
        tokio::time::timeout(crate::helpers::WAIT, async {
            // Once the reader is dropped nobody listens, and the hub publishes nothing.
            while stats.frames_published.get() == published && stats.ws_clients.get() > 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the hub publishes each round");
    }
    assert_eq!(stats.ws_clients.get(), 0, "the silent reader was dropped");
    assert!(stats.http_closed.get(HttpClosed::WriteStall) >= 1, "counted");
    // Its place is free for a reader that reads.
    app.connect_past_snapshot().await;
}
