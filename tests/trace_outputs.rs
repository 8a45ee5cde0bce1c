//! The trace's outputs read back by independent parsers: the pcap by
//! etherparse (checksums recomputed, fields compared with the ladder's
//! records), the SVG by an XML parser; and the CLI end to end.

use etherparse::{SlicedPacket, TransportSlice};
use synsim::scenarios::{SCENARIOS, trace};
use synsim::tcp::Segment;
use synsim::trace::ladder::Numbers;
use synsim::trace::pcap::{EPOCH_SECS, tap_view};
use synsim::trace::{RecordKind, Side, ladder_svg, ladder_text, write_pcap};

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
    // The server enters ESTABLISHED on the row of the resent ACK's arrival.
    assert!(text.lines().any(|l| l.contains("> ESTABLISHED")), "{text}");
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

/// The text ladder of every scenario, as `synsim trace NAME` prints it.
fn text_ladder(name: &str, numbers: Numbers) -> (String, synsim::scenarios::Trace) {
    let t = trace(name, &[], 1).unwrap();
    (ladder_text(&t.records, t.client, t.server, numbers), t)
}

#[test]
fn every_text_ladder_fits_80_columns_with_one_row_per_segment() {
    for s in SCENARIOS {
        let (text, t) = text_ladder(s.name, Numbers::Relative);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{}: {} columns: {line}", s.name, line.chars().count());
        }
        assert!(text.is_ascii(), "{}", s.name);
        // One arrow per segment: the rows above the legend that show a seq.
        let ladder = &text[..text.find("\nlegend\n").unwrap()];
        let arrows = ladder.lines().filter(|l| l.contains(" seq=")).count();
        let sent = t.records.iter().filter(|r| r.kind == RecordKind::Sent).count();
        assert_eq!(arrows, sent, "{}:\n{text}", s.name);
    }
}

/// Each connection's ISNs, straight from its SYN and the SYN-ACK that acks
/// it (independent of the view's code).
fn isns(t: &synsim::scenarios::Trace) -> Vec<(u32, u32)> {
    let sent = || t.records.iter().filter(|r| r.kind == RecordKind::Sent).filter_map(|r| r.seg);
    let syns: Vec<_> = sent().filter(|s| s.flags.syn() && !s.flags.ack()).collect();
    let mut out = Vec::new();
    for syn in syns {
        let answer =
            sent().find(|s| s.flags.syn() && s.flags.ack() && s.dst == syn.src && s.ack == syn.seq + 1);
        let pair = (syn.seq, answer.map_or(0, |a| a.seq));
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

#[test]
fn headers_give_each_connection_its_own_isns() {
    for name in ["syn-flood-glimpse", "syn-flood-glimpse-cookies", "tw-reuse", "old-duplicate-syn"] {
        let (text, t) = text_ladder(name, Numbers::Relative);
        let t_svg = ladder_svg(&t.records, t.client, t.server, name).replace("&gt;", ">");
        let expected = isns(&t);
        assert!(expected.len() >= 2, "{name}");
        for (client_isn, server_isn) in &expected {
            let line = format!("ISN {client_isn} -> server ISN {server_isn}");
            assert!(text.contains(&line), "{name}: no `{line}` in\n{text}");
            assert!(t_svg.contains(&line), "{name}: the SVG has no `{line}`");
        }
    }
    // The traced client's own connection in the flood: the server's ISN is
    // the one its SYN-ACK to the client carries, not a spoofed host's.
    let (text, t) = text_ladder("syn-flood-glimpse", Numbers::Relative);
    let to_client = t
        .records
        .iter()
        .filter_map(|r| r.seg)
        .find(|s| s.flags.syn() && s.flags.ack() && s.dst == t.client)
        .unwrap();
    assert!(text.contains(&format!(
        "conn 6: client {} ISN {} -> server ISN {}",
        t.client,
        to_client.ack - 1,
        to_client.seq
    )));
}

#[test]
fn wide_prints_the_numbers_on_the_wire() {
    let (text, t) = text_ladder("normal", Numbers::Absolute);
    let syn = t.records.iter().find_map(|r| r.seg.filter(|s| s.flags.syn())).unwrap();
    assert!(text.contains(&format!(" SYN seq={} ", syn.seq)), "{text}");
    let (text, _) = text_ladder("normal", Numbers::Relative);
    assert!(text.contains(" SYN seq=0 ") && text.contains(" ACK seq=1 ack=1 "), "{text}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_synsim"))
        .args(["trace", "normal", "--wide"])
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains(&format!(" SYN seq={} ", syn.seq)));
}

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap()
}

fn attr(n: roxmltree::Node, name: &str) -> f64 {
    n.attribute(name).unwrap().parse().unwrap()
}

#[test]
fn svg_of_the_flood_has_a_lifeline_per_host_role_and_spoofed_syns_leave_their_own() {
    let t = trace("syn-flood-glimpse", &[], 1).unwrap();
    let svg = ladder_svg(&t.records, t.client, t.server, "syn-flood-glimpse");
    let doc = parse(&svg);
    let lifeline = |role: &str| {
        let id = format!("lifeline-{role}");
        let n = doc.descendants().find(|n| n.attribute("id") == Some(id.as_str()));
        attr(n.unwrap_or_else(|| panic!("no {id}")), "x1")
    };
    let (client, server, spoofed) = (lifeline("client"), lifeline("server"), lifeline("spoofed"));
    assert!(spoofed != client && client != server && spoofed != server);
    // Arrows in record order, one per Sent record.
    let arrows: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("segment"))
        .map(|n| (attr(n, "x1"), attr(n, "x2")))
        .collect();
    let spoofed_syns =
        t.records.iter().filter(|r| r.kind == RecordKind::Sent && r.side == Side::Other).count();
    assert_eq!(spoofed_syns, 5);
    assert_eq!(arrows.iter().filter(|(x1, _)| *x1 == spoofed).count(), spoofed_syns);
    assert!(arrows.iter().any(|(x1, x2)| *x1 == client && *x2 == server), "the client's SYN");
    // Every dropped segment has a cross and its reason.
    let crosses = doc.descendants().filter(|n| n.attribute("class") == Some("dropped")).count();
    let dropped = t
        .records
        .iter()
        .filter(|r| {
            r.kind == RecordKind::Received && (r.note.contains("dropped") || r.note.starts_with("no host"))
        })
        .count();
    assert_eq!(crosses, dropped);
    let notes: Vec<&str> =
        doc.descendants().filter(|n| n.attribute("class") == Some("note")).filter_map(|n| n.text()).collect();
    assert!(notes.contains(&"dropped: SYN queue full: SYN dropped"), "{notes:?}");
    assert!(notes.contains(&"dropped: no host at this address"));
}

/// An estimate of a text's box: the file uses DejaVu Sans 11 px (about
/// 0.62 em a character, bold 0.7); a little generous, so that a pass
/// means a real gap.
fn text_box(n: roxmltree::Node) -> (f64, f64, f64, f64) {
    let text = n.text().unwrap_or("");
    let size: f64 = n.attribute("font-size").map_or(11.0, |s| s.parse().unwrap());
    let em = if n.attribute("font-weight") == Some("bold") { 0.7 } else { 0.62 };
    let w = text.chars().count() as f64 * size * em;
    let (x, y) = (attr(n, "x"), attr(n, "y"));
    let left = match n.attribute("text-anchor") {
        Some("end") => x - w,
        Some("middle") => x - w / 2.0,
        _ => x,
    };
    (left, y - size * 0.8, left + w, y + size * 0.25)
}

#[test]
fn no_two_svg_labels_overlap_and_every_loss_has_a_cross_and_its_reason() {
    for s in SCENARIOS {
        let t = trace(s.name, &[], 1).unwrap();
        let svg = ladder_svg(&t.records, t.client, t.server, s.name);
        assert!(svg.is_ascii(), "{}: a glyph the file embeds no font for", s.name);
        let doc = parse(&svg);
        let boxes: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| (text_box(n), n.text().unwrap_or("").to_string()))
            .collect();
        for (i, (a, ta)) in boxes.iter().enumerate() {
            for (b, tb) in &boxes[i + 1..] {
                let overlap = a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
                assert!(!overlap, "{}: `{ta}` overlaps `{tb}`", s.name);
            }
        }
        let lost: Vec<_> = t.records.iter().filter(|r| r.kind == RecordKind::Lost).collect();
        let crosses = doc.descendants().filter(|n| n.attribute("class") == Some("lost")).count();
        assert_eq!(crosses, lost.len(), "{}", s.name);
        for r in lost {
            let reason = format!("lost: {}", r.note);
            assert!(boxes.iter().any(|(_, t)| *t == reason), "{}: no `{reason}`", s.name);
        }
    }
}

#[test]
fn trace_hz_puts_the_timers_on_the_kernel_timer_wheel() {
    let fin_times = |hz: &str| -> Vec<String> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_synsim"))
            .args(["trace", "lost-fin-forever", "--delay", "25us", "--hz", hz])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.contains("timer]"))
            .take(3)
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect()
    };
    // close() at 0.500050; exact timers: the probe 200 ms later (2 x SRTT
    // + 200 ms), then the RTO of 201 ms, doubling. At HZ 250 they fire on
    // jiffy ticks, 208 ms apart (the kernel's gaps: 0.205 and 0.208 s,
    // validation/kernel/fincheck.py), a few µs in: level-0 timers run
    // after a tick's coarser ones (under 10.24 µs).
    assert_eq!(fin_times("0"), ["0.700052", "0.901052", "1.303052"]);
    let ns = |s: &String| (s.parse::<f64>().unwrap() * 1e9).round() as u64;
    let ticks: Vec<(u64, u64)> =
        fin_times("250").iter().map(ns).map(|t| (t / 4_000_000, t % 4_000_000)).collect();
    assert_eq!(ticks.iter().map(|t| t.0).collect::<Vec<_>>(), [177, 229, 336], "{ticks:?}"); // 0.708, 0.916, 1.344 s
    assert!(ticks.iter().all(|t| t.1 > 0 && t.1 < 10_240), "{ticks:?}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_synsim"))
        .args(["trace", "lost-fin-forever", "--hz", "200"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--hz takes 0 (exact timers), 100, 250, 300 or 1000")
    );
}
