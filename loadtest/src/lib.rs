//! switchboard-loadtest: simulates customers and agents of a market-rally surge
//! against switchboard nodes, checks from what the clients saw that nothing was
//! lost, duplicated, reordered or double-assigned, and reports latencies,
//! rates and the servers' memory and CPU.
//!
//! | module | job |
//! |---|---|
//! | [`scenario`] | scenario files: phases, agent pool, customer mix, targets, faults |
//! | [`events`] | the log of what clients saw: the checker's input |
//! | [`check`] | the correctness checker |
//! | [`report`] | the JSON and HTML reports |
//! | [`floor`] | the transport floor: a bare WebSocket relay with no hub logic |

pub mod check;
pub mod events;
pub mod floor;
pub mod report;
pub mod scenario;
