//! The ladder diagram as a standalone SVG: two lifelines, one row per
//! event (rows, not linear time: a 60 s TIME-WAIT would squash the
//! millisecond exchanges), slanted arrows from the sending row to the
//! receiving row, a red cross where a segment was lost.

use super::ladder::{Connections, Numbers};
use super::record::{RecordKind, Side, TraceRecord};
use crate::tcp::{Segment, SockAddr};
use std::fmt::Write;

const ROW: f64 = 22.0;
const TOP: f64 = 70.0;
const TIME_X: f64 = 80.0;
const CLIENT_X: f64 = 250.0;
const SERVER_X: f64 = 700.0;
const WIDTH: f64 = 960.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn x_of(side: Side) -> f64 {
    match side {
        Side::Client | Side::Other => CLIENT_X,
        Side::Server => SERVER_X,
    }
}

/// The row where `seg`, sent at row `from`, is received or lost.
fn arrival_row(records: &[TraceRecord], from: usize, seg: &Segment) -> Option<(usize, bool)> {
    records.iter().enumerate().skip(from + 1).find_map(|(i, r)| match r.kind {
        RecordKind::Received if r.seg.as_ref() == Some(seg) => Some((i, false)),
        RecordKind::Lost if r.seg.as_ref() == Some(seg) => Some((i, true)),
        _ => None,
    })
}

pub fn ladder_svg(records: &[TraceRecord], client: SockAddr, server: SockAddr, title: &str) -> String {
    let conns = Connections::from_records(records);
    let height = TOP + ROW * (records.len() as f64 + 2.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">
<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f4e9c"/></marker></defs>
<rect width="100%" height="100%" fill="white"/>
<text x="{mid}" y="20" text-anchor="middle" font-size="15" font-weight="bold">{t}</text>
<text x="{TIME_X}" y="50" text-anchor="end" font-weight="bold">time (s)</text>
<text x="{CLIENT_X}" y="42" text-anchor="middle" font-weight="bold">client</text>
<text x="{CLIENT_X}" y="56" text-anchor="middle">{c}</text>
<text x="{SERVER_X}" y="42" text-anchor="middle" font-weight="bold">server</text>
<text x="{SERVER_X}" y="56" text-anchor="middle">{sv}</text>
<line x1="{CLIENT_X}" y1="{TOP}" x2="{CLIENT_X}" y2="{end}" stroke="#444" stroke-width="2"/>
<line x1="{SERVER_X}" y1="{TOP}" x2="{SERVER_X}" y2="{end}" stroke="#444" stroke-width="2"/>
"##,
        mid = WIDTH / 2.0,
        t = escape(title),
        c = escape(&client.to_string()),
        sv = escape(&server.to_string()),
        end = height - ROW,
    );
    let y = |row: usize| TOP + ROW * (row as f64 + 1.0);
    for (i, r) in records.iter().enumerate() {
        let yi = y(i);
        let _ = writeln!(
            s,
            r##"<text x="{TIME_X}" y="{}" text-anchor="end" fill="#666">{}</text>"##,
            yi + 4.0,
            r.at
        );
        let side_x = x_of(r.side);
        let right_side = r.side == Side::Server;
        // State changes: a box on the lifeline.
        if let (Some(b), Some(a)) = (r.before, r.after)
            && b != a
        {
            let label = format!("{b} → {a}");
            let (x, anchor) = if right_side { (side_x + 8.0, "start") } else { (side_x - 8.0, "end") };
            let _ = writeln!(
                s,
                r##"<text class="state" x="{x}" y="{}" text-anchor="{anchor}" fill="#0a6b2d" font-weight="bold">{}</text>"##,
                yi + 4.0,
                escape(&label)
            );
        }
        match (&r.kind, r.seg) {
            (RecordKind::Sent, Some(seg)) => {
                let from_x = side_x;
                let to_x = if seg.dst.ip == server.ip { SERVER_X } else { CLIENT_X };
                let (row, lost) = arrival_row(records, i, &seg).unwrap_or((i + 1, true));
                let (mut x2, y2) = (to_x, y(row));
                if lost {
                    x2 = (from_x + to_x) / 2.0;
                }
                let marker = if lost { "" } else { r##" marker-end="url(#head)""## };
                let color = if seg.flags.rst() { "#b00020" } else { "#1f4e9c" };
                let _ = writeln!(
                    s,
                    r##"<line class="segment" x1="{from_x}" y1="{yi}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="1.5"{marker}/>"##
                );
                if lost {
                    let _ = writeln!(
                        s,
                        r##"<path class="lost" d="M{a},{b} L{c},{d} M{a},{d} L{c},{b}" stroke="#d00" stroke-width="2.5"/>"##,
                        a = x2 - 6.0,
                        b = y2 - 6.0,
                        c = x2 + 6.0,
                        d = y2 + 6.0
                    );
                }
                let mut label = conns.label(&seg, i, Numbers::Relative);
                if r.side == Side::Other {
                    label = format!("{label} (from {})", seg.src);
                }
                let lx = (from_x + x2) / 2.0;
                let ly = (yi + y2) / 2.0 - 4.0;
                let _ = writeln!(
                    s,
                    r##"<text class="label" x="{lx}" y="{ly}" text-anchor="middle" fill="{color}">{}</text>"##,
                    escape(&label)
                );
            }
            (RecordKind::Timer(what), _) | (RecordKind::App(what), _) => {
                let text = match r.kind {
                    RecordKind::Timer(_) => format!("⏰ {what}"),
                    _ => format!("{what}()"),
                };
                let (x, anchor) = if right_side { (side_x + 8.0, "start") } else { (side_x - 8.0, "end") };
                let dy = if r.before != r.after { 14.0 } else { 4.0 };
                let _ = writeln!(
                    s,
                    r##"<text class="note" x="{x}" y="{}" text-anchor="{anchor}" fill="#7a4b00" font-style="italic">{}</text>"##,
                    yi + dy,
                    escape(&text)
                );
            }
            _ => {}
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::trace;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn draws_an_arrow_per_segment_and_a_cross_per_loss() {
        let t = trace("lost-synack", &[], 1).unwrap();
        let svg = ladder_svg(&t.records, t.client, t.server, "lost-synack");
        let sent = t.records.iter().filter(|r| r.kind == RecordKind::Sent).count();
        let lost = t.records.iter().filter(|r| r.kind == RecordKind::Lost).count();
        assert_eq!(count(&svg, r#"class="segment""#), sent);
        assert_eq!(count(&svg, r#"class="lost""#), lost);
        assert_eq!(count(&svg, r#"class="label""#), sent);
        assert!(svg.contains("SYN-SENT → ESTABLISHED"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
