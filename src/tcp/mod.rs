//! The TCP model, sans-IO.
//!
//! Read this first: [`conn::Tcb`] is one connection's state machine
//! (RFC 9293 §3.10): `connect`, `accept_syn`, `close`, `send`,
//! `handle_segment(now, seg)`, `handle_timeout(now)`, `poll_timeout()`.
//! [`listener::Listener`] holds Linux's listen-queue rules around the
//! request sockets. Neither knows about the event queue or links.

pub mod conn;
pub mod listener;
pub mod metrics;
pub mod params;
pub mod ports;
pub mod segment;
pub mod seq;
pub mod state;
pub mod time_wait;
pub mod timer_wheel;

pub use conn::{CloseCause, Disposition, Tcb, TimeWaitTcb, TimerKind, reset_for};
pub use listener::{Listener, ListenerConfig, ListenerCounters, RequestOutcome, SynVerdict};
pub use metrics::TcpMetrics;
pub use params::{SynCookies, TcpParams, TwReuse};
pub use segment::{Flags, Segment, SegmentKind, SockAddr};
pub use state::State;
