//! The simulated world: hosts, links, the server and workloads, run by the
//! event loop. `run_config` is the entry point for one run of a study.

pub mod addr;
pub mod kernel;
pub mod metrics;
pub mod outcome;
pub mod world;

pub use world::{Event, RunOutcome, ScriptAction, World};
