//! A real `redis-server` (Debian's, installed by the test command) on a free loopback port,
//! without persistence, stopped when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::daemon::Daemon;

pub struct RedisServer {
    daemon: Daemon,
    password: Option<String>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_as(None)
    }

    /// A server that requires AUTH with `password`.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_as(Some(password.to_owned()))
    }

    fn start_as(password: Option<String>) -> Self {
        let required = password.clone();
        let daemon = Daemon::start("redis-server", move |port| {
            let mut args: Vec<String> = [
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .map(str::to_owned)
            .to_vec();
            if let Some(password) = &required {
                args.extend(["--requirepass".to_owned(), password.clone()]);
            }
            args
        });
        let server = Self { daemon, password };
        assert!(server.answers_ping());
        server
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.daemon.addr
    }

    /// `redis://` URL of database `db`.
    pub fn url(&self, db: u8) -> String {
        format!("redis://{}/{db}", self.daemon.addr)
    }

    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    pub fn restart(&mut self) {
        self.daemon.restart();
        assert!(self.answers_ping());
    }

    /// SIGSTOP: connections stay open, nothing is answered.
    pub fn freeze(&self) {
        self.daemon.freeze();
    }

    pub fn thaw(&self) {
        self.daemon.thaw();
    }

    /// PING answers PONG, or (with a password set) NOAUTH: either way Redis is serving.
    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(self.daemon.addr) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0_u8; 7];
        let expected = if self.password.is_some() { b"-NOAUTH" } else { b"+PONG\r\n" };
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == expected
    }

    /// Runs one command with redis-cli-like simplicity over RESP, for test set-up.
    pub fn command(&self, db: u8, args: &[&str]) {
        let mut stream = TcpStream::connect(self.daemon.addr).expect("connect");
        let mut request = Vec::new();
        let db = db.to_string();
        let select = ["SELECT", db.as_str()];
        let mut commands = vec![&select[..], args];
        let auth;
        if let Some(password) = &self.password {
            auth = ["AUTH", password.as_str()];
            commands.insert(0, &auth[..]);
        }
        for command in commands.iter().copied() {
            request.extend(format!("*{}\r\n", command.len()).bytes());
            for arg in command {
                request.extend(format!("${}\r\n", arg.len()).bytes());
                request.extend(arg.as_bytes());
                request.extend(b"\r\n");
            }
        }
        stream.write_all(&request).expect("write");
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        // One reply line per command (+OK for AUTH and SELECT, then the command's); an
        // error reply starts with '-'.
        let mut reply = Vec::new();
        let mut buffer = [0_u8; 256];
        while reply.windows(2).filter(|w| w == b"\r\n").count() < commands.len() {
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
