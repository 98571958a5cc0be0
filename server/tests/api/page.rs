//! The server-rendered page and the operational endpoints.

use crate::helpers::{ScratchDir, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_page_renders_the_map_shell_with_leaflet_and_the_wasm_bundle() {
    let app = spawn_app().await;
    let response = app.http.get(&app.url).send().await.expect("GET /");
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("html");
    for expected in [
        r#"id="map""#,
        r#"data-testid="status""#,
        LEAFLET,
        "/pkg/transit_stream.js",
        "transit-stream:tile-url",
    ] {
        assert!(html.contains(expected), "missing {expected} in\n{html}");
    }
}

/// Leaflet, deferred so that the page paints without waiting for it.
const LEAFLET: &str = r#"<script defer src="/leaflet/leaflet.js"></script>"#;

#[tokio::test]
async fn leaflet_runs_before_the_module_that_starts_the_map_without_holding_up_the_first_paint() {
    let app = spawn_app().await;
    let html = app.http.get(&app.url).send().await.expect("GET /").text().await.expect("html");
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("no {needle} in\n{html}"));
    // Deferred and module scripts run in document order once the page is parsed: Leaflet
    // must come first, as the wasm binds to its global `L`.
    assert!(at(LEAFLET) < at(r#"<script type="module""#), "{html}");
    // And no classic script in the head may block parsing on a download.
    let head = &html[..at("</head>")];
    let blocking = head.match_indices("<script src=").count();
    assert_eq!(blocking, 0, "a blocking script in\n{head}");
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

#[tokio::test]
async fn site_files_are_sent_from_their_precompressed_copies_and_revalidated() {
    let scratch = ScratchDir::new("site");
    let site = scratch.path().to_owned();
    std::fs::create_dir_all(site.join("pkg")).expect("a site directory");
    // Different bytes in each copy, so the test sees which one was sent.
    for (name, content) in [("app.js", "plain"), ("app.js.br", "brotli"), ("app.js.gz", "gzip")] {
        std::fs::write(site.join("pkg").join(name), content).expect("writes");
    }
    let root = site.clone();
    let app = spawn_app_with(move |config| config.site_root = root).await;
    let url = format!("{}/pkg/app.js", app.url);
    let get = |encoding: &'static str| {
        let request = app.http.get(&url).header("accept-encoding", encoding);
        async move { request.send().await.expect("GET /pkg/app.js") }
    };

    for (accepted, sent, encoding) in [
        ("gzip, deflate, br", "brotli", Some("br")),
        ("gzip", "gzip", Some("gzip")),
        ("identity", "plain", None),
    ] {
        let response = get(accepted).await;
        assert_eq!(response.status(), 200);
        let header =
            |name| response.headers().get(name).map(|v| v.to_str().expect("ASCII").to_owned());
        assert_eq!(header("content-encoding").as_deref(), encoding, "for {accepted}");
        assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
        assert_eq!(header("content-type").as_deref(), Some("text/javascript"));
        assert!(header("last-modified").is_some(), "revalidation needs a validator");
        assert_eq!(response.text().await.expect("a body"), sent, "for {accepted}");
    }
}

#[tokio::test]
async fn a_versioned_build_names_its_files_under_the_version_and_browsers_may_keep_them() {
    let scratch = ScratchDir::new("site-v");
    let site = scratch.path().to_owned();
    std::fs::create_dir_all(site.join("pkg")).expect("a site directory");
    std::fs::write(site.join("version"), "00c0ffee00c0ffee\n").expect("writes");
    for (name, content) in [("app.js", "plain"), ("app.js.br", "brotli")] {
        std::fs::write(site.join("pkg").join(name), content).expect("writes");
    }
    let root = site.clone();
    let app = spawn_app_with(move |config| config.site_root = root).await;

    let html = app.http.get(&app.url).send().await.expect("GET /").text().await.expect("html");
    for named in [
        r#"<script defer src="/v/00c0ffee00c0ffee/leaflet/leaflet.js"></script>"#,
        r#"href="/v/00c0ffee00c0ffee/style/main.css""#,
        r#"href="/v/00c0ffee00c0ffee/pkg/transit_stream.js""#,
        r#"href="/v/00c0ffee00c0ffee/pkg/transit_stream_bg.wasm""#,
    ] {
        assert!(html.contains(named), "missing {named} in\n{html}");
    }

    let get = |path: &str| {
        let request = app.http.get(format!("{}{path}", app.url)).header("accept-encoding", "br");
        async move { request.send().await.expect("GET") }
    };
    let kept = get("/v/00c0ffee00c0ffee/pkg/app.js").await;
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(kept.headers()["content-encoding"], "br");
    assert_eq!(kept.text().await.expect("a body"), "brotli");
    // A page from before a deploy asks for its own version: not today's files under it.
    for stale in ["/v/0123456789abcdef/pkg/app.js", "/v/00c0ffee00c0ffee", "/v/"] {
        assert_eq!(get(stale).await.status(), 404, "{stale}");
    }
    assert_eq!(get("/v/00c0ffee00c0ffee/pkg/missing.js").await.status(), 404);
    // The plain paths still work, revalidated.
    let plain = get("/pkg/app.js").await;
    assert_eq!(plain.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn the_fleet_listing_is_sent_gzip_to_clients_that_take_it() {
    let app = spawn_app().await;
    app.publish_position(7, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    let listing = |encoding: &'static str| {
        let request = app.http.get(format!("{}/api/vehicles", app.url));
        async move { request.header("accept-encoding", encoding).send().await.expect("GET") }
    };

    let zipped = listing("gzip, br").await;
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    let bytes = zipped.bytes().await.expect("a body");
    let mut json = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut json)
        .expect("gzip");
    let plain = listing("identity").await;
    assert_eq!(plain.headers().get("content-encoding"), None);
    assert_eq!(plain.text().await.expect("a body"), json, "the same listing either way");
    let listed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(listed["vehicles"][0]["position"]["id"], "0022/00007", "{json}");
}
