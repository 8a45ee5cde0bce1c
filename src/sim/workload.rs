//! The workload: client populations (open loop Poisson arrivals, closed
//! loop users with think times) and attackers (spoofed SYNs, half-open
//! hosts, connect floods) with their rate profiles.

use super::addr::{AddressPlan, SERVER};
use super::conns::{Hints, NO_USER, Role};
use super::kernel;
use super::port_counts::PortCounts;
use super::world::{Event, World};
use crate::config::{AttackKind, Closer, RateProfile, RunConfig};
use crate::engine::rng::mix64;
use crate::engine::{Scheduler, SimDuration, SimRng, SimTime};
use crate::net::link::PathsId;
use crate::tcp::params::{DEFAULT_MSS, IP_LOCAL_PORT_RANGE, tcp_tsval};
use crate::tcp::ports::{PortChoice, Ports};
use crate::tcp::time_wait::TimeWaitBuckets;
use crate::tcp::{Flags, Segment, SockAddr, State, Tcb, TcpParams};
use crate::trace::Side;
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp};

/// One client population, ready to run.
pub(super) struct Population {
    pub hosts: u64,
    pub base: u32,
    pub rate: Option<f64>,
    pub concurrency: u64,
    pub think: SimDuration,
    pub hold: SimDuration,
    pub closer: Closer,
    pub client_close_share: f64,
    pub request_bytes: u16,
    pub start: SimTime,
    pub stop: SimTime,
    pub params: TcpParams,
    /// The server's kernel as this population's connections see it (the
    /// handshake ablation is per population).
    pub server_params: TcpParams,
    pub ports: Ports,
    pub round_robin: bool,
    /// Arrivals exactly 1/rate apart instead of Poisson.
    pub constant: bool,
    pub next_host: u64,
    /// Open-loop arrivals left (u64::MAX: unlimited).
    pub arrivals_left: u64,
    pub port_counts: PortCounts,
    /// Per host: TIME-WAIT entries against tcp_max_tw_buckets, counted
    /// only when that is below the port count and so can bind.
    pub tw_buckets: TimeWaitBuckets,
    /// The link's paths its hosts take (0: `[network]`'s).
    pub paths: PathsId,
}

pub(super) struct Attacker {
    pub kind: AttackKind,
    pub rate: f64,
    pub profile: RateProfile,
    pub start: SimTime,
    pub stop: SimTime,
    pub sources: u64,
    pub rst_fraction: f64,
    pub hosts: u64,
    pub base: u32,
    pub salt: u64,
    pub ports: Ports,
    pub port_counts: PortCounts,
    /// The link's paths its SYNs and hosts take (0: `[network]`'s).
    pub paths: PathsId,
}

impl Attacker {
    /// The attack's instantaneous rate at `now` (packets per second).
    pub fn rate_at(&self, now: SimTime) -> f64 {
        let since = now.saturating_sub(self.start);
        match self.profile {
            RateProfile::Constant | RateProfile::Poisson => self.rate,
            RateProfile::OnOff { on, off } => {
                let period = on.0 + off.0;
                if period == 0 || since.0 % period < on.0 { self.rate } else { 0.0 }
            }
            RateProfile::Ramp { from, over } => {
                if since >= over || over.0 == 0 {
                    self.rate
                } else {
                    from + (self.rate - from) * since.0 as f64 / over.0 as f64
                }
            }
        }
    }

    /// When the packet after one sent at `now` (at `rate`) goes out:
    /// constant spacing or Poisson while on; the end of an off period;
    /// never (`SimTime::MAX`) when the rate is zero for good.
    pub fn next_after(&self, now: SimTime, rate: f64, rng: &mut SimRng) -> SimTime {
        if rate <= 0.0 {
            return match self.profile {
                RateProfile::OnOff { on, off } => {
                    let period = on.0 + off.0;
                    let since = now.saturating_sub(self.start).0;
                    now + SimDuration(period - since % period)
                }
                _ => SimTime::MAX,
            };
        }
        let gap = match self.profile {
            RateProfile::Constant => SimDuration::from_secs_f64(1.0 / rate),
            _ => SimDuration::from_secs_f64(Exp::new(rate).expect("positive").sample(rng)),
        };
        now + gap.max(SimDuration(1))
    }
}

/// The populations and attackers of `cfg`, their addresses added to `plan`.
pub(super) fn build(
    cfg: &RunConfig,
    plan: &mut AddressPlan,
    server_params: TcpParams,
    seed: u64,
    run: u64,
) -> (Vec<Population>, Vec<Attacker>) {
    let mut pops = Vec::new();
    for (pop_index, c) in cfg.clients.values().enumerate() {
        let base = plan.add_population(pop_index as u16, c.hosts);
        let ports = kernel::client_ports(c);
        let tw_binds = c.tcp_max_tw_buckets < ports.port_count();
        let tw_buckets = TimeWaitBuckets::new(c.tcp_max_tw_buckets, c.hosts as usize, tw_binds);
        pops.push(Population {
            hosts: c.hosts,
            base,
            rate: c.rate,
            concurrency: c.concurrency.unwrap_or(0),
            think: c.think,
            hold: c.hold,
            closer: c.closer,
            client_close_share: c.client_close_share,
            request_bytes: c.request_bytes,
            start: SimTime::ZERO + c.start,
            stop: c.stop.map(|s| SimTime::ZERO + s).unwrap_or(SimTime::MAX),
            params: TcpParams {
                ts_secret: server_params.ts_secret,
                clock_secret: kernel::clock_secret(cfg, server_params.ts_secret),
                ..kernel::client_params(c, cfg.hz)
            },
            server_params: kernel::server_params_for(server_params, c),
            ports,
            round_robin: c.host_choice == crate::config::HostChoice::RoundRobin,
            constant: c.arrival == crate::config::Arrival::Constant,
            next_host: 0,
            arrivals_left: c.max_connections.unwrap_or(u64::MAX),
            port_counts: PortCounts::new(c.hosts, c.rate),
            tw_buckets,
            paths: 0,
        });
    }
    let mut attackers = Vec::new();
    for (i, a) in cfg.attackers.values().enumerate() {
        let base = match a.kind {
            AttackKind::SpoofedSyn => 0,
            _ => plan.add_attack_hosts(i as u16, a.hosts),
        };
        attackers.push(Attacker {
            kind: a.kind,
            rate: a.rate,
            profile: a.profile.clone(),
            start: SimTime::ZERO + a.start,
            stop: a.stop.map(|s| SimTime::ZERO + s).unwrap_or(SimTime::MAX),
            sources: a.sources.clamp(1, 1 << 32),
            rst_fraction: a.rst_fraction,
            hosts: a.hosts,
            base,
            salt: mix64(seed ^ (i as u64) << 48 ^ run),
            ports: kernel::attacker_ports(),
            port_counts: PortCounts::new(a.hosts, Some(a.rate)),
            paths: 0,
        });
    }
    (pops, attackers)
}

/// The spacing of events at `rate` per second (None: unlimited; a rate of
/// 0 spaces them forever).
pub(super) fn interval(rate: Option<f64>) -> Option<SimDuration> {
    rate.map(|r| {
        if r > 0.0 { SimDuration::from_secs_f64(1.0 / r).max(SimDuration(1)) } else { SimDuration(u64::MAX) }
    })
}

impl<Q: Scheduler<Event>> World<Q> {
    pub(super) fn schedule_workload(&mut self) {
        self.queue.push(self.warmup, Event::WarmupEnd);
        if self.measure_end < self.end {
            self.queue.push(self.measure_end, Event::MeasureEnd);
        }
        if self.bin.0 > 0 {
            self.queue.push(SimTime::ZERO + self.bin, Event::Sample);
        }
        for p in 0..self.pops.len() {
            let (start, rate, users) = (self.pops[p].start, self.pops[p].rate, self.pops[p].concurrency);
            if let Some(rate) = rate.filter(|&r| r > 0.0) {
                let first = start + self.arrival_gap(p, rate);
                self.queue.push(first, Event::ClientArrival { pop: p as u16 });
            }
            for user in 0..users {
                // Stagger the users' first connections over one think time
                // (or 1 s), so a closed loop does not start as one burst.
                let spread = self.pops[p].think.max(SimDuration(1_000_000_000)).0;
                let at = start + SimDuration(self.rng_arrivals.random_range(0..spread));
                self.queue.push(at, Event::UserConnect { pop: p as u16, user: user as u32 });
            }
        }
        for a in 0..self.attackers.len() {
            let start = self.attackers[a].start;
            if self.attackers[a].rate > 0.0 {
                self.queue.push(start, Event::Attack { attacker: a as u16 });
            }
        }
    }

    /// The gap to population `pop`'s next open-loop arrival.
    fn arrival_gap(&mut self, pop: usize, rate: f64) -> SimDuration {
        if self.pops[pop].constant {
            SimDuration::from_secs_f64(1.0 / rate).max(SimDuration(1))
        } else {
            self.next_gap(rate)
        }
    }

    fn next_gap(&mut self, rate: f64) -> SimDuration {
        let exp = Exp::new(rate).expect("validated rate");
        SimDuration::from_secs_f64(exp.sample(&mut self.rng_arrivals)).max(SimDuration(1))
    }

    pub(super) fn on_client_arrival(&mut self, pop: u16) {
        let p = &mut self.pops[pop as usize];
        if self.now >= p.stop || p.arrivals_left == 0 {
            return;
        }
        p.arrivals_left -= 1;
        let p = &self.pops[pop as usize];
        let rate = p.rate.expect("open loop");
        let hosts = p.hosts;
        let host = if p.round_robin {
            let pop_mut = &mut self.pops[pop as usize];
            let h = pop_mut.next_host % hosts;
            pop_mut.next_host += 1;
            h as u32
        } else {
            self.rng_arrivals.random_range(0..hosts) as u32
        };
        let next = self.now + self.arrival_gap(pop as usize, rate);
        self.queue.push(next, Event::ClientArrival { pop });
        self.client_connect(pop, host, NO_USER);
    }

    pub(super) fn on_attack(&mut self, index: u16) {
        let now = self.now;
        let a = &self.attackers[index as usize];
        if now >= a.stop || now >= self.end {
            return;
        }
        let rate = a.rate_at(now);
        // Schedule the next packet first.
        let next = a.next_after(now, rate, &mut self.rng_attack);
        if next < SimTime::MAX {
            self.queue.push(next, Event::Attack { attacker: index });
        }
        if rate <= 0.0 {
            return;
        }
        let a = &self.attackers[index as usize];
        match a.kind {
            AttackKind::SpoofedSyn => {
                let source = self.rng_attack.random_range(0..a.sources);
                let mut ip = mix64(source ^ a.salt) as u32;
                if ip == SERVER.ip {
                    ip ^= 1;
                }
                let port = self.rng_attack.random_range(1024..=65535u32) as u16;
                let seg = Segment {
                    src: SockAddr::new(ip, port),
                    dst: SERVER,
                    seq: self.rng_attack.next_u32(),
                    flags: Flags::SYN,
                    mss: DEFAULT_MSS,
                    ..Default::default()
                };
                self.metrics.counters.attack_syns_sent += 1;
                // A spoofed source is nobody's host: the attacker's own path.
                let paths = self.attackers[index as usize].paths;
                self.transmit_on(seg, Hints::NONE, Side::Other, Some(paths));
            }
            AttackKind::HalfOpen => {
                let ip = a.base + self.rng_attack.random_range(0..a.hosts) as u32;
                let [low, high] = IP_LOCAL_PORT_RANGE;
                let port = self.rng_attack.random_range(low as u32..=high as u32) as u16;
                let seg = Segment {
                    src: SockAddr::new(ip, port),
                    dst: SERVER,
                    seq: self.rng_attack.next_u32(),
                    tsval: tcp_tsval(now, 0, ip, SERVER.ip),
                    flags: Flags::SYN,
                    mss: DEFAULT_MSS,
                    syn_opts: Segment::SACK_PERM | Segment::WSCALE,
                    ..Default::default()
                };
                self.metrics.counters.attack_syns_sent += 1;
                self.transmit(seg, Hints::NONE, Side::Other);
            }
            AttackKind::ConnectFlood => {
                let ip = a.base + self.rng_attack.random_range(0..a.hosts) as u32;
                let p = kernel::attacker_params(self.hz, self.clock_secret);
                let in_use = self.ports_in_use(ip);
                let conns = &self.conns;
                let choice = self.attackers[index as usize].ports.choose(
                    now,
                    ip,
                    SERVER,
                    in_use,
                    &mut self.rng_ports,
                    |local| conns.occupant(local, SERVER),
                );
                let PortChoice::Free(port) = choice else { return };
                let isn = self.rng_isn.next_u32();
                let mut out = std::mem::take(&mut self.out);
                let tcb = Tcb::connect(now, SockAddr::new(ip, port), SERVER, isn, &p, &mut out);
                self.out = out;
                self.metrics.counters.attack_syns_sent += 1;
                let slot = self.insert(tcb, Role::AttackerConn);
                self.settle(slot, State::SynSent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Stream, stream_rng};

    fn attacker(profile: RateProfile) -> Attacker {
        Attacker {
            kind: AttackKind::SpoofedSyn,
            rate: 100.0,
            profile,
            start: SimTime::ZERO,
            stop: SimTime::MAX,
            sources: 1,
            rst_fraction: 0.0,
            hosts: 0,
            base: 0,
            salt: 0,
            ports: kernel::attacker_ports(),
            port_counts: PortCounts::new(0, None),
            paths: 0,
        }
    }

    fn secs(s: f64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs_f64(s)
    }

    #[test]
    fn on_off_sleeps_through_the_off_period() {
        let s = SimDuration::from_secs(1);
        let a = attacker(RateProfile::OnOff { on: s, off: s });
        let mut rng = stream_rng(1, 0, Stream::Attack);
        assert_eq!(a.rate_at(secs(0.5)), 100.0);
        assert_eq!(a.rate_at(secs(1.5)), 0.0);
        assert_eq!(a.next_after(secs(1.5), 0.0, &mut rng), secs(2.0));
    }

    #[test]
    fn constant_spacing_and_a_ramp() {
        let mut rng = stream_rng(1, 0, Stream::Attack);
        let a = attacker(RateProfile::Constant);
        assert_eq!(a.next_after(secs(1.0), 100.0, &mut rng), secs(1.01));
        let r = attacker(RateProfile::Ramp { from: 0.0, over: SimDuration::from_secs(10) });
        assert_eq!(r.rate_at(secs(5.0)), 50.0);
        assert_eq!(r.rate_at(secs(20.0)), 100.0);
        assert_eq!(r.next_after(secs(0.0), 0.0, &mut rng), SimTime::MAX);
    }
}
