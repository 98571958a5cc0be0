//! A TCP proxy that injects network faults between the server and an upstream: it passes
//! bytes through until told to freeze them (connections stay open, nothing moves: how a
//! hung upstream looks from outside, and the only way to hang the in-process ksqlDB fake)
//! or to cut every connection in the middle of the next chunk the upstream sends, which
//! for a busy stream means inside a protocol frame.
//!
//! Each accepted connection gets two pump tasks, one per direction. Both watch one mode;
//! a cut ends both, and dropping their halves closes both sockets.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::helpers::WAIT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    /// Nothing is read or written; new connections wait, accepted, as in a full backlog.
    Freeze,
    /// The next chunk from the upstream goes through half, then every connection closes.
    CutArmed,
    /// Every connection closed; new ones are closed on arrival.
    Cut,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    stop: CancellationToken,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the proxy binds");
        let addr = listener.local_addr().expect("bound");
        let (mode, _) = watch::channel(Mode::Pass);
        let stop = CancellationToken::new();
        let (modes, stopped) = (mode.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stopped.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((client, _)) = accepted else { continue };
                tokio::spawn(stopped.clone().run_until_cancelled_owned(connection(
                    client,
                    upstream,
                    modes.clone(),
                )));
            }
        });
        Self { addr, mode, stop }
    }

    /// Holds every byte in both directions until [`FaultProxy::restore`].
    pub fn freeze(&self) {
        self.mode.send_replace(Mode::Freeze);
    }

    /// Closes every connection now, and new ones on arrival, until
    /// [`FaultProxy::restore`]: the upstream crashed, and nothing listens.
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    /// Cuts every connection halfway through the next chunk the upstream sends, and keeps
    /// refusing connections until [`FaultProxy::restore`]. What it returns resolves once
    /// the cut happened (the test makes the upstream send something after arming it).
    pub fn arm_cut(&self) -> CutDone {
        self.mode.send_replace(Mode::CutArmed);
        CutDone(self.mode.subscribe())
    }

    /// Passes bytes again.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Pass);
    }
}

/// Resolves once an armed cut happened.
pub struct CutDone(watch::Receiver<Mode>);

impl CutDone {
    pub async fn wait(mut self) {
        tokio::time::timeout(WAIT, self.0.wait_for(|mode| *mode == Mode::Cut))
            .await
            .expect("the upstream sends something to cut")
            .expect("the proxy runs");
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn connection(client: TcpStream, upstream: SocketAddr, modes: watch::Sender<Mode>) {
    let mut mode = modes.subscribe();
    let Ok(current) = mode.wait_for(|mode| *mode != Mode::Freeze).await.map(|m| *m) else {
        return;
    };
    if current == Mode::Cut {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, modes.clone(), false),
        pump(server_read, client_write, modes, true),
    );
}

/// Copies `from` to `to` as the mode allows. Only the upstream's direction carries out an
/// armed cut, so that the cut lands in what the server receives.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    modes: watch::Sender<Mode>,
    from_upstream: bool,
) {
    let mut mode = modes.subscribe();
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        match mode.wait_for(|m| *m != Mode::Freeze).await.map(|m| *m) {
            Ok(Mode::Cut) | Err(_) => return,
            Ok(_) => {}
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = mode.wait_for(|m| *m == Mode::Cut) => return,
        };
        let Ok(read @ 1..) = read else { return };
        // Read as a freeze began: held, as in a stopped process's socket buffer.
        let Ok(now) = mode.wait_for(|m| *m != Mode::Freeze).await.map(|m| *m) else { return };
        match now {
            Mode::Cut => return,
            Mode::CutArmed if from_upstream => {
                let _ = to.write_all(&buffer[..read.div_ceil(2)]).await;
                let _ = to.flush().await;
                modes.send_replace(Mode::Cut);
                return;
            }
            _ => {
                if to.write_all(&buffer[..read]).await.is_err() {
                    return;
                }
            }
        }
    }
}
