//! The server-rendered page and the operational endpoints.

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_page_renders_the_map_shell_with_leaflet_and_the_wasm_bundle() {
    let app = spawn_app().await;
    let response = app.http.get(&app.url).send().await.expect("GET /");
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("html");
    for expected in [
        r#"id="map""#,
        r#"data-testid="status""#,
        r#"<script src="/leaflet/leaflet.js"></script>"#,
        "/pkg/transit_stream.js",
        "transit-stream:tile-url",
    ] {
        assert!(html.contains(expected), "missing {expected} in\n{html}");
    }
}

#[tokio::test]
async fn health_reports_ok_and_the_vehicle_count() {
    let app = spawn_app().await;
    let (_, health) = app.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
    assert!(health["vehicles"].is_number());
}

#[tokio::test]
async fn the_page_carries_a_policy_naming_its_own_nonce_and_no_answer_may_be_framed() {
    let app = spawn_app_with(|config| {
        config.tile_url = "https://{s}.tiles.example/{z}/{x}/{y}.png".into()
    })
    .await;
    let response = app.http.get(&app.url).send().await.expect("GET /");
    let headers = response.headers().clone();
    let html = response.text().await.expect("html");
    let policy = headers["content-security-policy"].to_str().expect("text");
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next());
    let nonce = nonce.expect("a nonce in the policy");
    assert!(html.contains(&format!(r#"nonce="{nonce}""#)), "the page's scripts carry it");
    assert!(policy.contains("img-src 'self' data: https://*.tiles.example;"), "{policy}");

    // Each page gets its own nonce.
    let again = app.http.get(&app.url).send().await.expect("GET /");
    assert!(!again.headers()["content-security-policy"].to_str().expect("text").contains(nonce));

    for path in ["/", "/api/vehicles", "/pkg/transit_stream.js", "/no-such-file"] {
        let response = app.http.get(format!("{}{path}", app.url)).send().await.expect("GET");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(response.headers()["x-frame-options"], "DENY", "{path}");
    }
}
