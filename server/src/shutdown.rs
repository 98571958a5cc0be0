//! How runs end: the operating system's stop signals (Ctrl-C, SIGTERM from a supervisor or
//! `docker stop`) and a tool's optional deadline, both as [`CancellationToken`]s. Shared by
//! serving and by every subcommand, so it sits below [`crate::cli`] and the tools alike.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM from a supervisor).
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "Cannot listen for Ctrl-C.");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "Cannot listen for SIGTERM.");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("Shutting down.");
}

/// Cancels `token` when the process is asked to stop.
pub fn cancel_on_signal(token: CancellationToken) {
    // Detached on purpose: it lives as long as the process and only cancels a token.
    tokio::spawn(async move {
        signal().await;
        token.cancel();
    });
}

/// A token for a tool's run: cancelled with `shutdown`, or after `duration_secs` when given.
pub fn stop_after(shutdown: &CancellationToken, duration_secs: Option<u64>) -> CancellationToken {
    let stop = shutdown.child_token();
    if let Some(seconds) = duration_secs {
        let stop = stop.clone();
        // Detached on purpose: it only cancels a token, and is harmless once the run ended.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.cancel();
        });
    }
    stop
}
