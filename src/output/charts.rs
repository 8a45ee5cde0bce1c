//! Charts with plotters, in SVG and PNG from the same drawing code: a
//! metric against the swept value (one line per strategy, a 95 % band),
//! time series over simulated time, connect-time CDFs. PNG text is drawn
//! with the bundled DejaVu font, so no system font is needed.

use super::results::Results;
use super::summary::{Layout, facets, layout, metric_estimate};
use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Metrics charted against the swept value, with their titles and units.
pub const HEADLINE: [(&str, &str, &str); 12] = [
    ("legit_success_ratio", "Legitimate handshakes completed", "share of connect() calls established"),
    ("connect_p50_ms", "Median connect time", "ms"),
    ("connect_p99_ms", "99th-percentile connect time", "ms"),
    ("TcpExtListenDrops", "Listener drops (TcpExtListenDrops)", "segments"),
    ("syn_recv_mean", "Half-open requests (SYN_RECV), mean", "requests"),
    ("ingress_drops", "Ingress drops (netdev_max_backlog full)", "segments"),
    ("TcpExtSyncookiesSent", "SYN cookies sent", "SYN-ACKs"),
    ("failed_no_port", "connect() failed: no free port (EADDRNOTAVAIL)", "connections"),
    ("time_wait_peak_client", "TIME-WAIT entries on the clients, peak", "entries"),
    ("time_wait_peak_server", "TIME-WAIT entries on the server, peak", "entries"),
    ("time_wait_memory_peak_server_bytes", "Server memory in TIME-WAIT entries, peak", "bytes"),
    ("TcpExtTCPTimeWaitOverflow", "TIME-WAIT bucket overflows (server)", "connections"),
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

/// A line to draw: name and points (x, mean, low, high).
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64, f64, f64)>,
}

pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_x: bool,
    pub band: bool,
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, spec: &ChartSpec, curves: &[Curve]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing a chart: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let tx = |x: f64| if spec.log_x { x.max(1e-12).log10() } else { x };
    let pts = || curves.iter().flat_map(|c| c.points.iter()).filter(|p| p.1.is_finite());
    let (mut x0, mut x1) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(tx(p.0)), b.max(tx(p.0))));
    let (mut y0, mut y1) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| {
        let (lo, hi) = if spec.band && p.2.is_finite() { (p.2, p.3) } else { (p.1, p.1) };
        (a.min(lo), b.max(hi))
    });
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if x0 == x1 {
        (x0, x1) = (x0 - 0.5, x1 + 0.5);
    }
    if y0 > y1 {
        (y0, y1) = (0.0, 1.0);
    }
    y0 = y0.min(0.0);
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(spec.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1 + pad)
        .map_err(err)?;
    let log_x = spec.log_x;
    let x_fmt = move |v: &f64| {
        let x = if log_x { 10f64.powf(*v) } else { *v };
        if log_x && x > 0.0 {
            // Two significant digits: 3.2, 32, 320, 3200.
            let magnitude = 10f64.powi(x.log10().floor() as i32 - 1);
            let r = (x / magnitude).round() * magnitude;
            return if r >= 1.0 { format!("{}", r.round()) } else { format!("{r:.2}") };
        }
        if x.abs() >= 1e4 || (x != 0.0 && x.abs() < 1e-2) {
            format!("{x:.1e}")
        } else {
            format!("{}", (x * 1000.0).round() / 1000.0)
        }
    };
    let y_fmt = |v: &f64| {
        if v.abs() >= 1e5 { format!("{v:.2e}") } else { format!("{}", (v * 1000.0).round() / 1000.0) }
    };
    chart
        .configure_mesh()
        .x_desc(spec.x_label)
        .y_desc(spec.y_label)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (i, c) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let finite: Vec<_> = c.points.iter().filter(|p| p.1.is_finite()).collect();
        if spec.band && finite.len() > 1 {
            let mut poly: Vec<(f64, f64)> = finite.iter().map(|p| (tx(p.0), p.3)).collect();
            poly.extend(finite.iter().rev().map(|p| (tx(p.0), p.2)));
            chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.18)))).map_err(err)?;
        }
        let line: Vec<(f64, f64)> = finite.iter().map(|p| (tx(p.0), p.1)).collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(c.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3)));
        if line.len() <= 40 {
            chart.draw_series(line.iter().map(|p| Circle::new(*p, 3, color.filled()))).map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
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

fn x_values(layout: &Layout, results: &Results) -> Option<(String, bool)> {
    let x = layout.x?;
    let (key, values) = &results.manifest.axes[x];
    let v: Vec<f64> = values.iter().filter_map(|s| s.parse().ok()).collect();
    let min = v.iter().cloned().fold(f64::MAX, f64::min);
    let max = v.iter().cloned().fold(f64::MIN, f64::max);
    Some((key.clone(), min > 0.0 && max / min >= 100.0))
}

/// Every chart of a study into `dir/charts/`.
pub fn draw_all(results: &Results, dir: &Path) -> Result<Vec<Chart>> {
    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir).with_context(|| format!("creating {}", charts_dir.display()))?;
    let mut stems = Stems::default();
    let layout = layout(results);
    let groups = facets(results, &layout);
    let mut charts = Vec::new();
    let series_name = layout.series.map(|s| results.manifest.axes[s].0.clone());
    // (a) Each headline metric against the swept value.
    if let Some((x_key, log_x)) = x_values(&layout, results) {
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
                let by = series_name.as_deref().map(|s| format!(", by {s}")).unwrap_or_default();
                let spec = ChartSpec {
                    title: &full_title,
                    x_label: &x_key,
                    y_label: &format!("{unit} (mean, 95% CI{by})"),
                    log_x,
                    band: true,
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
                        let mean = runs.iter().map(|r| r.series[i].1[ci]).sum::<f64>() / runs.len() as f64;
                        (t, mean, mean, mean)
                    })
                    .collect();
                curves.push(Curve { name: l.name.clone(), points });
            }
            let nonzero = curves.iter().any(|c| c.points.iter().any(|p| p.1 != 0.0));
            if !nonzero {
                continue;
            }
            let full_title = format!("{title}{}", facet_note(&x_shown));
            let stem = stems.claim(&format!("charts/series-{column}"), &f.label);
            let spec = ChartSpec {
                title: &full_title,
                x_label: "simulated time (s)",
                y_label: "count (mean over replicates)",
                log_x: false,
                band: false,
            };
            render(&dir.join(&stem), &spec, &curves)?;
            charts.push(Chart { title: full_title, stem });
        }
        // The CDF.
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
            let total: u64 = hist.iter().map(|h| h.1).sum();
            if total == 0 {
                continue;
            }
            // A staircase: the share stays flat until the next bucket's bound.
            let mut seen = 0;
            let mut points = Vec::with_capacity(2 * hist.len());
            for &(le, c) in &hist {
                let before = seen as f64 / total as f64;
                seen += c;
                let after = seen as f64 / total as f64;
                points.push((le, before, before, before));
                points.push((le, after, after, after));
            }
            curves.push(Curve { name: l.name.clone(), points });
        }
        if !curves.is_empty() {
            let full_title = format!("Connect time CDF{}", facet_note(&x_shown));
            let stem = stems.claim("charts/connect-cdf", &f.label);
            let spec = ChartSpec {
                title: &full_title,
                x_label: "connect() to ESTABLISHED (ms, log scale)",
                y_label: "share of established connections",
                log_x: true,
                band: false,
            };
            render(&dir.join(&stem), &spec, &curves)?;
            charts.push(Chart { title: full_title, stem });
        }
    }
    Ok(charts)
}
