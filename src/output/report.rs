//! The report: the study, a table of strategies per point with means and
//! 95 % confidence intervals, the best strategy per point, the charts.
//! Written as report.md and as a self-contained report.html (the SVG
//! charts inlined).

use super::charts::Chart;
use super::results::Results;
use super::summary::{
    Estimate, Separation, facets, format_estimate, layout, metric_estimate, replicates_to_separate,
    separation,
};
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

/// The ranking rule: higher success ratio first, then lower p99 connect
/// time, each by its mean (NaN last).
fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    let (sa, sb) = (if a.0.is_finite() { a.0 } else { -1.0 }, if b.0.is_finite() { b.0 } else { -1.0 });
    if (sa - sb).abs() > 1e-9 {
        return sa > sb;
    }
    let (pa, pb) =
        (if a.1.is_finite() { a.1 } else { f64::MAX }, if b.1.is_finite() { b.1 } else { f64::MAX });
    pa < pb
}

/// A row of a point's table: its name, success and p99 estimates.
#[derive(Copy, Clone)]
struct Ranked<'a> {
    name: &'a str,
    success: &'a Estimate,
    p99: &'a Estimate,
}

/// Whether `b` is indistinguishable from `a` at 95 %: on success ratio,
/// and where that cannot separate them, on p99. With one replicate
/// nothing is tested and only equal means tie.
fn tied(a: &Ranked, b: &Ranked) -> bool {
    let means_equal =
        |x: &Estimate, y: &Estimate| x.mean == y.mean || (!x.mean.is_finite() && !y.mean.is_finite());
    match separation(a.success, b.success) {
        Separation::Apart => false,
        Separation::Untested => means_equal(a.success, b.success) && means_equal(a.p99, b.p99),
        Separation::Overlap => separation(a.p99, b.p99) != Separation::Apart,
    }
}

/// Ranks in the given order (best first by means): each rank is a leader
/// and every later row indistinguishable from it.
fn ranks(rows: &[Ranked]) -> Vec<usize> {
    let mut rank = vec![0usize; rows.len()];
    let mut next = 1;
    for lead in 0..rows.len() {
        if rank[lead] != 0 {
            continue;
        }
        rank[lead] = next;
        for k in lead + 1..rows.len() {
            if rank[k] == 0 && tied(&rows[lead], &rows[k]) {
                rank[k] = next;
            }
        }
        next += 1;
    }
    rank
}

/// For a first place shared by several rows: why, and what would separate
/// the first two.
fn tie_note(rows: &[Ranked]) -> String {
    let names: Vec<String> = rows.iter().map(|r| format!("**{}**", r.name)).collect();
    let (a, b) = (&rows[0], &rows[1]);
    let metric =
        if separation(a.success, b.success) == Separation::Overlap && a.success.mean != b.success.mean {
            ("success ratio", a.success, b.success)
        } else {
            ("p99 connect time", a.p99, b.p99)
        };
    let more = match replicates_to_separate(metric.1, metric.2) {
        Some(n) => format!(
            "; about {n} replicates would separate {} from {} on {} if the difference held",
            a.name, b.name, metric.0
        ),
        None => format!("; {} and {} have the same {}", a.name, b.name, metric.0),
    };
    format!("{} are indistinguishable at 95 % (their intervals overlap){more}.", join_names(&names))
}

fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// The steady-state section: per point, the warm-up, the transient MSER-5
/// finds in the runs' series and the model's slowest clocks.
struct SteadyState {
    points: usize,
    flagged: usize,
    blocks: Vec<Block>,
}

/// At most this many points are listed (the rest are counted).
const STEADY_ROWS: usize = 200;

fn steady_state(results: &Results) -> SteadyState {
    use super::steady::detected_transient;
    let mut by_point: std::collections::BTreeMap<u64, Vec<&super::results::RunRecord>> = Default::default();
    for r in &results.runs {
        by_point.entry(r.point).or_default().push(r);
    }
    let secs = |v: f64| format!("{} s", super::summary::significant(v, 3));
    let mut rows = Vec::new();
    let mut flagged = 0;
    for runs in by_point.values() {
        let first = runs[0];
        let metric = |name: &str| first.metric(name).filter(|v| v.is_finite());
        let Some((warmup, sim)) = super::steady::measured_window(first) else { continue };
        // The median replicate's transient; a replicate that never settles counts as the run's length.
        let mut found: Vec<f64> =
            runs.iter().map(|r| detected_transient(r).unwrap_or(f64::INFINITY)).collect();
        found.sort_by(f64::total_cmp);
        let detected = found[found.len() / 2];
        let queue = metric("settling_syn_queue_s").filter(|v| *v > 0.0);
        let tw = metric("settling_time_wait_s").filter(|v| *v > 0.0);
        let drift = metric("settling_wheel_drift_s").filter(|v| *v > 0.0);
        let proven = metric("settling_proven_peers_s").filter(|v| *v > 0.0);
        let mut verdict = Vec::new();
        if detected.is_infinite() {
            verdict.push("a series never settles within the run".to_string());
        } else if detected > warmup {
            verdict.push(format!("the runs settle only after {}", secs(detected)));
        }
        if let Some(q) = queue.filter(|q| *q > warmup) {
            verdict.push(if q >= sim {
                format!("the SYN queue cannot settle within the run ({} needed)", secs(q))
            } else {
                format!("the SYN queue settles only after {}", secs(q))
            });
        }
        if let Some(d) = drift.filter(|d| *d > warmup) {
            verdict.push(format!(
                "short-lived requests on the timer wheel batch on its grid until {} or later (measured)",
                secs(d)
            ));
        }
        if let Some(p) = proven.filter(|p| *p > warmup) {
            verdict.push(format!(
                "the server's TCP metrics cache fills with proven peers for {} at least (longer when few \
                 connect)",
                secs(p)
            ));
        }
        let tw_note = match tw {
            Some(t) if t > warmup => format!("still climbing (needs {})", secs(t)),
            Some(_) => "settled".into(),
            None => "–".into(),
        };
        if !verdict.is_empty() {
            flagged += 1;
        }
        if rows.len() < STEADY_ROWS {
            let name = first.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
            rows.push(vec![
                if name.is_empty() { "all runs".into() } else { name },
                secs(warmup),
                if detected.is_infinite() { "none found".into() } else { secs(detected) },
                match (queue, drift) {
                    (Some(q), Some(d)) => format!("{}; timer-wheel drift {}", secs(q), secs(d)),
                    (q, _) => q.map(secs).unwrap_or_else(|| "–".into()),
                },
                tw_note,
                if verdict.is_empty() {
                    "steady".into()
                } else {
                    format!("**warm-up too short**: {}", verdict.join("; "))
                },
            ]);
        }
    }
    let points = by_point.len();
    let mut blocks = vec![
        Block::Heading(2, "Steady state".into()),
        Block::Para(
            "A point is in steady state when its warm-up (the time before measuring starts) covers both the \
             transient its runs show and the model's slowest clock. *Detected* is the transient MSER-5 finds \
             in the time series (batch means of 5 bins; median over replicates); a series that swings with \
             the SYN queue's waves, which MSER-5 takes for a series that never settles, counts as settled \
             when its means over whole waves (one request lifetime each) agree within 5 %. *SYN queue* is when a SYN \
             queue an attack fills can first be steady: the attack's start plus four request lifetimes \
             ((2^(tcp_synack_retries+1) - 1) s each, a little more on the timer wheel): the requests of \
             the first second expire together, and the waves of free slots they leave take that long to \
             reach their lasting size; a short run cannot show it in its series. With short-lived requests \
             (fewer than four SYN-ACK retries) on the timer wheel the success ratio drifts longer still: \
             their timers expire in batches on the wheel's coarse slots (32 ms at HZ=250), the flood \
             refills each batch's slots at once, and admissions gather after the slots' ticks over hundreds \
             of lifetimes (with one retry and a clock per host: about 1900 s at 1000 SYN/s, 200 s at 3000, \
             700 s at 10k; longer with two retries, and far longer with every host on one clock, where the \
             real kernel drifts too); with a clock per host `warmup = \"auto\"` waits the longest of these, \
             1900 s, for every such point (the *SYN queue* column names it), and with every host on one \
             clock, where no end was measured, such points are flagged. With cookies off, \
             peers in the server's TCP metrics cache pass the SYN queue's last quarter, and the cache \
             fills from empty as connections end: where it can hold 1 % or more of a population's hosts, \
             the success ratio climbs until it is full (measured with no defense at 1000 SYN/s and 1M \
             hosts: 0.21 in the first 400 s, 0.27 after 3000 s); such points are flagged, since how long \
             the cache takes depends on how many connect. TIME-WAIT counts \
             climb for 60 s after the clients start; peaks and means measured before then are a \
             lower bound."
                .into(),
        ),
        Block::Table(
            ["point", "warm-up", "detected", "SYN queue", "TIME-WAIT", "verdict"].map(String::from).to_vec(),
            rows,
        ),
    ];
    if points > STEADY_ROWS {
        blocks.push(Block::Para(format!("The first {STEADY_ROWS} of {points} points are listed.")));
    }
    SteadyState { points, flagged, blocks }
}

/// The command that reproduces the study.
fn reproduce(origin: &str) -> String {
    match origin.strip_suffix(" (embedded)") {
        Some(file) => format!("`synsim run` (the default study, {file} embedded in the binary)"),
        None => format!("`synsim run {origin}`"),
    }
}

fn build(results: &Results, charts: &[Chart]) -> Vec<Block> {
    let m = &results.manifest;
    let mut doc = vec![Block::Heading(1, format!("synsim study: {}", m.name))];
    if !m.description.is_empty() {
        doc.push(Block::Para(m.description.clone()));
    }
    let shard = m.shard.as_ref().map(|s| format!(" This folder holds shard {s} only.")).unwrap_or_default();
    let cells = if m.replicates > 1 {
        "Each cell is the mean over replicates ± the half-width of its 95 % confidence interval (Student t), \
         rounded to two significant digits of the half-width; replicate r of every point uses the same random \
         streams, so strategies meet the same arrivals and losses."
    } else {
        "One replicate: each cell is the value of a single run. The success ratio has a 95 % interval from \
         batch means within the run where the run allows one: its measured window cut into 40, 20 or 10 \
         consecutive batches by attempt start (the most whose success ratios have a lag-1 autocorrelation of \
         at most 0.2), Student t over the batches; a value without ± had no such batches. Other cells have no \
         interval, and ranks compare them as single values (use replicates >= 2, better 5 or more, to rank \
         with confidence)."
    };
    doc.push(Block::Para(format!(
        "{} ({} × {}), seed {}, synsim {}. Reproduce with {}.{shard} {cells}",
        plural(m.runs_here, "run"),
        plural(m.total_runs / m.replicates.max(1) as u64, "point"),
        plural(m.replicates as u64, "replicate"),
        m.seed,
        m.synsim_version,
        reproduce(&m.origin)
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
    // Strategies are ranked; values of any other axis are shown side by side.
    let ranked = series_key == "strategy";
    let x_key = lay.x.map(|x| m.axes[x].0.clone());
    let mut best_rows = Vec::new();
    let steady = steady_state(results);
    if steady.flagged > 0 {
        doc.push(Block::Para(format!(
            "**Warning: {} of {} are not measured in steady state** (the warm-up is shorter than a transient \
             the runs show or the model implies): see *Steady state* below before reading their numbers.",
            steady.flagged,
            plural(steady.points as u64, "point")
        )));
    }
    doc.push(Block::Heading(2, "Results per point".into()));
    doc.push(Block::Para(if ranked {
        "Strategies are ranked by legitimate success ratio, then by p99 connect time. Strategies whose 95 % \
         intervals overlap share a rank (indistinguishable at 95 %); the first rank is in bold."
            .to_string()
    } else {
        format!(
            "Rows are the values of `{series_key}`, shown side by side: only a `strategy` axis is ranked."
        )
    }));
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
            let mut title: Vec<String> = Vec::new();
            if !f.label.is_empty() {
                title.push(f.label.clone());
            }
            if let Some(k) = &x_key {
                title.push(format!("{k} = {x}"));
            }
            let title = if title.is_empty() { "All runs".to_string() } else { title.join(", ") };
            doc.push(Block::Heading(3, title.clone()));
            let mut header = vec![series_key.clone()];
            header.extend(shown.iter().map(|(_, h)| h.to_string()));
            if !ranked {
                let table_rows = rows
                    .iter()
                    .map(|(name, values)| {
                        let mut row = vec![name.clone()];
                        row.extend(values.iter().map(format_estimate));
                        row
                    })
                    .collect();
                doc.push(Block::Table(header, table_rows));
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
            let sorted: Vec<Ranked> = order
                .iter()
                .map(|&i| Ranked { name: &rows[i].0, success: &rows[i].1[0], p99: &rows[i].1[2] })
                .collect();
            let rank = ranks(&sorted);
            // A wide interval can tie with the leader past a row that does
            // not: list by rank, then by mean.
            let mut by_rank: Vec<usize> = (0..order.len()).collect();
            by_rank.sort_by_key(|&k| rank[k]);
            let (order, rank): (Vec<usize>, Vec<usize>) =
                by_rank.iter().map(|&k| (order[k], rank[k])).unzip();
            let sorted: Vec<Ranked> = by_rank.iter().map(|&k| sorted[k]).collect();
            header.insert(0, "rank".into());
            let table_rows = order
                .iter()
                .zip(&rank)
                .map(|(&i, &r)| {
                    let name = if r == 1 { format!("**{}**", rows[i].0) } else { rows[i].0.clone() };
                    let mut row = vec![r.to_string(), name];
                    row.extend(rows[i].1.iter().map(format_estimate));
                    row
                })
                .collect();
            doc.push(Block::Table(header, table_rows));
            let first: Vec<Ranked> =
                sorted.into_iter().zip(&rank).filter(|(_, r)| **r == 1).map(|(x, _)| x).collect();
            let winner = if first.len() == rows.len() && rows.len() > 1 {
                "all tie".to_string()
            } else {
                first.iter().map(|r| format!("**{}**", r.name)).collect::<Vec<_>>().join(" = ")
            };
            if first.len() > 1 {
                doc.push(Block::Para(tie_note(&first)));
            }
            best_rows.push(vec![
                title,
                winner,
                format_estimate(first[0].success),
                format_estimate(first[0].p99),
            ]);
        }
    }
    if best_rows.len() > 1 {
        doc.push(Block::Heading(2, format!("Best {series_key} per point")));
        doc.push(Block::Para(
            "Where several strategies share the first rank they are joined by `=`; the values are the first \
             listed one's."
                .into(),
        ));
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
    doc.extend(steady.blocks);
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

    fn est(mean: f64, half_width: f64, n: usize) -> Estimate {
        Estimate { mean, half_width, n, batches: 0 }
    }

    #[test]
    fn overlapping_strategies_share_a_rank() {
        // The report's own case: three strategies at success 1 ± 0, p99
        // 102.4 ± 2.5, 104.1 ± 3.9 and 140 ± 3: the first two tie.
        let (one, p1, p2, p3) =
            (est(1.0, 0.0, 3), est(102.4, 2.5, 3), est(104.1, 3.9, 3), est(140.0, 3.0, 3));
        let low = est(0.5, 0.05, 3);
        let rows = [
            Ranked { name: "syncookies", success: &one, p99: &p1 },
            Ranked { name: "big-backlog", success: &one, p99: &p2 },
            Ranked { name: "slow", success: &one, p99: &p3 },
            Ranked { name: "none", success: &low, p99: &p1 },
        ];
        assert_eq!(ranks(&rows), [1, 1, 2, 3]);
        let note = tie_note(&rows[..2]);
        assert!(
            note.starts_with("**syncookies** and **big-backlog** are indistinguishable at 95 %"),
            "{note}"
        );
        assert!(note.contains("replicates would separate syncookies from big-backlog on p99"), "{note}");
        // One replicate: ranked by value, only equal values tie.
        let (a, b) = (est(0.9, 0.0, 1), est(0.8, 0.0, 1));
        let single =
            [Ranked { name: "a", success: &a, p99: &p1 }, Ranked { name: "b", success: &b, p99: &p1 }];
        assert_eq!(ranks(&single), [1, 2]);
    }

    #[test]
    fn reproduce_lines_are_commands() {
        assert_eq!(reproduce("experiments/loss.toml"), "`synsim run experiments/loss.toml`");
        assert!(
            reproduce("experiments/defenses.toml (embedded)").starts_with("`synsim run` (the default study")
        );
        assert_eq!(plural(1, "run"), "1 run");
        assert_eq!(plural(2, "run"), "2 runs");
    }

    #[test]
    fn inline_marks_become_html() {
        assert_eq!(inline("**a** `b` <c>"), "<strong>a</strong> <code>b</code> &lt;c&gt;");
    }
}
