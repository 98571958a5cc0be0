//! A real Mosquitto broker (Debian's, installed by the test command) on a free loopback
//! port, stopped when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Mosquitto {
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl Mosquitto {
    pub fn start() -> Self {
        let addr =
            TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr");
        let mut broker = Self { addr, child: None };
        broker.restart();
        broker
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on the same port; `-p` alone runs Mosquitto in local-only mode:
    /// loopback, anonymous, no persistence.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("mosquitto")
            .args(["-p", &self.addr.port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            // Polling the condition itself; the interval only spares the CPU.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}
