//! # switchboard
//!
//! A real-time live-chat hub for a cryptocurrency exchange's support desk:
//! customers in a widget and agents in a console meet over WebSockets; a hub
//! queues customers and matches each to an agent who can serve them.
//!
//! # Layout
//!
//! | module | concept |
//! |---|---|
//! | [`canned`] | canned replies for the agent console: their shape, their rules, their placeholders |
//! | [`config`] | the one `Config`: defaults, TOML file, `SWITCHBOARD_*` variables, validation |
//! | [`domain`] | ids, priorities, states, messages |
//! | [`protocol`] | wire frames v1 (the contract with every client) |
//! | [`error`] | wire error codes and close codes, one table each |
//! | [`identity`] | customer identity: visitor ids and signed identity tokens |
//! | [`session`] | one WebSocket connection: hello, read loop, bounded writer |
//! | [`hub`] | the owner of routing state: queue, agents, conversations, timers, and the one path from an unanswered chat to a ticket |
//! | [`hub::router`] | the matcher: queues, agent availability, O(log n) per event |
//! | [`store`] | durable record behind a trait: `memory` (one node) and `redis`; conversations, tickets and the webhook outbox |
//! | [`tickets`] | tickets from chats that end without an agent's answer (the ticket model: reasons, statuses, how a later chat joins the customer's open ticket on its topic), the webhook outbox's deliveries, and the helpdesk webhook worker |
//! | [`cluster`] | several nodes on one Redis: the matcher lease and its fence |
//! | [`http`] | plain HTTP: the REST API (tickets and webhook dead letters, presence, the supervisor dashboard and its event stream), the widget's public settings, its OpenAPI document, `/healthz` and `/metrics` |
//! | [`web`] | the browser side embedded in the binary: the widget (`/widget.js`, `/widget/{version}/…`) and its demo page (`/demo`), gzip and ETags |
//! | [`metrics`] | Prometheus registry of the node |
//! | [`presence`] | which agents are on duty on which node, by heartbeat with a TTL |
//! | [`on_duty`] | this node's presence snapshot fresh from its hub, and who is on duty per topic (snapshots through the roster), cached for a second, for the widget's settings |
//! | [`secrets`] | secrets in chat text: seed phrases, private keys and 2FA codes a customer pastes (masked), and agent messages that ask for one |
//! | [`state`] | what every handler shares: config, hub slot, store, presence, metrics, shutdown |
//! | [`server`] | routes, building the node's [`state::AppState`] (store, presence board, hub or cluster role), the presence heartbeat, `run(listener, config, shutdown)` |

pub mod accept;
pub mod canned;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod error;
pub mod gate;
pub mod http;
pub mod hub;
pub mod identity;
pub mod metrics;
pub mod on_duty;
pub mod presence;
pub mod protocol;
pub mod roster;
pub mod secrets;
pub mod server;
pub mod session;
pub mod state;
pub mod store;
pub mod tickets;
pub mod web;
