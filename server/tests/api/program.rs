//! The shipped binary, run as an operator runs it: its output going to a file or a pipe.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use crate::helpers::WAIT;

#[test]
fn a_log_written_to_a_pipe_carries_no_colour_codes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_transit-stream"))
        .args(["--bind", "127.0.0.1:0", "--source", "simulator", "--sim-vehicles", "5"])
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stderr = child.stderr.take().expect("piped");
    let (lines, read) = mpsc::channel();
    // A thread of its own: reading blocks until the server writes or exits, and the test
    // must be able to give up (and kill it) instead.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if lines.send(line.expect("utf-8")).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let started = loop {
        match read.recv_timeout(WAIT) {
            Ok(line) => {
                let started = line.contains("Simulator started");
                seen.push(line);
                if started {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "the server logged that the simulator started:\n{}", seen.join("\n"));
    let coloured: Vec<&String> = seen.iter().filter(|line| line.contains('\x1b')).collect();
    assert!(coloured.is_empty(), "escape codes in the log: {coloured:?}");
}
