//! What a traced run records: every segment sent, lost or received, every
//! timer that fired and every application call, with each side's state
//! before and after. The ladder, the SVG and the pcap are views of it.

use crate::engine::SimTime;
use crate::tcp::{Segment, State};
use std::borrow::Cow;

/// Which end of the traced connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Client,
    Server,
    /// Any other address: a spoofed or stale source injected by a scenario.
    Other,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
            Side::Other => "other",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// `side` put `seg` on the wire (a tap beside it sees it, even if it is
    /// lost further on).
    Sent,
    /// The network lost `seg` (a loss model or a drop rule), after it left
    /// `side`.
    Lost,
    /// `seg` reached `side`.
    Received,
    /// A timer of `side` fired (`what` names it: "SYN RTO", "TIME-WAIT"...).
    Timer(&'static str),
    /// The application on `side` called `what` (connect, close, accept...).
    App(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    pub at: SimTime,
    pub side: Side,
    pub kind: RecordKind,
    pub seg: Option<Segment>,
    /// State of `side`'s connection before and after the record's effect
    /// (for `Sent`, `Lost`: the sender's, unchanged; for a request socket
    /// at a listener, LISTEN -> SYN-RECEIVED).
    pub before: Option<State>,
    pub after: Option<State>,
    /// A short explanation: "retransmission #2", "dropped by rule", ...
    /// (borrowed when static, so an untraced run allocates nothing for it).
    pub note: Cow<'static, str>,
}
