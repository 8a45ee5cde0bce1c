//! Ephemeral port choice for connect() (`__inet_hash_connect`,
//! `__inet_check_established`, `tcp_twsk_unique`).
//!
//! Linux starts at `low + (table_perturb[h] + hash(saddr, daddr, dport)) %
//! remaining`, rounded down to even, scans even ports then odd ones with a
//! step of two, and after a success advances `table_perturb[h]` by
//! `max(i, random(8) * 2) + 2`. The perturbation table is global (2^16
//! entries), so a host costs no memory of its own.

use super::params::TwReuse;
use super::time_wait::reopen_isn;
use super::{SockAddr, State, Tcb};
use crate::engine::rng::mix64;
use crate::engine::{SimDuration, SimRng, SimTime};
use rand::RngExt;

const PERTURB_SHIFT: u32 = 16;

/// What holds a local address toward a remote, as the port search sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Occupant {
    /// A connection in any state but TIME-WAIT.
    Busy,
    /// A TIME-WAIT: when it began, its TS.Recent and its SND.NXT.
    TimeWait { since: SimTime, ts_recent: u32, snd_nxt: u32 },
}

impl Occupant {
    pub fn of(tcb: &Tcb) -> Occupant {
        if tcb.state == State::TimeWait {
            Occupant::TimeWait { since: tcb.state_since, ts_recent: tcb.ts_recent, snd_nxt: tcb.snd_nxt }
        } else {
            Occupant::Busy
        }
    }
}

/// The outcome of a port search.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PortChoice {
    Free(u16),
    /// The 4-tuple is in TIME-WAIT and `tcp_tw_reuse` lets the new
    /// connection take it over, starting at this ISN.
    ReuseTimeWait(u16, u32),
    /// No port: connect() fails with EADDRNOTAVAIL.
    Exhausted,
}

#[derive(Clone, Debug)]
pub struct Ports {
    low: u16,
    /// `high + 1 - low`, rounded down to even as Linux does.
    remaining: u32,
    tw_reuse: TwReuse,
    /// `tcp_tw_reuse_delay`.
    reuse_delay: SimDuration,
    timestamps: bool,
    perturb: Vec<u32>,
}

impl Ports {
    pub fn new(range: [u16; 2], tw_reuse: TwReuse, reuse_delay: SimDuration, timestamps: bool) -> Self {
        let mut remaining = range[1] as u32 + 1 - range[0] as u32;
        if remaining > 1 {
            remaining &= !1;
        }
        let perturb = vec![0; 1 << PERTURB_SHIFT];
        Ports { low: range[0], remaining, tw_reuse, reuse_delay, timestamps, perturb }
    }

    fn hash(ip: u32, remote: SockAddr) -> u64 {
        mix64((ip as u64) << 32 ^ (remote.ip as u64) ^ (remote.port as u64) << 48)
    }

    /// `tcp_twsk_unique`: may a new connection take over this TIME-WAIT?
    /// `tcp_tw_reuse` = 1 (2 only for loopback, which simulated paths are
    /// not), timestamps seen on the old connection, and the millisecond
    /// clock strictly past the entry's start plus `tcp_tw_reuse_delay`
    /// (`time_after32(tcp_clock_ms(), tw_entry_stamp + delay)`, Linux
    /// 6.13 and later).
    fn reusable(&self, now: SimTime, occupant: &Occupant) -> bool {
        let Occupant::TimeWait { since, ts_recent, .. } = *occupant else { return false };
        let ms = |ns: u64| ns / 1_000_000;
        self.tw_reuse == TwReuse::On
            && self.timestamps
            && ts_recent != 0
            && ms(now.as_nanos()) > ms(since.as_nanos()) + ms(self.reuse_delay.as_nanos())
    }

    /// `skip[c]`: the pass over ports of class c (even or odd offsets from
    /// `low`) can find nothing, so it is not walked (same answer, no scan).
    /// `occupant(local)` is None for a free port, `Some(Some(snd_nxt))` for a
    /// TIME-WAIT that may be taken over, `Some(None)` for a taken port.
    fn scan(
        &self,
        ip: u32,
        remote: SockAddr,
        skip: [bool; 2],
        occupant: impl Fn(SockAddr) -> Option<Option<u32>>,
    ) -> (PortChoice, u32) {
        let h = Self::hash(ip, remote);
        let index = (h as usize) & ((1 << PERTURB_SHIFT) - 1);
        let mut offset = (self.perturb[index].wrapping_add((h >> 32) as u32)) % self.remaining;
        offset &= !1;
        loop {
            let mut port = self.low as u32 + offset;
            let high = self.low as u32 + self.remaining;
            let mut i = 0;
            let limit = if skip[(offset & 1) as usize] { 0 } else { self.remaining };
            while i < limit {
                if port >= high {
                    port -= self.remaining;
                }
                let local = SockAddr::new(ip, port as u16);
                match occupant(local) {
                    None => return (PortChoice::Free(port as u16), i),
                    Some(Some(snd_nxt)) => {
                        return (PortChoice::ReuseTimeWait(port as u16, reopen_isn(snd_nxt)), i);
                    }
                    Some(None) => {}
                }
                i += 2;
                port += 2;
            }
            offset += 1;
            if offset & 1 == 0 || self.remaining <= 1 {
                return (PortChoice::Exhausted, i);
            }
        }
    }

    /// connect()'s port for `ip` toward `remote`. `lookup` finds the
    /// connection already using a local address toward `remote`.
    ///
    /// `in_use` counts `ip`'s ports taken toward `remote`, by port parity:
    /// a parity class that is full, when no TIME-WAIT can be reused, is
    /// known to hold nothing without walking it (Linux walks it, one port at
    /// a time, to the same answer).
    pub fn choose(
        &mut self,
        now: SimTime,
        ip: u32,
        remote: SockAddr,
        in_use: [u32; 2],
        rng: &mut SimRng,
        lookup: impl Fn(SockAddr) -> Option<Occupant>,
    ) -> PortChoice {
        let no_reuse = self.tw_reuse != TwReuse::On;
        let class_size = [self.remaining.div_ceil(2), self.remaining / 2];
        let low_parity = (self.low & 1) as usize;
        let used = |class: usize| in_use[class ^ low_parity];
        let skip = [no_reuse && used(0) >= class_size[0], no_reuse && used(1) >= class_size[1]];
        let (choice, i) = self.scan(ip, remote, skip, |local| {
            lookup(local).map(|o| match o {
                Occupant::TimeWait { snd_nxt, .. } if self.reusable(now, &o) => Some(snd_nxt),
                _ => None,
            })
        });
        if choice != PortChoice::Exhausted {
            let h = Self::hash(ip, remote);
            let index = (h as usize) & ((1 << PERTURB_SHIFT) - 1);
            let jitter = rng.random_range(0..8u32) * 2;
            self.perturb[index] = self.perturb[index].wrapping_add(i.max(jitter) + 2);
        }
        choice
    }

    /// How many ephemeral ports the range gives.
    pub fn port_count(&self) -> u32 {
        self.remaining
    }

    /// The port the next connect() would take if every port were free.
    pub fn peek_port(&self, ip: u32, remote: SockAddr) -> u16 {
        match self.scan(ip, remote, [false; 2], |_| None).0 {
            PortChoice::Free(p) => p,
            _ => self.low,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Stream, stream_rng};
    use std::collections::HashMap;

    const SERVER: SockAddr = SockAddr::new(0x0A00_0001, 80);

    #[test]
    fn uses_every_port_of_the_range_once_then_fails() {
        let mut ports = Ports::new([40000, 40009], TwReuse::Off, SimDuration::from_secs(1), true);
        let mut rng = stream_rng(1, 0, Stream::Ports);
        let mut used: HashMap<SockAddr, Tcb> = HashMap::new();
        let mut out = Vec::new();
        for _ in 0..10 {
            let PortChoice::Free(port) =
                ports.choose(SimTime::ZERO, 7, SERVER, [0, 0], &mut rng, |l| used.get(&l).map(Occupant::of))
            else {
                panic!("ran out early")
            };
            assert!((40000..=40009).contains(&port));
            let local = SockAddr::new(7, port);
            let tcb = Tcb::connect(SimTime::ZERO, local, SERVER, 1, &Default::default(), &mut out);
            assert!(used.insert(local, tcb).is_none(), "port {port} given twice");
        }
        assert_eq!(
            ports.choose(SimTime::ZERO, 7, SERVER, [0, 0], &mut rng, |l| used.get(&l).map(Occupant::of)),
            PortChoice::Exhausted
        );
    }

    #[test]
    fn a_time_wait_is_taken_over_only_past_tcp_tw_reuse_delay() {
        let ms = |m| SimTime::from_millis(m);
        let mut tw =
            Tcb::connect(ms(0), SockAddr::new(7, 40000), SERVER, 1, &Default::default(), &mut Vec::new());
        tw.state = State::TimeWait;
        tw.state_since = ms(5_250);
        tw.ts_recent = 77;
        for (delay, last_refused) in [(1000, 6_250), (1, 5_251), (60_000, 65_250)] {
            let ports = Ports::new([40000, 40001], TwReuse::On, SimDuration::from_millis(delay), true);
            // `time_after32`: strictly after entry + delay, in whole milliseconds.
            assert!(
                !ports.reusable(ms(last_refused), &Occupant::of(&tw)),
                "delay {delay} at {last_refused} ms"
            );
            assert!(!ports.reusable(SimTime(ms(last_refused).0 + 999_999), &Occupant::of(&tw)));
            assert!(
                ports.reusable(ms(last_refused + 1), &Occupant::of(&tw)),
                "delay {delay} at {} ms",
                last_refused + 1
            );
        }
        // The older rule took this one over at 6.0 s (an earlier second).
        let ports = Ports::new([40000, 40001], TwReuse::On, SimDuration::from_millis(1000), true);
        assert!(!ports.reusable(ms(6_000), &Occupant::of(&tw)));
        // No timestamps seen, or reuse off: never.
        tw.ts_recent = 0;
        assert!(!ports.reusable(ms(20_000), &Occupant::of(&tw)));
        tw.ts_recent = 77;
        let off = Ports::new([40000, 40001], TwReuse::Off, SimDuration::from_millis(1), true);
        assert!(!off.reusable(ms(20_000), &Occupant::of(&tw)));
    }

    #[test]
    fn prefers_even_ports_first() {
        let mut ports = Ports::new([32768, 60999], TwReuse::Off, SimDuration::from_secs(1), true);
        let mut rng = stream_rng(1, 0, Stream::Ports);
        for ip in 0..50 {
            let PortChoice::Free(port) = ports.choose(SimTime::ZERO, ip, SERVER, [0, 0], &mut rng, |_| None)
            else {
                panic!()
            };
            assert_eq!(port % 2, 0);
        }
    }
}
