//! The hub over real WebSockets, one server per test on 127.0.0.1:0.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../support/redis_server.rs"]
mod redis_server;

mod adversarial;
mod bad_input;
mod canned_api;
mod customer_tier;
mod dedupe;
mod gate;
mod happy_path;
mod identity_tokens;
mod lifecycle;
mod operations;
mod race;
mod rate_limit;
mod raw_ws;
mod receiver;
mod restart;
mod routing;
mod secrets;
mod supervisor_api;
mod tickets;
mod tickets_api;
mod webhook;
