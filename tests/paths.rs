//! Paths are FIFO per flow unless `[network] reorder = true`: delay jitter
//! alone must not reorder a connection's back-to-back segments.

use std::collections::HashMap;
use synsim::experiment::Experiment;
use synsim::sim::World;

fn run(delay: &str, reorder: bool) -> HashMap<&'static str, f64> {
    let text = format!(
        "duration = \"40s\"\nwarmup = \"5s\"\n[network]\ndelay = {delay}\nreorder = {reorder}\n\
         [clients.web]\nhosts = 10000\nrate = 200\nstop = \"35s\"\n"
    );
    let exp = Experiment::parse(&text, "p.toml", "p").unwrap();
    let r = &exp.runs()[0];
    World::new(&r.config, r.seed, 0).run().metrics().into_iter().collect()
}

#[test]
fn jitter_no_longer_assassinates_time_wait() {
    let constant = run("\"10ms\"", false);
    let jitter = "{ dist = \"uniform\", low = \"9.9ms\", high = \"10.1ms\" }";
    let fifo = run(jitter, false);
    // The passive closer's ACK and FIN leave together; on a FIFO path the
    // FIN never overtakes the ACK, so no late ACK draws an RST that ends
    // the client's TIME-WAIT (RFC 1337).
    assert_eq!(constant["TcpOutRsts"], 0.0);
    assert!(fifo["TcpOutRsts"] <= 5.0, "{}", fifo["TcpOutRsts"]);
    let (a, b) = (constant["time_wait_peak_client"], fifo["time_wait_peak_client"]);
    assert!((a - b).abs() <= 0.03 * a, "TIME-WAIT peak {b} vs {a} with a constant delay");
    // Independent delays: the server's delayed ACK rides on its FIN/ACK
    // (its close() comes before the delayed-ACK timer), so there is no
    // bare ACK for the FIN to overtake either (tests/teardown.rs has the
    // case where there is).
    let reordered = run(jitter, true);
    assert!(reordered["TcpOutRsts"] <= 5.0, "{}", reordered["TcpOutRsts"]);
    let c = reordered["time_wait_peak_client"];
    assert!((a - c).abs() <= 0.03 * a, "TIME-WAIT peak {c} vs {a} with a constant delay");
}
