//! Charts with plotters, in SVG and PNG from the same drawing code: a
//! metric against the swept value (one line per strategy, a 95 % band),
//! time series over simulated time, connect-time CDFs. PNG text is drawn
//! with the bundled DejaVu font, so no system font is needed.

use super::results::Results;
use super::summary::{Layout, estimate, facets, layout, metric_estimate};
use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Metrics charted against the swept value, with their titles and units.
/// Counts cover the measured window (after the warm-up), and say so.
pub const HEADLINE: [(&str, &str, &str); 12] = [
    ("legit_success_ratio", "Legitimate handshakes completed", "share of connect() calls established"),
    ("connect_p50_ms", "Median connect time", "ms"),
    ("connect_p99_ms", "99th-percentile connect time", "ms"),
    ("TcpExtListenDrops", "Listener drops (TcpExtListenDrops)", "segments in the measured window"),
    ("syn_recv_mean", "Half-open requests (SYN_RECV), mean", "requests"),
    ("ingress_drops", "Ingress drops (netdev_max_backlog full)", "segments in the measured window"),
    ("TcpExtSyncookiesSent", "SYN cookies sent", "SYN-ACKs in the measured window"),
    (
        "failed_no_port",
        "connect() failed: no free port (EADDRNOTAVAIL)",
        "connections in the measured window",
    ),
    ("time_wait_peak_client", "TIME-WAIT entries on the clients, peak", "entries"),
    ("time_wait_peak_server", "TIME-WAIT entries on the server, peak", "entries"),
    ("time_wait_memory_peak_server_bytes", "Server memory in TIME-WAIT entries, peak", "bytes"),
    (
        "TcpExtTCPTimeWaitOverflow",
        "TIME-WAIT bucket overflows (server)",
        "connections in the measured window",
    ),
];

/// Time-series columns drawn over simulated time.
pub const SERIES: [(&str, &str); 4] = [
    ("time_wait_client", "TIME-WAIT entries on the clients"),
    ("time_wait_server", "TIME-WAIT entries on the server"),
    ("syn_recv", "Half-open requests (SYN_RECV)"),
    ("accept_queue", "Accept queue length"),
];

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            let _ = plotters::style::register_font("sans-serif", style, dejavu::sans::regular());
        }
    });
}

/// Okabe and Ito's colour-blind-safe palette, without its yellow (too pale
/// on white).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
    Ring,
}

const MARKERS: [Marker; 6] =
    [Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond, Marker::Cross, Marker::Ring];

/// How series `i` of a study is drawn, the same in every chart: a colour,
/// a marker and a line. The first is a thick solid line; later ones are
/// thinner and dashed, so a curve equal to an earlier one still shows it.
#[derive(Copy, Clone, Debug)]
struct Look {
    color: RGBColor,
    marker: Marker,
    /// (dash, gap) in pixels; None for solid.
    dash: Option<(u32, u32)>,
    width: u32,
}

fn look(i: usize) -> Look {
    const DASHES: [(u32, u32); 5] = [(12, 6), (4, 4), (16, 4), (2, 4), (8, 3)];
    Look {
        color: PALETTE[i % PALETTE.len()],
        marker: MARKERS[i % MARKERS.len()],
        dash: if i == 0 { None } else { Some(DASHES[(i - 1) % DASHES.len()]) },
        width: if i == 0 { 4 } else { 2 },
    }
}

/// A line to draw: name, its series' index in the study (its look) and
/// points (x, mean, low, high).
pub struct Curve {
    pub name: String,
    pub look: usize,
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// How a chart's uncertainty is shown.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Spread {
    None,
    /// A bar at each point (a metric against the swept value).
    Bars,
    /// A band along the curve (a time series).
    Band,
}

/// The x axis.
#[derive(Clone, Debug, PartialEq)]
pub enum XAxis {
    /// Linear, ticks chosen by plotters.
    Linear,
    /// Log, ticks chosen by plotters.
    Log,
    /// Ticks exactly at these values (a sweep), on a log scale when they
    /// span two decades or more; a 0 among them then sits one decade below
    /// the smallest other value.
    Sweep { values: Vec<f64>, log: bool },
}

pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x: XAxis,
    pub spread: Spread,
}

/// Width of the legend column to the right of the plot, so no legend
/// covers data.
const LEGEND_W: u32 = 310;

/// "1k", "50k", "1.5M": a rate at a glance.
fn short_number(x: f64) -> String {
    let (v, unit) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    let text = if v == v.round() { format!("{}", v as i64) } else { super::summary::significant(v, 3) };
    format!("{text}{unit}")
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, spec: &ChartSpec, curves: &[Curve]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing a chart: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let (plot_area, legend_area) = root.split_horizontally(w - LEGEND_W);
    let (log, zero_at) = match &spec.x {
        XAxis::Linear => (false, None),
        XAxis::Log => (true, None),
        XAxis::Sweep { values, log } => {
            let min_pos = values.iter().cloned().filter(|v| *v > 0.0).fold(f64::MAX, f64::min);
            (*log, (*log && values.contains(&0.0) && min_pos < f64::MAX).then(|| min_pos.log10() - 1.0))
        }
    };
    let tx = move |x: f64| match (log, zero_at) {
        (true, Some(z)) if x <= 0.0 => z,
        (true, _) => x.max(1e-12).log10(),
        _ => x,
    };
    let pts = || curves.iter().flat_map(|c| c.points.iter()).filter(|p| p.1.is_finite());
    let mut xs: Vec<f64> = pts().map(|p| tx(p.0)).collect();
    if let XAxis::Sweep { values, .. } = &spec.x {
        xs.extend(values.iter().map(|v| tx(*v)));
    }
    let (mut x0, mut x1) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    let (mut y0, mut y1) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| {
        let (lo, hi) = if spec.spread != Spread::None && p.2.is_finite() { (p.2, p.3) } else { (p.1, p.1) };
        (a.min(lo), b.max(hi))
    });
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if x0 == x1 {
        (x0, x1) = (x0 - 0.5, x1 + 0.5);
    }
    // A little room either side so end points and their bars show whole.
    let xpad = if matches!(spec.x, XAxis::Sweep { .. }) { (x1 - x0) * 0.03 } else { 0.0 };
    if y0 > y1 {
        (y0, y1) = (0.0, 1.0);
    }
    y0 = y0.min(0.0);
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    let sweep_ticks = matches!(spec.x, XAxis::Sweep { .. });
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(spec.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(80)
        .build_cartesian_2d(x0 - xpad..x1 + xpad, y0..y1 + pad)
        .map_err(err)?;
    let x_fmt = move |v: &f64| {
        if sweep_ticks {
            return String::new();
        }
        let x = if log { 10f64.powf(*v) } else { *v };
        if log {
            super::summary::significant(x, 2)
        } else if x.abs() >= 1e4 {
            short_number(x)
        } else {
            super::summary::significant(x, 3)
        }
    };
    let y_fmt = |v: &f64| if v.abs() >= 1e4 { short_number(*v) } else { super::summary::significant(*v, 3) };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(spec.x_label)
        .y_desc(spec.y_label)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE.mix(0.0));
    if sweep_ticks {
        mesh.disable_x_mesh().x_labels(0);
    }
    mesh.draw().map_err(err)?;
    // Sweep ticks: a label and a light grid line at each swept value.
    if let XAxis::Sweep { values, .. } = &spec.x {
        for &v in values {
            let x = tx(v);
            let grid = vec![(x, y0), (x, y1 + pad)];
            chart.draw_series(std::iter::once(PathElement::new(grid, BLACK.mix(0.12)))).map_err(err)?;
            let (px, py) = chart.backend_coord(&(x, y0));
            let label = short_number(v);
            let style =
                TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(label, (px, py + 6), style)).map_err(err)?;
        }
    }
    for c in curves {
        let l = look(c.look);
        let color = l.color.to_rgba();
        let finite: Vec<_> = c.points.iter().filter(|p| p.1.is_finite()).collect();
        if spec.spread == Spread::Band && finite.len() > 1 {
            let mut poly: Vec<(f64, f64)> = finite.iter().map(|p| (tx(p.0), p.3)).collect();
            poly.extend(finite.iter().rev().map(|p| (tx(p.0), p.2)));
            chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.15)))).map_err(err)?;
        }
        let line: Vec<(f64, f64)> = finite.iter().map(|p| (tx(p.0), p.1)).collect();
        let stroke = color.stroke_width(l.width);
        match l.dash {
            None => chart.draw_series(LineSeries::new(line.clone(), stroke)).map_err(err)?,
            Some((dash, gap)) => {
                chart.draw_series(DashedLineSeries::new(line.clone(), dash, gap, stroke)).map_err(err)?
            }
        };
        if spec.spread == Spread::Bars {
            chart
                .draw_series(
                    finite
                        .iter()
                        .filter(|p| p.2.is_finite() && p.3 > p.2)
                        .map(|p| ErrorBar::new_vertical(tx(p.0), p.2, p.1, p.3, color.stroke_width(2), 10)),
                )
                .map_err(err)?;
        }
        if line.len() <= 40 {
            for &p in &line {
                let (px, py) = chart.backend_coord(&p);
                draw_marker(&root, (px, py), l.marker, color, 5).map_err(err)?;
            }
        }
    }
    // The legend, beside the plot.
    let font = ("sans-serif", 14).into_font();
    for (i, c) in curves.iter().enumerate() {
        let l = look(c.look);
        let color = l.color.to_rgba();
        let y = 60 + 26 * i as i32;
        let sample = vec![(10, y), (50, y)];
        let stroke = color.stroke_width(l.width);
        match l.dash {
            None => legend_area.draw(&PathElement::new(sample, stroke)).map_err(err)?,
            Some((dash, gap)) => legend_area
                .draw(&DashedPathElement::new(sample, dash as i32, gap as i32, stroke))
                .map_err(err)?,
        }
        let (ox, oy) = legend_area.get_base_pixel();
        draw_marker(&root, (ox + 30, oy + y), l.marker, color, 5).map_err(err)?;
        let mut name = c.name.clone();
        if name.chars().count() > 36 {
            name = name.chars().take(35).collect::<String>() + "…";
        }
        legend_area.draw(&Text::new(name, (58, y - 8), font.clone())).map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A marker centred at pixel `at`, drawn on the whole chart so it is never
/// clipped at the plot's edge.
fn draw_marker<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    marker: Marker,
    color: RGBAColor,
    r: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x, y) = at;
    let fill = color.filled();
    match marker {
        Marker::Circle => root.draw(&Circle::new(at, r, fill)),
        Marker::Ring => root.draw(&Circle::new(at, r, color.stroke_width(2))),
        Marker::Square => root.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], fill)),
        Marker::Triangle => {
            root.draw(&Polygon::new(vec![(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)], fill))
        }
        Marker::Diamond => root
            .draw(&Polygon::new(vec![(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)], fill)),
        Marker::Cross => {
            root.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], color.stroke_width(3)))?;
            root.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], color.stroke_width(3)))
        }
    }
}

/// Draws one chart as `stem.svg` and `stem.png` (the extension is
/// appended, never substituted: a stem may hold dots, as in `loss-0.05`);
/// returns the SVG's path.
pub fn render(stem: &Path, spec: &ChartSpec, curves: &[Curve]) -> Result<PathBuf> {
    register_fonts();
    let with_ext = |ext: &str| {
        let mut name = stem.as_os_str().to_owned();
        name.push(ext);
        PathBuf::from(name)
    };
    let (svg, png) = (with_ext(".svg"), with_ext(".png"));
    draw(SVGBackend::new(&svg, (960, 600)).into_drawing_area(), spec, curves)
        .with_context(|| format!("writing {}", svg.display()))?;
    draw(BitMapBackend::new(&png, (960, 600)).into_drawing_area(), spec, curves)
        .with_context(|| format!("writing {}", png.display()))?;
    Ok(svg)
}

/// A file-name part from any sweep value: letters, digits, `.`, `_`, `=`
/// and `-` kept, every other run of characters (slashes, spaces, quotes,
/// braces of a table value) one `-`; no leading dot; at most 96 bytes.
fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let keep = c.is_ascii_alphanumeric() || "._=".contains(c);
        if keep {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches(|c| c == '-' || c == '.').to_string();
    out.truncate(96);
    out
}

/// Chart stems of one study, made unique: two facets whose labels slug to
/// the same text get `-2`, `-3`, ... so no chart overwrites another.
#[derive(Default)]
struct Stems(std::collections::HashSet<String>);

impl Stems {
    fn claim(&mut self, prefix: &str, label: &str) -> String {
        let base = if label.is_empty() { prefix.to_string() } else { format!("{prefix}-{}", slug(label)) };
        let mut stem = base.clone();
        let mut n = 1;
        while !self.0.insert(stem.clone()) {
            n += 1;
            stem = format!("{base}-{n}");
        }
        stem
    }
}

/// A drawn chart, for the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    /// Path relative to the results folder, without extension.
    pub stem: String,
}

/// The x axis of the charts against the swept value: its key, title and
/// ticks (log where the swept values call for it: [`wants_log`]).
fn x_axis(layout: &Layout, results: &Results) -> Option<(String, XAxis)> {
    let x = layout.x?;
    let (key, values) = &results.manifest.axes[x];
    let v: Vec<f64> = values.iter().filter_map(|s| s.parse().ok()).collect();
    let log = wants_log(&v);
    Some((axis_title(key, &results.manifest.experiment, log), XAxis::Sweep { values: v, log }))
}

/// A log axis for swept values that span two decades, or one decade in
/// geometric steps (each value at least twice the one before, as 300, 1k,
/// 3k, 10k): on a linear axis their small values crowd into one tick.
fn wants_log(values: &[f64]) -> bool {
    let mut positive: Vec<f64> = values.iter().cloned().filter(|x| *x > 0.0).collect();
    positive.sort_by(f64::total_cmp);
    let (Some(&min), Some(&max)) = (positive.first(), positive.last()) else { return false };
    let geometric = positive.len() >= 3 && positive.windows(2).all(|w| w[1] >= 2.0 * w[0]);
    positive.len() >= 2 && (max / min >= 100.0 || (max / min >= 10.0 && geometric))
}

/// A swept key's title in words, with its unit: `attackers.flood.rate` is
/// "spoofed SYN flood rate (SYN/s)" when that attacker is a spoofed flood.
pub fn axis_title(key: &str, experiment: &str, log: bool) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    let doc: Option<toml::Table> = toml::from_str(experiment).ok();
    let field = |group: &str, name: &str, k: &str| -> Option<String> {
        doc.as_ref()?.get(group)?.get(name)?.get(k)?.as_str().map(str::to_string)
    };
    let title = match parts.as_slice() {
        ["attackers", name, "rate"] => match field("attackers", name, "kind").as_deref() {
            Some("half-open") => format!("half-open flood rate, attackers.{name} (SYN/s)"),
            Some("connect-flood") => format!("connect flood rate, attackers.{name} (connections/s)"),
            _ => format!("spoofed SYN flood rate, attackers.{name} (SYN/s)"),
        },
        ["clients", name, "rate"] => format!("new connections per second, clients.{name} (conn/s)"),
        ["clients", name, "concurrency"] => format!("concurrent users, clients.{name}"),
        ["clients", name, "hold"] => format!("time a connection is held, clients.{name}"),
        ["clients", name, "hosts"] => format!("client hosts, clients.{name}"),
        ["network", "loss"] => "segment loss probability (per segment and direction)".to_string(),
        ["network", "delay"] => "one-way delay".to_string(),
        ["server", sysctl] => format!("server {sysctl}"),
        ["clients", name, sysctl] => format!("clients.{name} {sysctl}"),
        _ => key.to_string(),
    };
    if log { format!("{title}, log scale") } else { title }
}

/// Each series' look: its position among the series axis's values, so a
/// strategy keeps its colour and marker in every chart of the study.
fn look_of(results: &Results, layout: &Layout, name: &str) -> usize {
    layout.series.and_then(|s| results.manifest.axes[s].1.iter().position(|v| v == name)).unwrap_or(0)
}

/// "(mean and 95 % CI over 3 replicates)", or that there is one run.
fn spread_note(results: &Results) -> String {
    match results.manifest.replicates {
        1 => "one run per point".to_string(),
        n => format!("mean and 95 % CI over {n} replicates"),
    }
}

/// A headline chart's spread note: with one replicate, the success ratio's
/// bars are batch means within each run (`metric_estimate`).
fn headline_note(note: &str, results: &Results, metric: &str) -> String {
    if results.manifest.replicates == 1 && metric == "legit_success_ratio" {
        format!("{note}, 95 % CI from batch means")
    } else {
        note.to_string()
    }
}

/// Every chart of a study into `dir/charts/`.
pub fn draw_all(results: &Results, dir: &Path) -> Result<Vec<Chart>> {
    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir).with_context(|| format!("creating {}", charts_dir.display()))?;
    let mut stems = Stems::default();
    let layout = layout(results);
    let groups = facets(results, &layout);
    let mut charts = Vec::new();
    let note = spread_note(results);
    // (a) Each headline metric against the swept value.
    if let Some((x_title, x_axis)) = x_axis(&layout, results) {
        for (metric, title, unit) in HEADLINE {
            let any =
                results.runs.iter().any(|r| r.metric(metric).is_some_and(|v| v.is_finite() && v != 0.0));
            if !any {
                continue;
            }
            for f in &groups {
                let curves: Vec<Curve> = f
                    .lines
                    .iter()
                    .map(|l| Curve {
                        name: l.name.clone(),
                        look: look_of(results, &layout, &l.name),
                        points: l
                            .points
                            .iter()
                            .filter_map(|(x, runs)| {
                                let e = metric_estimate(runs, metric);
                                Some((x.parse().ok()?, e.mean, e.mean - e.half_width, e.mean + e.half_width))
                            })
                            .collect(),
                    })
                    .collect();
                let full_title =
                    if f.label.is_empty() { title.to_string() } else { format!("{title} ({})", f.label) };
                let stem = stems.claim(&format!("charts/{metric}"), &f.label);
                let spec = ChartSpec {
                    title: &full_title,
                    x_label: &x_title,
                    y_label: &format!("{unit} ({})", headline_note(&note, results, metric)),
                    x: x_axis.clone(),
                    spread: Spread::Bars,
                };
                render(&dir.join(&stem), &spec, &curves)?;
                charts.push(Chart { title: full_title, stem });
            }
        }
    }
    // (b) Time series and (c) the connect-time CDF, at the largest x value.
    for f in &groups {
        fn at<'a>(l: &super::summary::Line<'a>) -> Option<(String, Vec<&'a super::results::RunRecord>)> {
            l.points
                .iter()
                .max_by(|a, b| {
                    a.0.parse::<f64>().unwrap_or(0.0).total_cmp(&b.0.parse::<f64>().unwrap_or(0.0))
                })
                .map(|(x, runs)| (x.clone(), runs.clone()))
        }
        let x_note = |x: &str| match layout.x {
            Some(i) => format!("{}={x}", results.manifest.axes[i].0),
            None => String::new(),
        };
        let facet_note = |x: &str| {
            let parts: Vec<String> =
                [f.label.clone(), x_note(x)].into_iter().filter(|s| !s.is_empty()).collect();
            if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
        };
        for (column, title) in SERIES {
            let mut curves = Vec::new();
            let mut x_shown = String::new();
            for l in &f.lines {
                let Some((x, runs)) = at(l) else { continue };
                x_shown = x.clone();
                let Some(ci) = runs.first().and_then(|r| r.series_columns.iter().position(|c| c == column))
                else {
                    continue;
                };
                let n = runs.iter().map(|r| r.series.len()).min().unwrap_or(0);
                let points = (0..n)
                    .map(|i| {
                        let t = runs[0].series[i].0;
                        let e = estimate(runs.iter().map(|r| r.series[i].1[ci]));
                        (t, e.mean, e.mean - e.half_width, e.mean + e.half_width)
                    })
                    .collect();
                curves.push(Curve { name: l.name.clone(), look: look_of(results, &layout, &l.name), points });
            }
            let nonzero = curves.iter().any(|c| c.points.iter().any(|p| p.1 != 0.0));
            if !nonzero {
                continue;
            }
            let full_title = format!("{title}{}", facet_note(&x_shown));
            let stem = stems.claim(&format!("charts/series-{column}"), &f.label);
            let spec = ChartSpec {
                title: &full_title,
                x_label: "simulated time (s), the whole run including the warm-up",
                y_label: &format!("count at the end of each bin ({note})"),
                x: XAxis::Linear,
                spread: Spread::Band,
            };
            render(&dir.join(&stem), &spec, &curves)?;
            charts.push(Chart { title: full_title, stem });
        }
        // The CDF over every connect() attempt: a curve tops out at its
        // success ratio, and the legend gives the share never connected.
        let mut curves = Vec::new();
        let mut x_shown = String::new();
        for l in &f.lines {
            let Some((x, runs)) = at(l) else { continue };
            x_shown = x.clone();
            let mut hist: Vec<(f64, u64)> = Vec::new();
            for r in &runs {
                for &(le, c) in &r.connect_hist {
                    match hist.iter_mut().find(|(x, _)| *x == le) {
                        Some(h) => h.1 += c,
                        None => hist.push((le, c)),
                    }
                }
            }
            hist.sort_by(|a, b| a.0.total_cmp(&b.0));
            let established: u64 = hist.iter().map(|h| h.1).sum();
            let attempts: f64 = runs.iter().filter_map(|r| r.metric("legit_attempts")).sum();
            let attempts = attempts.max(established as f64);
            if attempts == 0.0 {
                continue;
            }
            // A staircase: the share stays flat until the next bucket's bound.
            let mut seen = 0;
            let mut points = Vec::with_capacity(2 * hist.len());
            for &(le, c) in &hist {
                let before = seen as f64 / attempts;
                seen += c;
                let after = seen as f64 / attempts;
                points.push((le, before, before, before));
                points.push((le, after, after, after));
            }
            let never = 100.0 * (1.0 - established as f64 / attempts);
            curves.push(Curve {
                name: format!("{} (never: {}%)", l.name, super::summary::significant(never, 2)),
                look: look_of(results, &layout, &l.name),
                points,
            });
        }
        if !curves.is_empty() {
            let full_title = format!("Connect time CDF{}", facet_note(&x_shown));
            let stem = stems.claim("charts/connect-cdf", &f.label);
            let spec = ChartSpec {
                title: &full_title,
                x_label: "connect() to ESTABLISHED (ms, log scale)",
                y_label: "share of all connect() calls established by then",
                x: XAxis::Log,
                spread: Spread::None,
            };
            render(&dir.join(&stem), &spec, &curves)?;
            charts.push(Chart { title: full_title, stem });
        }
    }
    Ok(charts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_unique() {
        assert_eq!(slug("network.loss=0.05"), "network.loss=0.05");
        assert_eq!(slug("a/b c, \"d\""), "a-b-c-d");
        assert_eq!(slug("..hidden"), "hidden");
        let mut stems = Stems::default();
        assert_eq!(stems.claim("charts/x", "a/b"), "charts/x-a-b");
        assert_eq!(stems.claim("charts/x", "a b"), "charts/x-a-b-2");
        assert_eq!(stems.claim("charts/x", ""), "charts/x");
    }

    #[test]
    fn a_series_keeps_its_look_and_no_look_is_yellow() {
        let looks: Vec<Look> = (0..12).map(look).collect();
        for l in &looks {
            let RGBColor(r, g, b) = l.color;
            assert!(!(r > 0xE0 && g > 0xC0 && b < 0x60), "yellow on white: {:?}", l.color);
        }
        // Neighbours differ in colour and marker; only the first is solid.
        for w in looks.windows(2) {
            assert!(w[0].color != w[1].color && w[0].marker != w[1].marker);
        }
        assert!(looks[0].dash.is_none() && looks[1..].iter().all(|l| l.dash.is_some()));
    }

    #[test]
    fn axis_titles_say_what_was_swept_with_units() {
        let exp = "[attackers.flood]\nkind = \"spoofed-syn\"\nrate = 1\n[attackers.c]\nkind = \"connect-flood\"\nrate = 1\n";
        assert_eq!(
            axis_title("attackers.flood.rate", exp, true),
            "spoofed SYN flood rate, attackers.flood (SYN/s), log scale"
        );
        assert_eq!(
            axis_title("attackers.c.rate", exp, false),
            "connect flood rate, attackers.c (connections/s)"
        );
        assert_eq!(
            axis_title("network.loss", "", false),
            "segment loss probability (per segment and direction)"
        );
        assert_eq!(short_number(100_000.0), "100k");
        assert!(wants_log(&[0.0, 300.0, 1000.0, 3000.0, 10_000.0]), "geometric over 1.5 decades");
        assert!(wants_log(&[1.0, 500.0]), "two decades");
        assert!(!wants_log(&[0.1, 0.2, 0.3, 0.5, 1.0]), "one decade, not geometric");
        assert!(!wants_log(&[0.0, 1.0, 2.0]), "linear");
        assert_eq!(short_number(1500.0), "1.5k");
        assert_eq!(short_number(0.05), "0.05");
    }
}
