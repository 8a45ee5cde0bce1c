//! One warm-up rule for every counter: what happens during the warm-up
//! is not measured. Counters count from t = 0 and the figures are what
//! they gained after the warm-up's end (a snapshot subtracted), so a
//! counter cannot escape the rule by forgetting to check it.

use synsim::config::RunConfig;
use synsim::sim::{RunOutcome, World};

fn run(text: &str) -> RunOutcome {
    let cfg: RunConfig = toml::from_str(text).unwrap_or_else(|e| panic!("bad test config: {e}"));
    World::new(&cfg, 1, 0).run()
}

/// One host, 100 conn/s, at most 50 TIME-WAIT entries: nearly every
/// close overflows the buckets, in the warm-up as after it.
const OVERFLOW: &str = r#"
    duration = "20s"
    warmup = "10s"
    [network]
    delay = "5ms"
    [clients.app]
    hosts = 1
    rate = 100
    hold = "10ms"
    tcp_max_tw_buckets = 50
"#;

#[test]
fn time_wait_overflows_are_counted_after_the_warm_up_only() {
    let o = run(OVERFLOW);
    let c = &o.counters;
    // About 1000 connections start in the 10 s window; each can overflow
    // the buckets once, when it closes. A few opened in the warm-up close
    // in the window too.
    assert!((900..1100).contains(&c.legit_attempts), "{}", c.legit_attempts);
    assert!(
        c.client_tw_overflow <= c.legit_attempts + 10,
        "{} overflows, {} attempts",
        c.client_tw_overflow,
        c.legit_attempts
    );
    assert!(c.client_tw_overflow >= c.legit_attempts - 60, "{}", c.client_tw_overflow);
}

/// No windowed counter exceeds what the window could produce: with the
/// same load over the window alone (no warm-up, half the duration), every
/// counter of a connection's life is within noise of the windowed one.
#[test]
fn no_windowed_counter_exceeds_what_the_window_produces() {
    let windowed = run(OVERFLOW);
    let alone = run(&OVERFLOW
        .replace(r#"duration = "20s""#, r#"duration = "10s""#)
        .replace(r#"warmup = "10s""#, r#"warmup = "0s""#));
    for ((name, w), (_, a)) in windowed.metrics().into_iter().zip(alone.metrics()) {
        if !name.starts_with("legit_") && !name.starts_with("time_wait_") && !name.starts_with("Tcp") {
            continue;
        }
        if name.contains("_mean")
            || name.contains("_peak")
            || name.contains("_last")
            || name.ends_with("_bytes")
        {
            continue; // levels, not counts: the window starts with what the warm-up left
        }
        // A 60 s TIME-WAIT outlives both runs: the window sees at most the
        // connections started in it plus those still open at its start.
        let bound = a * 1.1 + 100.0;
        assert!(w <= bound, "{name}: {w} in the window, {a} when the window runs alone");
    }
}
