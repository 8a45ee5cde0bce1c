//! Each defense against a SYN flood acts through its own mechanism
//! (issue 4): the tests set up the regime where that mechanism matters and
//! check the effect, with fixed seeds.

use synsim::config::RunConfig;
use synsim::sim::{RunOutcome, World};

fn config(text: &str) -> RunConfig {
    toml::from_str(text).unwrap_or_else(|e| panic!("bad test config: {e}"))
}

fn run(text: &str, seed: u64) -> RunOutcome {
    World::new(&config(text), seed, 0).run()
}

fn metric(o: &RunOutcome, name: &str) -> f64 {
    o.metrics().iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no metric {name}")).1
}

/// A flood against a queue of `backlog + 1` requests held 3 s each
/// (tcp_synack_retries = 1, pruning off), with legitimate clients that try
/// once. hz = 0: Erlang-B below takes the 3 s as exact. One try needs
/// tcp_syn_linear_timeouts = 0 too: with the linear schedule,
/// tcp_syn_retries = 0 still retransmits once (`tcp_write_timeout` allows
/// 0 + 4 retransmissions and `retransmits_timed_out` is false before the
/// first), failing at 2 s.
fn flood(backlog: u32, rate: f64) -> String {
    format!(
        r#"
        duration = "40s"
        warmup = "10s"
        hz = 0
        [network]
        delay = "5ms"
        [server]
        tcp_syncookies = 0
        tcp_synack_retries = 1
        synack_pruning = false
        listen_backlog = {backlog}
        tcp_max_syn_backlog = 1000000
        [clients.web]
        hosts = 10000
        rate = 20
        stop = "30s"
        tcp_syn_retries = 0
        tcp_syn_linear_timeouts = 0
        [attackers.flood]
        kind = "spoofed-syn"
        rate = {rate}
        "#
    )
}

/// The attack rate at which half the legitimate handshakes fail, by linear
/// interpolation over a geometric grid of rates.
fn collapse_rate(backlog: u32) -> f64 {
    let c = (backlog + 1) as f64;
    let mut last = (0.0, 1.0);
    for k in 0..24 {
        let rate = c / 3.0 * 0.5 * 1.25f64.powi(k);
        let o = run(&flood(backlog, rate), 1);
        let success = metric(&o, "legit_success_ratio");
        if success < 0.5 {
            let (r0, s0) = last;
            return r0 + (rate - r0) * (s0 - 0.5) / (s0 - success);
        }
        last = (rate, success);
    }
    panic!("no collapse for backlog {backlog}")
}

/// A bigger backlog moves the collapse to an attack rate proportional to
/// the queue size (with one try per client, success = 1 - Erlang-B, which
/// halves near a = 2c for these c).
#[test]
fn a_bigger_backlog_moves_the_collapse_proportionally() {
    let small = collapse_rate(63);
    let big = collapse_rate(255);
    let ratio = big / small;
    assert!(
        (3.4..=4.6).contains(&ratio),
        "collapse at {small:.0} and {big:.0} SYN/s: ratio {ratio:.2}, expected ~4"
    );
}

/// Fewer SYN-ACK retries shorten a request's hold: 2^(r+1) - 1 seconds.
#[test]
fn fewer_synack_retries_shorten_the_hold() {
    for (retries, hold) in [(1u8, 3.0), (2, 7.0), (3, 15.0)] {
        let text = format!(
            r#"
            duration = "{total}s"
            warmup = "{warm}s"
            [network]
            delay = "1ms"
            [server]
            tcp_syncookies = 0
            tcp_synack_retries = {retries}
            synack_pruning = false
            listen_backlog = 100000
            tcp_max_syn_backlog = 1000000
            [attackers.flood]
            kind = "spoofed-syn"
            rate = 200
            "#,
            warm = 2 * hold as u64,
            total = 2 * hold as u64 + 200,
        );
        let o = run(&text, 1);
        // Nothing is dropped, so Little's law gives the hold directly.
        assert_eq!(metric(&o, "TcpExtTCPReqQFullDrop"), 0.0);
        let w = metric(&o, "syn_recv_mean") / (metric(&o, "attack_syns") / metric(&o, "measured_s"));
        assert!((w - hold).abs() < 0.05 * hold, "r = {retries}: hold {w:.2} s, expected {hold} s");
    }
}

/// Bursts (on/off) that overflow the ingress queue but not the SYN queue
/// (cookies on): a bigger netdev_max_backlog absorbs them. The clients
/// back off by doubling (tcp_syn_linear_timeouts = 0): with 1 s linear
/// retries every client gets in within the run behind either backlog, and
/// the success ratio no longer shows the lost SYNs.
fn bursty(netdev: u32, packet_rate: &str, cookies: u8) -> String {
    format!(
        r#"
        duration = "20s"
        warmup = "2s"
        [network]
        delay = "5ms"
        [server]
        tcp_syncookies = {cookies}
        netdev_max_backlog = {netdev}
        packet_rate = {packet_rate}
        [clients.web]
        hosts = 10000
        rate = 200
        stop = "15s"
        tcp_syn_linear_timeouts = 0
        [attackers.flood]
        kind = "spoofed-syn"
        rate = 60000
        profile = {{ shape = "on-off", on = "100ms", off = "400ms" }}
        "#
    )
}

#[test]
fn a_bigger_netdev_backlog_helps_only_when_ingress_overflows() {
    // Ingress is the bottleneck: 6000-SYN bursts meet 20k/s of processing.
    let small = run(&bursty(1000, "20000", 1), 1);
    let big = run(&bursty(10000, "20000", 1), 1);
    assert!(metric(&small, "ingress_drops") > 10_000.0, "{}", metric(&small, "ingress_drops"));
    assert_eq!(metric(&big, "ingress_drops"), 0.0);
    assert!(
        metric(&big, "legit_success_ratio") > metric(&small, "legit_success_ratio"),
        "{} vs {}",
        metric(&big, "legit_success_ratio"),
        metric(&small, "legit_success_ratio")
    );
    assert!(metric(&small, "client_syn_retrans") > metric(&big, "client_syn_retrans"));
    // The SYN queue is the bottleneck (no cookies, no ingress limit): the
    // netdev backlog changes nothing at all.
    let a = run(&bursty(1000, "\"unlimited\"", 0), 1);
    let b = run(&bursty(10000, "\"unlimited\"", 0), 1);
    assert!(metric(&a, "TcpExtListenDrops") > 0.0);
    assert_eq!(format!("{:?}", a.metrics()), format!("{:?}", b.metrics()), "NaN-safe comparison");
}

/// Attackers as workloads: connect-flood fills the accept queue of an
/// application that does not accept; half-open fills the SYN queue from
/// real hosts; spoofed sources that answer RST free their requests.
#[test]
fn attack_kinds_hit_the_queues_they_target() {
    let base = |attack: &str, server: &str| {
        format!(
            r#"
            duration = "10s"
            [network]
            delay = "5ms"
            [server]
            listen_backlog = 128
            tcp_syncookies = 0
            {server}
            [attackers.a]
            {attack}
            "#
        )
    };
    let o = run(&base("kind = \"connect-flood\"\nrate = 500\nhosts = 100", "accept_rate = 0"), 1);
    assert_eq!(metric(&o, "accept_queue_peak"), 129.0, "sk_acceptq_is_full is `> backlog`");
    assert!(metric(&o, "TcpExtListenOverflows") > 1000.0);

    let o = run(&base("kind = \"half-open\"\nrate = 500\nhosts = 100", ""), 1);
    assert_eq!(metric(&o, "syn_recv_peak"), 129.0);
    assert!(metric(&o, "TcpExtTCPReqQFullDrop") > 1000.0);

    // Every spoofed source answers the SYN-ACK with RST: each request lives
    // one round trip, the queue never fills.
    let o = run(&base("kind = \"spoofed-syn\"\nrate = 500\nrst_fraction = 1.0", ""), 1);
    assert_eq!(metric(&o, "TcpExtTCPReqQFullDrop"), 0.0);
    assert!(metric(&o, "syn_recv_peak") < 20.0, "{}", metric(&o, "syn_recv_peak"));

    // On/off: the rate is on for a fifth of the time.
    let o = run(
        &base(
            "kind = \"spoofed-syn\"\nrate = 1000\nprofile = { shape = \"on-off\", on = \"1s\", off = \"4s\" }",
            "",
        ),
        1,
    );
    let sent = metric(&o, "attack_syns_sent");
    assert!((sent - 2000.0).abs() < 150.0, "{sent}");
}

/// Issue 12's testbed point: a constant 50 SYN/s flood against a queue of
/// 128 (cookies off, tcp_synack_retries = 1, so each request lives 3 s),
/// legitimate clients at 30 conn/s. A request's slot frees when its timer
/// fires; with exact timers that instant is exactly when a flood SYN
/// arrives (SYNs every 20 ms, a request expiring 3 s = 150 of those after
/// its own SYN), which takes the slot every time, and no client gets in. On the kernel's timer wheel (HZ 250) requests
/// expire on a 32 ms grid, slots free in between flood SYNs and clients
/// get in: the real kernel let 99 % through. A 0.1 % faster flood breaks
/// the coincidence, so exact timers jump to 1.0 there; the wheel does not
/// care. No TCP metrics, as on the testbed (`tcp_no_metrics_save = 1`):
/// clients proven by an earlier connection would pass the last-quarter
/// rule and break the coincidence too.
fn constant_flood(hz: u32, rate: f64) -> String {
    format!(
        r#"
        duration = "70s"
        warmup = "10s"
        hz = {hz}
        [network]
        delay = "1ms"
        [server]
        listen_backlog = 128
        somaxconn = 128
        tcp_max_syn_backlog = 128
        tcp_syncookies = 0
        tcp_synack_retries = 1
        tcp_no_metrics_save = true
        [clients.web]
        hosts = 10000
        rate = 30
        stop = "60s"
        [attackers.flood]
        kind = "spoofed-syn"
        rate = {rate}
        profile = "constant"
        "#
    )
}

#[test]
fn the_timer_wheel_lets_clients_past_a_constant_flood_as_the_kernel_does() {
    for rate in [50.0, 50.05] {
        let s = metric(&run(&constant_flood(250, rate), 1), "legit_success_ratio");
        assert!(s > 0.97, "hz 250, {rate} SYN/s: success {s:.3}, the kernel's 0.99");
    }
    let exact = metric(&run(&constant_flood(0, 50.0), 1), "legit_success_ratio");
    let off = metric(&run(&constant_flood(0, 50.05), 1), "legit_success_ratio");
    assert!(exact < 0.05 && off > 0.97, "hz 0: {exact:.3} at 50 SYN/s, {off:.3} at 50.05");
}
