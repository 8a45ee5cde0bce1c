//! Replicates summarised: means with 95 % confidence intervals, grouped the
//! way charts and the report lay a study out (an x axis, one line per
//! strategy, a facet per combination of the other axes).

use super::results::{Results, RunRecord};

/// Student's t, two-sided 95 %, for 1..=30 degrees of freedom.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// Mean and the half-width of its 95 % confidence interval (Student t over
/// replicates; 0 with one value). NaN values are left out.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub half_width: f64,
    /// Replicates.
    pub n: usize,
    /// With one replicate: the batches of the run whose means give the
    /// interval (0: no batch-means interval).
    pub batches: usize,
}

pub fn estimate(values: impl IntoIterator<Item = f64>) -> Estimate {
    let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    let n = v.len();
    if n == 0 {
        return Estimate { mean: f64::NAN, half_width: f64::NAN, n, batches: 0 };
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Estimate { mean, half_width: 0.0, n, batches: 0 };
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = T95.get(n - 2).copied().unwrap_or(1.96);
    Estimate { mean, half_width: t * (var / n as f64).sqrt(), n, batches: 0 }
}

/// Batches of a run's measured window, most first: batch means need
/// batches long enough to be nearly independent, and 10 or more for the t
/// interval to mean something (Law, *Simulation Modeling and Analysis*,
/// 9.5.3).
const BATCH_COUNTS: [usize; 3] = [40, 20, 10];
/// Lag-1 autocorrelation of the batch means above which batches are too
/// short to count as independent.
const MAX_LAG1: f64 = 0.2;

/// The success ratio of one run with a 95 % interval from batch means:
/// `bins` holds (attempts started, of those established) per time bin of
/// the measured window. The window is cut into the most batches of
/// [`BATCH_COUNTS`] whose ratios have a lag-1 autocorrelation of at most
/// [`MAX_LAG1`]; the mean is the whole window's ratio. None when no batch
/// count passes (a window too short for the run's correlations) or there
/// are too few bins with attempts.
pub fn batch_means_ratio(bins: &[(f64, f64)]) -> Option<Estimate> {
    let first = bins.iter().position(|b| b.0 > 0.0)?;
    let last = bins.iter().rposition(|b| b.0 > 0.0)?;
    let bins = &bins[first..=last];
    let (attempts, established) = bins.iter().fold((0.0, 0.0), |(a, e), b| (a + b.0, e + b.1));
    let mean = established / attempts;
    for &k in &BATCH_COUNTS {
        let size = bins.len() / k;
        if size == 0 {
            continue;
        }
        // Whole batches, the window's end kept: the leading remainder goes.
        let ratios: Option<Vec<f64>> = bins[bins.len() - k * size..]
            .chunks_exact(size)
            .map(|c| {
                let (a, e) = c.iter().fold((0.0, 0.0), |(a, e), b| (a + b.0, e + b.1));
                (a > 0.0).then(|| e / a)
            })
            .collect();
        let Some(ratios) = ratios else { continue };
        if lag1(&ratios) > MAX_LAG1 {
            continue;
        }
        let e = estimate(ratios);
        return Some(Estimate { mean, half_width: e.half_width, n: 1, batches: k });
    }
    None
}

/// Lag-1 autocorrelation (0 for a constant series).
fn lag1(x: &[f64]) -> f64 {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let var: f64 = x.iter().map(|v| (v - m).powi(2)).sum();
    if var == 0.0 {
        return 0.0;
    }
    x.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum::<f64>() / var
}

/// Student's t for `df` degrees of freedom (1.96 beyond the table).
fn t95(df: usize) -> f64 {
    if df == 0 { f64::NAN } else { T95.get(df - 1).copied().unwrap_or(1.96) }
}

impl Estimate {
    /// Whether there is an interval at all (two or more finite values, or
    /// batch means).
    pub fn has_interval(&self) -> bool {
        (self.n > 1 || self.batches > 0) && self.mean.is_finite()
    }

    /// The sample standard deviation, recovered from the half-width.
    fn sd(&self) -> f64 {
        self.half_width * (self.n as f64).sqrt() / t95(self.n - 1)
    }
}

/// How two estimates compare at 95 %: their intervals overlap or not.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Separation {
    /// The intervals do not overlap.
    Apart,
    /// They overlap: indistinguishable at 95 %.
    Overlap,
    /// One replicate (or none): nothing can be said.
    Untested,
}

pub fn separation(a: &Estimate, b: &Estimate) -> Separation {
    if !a.has_interval() || !b.has_interval() {
        return Separation::Untested;
    }
    if (a.mean - b.mean).abs() > a.half_width + b.half_width {
        Separation::Apart
    } else {
        Separation::Overlap
    }
}

/// Replicates per point that would make the intervals of `a` and `b` stop
/// overlapping, if their means and spreads stayed as measured (None: the
/// means are equal, or more than 100000 would be needed).
pub fn replicates_to_separate(a: &Estimate, b: &Estimate) -> Option<usize> {
    let d = (a.mean - b.mean).abs();
    // Batch means say nothing of replicates.
    let batched = a.batches > 0 || b.batches > 0;
    if batched || !a.has_interval() || !b.has_interval() || d == 0.0 || !d.is_finite() {
        return None;
    }
    let spread = a.sd() + b.sd();
    (a.n.max(b.n)..=100_000).find(|&n| t95(n - 1) * spread / (n as f64).sqrt() < d)
}

/// `v` to `digits` significant digits, without trailing zeros (no
/// interval sets a precision to show).
pub fn significant(v: f64, digits: i32) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let scale = 10f64.powi(digits - 1 - magnitude);
    let rounded = (v * scale).round() / scale;
    let text = format!("{rounded:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// A spread this small against the mean is float rounding, not data.
const FLOAT_NOISE: f64 = 1e-9;

/// A mean and its interval as a reader takes them: the half-width to two
/// significant digits and the mean to the same decimal place (`42.33 ±
/// 0.73`, `107 ± 17`); one replicate without an interval; replicates that
/// all agree said so rather than `± 0` (also when they differ only in the
/// last bits of a float: a histogram percentile of 102.4 reads
/// 102.40000000000002 in one replicate).
pub fn format_estimate(e: &Estimate) -> String {
    if e.n == 0 || !e.mean.is_finite() {
        return "–".into();
    }
    if e.n == 1 && e.batches == 0 {
        return significant(e.mean, 4);
    }
    if e.half_width <= FLOAT_NOISE * e.mean.abs() {
        return match e.batches {
            0 => format!("{} (all {} equal)", significant(e.mean, 4), e.n),
            k => format!("{} (all {k} batches equal)", significant(e.mean, 4)),
        };
    }
    let magnitude = e.half_width.log10().floor() as i32;
    let unit = 10f64.powi(magnitude - 1);
    let decimals = (1 - magnitude).max(0) as usize;
    let round = |v: f64| (v / unit).round() * unit;
    format!("{:.decimals$} ± {:.decimals$}", round(e.mean), round(e.half_width))
}

/// How a study is drawn: which axis is x, which one names the lines, and
/// the rest (one chart per combination).
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub x: Option<usize>,
    pub series: Option<usize>,
    pub facets: Vec<usize>,
}

fn numeric(values: &[String]) -> bool {
    values.len() > 1 && values.iter().all(|v| v.parse::<f64>().is_ok())
}

pub fn layout(results: &Results) -> Layout {
    let axes = &results.manifest.axes;
    let x = axes.iter().rposition(|(_, v)| numeric(v));
    let series = axes
        .iter()
        .position(|(k, _)| k == "strategy")
        .filter(|&i| Some(i) != x)
        .or_else(|| (0..axes.len()).find(|&i| Some(i) != x && !numeric(&axes[i].1)));
    let facets = (0..axes.len()).filter(|&i| Some(i) != x && Some(i) != series).collect();
    Layout { x, series, facets }
}

/// One line of a chart: its name and the runs at each x value.
pub struct Line<'a> {
    pub name: String,
    pub points: Vec<(String, Vec<&'a RunRecord>)>,
}

/// A facet: the values of the facet axes, and its lines.
pub struct Facet<'a> {
    pub label: String,
    pub lines: Vec<Line<'a>>,
}

/// Groups runs by facet, then line, then x value, in axis order.
pub fn facets<'a>(results: &'a Results, layout: &Layout) -> Vec<Facet<'a>> {
    let axes = &results.manifest.axes;
    let value = |r: &RunRecord, axis: usize| r.params[axis].1.clone();
    let mut out: Vec<Facet<'a>> = Vec::new();
    for r in &results.runs {
        let label = layout
            .facets
            .iter()
            .map(|&f| format!("{}={}", axes[f].0, value(r, f)))
            .collect::<Vec<_>>()
            .join(", ");
        let line = layout.series.map(|s| value(r, s)).unwrap_or_else(|| "all".into());
        let x = layout.x.map(|x| value(r, x)).unwrap_or_default();
        let facet = match out.iter_mut().position(|f| f.label == label) {
            Some(i) => &mut out[i],
            None => {
                out.push(Facet { label, lines: Vec::new() });
                out.last_mut().unwrap()
            }
        };
        let l = match facet.lines.iter_mut().position(|l| l.name == line) {
            Some(i) => &mut facet.lines[i],
            None => {
                facet.lines.push(Line { name: line, points: Vec::new() });
                facet.lines.last_mut().unwrap()
            }
        };
        match l.points.iter_mut().find(|(xv, _)| *xv == x) {
            Some((_, runs)) => runs.push(r),
            None => l.points.push((x, vec![r])),
        }
    }
    out
}

/// The estimate of `metric` over some runs. With one run, the success
/// ratio's interval comes from batch means within it, where its series
/// allows one.
pub fn metric_estimate(runs: &[&RunRecord], metric: &str) -> Estimate {
    if let [run] = runs
        && metric == "legit_success_ratio"
        && let Some(e) = success_batch_means(run)
    {
        return e;
    }
    estimate(runs.iter().filter_map(|r| r.metric(metric)))
}

/// [`batch_means_ratio`] over a run's by-attempt columns.
fn success_batch_means(run: &RunRecord) -> Option<Estimate> {
    let col = |name: &str| run.series_columns.iter().position(|c| c == name);
    let (a, e) = (col("legit_attempts_started")?, col("legit_established_of_started")?);
    let bins: Vec<(f64, f64)> = run.series.iter().map(|(_, row)| (row[a], row[e])).collect();
    batch_means_ratio(&bins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_uses_student_t() {
        let e = estimate([1.0, 2.0, 3.0, f64::NAN]);
        assert_eq!((e.mean, e.n), (2.0, 3));
        // sd 1, n 3: 4.303 / sqrt(3).
        assert!((e.half_width - 4.303 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(estimate([5.0]).half_width, 0.0);
        assert!(estimate([]).mean.is_nan());
    }

    fn est(mean: f64, half_width: f64, n: usize) -> Estimate {
        Estimate { mean, half_width, n, batches: 0 }
    }

    #[test]
    fn values_are_rounded_to_the_intervals_precision() {
        assert_eq!(format_estimate(&est(42.325, 0.7344, 3)), "42.33 ± 0.73");
        assert_eq!(format_estimate(&est(4097.0, 0.0099, 3)), "4097.0000 ± 0.0099");
        assert_eq!(format_estimate(&est(107.2, 16.939, 3)), "107 ± 17");
        assert_eq!(format_estimate(&est(54321.0, 1234.0, 5)), "54300 ± 1200");
        assert_eq!(format_estimate(&est(0.9731, 0.0123, 3)), "0.973 ± 0.012");
        // No interval claimed for one replicate; agreement said in words.
        assert_eq!(format_estimate(&est(102.4567, 0.0, 1)), "102.5");
        assert_eq!(format_estimate(&est(102.4, 0.0, 3)), "102.4 (all 3 equal)");
        assert_eq!(format_estimate(&est(1.0, 0.0, 3)), "1 (all 3 equal)");
        // Replicates apart only in a float's last bits agree.
        assert_eq!(format_estimate(&est(102.40000000000002, 4.3e-14, 3)), "102.4 (all 3 equal)");
        assert_eq!(format_estimate(&est(11272.192000000001, 5.5e-12, 3)), "11270 (all 3 equal)");
        assert_eq!(format_estimate(&est(0.5, 0.0, 1)), "0.5");
        assert_eq!(format_estimate(&est(f64::NAN, 0.0, 0)), "–");
    }

    #[test]
    fn overlapping_intervals_are_indistinguishable_and_say_what_would_separate_them() {
        let a = est(102.4, 2.5, 3);
        let b = est(104.1, 3.9, 3);
        assert_eq!(separation(&a, &b), Separation::Overlap);
        let n = replicates_to_separate(&a, &b).unwrap();
        // Spreads as measured: sd = hw sqrt(3) / 4.303; the first n whose
        // t(n-1) (sd_a + sd_b) / sqrt(n) is below the 1.7 difference.
        let spread = (2.5 + 3.9) * 3f64.sqrt() / 4.303;
        assert!(t95(n - 1) * spread / (n as f64).sqrt() < 1.7);
        assert!(t95(n - 2) * spread / ((n - 1) as f64).sqrt() >= 1.7);
        assert_eq!(separation(&est(0.5, 0.1, 3), &est(0.9, 0.1, 3)), Separation::Apart);
        assert_eq!(separation(&est(0.5, 0.0, 1), &est(0.9, 0.1, 3)), Separation::Untested);
        assert_eq!(replicates_to_separate(&est(1.0, 0.0, 3), &est(1.0, 0.0, 3)), None);
    }

    /// `bins` bins of 50 attempts each, every attempt established with
    /// probability `p(bin)`.
    fn bins(seed: u64, n: usize, p: impl Fn(usize) -> f64) -> Vec<(f64, f64)> {
        use rand::RngExt;
        let mut rng = crate::engine::stream_rng(seed, 0, crate::engine::Stream::Arrivals);
        (0..n).map(|b| (50.0, (0..50).filter(|_| rng.random_bool(p(b))).count() as f64)).collect()
    }

    #[test]
    fn batch_means_of_independent_bins_cover_the_true_ratio_95_times_in_100() {
        let trials = 400;
        let intervals: Vec<Estimate> =
            (0..trials).filter_map(|t| batch_means_ratio(&bins(t, 200, |_| 0.6))).collect();
        // The lag-1 test (sd about 0.16 for 40 batches) refuses independent
        // batches now and then, at every batch count: rarely.
        assert!(
            intervals.len() >= trials as usize * 98 / 100,
            "{} of {trials} had an interval",
            intervals.len()
        );
        assert!(intervals.iter().all(|e| e.n == 1 && e.batches >= 10));
        let covered = intervals.iter().filter(|e| (e.mean - 0.6).abs() <= e.half_width).count() as f64;
        // Binomial(about 400, 0.95): sd 1.1 %; 90-98 % is about +-4 sd.
        let share = covered / intervals.len() as f64;
        assert!((0.90..=0.98).contains(&share), "{share} covered");
    }

    #[test]
    fn batch_means_refuse_a_window_shorter_than_its_correlations() {
        // The ratio swings once over the window: neighbouring batches
        // agree whatever their length, so no interval is claimed.
        let swing = bins(1, 200, |b| 0.5 + 0.4 * (b as f64 / 200.0 * std::f64::consts::PI).sin());
        assert_eq!(batch_means_ratio(&swing), None);
        // A slow swing of 8 periods: 40 batches are correlated, 10 are not.
        let slow = bins(2, 400, |b| 0.5 + 0.3 * (b as f64 / 50.0 * std::f64::consts::PI).sin());
        let e = batch_means_ratio(&slow).expect("10 batches of 40 bins");
        assert_eq!(e.batches, 10);
        // Too few bins with attempts for 10 batches.
        assert_eq!(batch_means_ratio(&bins(3, 9, |_| 0.5)), None);
        // Bins outside the measured window (no attempts) are not batches.
        let mut padded = vec![(0.0, 0.0); 30];
        padded.extend(bins(4, 100, |_| 0.5));
        padded.extend([(0.0, 0.0); 30]);
        let inner = batch_means_ratio(&padded[30..130]).unwrap();
        assert_eq!(batch_means_ratio(&padded), Some(inner));
    }

    #[test]
    fn a_batch_means_interval_reads_like_one_over_replicates() {
        let e = Estimate { mean: 0.6234, half_width: 0.0312, n: 1, batches: 20 };
        assert!(e.has_interval());
        assert_eq!(format_estimate(&e), "0.623 ± 0.031");
        let all_equal = Estimate { half_width: 0.0, mean: 1.0, ..e };
        assert_eq!(format_estimate(&all_equal), "1 (all 20 batches equal)");
        // It ties or separates as an interval does, but says nothing of replicates.
        let other = Estimate { mean: 0.7, ..e };
        assert_eq!(separation(&e, &other), Separation::Apart);
        assert_eq!(replicates_to_separate(&e, &Estimate { mean: 0.64, ..e }), None);
    }

    #[test]
    fn one_run_gets_its_success_interval_from_its_series() {
        let b = bins(5, 100, |_| 0.7);
        let (a, e) = b.iter().fold((0.0, 0.0), |(a, e), x| (a + x.0, e + x.1));
        let run = RunRecord {
            run: 0,
            point: 0,
            replicate: 0,
            seed: 0,
            params: vec![],
            metrics: vec![("legit_success_ratio".into(), e / a)],
            series_columns: vec!["legit_attempts_started".into(), "legit_established_of_started".into()],
            series: b.iter().enumerate().map(|(i, &(a, e))| (i as f64 + 1.0, vec![a, e])).collect(),
            connect_hist: vec![],
        };
        let one = metric_estimate(&[&run], "legit_success_ratio");
        assert_eq!(one.mean, e / a);
        assert!(one.batches >= 10 && one.half_width > 0.0, "{one:?}");
        // Two replicates: the interval is over replicates, as before.
        let two = metric_estimate(&[&run, &run], "legit_success_ratio");
        assert_eq!((two.n, two.batches, two.half_width), (2, 0, 0.0));
        // A folder written before the by-attempt columns: no interval.
        let old = RunRecord { series_columns: vec![], series: vec![], ..run };
        assert!(!metric_estimate(&[&old], "legit_success_ratio").has_interval());
    }
}
