//! The embedded default study measures steady state: a point of it agrees
//! with one long run of the same point (the same warm-up, a measured window
//! ten times longer, cut into ten batches of the study's window). The
//! tolerance is the study's 95 % interval plus two standard deviations of
//! one batch: the replicates share the flood's start (common random
//! numbers), so their spread alone understates how much one window of the
//! steady state differs from another.
//!
//! The points are the cheap ones whose value depends on the slow clocks: no
//! defense at 1000 SYN/s (the SYN queue's waves of free slots, one request
//! lifetime apart) and fewer SYN-ACK retries at 3000 SYN/s (a 3 s request
//! lifetime, clients retrying for 67 s).

use synsim::config::RunConfig;
use synsim::engine::SimDuration;
use synsim::experiment::{DEFAULT_EXPERIMENT, Experiment, RunSpec};
use synsim::study::run_one;

fn default_point(strategy: &str, rate: &str) -> Vec<RunSpec> {
    let exp = Experiment::parse(DEFAULT_EXPERIMENT, "defenses.toml", "defenses").unwrap();
    let runs: Vec<RunSpec> = exp
        .runs()
        .into_iter()
        .filter(|r| r.params.iter().any(|(k, v)| k == "strategy" && v == strategy))
        .filter(|r| r.params.iter().any(|(k, v)| k == "attackers.flood.rate" && v == rate))
        .collect();
    assert!(runs.len() >= 3, "the default study has {strategy} at {rate} SYN/s with replicates");
    runs
}

/// Student's t at 95 % (two-sided) for `df` degrees of freedom.
fn t95(df: usize) -> f64 {
    [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228][df.clamp(1, 10) - 1]
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64;
    (m, var.sqrt())
}

/// The long run's success ratio and the standard deviation of its batches:
/// the measured window in 10 batches of equal length, each batch's ratio
/// from its bins (established per attempt, both measured).
fn long_run(spec: &RunSpec, measured: SimDuration) -> (f64, f64) {
    let mut long = spec.clone();
    long.config.duration = long.config.warmup + measured + long.config.drain;
    let c: &RunConfig = &long.config;
    let record = run_one(&long, false);
    let success = record.metric("legit_success_ratio").unwrap();
    let col = |n: &str| record.series_columns.iter().position(|c| c == n).unwrap();
    let (a, e) = (col("legit_attempts_per_s"), col("legit_established_per_s"));
    let from = c.warmup.as_secs_f64();
    let to = from + measured.as_secs_f64();
    let width = (to - from) / 10.0;
    let batches: Vec<f64> = (0..10)
        .map(|b| {
            let (lo, hi) = (from + b as f64 * width, from + (b + 1) as f64 * width);
            let bins: Vec<&(f64, Vec<f64>)> =
                record.series.iter().filter(|(t, _)| *t > lo && *t <= hi).collect();
            let attempts: f64 = bins.iter().map(|(_, v)| v[a]).sum();
            bins.iter().map(|(_, v)| v[e]).sum::<f64>() / attempts
        })
        .collect();
    let (_, sd) = mean_sd(&batches);
    (success, sd)
}

fn agrees_with_a_long_run(strategy: &str, rate: &str) {
    let runs = default_point(strategy, rate);
    let values: Vec<f64> =
        runs.iter().map(|r| run_one(r, false).metric("legit_success_ratio").unwrap()).collect();
    let (mean, sd) = mean_sd(&values);
    let half = t95(values.len() - 1) * sd / (values.len() as f64).sqrt();
    let c = &runs[0].config;
    let window = c.duration.as_nanos() - c.warmup.as_nanos() - c.drain.as_nanos();
    let (long, batch_sd) = long_run(&runs[0], SimDuration(window * 10));
    let allowed = half + 2.0 * batch_sd;
    eprintln!(
        "{strategy} at {rate} SYN/s: {mean:.4} ± {half:.4}, long run {long:.4} (batch sd {batch_sd:.4})"
    );
    assert!(
        (mean - long).abs() <= allowed,
        "{strategy} at {rate} SYN/s: the default study says {mean:.4} ± {half:.4} ({values:?}), \
         a run with a window ten times longer {long:.4} (batches' standard deviation {batch_sd:.4})"
    );
}

#[test]
fn no_defense_at_1000_syn_per_s_is_measured_in_steady_state() {
    agrees_with_a_long_run("none", "1000");
}

/// Its 3 s requests expire in batches on the timer wheel's 32 ms
/// second-level slots and the flood refills each batch at once, so the
/// point drifts after the flood starts (one replicate on 3075 s runs: 0.78
/// in the first 100 s, then 0.83-0.85 from 200 s on); `warmup = "auto"`
/// waits 1900 s for it (`settling::WHEEL_DRIFT_S`).
#[test]
fn fewer_synack_retries_at_3000_syn_per_s_is_measured_in_steady_state() {
    agrees_with_a_long_run("fewer-synack-retries", "3000");
}

/// The two other points where the wheel drifts; slow in the dev profile:
/// `cargo test --release --test steady_state -- --ignored --nocapture`.
#[test]
#[ignore = "slow: 2100 s and 3400 s runs at 1k and 10k SYN/s; run with --release"]
fn fewer_synack_retries_at_1000_and_10000_syn_per_s_are_measured_in_steady_state() {
    agrees_with_a_long_run("fewer-synack-retries", "1000");
    agrees_with_a_long_run("fewer-synack-retries", "10000");
}
