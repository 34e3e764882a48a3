//! Running several nodes on one Redis. One node at a time runs the matcher,
//! holding a lease with a fencing token (`lease`); the store refuses commits
//! from a node whose lease has passed to another, so a stale matcher (paused,
//! partitioned) can never commit an assignment.

pub mod bus;
pub mod dashboard;
pub mod lease;
pub mod node;
