//! The HTTP listener: accepts connections and serves the application (the router in its
//! middleware, `crate::layers`) on each, with the limits `axum::serve` leaves out.
//!
//! * **A deadline for request headers.** A connection must deliver each request's headers
//!   within [`Limits::timeout`], counted from when the server starts waiting for them, so
//!   it also bounds how long a connection may sit silent or idle between requests.
//!   Without it, connections that send half a request (slowloris) or nothing at all are
//!   kept forever, and enough of them exhaust the file descriptors. The two are counted
//!   apart: half a request is trouble, while silence is what browsers do with the sockets
//!   they keep alive after a page loads or open ahead of need ([`Progress`]).
//! * **A deadline for writes.** A write that makes no progress within the same time
//!   fails and ends the connection ([`Stalling`]): a client that stops reading cannot hold
//!   a response, or a live stream and its place under the client cap, forever.
//! * **A cap per client address.** One address may hold at most
//!   [`Limits::per_address`] connections (WebSockets included) at once; beyond that a new
//!   connection is closed as soon as it is accepted. One host cannot take every file
//!   descriptor.
//! * **A shutdown that ends.** On shutdown the listener closes, every connection is asked
//!   to finish its current request and close, and whatever is still open after
//!   [`Limits::grace`] is cut. A half-sent request can no longer keep the process alive
//!   until a supervisor kills it.
//!
//! Connections are tasks in one `JoinSet` owned by [`serve`], reaped as they end; upgraded
//! WebSockets leave it at the upgrade and are owned by the application's task tracker.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Bytes, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tower::{BoxError, Service};

use crate::metrics::Stats;
use crate::metrics::reasons::HttpClosed;

/// How long accepting pauses after an error that is not one connection's own (out of file
/// descriptors, say): retrying at once would spin while nothing can change.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);
/// Accept errors are logged at most once per this period, not once per attempt.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// The limits every connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// For a request's headers, and for any one write to make progress.
    pub timeout: Duration,
    /// For connections to finish once shutdown begins.
    pub grace: Duration,
    /// Most connections open at once from one address; 0 for no cap (behind a proxy,
    /// where every connection comes from the proxy).
    pub per_address: usize,
}

/// Serves `app` on `listener` until `shutdown`, then drains the connections (see the
/// module doc).
pub async fn serve<App, ResBody>(
    listener: TcpListener,
    app: App,
    shutdown: CancellationToken,
    limits: Limits,
    stats: Arc<Stats>,
) -> io::Result<()>
where
    App: Service<Request<Incoming>, Response = Response<ResBody>, Error = Infallible>,
    App: Clone + Send + 'static,
    App::Future: Send + 'static,
    ResBody: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
{
    // HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in front of this
    // server terminates. (Serving both means sniffing the first bytes of each connection
    // first, and that wait has no deadline.)
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.timeout);

    let mut connections = JoinSet::new();
    let mut last_logged: Option<Instant> = None;
    let addresses = Addresses::new(limits.per_address);
    loop {
        let (stream, place) = tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match addresses.admit(peer.ip()) {
                    Some(place) => (stream, place),
                    None => {
                        // Closed unread: the peer sees the connection end at once.
                        stats.http_closed.inc(HttpClosed::AddressAtCap);
                        continue;
                    }
                },
                Err(error) => {
                    accept_failed(&error, &mut last_logged, &stats).await;
                    continue;
                }
            },
        };
        // Frames are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let progress = Progress::default();
        let stream =
            Stalling::new(stream, limits.timeout, Arc::clone(&stats), place, progress.clone());
        let service = TowerToHyperService::new(app.clone());
        let (builder, shutdown, stats) = (builder.clone(), shutdown.clone(), Arc::clone(&stats));
        connections.spawn(async move {
            let connection =
                builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                if error.is_timeout() {
                    if progress.request_begun() {
                        stats.http_closed.inc(HttpClosed::HeaderTimeout);
                    } else {
                        stats.http_idle_closed.inc();
                    }
                }
                // Peers resetting or timing out are routine: counted, not logged.
                tracing::debug!(%error, "HTTP connection ended with an error.");
            }
        });
    }
    drop(listener);

    let drained = tokio::time::timeout(limits.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "HTTP connections still open {:?} after shutdown were closed.",
            limits.grace
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Errors of one connection (reset before it was accepted) are nobody's concern; anything
/// else means the server cannot accept for now.
async fn accept_failed(error: &io::Error, last_logged: &mut Option<Instant>, stats: &Stats) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted)
    {
        return;
    }
    stats.http_accept_errors.inc();
    if last_logged.is_none_or(|at| at.elapsed() >= ACCEPT_LOG_EVERY) {
        *last_logged = Some(Instant::now());
        tracing::error!(%error, "Cannot accept connections; retrying.");
    }
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// A socket whose writes fail once one has made no progress for `limit` (see the module
/// doc). The clock starts at the first write that cannot proceed and restarts with any
/// progress, so a slow reader that keeps reading is served. It stays on the connection
/// after a WebSocket upgrade, as a floor under the WebSocket task's own send timeout.
///
/// It also holds the connection's place under its address's cap: the socket outlives the
/// HTTP connection when it becomes a WebSocket, and the place must too.
struct Stalling<T> {
    inner: T,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    stats: Arc<Stats>,
    progress: Progress,
    _place: Place,
}

impl<T> Stalling<T> {
    fn new(inner: T, limit: Duration, stats: Arc<Stats>, place: Place, progress: Progress) -> Self {
        Self { inner, limit, stalled: None, stats, progress, _place: place }
    }

    /// Notes what a write did for [`Progress`], then watches it for a stall.
    fn wrote(
        &mut self,
        result: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            self.progress.answering();
        }
        self.watch(result, cx)
    }

    fn watch<R>(
        &mut self,
        result: Poll<io::Result<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<R>> {
        if result.is_ready() {
            self.stalled = None;
            return result;
        }
        let limit = self.limit;
        let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.stalled = None;
                self.stats.http_closed.inc(HttpClosed::WriteStall);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stalling<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.progress.received();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stalling<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(result, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(result, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(result, cx)
    }
}

/// Whether the client has sent anything since the server last wrote to it: when the
/// header deadline passes, whether a request had begun (half-sent: trouble) or the
/// connection sat silent (routine). Shared with the connection's task, which cannot reach
/// the socket once hyper holds it.
///
/// A client that pipelines, sending part of its next request before the answer to the
/// last one, is taken for silent: the bytes hyper holds are invisible from the socket.
/// It is closed at the same deadline either way; only the count differs.
#[derive(Clone, Default)]
struct Progress(Arc<AtomicBool>);

impl Progress {
    fn received(&self) {
        // Relaxed: a flag read once by the same task after hyper returns, no data behind it.
        self.0.store(true, Ordering::Relaxed);
    }

    fn answering(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    fn request_begun(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Open connections per client address, for the cap.
#[derive(Clone)]
struct Addresses {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    cap: usize,
}

impl Addresses {
    fn new(cap: usize) -> Self {
        Self { open: Arc::default(), cap }
    }

    /// A place for one more connection from `address`, or `None` at the cap.
    fn admit(&self, address: IpAddr) -> Option<Place> {
        if self.cap == 0 {
            return Some(Place(None));
        }
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(address).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Place(Some((address, self.clone()))))
    }
}

/// One connection's place under its address's cap, given back when dropped.
struct Place(Option<(IpAddr, Addresses)>);

impl Drop for Place {
    fn drop(&mut self) {
        let Some((address, addresses)) = self.0.take() else { return };
        let mut open = addresses.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                // Addresses that come and go leave nothing behind.
                open.remove(&address);
            }
        }
    }
}
