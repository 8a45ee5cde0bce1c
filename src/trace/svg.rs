//! The ladder diagram as a standalone SVG, the same view as the text
//! ladder: one row per event (rows, not linear time: a 60 s TIME-WAIT
//! would squash the millisecond exchanges), a segment drawn once, on the
//! row where it arrives or is lost, a lifeline per host role (client,
//! server, and other hosts when a scenario spoofs or replays a source).
//!
//! Nothing overlaps by construction: a row owns its height band, and
//! within it the time, each side's texts and the middle (arrow, label,
//! note) have separate horizontal zones, sized for the longest text any
//! record can carry. Only ASCII and plain shapes: the file embeds no font,
//! so a glyph outside the viewer's fonts would draw as an empty box.

use super::ladder::{
    Connections, Numbers, OtherHosts, client_label, conn_lines, dropped_on_arrival, millis, other_host,
    pair_sends, secs, state_after, timer_tag, usual_delay,
};
use super::record::{RecordKind, Side, TraceRecord};
use crate::tcp::SockAddr;
use std::fmt::Write;

const FONT: f64 = 11.0;
const LINE: f64 = 14.0;
/// A one-line row; each further line of text adds `LINE`.
const ROW: f64 = 26.0;
const TIME_X: f64 = 70.0;
const OTHER_X: f64 = 150.0;
/// Leaves room left of the client for its longest text
/// ("FIN-WAIT-2 timeout (tcp_fin_timeout)", "SYN-RECEIVED -> ESTABLISHED").
const CLIENT_X: f64 = 440.0;
const SERVER_X: f64 = 860.0;
const WIDTH: f64 = 1160.0;
/// Where a side's text starts, away from its lifeline (the timer icon sits
/// in between).
const SIDE_GAP: f64 = 24.0;

const BLUE: &str = "#1f4e9c";
const RED: &str = "#c00000";
const GREEN: &str = "#0a6b2d";
const BROWN: &str = "#7a4b00";
const GREY: &str = "#555555";
const BOLD: &str = r#" font-weight="bold""#;
const ITALIC: &str = r#" font-style="italic""#;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

struct Svg {
    body: String,
}

impl Svg {
    /// A text with a white halo, so that a line under it never hides it.
    #[allow(clippy::too_many_arguments)]
    fn text(&mut self, class: &str, x: f64, y: f64, anchor: &str, fill: &str, style: &str, text: &str) {
        let _ = writeln!(
            self.body,
            r##"<text class="{class}" x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" fill="{fill}"{style} stroke="white" stroke-width="3" paint-order="stroke">{}</text>"##,
            escape(text)
        );
    }

    fn cross(&mut self, class: &str, x: f64, y: f64) {
        let _ = writeln!(
            self.body,
            r##"<path class="{class}" d="M{a:.1},{b:.1} L{c:.1},{d:.1} M{a:.1},{d:.1} L{c:.1},{b:.1}" stroke="{RED}" stroke-width="2.5"/>"##,
            a = x - 5.0,
            b = y - 5.0,
            c = x + 5.0,
            d = y + 5.0
        );
    }

    /// A timer's or call's row: its text beside its side's lifeline, the
    /// state it entered below, the simulation's note in the middle. Returns
    /// the height it adds to a one-line row.
    fn event(&mut self, r: &TraceRecord, text: &str, state: Option<&str>, c: f64) -> f64 {
        let (x, anchor) = side_anchor(r.side);
        self.text("note", x, c + 4.0, anchor, BROWN, ITALIC, text);
        if !r.note.is_empty() {
            self.text("note", (CLIENT_X + SERVER_X) / 2.0, c + 4.0, "middle", GREY, ITALIC, &r.note);
        }
        let Some(state) = state else { return 0.0 };
        self.text("state", x, c + 4.0 + LINE, anchor, GREEN, BOLD, state);
        LINE
    }

    /// A piece of lifeline, for the legend.
    fn line_at(&mut self, x: f64, y1: f64, y2: f64) {
        let _ = writeln!(
            self.body,
            r##"<line class="legend" x1="{x:.1}" y1="{y1:.1}" x2="{x:.1}" y2="{y2:.1}" stroke="#444" stroke-width="2"/>"##
        );
    }

    /// A clock face: circle and two hands (no font glyph needed).
    fn clock(&mut self, x: f64, y: f64) {
        let _ = writeln!(
            self.body,
            r##"<g class="timer"><circle cx="{x:.1}" cy="{y:.1}" r="5" fill="white" stroke="{BROWN}" stroke-width="1.3"/><path d="M{x:.1},{y:.1} L{x:.1},{t:.1} M{x:.1},{y:.1} L{r:.1},{y:.1}" stroke="{BROWN}" stroke-width="1.3"/></g>"##,
            t = y - 3.5,
            r = x + 3.0
        );
    }

    /// A segment's arrow from `x1` to `x2`, slightly slanted to show time
    /// passing.
    #[allow(clippy::too_many_arguments)]
    fn arrow(&mut self, class: &str, x1: f64, x2: f64, y: f64, color: &str, head: bool, dashed: bool) {
        let marker = match (head, color) {
            (false, _) => "",
            (true, RED) => r##" marker-end="url(#head-red)""##,
            (true, _) => r##" marker-end="url(#head)""##,
        };
        let dash = if dashed { r#" stroke-dasharray="5,4""# } else { "" };
        let _ = writeln!(
            self.body,
            r##"<line class="{class}" x1="{x1:.1}" y1="{:.1}" x2="{x2:.1}" y2="{:.1}" stroke="{color}" stroke-width="1.5"{marker}{dash}/>"##,
            y - 4.0,
            y + 4.0
        );
    }
}

/// Where `side`'s texts go: (x, anchor) away from its lifeline.
fn side_anchor(side: Side) -> (f64, &'static str) {
    match side {
        Side::Server => (SERVER_X + SIDE_GAP, "start"),
        _ => (CLIENT_X - SIDE_GAP, "end"),
    }
}

pub fn ladder_svg(records: &[TraceRecord], client: SockAddr, server: SockAddr, title: &str) -> String {
    let conns = Connections::from_records(records);
    let others = OtherHosts::from_records(records);
    let pair = pair_sends(records);
    let delay = usual_delay(records, &pair);
    let header = conn_lines(records, &conns, &others, client, server);
    let has_others = !others.addrs.is_empty();
    let other_role = if others.addrs.iter().all(|a| a.ip == client.ip) {
        "earlier incarnation"
    } else {
        "spoofed sources"
    };
    let x_of = |side: Side| match side {
        Side::Client => CLIENT_X,
        Side::Server => SERVER_X,
        Side::Other => OTHER_X,
    };

    let mut svg = Svg { body: String::new() };
    let top = 44.0 + LINE * header.len() as f64 + 46.0;
    let mut y = top;
    for (i, r) in records.iter().enumerate() {
        if r.kind == RecordKind::Sent && pair[i].is_some() {
            continue; // drawn on its arrival's or loss's row
        }
        let state =
            state_after(r).map(|s| format!("{} -> {s}", r.before.map_or("-".into(), |b| b.to_string())));
        let (side_x, anchor) = side_anchor(r.side);
        let mut extra = 0.0;
        let c = y + ROW / 2.0; // the row's middle line
        match (&r.kind, r.seg) {
            (RecordKind::Sent | RecordKind::Received | RecordKind::Lost, Some(seg)) => {
                // The sender's record: this one, or the send paired with it.
                let sent = if r.kind == RecordKind::Sent { r } else { pair[i].map_or(r, |s| &records[s]) };
                let from = x_of(sent.side);
                let to = if seg.dst.ip == server.ip {
                    SERVER_X
                } else if seg.dst.ip == client.ip {
                    CLIENT_X
                } else {
                    OTHER_X
                };
                let dropped = dropped_on_arrival(r);
                let (end, head, dashed) = match r.kind {
                    RecordKind::Lost => (from + (to - from) * 0.7, false, false),
                    RecordKind::Sent => (from + (to - from) * 0.6, false, true), // in flight at the end
                    _ if dropped.is_some() => (to - (to - from).signum() * 9.0, false, false),
                    _ => (to, true, false),
                };
                let color = if seg.flags.rst() { RED } else { BLUE };
                svg.arrow("segment", from, end, c, color, head, dashed);
                let mut label = conns.label(&seg, i, Numbers::Relative);
                if let Some(h) = other_host(sent).filter(|h| h.ip != client.ip) {
                    label = format!("{label}  from {h}");
                } else if let Some(h) = other_host(r).filter(|h| h.ip != client.ip) {
                    label = format!("{label}  to {h}");
                }
                // Between client and server even for an other host's arrow,
                // so that no text crosses the client's lifeline.
                let lx = (from.max(CLIENT_X) + to.max(CLIENT_X)) / 2.0;
                svg.text("label", lx, c - 7.0, "middle", color, "", &label);
                let mut note = r.note.to_string();
                if r.kind == RecordKind::Lost {
                    svg.cross("lost", end, c + 4.0);
                    note = format!("lost: {note}");
                } else if dropped.is_some() {
                    svg.cross("dropped", end, c + 4.0);
                    note = format!("dropped: {note}");
                } else if r.kind == RecordKind::Sent {
                    note = "in flight when the trace ended".into();
                } else if let Some(s) = pair[i].map(|s| &records[s])
                    && Some(r.at.as_nanos() - s.at.as_nanos()) != delay
                {
                    let sent = format!("sent at {}", secs(s.at));
                    note = if note.is_empty() { sent } else { format!("{note}; {sent}") };
                }
                if !note.is_empty() {
                    let red = r.kind == RecordKind::Lost || dropped.is_some();
                    let (fill, style) = if red { (RED, "") } else { (GREY, ITALIC) };
                    svg.text("note", lx, c + 20.0, "middle", fill, style, &note);
                    extra = LINE + 12.0; // nearer its own arrow than the next row's label
                }
                if let Some(s) = state {
                    svg.text("state", side_x, c + 4.0, anchor, GREEN, BOLD, &s);
                }
            }
            (RecordKind::Timer(what), _) => {
                let icon_x = if r.side == Side::Server { SERVER_X + 12.0 } else { CLIENT_X - 12.0 };
                svg.clock(icon_x, c);
                let text = format!("{}{what}", timer_tag(records, i, &conns));
                extra = svg.event(r, &text, state.as_deref(), c);
            }
            (RecordKind::App(what), _) => extra = svg.event(r, &format!("{what}()"), state.as_deref(), c),
            _ => {}
        }
        svg.text("time", TIME_X, c + 4.0, "end", GREY, "", &secs(r.at));
        y += ROW + extra;
    }
    let end = y + 6.0;
    let legend_top = end + 24.0 + LINE;
    let height = legend_top + LINE * 10.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="DejaVu Sans, Arial, sans-serif" font-size="{FONT}">
<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{BLUE}"/></marker><marker id="head-red" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{RED}"/></marker></defs>
<rect width="100%" height="100%" fill="white"/>
<text class="title" x="{mid}" y="20" text-anchor="middle" font-size="15" font-weight="bold">{t}</text>"##,
        mid = WIDTH / 2.0,
        t = escape(title),
    );
    for (n, line) in header.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<text class="header" x="{TIME_X}" y="{:.0}" fill="{GREY}">{}</text>"##,
            44.0 + LINE * n as f64,
            escape(line)
        );
    }
    let head_y = 44.0 + LINE * header.len() as f64 + 14.0;
    let lifeline = |s: &mut String, role: &str, x: f64, name: &str, addr: &str| {
        let _ = writeln!(
            s,
            r##"<text class="role" x="{x}" y="{head_y:.0}" text-anchor="middle" font-weight="bold">{name}</text>
<text class="role" x="{x}" y="{:.0}" text-anchor="middle">{}</text>
<line class="lifeline" id="lifeline-{role}" x1="{x}" y1="{top:.0}" x2="{x}" y2="{end:.0}" stroke="#444" stroke-width="2"/>"##,
            head_y + LINE,
            escape(addr)
        );
    };
    lifeline(&mut s, "client", CLIENT_X, "client", &client_label(records, &conns, client));
    lifeline(&mut s, "server", SERVER_X, "server", &server.to_string());
    if has_others {
        let role = if other_role == "spoofed sources" { "spoofed" } else { "earlier" };
        let addrs = match others.addrs.as_slice() {
            [one] => one.to_string(),
            many => format!("{} addresses", many.len()),
        };
        lifeline(&mut s, role, OTHER_X, other_role, &addrs);
    }
    let _ = writeln!(
        s,
        r##"<text class="time" x="{TIME_X}" y="{head_y:.0}" text-anchor="end" font-weight="bold">time (s)</text>"##
    );
    s.push_str(&svg.body);
    s.push_str(&legend(legend_top, delay));
    s.push_str("</svg>\n");
    s
}

/// Every mark of the diagram, with a sample of it.
fn legend(top: f64, delay: Option<u64>) -> String {
    let mut svg = Svg { body: String::new() };
    let (x0, x1, tx) = (TIME_X, TIME_X + 60.0, TIME_X + 75.0);
    let row = |n: f64| top + LINE * 1.4 * n;
    let plain = "";
    let delay = delay.map_or("a one-way delay".to_string(), millis);
    let intro = format!(
        "One row per event, in time order. A segment is drawn once: on the row where it arrives \
         (sent {delay} before, unless noted) or where it is lost."
    );
    svg.text("legend", x0, row(0.0) - LINE, "start", "black", plain, &intro);
    let numbers = "seq/ack are relative to each side's ISN in its connection (conn lines at the top), \
                   as Wireshark shows them; #2: a segment of conn 2.";
    svg.text("legend", x0, row(0.0), "start", "black", plain, numbers);
    svg.arrow("legend", x0, x1, row(1.0) - 4.0, BLUE, true, false);
    svg.text("legend", tx, row(1.0), "start", "black", plain, "delivered (red: RST)");
    svg.arrow("legend", x0, x0 + 40.0, row(2.0) - 4.0, BLUE, false, false);
    svg.cross("legend", x0 + 40.0, row(2.0));
    svg.text(
        "legend",
        tx,
        row(2.0),
        "start",
        "black",
        plain,
        "lost in the network; the reason below the arrow",
    );
    svg.arrow("legend", x0, x1 - 9.0, row(3.0) - 4.0, BLUE, false, false);
    svg.cross("legend", x1 - 9.0, row(3.0));
    svg.line_at(x1, row(3.0) - 12.0, row(3.0) + 4.0);
    svg.text(
        "legend",
        tx,
        row(3.0),
        "start",
        "black",
        plain,
        "reached the receiver, which dropped it; the reason below",
    );
    svg.clock(x0 + 30.0, row(4.0) - 4.0);
    svg.text("legend", tx, row(4.0), "start", "black", plain, "a timer fired (#2: of conn 2)");
    svg.text("legend", x1, row(5.0), "end", BROWN, ITALIC, "close()");
    svg.text("legend", tx, row(5.0), "start", "black", plain, "an application call");
    svg.text("legend", x1, row(6.0), "end", GREEN, BOLD, "A -> B");
    svg.text("legend", tx, row(6.0), "start", "black", plain, "that side's state changes from A to B");
    svg.body
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
        assert!(svg.contains("SYN-SENT -&gt; ESTABLISHED"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.is_ascii(), "no glyph a viewer's font may lack");
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
