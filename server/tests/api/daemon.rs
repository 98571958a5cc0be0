//! A real server program the tests start on a free loopback port, kill and restart on the
//! same port, and stop when dropped: the common part of `redis_server`, `mosquitto` and
//! `tansu`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    pub addr: SocketAddr,
    program: String,
    args: Box<dyn Fn(u16) -> Vec<String> + Send>,
    /// Working directory, for programs that keep their data relative to it.
    dir: Option<PathBuf>,
    child: Option<Child>,
}

impl Daemon {
    /// Starts `program` with `args(port)` and waits until its port accepts connections.
    pub fn start(
        program: impl Into<String>,
        args: impl Fn(u16) -> Vec<String> + Send + 'static,
    ) -> Self {
        Self::start_in(None, program, args)
    }

    /// Like [`Daemon::start`], running in `dir` (created if missing), which outlives
    /// restarts: what the program keeps there survives a crash, as on a server's disk.
    pub fn start_in(
        dir: Option<PathBuf>,
        program: impl Into<String>,
        args: impl Fn(u16) -> Vec<String> + Send + 'static,
    ) -> Self {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).expect("the daemon's directory can be created");
        }
        let addr = free_port();
        let program = program.into();
        let mut daemon = Self { addr, program, args: Box::new(args), dir, child: None };
        daemon.restart();
        daemon
    }

    /// Kills it without warning, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it with SIGSTOP: its connections stay open and the kernel still accepts new
    /// ones, but nothing is answered. A hung server, not a closed one.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen daemon run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill {signal} {}", self.program);
    }

    /// Starts it (again) on the same port and waits until the port accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new(&self.program);
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let child = command
            .args((self.args)(self.addr.port()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{} must be installed (scripts/test.sh installs it): {error}", self.program)
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "{} did not start", self.program);
            // Polling the condition itself; the interval only spares the CPU.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A loopback address no one listens on (yet).
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr")
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
