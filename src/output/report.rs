//! The report: the study, a table of strategies per point with means and
//! 95 % confidence intervals, the best strategy per point, the charts.
//! Written as report.md and as a self-contained report.html (the SVG
//! charts inlined).

use super::charts::Chart;
use super::results::{Results, fmt_num};
use super::summary::{Estimate, facets, layout, metric_estimate};
use anyhow::Result;
use std::fmt::Write;
use std::path::Path;

/// Columns of the per-point tables: metric, header, shown when all zero.
const COLUMNS: [(&str, &str, bool); 11] = [
    ("legit_success_ratio", "success ratio", true),
    ("connect_p50_ms", "connect p50 (ms)", true),
    ("connect_p99_ms", "connect p99 (ms)", true),
    ("failed_timeout", "failed: timeout", false),
    ("failed_no_port", "failed: no port", false),
    ("TcpExtListenDrops", "ListenDrops", false),
    ("syn_recv_mean", "SYN_RECV mean", false),
    ("ingress_drops", "ingress drops", false),
    ("time_wait_peak_client", "TIME-WAIT peak (clients)", false),
    ("time_wait_peak_server", "TIME-WAIT peak (server)", false),
    ("time_wait_memory_peak_server_bytes", "TIME-WAIT memory peak (server, bytes)", false),
];

enum Block {
    Heading(usize, String),
    Para(String),
    Table(Vec<String>, Vec<Vec<String>>),
    Chart(Chart),
}

fn cell(e: &Estimate) -> String {
    if e.n == 0 || !e.mean.is_finite() {
        return "–".into();
    }
    let round = |v: f64| {
        let digits = if v.abs() >= 100.0 {
            1
        } else if v.abs() >= 1.0 {
            3
        } else {
            4
        };
        let p = 10f64.powi(digits);
        fmt_num((v * p).round() / p)
    };
    if e.n > 1 { format!("{} ± {}", round(e.mean), round(e.half_width)) } else { round(e.mean) }
}

/// The ranking rule: higher success ratio first, then lower p99 connect time.
fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    let (sa, sb) = (if a.0.is_finite() { a.0 } else { -1.0 }, if b.0.is_finite() { b.0 } else { -1.0 });
    if (sa - sb).abs() > 1e-9 {
        return sa > sb;
    }
    let (pa, pb) =
        (if a.1.is_finite() { a.1 } else { f64::MAX }, if b.1.is_finite() { b.1 } else { f64::MAX });
    pa < pb
}

fn build(results: &Results, charts: &[Chart]) -> Vec<Block> {
    let m = &results.manifest;
    let mut doc = vec![Block::Heading(1, format!("synsim study: {}", m.name))];
    if !m.description.is_empty() {
        doc.push(Block::Para(m.description.clone()));
    }
    let shard = m.shard.as_ref().map(|s| format!(" This folder holds shard {s} only.")).unwrap_or_default();
    doc.push(Block::Para(format!(
        "{} runs ({} points × {} replicates), seed {}, synsim {}. Reproduce with `synsim run {}`.{shard} \
         Each cell is the mean over replicates ± the half-width of its 95 % confidence interval (Student t); \
         replicate r of every point uses the same random streams, so strategies meet the same arrivals and losses.",
        m.runs_here,
        m.total_runs / m.replicates.max(1) as u64,
        m.replicates,
        m.seed,
        m.synsim_version,
        m.origin
    )));
    if !m.axes.is_empty() {
        doc.push(Block::Heading(2, "Sweep".into()));
        let rows = m.axes.iter().map(|(k, v)| vec![format!("`{k}`"), v.join(", ")]).collect();
        doc.push(Block::Table(vec!["axis".into(), "values".into()], rows));
    }
    let lay = layout(results);
    let groups = facets(results, &lay);
    let shown: Vec<(&str, &str)> = COLUMNS
        .iter()
        .filter(|(metric, _, always)| {
            *always
                || results.runs.iter().any(|r| r.metric(metric).is_some_and(|v| v.is_finite() && v != 0.0))
        })
        .map(|(m, h, _)| (*m, *h))
        .collect();
    let series_key = lay.series.map(|s| m.axes[s].0.clone()).unwrap_or_else(|| "run group".into());
    let x_key = lay.x.map(|x| m.axes[x].0.clone());
    let mut best_rows = Vec::new();
    doc.push(Block::Heading(2, "Results per point".into()));
    doc.push(Block::Para(format!(
        "Ranked by legitimate success ratio, then by lower p99 connect time; the best {series_key} at each point is in bold."
    )));
    for f in &groups {
        // x values in axis order.
        let xs: Vec<String> = match lay.x {
            Some(x) => m.axes[x].1.clone(),
            None => vec![String::new()],
        };
        for x in &xs {
            let mut rows: Vec<(String, Vec<Estimate>)> = Vec::new();
            for l in &f.lines {
                if let Some((_, runs)) = l.points.iter().find(|(xv, _)| xv == x) {
                    rows.push((
                        l.name.clone(),
                        shown.iter().map(|(metric, _)| metric_estimate(runs, metric)).collect(),
                    ));
                }
            }
            if rows.is_empty() {
                continue;
            }
            let key = |r: &(String, Vec<Estimate>)| (r.1[0].mean, r.1[2].mean);
            let mut order: Vec<usize> = (0..rows.len()).collect();
            order.sort_by(|&a, &b| {
                if better(key(&rows[a]), key(&rows[b])) {
                    std::cmp::Ordering::Less
                } else if better(key(&rows[b]), key(&rows[a])) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            let mut title: Vec<String> = Vec::new();
            if !f.label.is_empty() {
                title.push(f.label.clone());
            }
            if let Some(k) = &x_key {
                title.push(format!("{k} = {x}"));
            }
            let title = if title.is_empty() { "All runs".to_string() } else { title.join(", ") };
            doc.push(Block::Heading(3, title.clone()));
            // Rows no better than each other share a rank; all of the
            // first rank are the best.
            let mut ranks = vec![1usize; order.len()];
            for k in 1..order.len() {
                let tied = !better(key(&rows[order[k - 1]]), key(&rows[order[k]]));
                ranks[k] = if tied { ranks[k - 1] } else { k + 1 };
            }
            let mut header = vec!["rank".to_string(), series_key.clone()];
            header.extend(shown.iter().map(|(_, h)| h.to_string()));
            let table_rows = order
                .iter()
                .zip(&ranks)
                .map(|(&i, &rank)| {
                    let name = if rank == 1 { format!("**{}**", rows[i].0) } else { rows[i].0.clone() };
                    let mut row = vec![rank.to_string(), name];
                    row.extend(rows[i].1.iter().map(cell));
                    row
                })
                .collect();
            doc.push(Block::Table(header, table_rows));
            let best = &rows[order[0]];
            let winners: Vec<&str> = order
                .iter()
                .zip(&ranks)
                .filter(|(_, r)| **r == 1)
                .map(|(&i, _)| rows[i].0.as_str())
                .collect();
            let winner = if winners.len() == rows.len() && rows.len() > 1 {
                "all tie".to_string()
            } else {
                format!("**{}**", winners.join(" = "))
            };
            best_rows.push(vec![title, winner, cell(&best.1[0]), cell(&best.1[2])]);
        }
    }
    if best_rows.len() > 1 {
        doc.push(Block::Heading(2, format!("Best {series_key} per point")));
        doc.push(Block::Table(
            vec![
                "point".into(),
                format!("best {series_key}"),
                "success ratio".into(),
                "connect p99 (ms)".into(),
            ],
            best_rows,
        ));
    }
    if !charts.is_empty() {
        doc.push(Block::Heading(2, "Charts".into()));
        for c in charts {
            doc.push(Block::Chart(c.clone()));
        }
    }
    doc
}

fn markdown(doc: &[Block]) -> String {
    let mut s = String::new();
    for b in doc {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(s, "{} {t}\n", "#".repeat(*level));
            }
            Block::Para(t) => {
                let _ = writeln!(s, "{t}\n");
            }
            Block::Table(header, rows) => {
                let _ = writeln!(s, "| {} |", header.join(" | "));
                let _ = writeln!(s, "|{}|", header.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
                for r in rows {
                    let _ = writeln!(s, "| {} |", r.join(" | "));
                }
                s.push('\n');
            }
            Block::Chart(c) => {
                let _ = writeln!(s, "![{}]({}.svg)\n", c.title, c.stem);
            }
        }
    }
    s
}

fn html_escape(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Markdown's inline marks used here: **bold** and `code`.
fn inline(t: &str) -> String {
    let mut out = String::new();
    let (mut bold, mut code) = (false, false);
    let mut rest = html_escape(t);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**") {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = r.to_string();
        } else if let Some(r) = rest.strip_prefix('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = r.to_string();
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = rest[c.len_utf8()..].to_string();
        }
    }
    out
}

fn html(doc: &[Block], dir: &Path, title: &str) -> Result<String> {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
         body{{font-family:DejaVu Sans,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\
         table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
         th{{background:#f2f2f2}}td:nth-child(2){{text-align:left}}figure{{margin:1em 0}}svg{{max-width:100%;height:auto}}\
         code{{background:#f4f4f4;padding:1px 4px}}</style></head><body>\n",
        html_escape(title)
    );
    for b in doc {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(s, "<h{level}>{}</h{level}>", inline(t));
            }
            Block::Para(t) => {
                let _ = writeln!(s, "<p>{}</p>", inline(t));
            }
            Block::Table(header, rows) => {
                s.push_str("<table><tr>");
                for h in header {
                    let _ = write!(s, "<th>{}</th>", inline(h));
                }
                s.push_str("</tr>\n");
                for r in rows {
                    s.push_str("<tr>");
                    for c in r {
                        let _ = write!(s, "<td>{}</td>", inline(c));
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</table>\n");
            }
            Block::Chart(c) => {
                let svg = std::fs::read_to_string(dir.join(format!("{}.svg", c.stem)))?;
                let svg = svg.trim_start_matches(|ch| ch != '<');
                let svg = if svg.starts_with("<?xml") {
                    svg.split_once("?>").map(|x| x.1).unwrap_or(svg)
                } else {
                    svg
                };
                let _ =
                    writeln!(s, "<figure>{svg}<figcaption>{}</figcaption></figure>", html_escape(&c.title));
            }
        }
    }
    s.push_str("</body></html>\n");
    Ok(s)
}

/// Writes report.md and report.html into `dir`.
pub fn write(results: &Results, charts: &[Chart], dir: &Path) -> Result<()> {
    let doc = build(results, charts);
    std::fs::write(dir.join("report.md"), markdown(&doc))?;
    std::fs::write(dir.join("report.html"), html(&doc, dir, &format!("synsim: {}", results.manifest.name))?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_success_then_p99() {
        assert!(better((0.9, 500.0), (0.8, 20.0)));
        assert!(better((0.9, 20.0), (0.9, 30.0)));
        assert!(!better((f64::NAN, 1.0), (0.1, 1.0)));
    }

    #[test]
    fn inline_marks_become_html() {
        assert_eq!(inline("**a** `b` <c>"), "<strong>a</strong> <code>b</code> &lt;c&gt;");
    }
}
