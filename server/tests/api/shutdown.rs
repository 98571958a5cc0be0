//! Graceful shutdown reaches WebSocket clients too.

use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn shutdown_closes_every_websocket_with_going_away_and_the_server_returns() {
    let app = spawn_app().await;
    let mut clients = app.connect_many(2).await;

    app.shutdown.cancel();
    for client in &mut clients {
        let close = loop {
            match client.next_raw().await {
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(close.map(|frame| frame.code), Some(CloseCode::Away));
    }
    app.stop().await.expect("the server stops cleanly");
}
