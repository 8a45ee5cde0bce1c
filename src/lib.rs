//! synsim: a discrete-event simulator of TCP connection setup and teardown
//! at scale, with the Linux kernel's listener queues, timers and sysctls.
//!
//! Read this first: `engine` (time, queue, RNG) knows nothing of TCP; `tcp`
//! is a pure state machine (`handle_segment`, `handle_timeout`,
//! `poll_timeout`) that knows nothing of the queue; `sim` ties them into a
//! world of hosts, links and workloads; `trace` records and draws one
//! connection's life; `experiment` and `output` make studies of many runs.

pub mod bench;
pub mod cli;
pub mod config;
pub mod console;
pub mod engine;
pub mod experiment;
pub mod net;
pub mod output;
pub mod progress;
pub mod scenarios;
pub mod serde_forms;
pub mod sim;
pub mod study;
pub mod tcp;
pub mod trace;
