//! `/ws`: snapshot, deltas, shared frames, limits.

use app::model::ServerFrame;
use app::viewport::Bounds;
use app::wire::client::{self, ClientMessage};
use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{WAIT, spawn_app, spawn_app_with, upserted, vehicle, vp_message};
use server::metrics::reasons::{Resync, WsRefusal};
use server::positions::Upsert;

#[tokio::test]
async fn a_new_client_gets_a_snapshot_of_every_current_vehicle() {
    let app = spawn_app().await;
    app.publish_position(1, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    app.publish_position(2, "2026-11-24T06:00:00.000Z", 60.18, 24.95);
    app.publish_position(3, "2026-11-24T06:00:00.000Z", 60.19, 24.96);

    let mut client = app.connect().await;
    match client.next_frame().await {
        ServerFrame::Snapshot { vehicles, .. } => {
            let mut ids: Vec<String> = vehicles.iter().map(|m| m.id.to_string()).collect();
            ids.sort();
            assert_eq!(ids, ["0022/00001", "0022/00002", "0022/00003"]);
            let one = vehicles.iter().find(|m| m.id == vehicle(1)).expect("vehicle 1");
            assert_eq!((one.lat, one.lon, one.line.as_deref()), (60.17, 24.94, Some("510")));
        }
        other => panic!("the first frame must be a snapshot, got {other:?}"),
    }
}

#[tokio::test]
async fn a_vehicle_that_appears_and_moves_arrives_in_deltas_after_the_snapshot() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let ServerFrame::Snapshot { seq: snapshot_seq, vehicles } = client.next_frame().await else {
        panic!("snapshot first");
    };
    assert!(vehicles.is_empty());

    app.publish_position(7, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    let appeared = client.frame_where(|f| upserted(f, vehicle(7)).is_some()).await;
    let ServerFrame::Delta { seq: first_seq, .. } = appeared else { unreachable!() };
    assert!(first_seq > snapshot_seq);

    app.publish_position(7, "2026-11-24T06:00:01.000Z", 60.171, 24.941);
    let moved = client.frame_where(|f| upserted(f, vehicle(7)).is_some()).await;
    assert_eq!(upserted(&moved, vehicle(7)), Some((60.171, 24.941)));
    let ServerFrame::Delta { seq: second_seq, .. } = moved else { unreachable!() };
    assert!(second_seq > first_seq, "sequence numbers grow");
}

#[tokio::test]
async fn an_out_of_order_message_never_moves_a_vehicle_backwards() {
    let app = spawn_app().await;
    let mut client = app.connect_past_snapshot().await;

    app.publish_position(9, "2026-11-24T06:00:02.000Z", 60.20, 24.90);
    client.frame_where(|f| upserted(f, vehicle(9)).is_some()).await;
    // Older event time, later arrival: must not be applied...
    app.publish_position(9, "2026-11-24T06:00:01.000Z", 60.10, 24.80);
    // ...so the next delta for vehicle 9 is this newer message, not the stale one.
    app.publish_position(9, "2026-11-24T06:00:03.000Z", 60.21, 24.91);
    let next = client.frame_where(|f| upserted(f, vehicle(9)).is_some()).await;
    assert_eq!(upserted(&next, vehicle(9)), Some((60.21, 24.91)));
    assert_eq!(app.stats.upserts.get(Upsert::Stale), 1);
}

#[tokio::test]
async fn every_client_receives_the_same_frames_serialized_once() {
    let app = spawn_app().await;
    let mut clients = app.connect_many(3).await;
    app.publish_position(5, "2026-11-24T06:00:00.000Z", 60.17, 24.94);

    let mut texts = Vec::new();
    for client in &mut clients {
        let frame = client.frame_where(|f| upserted(f, vehicle(5)).is_some()).await;
        texts.push(serde_json::to_string(&frame).expect("serializes"));
    }
    assert!(texts.windows(2).all(|pair| pair[0] == pair[1]));
    // One vehicle appeared once: one delta frame, whatever the number of clients.
    assert_eq!(app.stats.frames_published.get(), 1);
}

#[tokio::test]
async fn malformed_messages_are_counted_and_the_valid_ones_still_reach_the_map() {
    let app = spawn_app().await;
    let mut client = app.connect_past_snapshot().await;

    let (topic, payload) = vp_message(4, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    assert!(!app.publish(&topic, b""));
    assert!(!app.publish(&topic, b"{\"VP\":{\"tst\":\"yesterday\"}}"));
    assert!(!app.publish("/hfp/v2/journey/ongoing/vp/bus/0022", payload.as_bytes()));
    assert!(!app.publish(&topic, &vec![b' '; 100_000]));
    assert!(app.publish(&topic, payload.as_bytes()));
    client.frame_where(|f| upserted(f, vehicle(4)).is_some()).await;

    let metrics = app.http.get(format!("{}/metrics", app.url)).send().await.expect("GET /metrics");
    let text = metrics.text().await.expect("text");
    for line in [
        "transit_hfp_messages_received_total 5",
        "transit_hfp_messages_rejected_total{reason=\"json\"} 1",
        "transit_hfp_messages_rejected_total{reason=\"timestamp\"} 1",
        "transit_hfp_messages_rejected_total{reason=\"topic\"} 1",
        "transit_hfp_messages_rejected_total{reason=\"too_large\"} 1",
        "transit_upserts_total{outcome=\"inserted\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
    }
}

/// The vehicles of a snapshot, by number.
fn numbers(frame: &ServerFrame) -> Vec<u32> {
    let ServerFrame::Snapshot { vehicles, .. } = frame else {
        panic!("expected a snapshot, got {frame:?}");
    };
    let mut numbers: Vec<u32> = vehicles.iter().map(|m| m.id.number()).collect();
    numbers.sort_unstable();
    numbers
}

async fn tell(client: &mut crate::helpers::WsClient, message: &ClientMessage) {
    let bytes = client::encode(message);
    client.stream.send(Message::Binary(bytes.into())).await.expect("sent");
}

#[tokio::test]
async fn a_client_zoomed_into_the_centre_is_sent_only_the_vehicles_around_it() {
    let app = spawn_app().await;
    app.publish_position(1, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    app.publish_position(2, "2026-11-24T06:00:00.000Z", 60.25, 24.94);
    let mut client = app.connect_past_snapshot().await;

    // Around the railway station, about zoom 15 on a laptop; vehicle 2 is in Pakila.
    let centre = Bounds::new(60.160, 24.900, 60.182, 24.982).expect("a view");
    tell(&mut client, &ClientMessage::View(centre)).await;
    // (The vehicles' first delta may come first.)
    let zoomed = client.frame_where(|f| matches!(f, ServerFrame::Snapshot { .. })).await;
    assert_eq!(numbers(&zoomed), [1], "a snapshot of the view");

    app.publish_position(2, "2026-11-24T06:00:01.000Z", 60.251, 24.941);
    app.publish_position(1, "2026-11-24T06:00:01.000Z", 60.171, 24.941);
    loop {
        let frame = client.next_frame().await;
        assert_eq!(upserted(&frame, vehicle(2)), None, "Pakila is out of view");
        if upserted(&frame, vehicle(1)) == Some((60.171, 24.941)) {
            break;
        }
    }

    // Driving into view, vehicle 2 arrives with its line (`next_frame` insists on it).
    app.publish_position(2, "2026-11-24T06:00:02.000Z", 60.175, 24.95);
    client.frame_where(|f| upserted(f, vehicle(2)).is_some()).await;

    // Something that is not a view is counted and ignored; zooming out gets everything.
    client.stream.send(Message::Binary(vec![app::wire::VERSION, 99].into())).await.expect("sent");
    tell(&mut client, &ClientMessage::Everything).await;
    let everything = client.frame_where(|f| matches!(f, ServerFrame::Snapshot { .. })).await;
    assert_eq!(numbers(&everything), [1, 2]);
    assert_eq!(app.stats.ws_ignored.total(), 1);
    assert_eq!(app.stats.ws_view_changes.get(), 2);
}

#[tokio::test]
async fn a_page_opening_the_feed_in_a_view_gets_a_first_snapshot_of_that_view() {
    let app = spawn_app().await;
    app.publish_position(1, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    app.publish_position(2, "2026-11-24T06:00:00.000Z", 60.25, 24.94);
    let centre = Bounds::new(60.160, 24.900, 60.182, 24.982).expect("a view");
    let mut client = app.connect_to(&format!("{}?view={centre}", app.ws_url)).await;
    assert_eq!(numbers(&client.next_frame().await), [1]);

    for bad in ["60.16,24.9,60.18", "60.2,24.9,60.1,25", "x", "1,2,3,4&view=1,2,3,4"] {
        let refused = tokio_tungstenite::connect_async(format!("{}?view={bad}", app.ws_url)).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 400, "{bad}");
            }
            other => panic!("{bad}: expected 400, got {other:?}"),
        }
    }
    assert_eq!(app.stats.ws_refused.get(WsRefusal::BadRequest), 4);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_with_503() {
    let app = spawn_app_with(|config| config.max_ws_clients = 1).await;
    let mut first = app.connect().await;
    first.next_frame().await;

    let refused = tokio_tungstenite::connect_async(app.ws_url.as_str()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    assert_eq!(app.stats.ws_refused.get(WsRefusal::Full), 1);
}

#[tokio::test]
async fn an_oversized_client_message_ends_that_connection_only() {
    let app = spawn_app().await;
    let mut rude = app.connect().await;
    let mut polite = app.connect().await;
    rude.next_frame().await;
    polite.next_frame().await;

    rude.send_text(&"x".repeat(64 * 1024)).await;
    // The server says why before it ends the connection: 1009, message too big.
    assert_eq!(close_code(&mut rude).await, Some(CloseCode::Size));
    assert_eq!(app.stats.ws_dropped.total(), 1);

    app.publish_position(8, "2026-11-24T06:00:00.000Z", 60.17, 24.94);
    polite.frame_where(|f| upserted(f, vehicle(8)).is_some()).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_resynced_from_a_snapshot_and_ends_up_current() {
    // Each round moves every vehicle and changes its line, so that each delta says what
    // every vehicle is (~40 bytes each, ~200 KB a frame). A few dozen rounds fill the
    // socket buffers, after which the server's send for this client waits and the
    // broadcast channel (16 frames) runs past it. They must all happen within the
    // server's send timeout (10 s).
    const VEHICLES: u32 = 5_000;
    const ROUNDS: u32 = 80;
    let app = spawn_app().await;
    let mut client = app.connect_with_small_window().await;

    // Not reading from here on. Each round waits for the hub to publish it as its own frame.
    for round in 1..=ROUNDS {
        let published = app.stats.frames_published.get();
        app.move_fleet(VEHICLES, round);
        tokio::time::timeout(WAIT, async {
            while app.stats.frames_published.get() == published {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the hub publishes each round");
    }

    // Reading again: after whatever was already in flight comes a snapshot, and with it
    // the latest position of every vehicle.
    let resync = client.frame_where(|f| matches!(f, ServerFrame::Snapshot { .. })).await;
    assert_eq!(app.stats.resyncs.get(Resync::Lagged), 1);
    let ServerFrame::Snapshot { vehicles, .. } = resync else { unreachable!() };
    assert_eq!(vehicles.len(), VEHICLES as usize);
    let latest = 60.0 + f64::from(ROUNDS) * 0.001;
    assert!(vehicles.iter().all(|m| m.lat == latest), "the snapshot is current");
}

/// Opens `/ws` as a browser page at `origin` would.
async fn connect_from(
    app: &crate::helpers::TestApp,
    origin: &str,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = app.ws_url.as_str().into_client_request().expect("a request");
    request.headers_mut().insert("origin", origin.parse().expect("a header value"));
    tokio_tungstenite::connect_async(request).await.map(|_| ())
}

#[tokio::test]
async fn only_pages_of_this_server_or_allowed_origins_may_open_the_feed() {
    let app = spawn_app_with(|config| {
        config.allowed_origins = vec!["https://maps.example.org".into()];
    })
    .await;
    let own = app.url.clone();
    connect_from(&app, &own).await.expect("the server's own pages");
    connect_from(&app, "https://maps.example.org").await.expect("an allowed origin");
    for other in
        ["https://evil.example", "null", "http://127.0.0.1:1", "https://maps.example.org.evil"]
    {
        match connect_from(&app, other).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{other}");
            }
            result => panic!("{other}: expected a 403, got {result:?}"),
        }
    }
    assert_eq!(app.stats.ws_refused.get(WsRefusal::Origin), 4);
    // Operators see why on /metrics.
    let metrics = app.http.get(format!("{}/metrics", app.url)).send().await.expect("GET");
    let metrics = metrics.text().await.expect("text");
    assert!(metrics.contains("\ntransit_ws_refused_total{reason=\"origin\"} 4\n"), "{metrics}");
    // Clients that are not browser pages send no Origin and are served.
    app.connect_past_snapshot().await;
}

/// The code of the close frame the server sends next; `None` if the connection ends
/// without one (what clients see as 1006).
async fn close_code(client: &mut crate::helpers::WsClient) -> Option<CloseCode> {
    loop {
        match client.next_raw().await {
            Some(Ok(Message::Close(frame))) => return frame.map(|frame| frame.code),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return None,
        }
    }
}

#[tokio::test]
async fn a_clients_close_is_echoed() {
    let app = spawn_app().await;
    let mut client = app.connect_past_snapshot().await;
    let bye = CloseFrame { code: CloseCode::Normal, reason: "bye".into() };
    client.stream.send(Message::Close(Some(bye))).await.expect("sends");
    assert_eq!(close_code(&mut client).await, Some(CloseCode::Normal));
}

#[tokio::test]
async fn text_that_is_not_utf8_is_answered_with_close_1007() {
    let app = spawn_app().await;
    let mut client = app.connect_past_snapshot().await;
    // A masked text frame whose payload is not UTF-8: no WebSocket library sends one, so
    // it is written byte by byte (FIN + text, mask bit + length 2, mask key, payload).
    let mask = [1u8, 2, 3, 4];
    let payload = [0xffu8, 0xfe];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    match client.stream.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => {
            tokio::io::AsyncWriteExt::write_all(tcp, &frame).await.expect("writes")
        }
        _ => unreachable!("tests connect without TLS"),
    }
    assert_eq!(close_code(&mut client).await, Some(CloseCode::Invalid));
}

/// The feed writes its messages straight to the socket while tungstenite answers pings:
/// every pong must land between two messages, never inside one, through 20 ticks of large
/// frames to a client that takes in only a few KiB at a time.
#[tokio::test]
async fn a_clients_pings_are_answered_between_the_feeds_frames() {
    let app = spawn_app().await;
    let mut client = app.connect_with_small_window().await;
    let mut pongs = Vec::new();
    for round in 0..20u8 {
        // Every vehicle with its text: frames of ~40 KB.
        app.move_fleet(1_000, u32::from(round));
        for ping in 0..10u8 {
            client.stream.send(Message::Ping(vec![round, ping].into())).await.expect("sends");
        }
        let (mut answered, mut moved) = (false, false);
        while !(answered && moved) {
            match client.next_raw().await {
                Some(Ok(Message::Pong(payload))) => {
                    answered |= payload[..] == [round, 9];
                    pongs.push(payload.to_vec());
                }
                Some(Ok(Message::Binary(bytes))) => {
                    let frame = app::wire::decode(&bytes).expect("whole frames");
                    moved |= matches!(frame, app::wire::WireFrame::Delta { upserts, .. }
                        if upserts.iter().any(|u| u.id == vehicle(1_000)
                            && (u.lat - (60.0 + f64::from(round) * 0.001)).abs() < 1e-9));
                }
                other => panic!("a pong or a frame, not {other:?}"),
            }
        }
    }
    let sent: Vec<Vec<u8>> = (0..20u8).flat_map(|r| (0..10u8).map(move |p| vec![r, p])).collect();
    assert_eq!(pongs, sent, "every ping answered, in order");
}
