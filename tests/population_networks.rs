//! `[clients.NAME.network]`: a population's own paths beside the others'.

use std::collections::HashMap;
use synsim::experiment::Experiment;
use synsim::sim::{RunOutcome, World};

fn run(text: &str) -> RunOutcome {
    let exp = Experiment::parse(text, "p.toml", "p").unwrap();
    let r = &exp.runs()[0];
    World::new(&r.config, r.seed, 0).run()
}

fn metrics(o: &RunOutcome) -> HashMap<&'static str, f64> {
    o.metrics().into_iter().collect()
}

const TWO: &str = r#"
duration = "20s"
[network]
delay = "10ms"
[clients.dc]
hosts = 100000
rate = 100
stop = "19s"
[clients.mobile]
hosts = 100000
rate = 100
stop = "19s"
[clients.mobile.network]
delay = "50ms"
client_to_server = { delay = "30ms" }
"#;

#[test]
fn each_population_connects_in_its_own_round_trip() {
    let o = run(TWO);
    let m = metrics(&o);
    // connect() returns when the SYN-ACK arrives: one round trip, the
    // two one-way delays. dc: 10 + 10 ms; mobile: 30 ms out (its
    // direction table), 50 ms back (its own delay).
    let buckets = o.connect_time.buckets_ms();
    assert_eq!(buckets.len(), 2, "two round trips, nothing else: {buckets:?}");
    let (dc, mobile) = (buckets[0], buckets[1]);
    // A bucket's upper bound is within 1/32 above its values.
    assert!((20.0..20.0 * 1.04).contains(&dc.0), "{dc:?}");
    assert!((80.0..80.0 * 1.04).contains(&mobile.0), "{mobile:?}");
    // Equal rates: half the connections each (sd 0.008 at ~3800).
    let share = mobile.1 as f64 / (dc.1 + mobile.1) as f64;
    assert!((share - 0.5).abs() < 0.04, "mobile share {share}");
    assert_eq!((dc.1 + mobile.1) as f64, m["legit_established"]);
}

#[test]
fn loss_is_per_population_unless_it_shares_the_bottleneck() {
    let lossy = TWO.replace("delay = \"50ms\"", "delay = \"50ms\"\nloss = 0.3");
    let o = run(&lossy);
    // Only mobile loses segments: every retry (>= 1 s) is a mobile
    // connection, every dc connection takes exactly 20 ms.
    let b = o.connect_time.buckets_ms();
    assert!(b[0].0 < 21.0 && b[0].1 > 1500, "{b:?}");
    assert!(b.iter().skip(1).all(|&(ms, _)| ms > 79.0), "{b:?}");
    let slow: u64 = b.iter().filter(|&&(ms, _)| ms > 900.0).map(|&(_, n)| n).sum();
    assert!(slow > 200, "mobile SYN or SYN-ACK lost 1 - 0.7^2 of the time: {slow}");
    // shared_loss: mobile's segments cross [network]'s channel (no loss).
    let shared = TWO.replace("delay = \"50ms\"", "delay = \"50ms\"\nshared_loss = true");
    assert_eq!(metrics(&run(&shared))["segments_lost"], 0.0);
}

#[test]
fn an_empty_network_table_changes_nothing_with_stateless_loss() {
    // Bernoulli loss keeps no state, and every population draws from the
    // same streams: a population with its own copy of [network] is
    // indistinguishable from one on [network]'s paths.
    let base = "duration = \"10s\"\n[network]\nloss = 0.05\ndelay = { dist = \"lognormal\", median = \"20ms\", \
                sigma = 0.5 }\n[clients.web]\nhosts = 1000\nrate = 200\n";
    let with_table = format!("{base}[clients.web.network]\n");
    assert_eq!(run(base).metrics(), run(&with_table).metrics());
}

#[test]
fn a_jittered_population_keeps_its_flows_fifo() {
    // The mobile path jitters, [network]'s does not, and the server sends
    // its bare ACK and its FIN 6 ms apart (its close() comes after the
    // delayed ACK): FIFO applies to the mobile flows, so no FIN overtakes
    // its ACK and no RST ends a TIME-WAIT; with reorder on for mobile
    // alone, it does.
    let jitter = "delay = { dist = \"uniform\", low = \"5ms\", high = \"25ms\" }";
    let fifo = TWO
        .replace("delay = \"50ms\"\nclient_to_server = { delay = \"30ms\" }", jitter)
        .replace("[network]\n", "[server]\nclose_delay = \"6ms\"\n[network]\n");
    let m = metrics(&run(&fifo));
    assert!(m["TcpOutRsts"] <= 5.0, "{}", m["TcpOutRsts"]);
    let m = metrics(&run(&format!("{fifo}reorder = true\n")));
    assert!(m["TcpOutRsts"] > 100.0, "{}", m["TcpOutRsts"]);
}

#[test]
fn an_attackers_network_carries_its_syns() {
    // A spoofed-syn attacker behind a path that loses everything: its SYNs
    // are sent and none arrives; the clients' paths are untouched.
    let flood = |net: &str| {
        format!(
            "duration = \"5s\"\n[clients.web]\nhosts = 100\nrate = 50\n[attackers.flood]\n\
             kind = \"spoofed-syn\"\nrate = 1000\n{net}"
        )
    };
    let m = metrics(&run(&flood("[attackers.flood.network]\nloss = 1.0\n")));
    assert!(m["attack_syns_sent"] > 4000.0, "{}", m["attack_syns_sent"]);
    assert_eq!(m["attack_syns"], 0.0);
    assert_eq!(m["segments_lost"], m["attack_syns_sent"], "only the attacker's segments are lost");
    assert_eq!(m["legit_success_ratio"], 1.0);
    // On [network]'s path all arrive but the last 10 ms' worth, in flight at the end.
    let m = metrics(&run(&flood("")));
    assert!(
        m["attack_syns"] >= m["attack_syns_sent"] - 30.0,
        "{} of {}",
        m["attack_syns"],
        m["attack_syns_sent"]
    );
}
