//! The server-rendered page and the operational endpoints.

use crate::helpers::spawn_app;

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
