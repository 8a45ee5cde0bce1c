//! Helpers shared by the tests: the wire as compact lines, a folder's files.
#![allow(dead_code)]

use std::path::Path;
use synsim::scenarios::Trace;
use synsim::tcp::Segment;
use synsim::trace::{RecordKind, Side, TraceRecord};

/// ISNs of each side, taken from the first SYN each sent.
pub fn isns(t: &Trace) -> (u32, u32) {
    let first = |side: Side| {
        t.records
            .iter()
            .find(|r| r.kind == RecordKind::Sent && r.side == side && r.seg.is_some_and(|s| s.flags.syn()))
            .map(|r| r.seg.unwrap().seq)
            .unwrap_or(0)
    };
    (first(Side::Client), first(Side::Server))
}

fn side_letter(s: Side) -> &'static str {
    match s {
        Side::Client => "C",
        Side::Server => "S",
        Side::Other => "O",
    }
}

fn rel(seg: &Segment, from: Side, isn: (u32, u32)) -> (String, String) {
    let (own, peer) = match from {
        Side::Client => (isn.0, isn.1),
        Side::Server => (isn.1, isn.0),
        Side::Other => (0, 0),
    };
    let seq = if from == Side::Other { seg.seq.to_string() } else { seg.seq.wrapping_sub(own).to_string() };
    let ack = if seg.flags.ack() { seg.ack.wrapping_sub(peer).to_string() } else { "-".into() };
    (seq, ack)
}

/// Every segment sent (`>`) or lost (`X`), as `time_ms side FLAGS seq ack`
/// with seq and ack relative to the ISNs (as Wireshark shows them). A side's
/// ISN is its latest SYN's, so a second connection is numbered afresh.
pub fn wire(t: &Trace) -> Vec<String> {
    let mut isn = (0, 0);
    let mut lines = Vec::new();
    for r in t.records.iter().filter(|r| matches!(r.kind, RecordKind::Sent | RecordKind::Lost)) {
        let seg = r.seg.unwrap();
        if seg.flags.syn() && r.kind == RecordKind::Sent {
            match r.side {
                Side::Client => isn.0 = seg.seq,
                Side::Server => isn.1 = seg.seq,
                Side::Other => {}
            }
        }
        let (seq, ack) = rel(&seg, r.side, isn);
        let mark = if r.kind == RecordKind::Lost { "X" } else { ">" };
        let len = if seg.len > 0 { format!(" len={}", seg.len) } else { String::new() };
        lines.push(format!("{} {}{} {} {} {}{}", ms(r), side_letter(r.side), mark, seg.flags, seq, ack, len));
    }
    lines
}

fn ms(r: &TraceRecord) -> String {
    let ns = r.at.as_nanos();
    if ns % 1_000_000 == 0 { format!("{}", ns / 1_000_000) } else { format!("{:.3}", ns as f64 / 1e6) }
}

/// Every state change of `side`, as `time_ms FROM->TO`.
pub fn states(t: &Trace, side: Side) -> Vec<String> {
    t.records
        .iter()
        .filter(|r| r.side == side && r.before.is_some() && r.before != r.after)
        .map(|r| format!("{} {}->{}", ms(r), r.before.unwrap(), r.after.unwrap()))
        .collect()
}

/// Every file of a folder, relative path -> bytes.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// An empty folder of this test process's own under the temp dir.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("synsim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
