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

fn metrics_of(text: &str) -> std::collections::HashMap<&'static str, f64> {
    let exp = Experiment::parse(text, "t.toml", "t").unwrap();
    let run = &exp.runs()[0];
    World::new(&run.config, run.seed, 0).run().metrics().into_iter().collect()
}

/// One worker serving 10 connections/s. A population whose clients reset
/// their connections (SO_LINGER 0) a millisecond after connecting fills the
/// accept queue with dead children at 20/s; a population that stays comes
/// at 5/s. Each dead child still costs the worker an accept() and a service
/// time (`inet_csk_accept` hands it out; read() then says ECONNRESET), so the
/// staying clients get about a fifth of the 100 accept()s in 10 s, not all
/// 50 of theirs as when dead children were skipped for free.
#[test]
fn a_dead_connection_in_the_accept_queue_costs_an_accept() {
    let m = metrics_of(
        r#"
duration = "10s"
[network]
delay = "1ms"
[server]
listen_backlog = 4096
accept_rate = 10
[clients.resetting]
hosts = 20
rate = 20
hold = "1ms"
closer = "client"
linger_zero = true
[clients.staying]
hosts = 5
rate = 5
hold = "60s"
closer = "client"
"#,
    );
    assert!(m["legit_attempts"] > 200.0, "{m:?}");
    assert!(m["client_TcpExtTCPAbortOnData"] > 150.0, "{m:?}");
    assert!(m["TcpEstabResets"] > 150.0, "the children reset in the queue: {m:?}");
    let served = m["legit_accepted"];
    assert!((10.0..=32.0).contains(&served), "accepted {served}: {m:?}");
    // Who waits behind dead children waits longer: seconds, not a service time.
    assert!(m["accept_delay_p50_ms"] > 1000.0, "{m:?}");
}

/// `accept_rate` is the mean over the workers: 4 workers with exponential
/// service times at 40/s in all serve about 40/s under a full queue.
#[test]
fn workers_serve_accept_rate_in_all() {
    let m = metrics_of(
        r#"
duration = "10s"
[network]
delay = "1ms"
[server]
accept_rate = 40
workers = 4
service_time = "exponential"
[clients.web]
hosts = 100
rate = 100
hold = "10s"
"#,
    );
    let served = m["legit_accepted"];
    assert!((340.0..=460.0).contains(&served), "accepted {served}: {m:?}");
    assert!(m["legit_served_ratio"] < 0.5 && m["legit_success_ratio"] > 0.9, "{m:?}");
}

/// TcpExtTW counts TIME-WAIT sockets made (`__inet_twsk_schedule`), per
/// namespace: in a 10 s run none expires, yet every closed connection is
/// counted once, on the side that closed first: the clients' here, the
/// server's when it closes first; through FIN-WAIT-2 at its start, which
/// tcp_fin_timeout = 60 s makes a TIME-WAIT socket (3 s: TcpExtTWKilled).
#[test]
fn tcp_ext_tw_counts_time_waits_entered_per_namespace() {
    let run = |closer: &str, fin_timeout: &str| {
        metrics_of(&format!(
            "duration = \"10s\"\n[network]\ndelay = \"1ms\"\n[server]\ntcp_fin_timeout = \"{fin_timeout}\"\n\
             [clients.web]\nhosts = 100\nrate = 20\nhold = \"10ms\"\ncloser = \"{closer}\"\n"
        ))
    };
    let c = run("client", "60s");
    assert!(c["legit_established"] > 150.0, "{c:?}");
    assert_eq!(c["client_TcpExtTW"], c["time_wait_entered_client"]);
    assert!(c["client_TcpExtTW"] >= c["legit_established"] - 2.0, "{c:?}");
    assert_eq!(c["TcpExtTW"], 0.0);
    assert_eq!(c["client_TcpActiveOpens"], c["legit_attempts"]);
    let s = run("server", "60s");
    assert_eq!(s["TcpExtTW"], s["time_wait_entered_server"], "{s:?}");
    assert!(s["TcpExtTW"] > 150.0, "{s:?}");
    assert_eq!(s["client_TcpExtTW"], 0.0);
    // Through FIN-WAIT-2 (the server closes 100 ms after the client's FIN,
    // its delayed ACK goes first): counted there once with a 60 s
    // tcp_fin_timeout, not at all with 3 s.
    let through_fin_wait2 = |fin_timeout: &str| {
        metrics_of(&format!(
            "duration = \"10s\"\n[network]\ndelay = \"1ms\"\n[server]\nclose_delay = \"100ms\"\n\
             [clients.web]\nhosts = 100\nrate = 20\nhold = \"10ms\"\ncloser = \"client\"\n\
             tcp_fin_timeout = \"{fin_timeout}\"\n"
        ))
    };
    let long = through_fin_wait2("60s");
    assert!(long["client_TcpExtTW"] >= long["legit_established"] - 2.0, "{long:?}");
    // Counted at FIN-WAIT-2: also the connection still there at the end.
    assert!(long["client_TcpExtTW"] >= long["time_wait_entered_client"], "{long:?}");
    let short = through_fin_wait2("3s");
    assert_eq!(short["client_TcpExtTW"], 0.0, "{short:?}");
    assert!(short["time_wait_entered_client"] > 150.0, "{short:?}");
}
