//! A classic pcap (nanosecond timestamps, Ethernet) of what a tap beside
//! one host sees: every segment it sent, lost later or not, and every
//! segment it received. Headers are built here, with real checksums, so an
//! independent parser can check them.

use super::record::{RecordKind, Side, TraceRecord};
use crate::tcp::params::{DEFAULT_WSCALE, WINDOW};
use crate::tcp::{Flags, Segment, SockAddr};
use std::collections::HashSet;
use std::io::{self, Write};

/// pcap magic for nanosecond-resolution timestamps.
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;
/// Simulated time 0 is shown as 2026-01-01T00:00:00Z.
pub const EPOCH_SECS: u64 = 1_767_225_600;

/// A stable, locally administered MAC for an IPv4 address.
fn mac(ip: u32) -> [u8; 6] {
    let b = ip.to_be_bytes();
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// The Internet checksum (RFC 1071) over `data`, starting from `sum`.
fn checksum(mut sum: u32, data: &[u8]) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u32) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// TCP options in the words `tcp_options_write` lays out: MSS; SACK_PERM
/// in the two bytes before the timestamps (NOP, NOP there without it);
/// without timestamps NOP, NOP, SACK_PERM; then NOP, window scale.
fn tcp_options(seg: &Segment) -> Vec<u8> {
    let mut o = Vec::with_capacity(20);
    let sack = seg.syn_opts & Segment::SACK_PERM != 0;
    if seg.mss != 0 {
        o.extend_from_slice(&[2, 4]);
        o.extend_from_slice(&seg.mss.to_be_bytes());
    }
    if seg.tsval != 0 {
        o.extend_from_slice(if sack { &[4, 2, 8, 10] } else { &[1, 1, 8, 10] });
        o.extend_from_slice(&seg.tsval.to_be_bytes());
        o.extend_from_slice(&seg.tsecr.to_be_bytes());
    } else if sack {
        o.extend_from_slice(&[1, 1, 4, 2]);
    }
    if seg.syn_opts & Segment::WSCALE != 0 {
        o.extend_from_slice(&[1, 3, 3, DEFAULT_WSCALE]);
    }
    o
}

/// The window field: unscaled on SYNs (RFC 7323 §2.2), shifted by the
/// window scale once both SYNs carried one.
fn window_field(seg: &Segment, scaled: bool) -> u16 {
    let shift = if scaled && !seg.flags.syn() { DEFAULT_WSCALE } else { 0 };
    (WINDOW >> shift).min(65_535) as u16
}

/// One Ethernet/IPv4/TCP frame for `seg`; `ip_id` is the IPv4 ID;
/// `scaled`: the connection negotiated window scaling.
pub fn frame(seg: &Segment, ip_id: u16, scaled: bool) -> Vec<u8> {
    let options = tcp_options(seg);
    let tcp_len = 20 + options.len() + seg.len as usize;
    let ip_len = 20 + tcp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&mac(seg.dst.ip));
    f.extend_from_slice(&mac(seg.src.ip));
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    // IPv4 header: version 4, IHL 5, DF, TTL 64, protocol 6.
    let ip_start = f.len();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&ip_id.to_be_bytes());
    f.extend_from_slice(&0x4000u16.to_be_bytes());
    f.extend_from_slice(&[64, 6, 0, 0]);
    f.extend_from_slice(&seg.src.ip.to_be_bytes());
    f.extend_from_slice(&seg.dst.ip.to_be_bytes());
    let ip_sum = checksum(0, &f[ip_start..ip_start + 20]);
    f[ip_start + 10..ip_start + 12].copy_from_slice(&ip_sum.to_be_bytes());
    // TCP header.
    let tcp_start = f.len();
    f.extend_from_slice(&seg.src.port.to_be_bytes());
    f.extend_from_slice(&seg.dst.port.to_be_bytes());
    f.extend_from_slice(&seg.seq.to_be_bytes());
    f.extend_from_slice(&seg.ack.to_be_bytes());
    let offset_words = ((20 + options.len()) / 4) as u8;
    f.extend_from_slice(&[offset_words << 4, seg.flags.0]);
    f.extend_from_slice(&window_field(seg, scaled).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    f.extend_from_slice(&options);
    f.extend((0..seg.len).map(|i| b'a' + (i % 26) as u8));
    // Pseudo-header: source, destination, zero, protocol, TCP length.
    let mut pseudo = 0u32;
    for word in
        [seg.src.ip >> 16, seg.src.ip & 0xffff, seg.dst.ip >> 16, seg.dst.ip & 0xffff, 6, tcp_len as u32]
    {
        pseudo += word;
    }
    let tcp_sum = checksum(pseudo, &f[tcp_start..]);
    f[tcp_start + 16..tcp_start + 18].copy_from_slice(&tcp_sum.to_be_bytes());
    f
}

/// The segments a tap beside `tap` sees, with their times: what it sent
/// (at the send time, even if lost later) and what reached it.
pub fn tap_view(records: &[TraceRecord], tap: Side) -> Vec<(u64, Segment)> {
    records
        .iter()
        .filter(|r| r.side == tap && matches!(r.kind, RecordKind::Sent | RecordKind::Received))
        .filter_map(|r| r.seg.map(|s| (r.at.as_nanos(), s)))
        .collect()
}

/// Writes the pcap of `tap`'s view; returns the number of packets.
pub fn write_pcap<W: Write>(mut out: W, records: &[TraceRecord], tap: Side) -> io::Result<usize> {
    out.write_all(&MAGIC_NS.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&0i32.to_le_bytes())?; // thiszone
    out.write_all(&0u32.to_le_bytes())?; // sigfigs
    out.write_all(&65_535u32.to_le_bytes())?; // snaplen
    out.write_all(&LINKTYPE_ETHERNET.to_le_bytes())?;
    // Connections whose SYN-ACK scaled the window (so the SYN did too).
    let scaled: HashSet<(SockAddr, SockAddr)> = records
        .iter()
        .filter_map(|r| r.seg)
        .filter(|s| s.flags.contains(Flags::SYN_ACK) && s.syn_opts & Segment::WSCALE != 0)
        .flat_map(|s| [(s.src, s.dst), (s.dst, s.src)])
        .collect();
    let packets = tap_view(records, tap);
    for (i, (ns, seg)) in packets.iter().enumerate() {
        let f = frame(seg, i as u16 + 1, scaled.contains(&(seg.src, seg.dst)));
        let secs = EPOCH_SECS + ns / 1_000_000_000;
        out.write_all(&(secs as u32).to_le_bytes())?;
        out.write_all(&((ns % 1_000_000_000) as u32).to_le_bytes())?;
        out.write_all(&(f.len() as u32).to_le_bytes())?;
        out.write_all(&(f.len() as u32).to_le_bytes())?;
        out.write_all(&f)?;
    }
    out.flush()?;
    Ok(packets.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc_1071_example() {
        // RFC 1071 §3: the one's complement sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(checksum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
    }

    #[test]
    fn a_frame_checksums_to_zero_when_summed_again() {
        let seg = Segment {
            src: SockAddr::new(0x0B00_0001, 40000),
            dst: SockAddr::new(0x0A00_0001, 80),
            seq: 7,
            flags: Flags::SYN,
            mss: 1460,
            tsval: 99,
            len: 3,
            ..Default::default()
        };
        let f = frame(&seg, 1, false);
        assert_eq!(checksum(0, &f[14..34]), 0, "IPv4 header");
        let tcp = &f[34..];
        let mut pseudo = 0u32;
        for w in [0x0B00, 0x0001, 0x0A00, 0x0001, 6, tcp.len() as u32] {
            pseudo += w;
        }
        assert_eq!(checksum(pseudo, tcp), 0, "TCP with pseudo-header");
        assert_eq!(f.len(), 14 + 20 + 20 + 4 + 12 + 3);
    }

    #[test]
    fn options_are_in_linuxs_order() {
        // As the testbed's kernel wrote them: MSS, SACK_PERM, TS, NOP, WS.
        let syn = Segment {
            flags: Flags::SYN,
            mss: 1460,
            tsval: 0x0102_0304,
            syn_opts: Segment::SACK_PERM | Segment::WSCALE,
            ..Default::default()
        };
        let ts = [1, 2, 3, 4, 0, 0, 0, 0];
        let expected: Vec<u8> = [&[2, 4, 5, 0xb4, 4, 2, 8, 10][..], &ts, &[1, 3, 3, 7]].concat();
        assert_eq!(tcp_options(&syn), expected);
        let no_ts = Segment { tsval: 0, ..syn };
        assert_eq!(tcp_options(&no_ts), [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
        let ack = Segment { flags: Flags::ACK, mss: 0, syn_opts: 0, ..syn };
        assert_eq!(tcp_options(&ack), [&[1, 1, 8, 10][..], &ts].concat());
        assert_eq!((window_field(&syn, true), window_field(&ack, true)), (64_240, 501));
        assert_eq!(window_field(&ack, false), 64_240);
    }
}
