//! Client arrival processes.

use synsim::experiment::Experiment;
use synsim::sim::World;

fn attempts(arrival: &str) -> f64 {
    let text = format!(
        "duration = \"12s\"\nwarmup = \"1s\"\n[clients.web]\nhosts = 100\nrate = 50\nstop = \"11s\"\narrival = \"{arrival}\"\n"
    );
    let exp = Experiment::parse(&text, "a.toml", "a").unwrap();
    let run = &exp.runs()[0];
    let m: std::collections::HashMap<&str, f64> =
        World::new(&run.config, run.seed, 0).run().metrics().into_iter().collect();
    m["legit_attempts"]
}

#[test]
fn constant_arrivals_are_exactly_one_per_interval() {
    // 50/s from 1 s to 11 s: 500 connect() calls, give or take the one on
    // a window edge; Poisson arrivals spread around 500 (sd ~22).
    let constant = attempts("constant");
    assert!((499.0..=501.0).contains(&constant), "{constant}");
    let poisson = attempts("poisson");
    assert!(poisson != constant && (poisson - 500.0).abs() < 5.0 * 22.4, "{poisson}");
    let bad = Experiment::parse(
        "duration = \"2s\"\n[clients.web]\nhosts = 1\nrate = 1\narrival = \"uniform\"\n",
        "b.toml",
        "b",
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("unknown value `uniform`") && bad.contains("constant"), "{bad}");
}
