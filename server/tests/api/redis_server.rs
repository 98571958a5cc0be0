//! A real `redis-server` (Debian's, installed by the test command) on a free loopback port,
//! without persistence, stopped when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::daemon::Daemon;

pub struct RedisServer(Daemon);

impl RedisServer {
    pub fn start() -> Self {
        let server = Self(Daemon::start("redis-server", |port| {
            ["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"]
                .map(str::to_owned)
                .to_vec()
        }));
        assert!(server.answers_ping());
        server
    }

    /// `redis://` URL of database `db`.
    pub fn url(&self, db: u8) -> String {
        format!("redis://{}/{db}", self.0.addr)
    }

    pub fn kill(&mut self) {
        self.0.kill();
    }

    pub fn restart(&mut self) {
        self.0.restart();
        assert!(self.answers_ping());
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(self.0.addr) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0_u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Runs one command with redis-cli-like simplicity over RESP, for test set-up.
    pub fn command(&self, db: u8, args: &[&str]) {
        let mut stream = TcpStream::connect(self.0.addr).expect("connect");
        let mut request = Vec::new();
        for command in [&["SELECT", &db.to_string()][..], args] {
            request.extend(format!("*{}\r\n", command.len()).bytes());
            for arg in command {
                request.extend(format!("${}\r\n", arg.len()).bytes());
                request.extend(arg.as_bytes());
                request.extend(b"\r\n");
            }
        }
        stream.write_all(&request).expect("write");
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        // Two replies, one line each (+OK for SELECT, then the command's); an error reply
        // starts with '-'.
        let mut reply = Vec::new();
        let mut buffer = [0_u8; 256];
        while reply.windows(2).filter(|w| w == b"\r\n").count() < 2 {
            let read = stream.read(&mut buffer).expect("reply");
            assert!(read > 0, "redis closed the connection");
            reply.extend_from_slice(&buffer[..read]);
        }
        assert!(
            !reply.starts_with(b"-") && !reply.windows(3).any(|w| w == b"\n-E"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }
}
