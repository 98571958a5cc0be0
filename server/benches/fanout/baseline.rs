//! The baseline: the least a WebSocket broadcast server can do with tokio-tungstenite. It
//! accepts connections, sends each the recorded snapshot, then writes every tick's delta
//! (the recorded ones, in a loop) from a broadcast channel. It never reads from clients,
//! pings no one and never resyncs: what is left is the cost of the fan-out itself, which
//! `transit-stream` is compared against.
//!
//! Each delta goes out with a fresh sequence number and the tick's time as its receipt
//! time, so the load generator measures the baseline's delivery skew as it does the
//! candidate's: the part of the skew that is the machine and the load generator.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Runs until killed.
pub async fn serve(frames: &Path) -> anyhow::Result<()> {
    let mut frames = read_frames(frames)?.into_iter();
    let snapshot = frames.next().context("no snapshot recorded")?;
    let deltas: Vec<Bytes> = frames.collect();
    anyhow::ensure!(!deltas.is_empty(), "no deltas recorded");

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    let (sender, _) = broadcast::channel::<Bytes>(16);

    let ticker = sender.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(250));
        for (seq, delta) in (1..).zip(deltas.iter().cycle()) {
            interval.tick().await;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            let received_ms = now.map_or(0, |now| now.as_millis() as u64);
            // Recorded from transit-stream's own deltas, so they always restamp.
            if let Ok(delta) = app::wire::restamped(delta, seq, received_ms) {
                let _ = ticker.send(Bytes::from(delta));
            }
        }
    });

    loop {
        let (stream, _) = listener.accept().await?;
        let snapshot = snapshot.clone();
        let mut deltas = sender.subscribe();
        tokio::spawn(async move {
            let Ok(socket) = tokio_tungstenite::accept_async(stream).await else { return };
            let (mut sink, _) = socket.split();
            if sink.send(Message::Binary(snapshot)).await.is_err() {
                return;
            }
            loop {
                match deltas.recv().await {
                    Ok(delta) => {
                        if sink.send(Message::Binary(delta)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
}

/// Frames as [`write_frames`] stores them: each a u32 little-endian length, then the bytes.
pub fn read_frames(path: &Path) -> anyhow::Result<Vec<Bytes>> {
    let all = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rest = all.as_slice();
    let mut frames = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        anyhow::ensure!(tail.len() >= len, "a frame cut short");
        let (frame, tail) = tail.split_at(len);
        frames.push(Bytes::copy_from_slice(frame));
        rest = tail;
    }
    Ok(frames)
}

pub fn write_frames(path: &Path, frames: &[Bytes]) -> anyhow::Result<()> {
    let mut all = Vec::new();
    for frame in frames {
        all.extend(u32::try_from(frame.len())?.to_le_bytes());
        all.extend_from_slice(frame);
    }
    std::fs::write(path, all).with_context(|| format!("writing {}", path.display()))
}
