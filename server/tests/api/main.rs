//! Integration tests: each one starts the real server on a free loopback port with
//! [`helpers::spawn_app`] and talks to it over HTTP and WebSocket, as a browser would.

mod api_errors;
mod daemon;
mod fake_ksqldb;
mod faults;
mod helpers;
mod http;
mod integrity;
#[cfg(feature = "kafka")]
mod kafka_ingest;
mod ksqldb;
mod mosquitto;
mod mqtt;
mod page;
mod program;
mod proxy;
mod redis;
mod redis_server;
mod replay;
mod rest;
mod server_fns;
mod shutdown;
mod stack;
#[cfg(feature = "kafka")]
mod tansu;
mod ws;
