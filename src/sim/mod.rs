//! The simulated world: hosts, links, the server and workloads, run by the
//! event loop. `World::new(cfg, seed, run).run()` is one run of a study.

pub mod addr;
mod app;
mod client;
mod conns;
pub mod kernel;
pub mod metrics;
pub mod outcome;
mod port_counts;
mod script;
mod server;
mod time_wait_ring;
mod timers;
mod transitions;
mod workload;
pub mod world;

pub use conns::SLOT_BYTES;
pub use outcome::RunOutcome;
pub use script::ScriptAction;
pub use time_wait_ring::ENTRY_BYTES as PARKED_TIME_WAIT_BYTES;
pub use world::{Event, World};

/// How far a running run has got, read by a progress display on another
/// thread: simulated time reached (ns) and events processed.
#[derive(Debug, Default)]
pub struct RunWatch {
    pub reached_ns: std::sync::atomic::AtomicU64,
    pub events: std::sync::atomic::AtomicU64,
}
