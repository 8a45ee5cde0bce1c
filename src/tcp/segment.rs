//! A TCP segment as the simulation carries it: addresses, the header fields
//! connection setup and teardown use, and a payload length (no bytes).

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 address and port. Packed to 6 bytes so a segment, and the event
/// that carries it, stay small (events of at most 48 bytes).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(C, packed(2))]
pub struct SockAddr {
    pub ip: u32,
    pub port: u16,
}

impl SockAddr {
    pub const fn new(ip: u32, port: u16) -> Self {
        SockAddr { ip, port }
    }
    pub fn ipv4(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.ip)
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = self.port;
        write!(f, "{}:{port}", self.ipv4())
    }
}

/// TCP control bits (RFC 9293 §3.1), in their header bit positions.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: Flags = Flags(0x01);
    pub const SYN: Flags = Flags(0x02);
    pub const RST: Flags = Flags(0x04);
    pub const PSH: Flags = Flags(0x08);
    pub const ACK: Flags = Flags(0x10);
    pub const SYN_ACK: Flags = Flags(0x12);
    pub const FIN_ACK: Flags = Flags(0x11);
    pub const RST_ACK: Flags = Flags(0x14);
    pub const PSH_ACK: Flags = Flags(0x18);

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub const fn syn(self) -> bool {
        self.0 & 0x02 != 0
    }
    pub const fn ack(self) -> bool {
        self.0 & 0x10 != 0
    }
    pub const fn fin(self) -> bool {
        self.0 & 0x01 != 0
    }
    pub const fn rst(self) -> bool {
        self.0 & 0x04 != 0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

impl fmt::Display for Flags {
    /// "SYN", "SYN-ACK", "FIN-ACK", "RST", "ACK", "PSH-ACK"...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Flags::SYN, "SYN"),
            (Flags::FIN, "FIN"),
            (Flags::RST, "RST"),
            (Flags::PSH, "PSH"),
            (Flags::ACK, "ACK"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                if !first {
                    f.write_str("-")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One segment. `Copy` and small: it travels inside events.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Segment {
    pub src: SockAddr,
    pub dst: SockAddr,
    pub seq: u32,
    /// Meaningful only when `flags` has ACK; zero otherwise.
    pub ack: u32,
    /// TCP timestamps option (RFC 7323): the sender's millisecond clock and
    /// the echoed value; `tsval == 0` means the option is absent.
    pub tsval: u32,
    pub tsecr: u32,
    /// Payload bytes (the simulation carries lengths, not bytes).
    pub len: u16,
    /// MSS option, on SYN and SYN-ACK only; 0 when absent.
    pub mss: u16,
    pub flags: Flags,
    /// The other SYN options: [`Segment::SACK_PERM`], [`Segment::WSCALE`].
    pub syn_opts: u8,
}

impl Segment {
    /// SACK permitted (RFC 2018), on a SYN or SYN-ACK.
    pub const SACK_PERM: u8 = 1;
    /// A window scale (RFC 7323 §2), on a SYN or SYN-ACK.
    pub const WSCALE: u8 = 2;

    /// Sequence space the segment occupies: payload, plus one for SYN and
    /// one for FIN (RFC 9293 §3.4).
    pub fn seq_len(&self) -> u32 {
        self.len as u32 + self.flags.syn() as u32 + self.flags.fin() as u32
    }

    /// The short class a drop rule or a ladder names: SYN, SYN-ACK, ACK,
    /// FIN, RST, DATA.
    pub fn kind(&self) -> SegmentKind {
        let f = self.flags;
        if f.rst() {
            SegmentKind::Rst
        } else if f.syn() && f.ack() {
            SegmentKind::SynAck
        } else if f.syn() {
            SegmentKind::Syn
        } else if f.fin() {
            SegmentKind::Fin
        } else if self.len > 0 {
            SegmentKind::Data
        } else {
            SegmentKind::Ack
        }
    }
}

/// Segment classes that scenarios and drop rules name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    Syn,
    SynAck,
    Ack,
    Data,
    Fin,
    Rst,
}

impl SegmentKind {
    pub const ALL: [SegmentKind; 6] = [
        SegmentKind::Syn,
        SegmentKind::SynAck,
        SegmentKind::Ack,
        SegmentKind::Data,
        SegmentKind::Fin,
        SegmentKind::Rst,
    ];
    pub fn name(self) -> &'static str {
        match self {
            SegmentKind::Syn => "syn",
            SegmentKind::SynAck => "synack",
            SegmentKind::Ack => "ack",
            SegmentKind::Data => "data",
            SegmentKind::Fin => "fin",
            SegmentKind::Rst => "rst",
        }
    }
    pub fn parse(text: &str) -> Option<SegmentKind> {
        let t = text.to_ascii_lowercase().replace(['-', '_'], "");
        SegmentKind::ALL.into_iter().find(|k| k.name() == t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_fits_a_48_byte_event() {
        assert_eq!(std::mem::size_of::<SockAddr>(), 6);
        assert!(std::mem::size_of::<Segment>() <= 44, "{}", std::mem::size_of::<Segment>());
    }

    #[test]
    fn syn_and_fin_consume_one_sequence_number_pure_ack_none() {
        let mut s = Segment { flags: Flags::SYN, ..Default::default() };
        assert_eq!(s.seq_len(), 1);
        s.flags = Flags::FIN_ACK;
        assert_eq!(s.seq_len(), 1);
        s.flags = Flags::ACK;
        assert_eq!(s.seq_len(), 0);
        s.len = 100;
        assert_eq!(s.seq_len(), 100);
        assert_eq!(s.kind(), SegmentKind::Data);
    }

    #[test]
    fn flags_print_like_a_ladder() {
        assert_eq!(Flags::SYN_ACK.to_string(), "SYN-ACK");
        assert_eq!(Flags::FIN_ACK.to_string(), "FIN-ACK");
        assert_eq!(Flags::RST.to_string(), "RST");
    }

    #[test]
    fn kinds_parse_by_name() {
        assert_eq!(SegmentKind::parse("SYN-ACK"), Some(SegmentKind::SynAck));
        assert_eq!(SegmentKind::parse("fin"), Some(SegmentKind::Fin));
        assert_eq!(SegmentKind::parse("urg"), None);
    }
}
