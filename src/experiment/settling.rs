//! The model's slowest clocks for a run: how long after t = 0 its queues
//! can first be in steady state. A transient longer than the run never
//! shows in its time series, so the report checks the warm-up against
//! these as well as against what it detects.
//!
//! - **A SYN queue an attack fills.** A request lives
//!   `(2^(tcp_synack_retries+1) - 1)` × `TCP_TIMEOUT_INIT` (63 s by
//!   default, `reqsk_timer_handler`; up to 65.9 s on the timer wheel at
//!   HZ=250). The attack fills the queue within a second, so its requests
//!   expire together a lifetime later, and the slots they free are taken
//!   at once: free slots, the only chance a legitimate SYN has, come in
//!   waves one lifetime apart, and the waves take several lifetimes to
//!   reach their lasting size. Measured on the default study's floods
//!   (1k to 30k SYN/s, 3000 s runs, success averaged per lifetime), the
//!   second, third and fourth lifetimes still read low (at 10k SYN/s:
//!   0.005, 0.028, 0.060, then 0.052 to 0.061 for the next 40 minutes);
//!   so the queue counts as settled [`QUEUE_LIFETIMES`] lifetimes after
//!   the attack starts. `tests/steady_state.rs` checks it against long runs.
//! - **Short-lived requests on the timer wheel** batch on its grid for
//!   hundreds of lifetimes ([`WHEEL_DRIFT_S`]).
//! - **The TCP metrics cache** fills with proven peers, which pass the
//!   last-quarter rule ([`PROVEN_SHARE_FLAGGED`]).
//! - **TIME-WAIT** counts climb for `TCP_TIMEWAIT_LEN` (60 s, up to 62.05 s
//!   on the wheel) after the clients start.

use crate::config::{AttackKind, RunConfig, SynCookies};
use crate::engine::SimDuration;
use crate::tcp::metrics::{TCP_METRICS_HASH_SLOTS, TCP_METRICS_RECLAIM_DEPTH};
use crate::tcp::params::{TCP_RTO_MAX, TCP_TIMEOUT_INIT, TCP_TIMEWAIT_LEN};
use crate::tcp::timer_wheel::longest;

/// Seconds from t = 0 until each mechanism can be in steady state (None:
/// the run does not exercise it).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Settling {
    /// The SYN queue under an attack that fills it: success ratios, connect
    /// times, drops and SYN_RECV depend on it.
    pub syn_queue: Option<f64>,
    /// The period of the waves in which a SYN queue an attack fills frees
    /// its slots: one request lifetime (s; the longest of the attacks').
    pub syn_queue_wave: Option<f64>,
    /// TIME-WAIT counts and their memory.
    pub time_wait: Option<f64>,
    /// Short-lived requests batching on the timer wheel's grid (see
    /// [`WHEEL_DRIFT_S`]). `warmup = "auto"` waits for it with a clock per
    /// host, where it was measured to end; not with `one_machine`, where
    /// it outlasted the longest runs (the report flags it).
    pub wheel_drift: Option<f64>,
    /// The TCP metrics cache filling with proven peers (see
    /// [`PROVEN_SHARE_FLAGGED`]): a lower bound, each of the population's
    /// connections adding at most one entry; reported, not used by
    /// `warmup = "auto"` (the real time grows as fewer connections succeed).
    pub proven_peers: Option<f64>,
}

/// On the timer wheel (`hz > 0`) a SYN queue that a flood keeps full of
/// short-lived requests drifts for far longer than [`QUEUE_LIFETIMES`]
/// lifetimes. The cause is the wheel's coarse levels: a 1 s or 2 s
/// SYN-ACK timer lands on level 1 (8-jiffy slots, 32 ms at HZ=250) and
/// `calc_index` rounds it up to the slot's end, so requests expire in
/// batches on a fixed grid; the flood refills each batch's slots within
/// milliseconds of the tick that freed them, and the next batch expires on
/// the same grid a lifetime later. Rounding to whole jiffies alone (no
/// level rounding) keeps the success ratio flat. Measured with a clock
/// per host (10M new visitors, 100 s windows, 3075 s runs), one retry:
/// settled after about 1900 s at 1000 SYN/s (0.999 to 0.98), 200 s at 3000
/// (0.78 to 0.84), 700 s at 10k (0.34 to 0.43); two retries: 1500 s at
/// 1000 and 3000 SYN/s, flat at 10k; three and four: flat. With every
/// host on the server's clock (`one_machine`) the clients' SYN
/// retransmissions join the grid and the drift outlasts 9000 s at two
/// and three retries; the kernel drifts so on a one-machine testbed
/// (validation/kernel/driftcheck.py). Flagged for lifetimes under
/// [`WHEEL_DRIFT_LIFETIME_S`] when the flood keeps the queue full, and
/// waited for by `warmup = "auto"`: the longest drift measured, applied to
/// every such point (a bound from a few measured rates, conservative for
/// the faster ones).
pub const WHEEL_DRIFT_S: f64 = 1900.0;
/// [`WHEEL_DRIFT_S`] with every host on one clock: still drifting at the
/// end of 9075 s runs, so a lower bound: flagged, not waited for.
pub const WHEEL_DRIFT_ONE_CLOCK_S: f64 = 9000.0;
/// Request lifetimes (s) below which [`WHEEL_DRIFT_S`] applies: up to
/// three SYN-ACK retries (15 s exact).
pub const WHEEL_DRIFT_LIFETIME_S: f64 = 20.0;

/// The server's TCP metrics cache fills from empty (a fresh boot) as
/// connections end, and a peer it holds passes the last-quarter rule
/// (`tcp_peer_is_proven`): with cookies off and a flood holding the SYN
/// queue at three quarters of `tcp_max_syn_backlog`, the SYNs of proven
/// peers still get in. The share of a population's SYNs that do grows
/// until the cache holds its lasting number of the population's hosts
/// (at most 98304): measured with no defense at 1000 SYN/s and 1M hosts,
/// success 0.21 in the first 400 s, rising to 0.27 after about 3000 s
/// (0.27 from the start with `remembered = 0.0983`; flat at 0.20 with 80M
/// hosts). Flagged where the cache can hold at least this share of a
/// population's hosts.
pub const PROVEN_SHARE_FLAGGED: f64 = 0.01;

/// The longest a request can live: its SYN-ACK timer fires
/// `tcp_synack_retries + 1` times, `TCP_TIMEOUT_INIT << n` capped at
/// `TCP_RTO_MAX` (`reqsk_timer_handler`), each rounded by the timer wheel.
pub fn request_lifetime(synack_retries: u8, hz: u32) -> SimDuration {
    (0..=synack_retries.min(30) as u32)
        .map(|n| longest(SimDuration(TCP_TIMEOUT_INIT.0 << n).min(TCP_RTO_MAX), hz))
        .fold(SimDuration::ZERO, |a, b| a + b)
}

/// Request lifetimes, after an attack starts, until a SYN queue it fills
/// is in steady state (see the module's comment).
pub const QUEUE_LIFETIMES: u32 = 4;

pub fn settling(c: &RunConfig) -> Settling {
    let later = |a: Option<f64>, b: f64| Some(a.map_or(b, |a| a.max(b)));
    let mut s = Settling::default();
    for a in c.attackers.values() {
        let fills_queue = matches!(a.kind, AttackKind::SpoofedSyn | AttackKind::HalfOpen)
            && c.server.tcp_syncookies != SynCookies::Always
            && a.rate > 0.0;
        if fills_queue {
            let life = request_lifetime(c.server.tcp_synack_retries, c.hz).as_secs_f64();
            s.syn_queue = later(s.syn_queue, a.start.as_secs_f64() + QUEUE_LIFETIMES as f64 * life);
            s.syn_queue_wave = later(s.syn_queue_wave, life);
            // Only a queue the flood keeps full drifts: more requests arrive in a lifetime than
            // the smallest cap the listener may apply (the 3/4 rule's or the backlog).
            let cap = (c.server.tcp_max_syn_backlog as f64 * 0.75)
                .min(c.server.listen_backlog.min(c.server.somaxconn) as f64);
            if c.hz > 0 && life < WHEEL_DRIFT_LIFETIME_S && a.rate * life > cap {
                let drift = if c.network.one_machine { WHEEL_DRIFT_ONE_CLOCK_S } else { WHEEL_DRIFT_S };
                s.wheel_drift = later(s.wheel_drift, a.start.as_secs_f64() + drift);
            }
        }
    }
    let time_wait = longest(TCP_TIMEWAIT_LEN, c.hz).as_secs_f64();
    let last_quarter_rule = c.server.tcp_syncookies == SynCookies::Off && !c.server.tcp_no_metrics_save;
    for p in c.clients.values() {
        s.time_wait = later(s.time_wait, p.start.as_secs_f64() + time_wait);
        let cached = p.hosts.min(CACHE_CAPACITY) as f64;
        let lasting_share = cached / p.hosts.max(1) as f64;
        if s.syn_queue.is_some() && last_quarter_rule && lasting_share - p.remembered >= PROVEN_SHARE_FLAGGED
        {
            if let Some(rate) = p.rate.filter(|r| *r > 0.0) {
                s.proven_peers = later(s.proven_peers, p.start.as_secs_f64() + cached / rate);
            }
        }
    }
    s
}

/// The most peers the cache holds: `tcp_metrics_hash` buckets of at most
/// `TCP_METRICS_RECLAIM_DEPTH + 1` entries.
const CACHE_CAPACITY: u64 = (TCP_METRICS_HASH_SLOTS * (TCP_METRICS_RECLAIM_DEPTH + 1)) as u64;

/// `warmup = "auto"`: the slowest clock the run exercises whose end is
/// known, rounded up to whole bins so the first measured bin is whole.
pub fn auto_warmup(c: &RunConfig) -> SimDuration {
    let s = settling(c);
    let drift = if c.network.one_machine { None } else { s.wheel_drift };
    let secs = s.syn_queue.unwrap_or(0.0).max(s.time_wait.unwrap_or(0.0)).max(drift.unwrap_or(0.0));
    let ns = (secs * 1e9).ceil() as u64;
    let bin = c.bin.0.max(1);
    SimDuration(ns.div_ceil(bin) * bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first sweep point of an experiment file's text.
    fn first_point(text: &str) -> RunConfig {
        let exp = crate::experiment::Experiment::parse(text, "t.toml", "t").unwrap();
        exp.points()[0].config.clone()
    }

    #[test]
    fn a_flood_settles_four_request_lifetimes_after_it_starts() {
        let text = "duration = \"20s\"\n[server]\ntcp_syncookies = 0\n[clients.web]\nhosts = 10\nrate = 1\n\
                    start = \"1s\"\n[attackers.flood]\nkind = \"spoofed-syn\"\nrate = 1000\nstart = \"2s\"\n";
        let s = settling(&first_point(text));
        let exact = text.replace("duration", "hz = 0\nduration");
        // Four lifetimes of 63 s after the flood starts at 2 s.
        assert_eq!(
            settling(&first_point(&exact)),
            Settling {
                syn_queue: Some(254.0),
                syn_queue_wave: Some(63.0),
                time_wait: Some(61.0),
                wheel_drift: None,
                // Ten hosts at 1/s: all are proven peers from 11 s on.
                proven_peers: Some(11.0),
            }
        );
        // On the wheel (hz = 250) each of the six timers may fire a slot late.
        let q = s.syn_queue.unwrap();
        assert!((254.0..=254.0 + 4.0 * 6.0 * 2.1).contains(&q), "{q}");
        assert!((61.0..=63.2).contains(&s.time_wait.unwrap()), "{s:?}");
        let always = text.replace("tcp_syncookies = 0", "tcp_syncookies = 2");
        assert_eq!(settling(&first_point(&always)).syn_queue, None, "cookies always: no queue to fill");
    }

    #[test]
    fn proven_peers_are_flagged_only_where_the_cache_holds_a_share_of_the_hosts() {
        let at = |hosts: u64, extra: &str| {
            let text = format!(
                "duration = \"20s\"\n[server]\ntcp_syncookies = 0\n{extra}[clients.web]\nhosts = {hosts}\nrate = 200\n\
                 [attackers.flood]\nkind = \"spoofed-syn\"\nrate = 1000\n"
            );
            settling(&first_point(&text)).proven_peers
        };
        // 98304 of a million hosts: 9.8 %, filled no sooner than 98304/200 s.
        assert_eq!(at(1_000_000, ""), Some(98_304.0 / 200.0));
        // 10 million: under 1 %.
        assert_eq!(at(10_000_000, ""), None);
        // No cache, no proven peers.
        assert_eq!(at(1_000_000, "tcp_no_metrics_save = true\n"), None);
    }

    #[test]
    fn the_longest_request_outlives_every_schedule_the_wheel_gives() {
        use crate::tcp::timer_wheel::expires;
        for hz in [0, 100, 250, 1000] {
            for retries in [1u8, 5] {
                let bound = request_lifetime(retries, hz);
                for start in [0u64, 1_234_567, 3_999_999, 987_654_321] {
                    let mut t = crate::engine::SimTime(start);
                    for n in 0..=retries as u32 {
                        t = expires(t, SimDuration(TCP_TIMEOUT_INIT.0 << n), hz, n > 0);
                    }
                    assert!(
                        t.0 - start <= bound.0,
                        "hz {hz}, retries {retries}: {} > {}",
                        t.0 - start,
                        bound.0
                    );
                }
            }
        }
        assert_eq!(request_lifetime(5, 0), SimDuration::from_secs(63));
        assert_eq!(request_lifetime(1, 0), SimDuration::from_secs(3));
    }

    #[test]
    fn auto_warmup_is_the_slowest_clock_in_whole_bins() {
        let text = "hz = 0\nduration = \"200s\"\nbin = \"2s\"\n[server]\ntcp_syncookies = 0\n[clients.web]\nhosts = 10\n\
                    rate = 1\n[attackers.flood]\nkind = \"spoofed-syn\"\nrate = 1000\nstart = \"2s\"\n";
        assert_eq!(auto_warmup(&first_point(text)), SimDuration::from_secs(254), "2 s + 4 x 63 s");
        let few = text.replace("tcp_syncookies = 0", "tcp_syncookies = 0\ntcp_synack_retries = 1");
        assert_eq!(
            auto_warmup(&first_point(&few)),
            SimDuration::from_secs(60),
            "TIME-WAIT's 60 s, not 2 s + 4 x 3 s"
        );
    }

    /// One retry (3 s requests), cookies off, 1000 SYN/s from t = 2 s.
    const SHORT_LIVED_FLOOD: &str = "duration = \"4000s\"\n[server]\ntcp_syncookies = 0\ntcp_synack_retries = 1\n\
                                     [clients.web]\nhosts = 10\nrate = 1\n[attackers.flood]\nkind = \"spoofed-syn\"\n\
                                     rate = 1000\nstart = \"2s\"\n";

    #[test]
    fn a_full_queue_of_short_lived_requests_on_the_wheel_is_flagged_for_its_drift() {
        let text = SHORT_LIVED_FLOOD;
        let drift = |t: &str| settling(&first_point(t)).wheel_drift;
        assert_eq!(drift(text), Some(2.0 + WHEEL_DRIFT_S), "3080 requests a lifetime against a cap of 1536");
        assert_eq!(drift(&format!("hz = 0\n{text}")), None, "exact timers do not drift");
        assert_eq!(
            drift(&text.replace("rate = 1000", "rate = 100")),
            None,
            "308 requests never fill the queue"
        );
        assert_eq!(
            drift(&text.replace("tcp_synack_retries = 1", "tcp_synack_retries = 5")),
            None,
            "63 s lifetimes"
        );
    }

    #[test]
    fn auto_warmup_waits_for_the_drift_only_where_its_end_was_measured() {
        let warmup = |t: &str| auto_warmup(&first_point(t));
        assert_eq!(
            warmup(SHORT_LIVED_FLOOD),
            SimDuration::from_secs(1902),
            "a clock per host: 2 s + WHEEL_DRIFT_S"
        );
        let one = SHORT_LIVED_FLOOD.replace("[server]", "[network]\none_machine = true\n[server]");
        assert_eq!(
            warmup(&one),
            SimDuration::from_secs(63),
            "one clock: TIME-WAIT's 62.05 s, the drift flagged"
        );
    }
}
