//! One connection's life: records, ladder, SVG, pcap.

pub mod record;
pub mod scenarios;

pub use record::{RecordKind, Side, TraceRecord};
