//! The ladder diagram as text: one row per record, the client's state on
//! the left, the segment in the middle, the server's state on the right.

use super::record::{RecordKind, Side, TraceRecord};
use crate::tcp::{Segment, SockAddr, State};
use std::fmt::Write;

const STATE_W: usize = 26;
const SEG_W: usize = 50;

/// `SYN seq=… ack=… len=…`: the fields a ladder shows of a segment.
pub fn segment_label(seg: &Segment) -> String {
    let mut s = format!("{} seq={}", seg.flags, seg.seq);
    if seg.flags.ack() {
        let _ = write!(s, " ack={}", seg.ack);
    }
    if seg.len > 0 {
        let _ = write!(s, " len={}", seg.len);
    }
    s
}

fn change(before: Option<State>, after: Option<State>) -> String {
    match (before, after) {
        (Some(b), Some(a)) if b != a => format!("{b} -> {a}"),
        _ => String::new(),
    }
}

/// The middle column: an arrow toward the receiver with the label inside;
/// `X` where a lost segment dies.
fn arrow(label: &str, to_server: bool, lost: bool) -> String {
    let inner = format!(" {label} ");
    let dashes = SEG_W.saturating_sub(inner.chars().count() + 1);
    let (left, right) = (dashes / 2, dashes - dashes / 2);
    if to_server {
        let head = if lost { 'X' } else { '>' };
        format!("{}{inner}{}{head}", "-".repeat(left), "-".repeat(right))
    } else {
        let head = if lost { 'X' } else { '<' };
        format!("{head}{}{inner}{}", "-".repeat(left), "-".repeat(right))
    }
}

/// The whole diagram, ending with a newline.
pub fn ladder_text(records: &[TraceRecord], client: SockAddr, server: SockAddr) -> String {
    let isn = |side: Side| {
        records
            .iter()
            .find(|r| r.kind == RecordKind::Sent && r.side == side && r.seg.is_some_and(|s| s.flags.syn()))
            .and_then(|r| r.seg.map(|s| s.seq.to_string()))
            .unwrap_or_else(|| "-".into())
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "client {client} (ISN {})    server {server} (ISN {})",
        isn(Side::Client),
        isn(Side::Server)
    );
    let _ = writeln!(
        out,
        "{:>12}  {:<STATE_W$}  {:^4}  {:<SEG_W$}  {:<STATE_W$}  note",
        "time (s)", "client", "", "segment", "server"
    );
    for r in records {
        let time = r.at.to_string();
        let (mut left, mut right) = (String::new(), String::new());
        let state = change(r.before, r.after);
        match r.side {
            Side::Client => left = state,
            Side::Server => right = state,
            Side::Other => {}
        }
        let (marker, middle) = match (&r.kind, r.seg) {
            (RecordKind::Sent, Some(seg)) => {
                let to_server = seg.dst.ip == server.ip;
                let who = match r.side {
                    Side::Client => "C>",
                    Side::Server => "<S",
                    Side::Other => "?>",
                };
                let mut label = segment_label(&seg);
                if r.side == Side::Other {
                    label = format!("from {}: {label}", seg.src);
                }
                (who, arrow(&label, to_server, false))
            }
            (RecordKind::Lost, Some(seg)) => {
                ("XX", arrow(&segment_label(&seg), seg.dst.ip == server.ip, true))
            }
            (RecordKind::Received, Some(seg)) => {
                let who = match r.side {
                    Side::Client => "C<",
                    Side::Server => ">S",
                    Side::Other => ">?",
                };
                let mut label = segment_label(&seg);
                if r.side == Side::Other {
                    label = format!("to {}: {label}", seg.dst);
                }
                (who, arrow(&label, seg.dst.ip == server.ip, false))
            }
            (RecordKind::Timer(what), _) => ("", format!("[{what}]")),
            (RecordKind::App(what), _) => ("", format!("{what}()")),
            (_, None) => ("", String::new()),
        };
        let line = format!(
            "{time:>12}  {left:<STATE_W$}  {marker:^4}  {middle:<SEG_W$}  {right:<STATE_W$}  {}",
            r.note
        );
        let _ = writeln!(out, "{}", line.trim_end());
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

    #[test]
    fn rows_show_direction_states_and_fields() {
        let syn = Segment { src: C, dst: S, seq: 100, flags: Flags::SYN, ..Default::default() };
        let synack =
            Segment { src: S, dst: C, seq: 300, ack: 101, flags: Flags::SYN_ACK, ..Default::default() };
        let records = [
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
            rec(10, Side::Server, RecordKind::Lost, Some(synack), None, None),
        ];
        let text = ladder_text(&records, C, S);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("ISN 100") && lines[0].contains("ISN 300"), "{}", lines[0]);
        assert!(lines[2].contains("CLOSED -> SYN-SENT") && lines[2].contains("connect()"));
        assert!(lines[3].contains("C>") && lines[3].contains(" SYN seq=100 ") && lines[3].ends_with('>'));
        assert!(lines[4].contains(">S") && lines[4].contains("LISTEN -> SYN-RECEIVED"));
        assert!(
            lines[5].contains("<S")
                && lines[5].contains("<-")
                && lines[5].contains("SYN-ACK seq=300 ack=101")
        );
        assert!(lines[6].contains("XX") && lines[6].contains('X'));
        // Rows line up: the segment column starts at the same place.
        let col = |l: &str| l.find(" SYN").unwrap();
        assert_eq!(col(lines[3]), col(lines[4]));
    }
}
