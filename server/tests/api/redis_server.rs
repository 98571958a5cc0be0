//! A real `redis-server` (Debian's, installed by the test command) on a free loopback port,
//! without persistence, stopped when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let addr =
            TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr");
        let mut server = Self { addr, child: None };
        server.restart();
        server
    }

    /// `redis://` URL of database `db`.
    pub fn url(&self, db: u8) -> String {
        format!("redis://{}/{db}", self.addr)
    }

    /// Kills the server without warning, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it answers PING.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.addr.port().to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            // Polling the condition itself; the interval only spares the CPU.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(self.addr) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0_u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Runs one command with redis-cli-like simplicity over RESP, for test set-up.
    pub fn command(&self, db: u8, args: &[&str]) {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
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

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
