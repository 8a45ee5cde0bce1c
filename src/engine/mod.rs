//! The discrete-event engine: integer time, event queues, RNG streams.

pub mod calendar;
pub mod pq;
pub mod queue;
pub mod rng;
pub mod time;
pub mod wheel;

pub use calendar::CalendarQueue;
pub use pq::PriorityQueueScheduler;
pub use queue::{HeapQueue, Scheduler};
pub use rng::{SimRng, Stream, stream_rng};
pub use time::{SimDuration, SimTime, parse_duration};
pub use wheel::TimingWheel;
