//! The HTTP listener's limits: connections that do not send a request in time are closed
//! or answered 408, and none of them can hold up shutdown.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::helpers::{TestApp, WAIT, eventually, read_until_closed, spawn_app, spawn_app_with};
use server::metrics::reasons::HttpClosed;

const HEADER_TIMEOUT: Duration = Duration::from_millis(400);

#[tokio::test]
async fn half_sent_silent_and_idle_connections_are_closed_after_the_header_timeout() {
    let app =
        spawn_app_with(|config| config.request_timeout_ms = HEADER_TIMEOUT.as_millis() as u64)
            .await;

    let mut half_sent = app.tcp().await;
    half_sent.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("writes");
    let mut silent = app.tcp().await;
    let mut idle = app.tcp().await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("writes");
    let started = Instant::now();

    assert!(read_until_closed(&mut half_sent).await.is_empty(), "no answer to half a request");
    assert!(read_until_closed(&mut silent).await.is_empty());
    // The kept-alive connection was answered, then closed once idle past the deadline.
    assert!(read_until_closed(&mut idle).await.starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() >= HEADER_TIMEOUT, "not before the deadline");
    // Only half a request is trouble: browsers leave sockets silent all the time.
    let stats = &app.stats;
    eventually("three closes counted", || {
        stats.http_closed.get(HttpClosed::HeaderTimeout) + stats.http_idle_closed.get() == 3
    })
    .await;
    assert_eq!(stats.http_closed.get(HttpClosed::HeaderTimeout), 1, "the half-sent request");
    assert_eq!(stats.http_idle_closed.get(), 2, "the silent and the idle connection");

    // A connection that keeps up is served as before.
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_request_body_that_never_arrives_is_answered_408_after_the_timeout() {
    let app =
        spawn_app_with(|config| config.request_timeout_ms = HEADER_TIMEOUT.as_millis() as u64)
            .await;
    let mut stream = app.tcp().await;
    stream
        .write_all(b"POST /api/vehicle HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nid=")
        .await
        .expect("writes");
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn a_half_sent_request_does_not_hold_up_shutdown() {
    // A header deadline far beyond the test's wait: only the shutdown can end the request.
    let app = spawn_app_with(|config| config.request_timeout_ms = 600_000).await;
    let mut half_sent = app.tcp().await;
    half_sent
        .write_all(b"POST /api/vehicle HTTP/1.1\r\nHost: x\r\nContent-Le")
        .await
        .expect("writes");
    let mut half_body = app.tcp().await;
    half_body
        .write_all(b"POST /api/vehicle HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nid=")
        .await
        .expect("writes");
    // Both requests are in the server's hands before it is told to stop.
    tokio::time::sleep(Duration::from_millis(100)).await;

    app.stop().await.expect("the server stops within the wait, cutting both");
    read_until_closed(&mut half_sent).await;
    read_until_closed(&mut half_body).await;
}

/// Whether a fresh connection from this address is served: `/healthz` answered.
async fn served(app: &TestApp) -> bool {
    let mut stream = app.tcp().await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    read_until_closed(&mut stream).await.starts_with("HTTP/1.1 200")
}

#[tokio::test]
async fn one_address_holds_at_most_its_cap_of_connections_websockets_included() {
    let app = spawn_app_with(|config| config.max_connections_per_address = 2).await;
    assert!(served(&app).await, "under the cap");

    let websocket = app.connect_past_snapshot().await;
    let _silent = app.tcp().await;
    // A third is closed on arrival, unanswered.
    assert!(!served(&app).await, "at the cap");
    assert!(app.stats.http_closed.get(HttpClosed::AddressAtCap) >= 1);

    // The WebSocket leaving gives its place back.
    drop(websocket);
    tokio::time::timeout(WAIT, async {
        while !served(&app).await {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the place is given back");
}

#[tokio::test]
async fn headers_too_large_or_too_many_are_answered_431_and_the_connection_closed() {
    let app = spawn_app().await;
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    let many = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200).map(|n| format!("X-{n}: 1\r\n")).collect::<String>()
    );
    for request in [huge, many] {
        let mut stream = app.tcp().await;
        // The server may answer and close before it has read everything we send.
        let _ = stream.write_all(request.as_bytes()).await;
        let answer = read_until_closed(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{}", &answer[..answer.len().min(200)]);
    }
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200, "others are served as before");
}
