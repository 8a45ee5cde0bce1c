//! Listener queue rules, one test per rule of docs/linux.md, "The listener".

use super::*;

const S: SockAddr = SockAddr::new(0x0A00_0001, 80);

fn cfg(backlog: u32, syn_backlog: u32, cookies: SynCookies) -> ListenerConfig {
    ListenerConfig {
        max_ack_backlog: backlog,
        max_syn_backlog: syn_backlog,
        syncookies: cookies,
        abort_on_overflow: false,
        synack_pruning: true,
        defer_accept: 0,
    }
}

fn syn(i: u32) -> Segment {
    Segment {
        src: SockAddr::new(0xC000_0000 + i, 1000 + i as u16),
        dst: S,
        seq: i.wrapping_mul(7919),
        mss: 1460,
        tsval: 5,
        flags: Flags::SYN,
        ..Default::default()
    }
}

fn p() -> TcpParams {
    TcpParams::default()
}

/// Offers `n` SYNs; returns the queued requests.
fn fill(l: &mut Listener<u32>, n: u32) -> Vec<Tcb> {
    let mut out = Vec::new();
    let mut reqs = Vec::new();
    for i in 0..n {
        if l.on_syn(SimTime::ZERO, &syn(i), &p(), &mut out, || false) == SynVerdict::Queue {
            reqs.push(l.new_request(SimTime::ZERO, &syn(i), 9000 + i, &p(), &mut out));
        }
    }
    reqs
}

#[test]
fn syn_queue_holds_backlog_plus_one_then_drops_without_cookies() {
    let mut l = Listener::new(S, cfg(4, 1024, SynCookies::Off), 1);
    assert_eq!(fill(&mut l, 10).len(), 5);
    assert_eq!(l.syn_queue_len(), 5);
    assert_eq!(l.counters.reqq_full_drop, 5);
    assert_eq!(l.counters.listen_drops, 5);
    assert_eq!(l.cfg.syn_queue_capacity(), 5);
}

#[test]
fn without_cookies_the_last_quarter_of_max_syn_backlog_is_reserved() {
    // backlog 4096 does not bind; 3/4 of 128 = 96 requests fit, the 97th
    // (qlen 96, 128 - 96 < 32) is dropped as unproven.
    let mut l = Listener::new(S, cfg(4096, 128, SynCookies::Off), 1);
    assert_eq!(fill(&mut l, 200).len(), 97);
    assert_eq!(l.counters.unproven_drops, 103);
    assert_eq!(l.counters.reqq_full_drop, 0);
    assert_eq!(l.cfg.syn_queue_capacity(), 97);
}

#[test]
fn a_proven_peer_passes_the_last_quarter_rule() {
    // `tcp_conn_request`: the last quarter drops only unproven peers, and
    // asks about the peer only there.
    let mut l = Listener::new(S, cfg(4096, 128, SynCookies::Off), 1);
    assert_eq!(fill(&mut l, 97).len(), 97);
    let mut out = Vec::new();
    let mut asked = 0;
    let mut offer = |l: &mut Listener<u32>, proven: bool| {
        l.on_syn(SimTime::ZERO, &syn(500), &p(), &mut out, || {
            asked += 1;
            proven
        })
    };
    assert_eq!(offer(&mut l, false), SynVerdict::Dropped);
    assert_eq!(offer(&mut l, true), SynVerdict::Queue);
    assert_eq!(asked, 2);
    assert_eq!(l.counters.unproven_drops, 1);
    // Below the last quarter nobody is asked.
    let mut l: Listener<u32> = Listener::new(S, cfg(4096, 128, SynCookies::Off), 1);
    let v = l.on_syn(SimTime::ZERO, &syn(1), &p(), &mut Vec::new(), || unreachable!());
    assert_eq!(v, SynVerdict::Queue);
}

#[test]
fn with_cookies_on_overflow_a_full_queue_answers_statelessly() {
    let mut l = Listener::new(S, cfg(4, 128, SynCookies::OnOverflow), 1);
    let mut out = Vec::new();
    assert_eq!(fill(&mut l, 5).len(), 5);
    let v = l.on_syn(SimTime::from_secs(1), &syn(99), &p(), &mut out, || false);
    assert_eq!(v, SynVerdict::Cookie);
    let cookie = out.pop().unwrap();
    assert_eq!((cookie.flags, cookie.ack, cookie.mss), (Flags::SYN_ACK, syn(99).seq + 1, 1460));
    assert_eq!(l.syn_queue_len(), 5, "no state kept");
    assert_eq!((l.counters.reqq_full_do_cookies, l.counters.syncookies_sent), (1, 1));
}

#[test]
fn a_valid_cookie_ack_rebuilds_the_connection_and_a_forged_one_fails() {
    let mut l: Listener<u32> = Listener::new(S, cfg(4, 128, SynCookies::Always), 1);
    let mut out = Vec::new();
    let s = syn(1);
    assert_eq!(l.on_syn(SimTime::ZERO, &s, &p(), &mut out, || false), SynVerdict::Cookie);
    // Always: counted as DoCookies for every SYN, as the kernel does.
    assert_eq!(l.counters.reqq_full_do_cookies, 1);
    let cookie = out.pop().unwrap();
    let ack = Segment {
        src: s.src,
        dst: S,
        seq: s.seq + 1,
        ack: cookie.seq + 1,
        flags: Flags::ACK,
        ..Default::default()
    };
    assert_eq!(l.check_cookie(SimTime::from_secs(30), &ack), Some(1460));
    let child = l.on_stray_segment(SimTime::from_secs(30), &ack, &p(), &mut out).unwrap();
    assert_eq!(child.state, State::Established);
    // No timestamp on the ACK: the cookie could not carry window scaling or SACK.
    assert_eq!(l.counters.syncookies_without_options, 1);
    assert_eq!((child.iss, child.irs), (cookie.seq, s.seq));
    assert!(out.is_empty());
    let forged = Segment { ack: ack.ack ^ 0x40, ..ack };
    assert!(l.on_stray_segment(SimTime::from_secs(30), &forged, &p(), &mut out).is_none());
    assert_eq!(l.counters.syncookies_failed, 1);
    assert_eq!(out.pop().unwrap().flags, Flags::RST, "LISTEN answers a bad ACK with RST");
}

#[test]
fn a_cookie_expires_after_two_periods() {
    let mut l: Listener<u32> = Listener::new(S, cfg(4, 128, SynCookies::Always), 1);
    let mut out = Vec::new();
    let s = syn(1);
    l.on_syn(SimTime::from_secs(10), &s, &p(), &mut out, || false);
    let cookie = out.pop().unwrap();
    let ack = Segment {
        src: s.src,
        dst: S,
        seq: s.seq + 1,
        ack: cookie.seq + 1,
        flags: Flags::ACK,
        ..Default::default()
    };
    assert!(l.check_cookie(SimTime::from_secs(119), &ack).is_some());
    assert!(l.check_cookie(SimTime::from_secs(121), &ack).is_none());
}

#[test]
fn stray_acks_in_the_first_period_are_refused_not_a_panic() {
    // At count 0 an ACK whose cookie field reads age 1 points before time
    // zero; about one ACK in 256 does. Found by a debug-build run.
    let l: Listener<u32> = Listener::new(S, cfg(4, 128, SynCookies::Always), 1);
    let s = syn(1);
    let refused = (0..4096u32)
        .filter(|&i| {
            let ack = Segment {
                src: s.src,
                dst: S,
                seq: s.seq + 1,
                ack: i.wrapping_mul(0x9e37_79b9),
                flags: Flags::ACK,
                ..Default::default()
            };
            l.check_cookie(SimTime::from_secs(5), &ack).is_none()
        })
        .count();
    assert_eq!(refused, 4096);
}

#[test]
fn cookie_mss_is_the_largest_table_value_not_above_the_clients() {
    let mut l: Listener<u32> = Listener::new(S, cfg(4, 128, SynCookies::Always), 1);
    let mut out = Vec::new();
    for (client_mss, expected) in [(1460, 1460), (1400, 1300), (600, 536), (0, 536)] {
        let s = Segment { mss: client_mss, ..syn(3) };
        l.on_syn(SimTime::ZERO, &s, &p(), &mut out, || false);
        let c = out.pop().unwrap();
        assert_eq!(c.mss, expected);
        let ack = Segment {
            src: s.src,
            dst: S,
            seq: s.seq + 1,
            ack: c.seq + 1,
            flags: Flags::ACK,
            ..Default::default()
        };
        assert_eq!(l.check_cookie(SimTime::ZERO, &ack), Some(expected));
    }
}

#[test]
fn a_full_accept_queue_drops_syns_and_final_acks() {
    let mut l = Listener::new(S, cfg(2, 128, SynCookies::Off), 1);
    for i in 0..3 {
        l.enqueue_accept(i);
    }
    assert!(l.accept_queue_full(), "3 > 2: sk_acceptq_is_full is strict");
    let mut out = Vec::new();
    assert_eq!(l.on_syn(SimTime::ZERO, &syn(1), &p(), &mut out, || false), SynVerdict::Dropped);
    assert_eq!((l.counters.listen_overflows, l.counters.listen_drops), (1, 1));
    // A request made before the queue filled: its final ACK is dropped and
    // the request marked acked (tcp_abort_on_overflow = 0).
    let mut l = Listener::new(S, cfg(2, 128, SynCookies::Off), 1);
    let mut reqs = fill(&mut l, 1);
    for i in 0..3 {
        l.enqueue_accept(i);
    }
    let req = &mut reqs[0];
    let ack = Segment {
        src: req.remote,
        dst: S,
        seq: req.rcv_nxt,
        ack: req.snd_nxt,
        flags: Flags::ACK,
        ..Default::default()
    };
    assert_eq!(l.on_request_segment(SimTime::ZERO, req, &ack, &p(), &mut out), RequestOutcome::Overflowed);
    assert!(req.acked());
    assert_eq!(req.state, State::SynReceived);
    // Room again: the next ACK completes it.
    l.accept();
    l.accept();
    assert_eq!(l.on_request_segment(SimTime::ZERO, req, &ack, &p(), &mut out), RequestOutcome::Established);
    assert_eq!(l.syn_queue_len(), 0);
}

#[test]
fn abort_on_overflow_resets_instead() {
    let mut l =
        Listener::new(S, ListenerConfig { abort_on_overflow: true, ..cfg(0, 128, SynCookies::Off) }, 1);
    let mut reqs = fill(&mut l, 1);
    l.enqueue_accept(7);
    let req = &mut reqs[0];
    let ack = Segment {
        src: req.remote,
        dst: S,
        seq: req.rcv_nxt,
        ack: req.snd_nxt,
        flags: Flags::ACK,
        ..Default::default()
    };
    let mut out = Vec::new();
    assert_eq!(l.on_request_segment(SimTime::ZERO, req, &ack, &p(), &mut out), RequestOutcome::Removed);
    assert_eq!(out.pop().unwrap().flags, Flags::RST);
    assert_eq!(l.syn_queue_len(), 0);
}

#[test]
fn pruning_lowers_the_retry_threshold_when_no_request_is_young() {
    let mut l = Listener::new(S, cfg(16, 1024, SynCookies::Off), 1);
    let mut reqs = fill(&mut l, 17);
    assert_eq!(l.young_len(), 17);
    // Full and all young: 17 < 34, no pruning.
    assert_eq!(l.synack_retry_threshold(5), 5);
    let mut out = Vec::new();
    for r in reqs.iter_mut() {
        assert!(!l.request_timeout(SimTime::from_secs(1), r, &p(), &mut out));
    }
    assert_eq!(l.young_len(), 0);
    // No young requests left: 5 -> 4 -> 3 -> 2 (never below 2).
    assert_eq!(l.synack_retry_threshold(5), 2);
    assert_eq!(l.counters.synack_retrans, 17);
    // Half full or less: no pruning (qlen * 2 > max(8, backlog) is false).
    let mut small = Listener::new(S, cfg(16, 1024, SynCookies::Off), 1);
    fill(&mut small, 8);
    assert_eq!(small.synack_retry_threshold(5), 5);
}

#[test]
fn pruning_off_keeps_every_request_for_all_retries() {
    let mut l =
        Listener::new(S, ListenerConfig { synack_pruning: false, ..cfg(16, 1024, SynCookies::Off) }, 1);
    let mut reqs = fill(&mut l, 17);
    let mut out = Vec::new();
    for r in reqs.iter_mut() {
        l.request_timeout(SimTime::from_secs(1), r, &p(), &mut out);
    }
    assert_eq!(l.synack_retry_threshold(5), 5);
}

#[test]
fn an_expired_request_leaves_the_queue() {
    let mut l = Listener::new(S, cfg(16, 1024, SynCookies::Off), 1);
    let mut reqs = fill(&mut l, 1);
    let r = &mut reqs[0];
    let mut out = Vec::new();
    let mut expired = false;
    while let Some(at) = r.poll_timeout() {
        expired = l.request_timeout(at, r, &p(), &mut out);
    }
    assert!(expired);
    assert_eq!((l.syn_queue_len(), l.young_len()), (0, 0));
    assert_eq!(l.counters.request_timeouts, 1);
    assert_eq!(l.counters.synack_retrans, 5);
}

#[test]
fn defer_accept_seconds_become_synack_timeouts() {
    // `secs_to_retrans(val, 1, 120)`: the periods 1, 2, 4 ... 64, 120, 120 ... s.
    let got: Vec<u8> = [0, 1, 2, 3, 4, 7, 8, 15, 16].iter().map(|&s| defer_accept_retrans(s)).collect();
    assert_eq!(got, [0, 1, 2, 2, 3, 3, 4, 4, 5]);
    // 127 s after 7 periods, then 120 s each: 3600 s needs 29 more.
    assert_eq!(defer_accept_retrans(3600), 36);
    assert_eq!(defer_accept_retrans(u32::MAX), 255);
}

fn deferring(defer_accept: u8) -> (Listener<u32>, Tcb) {
    let mut l = Listener::new(S, ListenerConfig { defer_accept, ..cfg(16, 1024, SynCookies::Off) }, 1);
    let req = fill(&mut l, 1).pop().unwrap();
    (l, req)
}

fn final_ack(req: &Tcb, len: u16) -> Segment {
    Segment {
        src: req.remote,
        dst: S,
        seq: req.rcv_nxt,
        ack: req.snd_nxt,
        len,
        flags: Flags::ACK,
        ..Default::default()
    }
}

#[test]
fn defer_accept_drops_a_bare_ack_and_data_completes_the_handshake() {
    // `tcp_check_req`: the bare ACK is dropped, the request marked acked.
    let (mut l, mut req) = deferring(1);
    let mut out = Vec::new();
    let t = SimTime::from_millis(10);
    let ack = final_ack(&req, 0);
    assert_eq!(l.on_request_segment(t, &mut req, &ack, &p(), &mut out), RequestOutcome::Deferred);
    assert!(req.acked() && out.is_empty());
    assert_eq!((req.state, l.syn_queue_len(), l.counters.defer_accept_drops), (State::SynReceived, 1, 1));
    // The request's data: established, the data taken and acknowledged.
    let data = final_ack(&req, 100);
    assert_eq!(l.on_request_segment(t, &mut req, &data, &p(), &mut out), RequestOutcome::Established);
    assert_eq!((req.rcv_nxt, l.syn_queue_len()), (data.seq + 100, 0));
    // A FIN ends the segment past the ISN + 1 as well: not a bare ACK.
    let (mut l, mut req) = deferring(1);
    let fin = Segment { flags: Flags::FIN_ACK, ..final_ack(&req, 0) };
    assert_eq!(l.on_request_segment(t, &mut req, &fin, &p(), &mut out), RequestOutcome::Established);
    assert_eq!(req.state, State::CloseWait);
}

#[test]
fn without_defer_accept_a_bare_ack_completes_the_handshake() {
    let (mut l, mut req) = deferring(0);
    let ack = final_ack(&req, 0);
    assert_eq!(
        l.on_request_segment(SimTime::ZERO, &mut req, &ack, &p(), &mut Vec::new()),
        RequestOutcome::Established
    );
    assert_eq!(l.counters.defer_accept_drops, 0);
}

#[test]
fn a_deferred_request_gets_its_synack_at_the_deferral_end_then_a_bare_ack_completes_it() {
    // TCP_DEFER_ACCEPT 4 s = 3 timeouts (at 1, 3 and 7 s). `syn_ack_recalc`:
    // no SYN-ACK while waiting for data (1 and 3 s), the last chance at the
    // third timeout (num_timeout 2 >= 3 - 1), after which a bare ACK counts.
    let (mut l, mut req) = deferring(defer_accept_retrans(4));
    assert_eq!(l.cfg.defer_accept, 3);
    let mut out = Vec::new();
    let ack = final_ack(&req, 0);
    assert_eq!(l.on_request_segment(SimTime::ZERO, &mut req, &ack, &p(), &mut out), RequestOutcome::Deferred);
    let mut synacks = Vec::new();
    for _ in 0..3 {
        let at = req.poll_timeout().unwrap();
        assert!(!l.request_timeout(at, &mut req, &p(), &mut out));
        synacks.push(out.drain(..).filter(|s| s.flags == Flags::SYN_ACK).count());
    }
    assert_eq!(synacks, [0, 0, 1]);
    assert_eq!(l.counters.synack_retrans, 1);
    let at = req.poll_timeout().unwrap();
    assert_eq!(l.on_request_segment(at, &mut req, &ack, &p(), &mut out), RequestOutcome::Established);
}

#[test]
fn an_acked_request_outlives_its_synack_retries_until_the_deferral_ends() {
    // tcp_synack_retries 1, TCP_DEFER_ACCEPT 3 timeouts: `syn_ack_recalc`
    // expires an acked request only at num_timeout >= max(1, 3); one that
    // never got an ACK goes at its retries as ever.
    let silent = TcpParams { synack_retries: 1, ..p() };
    let (mut l, mut acked) = deferring(3);
    let mut out = Vec::new();
    let ack = final_ack(&acked, 0);
    l.on_request_segment(SimTime::ZERO, &mut acked, &ack, &p(), &mut out);
    let mut timeouts = 0;
    while let Some(at) = acked.poll_timeout() {
        timeouts += 1;
        if l.request_timeout(at, &mut acked, &silent, &mut out) {
            break;
        }
    }
    assert_eq!(timeouts, 4, "expired at the 4th timeout (num_timeout 3)");
    let (mut l2, mut never) = deferring(3);
    let mut n = 0;
    while let Some(at) = never.poll_timeout() {
        n += 1;
        if l2.request_timeout(at, &mut never, &silent, &mut out) {
            break;
        }
    }
    assert_eq!(n, 2, "1 retry, expired at the 2nd timeout");
}
