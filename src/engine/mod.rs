//! The discrete-event engine: integer time, the event queue, RNG streams.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::{HeapQueue, Scheduler};
pub use rng::{SimRng, Stream, stream_rng};
pub use time::{SimDuration, SimTime, parse_duration};
