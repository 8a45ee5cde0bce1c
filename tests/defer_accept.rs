//! TCP_DEFER_ACCEPT (`[server] tcp_defer_accept`, as nginx's `deferred`
//! sets it: 1 s): the server drops the bare final ACK and creates the
//! connection when the client's first data arrives (`tcp_check_req`), or,
//! for a client that sends none, at the SYN-ACK retransmitted when the
//! deferral ends (`syn_ack_recalc`).

use synsim::config::RunConfig;
use synsim::sim::{RunOutcome, World};

/// 50 connections a second to the end, each held 3 s by the client.
fn run(defer_s: u32, request_bytes: u16) -> RunOutcome {
    let text = format!(
        r#"
        duration = "30s"
        warmup = "5s"
        [network]
        delay = "10ms"
        [server]
        tcp_defer_accept = {defer_s}
        [clients.web]
        hosts = 1000
        rate = 50
        hold = "3s"
        request_bytes = {request_bytes}
        "#
    );
    let cfg: RunConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("bad test config: {e}"));
    World::new(&cfg, 1, 0).run()
}

fn metric(o: &RunOutcome, name: &str) -> f64 {
    o.metrics().iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no metric {name}")).1
}

#[test]
fn a_client_that_sends_data_is_accepted_on_its_data() {
    let o = run(1, 200);
    let drops = metric(&o, "TcpExtTCPDeferAcceptDrop");
    let opens = metric(&o, "TcpPassiveOpens");
    // Every bare ACK dropped, every connection made by the data behind it:
    // no SYN-ACK retransmitted, requests wait one RTT as without the option.
    assert!(opens > 900.0 && (drops - opens).abs() <= 5.0, "drops {drops}, opens {opens}");
    assert_eq!(metric(&o, "TcpExtTCPSynRetrans"), 0.0);
    let (with, without) = (metric(&o, "syn_recv_mean"), metric(&run(0, 200), "syn_recv_mean"));
    assert!(
        with < 2.0 && (with - without).abs() < 0.2,
        "SYN-RECV mean {with:.2}, without the option {without:.2}"
    );
    assert_eq!(metric(&o, "legit_success_ratio"), 1.0);
}

#[test]
fn a_silent_client_is_accepted_at_the_synack_of_the_deferral_end() {
    // No data: each request waits for its timer (1 s; 1.008 s on the HZ 250
    // wheel), which sends the SYN-ACK again; the client's ACK to it, 20 ms
    // later, completes the handshake. So about 50/s x 1.03 s requests in
    // SYN-RECEIVED and one SYN-ACK retransmission per connection; the
    // client, established at once, sees no difference.
    let o = run(1, 0);
    let opens = metric(&o, "TcpPassiveOpens");
    let retrans = metric(&o, "TcpExtTCPSynRetrans");
    assert!((retrans - opens).abs() <= 55.0, "SYN-ACK retransmissions {retrans}, opens {opens}");
    let syn_recv = metric(&o, "syn_recv_mean");
    assert!((syn_recv - 51.4).abs() < 4.0, "SYN-RECV mean {syn_recv:.1}");
    assert_eq!(metric(&o, "legit_success_ratio"), 1.0);
    assert!(metric(&run(0, 0), "syn_recv_mean") < 2.0);
}
