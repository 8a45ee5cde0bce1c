//! Whole runs against theory (docs/architecture.md, "Rules"), each with its statistical
//! tolerance stated and fixed seeds.

use synsim::config::RunConfig;
use synsim::sim::{RunOutcome, World};

fn config(text: &str) -> RunConfig {
    toml::from_str(text).unwrap_or_else(|e| panic!("bad test config: {e}"))
}

fn run(cfg: &RunConfig, seed: u64) -> RunOutcome {
    World::new(cfg, seed, 0).run()
}

fn metric(o: &RunOutcome, name: &str) -> f64 {
    o.metrics().iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no metric {name}")).1
}

/// Erlang's loss formula B(c, a) by the stable recursion.
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

/// Student t quantile 0.995 for 7 degrees of freedom (8 replicates).
const T_995_7: f64 = 3.499;

fn mean_and_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn spoofed_flood(
    backlog: u32,
    rate: f64,
    retries: u8,
    pruning: bool,
    warmup_s: u64,
    measure_s: u64,
) -> RunConfig {
    // hz = 0: the theory's holding times are exact (1 + 2 + ... + 2^r s);
    // the timer wheel would lengthen each by up to a slot (32 ms at 1 s).
    config(&format!(
        r#"
        duration = "{total}s"
        warmup = "{warmup_s}s"
        bin = "10s"
        hz = 0
        [network]
        delay = "1ms"
        [server]
        listen_backlog = {backlog}
        tcp_max_syn_backlog = 1000000
        tcp_syncookies = 0
        tcp_synack_retries = {retries}
        synack_pruning = {pruning}
        [attackers.flood]
        kind = "spoofed-syn"
        rate = {rate}
        "#,
        total = warmup_s + measure_s,
    ))
}

/// With cookies off, pruning off, only spoofed SYNs and a large
/// tcp_max_syn_backlog, the SYN queue is an M/D/c/c loss system: c =
/// sk_max_ack_backlog + 1 slots (full is `qlen > max`), each held
/// 1 + 2 + ... + 2^r s. The share of attack SYNs dropped must be Erlang-B
/// within the 99 % interval of 8 replicates (Student t, 7 df).
#[test]
fn syn_queue_blocking_is_erlang_b() {
    for (c, offered, retries) in [(16u32, 16.0, 1u8), (8, 12.0, 0), (64, 48.0, 2)] {
        let hold = ((1u64 << (retries + 1)) - 1) as f64;
        let rate = offered / hold;
        let cfg = spoofed_flood(c - 1, rate, retries, false, 4 * hold as u64, 3000);
        let ratios: Vec<f64> = (0..8)
            .map(|seed| {
                let o = run(&cfg, seed);
                assert_eq!(metric(&o, "syn_recv_peak") as u32, c, "capacity is backlog + 1");
                metric(&o, "TcpExtTCPReqQFullDrop") / metric(&o, "attack_syns")
            })
            .collect();
        let (mean, se) = mean_and_se(&ratios);
        let expected = erlang_b(c, offered);
        assert!(
            (mean - expected).abs() <= T_995_7 * se,
            "c={c} a={offered} r={retries}: measured {mean:.4} ± {se:.4}, Erlang-B {expected:.4}"
        );
    }
}

/// The ingress queue is M/D/1 under a Poisson flood the listener answers
/// statelessly (cookies always): segments waiting, not counting the one in
/// processing, average Lq = ρ² / (2(1 − ρ)) (Pollaczek-Khinchine with a
/// fixed processing time); 1.6 at ρ = 0.8, within the 99 % interval of 8
/// replicates. With room for 4, the queue peaks at exactly 4 and drops.
#[test]
fn the_ingress_queue_is_m_d_1() {
    let flood = |netdev: u32| {
        config(&format!(
            r#"
            duration = "10s"
            warmup = "1s"
            hz = 0
            [network]
            delay = "1ms"
            [server]
            tcp_syncookies = 2
            packet_rate = 100_000
            netdev_max_backlog = {netdev}
            [attackers.flood]
            kind = "spoofed-syn"
            rate = 80_000
            "#
        ))
    };
    let cfg = flood(100_000);
    let means: Vec<f64> = (0..8).map(|seed| metric(&run(&cfg, seed), "ingress_queue_mean")).collect();
    let (mean, se) = mean_and_se(&means);
    let rho: f64 = 0.8;
    let expected = rho * rho / (2.0 * (1.0 - rho));
    eprintln!("ingress queue: {mean:.4} ± {se:.4} waiting, M/D/1 {expected:.4}");
    assert!((mean - expected).abs() <= T_995_7 * se, "measured {mean:.4} ± {se:.4}, M/D/1 {expected:.4}");
    let small = run(&flood(4), 1);
    assert_eq!(metric(&small, "ingress_queue_peak"), 4.0);
    assert!(metric(&small, "ingress_drops") > 0.0);
}

/// Little's law gives the mean hold of a request: mean SYN_RECV over the
/// rate of SYNs admitted.
fn mean_hold(o: &RunOutcome) -> f64 {
    let admitted = metric(o, "attack_syns") - metric(o, "TcpExtTCPReqQFullDrop");
    metric(o, "syn_recv_mean") / (admitted / metric(o, "measured_s"))
}

/// Under a flood that keeps the queue full, Linux's pruning in
/// `reqsk_timer_handler` cuts the 63 s hold of a request (r = 5) towards
/// 7 s: with few young requests the retry threshold falls to 2 or 3
/// (hold 7 or 15 s). Without pruning every request lives the full 63 s.
#[test]
fn pruning_shortens_the_hold_towards_7_s() {
    // Under saturation the queue refills in synchronized batches every hold
    // time, so Little's law needs a window of many holds: 50 x 63 s.
    let pruned = run(&spoofed_flood(255, 100.0, 5, true, 130, 3150), 1);
    let plain = run(&spoofed_flood(255, 100.0, 5, false, 130, 3150), 1);
    let (w_pruned, w_plain) = (mean_hold(&pruned), mean_hold(&plain));
    assert!((w_plain - 63.0).abs() < 1.3, "without pruning the hold is 63 s, got {w_plain:.2}");
    assert!((7.0..=15.0).contains(&w_pruned), "with pruning the hold is 7..15 s, got {w_pruned:.2}");
    // The shorter hold admits proportionally more SYNs into the same queue.
    let admitted = |o: &RunOutcome| metric(o, "attack_syns") - metric(o, "TcpExtTCPReqQFullDrop");
    assert!(admitted(&pruned) > 4.0 * admitted(&plain));
}

fn flood_with_clients(cookies: u8, attack_rate: f64) -> RunConfig {
    config(&format!(
        r#"
        duration = "8s"
        warmup = "1s"
        [network]
        delay = "10ms"
        [server]
        tcp_syncookies = {cookies}
        [clients.web]
        hosts = 10000
        rate = 200
        start = "1s"
        stop = "6s"
        [attackers.flood]
        kind = "spoofed-syn"
        rate = {attack_rate}
        profile = {{ shape = "constant" }}
        "#
    ))
}

/// tcp_syncookies = 1 at 100k spoofed SYN/s: the SYN queue is full all the
/// time, yet no legitimate handshake fails or even waits for a retry.
#[test]
fn syn_cookies_keep_every_legitimate_client_in_at_100k_syn_per_s() {
    let o = run(&flood_with_clients(1, 100_000.0), 1);
    assert!(metric(&o, "attack_syns") > 690_000.0);
    assert!(metric(&o, "TcpExtSyncookiesSent") > 600_000.0);
    let attempts = metric(&o, "legit_attempts");
    assert!(attempts > 900.0);
    assert_eq!(metric(&o, "legit_established"), attempts);
    assert_eq!(metric(&o, "TcpExtListenDrops"), 0.0);
    assert_eq!(metric(&o, "client_syn_retrans"), 0.0);
    assert!(metric(&o, "connect_max_ms") < 25.0, "one round trip: {}", metric(&o, "connect_max_ms"));
    // The same flood without cookies shuts nearly everyone out.
    let off = run(&flood_with_clients(0, 100_000.0), 1);
    assert!(metric(&off, "legit_established") < 0.05 * metric(&off, "legit_attempts"));
}

fn churn(rate: f64, hosts: u64, extra: &str, duration_s: u64, stop_s: u64) -> RunConfig {
    // hz = 0: Little's law below takes TIME-WAIT as exactly 60 s; on the
    // HZ 250 wheel it lasts 60-62.05 s (level 3, a 2.048 s grid).
    config(&format!(
        r#"
        duration = "{duration_s}s"
        warmup = "70s"
        bin = "1s"
        hz = 0
        [network]
        delay = "5ms"
        [clients.web]
        hosts = {hosts}
        rate = {rate}
        hold = "100ms"
        stop = "{stop_s}s"
        {extra}
        "#
    ))
}

/// Little's law: connections closed by the client at rate r leave r x 60 s
/// entries in TIME-WAIT. The time average over [70 s, 200 s] of that M/D/inf
/// count has sd sqrt(r (T - D + 2D/3) D / T^2) = 34.2 for r = 50, D = 60,
/// T = 130; the test allows 3 sd. The count is zero 60 s after the last close.
#[test]
fn time_wait_plateau_is_rate_times_60_s_and_decays_after_the_last_close() {
    let r = 50.0;
    let mut world = World::new(&churn(r, 1000, "", 200, 200), 3, 0);
    let o = world.run();
    assert_eq!(o.time_wait_client.last, world.time_wait_entries(false));
    let mean = metric(&o, "time_wait_mean_client");
    assert!((mean - r * 60.0).abs() < 3.0 * 34.2, "plateau {mean:.1}, expected {}", r * 60.0);
    assert_eq!(metric(&o, "time_wait_peak_server"), 0.0, "only the active closer holds TIME-WAIT");

    let o = run(&churn(r, 1000, "", 230, 150), 3);
    let tw = |t: f64| o.series.rows.iter().find(|(ts, _)| (*ts - t).abs() < 1e-9).unwrap().1[0];
    // Closes end at 150 s + hold + a round trip; entries then live 60 s.
    assert!(tw(150.0) > 2500.0);
    assert!(tw(209.0) > 0.0, "still draining at 209 s");
    assert_eq!(tw(211.0), 0.0, "empty 60 s after the last close");
}

/// Little's law holds under jitter too: with a lognormal one-way delay
/// (median 20 ms, sigma 0.8, the loss study's) FIFO paths keep every
/// TIME-WAIT its full 60 s; independent delays used to let RSTs end about
/// half of them early. Same 3-sd bound as above.
#[test]
fn time_wait_plateau_holds_under_lognormal_delay() {
    let r = 50.0;
    let mut cfg = churn(r, 1000, "", 200, 200);
    cfg.network.delay = config(
        "duration = \"1s\"\n[network]\ndelay = { dist = \"lognormal\", median = \"20ms\", sigma = 0.8 }\n\
         [clients.c]\nhosts = 1\nrate = 1\n",
    )
    .network
    .delay;
    let o = run(&cfg, 3);
    let mean = metric(&o, "time_wait_mean_client");
    assert!((mean - r * 60.0).abs() < 3.0 * 34.2, "plateau {mean:.1}, expected {}", r * 60.0);
    assert!(
        metric(&o, "TcpOutRsts") < 0.01 * metric(&o, "legit_attempts"),
        "RSTs {}",
        metric(&o, "TcpOutRsts")
    );
}

/// One client host to one server address and port has 28232 ports: with
/// TIME-WAIT holding each for 60 s it sustains 28232 / 60 = 470.5
/// connections per second. Below that nothing fails; above it connect()
/// fails with EADDRNOTAVAIL, unless tcp_tw_reuse lets TIME-WAIT ports go.
#[test]
fn ports_run_out_above_28232_per_60_s_unless_tw_reuse() {
    let below = run(&churn(430.0, 1, "", 310, 310), 1);
    assert_eq!(metric(&below, "failed_no_port"), 0.0);
    let above = run(&churn(550.0, 1, "", 310, 310), 1);
    let attempts = metric(&above, "legit_attempts");
    let failed = metric(&above, "failed_no_port");
    // A port is busy for the connection (~0.13 s) plus 60 s of TIME-WAIT,
    // so ~469.5/s get one and the rest fail. Exhaustion comes in waves
    // 60 s apart (the freed ports echo the first minute's connections):
    // the 240 s window holds four of them.
    let expected = 1.0 - 28232.0 / 60.13 / 550.0;
    assert!((failed / attempts - expected).abs() < 0.03, "{failed} of {attempts} failed");
    let reuse = run(&churn(550.0, 1, "tcp_tw_reuse = 1", 310, 310), 1);
    assert_eq!(metric(&reuse, "failed_no_port"), 0.0);
    assert!(metric(&reuse, "time_wait_peak_client") <= 28232.0);
}

/// The same cap on the client side frees the ports that would have sat in
/// TIME-WAIT: one host at 600 connections/s no longer runs out.
#[test]
fn client_tw_buckets_cap_the_clients_count_and_free_their_ports() {
    let cfg = churn(600.0, 1, "tcp_max_tw_buckets = 5000", 150, 150);
    let mut world = World::new(&cfg, 1, 0);
    let o = world.run();
    assert_eq!(metric(&o, "time_wait_peak_client"), 5000.0);
    assert_eq!(o.time_wait_client.last, world.time_wait_entries(false));
    assert_eq!(metric(&o, "failed_no_port"), 0.0);
    assert!(metric(&o, "time_wait_overflow_client") > 10_000.0);
}

/// tcp_max_tw_buckets caps the count exactly, and the overflow counter
/// accounts for every connection that skipped TIME-WAIT.
#[test]
fn tw_buckets_cap_time_wait_exactly() {
    let cfg = config(
        r#"
        duration = "100s"
        bin = "1s"
        [network]
        delay = "5ms"
        [server]
        tcp_max_tw_buckets = 500
        [clients.web]
        hosts = 1000
        rate = 50
        hold = "100ms"
        closer = "server"
        "#,
    );
    let mut world = World::new(&cfg, 2, 0);
    let o = world.run();
    assert_eq!(metric(&o, "time_wait_peak_server"), 500.0);
    // The gauge agrees with the connections actually in TIME-WAIT.
    assert_eq!(o.time_wait_server.last, world.time_wait_entries(true));
    assert_eq!(o.time_wait_server.last, 500);
    let entered = metric(&o, "time_wait_entered_server");
    let overflow = metric(&o, "TcpExtTCPTimeWaitOverflow");
    assert!(overflow > 1000.0);
    // Every connection the server closed first either entered TIME-WAIT or overflowed.
    let closed_by_server = metric(&o, "legit_completed");
    assert!(
        (entered + overflow - closed_by_server).abs() <= 2.0,
        "{entered} + {overflow} vs {closed_by_server}"
    );
}

/// When the server closes first, one client host cycling through its ports
/// soon sends a SYN for a 4-tuple the server still holds in TIME-WAIT. Linux
/// accepts it when its sequence number or timestamp is newer (`TCP_TW_SYN`,
/// `tcp_timewait_state_process`): the clients' timestamps always are, so
/// every such SYN reopens the 4-tuple and no connection fails.
#[test]
fn a_syn_for_a_server_time_wait_4_tuple_reopens_it() {
    let o = run(&churn(600.0, 1, "closer = \"server\"", 150, 150), 1);
    assert!(
        metric(&o, "time_wait_reopened_server") > 10_000.0,
        "{}",
        metric(&o, "time_wait_reopened_server")
    );
    assert_eq!(metric(&o, "failed_no_port") + metric(&o, "failed_timeout") + metric(&o, "failed_reset"), 0.0);
    assert_eq!(metric(&o, "time_wait_peak_client"), 0.0);
    // The server's TIME-WAIT count is bounded by the 4-tuples one host can use.
    assert!(metric(&o, "time_wait_peak_server") <= 28232.0);
}
