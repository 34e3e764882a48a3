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
//! | [`runner`] | a run: agents, open-loop arrivals, faults, progress, drain, check, report |
//! | [`customer`], [`agent`] | the simulated clients |
//! | [`client`] | one connection: source-address spreading, WebSocket, JSON frames |
//! | [`stats`] | histograms, counters, per-second buckets, the event log |
//! | [`idle`] | idle capacity: connections held open, their memory cost |
//! | [`sampler`] | the servers' RSS, CPU, socket memory and queue depth |
//! | [`workers`] | one run spread over several processes, merged and checked as one |
//! | [`assemble`] | the report from what a run recorded |

pub mod agent;
pub mod assemble;
pub mod check;
pub mod client;
pub mod customer;
pub mod events;
pub mod floor;
pub mod idle;
pub mod relay;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod scenario;
pub mod stats;
pub mod workers;
