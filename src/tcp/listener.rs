//! A listening socket as Linux has it: the SYN (request) queue, the accept
//! queue, SYN cookies and their counters (docs/linux.md, "The listener").
//!
//! The listener decides; the caller owns the request sockets (`Tcb`s in
//! SYN-RECEIVED, wherever it stores them) and calls back here at each
//! step, so every queue rule is testable without a simulation.

use super::conn::{CloseCause, Tcb, reset_for};
use super::params::{SynCookies, TCP_RTO_MAX, TCP_TIMEOUT_INIT, TcpParams, tcp_tsval};
use super::segment::{Flags, Segment, SockAddr};
use super::state::State;
use crate::engine::rng::mix64;
use crate::engine::{SimDuration, SimTime};
use std::collections::VecDeque;

/// The listener's settings (the server's sysctls that shape it).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    /// `sk_max_ack_backlog = min(listen backlog, somaxconn)`.
    pub max_ack_backlog: u32,
    pub max_syn_backlog: u32,
    pub syncookies: SynCookies,
    pub abort_on_overflow: bool,
    /// `reqsk_timer_handler`'s young-request pruning (false: an ablation).
    pub synack_pruning: bool,
    /// TCP_DEFER_ACCEPT as `rskq_defer_accept`: for this many SYN-ACK
    /// timeouts a request waits for data after a bare ACK (see
    /// [`defer_accept_retrans`]); 0: off.
    pub defer_accept: u8,
}

/// `secs_to_retrans(seconds, TCP_TIMEOUT_INIT, TCP_RTO_MAX)`: TCP_DEFER_ACCEPT's
/// seconds as the SYN-ACK timeouts whose doubling periods cover them
/// (`do_tcp_setsockopt`): 1 s is 1, 2-3 s 2, 4-7 s 3, 8-15 s 4 ...
pub fn defer_accept_retrans(seconds: u32) -> u8 {
    if seconds == 0 {
        return 0;
    }
    let max = TCP_RTO_MAX.as_nanos() / 1_000_000_000;
    let mut timeout = TCP_TIMEOUT_INIT.as_nanos() / 1_000_000_000;
    let (mut retrans, mut period) = (1u8, timeout);
    while seconds as u64 > period && retrans < u8::MAX {
        retrans += 1;
        timeout = (timeout * 2).min(max);
        period += timeout;
    }
    retrans
}

impl ListenerConfig {
    /// How many requests a flood of unproven peers can hold: a SYN is
    /// queued while `qlen <= sk_max_ack_backlog` (`inet_csk_reqsk_queue_is_full`
    /// is `qlen > max`) and, without cookies, while `qlen <= max_syn_backlog
    /// - max_syn_backlog / 4` (`tcp_conn_request`'s last-quarter rule).
    pub fn syn_queue_capacity(&self) -> u32 {
        let mut limit = self.max_ack_backlog;
        if self.syncookies == SynCookies::Off {
            limit = limit.min(self.max_syn_backlog - (self.max_syn_backlog >> 2));
        }
        limit + 1
    }
}

/// nstat counters the listener increments, where Linux increments them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerCounters {
    /// `tcp_listendrop`: every SYN or final ACK the listener dropped.
    pub listen_drops: u64,
    /// The accept queue was full (at the SYN or at the final ACK).
    pub listen_overflows: u64,
    /// SYN queue full, cookies off: SYN dropped (`tcp_syn_flood_action`).
    pub reqq_full_drop: u64,
    /// Cookies chosen by `tcp_syn_flood_action` (with tcp_syncookies = 2,
    /// for every SYN, as the kernel counts it).
    pub reqq_full_do_cookies: u64,
    pub syncookies_sent: u64,
    pub syncookies_recv: u64,
    pub syncookies_failed: u64,
    /// Connections rebuilt from a cookie whose ACK carried no timestamp:
    /// window scaling and SACK, which only a timestamp can carry through a
    /// cookie (`cookie_timestamp_decode`), are lost on them.
    pub syncookies_without_options: u64,
    /// SYNs dropped by the last-quarter rule (counted in listen_drops too).
    pub unproven_drops: u64,
    /// Bare final ACKs dropped by TCP_DEFER_ACCEPT (TcpExtTCPDeferAcceptDrop).
    pub defer_accept_drops: u64,
    /// SYN-ACK retransmissions (the server's share of TcpExtTCPSynRetrans).
    pub synack_retrans: u64,
    /// Requests that expired after their SYN-ACK retries.
    pub request_timeouts: u64,
    /// Children created (TcpPassiveOpens).
    pub passive_opens: u64,
    /// Requests an RST or a new SYN ended (`tcp_check_req`: the server's
    /// share of TcpAttemptFails).
    pub attempt_fails: u64,
}

/// What the listener did with a SYN.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SynVerdict {
    /// Keep a request: the caller creates it with [`Listener::new_request`].
    Queue,
    /// A cookie SYN-ACK went out; no state kept.
    Cookie,
    /// Dropped; counters say why.
    Dropped,
}

/// What happened to a request after a segment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Still a request in the SYN queue.
    Pending,
    /// The handshake completed: the caller moves the now-ESTABLISHED TCB to
    /// the accept queue with [`Listener::enqueue_accept`].
    Established,
    /// The final ACK found the accept queue full and was dropped; the
    /// request stays, marked `acked`.
    Overflowed,
    /// TCP_DEFER_ACCEPT: a bare final ACK was dropped; the request stays,
    /// marked `acked`, until data comes or the deferral ends.
    Deferred,
    /// The request is gone (RST, a new SYN, or `tcp_abort_on_overflow`):
    /// the caller discards it.
    Removed,
}

/// `MAX_SYNCOOKIE_AGE` periods of `TCP_SYNCOOKIE_PERIOD` (60 s): a cookie
/// is valid for about two minutes (`syncookies.c`).
const SYNCOOKIE_PERIOD: SimDuration = SimDuration::from_secs(60);
const MAX_SYNCOOKIE_AGE: u32 = 2;
/// `msstab` in `syncookies.c`.
pub const COOKIE_MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
const COOKIEBITS: u32 = 24;
const COOKIEMASK: u32 = (1 << COOKIEBITS) - 1;

/// A listening socket. `T` is whatever the caller uses to name an
/// established connection waiting in the accept queue.
#[derive(Clone, Debug)]
pub struct Listener<T> {
    pub addr: SockAddr,
    pub cfg: ListenerConfig,
    /// Requests in the SYN queue (`reqsk_queue_len`).
    qlen: u32,
    /// Requests whose timer has not yet fired (`reqsk_queue_len_young`).
    young: u32,
    accept_queue: VecDeque<T>,
    /// `tcp_synq_overflow`: when cookies were last sent.
    last_overflow: Option<SimTime>,
    secret: [u64; 2],
    pub counters: ListenerCounters,
}

impl<T> Listener<T> {
    pub fn new(addr: SockAddr, cfg: ListenerConfig, secret: u64) -> Self {
        Listener {
            addr,
            cfg,
            qlen: 0,
            young: 0,
            accept_queue: VecDeque::new(),
            last_overflow: None,
            secret: [mix64(secret), mix64(secret ^ 0x5bd1_e995)],
            counters: ListenerCounters::default(),
        }
    }

    pub fn syn_queue_len(&self) -> u32 {
        self.qlen
    }
    pub fn young_len(&self) -> u32 {
        self.young
    }
    pub fn accept_queue_len(&self) -> usize {
        self.accept_queue.len()
    }

    /// `sk_acceptq_is_full`: strictly greater than the backlog.
    pub fn accept_queue_full(&self) -> bool {
        self.accept_queue.len() as u64 > self.cfg.max_ack_backlog as u64
    }

    /// `inet_csk_reqsk_queue_is_full` (kernels since 2024: `>`).
    fn syn_queue_full(&self) -> bool {
        self.qlen > self.cfg.max_ack_backlog
    }

    /// A SYN reached the listener (`tcp_conn_request`), in Linux's order.
    /// `proven` says whether its sender is a proven peer; it is asked only
    /// where the last-quarter rule would drop the SYN.
    pub fn on_syn(
        &mut self,
        now: SimTime,
        syn: &Segment,
        p: &TcpParams,
        out: &mut Vec<Segment>,
        proven: impl FnOnce() -> bool,
    ) -> SynVerdict {
        let mut want_cookie = false;
        if self.cfg.syncookies == SynCookies::Always || self.syn_queue_full() {
            // `tcp_syn_flood_action`.
            if self.cfg.syncookies != SynCookies::Off {
                want_cookie = true;
                self.counters.reqq_full_do_cookies += 1;
            } else {
                self.counters.reqq_full_drop += 1;
                self.counters.listen_drops += 1;
                return SynVerdict::Dropped;
            }
        }
        if self.accept_queue_full() {
            self.counters.listen_overflows += 1;
            self.counters.listen_drops += 1;
            return SynVerdict::Dropped;
        }
        if want_cookie {
            self.last_overflow = Some(now);
            self.counters.syncookies_sent += 1;
            out.push(self.cookie_syn_ack(now, syn, p));
            return SynVerdict::Cookie;
        }
        // Without cookies the last quarter of tcp_max_syn_backlog is kept
        // for peers proven alive (`tcp_peer_is_proven`: the TCP metrics
        // cache holds an RTT for the sender's address).
        let msb = self.cfg.max_syn_backlog;
        if self.cfg.syncookies == SynCookies::Off && msb.saturating_sub(self.qlen) < (msb >> 2) && !proven() {
            self.counters.unproven_drops += 1;
            self.counters.listen_drops += 1;
            return SynVerdict::Dropped;
        }
        SynVerdict::Queue
    }

    /// Creates the request for a SYN that [`on_syn`](Self::on_syn) queued.
    pub fn new_request(
        &mut self,
        now: SimTime,
        syn: &Segment,
        iss: u32,
        p: &TcpParams,
        out: &mut Vec<Segment>,
    ) -> Tcb {
        let tcb = Tcb::accept_syn(now, syn, iss, p, out);
        if tcb.state == State::SynReceived {
            self.qlen += 1;
            self.young += 1;
        } else {
            // The two-way ablation: established on the SYN, no request.
            self.counters.passive_opens += 1;
        }
        tcb
    }

    /// A request leaves the SYN queue (`inet_csk_reqsk_queue_removed`);
    /// `was_young` if its timer had not yet fired.
    fn dequeue(&mut self, was_young: bool) {
        debug_assert!(self.qlen > 0, "SYN queue length would wrap");
        self.qlen -= 1;
        if was_young {
            self.age();
        }
    }

    /// A request's timer fired for the first time: it is no longer young.
    fn age(&mut self) {
        debug_assert!(self.young > 0, "young count would wrap");
        self.young -= 1;
    }

    /// The SYN-ACK retry threshold for the next expiry (`reqsk_timer_handler`):
    /// when the queue is more than half full, old requests get fewer
    /// retries, the more so the fewer young ones there are.
    pub fn synack_retry_threshold(&self, synack_retries: u8) -> u8 {
        let mut max_retries = synack_retries;
        if self.cfg.synack_pruning && (self.qlen << 1) > self.cfg.max_ack_backlog.max(8) {
            let mut young = (self.young as u64) << 1;
            while max_retries > 2 {
                if (self.qlen as u64) < young {
                    break;
                }
                max_retries -= 1;
                young <<= 1;
            }
        }
        max_retries
    }

    /// A request's timer fired. Returns true when the request expired and
    /// the caller must discard it.
    pub fn request_timeout(
        &mut self,
        now: SimTime,
        req: &mut Tcb,
        p: &TcpParams,
        out: &mut Vec<Segment>,
    ) -> bool {
        let mut threshold = self.synack_retry_threshold(p.synack_retries);
        // `syn_ack_recalc` with TCP_DEFER_ACCEPT: a request whose bare ACK
        // was dropped lives until the deferral is over too, and gets no
        // SYN-ACK before its last timeout of it (the client's last chance
        // to ACK into an established socket).
        let defer = self.cfg.defer_accept;
        let mut resend = true;
        if defer > 0 && req.acked() {
            threshold = threshold.max(defer);
            resend = req.retransmits.saturating_add(1) >= defer;
        }
        let was_young = req.retransmits == 0;
        let sent = out.len();
        req.handle_timeout(now, &TcpParams { synack_retries: threshold, ..*p }, out);
        if req.state == State::Closed {
            self.dequeue(was_young);
            self.counters.request_timeouts += 1;
            return true;
        }
        if !resend {
            out.truncate(sent); // the timer ran; its SYN-ACK stays unsent
        }
        if was_young {
            self.age();
        }
        self.counters.synack_retrans += (out.len() - sent) as u64;
        false
    }

    /// A segment reached one of this listener's requests (`tcp_check_req`).
    pub fn on_request_segment(
        &mut self,
        now: SimTime,
        req: &mut Tcb,
        seg: &Segment,
        p: &TcpParams,
        out: &mut Vec<Segment>,
    ) -> RequestOutcome {
        // TCP_DEFER_ACCEPT (`tcp_check_req`): until the request has seen
        // `rskq_defer_accept` SYN-ACK timeouts a bare ACK (ending at the
        // client's ISN + 1: no data, no FIN) is dropped, before the accept
        // queue is looked at (TcpExtTCPDeferAcceptDrop).
        if req.retransmits < self.cfg.defer_accept
            && req.completes_handshake(seg)
            && seg.seq.wrapping_add(seg.seq_len()) == req.irs.wrapping_add(1)
        {
            req.mark_acked();
            self.counters.defer_accept_drops += 1;
            return RequestOutcome::Deferred;
        }
        if req.completes_handshake(seg) && self.accept_queue_full() {
            // `tcp_v4_syn_recv_sock` -> exit_overflow, then listen_overflow
            // in `tcp_check_req`.
            self.counters.listen_overflows += 1;
            self.counters.listen_drops += 1;
            if self.cfg.abort_on_overflow {
                // The request is freed with its RST: closed here, so no
                // later segment of its 4-tuple finds it (and dequeues it twice).
                out.extend(reset_for(seg));
                self.dequeue(req.retransmits == 0);
                req.discard(now, CloseCause::Abort);
                return RequestOutcome::Removed;
            }
            req.mark_acked();
            return RequestOutcome::Overflowed;
        }
        let was_young = req.retransmits == 0;
        let sent = out.len();
        req.handle_segment(now, seg, p, out);
        match req.state {
            State::SynReceived => {
                // A duplicate SYN was answered with the SYN-ACK again.
                self.counters.synack_retrans +=
                    out[sent..].iter().filter(|s| s.flags.contains(Flags::SYN_ACK)).count() as u64;
                RequestOutcome::Pending
            }
            State::Closed => {
                self.dequeue(was_young);
                if seg.flags.rst() || seg.flags.syn() {
                    self.counters.attempt_fails += 1;
                }
                RequestOutcome::Removed
            }
            _ => {
                self.dequeue(was_young);
                self.counters.passive_opens += 1;
                RequestOutcome::Established
            }
        }
    }

    /// An ACK that matched no request (`cookie_v4_check`, then LISTEN's
    /// "an ACK gets a RST"). Returns the connection a valid cookie rebuilt,
    /// already in ESTABLISHED; the caller enqueues it for accept().
    pub fn on_stray_segment(
        &mut self,
        now: SimTime,
        seg: &Segment,
        p: &TcpParams,
        out: &mut Vec<Segment>,
    ) -> Option<Tcb> {
        let f = seg.flags;
        if f.rst() {
            return None;
        }
        if f.ack() && !f.syn() && self.cfg.syncookies != SynCookies::Off && self.recent_overflow(now) {
            if self.check_cookie(now, seg).is_some() {
                self.counters.syncookies_recv += 1;
                if self.accept_queue_full() {
                    self.counters.listen_overflows += 1;
                    self.counters.listen_drops += 1;
                    if self.cfg.abort_on_overflow {
                        out.extend(reset_for(seg));
                    }
                    return None;
                }
                if seg.tsval == 0 {
                    self.counters.syncookies_without_options += 1;
                }
                let mut child = Tcb::from_cookie(now, seg);
                // The ACK may carry data or a FIN: process it as ESTABLISHED would.
                if seg.len > 0 || f.fin() {
                    child.handle_segment(now, seg, p, out);
                }
                self.counters.passive_opens += 1;
                return Some(child);
            }
            self.counters.syncookies_failed += 1;
        }
        out.extend(reset_for(seg));
        None
    }

    /// `tcp_synq_no_recent_overflow`, inverted: cookies went out within
    /// their validity.
    fn recent_overflow(&self, now: SimTime) -> bool {
        self.last_overflow.is_some_and(|t| {
            now.saturating_sub(t) <= SYNCOOKIE_PERIOD.saturating_mul(MAX_SYNCOOKIE_AGE as u64)
        })
    }

    pub fn enqueue_accept(&mut self, child: T) {
        self.accept_queue.push_back(child);
    }

    /// accept(): the head of the accept queue.
    pub fn accept(&mut self) -> Option<T> {
        self.accept_queue.pop_front()
    }

    /// Removes entries the caller no longer wants (e.g. children that died
    /// while waiting).
    pub fn retain_accept(&mut self, keep: impl FnMut(&T) -> bool) {
        self.accept_queue.retain(keep);
    }

    fn cookie_count(now: SimTime) -> u32 {
        (now.as_nanos() / SYNCOOKIE_PERIOD.as_nanos()) as u32
    }

    fn cookie_hash(&self, seg: &Segment, count: u32, which: usize) -> u32 {
        let tuple = ((seg.src.ip as u64) << 32 | seg.dst.ip as u64)
            ^ ((seg.src.port as u64) << 16 | seg.dst.port as u64).rotate_left(48);
        mix64(self.secret[which] ^ tuple ^ ((count as u64) << 40)) as u32
    }

    /// `secure_tcp_syn_cookie`: hash + client ISN + (count << 24) + (second
    /// hash + MSS index) & mask. `syn` is the SYN being answered.
    fn make_cookie(&self, now: SimTime, syn: &Segment, mss_index: u32) -> u32 {
        let count = Self::cookie_count(now);
        self.cookie_hash(syn, 0, 0)
            .wrapping_add(syn.seq)
            .wrapping_add(count << COOKIEBITS)
            .wrapping_add(self.cookie_hash(syn, count, 1).wrapping_add(mss_index) & COOKIEMASK)
    }

    /// `__cookie_v4_check`: the MSS the cookie in `ack` carries, if valid.
    pub fn check_cookie(&self, now: SimTime, ack: &Segment) -> Option<u16> {
        let cookie = ack.ack.wrapping_sub(1);
        let client_isn = ack.seq.wrapping_sub(1);
        let rest = cookie.wrapping_sub(self.cookie_hash(ack, 0, 0)).wrapping_sub(client_isn);
        let count = Self::cookie_count(now);
        let age = count.wrapping_sub(rest >> COOKIEBITS) & (u32::MAX >> COOKIEBITS);
        if age >= MAX_SYNCOOKIE_AGE {
            return None;
        }
        // u32 arithmetic as the kernel's: in the first period a stray ACK whose
        // count field reads one period back names count u32::MAX.
        let minted = count.wrapping_sub(age);
        let index = rest.wrapping_sub(self.cookie_hash(ack, minted, 1)) & COOKIEMASK;
        COOKIE_MSS_TABLE.get(index as usize).copied()
    }

    /// The stateless SYN-ACK (`cookie_v4_init_sequence`): the largest table
    /// MSS not above the client's.
    fn cookie_syn_ack(&self, now: SimTime, syn: &Segment, p: &TcpParams) -> Segment {
        let client_mss = if syn.mss == 0 { 536 } else { syn.mss };
        let index = COOKIE_MSS_TABLE.iter().rposition(|&m| m <= client_mss).unwrap_or(0);
        let tsval = if p.timestamps && syn.tsval != 0 {
            tcp_tsval(now, p.ts_secret, syn.dst.ip, syn.src.ip)
        } else {
            0
        };
        Segment {
            src: syn.dst,
            dst: syn.src,
            seq: self.make_cookie(now, syn, index as u32),
            ack: syn.seq.wrapping_add(1),
            tsval,
            tsecr: if tsval != 0 { syn.tsval } else { 0 },
            len: 0,
            mss: COOKIE_MSS_TABLE[index],
            flags: Flags::SYN_ACK,
            // `tcp_make_synack` answers the SYN's options (they are lost
            // only on the way back, without timestamps to carry them).
            syn_opts: syn.syn_opts,
        }
    }
}

#[cfg(test)]
mod tests;
