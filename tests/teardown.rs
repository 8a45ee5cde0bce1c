//! The teardown under reordering paths: a passive closer whose
//! application closes after its delayed ACK fired sends a bare ACK, then
//! its FIN; independent delays let the FIN overtake the ACK, the late ACK
//! draws a duplicate ACK from the client's TIME-WAIT, the closed server
//! answers RST, and the RST ends the TIME-WAIT (RFC 1337's assassination)
//! unless the client has `tcp_rfc1337 = 1`.

use std::collections::HashMap;
use synsim::experiment::Experiment;
use synsim::sim::World;

fn run(close_delay: &str, client_extra: &str) -> HashMap<&'static str, f64> {
    let text = format!(
        "duration = \"30s\"\nwarmup = \"0s\"\n[network]\n\
         delay = {{ dist = \"uniform\", low = \"5ms\", high = \"25ms\" }}\nreorder = true\n\
         [server]\nclose_delay = \"{close_delay}\"\n\
         [clients.web]\nhosts = 10000\nrate = 200\nstop = \"25s\"\n{client_extra}\n"
    );
    let exp = Experiment::parse(&text, "t.toml", "t").unwrap();
    let r = &exp.runs()[0];
    World::new(&r.config, r.seed, 0).run().metrics().into_iter().collect()
}

#[test]
fn rsts_assassinate_client_time_waits_unless_tcp_rfc1337() {
    // close() at once: one FIN/ACK, nothing to reorder.
    let at_once = run("0s", "");
    assert_eq!(at_once["time_wait_assassinated_client"], 0.0);
    // close() 6 ms after the FIN: the delayed ACK (next jiffy, at most
    // 4 ms at HZ 250) goes first, bare; 20 ms of jitter reorders the two.
    let late = run("6ms", "");
    let killed = late["time_wait_assassinated_client"];
    assert!(killed > 0.2 * late["legit_attempts"], "{killed} of {}", late["legit_attempts"]);
    // Each was killed by an RST from the server (counted from t = 0, no
    // warm-up: an RST sent before a warm-up end would kill after it).
    assert!(killed <= late["TcpOutRsts"], "{killed} > {}", late["TcpOutRsts"]);
    assert_eq!(late["time_wait_assassinated_server"], 0.0);
    let peak = at_once["time_wait_peak_client"];
    assert!(late["time_wait_peak_client"] < 0.8 * peak, "{} vs {peak}", late["time_wait_peak_client"]);
    // tcp_rfc1337 = 1 on the clients: the RSTs still come, no TIME-WAIT ends early.
    let guarded = run("6ms", "tcp_rfc1337 = true");
    assert_eq!(guarded["time_wait_assassinated_client"], 0.0);
    assert!(guarded["TcpOutRsts"] > 0.2 * guarded["legit_attempts"], "{}", guarded["TcpOutRsts"]);
    let g = guarded["time_wait_peak_client"];
    assert!((g - peak).abs() <= 0.03 * peak, "TIME-WAIT peak {g} vs {peak}");
}
