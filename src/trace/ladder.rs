//! The ladder diagram as text, 80 columns wide: one row per event, the
//! client's state on the left, the segment's arrow in the middle, the
//! server's state on the right, and a legend for every marker.
//!
//! The records hold a segment twice (sent, then received or lost); a
//! ladder that printed both would show every arrow twice. A segment gets
//! one row instead, at the time it takes effect: when it arrives (the
//! receiver's state change is on that row) or when it is lost. Sends carry
//! no state change (the sender's change is on the timer or call before),
//! so nothing is hidden. The view also finds what the records do not say
//! outright: each connection's ISNs (for Wireshark's relative numbers),
//! the other hosts, and which arrivals were dropped. The SVG uses it too.

use super::record::{RecordKind, Side, TraceRecord};
use crate::engine::SimTime;
use crate::tcp::{Segment, SockAddr, State};
use std::fmt::Write;

const TIME_W: usize = 8;
const STATE_W: usize = 12;
/// Fits the longest relative label ("PSH-ACK seq=1 ack=1 len=100") and
/// the longest timer name in brackets; widens for `--wide` labels.
const MIDDLE_W: usize = 38;
const WIDTH: usize = 80;

/// How the ladder prints sequence numbers.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Numbers {
    /// Relative to each side's ISN, per connection, as Wireshark shows them.
    #[default]
    Relative,
    /// The numbers on the wire (`synsim trace --wide`).
    Absolute,
}

/// One connection seen in the records: who opened it and both ISNs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Conn {
    pub initiator: SockAddr,
    pub responder: SockAddr,
    pub initiator_isn: u32,
    /// None until a SYN-ACK answers the SYN (a dropped SYN gets none).
    pub responder_isn: Option<u32>,
    /// The record that opened it: a segment belongs only to connections
    /// opened before it (tcp_tw_reuse opens a second one on the same ports).
    pub first: usize,
}

/// Every connection of a trace, found from the SYNs and SYN-ACKs.
///
/// A 4-tuple may carry several connections (an old duplicate SYN beside
/// the real one, a TIME-WAIT taken over), so a segment belongs to the one
/// whose ISN its number follows most closely; the header's ISNs and the
/// relative numbers come from here, never from "the first SYN of a side".
#[derive(Clone, Debug, Default)]
pub struct Connections {
    pub conns: Vec<Conn>,
}

impl Connections {
    pub fn from_records(records: &[TraceRecord]) -> Self {
        let mut c = Connections::default();
        for (i, r) in records.iter().enumerate() {
            let (RecordKind::Sent, Some(seg)) = (&r.kind, r.seg) else { continue };
            if !seg.flags.syn() {
                continue;
            }
            if !seg.flags.ack() {
                let known = c
                    .conns
                    .iter()
                    .any(|k| k.initiator == seg.src && k.responder == seg.dst && k.initiator_isn == seg.seq);
                if !known {
                    c.conns.push(Conn {
                        initiator: seg.src,
                        responder: seg.dst,
                        initiator_isn: seg.seq,
                        responder_isn: None,
                        first: i,
                    });
                }
            } else if let Some(k) = c.conns.iter_mut().find(|k| {
                k.initiator == seg.dst
                    && k.responder == seg.src
                    && k.initiator_isn.wrapping_add(1) == seg.ack
                    && k.responder_isn.is_none()
            }) {
                k.responder_isn = Some(seg.seq);
            }
        }
        c
    }

    /// The connection `seg` (at record `at`) belongs to, and whether its
    /// sender opened it.
    pub fn of(&self, seg: &Segment, at: usize) -> Option<(usize, bool)> {
        let dist = |n: u32, isn: u32| n.wrapping_sub(isn);
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, k)| k.first <= at)
            .filter_map(|(i, k)| {
                if k.initiator == seg.src && k.responder == seg.dst {
                    Some((dist(seg.seq, k.initiator_isn), i, true))
                } else if k.initiator == seg.dst && k.responder == seg.src {
                    let d = if seg.flags.ack() {
                        dist(seg.ack, k.initiator_isn)
                    } else {
                        dist(seg.seq, k.responder_isn?)
                    };
                    Some((d, i, false))
                } else {
                    None
                }
            })
            .min()
            .map(|(_, i, opened)| (i, opened))
    }

    /// (seq, ack) as `numbers` asks; a number whose ISN is unknown stays
    /// absolute.
    fn numbers(&self, seg: &Segment, at: usize, numbers: Numbers) -> (u32, u32) {
        let conn = match numbers {
            Numbers::Absolute => None,
            Numbers::Relative => self.of(seg, at).map(|(i, opened)| (self.conns[i], opened)),
        };
        let Some((k, opened)) = conn else { return (seg.seq, seg.ack) };
        let (own, peer) = if opened {
            (Some(k.initiator_isn), k.responder_isn)
        } else {
            (k.responder_isn, Some(k.initiator_isn))
        };
        (own.map_or(seg.seq, |i| seg.seq.wrapping_sub(i)), peer.map_or(seg.ack, |i| seg.ack.wrapping_sub(i)))
    }

    /// "#2 " when the trace has several connections: relative numbers alone
    /// would hide that an old duplicate's SYN-ACK acks another ISN.
    pub fn tag(&self, seg: &Segment, at: usize) -> String {
        match self.of(seg, at) {
            Some((i, _)) if self.conns.len() > 1 => format!("#{} ", i + 1),
            _ => String::new(),
        }
    }

    /// `SYN seq=… ack=… len=…`: the fields a ladder shows of the segment of
    /// record `at`.
    pub fn label(&self, seg: &Segment, at: usize, numbers: Numbers) -> String {
        let (seq, ack) = self.numbers(seg, at, numbers);
        let mut s = self.tag(seg, at);
        let _ = write!(s, "{} seq={seq}", seg.flags);
        if seg.flags.ack() {
            let _ = write!(s, " ack={ack}");
        }
        if seg.len > 0 {
            let _ = write!(s, " len={}", seg.len);
        }
        s
    }
}

/// Hosts other than the traced client and the server (spoofed sources, an
/// old duplicate's earlier incarnation), named h1, h2... in order of
/// appearance so that a row can name one in a few columns.
#[derive(Clone, Debug, Default)]
pub struct OtherHosts {
    pub addrs: Vec<SockAddr>,
}

impl OtherHosts {
    pub fn from_records(records: &[TraceRecord]) -> Self {
        let mut h = OtherHosts::default();
        for r in records {
            if let (Side::Other, Some(seg)) = (r.side, r.seg) {
                let addr = if r.kind == RecordKind::Received { seg.dst } else { seg.src };
                if !h.addrs.contains(&addr) {
                    h.addrs.push(addr);
                }
            }
        }
        h
    }

    /// "h1" for the first other host seen.
    pub fn name(&self, addr: SockAddr) -> String {
        let i = self.addrs.iter().position(|a| *a == addr).unwrap_or(self.addrs.len());
        format!("h{}", i + 1)
    }
}

/// The other host of record `r` (its sender, or the host it reached).
pub fn other_host(r: &TraceRecord) -> Option<SockAddr> {
    match (r.side, r.seg) {
        (Side::Other, Some(seg)) if r.kind == RecordKind::Received => Some(seg.dst),
        (Side::Other, Some(seg)) => Some(seg.src),
        _ => None,
    }
}

/// Why the receiver discarded a segment that reached it, if it did: the
/// simulation says so only in the record's note ("SYN queue full: SYN
/// dropped", "dropped: netdev backlog full", "no host at this address").
pub fn dropped_on_arrival(r: &TraceRecord) -> Option<&str> {
    let dropped =
        r.kind == RecordKind::Received && (r.note.contains("dropped") || r.note.starts_with("no host"));
    dropped.then_some(&*r.note)
}

/// For each record: the index of the other record of the same segment
/// (a send's arrival or loss, an arrival's or loss's send). Duplicates
/// (identical retransmissions in flight together) pair first-in first-out.
pub fn pair_sends(records: &[TraceRecord]) -> Vec<Option<usize>> {
    let mut pair = vec![None; records.len()];
    for (j, r) in records.iter().enumerate() {
        if !matches!(r.kind, RecordKind::Received | RecordKind::Lost) {
            continue;
        }
        let send = (0..j)
            .find(|&i| records[i].kind == RecordKind::Sent && pair[i].is_none() && records[i].seg == r.seg);
        if let Some(i) = send {
            pair[i] = Some(j);
            pair[j] = Some(i);
        }
    }
    pair
}

/// The one-way delay most segments took (the header states it once, so
/// rows need not repeat each send time).
pub fn usual_delay(records: &[TraceRecord], pair: &[Option<usize>]) -> Option<u64> {
    let mut counts: Vec<(u64, usize)> = Vec::new();
    for (j, r) in records.iter().enumerate() {
        if let (RecordKind::Received, Some(i)) = (&r.kind, pair[j]) {
            let d = r.at.as_nanos() - records[i].at.as_nanos();
            match counts.iter_mut().find(|(v, _)| *v == d) {
                Some((_, n)) => *n += 1,
                None => counts.push((d, 1)),
            }
        }
    }
    counts.iter().max_by_key(|(d, n)| (*n, std::cmp::Reverse(*d))).map(|(d, _)| *d)
}

/// Seconds, to the millisecond when the instant allows (every scenario's
/// times do), else to the microsecond.
pub fn secs(t: SimTime) -> String {
    if t.as_nanos() % 1_000_000 == 0 { secs_to(t, 3) } else { t.to_string() }
}

/// Seconds with `decimals` (3, 6 or 9) digits after the point.
fn secs_to(t: SimTime, decimals: u32) -> String {
    let ns = t.as_nanos();
    let unit = 10u64.pow(9 - decimals);
    format!("{}.{:0w$}", ns / 1_000_000_000, (ns % 1_000_000_000) / unit, w = decimals as usize)
}

/// The fewest decimals (ms, us, ns) that show every record's time exactly,
/// so that the time column's points line up.
fn time_decimals(records: &[TraceRecord]) -> u32 {
    let every = |unit: u64| records.iter().all(|r| r.at.as_nanos() % unit == 0);
    if every(1_000_000) {
        3
    } else if every(1_000) {
        6
    } else {
        9
    }
}

pub fn millis(ns: u64) -> String {
    if ns % 1_000_000 == 0 { format!("{} ms", ns / 1_000_000) } else { format!("{} us", ns / 1_000) }
}

/// What a row's middle column shows of a segment.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Fate {
    Delivered,
    /// Lost in the network: the arrow stops halfway.
    Lost,
    /// Reached the receiver, which discarded it.
    Dropped,
    /// Still in flight when the trace ended.
    InFlight,
}

/// An arrow `width` wide toward the server (rightward) or away from it,
/// the label inside. A lost segment's shaft stops 3/4 of the way with `X`;
/// one dropped on arrival has `X` for its head; one still in flight, `~`.
fn arrow(label: &str, rightward: bool, fate: Fate, width: usize) -> String {
    let inner = format!(" {label} ");
    let len = match fate {
        Fate::Lost | Fate::InFlight => (width * 3 / 4).max(inner.len() + 4),
        _ => width,
    };
    let dashes = len.saturating_sub(inner.len() + 1);
    let (near, far) = (dashes / 2, dashes - dashes / 2);
    let head = match (fate, rightward) {
        (Fate::Lost | Fate::Dropped, _) => 'X',
        (Fate::InFlight, _) => '~',
        (_, true) => '>',
        (_, false) => '<',
    };
    let shaft = |n: usize| "-".repeat(n);
    if rightward {
        format!("{}{inner}{}{head}", shaft(near), shaft(far))
    } else {
        let body = format!("{head}{}{inner}{}", shaft(far), shaft(near));
        format!("{body:>width$}")
    }
}

pub fn state_after(r: &TraceRecord) -> Option<State> {
    match (r.before, r.after) {
        (b, Some(a)) if b != Some(a) => Some(a),
        _ => None,
    }
}

/// The whole diagram and its legend, ending with a newline.
pub fn ladder_text(records: &[TraceRecord], client: SockAddr, server: SockAddr, numbers: Numbers) -> String {
    let conns = Connections::from_records(records);
    let others = OtherHosts::from_records(records);
    let pair = pair_sends(records);
    let delay = usual_delay(records, &pair);
    let middle_w = records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.seg.map(|s| conns.label(&s, i, numbers).len() + 6))
        .fold(MIDDLE_W, usize::max);

    let decimals = time_decimals(records);
    let time_w = records.iter().map(|r| secs_to(r.at, decimals).len()).fold(TIME_W, usize::max);

    let mut out = String::new();
    let _ = write!(out, "client {}  server {server}", client_label(records, &conns, client));
    if let Some(d) = delay {
        let _ = write!(out, "  (one-way delay {})", millis(d));
    }
    out.push('\n');
    for line in conn_lines(records, &conns, &others, client, server) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "{:>time_w$}  {:<STATE_W$} {:<middle_w$} server",
        "time (s)",
        "client",
        match numbers {
            Numbers::Relative => "  seq/ack relative to each ISN",
            Numbers::Absolute => "  seq/ack absolute",
        },
    );

    let width = time_w + 2 + STATE_W + 1 + middle_w + 1 + STATE_W;
    for (i, r) in records.iter().enumerate() {
        let mut left = String::new();
        let mut right = String::new();
        let mut note = r.note.to_string();
        let state = state_after(r).map(|s| s.to_string()).unwrap_or_default();
        match r.side {
            Side::Client => left = state,
            Side::Server => right = state,
            Side::Other => {}
        }
        let middle = match (&r.kind, r.seg) {
            (RecordKind::Sent, Some(seg)) => {
                if pair[i].is_some() {
                    continue; // shown on its arrival's or loss's row
                }
                arrow(&conns.label(&seg, i, numbers), seg.dst == server, Fate::InFlight, middle_w)
            }
            (RecordKind::Received | RecordKind::Lost, Some(seg)) => {
                let fate = if r.kind == RecordKind::Lost {
                    Fate::Lost
                } else if dropped_on_arrival(r).is_some() {
                    Fate::Dropped
                } else {
                    Fate::Delivered
                };
                if let Some(s) = pair[i].map(|s| &records[s]) {
                    let took = r.at.as_nanos() - s.at.as_nanos();
                    if r.kind == RecordKind::Received && Some(took) != delay {
                        let sent = format!("sent at {}", secs(s.at));
                        note = if note.is_empty() { sent } else { format!("{note}; {sent}") };
                    }
                }
                // An other host's end of the arrow goes in the left column
                // (unless the client received it: its column shows its state).
                if let Some(h) = other_host(r).or_else(|| {
                    pair[i].and_then(|s| other_host(&records[s])).filter(|_| r.side != Side::Client)
                }) {
                    left = format!("{}{}", others.name(h), if seg.dst == server { " >" } else { " <" });
                }
                arrow(&conns.label(&seg, i, numbers), seg.dst == server, fate, middle_w)
            }
            (RecordKind::Timer(what), _) => {
                side_text(&format!("{}[{what}]", timer_tag(records, i, &conns)), r.side, middle_w)
            }
            (RecordKind::App(what), _) => side_text(&format!("{what}()"), r.side, middle_w),
            (_, None) => String::new(),
        };
        let time = secs_to(r.at, decimals);
        let line = format!("{time:>time_w$}  {left:<STATE_W$} {middle:<middle_w$} {right}");
        let line = line.trim_end();
        // A note goes in the server's column when that is free and it fits,
        // else on a line of its own under the arrow.
        let beside = line.len().max(width - STATE_W);
        if note.is_empty() {
            let _ = writeln!(out, "{line}");
        } else if right.is_empty() && beside + 2 + note.len() <= width.max(WIDTH) {
            let _ = writeln!(out, "{line:<beside$}  {note}");
        } else {
            let _ = writeln!(out, "{line}");
            let _ = writeln!(out, "{:indent$}({note})", "", indent = time_w + 2 + STATE_W + 1 + 2);
        }
    }
    out.push_str(&legend(delay));
    out
}

/// "#2 " for the timer of record `i` when the trace has several
/// connections: a retransmission timer's segment follows it at once and
/// tells whose timer it was (an expiry sends nothing and stays untagged).
pub fn timer_tag(records: &[TraceRecord], i: usize, conns: &Connections) -> String {
    match (&records[i], records.get(i + 1)) {
        (r, Some(n)) if n.kind == RecordKind::Sent && n.side == r.side && n.at == r.at => {
            n.seg.map(|s| conns.tag(&s, i + 1)).unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The traced client's address, or its IP and ports when it connected
/// from several (tw-reuse-off moves to another port, accept-queue-overflow
/// opens four; the trace's `client` is only the last).
pub fn client_label(records: &[TraceRecord], conns: &Connections, client: SockAddr) -> String {
    let mut ports: Vec<u16> = conns
        .conns
        .iter()
        .filter(|k| k.initiator.ip == client.ip && records[k.first].side == Side::Client)
        .map(|k| k.initiator.port)
        .collect();
    ports.dedup();
    match ports.as_slice() {
        [a, b] => format!("{} (ports {a}, {b})", client.ipv4()),
        // More do not fit the header's 80 columns; the conn lines name each.
        [_, _, _, ..] => format!("{} ({} ports)", client.ipv4(), ports.len()),
        _ => client.to_string(),
    }
}

/// "conn 1: client ISN … -> server ISN …", one line per connection.
pub fn conn_lines(
    records: &[TraceRecord],
    conns: &Connections,
    others: &OtherHosts,
    client: SockAddr,
    server: SockAddr,
) -> Vec<String> {
    // An old duplicate comes from the client's own address: the side of
    // the record that sent the SYN tells it apart.
    let name = |a: SockAddr, side: Side| match side {
        Side::Other => format!("{} {a}", others.name(a)),
        _ if a == server => "server".to_string(),
        _ if a.ip == client.ip => format!("client {a}"),
        _ => format!("{a}"),
    };
    conns
        .conns
        .iter()
        .enumerate()
        .map(|(n, k)| {
            let r_isn = k.responder_isn.map_or("none (no SYN-ACK)".to_string(), |i| i.to_string());
            format!(
                "conn {}: {} ISN {} -> {} ISN {r_isn}",
                n + 1,
                name(k.initiator, records[k.first].side),
                k.initiator_isn,
                name(k.responder, Side::Server)
            )
        })
        .collect()
}

/// A timer's or call's text in the middle column, on its side's end.
fn side_text(text: &str, side: Side, width: usize) -> String {
    match side {
        Side::Server => format!("{text:>width$}"),
        _ => text.to_string(),
    }
}

fn legend(delay: Option<u64>) -> String {
    let delay = delay.map_or("a one-way delay".to_string(), millis);
    let mut out = format!(
        "legend\n  One row per event, in time order. A segment has one row: when it arrives\n  \
         (sent {delay} before, unless the row says \"sent at\") or is lost.\n"
    );
    // (marker, meaning); an empty marker continues the line above.
    let rows = [
        ("client, server", "the state that side enters on this row"),
        ("--- SYN seq=0 --->", "delivered (<--- toward the client or another host)"),
        ("--- SYN seq=0 -X", "lost in the network: the shaft stops short"),
        ("--- SYN seq=0 ---X", "reached the receiver, which dropped it"),
        ("--- SYN seq=0 -~", "still in flight when the trace ended"),
        ("(...)", "the simulation's note: why a drop, what a call did"),
        ("[name]", "a timer of that side fired"),
        ("call()", "an application call on that side"),
        ("h1 >, h1 <", "sent by, or to, other host h1 (a spoofed or stale"),
        ("", "source, named in the conn lines), not the traced client"),
        ("#2", "the row belongs to conn 2 (when there are several)"),
        ("seq, ack", "relative to each side's ISN in its connection (conn"),
        ("", "lines above), as Wireshark shows them; --wide: absolute"),
    ];
    for (marker, meaning) in rows {
        let _ = writeln!(out, "  {marker:<20}{meaning}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;
    use crate::tcp::Flags;

    const C: SockAddr = SockAddr::new(0x0B00_0001, 40000);
    const S: SockAddr = SockAddr::new(0x0A00_0001, 80);

    fn rec(
        ms: u64,
        side: Side,
        kind: RecordKind,
        seg: Option<Segment>,
        b: Option<State>,
        a: Option<State>,
    ) -> TraceRecord {
        TraceRecord { at: SimTime::from_millis(ms), side, kind, seg, before: b, after: a, note: "".into() }
    }

    fn records() -> Vec<TraceRecord> {
        let syn = Segment { src: C, dst: S, seq: 100, flags: Flags::SYN, ..Default::default() };
        let synack =
            Segment { src: S, dst: C, seq: 300, ack: 101, flags: Flags::SYN_ACK, ..Default::default() };
        let mut lost = rec(10, Side::Server, RecordKind::Lost, Some(synack), None, None);
        lost.note = "drop the 1st SYN-ACK server->client".into();
        vec![
            rec(0, Side::Client, RecordKind::App("connect"), None, Some(State::Closed), Some(State::SynSent)),
            rec(0, Side::Client, RecordKind::Sent, Some(syn), Some(State::SynSent), Some(State::SynSent)),
            rec(
                10,
                Side::Server,
                RecordKind::Received,
                Some(syn),
                Some(State::Listen),
                Some(State::SynReceived),
            ),
            rec(10, Side::Server, RecordKind::Sent, Some(synack), None, None),
            lost,
        ]
    }

    #[test]
    fn one_row_per_segment_with_relative_numbers() {
        let text = ladder_text(&records(), C, S, Numbers::Relative);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains("ISN 100") && lines[1].contains("ISN 300"), "{text}");
        assert!(lines[3].contains("SYN-SENT") && lines[3].contains("connect()"), "{text}");
        // The SYN: one row, at its arrival, with the server's new state.
        assert!(lines[4].contains(" SYN seq=0 ") && lines[4].contains("> SYN-RECEIVED"), "{text}");
        assert!(lines[4].starts_with("   0.010"), "{text}");
        assert!(lines[5].contains("X-") && lines[5].contains("SYN-ACK seq=0 ack=1"), "{text}");
        assert!(text.contains("(drop the 1st SYN-ACK server->client)"), "{text}");
        let ladder = &text[..text.find("\nlegend\n").unwrap()];
        assert_eq!(ladder.matches(" SYN seq=").count(), 1, "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    }

    #[test]
    fn marks_a_drop_on_arrival_and_a_segment_still_in_flight() {
        let syn = Segment { src: C, dst: S, seq: 100, flags: Flags::SYN, ..Default::default() };
        let fin = Segment { src: C, dst: S, seq: 101, ack: 301, flags: Flags::FIN_ACK, ..Default::default() };
        let mut dropped = rec(10, Side::Server, RecordKind::Received, Some(syn), None, None);
        dropped.note = "SYN queue full: SYN dropped".into();
        let records = [
            rec(0, Side::Client, RecordKind::Sent, Some(syn), None, None),
            dropped,
            rec(20, Side::Client, RecordKind::Sent, Some(fin), None, None),
        ];
        let text = ladder_text(&records, C, S, Numbers::Relative);
        let lines: Vec<&str> = text.lines().collect();
        // The full-length arrow ends in X at the server; the reason follows.
        assert!(lines[3].contains("SYN seq=0") && lines[3].ends_with("-X"), "{text}");
        assert!(text.contains("SYN queue full: SYN dropped"), "{text}");
        // The FIN never arrived: shown at its send time, ending in `~` (its
        // ack stays absolute: no SYN-ACK gave the server's ISN).
        assert!(lines[5].starts_with("   0.020") && lines[5].trim_end().ends_with('~'), "{text}");
    }

    #[test]
    fn wide_prints_absolute_numbers() {
        let text = ladder_text(&records(), C, S, Numbers::Absolute);
        assert!(text.contains(" SYN seq=100 ") && text.contains("SYN-ACK seq=300 ack=101"), "{text}");
    }
}
