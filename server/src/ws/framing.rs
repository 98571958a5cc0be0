//! Hub frames as complete WebSocket messages: the frame header (RFC 6455 §5.2) and the
//! payload in one buffer, built once per hub frame and written as is to every client.
//!
//! Why not let tungstenite frame each message per connection: it copies every message into
//! the connection's own out-buffer, which then keeps the capacity of the largest message it
//! ever held (the snapshot, tens of KiB) for the connection's lifetime. Written from one
//! shared buffer, a message costs a client nothing but the kernel's socket buffer, and the
//! server copies a frame once instead of once per client.

use axum::body::Bytes;

/// FIN set, opcode 2 (binary): the whole message in one frame.
const FIN_BINARY: u8 = 0x82;

/// `payload` as one unmasked (server-to-client) binary WebSocket frame.
pub fn binary_message(payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(FIN_BINARY);
    // The length takes 7 bits, or 126 and 16 bits, or 127 and 64 bits, big-endian.
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xffff => {
            out.push(126);
            out.extend((len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend((len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    Bytes::from(out)
}

/// The payload of a message [`binary_message`] built, without copying: what tests decode.
#[cfg(test)]
pub fn payload_of(message: &Bytes) -> Bytes {
    let header = match message.get(1) {
        Some(126) => 4,
        Some(127) => 10,
        _ => 2,
    };
    message.slice(header.min(message.len())..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use tungstenite::Message;
    use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

    /// Reads `count` messages from `wire` as a browser would, with tungstenite's client.
    fn read_as_client(wire: Vec<u8>, count: usize) -> Vec<Vec<u8>> {
        let config = WebSocketConfig::default().max_message_size(None).max_frame_size(None);
        let mut client = WebSocket::from_raw_socket(Cursor::new(wire), Role::Client, Some(config));
        (0..count)
            .map(|_| match client.read() {
                Ok(Message::Binary(payload)) => payload.to_vec(),
                other => panic!("not the binary message sent: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn messages_of_every_length_form_read_back_as_sent() {
        // Each boundary of the three length forms, and a snapshot-sized message.
        let lengths = [0, 1, 125, 126, 127, 0xffff, 0x10000, 300_000];
        let sent: Vec<Vec<u8>> =
            lengths.iter().map(|&len| (0..len).map(|i| (i % 251) as u8).collect()).collect();
        let mut wire = Vec::new();
        for payload in &sent {
            let message = binary_message(payload);
            assert_eq!(payload_of(&message), payload.as_slice());
            wire.extend_from_slice(&message);
        }
        assert_eq!(read_as_client(wire, sent.len()), sent);
    }
}
