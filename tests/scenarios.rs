//! The traced scenarios (src/scenarios.rs) as exact segment sequences
//! and state transitions. Times in ms, one-way delay 10 ms; seq and ack relative
//! to each side's ISN, as Wireshark shows them. `>` sent, `X` lost on the way.

mod common;

use common::{states, wire};
use synsim::scenarios::trace;
use synsim::trace::Side;

/// SYN (seq=x) -> SYN-ACK (seq=y, ack=x+1) -> ACK (seq=x+1, ack=y+1, no sequence consumed); then FIN, FIN-ACK, ACK: the server's ACK of the FIN is delayed (`tcp_fin` enters pingpong mode) and its close() comes first, so the FIN carries it.
#[test]
fn normal() {
    let t = trace("normal", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "520 C> FIN-ACK 1 1",
        "530 S> FIN-ACK 1 2",
        "540 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "540 FIN-WAIT-1->TIME-WAIT",
        "60540 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->CLOSE-WAIT",
        "530 CLOSE-WAIT->LAST-ACK",
        "550 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// The same SYN (same sequence number) again at 1 s.
#[test]
fn lost_syn() {
    let t = trace("lost-syn", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "0 CX SYN 0 -",
        "1000 C> SYN 0 -",
        "1010 S> SYN-ACK 0 1",
        "1020 C> ACK 1 1",
        "1520 C> FIN-ACK 1 1",
        "1530 S> FIN-ACK 1 2",
        "1540 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "1020 SYN-SENT->ESTABLISHED",
        "1520 ESTABLISHED->FIN-WAIT-1",
        "1540 FIN-WAIT-1->TIME-WAIT",
        "61540 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "1010 LISTEN->SYN-RECEIVED",
        "1030 SYN-RECEIVED->ESTABLISHED",
        "1530 ESTABLISHED->CLOSE-WAIT",
        "1530 CLOSE-WAIT->LAST-ACK",
        "1550 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// Both time out at 1 s: the client resends its SYN, the server its SYN-ACK, and answers the duplicate SYN with another; the client ACKs both.
#[test]
fn lost_synack() {
    let t = trace("lost-synack", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "10 SX SYN-ACK 0 1",
        "1000 C> SYN 0 -",
        "1010 S> SYN-ACK 0 1",
        "1010 S> SYN-ACK 0 1",
        "1020 C> ACK 1 1",
        "1020 C> ACK 1 1",
        "1520 C> FIN-ACK 1 1",
        "1530 S> FIN-ACK 1 2",
        "1540 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "1020 SYN-SENT->ESTABLISHED",
        "1520 ESTABLISHED->FIN-WAIT-1",
        "1540 FIN-WAIT-1->TIME-WAIT",
        "61540 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "1030 SYN-RECEIVED->ESTABLISHED",
        "1530 ESTABLISHED->CLOSE-WAIT",
        "1530 CLOSE-WAIT->LAST-ACK",
        "1550 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// The client is ESTABLISHED; the server resends its SYN-ACK at 1 s and the client ACKs it again (an ACK is never retransmitted on its own).
#[test]
fn lost_final_ack() {
    let t = trace("lost-final-ack", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "20 CX ACK 1 1",
        "1010 S> SYN-ACK 0 1",
        "1020 C> ACK 1 1",
        "2020 C> FIN-ACK 1 1",
        "2030 S> FIN-ACK 1 2",
        "2040 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "2020 ESTABLISHED->FIN-WAIT-1",
        "2040 FIN-WAIT-1->TIME-WAIT",
        "62040 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "1030 SYN-RECEIVED->ESTABLISHED",
        "2030 ESTABLISHED->CLOSE-WAIT",
        "2030 CLOSE-WAIT->LAST-ACK",
        "2050 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// The client's first data carries the ACK and completes the server's handshake.
#[test]
fn lost_final_ack_data() {
    let t = trace("lost-final-ack-data", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "20 CX ACK 1 1",
        "20 C> PSH-ACK 1 1 len=100",
        "30 S> ACK 1 101",
        "520 C> FIN-ACK 101 1",
        "530 S> FIN-ACK 1 102",
        "540 C> ACK 102 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "540 FIN-WAIT-1->TIME-WAIT",
        "60540 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->CLOSE-WAIT",
        "530 CLOSE-WAIT->LAST-ACK",
        "550 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// Cookies always on and the final ACK lost: the server has no state and nothing to retransmit; the client's data at 1 s rebuilds the connection.
#[test]
fn syncookie_lost_final_ack() {
    let t = trace("syncookie-lost-final-ack", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "20 CX ACK 1 1",
        "1000 C> PSH-ACK 1 1 len=100",
        "1010 S> ACK 1 101",
        "2020 C> FIN-ACK 101 1",
        "2030 S> FIN-ACK 1 102",
        "2040 C> ACK 102 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "2020 ESTABLISHED->FIN-WAIT-1",
        "2040 FIN-WAIT-1->TIME-WAIT",
        "62040 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "1010 LISTEN->ESTABLISHED",
        "2030 ESTABLISHED->CLOSE-WAIT",
        "2030 CLOSE-WAIT->LAST-ACK",
        "2050 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// FIN-WAIT-1 retransmits the FIN after the RTO (RTT 20 ms + 200 ms floor = 220 ms).
#[test]
fn lost_fin() {
    let t = trace("lost-fin", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "520 C> FIN-ACK 1 1",
        "520 CX FIN-ACK 1 1",
        "740 C> FIN-ACK 1 1",
        "750 S> FIN-ACK 1 2",
        "760 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "760 FIN-WAIT-1->TIME-WAIT",
        "60760 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "750 ESTABLISHED->CLOSE-WAIT",
        "750 CLOSE-WAIT->LAST-ACK",
        "770 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// The client resends its FIN; the server in CLOSE-WAIT ACKs it again.
#[test]
fn lost_fin_ack() {
    let t = trace("lost-fin-ack", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "520 C> FIN-ACK 1 1",
        "530 S> ACK 1 2",
        "530 SX ACK 1 2",
        "740 C> FIN-ACK 1 1",
        "750 S> ACK 1 2",
        "1530 S> FIN-ACK 1 2",
        "1540 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "760 FIN-WAIT-1->FIN-WAIT-2",
        "1540 FIN-WAIT-2->TIME-WAIT",
        "61540 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->CLOSE-WAIT",
        "1530 CLOSE-WAIT->LAST-ACK",
        "1550 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// LAST-ACK resends its FIN after the RTO; the client waits in FIN-WAIT-2.
#[test]
fn lost_server_fin() {
    let t = trace("lost-server-fin", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "520 C> FIN-ACK 1 1",
        "530 S> ACK 1 2",
        "1530 S> FIN-ACK 1 2",
        "1530 SX FIN-ACK 1 2",
        "1750 S> FIN-ACK 1 2",
        "1760 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "540 FIN-WAIT-1->FIN-WAIT-2",
        "1760 FIN-WAIT-2->TIME-WAIT",
        "61760 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->CLOSE-WAIT",
        "1530 CLOSE-WAIT->LAST-ACK",
        "1770 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// TIME-WAIT ACKs the resent FIN and restarts: CLOSED 60 s after the last FIN (at 760 ms).
#[test]
fn lost_last_ack() {
    let t = trace("lost-last-ack", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "520 C> FIN-ACK 1 1",
        "530 S> FIN-ACK 1 2",
        "540 C> ACK 2 2",
        "540 CX ACK 2 2",
        "750 S> FIN-ACK 1 2",
        "760 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "540 FIN-WAIT-1->TIME-WAIT",
        "60760 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->CLOSE-WAIT",
        "530 CLOSE-WAIT->LAST-ACK",
        "770 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// FINs cross: both go FIN-WAIT-1 -> CLOSING -> TIME-WAIT.
#[test]
fn simultaneous_close() {
    let t = trace("simultaneous-close", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "520 S> FIN-ACK 1 1",
        "520 C> FIN-ACK 1 1",
        "530 C> ACK 2 2",
        "530 S> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "530 FIN-WAIT-1->CLOSING",
        "540 CLOSING->TIME-WAIT",
        "60540 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "530 FIN-WAIT-1->CLOSING",
        "540 CLOSING->TIME-WAIT",
        "60540 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// The server closes 100 ms after the FIN: its delayed ACK fires first,
/// TCP_ATO_MIN (40 ms) after the FIN since a request came before it, as
/// a bare ACK; the FIN follows alone.
#[test]
fn close_after_delayed_ack() {
    let t = trace("close-after-delayed-ack", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "20 C> PSH-ACK 1 1 len=100",
        "30 S> ACK 1 101",
        "520 C> FIN-ACK 101 1",
        "570 S> ACK 1 102",
        "630 S> FIN-ACK 1 102",
        "640 C> ACK 102 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->CLOSE-WAIT",
        "630 CLOSE-WAIT->LAST-ACK",
        "650 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// The client's side of a response and the server's FIN: the data is
/// its first, ACKed at once (quick-ACK mode); the FIN's ACK is delayed
/// (pingpong) and rides on the FIN of the close() that EOF triggers.
#[test]
fn server_closes_after_response() {
    let t = trace("server-closes-after-response", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "30 S> PSH-ACK 1 1 len=100",
        "40 C> ACK 1 101",
        "530 S> FIN-ACK 101 1",
        "540 C> FIN-ACK 1 102",
        "550 S> ACK 102 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "540 ESTABLISHED->CLOSE-WAIT",
        "540 CLOSE-WAIT->LAST-ACK",
        "560 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
}

/// The server is the active closer and holds the TIME-WAIT.
#[test]
fn server_closes_first() {
    let t = trace("server-closes-first", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "530 S> FIN-ACK 1 1",
        "540 C> FIN-ACK 1 2",
        "550 S> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "540 ESTABLISHED->CLOSE-WAIT",
        "540 CLOSE-WAIT->LAST-ACK",
        "560 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->FIN-WAIT-1",
        "550 FIN-WAIT-1->TIME-WAIT",
        "60550 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// SO_LINGER {on, 0}: RST instead of FIN, no TIME-WAIT anywhere, the server is reset.
#[test]
fn linger_zero() {
    let t = trace("linger-zero", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "520 C> RST-ACK 1 1",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}

/// tcp_tw_reuse = 1: the second connect() takes over the TIME-WAIT port after 1 s, ISN above the old sequence space (old SND.NXT + 65537).
#[test]
fn tw_reuse() {
    let t = trace("tw-reuse", &[], 1).unwrap();
    // The new ISN starts above the old connection's SND.NXT (ISN + 2).
    let syns = sent(&t, Side::Client, Flags::SYN);
    assert_eq!(syns[1].1, syns[0].1.wrapping_add(2 + 65_537));
    #[rustfmt::skip]
    let expected_wire = [
        "0 C> SYN 0 -",
        "10 S> SYN-ACK 0 1",
        "20 C> ACK 1 1",
        "520 C> FIN-ACK 1 1",
        "530 S> FIN-ACK 1 2",
        "540 C> ACK 2 2",
        "2000 C> SYN 0 -",
        "2010 S> SYN-ACK 0 1",
        "2020 C> ACK 1 1",
        "2520 C> FIN-ACK 1 1",
        "2530 S> FIN-ACK 1 2",
        "2540 C> ACK 2 2",
    ];
    assert_eq!(wire(&t), expected_wire);
    #[rustfmt::skip]
    let expected_client = [
        "0 CLOSED->SYN-SENT",
        "20 SYN-SENT->ESTABLISHED",
        "520 ESTABLISHED->FIN-WAIT-1",
        "540 FIN-WAIT-1->TIME-WAIT",
        "2000 TIME-WAIT->CLOSED",
        "2000 CLOSED->SYN-SENT",
        "2020 SYN-SENT->ESTABLISHED",
        "2520 ESTABLISHED->FIN-WAIT-1",
        "2540 FIN-WAIT-1->TIME-WAIT",
        "62540 TIME-WAIT->CLOSED",
    ];
    assert_eq!(states(&t, Side::Client), expected_client);
    #[rustfmt::skip]
    let expected_server = [
        "10 LISTEN->SYN-RECEIVED",
        "30 SYN-RECEIVED->ESTABLISHED",
        "530 ESTABLISHED->CLOSE-WAIT",
        "530 CLOSE-WAIT->LAST-ACK",
        "550 LAST-ACK->CLOSED",
        "2010 LISTEN->SYN-RECEIVED",
        "2030 SYN-RECEIVED->ESTABLISHED",
        "2530 ESTABLISHED->CLOSE-WAIT",
        "2530 CLOSE-WAIT->LAST-ACK",
        "2550 LAST-ACK->CLOSED",
    ];
    assert_eq!(states(&t, Side::Server), expected_server);
}
/// Sent segments of one side with a given flag set, as (time ms, absolute seq).
fn sent(t: &synsim::scenarios::Trace, side: Side, flags: Flags) -> Vec<(u64, u32)> {
    t.records
        .iter()
        .filter(|r| r.kind == RecordKind::Sent && r.side == side)
        .filter_map(|r| r.seg.filter(|s| s.flags == flags).map(|s| (r.at.as_nanos() / 1_000_000, s.seq)))
        .collect()
}

use synsim::tcp::Flags;
use synsim::trace::RecordKind;

/// Every SYN lost: the same SYN at 0, 1, 3, 7, 15, 31, 63 s (the RTO doubles
/// from 1 s), and connect() fails at 127 s (tcp_syn_retries = 6).
#[test]
fn syn_timeout_follows_the_1_3_7_15_31_63_schedule_and_fails_at_127_s() {
    let t = trace("syn-timeout", &[], 1).unwrap();
    let syns = sent(&t, Side::Client, Flags::SYN);
    let times: Vec<u64> = syns.iter().map(|s| s.0).collect();
    assert_eq!(times, [0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000]);
    assert!(syns.iter().all(|s| s.1 == syns[0].1), "every retransmission reuses the ISN");
    assert_eq!(states(&t, Side::Client), ["0 CLOSED->SYN-SENT", "127000 SYN-SENT->CLOSED"]);
}

/// Linux >= 6.5 at HZ 250: tcp_syn_linear_timeouts = 4 keeps the 1 s RTO
/// for four retransmissions, the timer wheel fires each 1 s timer 1.024 s
/// after the last (250 jiffies rounded up to the 8-jiffy slot) and longer
/// ones on coarser slots (16, 32 and 64 s on 2.048 s slots); 6 + 4
/// retransmissions, then failure at 135.168 s. The connect() at t = 0 sits
/// on a slot boundary (jiffy 0), so the long timers here get nearly the
/// whole 2.048 s of rounding; at another phase of the jiffy counter (a
/// real host's uptime) they get less, down to the nominal 131 s. The
/// failure comes a few µs into its tick (3 µs: the timer wheel runs a
/// tick's coarser levels' timers first, and this one is on level 3).
#[test]
fn syn_timeout_linear_retries_each_second_then_doubles_on_the_timer_wheel() {
    let t = trace("syn-timeout-linear", &[], 1).unwrap();
    let times: Vec<u64> = sent(&t, Side::Client, Flags::SYN).iter().map(|s| s.0).collect();
    assert_eq!(times, [0, 1_024, 2_048, 3_072, 4_096, 5_120, 7_136, 11_264, 19_456, 35_584, 69_632]);
    assert_eq!(states(&t, Side::Client), ["0 CLOSED->SYN-SENT", "135168.003 SYN-SENT->CLOSED"]);
}

#[test]
fn lost_syn_is_resent_with_the_same_sequence_number() {
    let t = trace("lost-syn", &[], 1).unwrap();
    let syns = sent(&t, Side::Client, Flags::SYN);
    assert_eq!(syns.len(), 2);
    assert_eq!((syns[1].0, syns[1].1), (1_000, syns[0].1));
}

/// A tail loss probe first (`tcp_send_loss_probe`: at the RTO's time, RTT
/// 20 ms, RTO 220 ms), then after tcp_orphan_retries (0 = 8)
/// retransmissions the orphaned FIN-WAIT-1 gives up: 8 resends at
/// 220 ms x 2^k from the probe, closed at the ninth expiry. The kernel's
/// client does the same: FINs 0.2, 0.4, 0.8, 1.7, 3.3 s after the first on
/// a testbed with a 0.1 ms RTT (docs/linux.md).
#[test]
fn lost_fin_forever_is_probed_then_gives_up_after_eight_retransmissions() {
    let t = trace("lost-fin-forever", &[], 1).unwrap();
    let fins: Vec<u64> = sent(&t, Side::Client, Flags::FIN_ACK).iter().map(|f| f.0).collect();
    let mut expected = vec![520, 740];
    let mut at = 740;
    for k in 0..8 {
        at += 220 << k;
        expected.push(at);
    }
    assert_eq!(fins, expected);
    let closed = at + (220 << 8);
    assert_eq!(states(&t, Side::Client).last().unwrap(), &format!("{closed} FIN-WAIT-1->CLOSED"));
    // The server never hears a FIN: it stays ESTABLISHED.
    assert_eq!(states(&t, Side::Server).last().unwrap(), "30 SYN-RECEIVED->ESTABLISHED");
}

/// RFC 9293 Figure 8: the old SYN's SYN-ACK acknowledges the wrong number,
/// the client answers RST <SEQ=SEG.ACK>, the server drops that request, and
/// the real SYN then opens the connection normally.
#[test]
fn old_duplicate_syn_is_reset_and_the_new_syn_proceeds() {
    let t = trace("old-duplicate-syn", &[], 1).unwrap();
    let old =
        t.records.iter().find(|r| r.kind == RecordKind::Sent && r.side == Side::Other).unwrap().seg.unwrap();
    let new_syn = sent(&t, Side::Client, Flags::SYN)[0];
    assert_ne!(old.seq, new_syn.1);
    let rst = sent(&t, Side::Client, Flags::RST);
    assert_eq!(rst, [(20, old.seq.wrapping_add(1))]);
    assert_eq!(
        states(&t, Side::Server)[..4],
        [
            "10 LISTEN->SYN-RECEIVED",
            "30 SYN-RECEIVED->CLOSED",
            "40 LISTEN->SYN-RECEIVED",
            "60 SYN-RECEIVED->ESTABLISHED"
        ]
    );
    let synacks = sent(&t, Side::Server, Flags::SYN_ACK);
    assert_eq!(synacks.len(), 2, "one per SYN, no retransmission");
    assert_eq!(states(&t, Side::Client)[1], "50 SYN-SENT->ESTABLISHED");
}

/// With the two-way ablation the server establishes on the old SYN and sends
/// data nobody asked for, until the client's RST kills it 20 ms later.
#[test]
fn two_way_handshake_establishes_a_historical_connection() {
    let t = trace("old-duplicate-syn-two-way", &[], 1).unwrap();
    let server = states(&t, Side::Server);
    assert_eq!(server[..3], ["10 LISTEN->ESTABLISHED", "30 ESTABLISHED->CLOSED", "40 LISTEN->ESTABLISHED"]);
    let data: Vec<_> = sent(&t, Side::Server, Flags::PSH_ACK);
    assert_eq!(data.len(), 2, "one response to the old SYN, one to the real one");
    assert_eq!(sent(&t, Side::Client, Flags::RST).len(), 2, "the SYN-ACK and the data are both refused");
}

/// Five spoofed requests fill a queue of sk_max_ack_backlog = 4 (full is
/// `qlen > 4`); the legitimate SYN, retransmitted each second
/// (tcp_syn_linear_timeouts = 4), is dropped at 0.011 to 5.011 s.
/// At 7.01 s the oldest request expires early (the queue is more than half
/// full and none is young: Linux prunes to 2 retries) and the SYN sent at
/// 7.001 s gets in.
#[test]
fn syn_flood_glimpse_drops_then_pruning_lets_the_client_in() {
    let t = trace("syn-flood-glimpse", &[], 1).unwrap();
    let drops: Vec<u64> = t
        .records
        .iter()
        .filter(|r| r.note.contains("SYN queue full"))
        .map(|r| r.at.as_nanos() / 1_000_000)
        .collect();
    assert_eq!(drops, [11, 1_011, 2_011, 3_011, 4_011, 5_011]);
    let server = states(&t, Side::Server);
    assert!(server.contains(&"7010 SYN-RECEIVED->CLOSED".to_string()), "{server:?}");
    assert!(server.contains(&"7011 LISTEN->SYN-RECEIVED".to_string()));
    assert_eq!(states(&t, Side::Client)[1], "7021 SYN-SENT->ESTABLISHED");
    // The other four spoofed requests live the full 63 s: the queue is no
    // longer more than half full when their timers fire.
    assert_eq!(server.iter().filter(|s| s.starts_with("63010 SYN-RECEIVED->CLOSED")).count(), 4);
}

#[test]
fn syn_flood_glimpse_with_cookies_gets_through_at_once() {
    let t = trace("syn-flood-glimpse-cookies", &[], 1).unwrap();
    assert!(t.records.iter().any(|r| r.at.as_nanos() == 11_000_000 && r.note.contains("SYN cookie sent")));
    assert!(t.records.iter().any(|r| r.note.contains("valid SYN cookie")));
    assert_eq!(states(&t, Side::Client)[1], "21 SYN-SENT->ESTABLISHED");
}

#[test]
fn without_tw_reuse_the_time_wait_port_is_skipped() {
    let on = trace("tw-reuse", &[], 1).unwrap();
    let off = trace("tw-reuse-off", &[], 1).unwrap();
    let ports = |t: &synsim::scenarios::Trace| -> Vec<u16> {
        t.records
            .iter()
            .filter(|r| r.kind == RecordKind::Sent && r.side == Side::Client)
            .filter_map(|r| r.seg.filter(|s| s.flags == Flags::SYN).map(|s| s.src.port))
            .collect()
    };
    assert_eq!(ports(&on), [50000, 50000]);
    assert_eq!(ports(&off), [50000, 50001]);
    // Both connections' TIME-WAITs then run their 60 s side by side.
    assert_eq!(states(&off, Side::Client).iter().filter(|s| s.ends_with("TIME-WAIT->CLOSED")).count(), 2);
}

#[test]
fn same_seed_same_trace_other_seed_other_isns_same_shape() {
    for s in synsim::scenarios::SCENARIOS {
        let a = trace(s.name, &[], 7).unwrap();
        let b = trace(s.name, &[], 7).unwrap();
        assert_eq!(a.records, b.records, "{}: not reproducible", s.name);
        let c = trace(s.name, &[], 8).unwrap();
        if s.name.starts_with("syn-flood")
            || s.name.starts_with("old-dup")
            || s.name.starts_with("accept-queue")
        {
            continue; // their wire shows foreign absolute numbers (or interleaved connections')
        }
        assert_ne!(common::isns(&a), common::isns(&c), "{}: ISNs do not depend on the seed", s.name);
        assert_eq!(wire(&a), wire(&c), "{}: the shape changed with the seed", s.name);
    }
}

#[test]
fn every_listed_scenario_exists_and_unknown_ones_do_not() {
    for s in synsim::scenarios::SCENARIOS {
        assert!(trace(s.name, &[], 1).is_some(), "{}", s.name);
    }
    assert!(trace("no-such-scenario", &[], 1).is_none());
}

/// A custom drop rule on top of a scenario: lose the second SYN-ACK too.
#[test]
fn extra_drop_rules_compose_with_a_scenario() {
    let rule = synsim::net::DropRule::parse("synack:2:s2c").unwrap();
    let t = trace("lost-synack", &[rule], 1).unwrap();
    let lost = t.records.iter().filter(|r| r.kind == RecordKind::Lost).count();
    assert_eq!(lost, 2);
    // The third SYN-ACK (the answer to the duplicate SYN) still gets through.
    assert_eq!(states(&t, Side::Client)[1], "1020 SYN-SENT->ESTABLISHED");
}

/// The ablation's cost, counted: one connection nobody wanted, its SYN-ACK
/// and its data wasted, established 20 ms until the client's RST.
#[test]
fn two_way_handshake_counts_the_unwanted_connection() {
    let setup = synsim::scenarios::setup("old-duplicate-syn-two-way").unwrap();
    let mut world = synsim::sim::World::new(&setup.config, 1, 0);
    world.set_drop_rules(setup.rules);
    for (at, action) in setup.script {
        world.script(at, action);
    }
    let o = world.run();
    assert_eq!(o.counters.unwanted_established, 1);
    assert_eq!(o.counters.unwanted_segments, 2);
    assert_eq!(o.counters.unwanted_established_ns, 20_000_000);
    // The three-way handshake wastes nothing on the same old SYN.
    let setup = synsim::scenarios::setup("old-duplicate-syn").unwrap();
    let mut world = synsim::sim::World::new(&setup.config, 1, 0);
    world.set_drop_rules(setup.rules);
    for (at, action) in setup.script {
        world.script(at, action);
    }
    assert_eq!(world.run().counters.unwanted_established, 0);
}

/// The testbed's SYN-ACK schedule, through the whole world: a SYN from a
/// source that never answers reaches the server at 16 ms (4 jiffies into
/// an 8-jiffy slot at HZ 250). Its SYN-ACK retransmissions leave 1.008 s
/// and 3.024 s after the first, as on the testbed; with exact timers
/// (hz = 0) 1 s and 3 s after.
#[test]
fn synack_retransmissions_sit_on_the_timer_wheel_as_on_the_testbed() {
    use synsim::engine::SimTime;
    use synsim::sim::ScriptAction;
    for (hz, expected) in [(250, [16, 1_024, 3_040]), (0, [16, 1_016, 3_016])] {
        let mut s = synsim::scenarios::setup("normal").unwrap();
        s.config.hz = hz;
        s.config.server.tcp_synack_retries = 2;
        let syn = synsim::tcp::Segment {
            src: synsim::tcp::SockAddr::new(0xC633_6401, 40_001), // 198.51.100.1, no route back
            dst: synsim::sim::addr::SERVER,
            seq: 77,
            flags: Flags::SYN,
            mss: 1460,
            ..Default::default()
        };
        s.script = vec![(SimTime::from_millis(6), ScriptAction::Inject(syn))];
        let t = synsim::scenarios::run(s, &[], 1);
        let times: Vec<u64> = sent(&t, Side::Server, Flags::SYN_ACK).iter().map(|s| s.0).collect();
        assert_eq!(times, expected, "hz {hz}");
    }
}

/// The traced connection's own segments (the scenario's last connect()),
/// as `wire` prints them: other connections of the same host left out.
fn traced_wire(t: &synsim::scenarios::Trace) -> Vec<String> {
    let mut only = synsim::scenarios::Trace {
        records: t.records.clone(),
        client: t.client,
        server: t.server,
        end: t.end,
    };
    only.records.retain(|r| r.seg.is_some_and(|s| s.src == t.client || s.dst == t.client));
    wire(&only)
}

fn notes(t: &synsim::scenarios::Trace, note: &str) -> usize {
    t.records.iter().filter(|r| r.note == note && r.seg.is_some_and(|s| s.src == t.client)).count()
}

fn accepts(t: &synsim::scenarios::Trace) -> Vec<u64> {
    use synsim::trace::RecordKind;
    t.records.iter().filter(|r| r.kind == RecordKind::App("accept")).map(|r| r.at.as_millis()).collect()
}

/// abort 0: the final ACK (and every later segment) meets a full accept
/// queue and is dropped; the request stays, its SYN-ACK is resent at 1 s
/// and answered; the client, established, resends its FIN (a loss probe
/// at 0.945 s, then the RTO from there) until the worker's accept() at
/// 2.03 s makes room: the FIN retransmitted at 2.485 s creates the child,
/// which the worker accepts at 6.03 s.
#[test]
fn accept_queue_overflow_keeps_the_request_until_a_slot_frees() {
    let t = trace("accept-queue-overflow", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected = [
        "205 C> SYN 0 -",
        "215 S> SYN-ACK 0 1",
        "225 C> ACK 1 1",
        "725 C> FIN-ACK 1 1",
        "945 C> FIN-ACK 1 1",
        "1165 C> FIN-ACK 1 1",
        "1215 S> SYN-ACK 0 1",
        "1225 C> ACK 2 1",
        "1605 C> FIN-ACK 1 1",
        "2485 C> FIN-ACK 1 1",
        "2495 S> ACK 1 2",
        "6030 S> FIN-ACK 1 2",
        "6040 C> ACK 2 2",
    ];
    assert_eq!(traced_wire(&t), expected);
    assert_eq!(notes(&t, "accept queue full: ACK dropped"), 6);
    // One worker, 2 s per connection: the four connections one after another.
    assert_eq!(accepts(&t), [30, 2030, 4030, 6030]);
}

/// abort 1: the final ACK is answered with RST; the client had reported
/// connect() done and is reset (ECONNRESET); the worker never sees it.
#[test]
fn accept_queue_overflow_with_abort_resets_the_client() {
    let t = trace("accept-queue-overflow-abort", &[], 1).unwrap();
    #[rustfmt::skip]
    let expected = [
        "205 C> SYN 0 -",
        "215 S> SYN-ACK 0 1",
        "225 C> ACK 1 1",
        "235 S> RST 1 -",
    ];
    assert_eq!(traced_wire(&t), expected);
    let client: Vec<String> =
        states(&t, Side::Client).into_iter().filter(|s| s.starts_with("245 ")).collect();
    assert_eq!(client, ["245 ESTABLISHED->CLOSED"]);
    assert_eq!(accepts(&t), [30, 2030, 4030]);
}
