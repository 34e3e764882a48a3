//! The hub over real WebSockets, one server per test on 127.0.0.1:0.
#![allow(clippy::unwrap_used)]

mod common;

mod bad_input;
mod dedupe;
mod happy_path;
mod lifecycle;
mod operations;
mod race;
mod routing;
