//! The `vehicle_position` server function, called as the browser calls it: a form-encoded
//! POST to `/api/vehicle`.

use app::error::ApiError;
use app::model::{DataSource, VehicleLookup};
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_server_function_returns_the_latest_position_of_a_vehicle() {
    let app = spawn_app().await;
    app.publish_position(1029, "2026-11-24T06:00:00.500Z", 60.17, 24.94);
    app.publish_position(1029, "2026-11-24T06:00:01.500Z", 60.171, 24.942);

    let response = app.lookup("0022/01029").await;
    assert_eq!(response.status(), StatusCode::OK);
    let found: VehicleLookup = response.json().await.expect("a VehicleLookup");
    assert_eq!(found.source, DataSource::Memory);
    let p = found.position;
    assert_eq!(p.id.to_string(), "0022/01029");
    assert_eq!((p.lat, p.lon), (60.171, 24.942));
    assert_eq!(p.line.as_deref(), Some("510"));
    assert_eq!(p.headsign.as_deref(), Some("Westendinasema"));
    assert_eq!(p.operator, Some(22));
    assert_eq!(p.speed_mps, Some(7.43));
    assert_eq!(p.heading, Some(251));
    assert_eq!(p.delay_s, Some(45), "HFP's dl of -45 means 45 s late");
    assert_eq!(p.timestamp_ms, 1_795_500_001_500);
}

#[tokio::test]
async fn ids_that_are_not_operator_slash_vehicle_are_rejected_with_400() {
    let app = spawn_app().await;
    app.publish_position(1, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    for bad in ["", "22", "0022/*", "0022/00001' OR '1'='1", "../../etc/passwd", "0022/00001;DROP"]
    {
        let response = app.lookup(bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        let error: ApiError = response.json().await.expect("a JSON ApiError");
        assert_eq!(error, ApiError::InvalidVehicleId, "{bad:?}");
    }
    assert_eq!(app.stats.api_client_errors.get(), 6, "each rejection is counted");
    let metrics = app.http.get(format!("{}/metrics", app.url)).send().await.expect("GET");
    let metrics = metrics.text().await.expect("text");
    assert!(
        metrics.contains("\ntransit_api_errors_total{code=\"invalid_vehicle_id\"} 6\n"),
        "{metrics}"
    );
    assert_eq!(app.stats.api_ok.get(), 0);
}

#[tokio::test]
async fn a_request_without_an_id_is_rejected_with_400() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}/api/vehicle", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unknown_vehicle_is_a_404_with_a_readable_error() {
    let app = spawn_app().await;
    let response = app.lookup("0018/99999").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let error: ApiError = response.json().await.expect("a JSON ApiError");
    assert_eq!(error, ApiError::VehicleNotFound);
}
