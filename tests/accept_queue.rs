//! The accept queue under a slow application, with `tcp_abort_on_overflow`.

use synsim::experiment::Experiment;
use synsim::sim::World;

/// One client host, 50 conn/s against an application accepting 20/s with a
/// listen backlog of 16: the accept queue stays full.
const SLOW_ACCEPT: &str = r#"
duration = "10s"
[network]
delay = "20us"
[server]
listen_backlog = 16
tcp_abort_on_overflow = true
accept_rate = 20
[clients.web]
hosts = 1
rate = 50
hold = "0s"
"#;

#[test]
fn an_aborted_request_leaves_the_syn_queue_once() {
    let exp = Experiment::parse(SLOW_ACCEPT, "slow.toml", "slow").unwrap();
    let run = &exp.runs()[0];
    let outcome = World::new(&run.config, run.seed, 0).run();
    let metrics: std::collections::HashMap<&str, f64> = outcome.metrics().into_iter().collect();
    // Overflowed final ACKs are answered with RSTs and their requests freed.
    assert!(metrics["TcpExtListenOverflows"] > 100.0, "{metrics:?}");
    assert!(metrics["TcpOutRsts"] > 0.0, "{metrics:?}");
    // Before the fix the count wrapped to 4294967295 (the request was freed,
    // then dequeued again by its client's FIN) and every SYN got a cookie.
    let col = outcome.series.columns.iter().position(|c| *c == "syn_recv").unwrap();
    let peak = outcome.series.rows.iter().map(|(_, v)| v[col]).fold(0.0, f64::max);
    assert!(peak <= 16.0, "SYN_RECV reached {peak}");
    assert!(metrics["syn_recv_peak"] <= 16.0, "{metrics:?}");
    assert_eq!(metrics["TcpExtSyncookiesSent"], 0.0, "cookies for a SYN queue that is not full");
}
