//! The HTTP benchmark's baseline (`scripts/bench-http.sh`): the least an axum server can do
//! to answer a GET. One handler answers every path with the same bytes, read once from the
//! file given; no middleware, no state, no lookup. wrk runs against it beside the real
//! server, with the bytes the real server answered, so the one-vehicle figures have a
//! floor measured on the same machine at the same moment: whatever this server cannot
//! beat is the cost of HTTP, tokio and wrk on these cores, not of transit-stream.
//!
//! ```sh
//! cargo bench -p server --bench http_floor -- BODY.json   # runs until killed
//! ```

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).context("usage: http_floor BODY_FILE")?;
    let body = Bytes::from(std::fs::read(&path).with_context(|| format!("reading {path}"))?);
    // Cloning `Bytes` shares the one buffer: no copy per request, as for the real
    // server's shared frames.
    let answer = move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    axum::serve(listener, Router::new().fallback(answer)).await?;
    Ok(())
}
