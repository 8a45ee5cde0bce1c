//! Remembered peers (issue 12): without cookies, `tcp_conn_request` keeps
//! the last quarter of tcp_max_syn_backlog for peers the server's TCP
//! metrics cache has proven. The kernel check's `k2-remembered` point, in
//! a test: a 300 SYN/s spoofed flood holds the SYN queue at 769 requests
//! (backlog 1024, tcp_max_syn_backlog 1024) and one client connects 30
//! times a second.

use synsim::config::RunConfig;
use synsim::sim::{RunOutcome, World};

fn run(remembered: f64, no_metrics_save: bool) -> RunOutcome {
    run_with(remembered, no_metrics_save, "")
}

/// `extra`: more keys for the client population.
fn run_with(remembered: f64, no_metrics_save: bool, extra: &str) -> RunOutcome {
    let text = format!(
        r#"
        duration = "21s"
        warmup = "3s"
        [network]
        delay = "1ms"
        # The rule under test, not the clocks: one clock, so the user's
        # SYN retransmissions meet the server's expiries as in the runs
        # the bound below came from (on its own clock, 7 complete).
        one_machine = true
        [server]
        tcp_syncookies = 0
        listen_backlog = 1024
        tcp_max_syn_backlog = 1024
        tcp_no_metrics_save = {no_metrics_save}
        [clients.legit]
        hosts = 1
        rate = 30
        hold = "0s"
        start = "3s"
        stop = "13s"
        tcp_syn_retries = 2
        tcp_syn_linear_timeouts = 0
        remembered = {remembered}
        {extra}
        [attackers.flood]
        kind = "spoofed-syn"
        rate = 300
        "#
    );
    let cfg: RunConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("bad test config: {e}"));
    World::new(&cfg, 1, 0).run()
}

fn metric(o: &RunOutcome, name: &str) -> f64 {
    o.metrics().iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no metric {name}")).1
}

#[test]
fn a_remembered_client_passes_the_last_quarter_rule_a_fresh_one_is_dropped() {
    let remembered = run(1.0, true);
    let fresh = run(0.0, true);
    let (r, f) = (metric(&remembered, "legit_success_ratio"), metric(&fresh, "legit_success_ratio"));
    assert!(r > 0.99, "remembered: success {r:.3} (the kernel's 1.000)");
    assert!(f < 0.6, "fresh boot: success {f:.3} (the kernel's 0.34)");
    // Both runs drop the flood's SYNs alike: the spoofed sources are never proven.
    let (dr, df) = (metric(&remembered, "unproven_drops"), metric(&fresh, "unproven_drops"));
    assert!(dr > 4000.0 && dr < df, "unproven drops: remembered {dr}, fresh {df}");
}

#[test]
fn a_fresh_client_is_proven_once_a_connection_of_its_has_ended() {
    // tcp_no_metrics_save = 0, the default: the first handshake that gets
    // through and closes writes the entry (`tcp_update_metrics`), and every
    // later SYN of the host passes the rule.
    let saved = metric(&run(0.0, false), "legit_success_ratio");
    let fresh = metric(&run(0.0, true), "legit_success_ratio");
    assert!(saved > 0.75 && saved > fresh + 0.3, "saved {saved:.3}, not saved {fresh:.3}");
    // Without timestamps too: Linux then takes its RTT samples from segments
    // sent once (Karn), so the entry has an RTT all the same.
    let no_ts = metric(&run_with(0.0, false, "tcp_timestamps = false"), "legit_success_ratio");
    assert!(no_ts > fresh + 0.3, "without timestamps {no_ts:.3}, not saved {fresh:.3}");
}

/// One user, connecting again 50 ms after each connection ends; the
/// server closes first and so keeps each connection's TIME-WAIT. The flood
/// starts at 0.5 s and fills the queue to the last quarter by 3 s.
fn reconnecting_user(port_range: &str) -> RunOutcome {
    let text = format!(
        r#"
        duration = "21s"
        warmup = "3s"
        [network]
        delay = "1ms"
        # The rule under test, not the clocks: one clock, so the user's
        # SYN retransmissions meet the server's expiries as in the runs
        # the bound below came from (on its own clock, 7 complete).
        one_machine = true
        [server]
        tcp_syncookies = 0
        listen_backlog = 1024
        tcp_max_syn_backlog = 1024
        tcp_no_metrics_save = true
        [clients.legit]
        hosts = 1
        concurrency = 1
        think = "50ms"
        hold = "0s"
        closer = "server"
        stop = "13s"
        tcp_syn_retries = 2
        tcp_syn_linear_timeouts = 0
        ip_local_port_range = {port_range}
        [attackers.flood]
        kind = "spoofed-syn"
        start = "500ms"
        rate = 300
        "#
    );
    let cfg: RunConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("bad test config: {e}"));
    World::new(&cfg, 1, 0).run()
}

#[test]
fn a_syn_that_reopens_time_wait_skips_the_last_quarter_rule() {
    // With one port each new SYN lands on the server's TIME-WAIT of the
    // last connection, which gives way to it (`TCP_TW_SYN`):
    // `tcp_conn_request` gets an `isn` and skips the rule
    // (`!want_cookie && !isn`). No metrics: nobody is proven.
    let reopening = reconnecting_user("[40000, 40000]");
    let new_ports = reconnecting_user("[32768, 60999]");
    let s = metric(&reopening, "legit_success_ratio");
    assert!(metric(&reopening, "time_wait_reopened_server") > 100.0);
    assert!(s > 0.99, "reopening TIME-WAIT: success {s:.3}");
    let n = metric(&new_ports, "legit_completed");
    assert!(n < 5.0, "new ports meet the rule: {n} completed");
}
