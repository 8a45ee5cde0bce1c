//! The trace's outputs read back by independent parsers: the pcap by
//! etherparse (checksums recomputed, fields compared with the ladder's
//! records), the SVG by an XML parser; and the CLI end to end.

use etherparse::{SlicedPacket, TransportSlice};
use synsim::scenarios::{SCENARIOS, trace};
use synsim::tcp::Segment;
use synsim::trace::pcap::{EPOCH_SECS, tap_view};
use synsim::trace::{Side, ladder_svg, write_pcap};

/// (timestamp ns, frame) of every packet in a classic nanosecond pcap.
fn read_pcap(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_3c4d, "nanosecond magic");
    assert_eq!(u32_at(20), 1, "LINKTYPE_ETHERNET");
    let mut packets = Vec::new();
    let mut i = 24;
    while i < bytes.len() {
        let (secs, nanos, incl, orig) =
            (u32_at(i), u32_at(i + 4), u32_at(i + 8) as usize, u32_at(i + 12) as usize);
        assert_eq!(incl, orig);
        let ts = (secs as u64 - EPOCH_SECS) * 1_000_000_000 + nanos as u64;
        packets.push((ts, bytes[i + 16..i + 16 + incl].to_vec()));
        i += 16 + incl;
    }
    assert_eq!(i, bytes.len());
    packets
}

fn check_pcap(name: &str, tap: Side) {
    let t = trace(name, &[], 1).unwrap();
    let mut bytes = Vec::new();
    let n = write_pcap(&mut bytes, &t.records, tap).unwrap();
    let expected: Vec<(u64, Segment)> = tap_view(&t.records, tap);
    let packets = read_pcap(&bytes);
    assert_eq!(packets.len(), n);
    assert_eq!(packets.len(), expected.len());
    // (The server sees nothing at all when every SYN is lost.)
    assert!(n > 0 || (tap == Side::Server && name.starts_with("syn-timeout")), "{name}: empty capture");
    for ((ts, frame), (at, seg)) in packets.iter().zip(&expected) {
        assert_eq!(ts, at, "{name}: timestamp");
        let p =
            SlicedPacket::from_ethernet(frame).unwrap_or_else(|e| panic!("{name}: unparsable frame: {e:?}"));
        let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else { panic!("{name}: not IPv4") };
        let ip_header = ip.header().to_header();
        assert_eq!(ip_header.header_checksum, ip_header.calc_header_checksum(), "{name}: IPv4 checksum");
        assert_eq!(u32::from_be_bytes(ip_header.source), { seg.src.ip });
        assert_eq!(u32::from_be_bytes(ip_header.destination), { seg.dst.ip });
        let Some(TransportSlice::Tcp(tcp)) = p.transport else { panic!("{name}: not TCP") };
        let computed = tcp.to_header().calc_checksum_ipv4(&ip_header, tcp.payload()).unwrap();
        assert_eq!(tcp.checksum(), computed, "{name}: TCP checksum");
        assert_eq!((tcp.source_port(), tcp.destination_port()), (seg.src.port, seg.dst.port));
        assert_eq!((tcp.sequence_number(), tcp.acknowledgment_number()), (seg.seq, seg.ack));
        assert_eq!(
            (tcp.syn(), tcp.ack(), tcp.fin(), tcp.rst(), tcp.psh()),
            (
                seg.flags.syn(),
                seg.flags.ack(),
                seg.flags.fin(),
                seg.flags.rst(),
                seg.flags.contains(synsim::tcp::Flags::PSH)
            )
        );
        assert_eq!(tcp.payload().len(), seg.len as usize);
    }
}

#[test]
fn every_scenario_pcap_parses_with_valid_checksums_and_matches_the_ladder() {
    for s in SCENARIOS {
        check_pcap(s.name, Side::Client);
        check_pcap(s.name, Side::Server);
    }
}

/// The client's tap sees a segment it sent even when the network lost it.
#[test]
fn the_client_tap_sees_its_lost_syn() {
    let t = trace("lost-syn", &[], 1).unwrap();
    let view = tap_view(&t.records, Side::Client);
    let syns: Vec<u64> =
        view.iter().filter(|(_, s)| s.flags.syn() && !s.flags.ack()).map(|(t, _)| *t).collect();
    assert_eq!(syns, [0, 1_000_000_000]);
    let server = tap_view(&t.records, Side::Server);
    assert_eq!(server.iter().filter(|(_, s)| s.flags.syn() && !s.flags.ack()).count(), 1);
}

#[test]
fn svg_is_well_formed_xml_with_one_arrow_per_segment() {
    for s in SCENARIOS {
        let t = trace(s.name, &[], 1).unwrap();
        let svg = ladder_svg(&t.records, t.client, t.server, s.name);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let arrows = doc.descendants().filter(|n| n.attribute("class") == Some("segment")).count();
        let sent = t.records.iter().filter(|r| r.kind == synsim::trace::RecordKind::Sent).count();
        assert_eq!(arrows, sent, "{}", s.name);
    }
}

#[test]
fn cli_trace_writes_ladder_svg_and_pcap() {
    let dir = std::env::temp_dir().join(format!("synsim-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg, pcap) = (dir.join("l.svg"), dir.join("l.pcap"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_synsim"))
        .args(["trace", "lost-final-ack", "--svg"])
        .arg(&svg)
        .arg("--pcap")
        .arg(&pcap)
        .args(["--at", "server"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("SYN-RECEIVED -> ESTABLISHED"));
    assert!(text.contains("drop the 1st ACK client->server"));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    assert!(!read_pcap(&std::fs::read(&pcap).unwrap()).is_empty());
    let list =
        std::process::Command::new(env!("CARGO_BIN_EXE_synsim")).args(["trace", "--list"]).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for s in SCENARIOS {
        assert!(list.contains(s.name));
    }
    let bad =
        std::process::Command::new(env!("CARGO_BIN_EXE_synsim")).args(["trace", "nope"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scenario `nope`"));
    let bad_rule = std::process::Command::new(env!("CARGO_BIN_EXE_synsim"))
        .args(["trace", "normal", "--drop", "urg:1"])
        .output()
        .unwrap();
    assert_eq!(bad_rule.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_rule.stderr).contains("bad drop rule `urg:1`"));
    std::fs::remove_dir_all(&dir).unwrap();
}
