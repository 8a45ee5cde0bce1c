//! The per-host kernel settings the state machine reads, and Linux's
//! fixed constants.

use crate::engine::rng::mix64;
use crate::engine::{SimDuration, SimTime};
pub use crate::tcp::timer_wheel::DEFAULT_HZ;

/// `TCP_TIMEOUT_INIT`: initial RTO of SYN and SYN-ACK (RFC 6298 §2.1).
pub const TCP_TIMEOUT_INIT: SimDuration = SimDuration::from_secs(1);
/// `TCP_RTO_MIN`.
pub const TCP_RTO_MIN: SimDuration = SimDuration::from_millis(200);
/// `TCP_RTO_MAX`.
pub const TCP_RTO_MAX: SimDuration = SimDuration::from_secs(120);
/// `TCP_TIMEWAIT_LEN`: Linux's fixed TIME-WAIT length ("2MSL").
pub const TCP_TIMEWAIT_LEN: SimDuration = SimDuration::from_secs(60);
/// `TCP_ATO_MIN` (HZ/25): the delayed-ACK timeout once data has arrived.
pub const TCP_ATO_MIN_MS: u16 = 40;
/// `TCP_DELACK_MIN` (HZ/25) and `TCP_DELACK_MAX` (HZ/5), the bounds of
/// the delayed-ACK timeout (`tcp_send_delayed_ack`).
pub const TCP_DELACK_MIN_MS: u64 = 40;
pub const TCP_DELACK_MAX_MS: u64 = 200;
/// `TCP_TIMEOUT_MIN`: two jiffies (of `DEFAULT_HZ` with exact timers).
pub fn tcp_timeout_min(hz: u32) -> SimDuration {
    let hz = if hz == 0 { DEFAULT_HZ } else { hz };
    SimDuration::from_nanos(2_000_000_000 / hz as u64)
}
/// `tcp_retries2` default: retransmissions on a live connection.
pub const TCP_RETRIES2: u8 = 15;
/// The receive window every simulated host advertises.
pub const WINDOW: u32 = 64_240;
/// The MSS a host announces on its SYN (Ethernet).
pub const DEFAULT_MSS: u16 = 1460;

/// What one host's kernel is configured with (a `Copy` bag passed to every
/// call, so a connection stores none of it).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TcpParams {
    pub syn_retries: u8,
    pub synack_retries: u8,
    /// Effective `tcp_orphan_retries` (0 already turned into 8).
    pub orphan_retries: u8,
    pub fin_timeout: SimDuration,
    pub timestamps: bool,
    /// SO_LINGER {on, 0}: close() sends RST.
    pub linger_zero: bool,
    pub mss: u16,
    /// Ablation: the passive side establishes on the SYN.
    pub two_way: bool,
    /// `tcp_syn_linear_timeouts`: SYN retransmissions before the RTO
    /// starts doubling (Linux >= 6.5).
    pub syn_linear_timeouts: u8,
    /// CONFIG_HZ: timers fire on the timer wheel's jiffies
    /// (`tcp::timer_wheel`); 0 = exact timers.
    pub hz: u32,
    /// `tcp_rfc1337`: a TIME-WAIT ignores an RST instead of ending early
    /// (`tcp_timewait_state_process`).
    pub rfc1337: bool,
    /// The host's boot-time secret behind its timestamp offsets
    /// ([`tcp_tsval`]).
    pub ts_secret: u64,
    /// Tail loss probes (`tcp_early_retrans` 3 or 4, Linux's default 3).
    pub loss_probes: bool,
    /// The secret behind each host's jiffies phase
    /// (`timer_wheel::clock_phase`); 0: the host runs on the reference
    /// clock (the server, or any host of a one-machine testbed).
    pub clock_secret: u64,
}

impl Default for TcpParams {
    fn default() -> Self {
        TcpParams {
            syn_retries: TCP_SYN_RETRIES,
            synack_retries: TCP_SYNACK_RETRIES,
            orphan_retries: ORPHAN_RETRIES_LIVE_PEER,
            fin_timeout: TCP_FIN_TIMEOUT,
            timestamps: true,
            linger_zero: false,
            mss: DEFAULT_MSS,
            two_way: false,
            syn_linear_timeouts: TCP_SYN_LINEAR_TIMEOUTS,
            hz: DEFAULT_HZ,
            rfc1337: false,
            ts_secret: 0,
            loss_probes: true,
            clock_secret: 0,
        }
    }
}

/// What `tcp_orphan_retries()` makes of a sysctl of 0 (the default) for
/// a peer that is still alive.
pub const ORPHAN_RETRIES_LIVE_PEER: u8 = 8;

/// `tcp_orphan_retries()`: a sysctl of 0 means 8 for a live peer.
pub fn effective_orphan_retries(sysctl: u8) -> u8 {
    if sysctl == 0 { ORPHAN_RETRIES_LIVE_PEER } else { sysctl }
}

/// The RTO after `n` expiries: `base << n`, capped at `TCP_RTO_MAX`
/// (`inet_csk_rto_backoff`, `reqsk_timeout`).
pub fn backoff(base: SimDuration, n: u8) -> SimDuration {
    if n >= 40 {
        return TCP_RTO_MAX;
    }
    base.saturating_mul(1u64 << n).min(TCP_RTO_MAX)
}

/// The RTO after the `n`-th SYN retransmission: 1 s for the first
/// `linear` (`tcp_syn_linear_timeouts`), doubling after
/// (`tcp_retransmit_timer`: `icsk_rto <<= 1` only once
/// `icsk_backoff > tcp_syn_linear_timeouts` in SYN-SENT).
pub fn syn_backoff(n: u8, linear: u8) -> SimDuration {
    backoff(TCP_TIMEOUT_INIT, n.saturating_sub(linear))
}

/// `tcp_model_timeout(sk, boundary, TCP_TIMEOUT_INIT)` in milliseconds:
/// how long `boundary` doubling retransmissions from 1 s would take, the
/// deadline `retransmits_timed_out()` puts on SYN-SENT whatever the
/// schedule actually was (2^(b+1) - 1 s up to the 120 s cap, then 120 s
/// a retransmission).
pub fn syn_model_timeout_ms(boundary: u8) -> u64 {
    let rto_base = TCP_TIMEOUT_INIT.as_nanos() / 1_000_000;
    let thresh = (TCP_RTO_MAX.as_nanos() / TCP_TIMEOUT_INIT.as_nanos()).ilog2(); // 6
    let rto_max = TCP_RTO_MAX.as_nanos() / 1_000_000;
    let b = boundary as u32;
    if b <= thresh {
        ((2u64 << b) - 1) * rto_base
    } else {
        ((2u64 << thresh) - 1) * rto_base + (b - thresh) as u64 * rto_max
    }
}

/// Linux's default `tcp_fin_timeout`.
pub const TCP_FIN_TIMEOUT: SimDuration = SimDuration::from_secs(60);
/// Linux's default `tcp_syn_retries`.
pub const TCP_SYN_RETRIES: u8 = 6;
/// Linux's default `tcp_syn_linear_timeouts` (since 6.5; before, in
/// effect 0).
pub const TCP_SYN_LINEAR_TIMEOUTS: u8 = 4;
/// Linux's default `tcp_synack_retries`.
pub const TCP_SYNACK_RETRIES: u8 = 5;
/// Linux's default `ip_local_port_range`.
pub const IP_LOCAL_PORT_RANGE: [u16; 2] = [32768, 60999];
/// Linux's default `tcp_max_tw_buckets` (`tcp_hashinfo` sized for a
/// machine with a few GB of memory).
pub const TCP_MAX_TW_BUCKETS: u32 = 131_072;

/// `tcp_syncookies`: when the listener answers with a cookie.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SynCookies {
    /// 0: never; SYNs beyond the queue are dropped.
    Off,
    /// 1: only when the SYN queue overflows (Linux's default).
    OnOverflow,
    /// 2: always, unconditionally.
    Always,
}

/// Linux's default `tcp_tw_reuse_delay` (6.13 and later; before, the
/// rule was "a timestamp from an earlier second").
pub const TCP_TW_REUSE_DELAY: SimDuration = SimDuration::from_millis(1000);
/// The largest `tcp_tw_reuse_delay` (`TCP_PAWS_MSL` seconds).
pub const TCP_TW_REUSE_DELAY_MAX: SimDuration = SimDuration::from_secs(60);

/// `tcp_tw_reuse`: may connect() take over a TIME-WAIT 4-tuple.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TwReuse {
    Off,
    On,
    /// 2: loopback only (Linux's default). The simulated paths are not
    /// loopback, so this behaves as `Off`.
    LoopbackOnly,
}

/// `tcp_time_stamp_ms`: the millisecond clock a host puts in TSval, +1
/// so that the option is never the "absent" value 0 at t = 0.
pub fn tcp_time_stamp(now: SimTime) -> u32 {
    (now.as_millis() as u32).wrapping_add(1)
}

/// The TSval `local` sends toward `remote`: the millisecond clock plus the
/// connection's `tsoffset`, which `secure_tcp_ts_off` derives from the two
/// addresses and a secret of the host (so each host's clock looks its own,
/// and stays monotonic toward one peer, as PAWS needs). Never 0, the
/// "absent" value here.
pub fn tcp_tsval(now: SimTime, secret: u64, local: u32, remote: u32) -> u32 {
    let offset = mix64(secret ^ ((local as u64) << 32 | remote as u64)) as u32;
    match tcp_time_stamp(now).wrapping_add(offset) {
        0 => 1,
        ts => ts,
    }
}

/// The window scale a Linux host offers with the default `tcp_rmem`
/// (6 MB: `tcp_select_initial_window`).
pub const DEFAULT_WSCALE: u8 = 7;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_schedules_linear_then_doubling() {
        let s = |n, lin| syn_backoff(n, lin).as_nanos() / 1_000_000_000;
        // After the n-th retransmission, linear 4: 1 1 1 1 2 4 8 ...
        assert_eq!((1..=8).map(|n| s(n, 4)).collect::<Vec<_>>(), [1, 1, 1, 1, 2, 4, 8, 16]);
        // Linear 0 is the old doubling schedule.
        assert_eq!((0..=7).map(|n| s(n, 0)).collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32, 64, 120]);
    }

    #[test]
    fn syn_deadline_is_the_doubling_model() {
        // tcp_syn_retries 2: 7 s; 6: 127 s; past the cap, 120 s each.
        assert_eq!(syn_model_timeout_ms(2), 7_000);
        assert_eq!(syn_model_timeout_ms(6), 127_000);
        assert_eq!(syn_model_timeout_ms(7), 247_000);
        assert_eq!(syn_model_timeout_ms(0), 1_000);
    }
}
