//! A real Mosquitto broker (Debian's, installed by the test command) on a free loopback
//! port. `-p` alone runs it in local-only mode: loopback, anonymous, no persistence.

use std::ops::{Deref, DerefMut};

use crate::daemon::Daemon;

pub struct Mosquitto(Daemon);

impl Mosquitto {
    pub fn start() -> Self {
        Self(Daemon::start("mosquitto", |port| vec!["-p".into(), port.to_string()]))
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.0.addr)
    }
}

impl Deref for Mosquitto {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.0
    }
}

impl DerefMut for Mosquitto {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.0
    }
}
