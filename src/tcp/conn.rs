//! One connection's transmission control block and its state machine,
//! sans-IO: inputs carry `now`, outputs are segments pushed to `out`, and
//! the only timer is a deadline read with [`Tcb::poll_timeout`].
//!
//! The transition table follows RFC 9293 §3.10 ("Event Processing") with
//! Linux's choices where the RFC leaves room (RFC 5961 challenge ACKs,
//! `tcp_timewait_state_process`, orphan retries). A request socket at a
//! listener is a `Tcb` in SYN-RECEIVED; the listener (`listener.rs`) owns
//! the queue rules around it.

use super::params::{
    TCP_ATO_MIN_MS, TCP_DELACK_MAX_MS, TCP_DELACK_MIN_MS, TCP_RETRIES2, TCP_RTO_MIN, TCP_TIMEOUT_INIT,
    TCP_TIMEWAIT_LEN, TcpParams, WINDOW, backoff, syn_backoff, syn_model_timeout_ms, tcp_time_stamp,
    tcp_timeout_min, tcp_tsval,
};
use super::ports::Occupant;
use super::segment::{Flags, Segment, SockAddr};
use super::seq::{seq_gt, seq_le, seq_lt};
use super::state::State;
use super::time_wait::reopen_isn;
use super::timer_wheel;
use crate::engine::{SimDuration, SimTime};

/// Why a connection reached CLOSED.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CloseCause {
    /// Orderly: LAST-ACK acknowledged, TIME-WAIT expired, or closed before
    /// anything was sent.
    Normal,
    /// An RST was received (ECONNRESET; ECONNREFUSED in SYN-SENT).
    Reset,
    /// Retransmissions exhausted: `tcp_syn_retries` in SYN-SENT (connect()
    /// fails with ETIMEDOUT), SYN-ACK retries at a request, orphan retries.
    Timeout,
    /// The orphaned FIN-WAIT-2 lived `tcp_fin_timeout`.
    FinTimeout,
    /// The local application aborted (SO_LINGER {on, 0}): RST sent.
    Abort,
    /// An RST ended TIME-WAIT early: TIME-WAIT assassination (RFC 1337),
    /// which `tcp_rfc1337 = 0` allows.
    Assassinated,
}

/// A connection's timers: one connection timer (retransmission,
/// FIN-WAIT-2 or TIME-WAIT) and, beside it, the delayed ACK's.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimerKind {
    None,
    /// SYN, SYN-ACK, FIN or data retransmission.
    Retransmit,
    /// The tail loss probe (`ICSK_TIME_LOSS_PROBE`, RFC 8985 §7), armed in
    /// front of the retransmission timer.
    LossProbe,
    /// The orphaned FIN-WAIT-2 timeout (`tcp_fin_timeout`).
    FinWait2,
    /// TIME-WAIT expiry (`TCP_TIMEWAIT_LEN`).
    TimeWait,
    /// The delayed-ACK timer (`ICSK_TIME_DACK`), which runs beside the
    /// others: [`Tcb::next_timer`] names it when it fires first.
    DelayedAck,
}

/// What the caller must do after a segment was processed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Processed (state and `out` say the rest).
    Done,
    /// TIME-WAIT accepted a new SYN for its 4-tuple (`TCP_TW_SYN`): the
    /// caller must discard this TCB and hand the SYN to the listener, whose
    /// new connection starts at `isn` (above the old one's sequence space).
    ReopenFromTimeWait { isn: u32 },
}

const FLAG_ORPHAN: u16 = 1; // the application called close()
const FLAG_FIN_SENT: u16 = 2;
const FLAG_RTT_SAMPLED: u16 = 4;
const FLAG_ACKED: u16 = 8; // request: a final ACK was dropped (accept queue full, or TCP_DEFER_ACCEPT)
const FLAG_FROM_COOKIE: u16 = 16;
const FLAG_FIN_RECEIVED: u16 = 32;
const FLAG_PINGPONG: u16 = 64; // `inet_csk_in_pingpong_mode`: interactive, ACKs wait
const FLAG_ACK_SCHEDULED: u16 = 128; // `inet_csk_ack_scheduled`: an ACK is owed
const FLAG_PEER_SACK: u16 = 256; // the peer's SYN (SYN-ACK) offered SACK_PERM: with ours, `tcp_is_sack`
const FLAG_PEER_WSCALE: u16 = 512; // the peer's SYN offered a window scale
const FLAG_PROBE_OUT: u16 = 1024; // a loss probe is out and unacknowledged (`tlp_high_seq`)

/// A transmission control block (RFC 9293 §3.3.1). 80 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tcb {
    pub local: SockAddr,
    pub remote: SockAddr,
    pub state: State,
    timer: TimerKind,
    /// Consecutive expiries of the current retransmission timer (a
    /// request's `num_timeout`).
    pub retransmits: u8,
    flags: u16,
    pub iss: u32,
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub irs: u32,
    pub rcv_nxt: u32,
    /// Last timestamp value received (RFC 7323 TS.Recent).
    pub ts_recent: u32,
    /// Smoothed RTT and its variation, microseconds (RFC 6298); 0 = none.
    srtt_us: u32,
    rttvar_us: u32,
    /// Base retransmission timeout, milliseconds.
    rto_ms: u32,
    deadline: SimTime,
    /// When the connection entered its current state (for TIME-WAIT's age,
    /// which `tcp_twsk_unique` checks).
    pub state_since: SimTime,
    /// Why it closed, once `state == Closed`.
    pub close_cause: Option<CloseCause>,
    /// The delayed-ACK engine (`icsk_ack`): the ACK timeout in ms (0
    /// until the first data arrives) and when the delayed-ACK timer fires
    /// (`SimTime::MAX`: not armed).
    ato_ms: u16,
    delack_at: SimTime,
}

impl Tcb {
    fn blank(now: SimTime, local: SockAddr, remote: SockAddr, iss: u32) -> Tcb {
        Tcb {
            local,
            remote,
            state: State::Closed,
            timer: TimerKind::None,
            retransmits: 0,
            flags: 0,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            irs: 0,
            rcv_nxt: 0,
            ts_recent: 0,
            srtt_us: 0,
            rttvar_us: 0,
            rto_ms: TCP_TIMEOUT_INIT.as_nanos().div_ceil(1_000_000) as u32,
            deadline: SimTime::MAX,
            state_since: now,
            close_cause: None,
            ato_ms: 0,
            delack_at: SimTime::MAX,
        }
    }

    /// Active open (RFC 9293 §3.10.1, `tcp_v4_connect`): CLOSED -> SYN-SENT,
    /// the SYN goes out and the RTO starts at `TCP_TIMEOUT_INIT`.
    pub fn connect(
        now: SimTime,
        local: SockAddr,
        remote: SockAddr,
        iss: u32,
        p: &TcpParams,
        out: &mut Vec<Segment>,
    ) -> Tcb {
        let mut tcb = Tcb::blank(now, local, remote, iss);
        tcb.set_state(now, State::SynSent);
        tcb.snd_nxt = iss.wrapping_add(1);
        out.push(tcb.syn(now, p));
        tcb.arm(now, TimerKind::Retransmit, TCP_TIMEOUT_INIT, p);
        tcb
    }

    /// Passive open of one request: a SYN reached a listener that decided to
    /// keep state (`tcp_conn_request`). LISTEN -> SYN-RECEIVED, SYN-ACK out,
    /// request timer at 1 s. In the `two_way` ablation the request is
    /// ESTABLISHED at once.
    pub fn accept_syn(now: SimTime, syn: &Segment, iss: u32, p: &TcpParams, out: &mut Vec<Segment>) -> Tcb {
        let mut tcb = Tcb::blank(now, syn.dst, syn.src, iss);
        tcb.irs = syn.seq;
        tcb.rcv_nxt = syn.seq.wrapping_add(1);
        tcb.ts_recent = syn.tsval;
        tcb.note_peer_syn(syn);
        tcb.snd_nxt = iss.wrapping_add(1);
        out.push(tcb.syn_ack(now, p));
        if p.two_way {
            tcb.set_state(now, State::Established);
            tcb.snd_una = tcb.snd_nxt;
        } else {
            tcb.set_state(now, State::SynReceived);
            tcb.arm(now, TimerKind::Retransmit, TCP_TIMEOUT_INIT, p);
        }
        tcb
    }

    /// A connection rebuilt from a valid SYN cookie (`cookie_v4_check`,
    /// `tcp_get_cookie_sock`): ESTABLISHED directly, no timer. `ack` is the
    /// final ACK whose acknowledgment number carried the cookie.
    pub fn from_cookie(now: SimTime, ack: &Segment) -> Tcb {
        let iss = ack.ack.wrapping_sub(1);
        let mut tcb = Tcb::blank(now, ack.dst, ack.src, iss);
        tcb.snd_una = ack.ack;
        tcb.snd_nxt = ack.ack;
        tcb.irs = ack.seq.wrapping_sub(1);
        tcb.rcv_nxt = ack.seq;
        tcb.ts_recent = ack.tsval;
        tcb.flags |= FLAG_FROM_COOKIE;
        // The cookie's timestamp carries the SYN's SACK_PERM (every
        // simulated SYN offers it); without timestamps it is lost
        // (`cookie_timestamp_decode`).
        if ack.tsecr != 0 {
            tcb.flags |= FLAG_PEER_SACK;
        }
        tcb.set_state(now, State::Established);
        tcb
    }

    /// When the next timer fires: the connection timer or the delayed ACK.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        let timer = if self.timer == TimerKind::None { SimTime::MAX } else { self.deadline };
        let next = timer.min(self.delack_at);
        (next != SimTime::MAX).then_some(next)
    }

    /// The connection timer (retransmission, FIN-WAIT-2, TIME-WAIT).
    pub fn timer_kind(&self) -> TimerKind {
        self.timer
    }

    /// The timer that fires next, the delayed ACK included.
    pub fn next_timer(&self) -> TimerKind {
        if self.delack_at != SimTime::MAX
            && (self.timer == TimerKind::None || self.delack_at <= self.deadline)
        {
            TimerKind::DelayedAck
        } else {
            self.timer
        }
    }

    /// An ACK waits for the delayed-ACK timer.
    pub fn ack_delayed(&self) -> bool {
        self.delack_at != SimTime::MAX
    }

    pub fn is_orphan(&self) -> bool {
        self.flags & FLAG_ORPHAN != 0
    }
    pub fn from_cookie_flag(&self) -> bool {
        self.flags & FLAG_FROM_COOKIE != 0
    }
    /// `inet_rsk(req)->acked`: the request's final ACK came and was
    /// dropped (the accept queue was full, or TCP_DEFER_ACCEPT waits for data).
    pub fn acked(&self) -> bool {
        self.flags & FLAG_ACKED != 0
    }
    pub fn mark_acked(&mut self) {
        self.flags |= FLAG_ACKED;
    }
    /// The peer's FIN has been received (the application would read EOF).
    pub fn fin_received(&self) -> bool {
        self.flags & FLAG_FIN_RECEIVED != 0
    }

    /// The smoothed RTT, once a sample was taken.
    pub fn srtt(&self) -> Option<SimDuration> {
        (self.flags & FLAG_RTT_SAMPLED != 0).then(|| SimDuration::from_micros(self.srtt_us as u64))
    }

    /// The base RTO, before backoff.
    pub fn rto(&self) -> SimDuration {
        SimDuration::from_millis(self.rto_ms as u64)
    }

    fn set_state(&mut self, now: SimTime, s: State) {
        if self.state != s {
            self.state = s;
            self.state_since = now;
        }
    }

    /// When a timer armed now for `after` fires on this host's timer wheel,
    /// at its own jiffies phase.
    pub fn expires(&self, now: SimTime, after: SimDuration, p: &TcpParams, in_timer: bool) -> SimTime {
        let phase = timer_wheel::clock_phase(self.local.ip, p.clock_secret, p.hz);
        timer_wheel::expires_on(now, after, p.hz, in_timer, phase)
    }

    /// Arms the one timer `after` from now, as the kernel's timer wheel
    /// fires it (`tcp::timer_wheel`, CONFIG_HZ `p.hz`).
    fn arm(&mut self, now: SimTime, kind: TimerKind, after: SimDuration, p: &TcpParams) {
        self.timer = kind;
        self.deadline = self.expires(now, after, p, false);
    }

    /// [`Tcb::arm`] from inside a timer callback (the wheel's clock is a
    /// jiffy ahead there).
    fn arm_in_timer(&mut self, now: SimTime, kind: TimerKind, after: SimDuration, p: &TcpParams) {
        self.timer = kind;
        self.deadline = self.expires(now, after, p, true);
    }

    fn disarm(&mut self) {
        self.timer = TimerKind::None;
        self.deadline = SimTime::MAX;
    }

    /// Sends `seg`; one that carries an ACK settles whatever ACK was owed
    /// (`tcp_event_ack_sent` clears the delayed-ACK timer).
    fn emit(&mut self, seg: Segment, out: &mut Vec<Segment>) {
        if seg.flags.ack() && !seg.flags.rst() {
            self.flags &= !FLAG_ACK_SCHEDULED;
            self.delack_at = SimTime::MAX;
        }
        out.push(seg);
    }

    /// `tcp_event_data_recv`: in-order data arrived. The first data
    /// starts the delayed-ACK engine: quick-ACK mode (`tcp_incr_quickack`)
    /// and the ACK timeout at `TCP_ATO_MIN`. Later data would adapt the
    /// timeout to the gaps between segments; a connection here carries
    /// at most one data segment each way.
    fn data_received(&mut self) {
        self.flags |= FLAG_ACK_SCHEDULED;
        if self.ato_ms == 0 {
            self.ato_ms = TCP_ATO_MIN_MS;
        }
    }

    /// `tcp_in_quickack_mode`: quick ACKs left, and not interactive.
    /// Linux grants `TCP_MAX_QUICKACKS` (16) at the first data
    /// (WINDOW / (2 MSS) is more for every MSS here) and spends one per
    /// ACK; a connection here sends a handful of ACKs, so they never run
    /// out: quick ACKs are left once data has arrived (ato set). (The
    /// delayed-ACK timer also sets ato, but it runs only after a FIN,
    /// when no data can follow.)
    fn in_quickack_mode(&self) -> bool {
        self.ato_ms != 0 && self.flags & FLAG_PINGPONG == 0
    }

    /// `__tcp_ack_snd_check`: the owed ACK goes now in quick-ACK mode
    /// (or when `immediate`: data out of order, or not taken), else it
    /// waits for the delayed-ACK timer.
    fn ack_snd_check(&mut self, now: SimTime, immediate: bool, p: &TcpParams, out: &mut Vec<Segment>) {
        if self.flags & FLAG_ACK_SCHEDULED == 0 {
            return;
        }
        if immediate || self.in_quickack_mode() {
            self.emit(self.ack_now(now, p), out);
        } else {
            self.send_delayed_ack(now, p, out);
        }
    }

    /// `tcp_send_delayed_ack`: arm the delayed-ACK timer `ato` from now.
    /// An ato above `TCP_DELACK_MIN` is bounded by `TCP_DELACK_MAX`
    /// (interactive) or HZ/2, and by the smoothed RTT; every ato by
    /// `TCP_DELACK_MAX`. A timer already armed stays if it is earlier, or
    /// the ACK goes now if that timer is within ato/4 of firing. An ato
    /// of 0 (no data received yet) fires at the next jiffy.
    fn send_delayed_ack(&mut self, now: SimTime, p: &TcpParams, out: &mut Vec<Segment>) {
        let mut ato = self.ato_ms as u64;
        if ato > TCP_DELACK_MIN_MS {
            // HZ/2 unless interactive.
            let mut max_ato = if self.flags & FLAG_PINGPONG != 0 { TCP_DELACK_MAX_MS } else { 500 };
            if let Some(srtt) = self.srtt() {
                max_ato = max_ato.min((srtt.as_nanos() / 1_000_000).max(TCP_DELACK_MIN_MS));
            }
            ato = ato.min(max_ato);
        }
        let ato = SimDuration::from_millis(ato.min(TCP_DELACK_MAX_MS));
        let mut at = self.expires(now, ato, p, false);
        if self.delack_at != SimTime::MAX {
            if self.delack_at <= now + SimDuration(ato.0 / 4) {
                self.emit(self.ack_now(now, p), out);
                return;
            }
            at = at.min(self.delack_at);
        }
        self.delack_at = at;
    }

    /// `tcp_delack_timer_handler`: the owed ACK goes; an interactive
    /// connection leaves pingpong mode with the minimal timeout, another
    /// doubles its timeout (up to the RTO).
    fn delayed_ack_timer(&mut self, now: SimTime, p: &TcpParams, out: &mut Vec<Segment>) {
        self.delack_at = SimTime::MAX;
        if self.flags & FLAG_ACK_SCHEDULED == 0 {
            return;
        }
        if self.flags & FLAG_PINGPONG != 0 {
            self.flags &= !FLAG_PINGPONG;
            self.ato_ms = TCP_ATO_MIN_MS;
        } else {
            self.ato_ms = (self.ato_ms as u32 * 2).min(self.rto_ms).min(u16::MAX as u32) as u16;
        }
        self.emit(self.ack_now(now, p), out);
    }

    /// Ends the connection without a segment: a TIME-WAIT the kernel could
    /// not keep (`tcp_max_tw_buckets`), or one reused by `tcp_tw_reuse`.
    pub fn discard(&mut self, now: SimTime, cause: CloseCause) {
        self.close_with(now, cause);
    }

    fn close_with(&mut self, now: SimTime, cause: CloseCause) {
        self.set_state(now, State::Closed);
        self.close_cause = Some(cause);
        self.disarm();
        self.delack_at = SimTime::MAX;
    }

    /// Our TSval, when the segment carries timestamps: a SYN offers them
    /// (`tcp_timestamps`); every later segment carries them only if the
    /// peer's SYN or SYN-ACK did (RFC 7323 §3.2; TS.Recent is then set).
    fn tsval(&self, now: SimTime, p: &TcpParams, flags: Flags) -> u32 {
        let offered = flags.syn() && !flags.ack();
        if p.timestamps && (offered || self.ts_recent != 0) {
            tcp_tsval(now, p.ts_secret, self.local.ip, self.remote.ip)
        } else {
            0
        }
    }

    fn segment(&self, now: SimTime, p: &TcpParams, seq: u32, flags: Flags) -> Segment {
        let tsval = self.tsval(now, p, flags);
        Segment {
            src: self.local,
            dst: self.remote,
            seq,
            ack: if flags.ack() { self.rcv_nxt } else { 0 },
            tsval,
            tsecr: if tsval != 0 && flags.ack() { self.ts_recent } else { 0 },
            len: 0,
            mss: 0,
            flags,
            syn_opts: 0,
        }
    }

    /// A Linux SYN offers MSS, SACK (`tcp_sack`), timestamps and a window
    /// scale (`tcp_window_scaling`) (`tcp_syn_options`).
    fn syn(&self, now: SimTime, p: &TcpParams) -> Segment {
        let syn_opts = Segment::SACK_PERM | Segment::WSCALE;
        Segment { mss: p.mss, syn_opts, ..self.segment(now, p, self.iss, Flags::SYN) }
    }

    /// The SYN-ACK answers only the options the SYN offered
    /// (`tcp_synack_options`).
    fn syn_ack(&self, now: SimTime, p: &TcpParams) -> Segment {
        let mut syn_opts = 0;
        if self.flags & FLAG_PEER_SACK != 0 {
            syn_opts |= Segment::SACK_PERM;
        }
        if self.flags & FLAG_PEER_WSCALE != 0 {
            syn_opts |= Segment::WSCALE;
        }
        Segment { mss: p.mss, syn_opts, ..self.segment(now, p, self.iss, Flags::SYN_ACK) }
    }

    /// Remembers the options of the peer's SYN, for our SYN-ACKs.
    fn note_peer_syn(&mut self, syn: &Segment) {
        if syn.syn_opts & Segment::SACK_PERM != 0 {
            self.flags |= FLAG_PEER_SACK;
        }
        if syn.syn_opts & Segment::WSCALE != 0 {
            self.flags |= FLAG_PEER_WSCALE;
        }
    }

    fn ack_now(&self, now: SimTime, p: &TcpParams) -> Segment {
        self.segment(now, p, self.snd_nxt, Flags::ACK)
    }

    /// Everything not yet acknowledged, as one segment (data then FIN).
    fn unacked_segment(&self, now: SimTime, p: &TcpParams) -> Segment {
        let fin = self.flags & FLAG_FIN_SENT != 0;
        let outstanding = self.snd_nxt.wrapping_sub(self.snd_una);
        let data = outstanding - fin as u32;
        let mut flags = Flags::ACK;
        if data > 0 {
            flags = flags | Flags::PSH;
        }
        if fin {
            flags = flags | Flags::FIN;
        }
        Segment { len: data.min(u16::MAX as u32) as u16, ..self.segment(now, p, self.snd_una, flags) }
    }

    /// Application: send `len` bytes (one segment, no window limits).
    pub fn send(&mut self, now: SimTime, len: u16, p: &TcpParams, out: &mut Vec<Segment>) {
        if len == 0 || !matches!(self.state, State::Established | State::CloseWait) {
            return;
        }
        let seg = Segment { len, ..self.segment(now, p, self.snd_nxt, Flags::PSH_ACK) };
        self.snd_nxt = self.snd_nxt.wrapping_add(len as u32);
        self.emit(seg, out);
        self.new_data_sent(now, p);
    }

    /// Application: close() (RFC 9293 §3.10.4, `tcp_close`). With
    /// SO_LINGER {on, 0} it aborts: RST, no TIME-WAIT (`tcp_send_active_reset`).
    pub fn close(&mut self, now: SimTime, p: &TcpParams, out: &mut Vec<Segment>) {
        self.flags |= FLAG_ORPHAN;
        if p.linger_zero && !matches!(self.state, State::Closed | State::TimeWait | State::SynSent) {
            if self.state != State::Listen {
                out.push(self.segment(now, p, self.snd_nxt, Flags::RST_ACK));
            }
            self.close_with(now, CloseCause::Abort);
            return;
        }
        match self.state {
            State::SynSent | State::Listen => self.close_with(now, CloseCause::Normal),
            State::SynReceived | State::Established => {
                self.send_fin(now, p, out);
                self.set_state(now, State::FinWait1);
            }
            State::CloseWait => {
                self.send_fin(now, p, out);
                self.set_state(now, State::LastAck);
            }
            // Already closing: close() again changes nothing.
            _ => {}
        }
    }

    fn send_fin(&mut self, now: SimTime, p: &TcpParams, out: &mut Vec<Segment>) {
        let seg = self.segment(now, p, self.snd_nxt, Flags::FIN_ACK);
        self.snd_nxt = self.snd_nxt.wrapping_add(1);
        self.flags |= FLAG_FIN_SENT;
        self.emit(seg, out);
        self.new_data_sent(now, p);
    }

    /// `tcp_event_new_data_sent` and the end of `tcp_write_xmit`: the
    /// first segment of a flight (or one sent while a probe was pending)
    /// starts the RTO, then the loss probe goes in front of it.
    fn new_data_sent(&mut self, now: SimTime, p: &TcpParams) {
        if self.timer != TimerKind::Retransmit {
            // A pending probe keeps the flight's count; `tcp_rearm_rto`
            // would count the RTO from the head segment's send time, which
            // is not kept: from now, at most that much late.
            if self.timer != TimerKind::LossProbe {
                self.retransmits = 0;
            }
            self.arm(now, TimerKind::Retransmit, self.rto(), p);
        }
        self.schedule_loss_probe(now, p, false);
    }

    /// `tcp_schedule_loss_probe` (tcp_early_retrans 3 or 4, SACK on, no
    /// RTO since the last progress: `TCP_CA_Open`): the probe fires two
    /// smoothed RTTs after now, plus `TCP_RTO_MIN` when one segment is out
    /// (its ACK may be delayed) or two jiffies when more are; 1 s without
    /// an RTT; never after the RTO would. `advancing_rto`: an ACK just
    /// moved SND.UNA and the RTO restarts in full; otherwise the RTO left
    /// is the armed timer's (the kernel's `tcp_rto_delta_us`, from the
    /// head segment's send time). Returns whether the probe was armed.
    fn schedule_loss_probe(&mut self, now: SimTime, p: &TcpParams, advancing_rto: bool) -> bool {
        // Not before the handshake is over (a FIN from SYN-RECEIVED keeps
        // the SYN-ACK's timer: the kernel's `fastopen_rsk` case).
        if !p.loss_probes
            || matches!(self.state, State::SynSent | State::SynReceived)
            || self.flags & FLAG_PEER_SACK == 0
            || self.snd_una == self.snd_nxt
            || self.retransmits > 0
        {
            return false;
        }
        let fin_out = (self.flags & FLAG_FIN_SENT != 0) as u32;
        let data_out = self.snd_nxt.wrapping_sub(self.snd_una) > fin_out;
        let segments_out = fin_out + data_out as u32;
        let mut timeout = match self.srtt() {
            Some(srtt) if segments_out == 1 => srtt.saturating_mul(2) + TCP_RTO_MIN,
            Some(srtt) => srtt.saturating_mul(2) + tcp_timeout_min(p.hz),
            None => TCP_TIMEOUT_INIT,
        };
        let rto_left = if advancing_rto || self.timer == TimerKind::None {
            self.rto()
        } else {
            self.deadline.saturating_sub(now)
        };
        if rto_left > SimDuration::ZERO {
            timeout = timeout.min(rto_left);
        }
        self.arm(now, TimerKind::LossProbe, timeout, p);
        true
    }

    /// The last segment sent (the one a loss probe repeats): the FIN
    /// alone once sent (`tcp_send_fin` puts it in its own segment here),
    /// else the data.
    fn tail_segment(&self, now: SimTime, p: &TcpParams) -> Segment {
        if self.flags & FLAG_FIN_SENT != 0 {
            self.segment(now, p, self.snd_nxt.wrapping_sub(1), Flags::FIN_ACK)
        } else {
            self.unacked_segment(now, p)
        }
    }

    /// RFC 6298 §2 with Linux's floor: RTO = SRTT + max(4 RTTVAR,
    /// `TCP_RTO_MIN`) (`tcp_set_rto`, where `rttvar` never drops below
    /// `tcp_rto_min`). The sample comes from the echoed timestamp, as
    /// `tcp_ack_update_rtt` takes it, so retransmitted handshakes still give one.
    fn rtt_sample(&mut self, now: SimTime, seg: &Segment, p: &TcpParams) {
        if seg.tsecr == 0 {
            return;
        }
        let now_ms = tcp_tsval(now, p.ts_secret, self.local.ip, self.remote.ip);
        let rtt_ms = now_ms.wrapping_sub(seg.tsecr);
        if rtt_ms > 3_600_000 {
            return;
        }
        let r = rtt_ms.saturating_mul(1000).max(1);
        if self.flags & FLAG_RTT_SAMPLED == 0 {
            self.srtt_us = r;
            self.rttvar_us = r / 2;
            self.flags |= FLAG_RTT_SAMPLED;
        } else {
            let err = self.srtt_us.abs_diff(r);
            self.rttvar_us = (3 * self.rttvar_us + err) / 4;
            self.srtt_us = (7 * self.srtt_us + r) / 8;
        }
        let rto_us = self.srtt_us as u64 + (4 * self.rttvar_us as u64).max(TCP_RTO_MIN.as_nanos() / 1000);
        self.rto_ms = rto_us.div_ceil(1000).min(120_000) as u32;
    }

    /// Whether `seg` is the acceptable final ACK of our handshake, the one
    /// that would move SYN-RECEIVED to ESTABLISHED (`tcp_check_req`).
    pub fn completes_handshake(&self, seg: &Segment) -> bool {
        let f = seg.flags;
        self.state == State::SynReceived
            && f.ack()
            && !f.rst()
            && !f.syn()
            && seq_gt(seg.ack, self.snd_una)
            && seq_le(seg.ack, self.snd_nxt)
            && seq_le(self.rcv_nxt, seg.seq)
            && seq_lt(seg.seq, self.rcv_nxt.wrapping_add(WINDOW))
    }

    /// A segment for this connection arrived (RFC 9293 §3.10.7).
    pub fn handle_segment(
        &mut self,
        now: SimTime,
        seg: &Segment,
        p: &TcpParams,
        out: &mut Vec<Segment>,
    ) -> Disposition {
        match self.state {
            State::Closed | State::Listen => {}
            State::SynSent => self.on_syn_sent(now, seg, p, out),
            State::TimeWait => return self.on_time_wait(now, seg, p, out),
            _ => self.on_synchronized(now, seg, p, out),
        }
        Disposition::Done
    }

    /// RFC 9293 §3.10.7.3, SYN-SENT.
    fn on_syn_sent(&mut self, now: SimTime, seg: &Segment, p: &TcpParams, out: &mut Vec<Segment>) {
        let f = seg.flags;
        // First: the ACK must acknowledge our SYN, else it is from an old
        // incarnation: answer RST <SEQ=SEG.ACK> (unless it is one) and stay.
        if f.ack() && (seq_le(seg.ack, self.iss) || seq_gt(seg.ack, self.snd_nxt)) {
            out.extend(reset_for(seg));
            return;
        }
        if f.rst() {
            // Only an RST acknowledging our SYN is believed: connection refused.
            if f.ack() {
                self.close_with(now, CloseCause::Reset);
            }
            return;
        }
        if !f.syn() {
            return;
        }
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq.wrapping_add(1);
        self.ts_recent = seg.tsval;
        if f.ack() {
            // Our SYN offered SACK: it is on if the SYN-ACK answers it.
            if seg.syn_opts & Segment::SACK_PERM != 0 {
                self.flags |= FLAG_PEER_SACK;
            }
            self.snd_una = seg.ack;
            self.rtt_sample(now, seg, p);
            self.retransmits = 0;
            self.disarm();
            self.set_state(now, State::Established);
            self.emit(self.ack_now(now, p), out);
        } else {
            // Simultaneous open: SYN-SENT -> SYN-RECEIVED, SYN-ACK with our ISN.
            self.note_peer_syn(seg);
            self.set_state(now, State::SynReceived);
            self.emit(self.syn_ack(now, p), out);
            self.retransmits = 0;
            self.arm(now, TimerKind::Retransmit, TCP_TIMEOUT_INIT, p);
        }
    }

    /// RFC 9293 §3.10.7.4 for SYN-RECEIVED through LAST-ACK.
    fn on_synchronized(&mut self, now: SimTime, seg: &Segment, p: &TcpParams, out: &mut Vec<Segment>) {
        let f = seg.flags;
        // A duplicate of the SYN that created this request: answer with the
        // SYN-ACK again, take no new state (`tcp_check_req`).
        // Linux also restarts the request timer from now (`mod_timer_pending`).
        if self.state == State::SynReceived && f.syn() && !f.ack() && !f.rst() && seg.seq == self.irs {
            self.emit(self.syn_ack(now, p), out);
            if self.timer == TimerKind::Retransmit {
                self.arm(now, TimerKind::Retransmit, backoff(TCP_TIMEOUT_INIT, self.retransmits), p);
            }
            return;
        }
        // Simultaneous open: the peer's SYN-ACK crossed ours. Linux lets
        // exactly this one through as the ACK (`tcp_validate_incoming`).
        if self.state == State::SynReceived
            && f.syn()
            && f.ack()
            && !f.rst()
            && seg.seq.wrapping_add(1) == self.rcv_nxt
            && seg.ack == self.snd_nxt
        {
            self.set_state(now, State::Established);
            self.snd_una = seg.ack;
            self.rtt_sample(now, seg, p);
            self.retransmits = 0;
            self.disarm();
            return;
        }
        // Acceptability (first check), zero window aside: the segment must
        // start inside [RCV.NXT, RCV.NXT + RCV.WND).
        let in_window = seq_le(self.rcv_nxt, seg.seq) && seq_lt(seg.seq, self.rcv_nxt.wrapping_add(WINDOW));
        let occupies = seg.seq_len() > 0;
        let acceptable = in_window || (!occupies && seg.seq == self.rcv_nxt);
        if f.rst() {
            // RFC 5961 §3.2: only an exact RST resets; one elsewhere in the
            // window gets a challenge ACK (`tcp_validate_incoming`).
            if seg.seq == self.rcv_nxt {
                self.close_with(now, CloseCause::Reset);
            } else if in_window {
                self.emit(self.ack_now(now, p), out);
            }
            return;
        }
        if f.syn() {
            // RFC 5961 §4.2: a SYN in a synchronized state gets a challenge
            // ACK. In SYN-RECEIVED a new SYN kills the request
            // (`tcp_check_req` -> embryonic_reset), RST to the sender.
            if self.state == State::SynReceived && acceptable {
                out.push(Segment {
                    src: self.local,
                    dst: self.remote,
                    seq: 0,
                    ack: seg.seq.wrapping_add(seg.seq_len()),
                    flags: Flags::RST_ACK,
                    ..Default::default()
                });
                self.close_with(now, CloseCause::Reset);
            } else {
                self.emit(self.ack_now(now, p), out);
            }
            return;
        }
        if !acceptable {
            // Out of window: ACK it so the peer resynchronises, then drop.
            self.emit(self.ack_now(now, p), out);
            return;
        }
        if !f.ack() {
            return;
        }
        // The ACK field.
        if self.state == State::SynReceived {
            if seq_gt(seg.ack, self.snd_una) && seq_le(seg.ack, self.snd_nxt) {
                self.set_state(now, State::Established);
                self.snd_una = seg.ack;
                self.rtt_sample(now, seg, p);
                self.retransmits = 0;
                self.disarm();
            } else {
                // An unacceptable ACK: RST <SEQ=SEG.ACK>.
                out.extend(reset_for(seg));
                return;
            }
        } else if seq_gt(seg.ack, self.snd_nxt) {
            // Acknowledges something not yet sent: ACK and drop.
            self.emit(self.ack_now(now, p), out);
            return;
        } else if seq_gt(seg.ack, self.snd_una) {
            self.snd_una = seg.ack;
            self.rtt_sample(now, seg, p);
            self.retransmits = 0;
            self.flags &= !FLAG_PROBE_OUT;
            if self.snd_una == self.snd_nxt {
                self.disarm();
            } else if !self.schedule_loss_probe(now, p, true) {
                // `tcp_set_xmit_timer`.
                self.arm(now, TimerKind::Retransmit, self.rto(), p);
            }
        }
        if seg.tsval != 0 {
            self.ts_recent = seg.tsval;
        }
        let fin_acked = self.flags & FLAG_FIN_SENT != 0 && self.snd_una == self.snd_nxt;
        match self.state {
            State::FinWait1 if fin_acked => {
                self.set_state(now, State::FinWait2);
                // An orphaned FIN-WAIT-2 lives `tcp_fin_timeout`
                // (`tcp_rcv_state_process`, TCP_FIN_WAIT1 case).
                if self.is_orphan() {
                    self.arm(now, TimerKind::FinWait2, p.fin_timeout, p);
                }
            }
            State::Closing if fin_acked => {
                self.enter_time_wait(now, p);
                return;
            }
            State::LastAck if fin_acked => {
                self.close_with(now, CloseCause::Normal);
                return;
            }
            _ => {}
        }
        // Segment text (`tcp_data_queue`): in-order data is taken and
        // owes an ACK (`tcp_event_data_recv`); data out of order, or
        // after our side stopped taking it, is ACKed at once.
        let mut immediate = false;
        if seg.len > 0 {
            if matches!(self.state, State::Established | State::FinWait1 | State::FinWait2)
                && seg.seq == self.rcv_nxt
            {
                self.rcv_nxt = self.rcv_nxt.wrapping_add(seg.len as u32);
                self.data_received();
            } else {
                self.flags |= FLAG_ACK_SCHEDULED;
                immediate = true;
            }
        }
        // The FIN bit, when it is next in sequence (`tcp_fin`). (A
        // retransmitted FIN sits below RCV.NXT and was ACKed above as out
        // of window.) The passive closer owes an ACK and turns
        // interactive (pingpong): its ACK waits for the delayed-ACK timer,
        // and a close() before it fires sends one FIN/ACK. A FIN that
        // answers ours is ACKed at once.
        if f.fin() && !self.fin_received() && seg.seq.wrapping_add(seg.len as u32) == self.rcv_nxt {
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            self.flags |= FLAG_FIN_RECEIVED | FLAG_ACK_SCHEDULED;
            match self.state {
                State::SynReceived | State::Established => {
                    self.set_state(now, State::CloseWait);
                    self.flags |= FLAG_PINGPONG;
                }
                State::FinWait1 => {
                    self.emit(self.ack_now(now, p), out);
                    self.set_state(now, State::Closing);
                }
                State::FinWait2 => {
                    self.emit(self.ack_now(now, p), out);
                    self.enter_time_wait(now, p);
                    return;
                }
                _ => {}
            }
        }
        self.ack_snd_check(now, immediate, p, out);
    }

    fn enter_time_wait(&mut self, now: SimTime, p: &TcpParams) {
        self.set_state(now, State::TimeWait);
        self.retransmits = 0;
        self.arm(now, TimerKind::TimeWait, TCP_TIMEWAIT_LEN, p);
    }

    /// TIME-WAIT (`tcp_timewait_state_process`, the TCP_TIME_WAIT part).
    fn on_time_wait(
        &mut self,
        now: SimTime,
        seg: &Segment,
        p: &TcpParams,
        out: &mut Vec<Segment>,
    ) -> Disposition {
        let f = seg.flags;
        // In window: only a bare ACK or an RST can be.
        if seg.seq == self.rcv_nxt && (seg.seq_len() == 0 || f.rst()) {
            // An RST here assassinates the TIME-WAIT (RFC 1337), unless
            // `tcp_rfc1337` = 1, which ignores it without restarting the
            // 60 s; a bare ACK restarts them.
            if f.rst() {
                if !p.rfc1337 {
                    self.close_with(now, CloseCause::Assassinated);
                }
            } else {
                self.arm(now, TimerKind::TimeWait, TCP_TIMEWAIT_LEN, p);
            }
            return Disposition::Done;
        }
        // A new SYN above the old sequence space, or with a newer timestamp,
        // reopens the 4-tuple (RFC 1122 §4.2.2.13, `TCP_TW_SYN`).
        if f.syn()
            && !f.rst()
            && !f.ack()
            && (seq_gt(seg.seq, self.rcv_nxt)
                || (seg.tsval != 0 && self.ts_recent != 0 && seq_lt(self.ts_recent, seg.tsval)))
        {
            let isn = reopen_isn(self.snd_nxt);
            self.close_with(now, CloseCause::Normal);
            return Disposition::ReopenFromTimeWait { isn };
        }
        if !f.rst() {
            // Out of window (a retransmitted FIN, an old duplicate): ACK it;
            // an ACK-bearing segment also restarts the 60 s.
            if f.ack() {
                self.arm(now, TimerKind::TimeWait, TCP_TIMEWAIT_LEN, p);
            }
            self.emit(self.ack_now(now, p), out);
        }
        Disposition::Done
    }

    /// The timer fired (call only when `now >= poll_timeout()`).
    ///
    /// For a request at a listener, `p.synack_retries` is the threshold the
    /// listener computed (`reqsk_timer_handler` prunes it under load).
    pub fn handle_timeout(&mut self, now: SimTime, p: &TcpParams, out: &mut Vec<Segment>) {
        if self.delack_at <= now {
            self.delayed_ack_timer(now, p, out);
            if self.timer == TimerKind::None || self.deadline > now {
                return;
            }
        }
        match (self.timer, self.state) {
            (TimerKind::None | TimerKind::DelayedAck, _) => {}
            (TimerKind::TimeWait, _) => self.close_with(now, CloseCause::Normal),
            (TimerKind::FinWait2, _) => self.close_with(now, CloseCause::FinTimeout),
            // `tcp_send_loss_probe`: repeat the tail once per flight, then
            // the RTO restarts in full from now (not backed off: the
            // probe is no RTO, and orphan retries do not count it).
            (TimerKind::LossProbe, _) => {
                if self.snd_una == self.snd_nxt {
                    self.disarm();
                    return;
                }
                if self.flags & FLAG_PROBE_OUT == 0 {
                    self.flags |= FLAG_PROBE_OUT;
                    self.emit(self.tail_segment(now, p), out);
                }
                self.arm_in_timer(now, TimerKind::Retransmit, self.rto(), p);
            }
            // SYN-SENT (`tcp_retransmit_timer`, `tcp_write_timeout`): the
            // first `tcp_syn_linear_timeouts` retransmissions keep the 1 s
            // RTO, later ones double it. connect() fails at the expiry
            // that finds `tcp_syn_retries + tcp_syn_linear_timeouts`
            // retransmissions done, or, once one was, finds the time since
            // the first SYN at or past `retransmits_timed_out()`'s model of
            // `tcp_syn_retries` doubling ones (7 s for 2, 127 s for 6).
            (TimerKind::Retransmit, State::SynSent) => {
                let max = p.syn_retries.saturating_add(p.syn_linear_timeouts);
                let elapsed_ms = tcp_time_stamp(now).wrapping_sub(tcp_time_stamp(self.state_since)) as u64;
                let timed_out = self.retransmits > 0 && elapsed_ms >= syn_model_timeout_ms(p.syn_retries);
                if self.retransmits >= max || timed_out {
                    self.close_with(now, CloseCause::Timeout);
                } else {
                    self.retransmits += 1;
                    out.push(self.syn(now, p));
                    let rto = syn_backoff(self.retransmits, p.syn_linear_timeouts);
                    self.arm_in_timer(now, TimerKind::Retransmit, rto, p);
                }
            }
            // SYN-RECEIVED (`reqsk_timer_handler` / `syn_ack_recalc`): expire
            // once num_timeout reaches the threshold; back off from 1 s.
            (TimerKind::Retransmit, State::SynReceived) => {
                if self.retransmits >= p.synack_retries {
                    self.close_with(now, CloseCause::Timeout);
                } else {
                    self.retransmits += 1;
                    self.emit(self.syn_ack(now, p), out);
                    let rto = backoff(TCP_TIMEOUT_INIT, self.retransmits);
                    self.arm_in_timer(now, TimerKind::Retransmit, rto, p);
                }
            }
            // FIN or data: `tcp_write_timeout` gives up after the orphan
            // retries (the application closed) or `tcp_retries2`.
            (TimerKind::Retransmit, _) => {
                if self.snd_una == self.snd_nxt {
                    self.disarm();
                    return;
                }
                let limit = if self.is_orphan() { p.orphan_retries } else { TCP_RETRIES2 };
                if self.retransmits >= limit {
                    // `tcp_write_err` -> `tcp_done`: the socket just goes.
                    self.close_with(now, CloseCause::Timeout);
                } else {
                    self.retransmits += 1;
                    self.emit(self.unacked_segment(now, p), out);
                    self.arm_in_timer(now, TimerKind::Retransmit, backoff(self.rto(), self.retransmits), p);
                }
            }
        }
    }
}

/// A TCB in TIME-WAIT with only what TIME-WAIT reads, 48 bytes: Linux's
/// own split, where `tcp_time_wait` swaps the full socket for a small
/// `inet_timewait_sock`. A run keeps its waiting TIME-WAITs in this form
/// and makes the full TCB again, bit for bit, when a segment or the
/// expiry reaches one (`Tcb::to_time_wait`, `TimeWaitTcb::to_tcb`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeWaitTcb {
    flags: u16,
    ato_ms: u16,
    iss: u32,
    snd_una: u32,
    snd_nxt: u32,
    irs: u32,
    rcv_nxt: u32,
    ts_recent: u32,
    srtt_us: u32,
    rttvar_us: u32,
    rto_ms: u32,
    state_since: SimTime,
}

impl Tcb {
    /// The compact form of a TIME-WAIT that only waits for its timer (no
    /// delayed ACK owed, nothing retransmitting); None for any other TCB.
    pub fn to_time_wait(&self) -> Option<TimeWaitTcb> {
        let waiting = self.state == State::TimeWait
            && self.timer == TimerKind::TimeWait
            && self.retransmits == 0
            && self.close_cause.is_none()
            && self.delack_at == SimTime::MAX;
        waiting.then_some(TimeWaitTcb {
            flags: self.flags,
            ato_ms: self.ato_ms,
            iss: self.iss,
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            irs: self.irs,
            rcv_nxt: self.rcv_nxt,
            ts_recent: self.ts_recent,
            srtt_us: self.srtt_us,
            rttvar_us: self.rttvar_us,
            rto_ms: self.rto_ms,
            state_since: self.state_since,
        })
    }
}

impl TimeWaitTcb {
    /// The full TCB again: the 4-tuple and the TIME-WAIT deadline are
    /// kept beside the compact form, not in it.
    pub fn to_tcb(&self, local: SockAddr, remote: SockAddr, deadline: SimTime) -> Tcb {
        Tcb {
            local,
            remote,
            state: State::TimeWait,
            timer: TimerKind::TimeWait,
            retransmits: 0,
            flags: self.flags,
            iss: self.iss,
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            irs: self.irs,
            rcv_nxt: self.rcv_nxt,
            ts_recent: self.ts_recent,
            srtt_us: self.srtt_us,
            rttvar_us: self.rttvar_us,
            rto_ms: self.rto_ms,
            deadline,
            state_since: self.state_since,
            close_cause: None,
            ato_ms: self.ato_ms,
            delack_at: SimTime::MAX,
        }
    }

    /// What the port search sees (`tcp_twsk_unique` reads these).
    pub fn occupant(&self) -> Occupant {
        Occupant::TimeWait { since: self.state_since, ts_recent: self.ts_recent, snd_nxt: self.snd_nxt }
    }
}

/// The reply to a segment that reached no connection and no listener
/// (RFC 9293 §3.10.7.1): never to an RST; `<SEQ=SEG.ACK><CTL=RST>` if it
/// had an ACK, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
pub fn reset_for(seg: &Segment) -> Option<Segment> {
    if seg.flags.rst() {
        return None;
    }
    let base = Segment { src: seg.dst, dst: seg.src, ..Default::default() };
    Some(if seg.flags.ack() {
        Segment { seq: seg.ack, flags: Flags::RST, ..base }
    } else {
        Segment { seq: 0, ack: seg.seq.wrapping_add(seg.seq_len()), flags: Flags::RST_ACK, ..base }
    })
}

#[cfg(test)]
mod tests;
