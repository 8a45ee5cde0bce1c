//! Is a point measured in steady state? Two checks, because each misses
//! what the other sees:
//!
//! - **MSER-5** (White 1997; White, Cobb and Spratt 2000) on each run's
//!   time series: batch means of 5 bins, the truncation that minimises the
//!   standard error of what remains. It finds a transient the run shows.
//! - **The model's slowest clocks** (`settling_*_s` in summary.csv, from
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
    let (cut, batches) = mser5_best(y);
    (cut / BATCH <= batches / 2).then_some(cut)
}

/// The truncation minimising MSER-5's statistic, leaving at least a
/// quarter of the batches (with fewer the statistic means nothing and
/// dips at the very end by chance), and the number of batches.
fn mser5_best(y: &[f64]) -> (usize, usize) {
    let batches: Vec<f64> = y.chunks_exact(BATCH).map(|c| c.iter().sum::<f64>() / BATCH as f64).collect();
    let n = batches.len();
    if n < 4 {
        return (0, n);
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
    for (d, &(s, q)) in stats.iter().enumerate().take(n - n.div_ceil(4) + 1) {
        let k = (n - d) as f64;
        let mean = s / k;
        let mser = ((q - k * mean * mean).max(0.0)) / (k * k);
        if mser < best.0 {
            best = (mser, d);
        }
    }
    (best.1 * BATCH, n)
}

/// How far MSER-5's truncation moves a series' mean for it to count: 5 %
/// of the mean, and at least `floor` (one of a count). A
/// count with a long memory (TIME-WAIT is a 60 s moving sum) always drifts
/// a little within a window of a minute or two; a cut that does not move
/// what the report prints is not a transient.
const MATERIAL: f64 = 0.05;

/// The leading observations of `y` that are a transient: MSER-5's cut
/// when dropping them moves the mean materially (None: the best cut is in
/// the second half and moves it, i.e. the series never settles).
pub fn material_transient(y: &[f64], floor: f64) -> Option<usize> {
    let (cut, batches) = mser5_best(y);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let kept = mean(&y[cut.min(y.len())..]);
    if (mean(y) - kept).abs() <= (MATERIAL * kept.abs()).max(floor) {
        return Some(0);
    }
    (cut / BATCH <= batches / 2).then_some(cut)
}

/// A series that swings with the SYN queue's waves (`period` bins apart)
/// and that MSER-5 finds never settling: settled when the means over
/// whole waves agree, consecutive ones within [`MATERIAL`] (and `floor`):
/// batch means with one wave per batch, which the swing cannot move. None
/// with fewer than two whole waves, or when a wave's mean moves.
pub fn settled_over_waves(y: &[f64], period: usize, floor: f64) -> Option<usize> {
    if period == 0 || y.len() < 2 * period {
        return None;
    }
    let means: Vec<f64> = y.chunks_exact(period).map(|w| w.iter().sum::<f64>() / period as f64).collect();
    means.windows(2).all(|m| (m[1] - m[0]).abs() <= (MATERIAL * m[0].abs()).max(floor)).then_some(0)
}

/// The series MSER-5 is applied to: the state behind what the report
/// shows. Not a per-bin success ratio: a bin's established connections
/// come from attempts of earlier bins, so the ratio starts low after every
/// warm-up whatever the state, and swings with each retry wave.
const WATCHED: [&str; 5] =
    ["syn_recv", "accept_queue", "time_wait_client", "time_wait_server", "listen_drops_per_s"];

/// A run's measured window, in seconds from t = 0: (warm-up, end). Results
/// written before `warmup_s` existed measured to the run's end.
pub fn measured_window(run: &RunRecord) -> Option<(f64, f64)> {
    let metric = |name: &str| run.metric(name).filter(|v| v.is_finite());
    let measured = metric("measured_s")?;
    let warmup = match metric("warmup_s") {
        Some(w) => w,
        None => (metric("sim_s")? - measured).max(0.0),
    };
    Some((warmup, warmup + measured))
}

/// One run's transient by MSER-5, in seconds from t = 0: the warm-up plus
/// the latest material truncation in any watched series (None: one never
/// settles). MSER-5 judges the data the report uses: the bins after the
/// warm-up, up to the clients' last arrival (the cool-down is left out).
pub fn detected_transient(run: &RunRecord) -> Option<f64> {
    let col = |name: &str| run.series_columns.iter().position(|c| c == name);
    let warmup = measured_window(run).map_or(0.0, |w| w.0);
    let bin = run.series.first().map(|r| r.0).unwrap_or(1.0);
    // A bin ending at t covers (t - bin, t]: measured when it starts at or after the warm-up.
    let start = run.series.iter().position(|(t, _)| t - bin >= warmup - 1e-9).unwrap_or(run.series.len());
    let end = match col("legit_attempts_per_s") {
        Some(a) => run.series.iter().rposition(|(_, v)| v[a] > 0.0).map_or(run.series.len(), |i| i + 1),
        None => run.series.len(),
    };
    let rows = &run.series[start..end.max(start)];
    // The SYN queue's waves, in whole bins (0: no attack fills it). The
    // lifetime is an upper bound on the timer wheel (65.9 s for 63 s of
    // timers; the waves come about 65 s apart): rounded down.
    let wave = run.metric("settling_syn_queue_wave_s").filter(|w| w.is_finite() && *w > 0.0);
    let wave_bins = wave.map_or(0, |w| (w / bin).floor() as usize);
    let mut latest: f64 = 0.0;
    for c in WATCHED.iter().filter_map(|name| col(name)) {
        let values: Vec<f64> = rows.iter().map(|(_, v)| v[c]).collect();
        if values.iter().all(|v| *v == values[0]) {
            continue;
        }
        let cut = material_transient(&values, 1.0).or_else(|| settled_over_waves(&values, wave_bins, 1.0))?;
        // The first kept bin starts where the cut ones end.
        latest = latest.max(cut as f64 * bin);
    }
    Some(warmup + latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drift_that_does_not_move_the_mean_is_not_a_transient() {
        // A count near 12000 that sags by 2 % for the window's last 40 bins:
        // MSER-5 cuts the first 30, but the mean the report prints moves
        // by 1 %.
        let wiggle = |i: usize| if i % 2 == 0 { 20.0 } else { -20.0 };
        let y: Vec<f64> = (0..70).map(|i| if i < 30 { 12_100.0 } else { 11_860.0 } + wiggle(i)).collect();
        assert_eq!(mser5(&y), Some(30));
        assert_eq!(material_transient(&y, 1.0), Some(0));
        // A drop rate that climbs from 0 to 2000/s over its first 20 bins is one.
        let mut s: Vec<f64> = (0..20).map(|i| i as f64 * 100.0).collect();
        s.extend((0..60).map(|i| 2000.0 + if i % 3 == 0 { 40.0 } else { -20.0 }));
        let cut = material_transient(&s, 1.0).unwrap();
        assert!((10..=25).contains(&cut), "cut {cut}");
    }

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
    fn a_chance_dip_in_the_last_batches_is_not_a_cut() {
        // Stationary noise whose last two batches happen to agree closely.
        let mut y: Vec<f64> = (0..330).map(|i| 10.0 + ((i * 7919) % 13) as f64 - 6.0).collect();
        for v in y.iter_mut().skip(320) {
            *v = 10.0;
        }
        assert!(mser5(&y).is_some_and(|c| c < 165), "{:?}", mser5(&y));
    }

    #[test]
    fn a_series_that_swings_with_the_queue_waves_is_judged_over_whole_waves() {
        // Drops that dip every 65 bins (the requests of one second expire
        // together and their slots are taken): two waves whose means agree.
        let wave = |i: usize| if i % 65 < 8 { 900.0 } else { 2200.0 + ((i * 7919) % 11) as f64 * 20.0 };
        let y: Vec<f64> = (0..131).map(wave).collect();
        assert_eq!(material_transient(&y, 1.0), None, "MSER-5 alone sees no steady state");
        assert_eq!(settled_over_waves(&y, 65, 1.0), Some(0));
        // The same swing on a level that climbs 10 % from one wave to the next: not settled.
        let climbing: Vec<f64> = (0..131).map(|i| wave(i) * if i < 65 { 1.0 } else { 1.1 }).collect();
        assert_eq!(settled_over_waves(&climbing, 65, 1.0), None);
        // Fewer than two whole waves: nothing to compare.
        assert_eq!(settled_over_waves(&y[..120], 65, 1.0), None);
        assert_eq!(settled_over_waves(&y, 0, 1.0), None);
    }

    #[test]
    fn a_series_still_climbing_at_its_end_has_no_steady_state() {
        let y: Vec<f64> = (0..100).map(|i| (i * i) as f64).collect();
        assert_eq!(mser5(&y), None);
    }
}
