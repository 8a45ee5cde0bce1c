//! The TCP model, sans-IO.

pub mod segment;
pub mod state;

pub use segment::{Flags, Segment, SegmentKind, SockAddr};
pub use state::State;
