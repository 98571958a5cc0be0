//! The WebSocket opening handshake (RFC 6455 §4.2) on our HTTP/1.1 server: checks that a
//! request asks for a WebSocket, answers 101 with the accept key, and hands over the
//! connection once hyper has sent that answer.
//!
//! Done here rather than by axum's `WebSocketUpgrade` because that one hides the socket
//! behind its own message type, and `/ws` writes pre-framed shared buffers straight to the
//! socket ([`super::framing`]).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use tungstenite::handshake::derive_accept_key;

/// A valid opening request's pending connection and its answer.
pub struct Accepted {
    pub connection: OnUpgrade,
    pub response: Response,
}

/// Why a request cannot be upgraded; each answer says what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("This address serves a WebSocket: the request must ask to upgrade to one.")]
    NotAnUpgrade,
    #[error("Only WebSocket version 13 is supported.")]
    Version,
    #[error("The request has no Sec-WebSocket-Key.")]
    NoKey,
    #[error("This connection cannot be upgraded.")]
    NotUpgradable,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            // RFC 6455 §4.4: an unsupported version is answered 426 naming ours.
            Self::Version => {
                let mut response = (StatusCode::UPGRADE_REQUIRED, self.to_string()).into_response();
                response
                    .headers_mut()
                    .insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
                return response;
            }
            Self::NotAnUpgrade | Self::NoKey => StatusCode::BAD_REQUEST,
            Self::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
        };
        (status, self.to_string()).into_response()
    }
}

/// Checks `request` (the route already requires GET) and prepares the 101 answer.
pub fn accept(mut request: Request) -> Result<Accepted, Refused> {
    let headers = request.headers();
    if !has_token(headers, header::CONNECTION, "upgrade")
        || !has_token(headers, header::UPGRADE, "websocket")
    {
        return Err(Refused::NotAnUpgrade);
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err(Refused::Version);
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or(Refused::NoKey)?;
    let accept =
        HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(|_| Refused::NoKey)?;
    let connection =
        request.extensions_mut().remove::<OnUpgrade>().ok_or(Refused::NotUpgradable)?;
    let response = (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response();
    Ok(Accepted { connection, response })
}

/// Whether the comma-separated header `name` holds `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|one| one.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::get("/ws");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).expect("a request")
    }

    const OPENING: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        // RFC 6455 §1.3's example key.
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    /// The full handshake, accept key included, is checked by every integration test that
    /// opens `/ws` with tungstenite's client, which verifies the key.
    #[test]
    fn a_browsers_opening_request_is_refused_only_for_want_of_a_connection() {
        // Built by hand, the request has no connection to upgrade; the headers passed.
        assert_eq!(accept(request(&OPENING)).err(), Some(Refused::NotUpgradable));
    }

    #[test]
    fn requests_that_are_not_websocket_openings_say_what_is_wrong() {
        let without = |name: &str| {
            let headers: Vec<_> = OPENING.iter().copied().filter(|(n, _)| *n != name).collect();
            accept(request(&headers)).err()
        };
        assert_eq!(without("upgrade"), Some(Refused::NotAnUpgrade));
        assert_eq!(without("connection"), Some(Refused::NotAnUpgrade));
        assert_eq!(without("sec-websocket-version"), Some(Refused::Version));
        assert_eq!(without("sec-websocket-key"), Some(Refused::NoKey));
        let old = [&OPENING[..2], &[("sec-websocket-version", "8"), OPENING[3]]].concat();
        assert_eq!(accept(request(&old)).err(), Some(Refused::Version));
        let response = Refused::Version.into_response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()[header::SEC_WEBSOCKET_VERSION], "13");
    }
}
