//! Is a point measured in steady state? Two checks, because each misses
//! what the other sees:
//!
//! - **MSER-5** (White 1997; White, Cobb and Spratt 2000) on each run's
//!   time series: batch means of 5 bins, the truncation that minimises the
//!   standard error of what remains. It finds a transient the run shows.
//! - **The model's slowest clock** (`settling_s` in summary.csv, from
//!   `experiment::settling`): a transient longer than the run never shows
//!   in its series (a SYN queue full of requests that live 63 s looks flat
//!   in a 20 s run), so the known time constants are checked too.

use super::results::RunRecord;

/// Batch size of MSER-5.
const BATCH: usize = 5;

/// MSER-5's truncation of `y`: how many leading observations to drop (a
/// multiple of 5). None when the best truncation is in the second half of
/// the series, i.e. the series never settles within it.
pub fn mser5(y: &[f64]) -> Option<usize> {
    let batches: Vec<f64> = y.chunks_exact(BATCH).map(|c| c.iter().sum::<f64>() / BATCH as f64).collect();
    let n = batches.len();
    if n < 4 {
        return Some(0);
    }
    let mut best = (f64::INFINITY, 0);
    // Suffix sums give each truncation's mean and variance in O(n).
    let (mut sum, mut sq) = (0.0, 0.0);
    let mut stats = vec![(0.0, 0.0); n + 1];
    for d in (0..n).rev() {
        sum += batches[d];
        sq += batches[d] * batches[d];
        stats[d] = (sum, sq);
    }
    for (d, &(s, q)) in stats.iter().enumerate().take(n - 1) {
        let k = (n - d) as f64;
        let mean = s / k;
        let mser = ((q - k * mean * mean).max(0.0)) / (k * k);
        if mser < best.0 {
            best = (mser, d);
        }
    }
    (best.1 <= n / 2).then_some(best.1 * BATCH)
}

/// The series MSER-5 is applied to: each a quantity the report shows.
const WATCHED: [&str; 5] =
    ["syn_recv", "accept_queue", "time_wait_client", "time_wait_server", "legit_success"];

/// One run's transient by MSER-5, in seconds of simulated time: the latest
/// truncation over the watched series (None: one never settles). Bins after
/// the clients' last arrival are left out (the run's cool-down).
pub fn detected_transient(run: &RunRecord) -> Option<f64> {
    let col = |name: &str| run.series_columns.iter().position(|c| c == name);
    let attempts = col("legit_attempts_per_s");
    let established = col("legit_established_per_s");
    let end = match attempts {
        Some(a) => run.series.iter().rposition(|(_, v)| v[a] > 0.0).map_or(run.series.len(), |i| i + 1),
        None => run.series.len(),
    };
    let rows = &run.series[..end];
    let bin = rows.first().map(|r| r.0).unwrap_or(1.0);
    let mut latest: f64 = 0.0;
    for name in WATCHED {
        let values: Vec<f64> = match (name, attempts, established) {
            ("legit_success", Some(a), Some(e)) => {
                rows.iter().map(|(_, v)| if v[a] > 0.0 { (v[e] / v[a]).min(1.0) } else { 1.0 }).collect()
            }
            (_, _, _) => match col(name) {
                Some(c) => rows.iter().map(|(_, v)| v[c]).collect(),
                None => continue,
            },
        };
        if values.iter().all(|v| *v == values[0]) {
            continue;
        }
        let cut = mser5(&values)?;
        // The first kept bin starts where the cut ones end.
        latest = latest.max(cut as f64 * bin);
    }
    Some(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mser5_cuts_a_ramp_and_keeps_a_flat_series() {
        // 20 bins climbing, then 80 noisy bins around 100.
        let mut y: Vec<f64> = (0..20).map(|i| i as f64 * 5.0).collect();
        y.extend((0..80).map(|i| 100.0 + if i % 2 == 0 { 1.0 } else { -1.0 }));
        let cut = mser5(&y).unwrap();
        assert!((15..=25).contains(&cut), "cut {cut}");
        let flat: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert_eq!(mser5(&flat), Some(0));
    }

    #[test]
    fn a_series_still_climbing_at_its_end_has_no_steady_state() {
        let y: Vec<f64> = (0..100).map(|i| (i * i) as f64).collect();
        assert_eq!(mser5(&y), None);
    }
}
