//! One connection's life: records, the text ladder, the SVG ladder, pcap.

pub mod ladder;
pub mod pcap;
pub mod record;
pub mod svg;

pub use ladder::ladder_text;
pub use pcap::write_pcap;
pub use record::{RecordKind, Side, TraceRecord};
pub use svg::ladder_svg;
