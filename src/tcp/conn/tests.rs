//! State-machine tests, grouped by state, driven with explicit times.

use super::*;

const C: SockAddr = SockAddr::new(0x0B00_0001, 40_000);
const S: SockAddr = SockAddr::new(0x0A00_0001, 80);

/// Exact timers (`hz = 0`) and the doubling SYN schedule
/// (`tcp_syn_linear_timeouts = 0`): these tests check the state machine's
/// rules at times one can read off. The timer wheel and the linear
/// schedule have their own tests below (and in `tcp::timer_wheel`).
fn p() -> TcpParams {
    TcpParams { hz: 0, syn_linear_timeouts: 0, ..TcpParams::default() }
}

/// Every expiry of `tcb`'s timer until it has none: (times in ms, segments sent).
fn run_timers(tcb: &mut Tcb, p: &TcpParams) -> (Vec<u64>, Vec<Segment>) {
    let mut out = Vec::new();
    let mut fired = Vec::new();
    while let Some(at) = tcb.poll_timeout() {
        tcb.handle_timeout(at, p, &mut out);
        fired.push(at.as_millis());
    }
    (fired, out)
}

fn t(ms: u64) -> SimTime {
    SimTime::from_millis(ms)
}

/// A client and a server request after the SYN crossed: (client, server, SYN-ACK).
fn half_open() -> (Tcb, Tcb, Segment) {
    let mut out = Vec::new();
    let client = Tcb::connect(t(0), C, S, 1000, &p(), &mut out);
    let syn = out.pop().unwrap();
    let server = Tcb::accept_syn(t(10), &syn, 5000, &p(), &mut out);
    let syn_ack = out.pop().unwrap();
    (client, server, syn_ack)
}

/// Both ends ESTABLISHED at 30 ms.
fn established() -> (Tcb, Tcb) {
    let (mut client, mut server, syn_ack) = half_open();
    let mut out = Vec::new();
    client.handle_segment(t(20), &syn_ack, &p(), &mut out);
    let ack = out.pop().unwrap();
    server.handle_segment(t(30), &ack, &p(), &mut out);
    assert!(out.is_empty());
    (client, server)
}

fn one(out: &mut Vec<Segment>) -> Segment {
    assert_eq!(out.len(), 1, "{out:?}");
    out.pop().unwrap()
}

// ----- CLOSED -> SYN-SENT ---------------------------------------------------

#[test]
fn connect_sends_a_syn_that_consumes_one_sequence_number() {
    let mut out = Vec::new();
    let tcb = Tcb::connect(t(0), C, S, 1000, &p(), &mut out);
    let syn = one(&mut out);
    assert_eq!(tcb.state, State::SynSent);
    assert_eq!((syn.flags, syn.seq, syn.mss), (Flags::SYN, 1000, 1460));
    assert_eq!(tcb.snd_nxt, 1001);
    assert_eq!(tcb.poll_timeout(), Some(t(1000)));
}

// ----- SYN-SENT ---------------------------------------------------------------

#[test]
fn syn_sent_retransmits_at_1_3_7_15_31_63_then_fails_at_127_s() {
    let mut out = Vec::new();
    let mut tcb = Tcb::connect(t(0), C, S, 1000, &p(), &mut out);
    out.clear();
    let mut fired = Vec::new();
    while let Some(at) = tcb.poll_timeout() {
        tcb.handle_timeout(at, &p(), &mut out);
        fired.push(at.as_millis());
    }
    assert_eq!(fired, [1_000, 3_000, 7_000, 15_000, 31_000, 63_000, 127_000]);
    assert_eq!(out.len(), 6);
    assert!(out.iter().all(|s| s.seq == 1000 && s.flags == Flags::SYN));
    assert_eq!((tcb.state, tcb.close_cause), (State::Closed, Some(CloseCause::Timeout)));
}

#[test]
fn syn_sent_linear_timeouts_retransmit_every_second_then_double() {
    // Linux >= 6.5 defaults: tcp_syn_linear_timeouts 4, tcp_syn_retries 6.
    // SYNs at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s; the expiry at 131 s
    // finds 6 + 4 retransmissions done and fails connect().
    let params = TcpParams { syn_linear_timeouts: 4, ..p() };
    let mut tcb = Tcb::connect(t(0), C, S, 1000, &params, &mut Vec::new());
    let (fired, out) = run_timers(&mut tcb, &params);
    let secs: Vec<u64> = fired.iter().map(|ms| ms / 1000).collect();
    assert_eq!(secs, [1, 2, 3, 4, 5, 7, 11, 19, 35, 67, 131]);
    assert_eq!(out.len(), 10);
    assert_eq!(tcb.close_cause, Some(CloseCause::Timeout));
}

#[test]
fn syn_sent_deadline_is_retransmits_timed_out_not_the_count() {
    // tcp_syn_retries 2 with linear 4: at most 6 retransmissions, but
    // `retransmits_timed_out()` ends SYN-SENT once 7 s (the doubling
    // model of 2 retries) have passed since the first SYN: SYNs at 0-5 s,
    // failure at 7 s.
    let params = TcpParams { syn_retries: 2, syn_linear_timeouts: 4, ..p() };
    let mut tcb = Tcb::connect(t(0), C, S, 1000, &params, &mut Vec::new());
    let (fired, out) = run_timers(&mut tcb, &params);
    assert_eq!(fired, [1_000, 2_000, 3_000, 4_000, 5_000, 7_000]);
    assert_eq!(out.len(), 5);
    // On the timer wheel at HZ 250 every 1 s RTO fires 1.024 s after the
    // previous (250 jiffies, level 1, rounded up to 8 jiffies), the 2 s one
    // 2.016 s after: failure at 7.136 s, as the testbed's ~7.1 s.
    let params = TcpParams { hz: 250, ..params };
    let mut tcb = Tcb::connect(t(0), C, S, 1000, &params, &mut Vec::new());
    let (fired, out) = run_timers(&mut tcb, &params);
    assert_eq!(fired, [1_024, 2_048, 3_072, 4_096, 5_120, 7_136]);
    assert_eq!(out.len(), 5);
    assert_eq!(tcb.close_cause, Some(CloseCause::Timeout));
}

#[test]
fn request_synack_schedule_on_the_hz_250_timer_wheel() {
    // A SYN taken at 16 ms (4 jiffies past an 8-jiffy slot): SYN-ACK
    // retransmissions 1.008 s and 3.024 s after the first, as on the
    // testbed; with exact timers 1 s and 3 s.
    let params = TcpParams { hz: 250, synack_retries: 2, ..p() };
    let mut out = Vec::new();
    let _client = Tcb::connect(t(0), C, S, 1000, &params, &mut out);
    let syn = out.pop().unwrap();
    let mut server = Tcb::accept_syn(t(16), &syn, 5000, &params, &mut out);
    let (fired, _) = run_timers(&mut server, &params);
    assert_eq!(fired[..2], [16 + 1_008, 16 + 3_024]);
    let exact = TcpParams { hz: 0, ..params };
    let mut server = Tcb::accept_syn(t(16), &syn, 5000, &exact, &mut out);
    let (fired, _) = run_timers(&mut server, &exact);
    assert_eq!(fired[..2], [16 + 1_000, 16 + 3_000]);
}

#[test]
fn syn_sent_takes_a_syn_ack_and_acks_it_without_consuming_sequence() {
    let (mut client, _, syn_ack) = half_open();
    let mut out = Vec::new();
    client.handle_segment(t(20), &syn_ack, &p(), &mut out);
    let ack = one(&mut out);
    assert_eq!(client.state, State::Established);
    assert_eq!((ack.flags, ack.seq, ack.ack), (Flags::ACK, 1001, 5001));
    assert_eq!(ack.seq_len(), 0);
    assert_eq!(client.poll_timeout(), None);
    // RTT 20 ms from the echoed timestamp: RTO = 20 ms + max(4 x 10 ms, 200 ms).
    assert_eq!(client.srtt(), Some(SimDuration::from_millis(20)));
    assert_eq!(client.rto(), SimDuration::from_millis(220));
}

#[test]
fn syn_sent_answers_a_wrong_ack_with_rst_and_stays() {
    let (mut client, _, mut syn_ack) = half_open();
    syn_ack.ack = 777; // acknowledges an older incarnation's SYN
    let mut out = Vec::new();
    client.handle_segment(t(20), &syn_ack, &p(), &mut out);
    let rst = one(&mut out);
    assert_eq!((rst.flags, rst.seq), (Flags::RST, 777));
    assert_eq!(client.state, State::SynSent);
}

#[test]
fn syn_sent_is_refused_by_an_acceptable_rst_and_ignores_others() {
    let (mut client, _, syn_ack) = half_open();
    let mut out = Vec::new();
    let bare_rst = Segment { flags: Flags::RST, ack: 0, ..syn_ack };
    client.handle_segment(t(20), &bare_rst, &p(), &mut out);
    assert_eq!(client.state, State::SynSent);
    let rst_ack = Segment { flags: Flags::RST_ACK, seq: 0, ack: 1001, ..syn_ack };
    client.handle_segment(t(20), &rst_ack, &p(), &mut out);
    assert!(out.is_empty());
    assert_eq!((client.state, client.close_cause), (State::Closed, Some(CloseCause::Reset)));
}

#[test]
fn simultaneous_open_goes_through_syn_received() {
    let mut out = Vec::new();
    let mut a = Tcb::connect(t(0), C, S, 1000, &p(), &mut out);
    let mut b = Tcb::connect(t(0), S, C, 5000, &p(), &mut out);
    let syn_b = out.pop().unwrap();
    let syn_a = out.pop().unwrap();
    a.handle_segment(t(10), &syn_b, &p(), &mut out);
    b.handle_segment(t(10), &syn_a, &p(), &mut out);
    assert_eq!((a.state, b.state), (State::SynReceived, State::SynReceived));
    let sa_b = out.pop().unwrap();
    let sa_a = out.pop().unwrap();
    assert_eq!(sa_a.flags, Flags::SYN_ACK);
    a.handle_segment(t(20), &sa_b, &p(), &mut out);
    b.handle_segment(t(20), &sa_a, &p(), &mut out);
    assert_eq!((a.state, b.state), (State::Established, State::Established));
}

#[test]
fn close_in_syn_received_keeps_the_syn_ack_timer_no_loss_probe() {
    let mut out = Vec::new();
    let mut a = Tcb::connect(t(0), C, S, 1000, &p(), &mut out);
    let _peer = Tcb::connect(t(0), S, C, 5000, &p(), &mut out);
    let syn_b = out.pop().unwrap();
    a.handle_segment(t(10), &syn_b, &p(), &mut out);
    assert_eq!((a.state, a.timer_kind()), (State::SynReceived, TimerKind::Retransmit));
    let armed = a.poll_timeout();
    a.close(t(20), &p(), &mut out);
    assert_eq!((a.state, a.timer_kind(), a.poll_timeout()), (State::FinWait1, TimerKind::Retransmit, armed));
}

// ----- SYN-RECEIVED (a request) ---------------------------------------------------

#[test]
fn request_sends_syn_ack_and_retransmits_it_up_to_synack_retries() {
    let (_, mut server, syn_ack) = half_open();
    assert_eq!((syn_ack.flags, syn_ack.seq, syn_ack.ack), (Flags::SYN_ACK, 5000, 1001));
    assert_eq!(server.state, State::SynReceived);
    let mut out = Vec::new();
    let mut fired = Vec::new();
    while let Some(at) = server.poll_timeout() {
        server.handle_timeout(at, &p(), &mut out);
        fired.push(at.as_millis());
    }
    // 1, 2, 4, 8, 16 s apart after the SYN at 10 ms; dropped at 63 s.
    assert_eq!(fired, [1_010, 3_010, 7_010, 15_010, 31_010, 63_010]);
    assert_eq!(out.len(), 5);
    assert_eq!(server.close_cause, Some(CloseCause::Timeout));
}

#[test]
fn request_answers_a_duplicate_syn_with_the_syn_ack_and_restarts_its_timer() {
    let (_, mut server, _) = half_open();
    let mut out = Vec::new();
    server.handle_timeout(t(1_010), &p(), &mut out);
    out.clear();
    let dup = Segment { src: C, dst: S, seq: 1000, flags: Flags::SYN, ..Default::default() };
    server.handle_segment(t(1_500), &dup, &p(), &mut out);
    let again = one(&mut out);
    assert_eq!((again.flags, again.seq, again.ack), (Flags::SYN_ACK, 5000, 1001));
    assert_eq!(server.state, State::SynReceived);
    // `tcp_check_req` re-arms the request timer: 2 s (one timeout so far) from now.
    assert_eq!(server.poll_timeout(), Some(t(3_500)));
}

#[test]
fn request_is_killed_by_an_exact_rst() {
    let (_, mut server, _) = half_open();
    let mut out = Vec::new();
    let rst = Segment { src: C, dst: S, seq: 1001, flags: Flags::RST, ..Default::default() };
    server.handle_segment(t(30), &rst, &p(), &mut out);
    assert!(out.is_empty());
    assert_eq!((server.state, server.close_cause), (State::Closed, Some(CloseCause::Reset)));
}

#[test]
fn request_answers_a_bad_final_ack_with_rst() {
    let (_, mut server, _) = half_open();
    let mut out = Vec::new();
    let bad = Segment { src: C, dst: S, seq: 1001, ack: 4242, flags: Flags::ACK, ..Default::default() };
    assert!(!server.completes_handshake(&bad));
    server.handle_segment(t(30), &bad, &p(), &mut out);
    let rst = one(&mut out);
    assert_eq!((rst.flags, rst.seq), (Flags::RST, 4242));
    assert_eq!(server.state, State::SynReceived);
}

#[test]
fn two_way_ablation_establishes_on_the_syn() {
    let mut out = Vec::new();
    let syn = Segment { src: C, dst: S, seq: 1000, flags: Flags::SYN, ..Default::default() };
    let server = Tcb::accept_syn(t(10), &syn, 5000, &TcpParams { two_way: true, ..p() }, &mut out);
    assert_eq!(server.state, State::Established);
    assert_eq!(server.poll_timeout(), None, "nothing to retransmit");
}

// ----- ESTABLISHED and the teardown -------------------------------------------

#[test]
fn active_close_fin_wait_1_to_time_wait_then_closed_after_60_s() {
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.close(t(100), &p(), &mut out);
    let fin = one(&mut out);
    assert_eq!((client.state, fin.flags, fin.seq), (State::FinWait1, Flags::FIN_ACK, 1001));
    assert_eq!(client.snd_nxt, 1002, "FIN consumes one sequence number");
    server.handle_segment(t(110), &fin, &p(), &mut out);
    // The FIN's ACK waits for the delayed-ACK timer, which fires before
    // this server's application closes.
    assert!(out.is_empty() && server.ack_delayed());
    server.handle_timeout(t(110), &p(), &mut out);
    let ack = one(&mut out);
    assert_eq!((server.state, ack.flags, ack.ack), (State::CloseWait, Flags::ACK, 1002));
    client.handle_segment(t(120), &ack, &p(), &mut out);
    assert_eq!(client.state, State::FinWait2);
    assert_eq!(client.poll_timeout(), Some(t(120) + SimDuration::from_secs(60)), "orphan FIN-WAIT-2 timer");
    server.close(t(130), &p(), &mut out);
    let server_fin = one(&mut out);
    assert_eq!(server.state, State::LastAck);
    client.handle_segment(t(140), &server_fin, &p(), &mut out);
    let last_ack = one(&mut out);
    assert_eq!(client.state, State::TimeWait);
    assert_eq!(client.poll_timeout(), Some(t(140) + TCP_TIMEWAIT_LEN));
    server.handle_segment(t(150), &last_ack, &p(), &mut out);
    assert_eq!((server.state, server.close_cause), (State::Closed, Some(CloseCause::Normal)));
    client.handle_timeout(t(60_140), &p(), &mut out);
    assert_eq!((client.state, client.close_cause), (State::Closed, Some(CloseCause::Normal)));
    assert!(out.is_empty());
}

#[test]
fn fin_wait_2_orphan_times_out_after_tcp_fin_timeout() {
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.close(t(100), &p(), &mut out);
    let fin = one(&mut out);
    server.handle_segment(t(110), &fin, &p(), &mut out);
    server.handle_timeout(t(110), &p(), &mut out);
    let ack = one(&mut out);
    let params = TcpParams { fin_timeout: SimDuration::from_secs(30), ..p() };
    client.handle_segment(t(120), &ack, &params, &mut out);
    client.handle_timeout(client.poll_timeout().unwrap(), &params, &mut out);
    assert_eq!(client.close_cause, Some(CloseCause::FinTimeout));
    assert_eq!(client.state_since, t(30_120));
}

#[test]
fn a_lost_fin_is_probed_once_then_retransmitted_with_backoff_until_the_orphan_limit() {
    // RTT 20 ms: RTO 220 ms. The tail loss probe (`tcp_send_loss_probe`)
    // would come 2 x 20 + 200 ms after the FIN, the RTO sooner: it fires
    // at the RTO's time, and the RTO restarts in full from it, then
    // doubles. The probe is no retransmission the orphan limit counts.
    let (mut client, _) = established();
    let mut out = Vec::new();
    client.close(t(100), &p(), &mut out);
    out.clear();
    let params = TcpParams { orphan_retries: 3, ..p() };
    assert_eq!(client.next_timer(), TimerKind::LossProbe);
    let (fired, out) = run_timers(&mut client, &params);
    assert_eq!(fired, [320, 540, 980, 1_860, 3_620]);
    assert_eq!(out.len(), 4);
    assert!(out.iter().all(|s| s.flags == Flags::FIN_ACK && s.seq == 1001));
    assert_eq!(client.close_cause, Some(CloseCause::Timeout));
}

#[test]
fn no_loss_probe_with_tcp_early_retrans_off_or_without_sack() {
    let schedule = |client: &mut Tcb, params: &TcpParams| {
        let mut out = Vec::new();
        client.close(t(100), params, &mut out);
        assert_eq!(client.next_timer(), TimerKind::Retransmit);
        run_timers(client, params).0
    };
    let (mut client, _) = established();
    let off = TcpParams { orphan_retries: 3, loss_probes: false, ..p() };
    assert_eq!(schedule(&mut client, &off), [320, 760, 1_640, 3_400]);
    // A SYN-ACK without SACK_PERM: SACK is off, and with it the probe (`tcp_is_sack`).
    let (mut client, _, mut syn_ack) = half_open();
    syn_ack.syn_opts &= !Segment::SACK_PERM;
    client.handle_segment(t(20), &syn_ack, &p(), &mut Vec::new());
    let on = TcpParams { orphan_retries: 3, ..p() };
    assert_eq!(schedule(&mut client, &on), [320, 760, 1_640, 3_400]);
}

#[test]
fn an_ack_after_the_probe_ends_the_flight() {
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.close(t(100), &p(), &mut out);
    out.clear();
    client.handle_timeout(t(320), &p(), &mut out);
    let probe = one(&mut out);
    assert_eq!((probe.flags, probe.seq), (Flags::FIN_ACK, 1001));
    assert_eq!(client.poll_timeout(), Some(t(540)), "the RTO, in full from the probe");
    server.handle_segment(t(330), &probe, &p(), &mut out);
    server.handle_timeout(server.poll_timeout().unwrap(), &p(), &mut out);
    let ack = one(&mut out);
    client.handle_segment(t(340), &ack, &p(), &mut out);
    assert_eq!((client.state, client.timer_kind()), (State::FinWait2, TimerKind::FinWait2));
}

#[test]
fn data_and_fin_out_probe_two_rtts_and_two_jiffies_after_the_fin_with_the_fin_alone() {
    // Two segments out: the probe waits 2 x SRTT + TCP_TIMEOUT_MIN (two
    // jiffies, 8 ms at HZ 250) and repeats the tail (the FIN); the RTO
    // then sends everything unacknowledged.
    let (mut client, _) = established();
    let mut out = Vec::new();
    client.send(t(100), 300, &p(), &mut out);
    client.close(t(105), &p(), &mut out);
    out.clear();
    assert_eq!((client.next_timer(), client.poll_timeout()), (TimerKind::LossProbe, Some(t(153))));
    client.handle_timeout(t(153), &p(), &mut out);
    let probe = one(&mut out);
    assert_eq!((probe.flags, probe.seq, probe.len), (Flags::FIN_ACK, 1301, 0));
    assert_eq!(client.poll_timeout(), Some(t(373)));
    client.handle_timeout(t(373), &p(), &mut out);
    let rto = one(&mut out);
    assert_eq!((rto.seq, rto.len, rto.flags), (1001, 300, Flags::PSH_ACK | Flags::FIN));
}

/// The server's view of a client FIN at 1 s on the HZ 250 timer wheel,
/// after `request` bytes of data: (server, FIN, what it sent).
fn fin_reaches_server(request: u16) -> (Tcb, Segment, Vec<Segment>) {
    let (mut client, mut server) = established();
    let p = TcpParams { hz: 250, ..p() };
    let mut out = Vec::new();
    client.send(t(40), request, &p, &mut out);
    for data in out.split_off(0) {
        server.handle_segment(t(50), &data, &p, &mut out);
    }
    client.close(t(990), &p, &mut out);
    let fin = out.pop().unwrap();
    out.clear();
    server.handle_segment(t(1000), &fin, &p, &mut out);
    (server, fin, out)
}

#[test]
fn first_data_is_acked_at_once_and_sets_the_ack_timeout() {
    // `tcp_event_data_recv`: quick-ACK mode for the first data.
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.send(t(40), 100, &p(), &mut out);
    let data = one(&mut out);
    server.handle_segment(t(50), &data, &p(), &mut out);
    let ack = one(&mut out);
    assert_eq!((ack.flags, ack.ack), (Flags::ACK, 1101));
    assert!(!server.ack_delayed());
}

#[test]
fn passive_close_delays_the_fins_ack_a_jiffy_without_data_40_ms_after() {
    // `tcp_fin` enters pingpong mode; `tcp_send_delayed_ack` arms the
    // timer ato from now: 0 before any data (the next jiffy, 4 ms at HZ
    // 250), TCP_ATO_MIN (10 jiffies) after, which the wheel fires at the
    // 11th tick. The testbed's kernel ACKed a bare FIN 2.7 ms after it,
    // one that followed 100 bytes 41.1 ms after.
    let (server, _, out) = fin_reaches_server(0);
    assert!(out.is_empty());
    assert_eq!((server.state, server.next_timer()), (State::CloseWait, TimerKind::DelayedAck));
    let tick = |at: Option<SimTime>| at.map(|at| crate::tcp::timer_wheel::tick_of(at, 250));
    assert_eq!(tick(server.poll_timeout()), Some(t(1004)));
    let (mut server, _, out) = fin_reaches_server(100);
    assert!(out.is_empty());
    assert_eq!(tick(server.poll_timeout()), Some(t(1044)));
    let mut out = Vec::new();
    let due = server.poll_timeout().expect("the delayed ACK's timer");
    server.handle_timeout(due, &TcpParams { hz: 250, ..p() }, &mut out);
    let ack = one(&mut out);
    assert_eq!((ack.flags, ack.ack), (Flags::ACK, 1102));
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn close_before_the_delayed_ack_sends_one_fin_ack() {
    let (mut server, fin, _) = fin_reaches_server(100);
    let mut out = Vec::new();
    server.close(t(1020), &TcpParams { hz: 250, ..p() }, &mut out);
    let fin_ack = one(&mut out);
    assert_eq!((fin_ack.flags, fin_ack.ack), (Flags::FIN_ACK, fin.seq + 1));
    assert_eq!(server.state, State::LastAck);
    // The FIN's own timer (its loss probe) is next, not a delayed ACK.
    assert!(!server.ack_delayed(), "the FIN carried the ACK: no timer left for it");
    assert_eq!(server.next_timer(), TimerKind::LossProbe);
}

#[test]
fn a_fin_answering_ours_is_acked_at_once() {
    // `tcp_fin` in FIN-WAIT-1 and FIN-WAIT-2 calls `tcp_send_ack`.
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.close(t(100), &p(), &mut out);
    let fin = one(&mut out);
    server.handle_segment(t(110), &fin, &p(), &mut out);
    server.close(t(110), &p(), &mut out);
    let fin_ack = one(&mut out);
    client.handle_segment(t(120), &fin_ack, &p(), &mut out);
    assert_eq!((client.state, one(&mut out).flags), (State::TimeWait, Flags::ACK));
    assert!(!client.ack_delayed());
}

#[test]
fn close_wait_acks_a_retransmitted_fin_again() {
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.close(t(100), &p(), &mut out);
    let fin = one(&mut out);
    server.handle_segment(t(110), &fin, &p(), &mut out);
    out.clear();
    server.handle_segment(t(330), &fin, &p(), &mut out);
    let ack = one(&mut out);
    assert_eq!((server.state, ack.flags, ack.ack), (State::CloseWait, Flags::ACK, 1002));
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.close(t(100), &p(), &mut out);
    let fin_c = one(&mut out);
    server.close(t(100), &p(), &mut out);
    let fin_s = one(&mut out);
    client.handle_segment(t(110), &fin_s, &p(), &mut out);
    let ack_c = one(&mut out);
    server.handle_segment(t(110), &fin_c, &p(), &mut out);
    let ack_s = one(&mut out);
    assert_eq!((client.state, server.state), (State::Closing, State::Closing));
    client.handle_segment(t(120), &ack_s, &p(), &mut out);
    server.handle_segment(t(120), &ack_c, &p(), &mut out);
    assert_eq!((client.state, server.state), (State::TimeWait, State::TimeWait));
}

#[test]
fn linger_zero_close_sends_rst_and_skips_time_wait() {
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.close(t(100), &TcpParams { linger_zero: true, ..p() }, &mut out);
    let rst = one(&mut out);
    assert_eq!((rst.flags, rst.seq), (Flags::RST_ACK, 1001));
    assert_eq!((client.state, client.close_cause), (State::Closed, Some(CloseCause::Abort)));
    server.handle_segment(t(110), &rst, &p(), &mut out);
    assert_eq!(server.close_cause, Some(CloseCause::Reset));
}

#[test]
fn an_rst_inside_the_window_but_not_exact_gets_a_challenge_ack() {
    let (_, mut server) = established();
    let mut out = Vec::new();
    let rst = Segment { src: C, dst: S, seq: 1001 + 100, flags: Flags::RST, ..Default::default() };
    server.handle_segment(t(40), &rst, &p(), &mut out);
    let ack = one(&mut out);
    assert_eq!(ack.flags, Flags::ACK);
    assert_eq!(server.state, State::Established);
}

#[test]
fn data_is_acknowledged_and_retransmitted_until_acked() {
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.send(t(100), 300, &p(), &mut out);
    let data = one(&mut out);
    assert_eq!((data.flags, data.seq, data.len), (Flags::PSH_ACK, 1001, 300));
    client.handle_timeout(client.poll_timeout().unwrap(), &p(), &mut out);
    let again = one(&mut out);
    assert_eq!((again.seq, again.len), (1001, 300));
    server.handle_segment(t(400), &again, &p(), &mut out);
    let ack = one(&mut out);
    assert_eq!(ack.ack, 1301);
    client.handle_segment(t(410), &ack, &p(), &mut out);
    assert_eq!(client.poll_timeout(), None);
}

// ----- TIME-WAIT --------------------------------------------------------------------

fn time_wait() -> (Tcb, Segment) {
    let (mut client, mut server) = established();
    let mut out = Vec::new();
    client.close(t(100), &p(), &mut out);
    let fin = one(&mut out);
    server.handle_segment(t(110), &fin, &p(), &mut out);
    server.close(t(110), &p(), &mut out);
    let server_fin = out.pop().unwrap();
    out.clear();
    client.handle_segment(t(120), &server_fin, &p(), &mut out);
    assert_eq!(client.state, State::TimeWait);
    (client, server_fin)
}

#[test]
fn time_wait_acks_a_retransmitted_fin_and_restarts_60_s() {
    let (mut client, server_fin) = time_wait();
    let mut out = Vec::new();
    client.handle_segment(t(5_000), &server_fin, &p(), &mut out);
    assert_eq!(one(&mut out).flags, Flags::ACK);
    assert_eq!(client.poll_timeout(), Some(t(5_000) + TCP_TIMEWAIT_LEN));
}

#[test]
fn time_wait_is_ended_by_an_exact_rst() {
    let (mut client, server_fin) = time_wait();
    let mut out = Vec::new();
    let rst = Segment { flags: Flags::RST, seq: server_fin.seq + 1, ..server_fin };
    client.handle_segment(t(5_000), &rst, &p(), &mut out);
    assert!(out.is_empty());
    assert_eq!((client.state, client.close_cause), (State::Closed, Some(CloseCause::Assassinated)));
}

#[test]
fn tcp_rfc1337_makes_time_wait_ignore_rsts() {
    // `tcp_timewait_state_process`: with tcp_rfc1337 = 1 the RST is
    // dropped and the TIME-WAIT keeps its deadline.
    let (mut client, server_fin) = time_wait();
    let deadline = client.poll_timeout();
    let rfc1337 = TcpParams { rfc1337: true, ..p() };
    let mut out = Vec::new();
    for seq in [server_fin.seq + 1, server_fin.seq + 100] {
        let rst = Segment { flags: Flags::RST, seq, ..server_fin };
        client.handle_segment(t(5_000), &rst, &rfc1337, &mut out);
        assert!(out.is_empty());
        assert_eq!((client.state, client.poll_timeout()), (State::TimeWait, deadline));
    }
}

#[test]
fn time_wait_accepts_a_newer_syn_and_acks_an_old_one() {
    let (mut tw, server_fin) = time_wait();
    let mut out = Vec::new();
    // From the TIME-WAIT holder's point of view the peer's SYN arrives.
    let old =
        Segment { flags: Flags::SYN, seq: server_fin.seq.wrapping_sub(10), ack: 0, tsval: 0, ..server_fin };
    assert_eq!(tw.handle_segment(t(5_000), &old, &p(), &mut out), Disposition::Done);
    assert_eq!(one(&mut out).flags, Flags::ACK);
    let newer = Segment { seq: server_fin.seq.wrapping_add(100_000), ..old };
    let disposition = tw.handle_segment(t(6_000), &newer, &p(), &mut out);
    assert_eq!(disposition, Disposition::ReopenFromTimeWait { isn: tw.snd_nxt.wrapping_add(65_537) });
    assert_eq!(tw.state, State::Closed);
}

#[test]
fn reset_for_follows_rfc_9293_3_10_7_1() {
    let syn = Segment { src: C, dst: S, seq: 1000, flags: Flags::SYN, ..Default::default() };
    let r = reset_for(&syn).unwrap();
    assert_eq!((r.flags, r.seq, r.ack, r.dst), (Flags::RST_ACK, 0, 1001, C));
    let ack = Segment { src: C, dst: S, seq: 1000, ack: 77, flags: Flags::ACK, ..Default::default() };
    let r = reset_for(&ack).unwrap();
    assert_eq!((r.flags, r.seq), (Flags::RST, 77));
    assert!(reset_for(&Segment { flags: Flags::RST, ..ack }).is_none());
}

#[test]
fn a_tcb_stays_small() {
    // Connections live by the million: keep the block compact.
    assert!(std::mem::size_of::<Tcb>() <= 80, "{}", std::mem::size_of::<Tcb>());
}

#[test]
fn a_waiting_time_wait_round_trips_through_its_compact_form() {
    let (tw, server_fin) = time_wait();
    let compact = tw.to_time_wait().expect("a TIME-WAIT waiting for its timer");
    let deadline = tw.poll_timeout().unwrap();
    assert_eq!(compact.to_tcb(tw.local, tw.remote, deadline), tw, "bit for bit");
    assert!(std::mem::size_of::<TimeWaitTcb>() <= 48, "{}", std::mem::size_of::<TimeWaitTcb>());
    // The restored one behaves as the original: it ACKs a retransmitted FIN.
    let (mut a, mut b) = (tw.clone(), compact.to_tcb(tw.local, tw.remote, deadline));
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    a.handle_segment(t(5_000), &server_fin, &p(), &mut out_a);
    b.handle_segment(t(5_000), &server_fin, &p(), &mut out_b);
    assert_eq!((a, out_a), (b, out_b));
}

#[test]
fn only_a_time_wait_that_just_waits_has_a_compact_form() {
    let (client, server) = established();
    assert!(client.to_time_wait().is_none() && server.to_time_wait().is_none());
    let (mut tw, _) = time_wait();
    tw.close_with(t(6_000), CloseCause::Assassinated);
    assert!(tw.to_time_wait().is_none(), "closed");
}
