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
    pub n: usize,
}

pub fn estimate(values: impl IntoIterator<Item = f64>) -> Estimate {
    let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    let n = v.len();
    if n == 0 {
        return Estimate { mean: f64::NAN, half_width: f64::NAN, n };
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Estimate { mean, half_width: 0.0, n };
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = T95.get(n - 2).copied().unwrap_or(1.96);
    Estimate { mean, half_width: t * (var / n as f64).sqrt(), n }
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

/// The estimate of `metric` over some runs.
pub fn metric_estimate(runs: &[&RunRecord], metric: &str) -> Estimate {
    estimate(runs.iter().filter_map(|r| r.metric(metric)))
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
}
