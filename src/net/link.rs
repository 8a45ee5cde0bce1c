//! The path between the clients and the server, one decision per
//! segment: the exact drop rules first (scenarios), then the direction's
//! loss process, then its delay. The link owns its random streams, so a
//! segment's fate depends only on the segments sent before it. A
//! population with its own `network` table has its own paths; every
//! other host takes `[network]`'s.

use super::{DelaySampler, DelaySpec, Direction, DropRule, DropRules, LossChannel, LossSpec, RuleAction};
use crate::config::ResolvedPaths;
use crate::engine::{SimDuration, SimRng, SimTime};
use crate::tcp::Segment;
use rustc_hash::FxHashMap;

/// What the link does with a segment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A drop rule took it.
    Dropped(DropRule),
    /// The loss process took it.
    Lost,
    /// It arrives after this delay.
    After(SimDuration),
}

/// One direction: its loss process and delay distribution.
struct Path {
    loss: LossChannel,
    delay: DelaySampler,
}

/// The two directions of one set of paths: `[network]`'s (index 0), or a
/// population's own (`[clients.NAME.network]`). One per population, not
/// per host: a million hosts share their population's paths.
struct Paths {
    c2s: Path,
    s2c: Path,
    /// Whose loss channels its segments cross: its own index, or 0 (the
    /// shared bottleneck, `shared_loss`).
    loss_on: PathsId,
    /// Each flow's segments arrive in the order they were sent.
    fifo: bool,
}

/// Which set of paths a segment takes (0: `[network]`'s).
pub type PathsId = u16;

pub struct Link {
    paths: Vec<Paths>,
    rules: DropRules,
    rng_loss: SimRng,
    rng_delay: SimRng,
    transmitter: Option<Transmitter>,
}

/// `[network] transmission_time`: every host sends one segment at a time.
struct Transmitter {
    time: DelaySampler,
    rng: SimRng,
    /// When each sending address's last segment has left it. An entry per
    /// address that ever sent (the option is for testbed-sized runs).
    busy_until: FxHashMap<u32, SimTime>,
}

impl Paths {
    fn new(c2s: (DelaySpec, LossSpec), s2c: (DelaySpec, LossSpec), reorder: bool, loss_on: PathsId) -> Self {
        let path =
            |(delay, loss): (DelaySpec, LossSpec)| Path { loss: loss.channel(), delay: delay.sampler() };
        let (c2s, s2c) = (path(c2s), path(s2c));
        // A FIFO rule changes nothing where every delay is the same.
        let jitter = !c2s.delay.is_constant() || !s2c.delay.is_constant();
        Paths { c2s, s2c, loss_on, fifo: !reorder && jitter }
    }
}

impl Link {
    /// The link with `[network]`'s paths (`reorder`: independent delays).
    pub fn new(
        c2s: (DelaySpec, LossSpec),
        s2c: (DelaySpec, LossSpec),
        reorder: bool,
        rng_loss: SimRng,
        rng_delay: SimRng,
    ) -> Self {
        Link {
            paths: vec![Paths::new(c2s, s2c, reorder, 0)],
            rules: DropRules::default(),
            rng_loss,
            rng_delay,
            transmitter: None,
        }
    }

    /// Hosts take `time` to put each segment on the wire, one at a time.
    pub fn set_transmission_time(&mut self, time: &DelaySpec, rng: SimRng) {
        self.transmitter = Some(Transmitter { time: time.sampler(), rng, busy_until: FxHashMap::default() });
    }

    /// When a segment that host `src` hands to its NIC at `now` has left
    /// it: behind the host's earlier segments, plus its own transmission
    /// time. `now` when hosts have no transmission time. Every segment
    /// counts, even one the path will lose (it was sent).
    pub fn departure(&mut self, src: u32, now: SimTime) -> SimTime {
        let Some(t) = self.transmitter.as_mut() else { return now };
        let busy = t.busy_until.entry(src).or_insert(now);
        let left = (*busy).max(now) + t.time.sample(&mut t.rng);
        *busy = left;
        left
    }

    /// Adds one population's own paths; `shared_loss`: its segments are
    /// lost on `[network]`'s channels instead of its own.
    pub fn add_paths(&mut self, p: ResolvedPaths) -> PathsId {
        let id = PathsId::try_from(self.paths.len()).expect("fewer than 65536 populations");
        let loss_on = if p.shared_loss { 0 } else { id };
        self.paths.push(Paths::new(p.client_to_server, p.server_to_client, p.reorder, loss_on));
        id
    }

    /// Whether some population has paths of its own (only then does a
    /// segment's far end decide its path).
    pub fn has_population_paths(&self) -> bool {
        self.paths.len() > 1
    }

    /// Whether flows on `id`'s paths are kept FIFO.
    pub fn fifo(&self, id: PathsId) -> bool {
        self.paths[id as usize].fifo
    }

    /// Whether any flow is kept FIFO.
    pub fn any_fifo(&self) -> bool {
        self.paths.iter().any(|p| p.fifo)
    }

    pub fn set_drop_rules(&mut self, rules: Vec<DropRule>) {
        self.rules = DropRules::new(rules);
    }

    pub fn decide(&mut self, seg: &Segment, direction: Direction, id: PathsId) -> Delivery {
        let mut extra = SimDuration::ZERO;
        if let Some((action, rule)) = self.rules.check(seg, direction) {
            match action {
                RuleAction::Drop => return Delivery::Dropped(rule),
                RuleAction::Delay(ns) => extra = SimDuration(ns),
            }
        }
        let loss_on = self.paths[id as usize].loss_on as usize;
        if self.paths[loss_on].direction(direction).loss.lose(&mut self.rng_loss) {
            return Delivery::Lost;
        }
        Delivery::After(
            self.paths[id as usize].direction(direction).delay.sample(&mut self.rng_delay) + extra,
        )
    }
}

impl Paths {
    fn direction(&mut self, direction: Direction) -> &mut Path {
        match direction {
            Direction::ClientToServer => &mut self.c2s,
            Direction::ServerToClient => &mut self.s2c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Stream, stream_rng};
    use crate::tcp::{Flags, SegmentKind, SockAddr};

    fn link(loss: LossSpec) -> Link {
        let fixed = DelaySpec::Fixed(SimDuration::from_millis(10));
        Link::new(
            (fixed.clone(), loss),
            (fixed, LossSpec::default()),
            false,
            stream_rng(1, 0, Stream::Loss),
            stream_rng(1, 0, Stream::Delay),
        )
    }

    fn syn() -> Segment {
        Segment {
            src: SockAddr::new(1, 40000),
            dst: SockAddr::new(2, 80),
            flags: Flags::SYN,
            ..Default::default()
        }
    }

    #[test]
    fn a_rule_drops_before_the_loss_process_and_a_delay_rule_adds() {
        let mut l = link(LossSpec::default());
        l.set_drop_rules(vec![
            DropRule::drop_nth(SegmentKind::Syn, 1, Direction::ClientToServer),
            DropRule {
                action: RuleAction::Delay(SimDuration::from_millis(30).as_nanos()),
                ..DropRule::drop_nth(SegmentKind::Syn, 2, Direction::ClientToServer)
            },
        ]);
        assert!(matches!(l.decide(&syn(), Direction::ClientToServer, 0), Delivery::Dropped(_)));
        assert_eq!(
            l.decide(&syn(), Direction::ClientToServer, 0),
            Delivery::After(SimDuration::from_millis(40))
        );
        assert_eq!(
            l.decide(&syn(), Direction::ClientToServer, 0),
            Delivery::After(SimDuration::from_millis(10))
        );
    }

    #[test]
    fn each_direction_has_its_own_loss() {
        let mut l = link(LossSpec::Bernoulli(1.0));
        assert_eq!(l.decide(&syn(), Direction::ClientToServer, 0), Delivery::Lost);
        assert_eq!(
            l.decide(&syn(), Direction::ServerToClient, 0),
            Delivery::After(SimDuration::from_millis(10))
        );
    }

    fn flipping() -> LossSpec {
        // Flips state on every segment: lost, kept, lost, kept, ...
        LossSpec::Model(crate::net::LossModel::GilbertElliott {
            p_good_to_bad: 1.0,
            p_bad_to_good: 1.0,
            loss_good: 0.0,
            loss_bad: 1.0,
        })
    }

    fn own(delay: DelaySpec, loss: LossSpec, reorder: bool, shared_loss: bool) -> ResolvedPaths {
        ResolvedPaths {
            client_to_server: (delay.clone(), loss.clone()),
            server_to_client: (delay, loss),
            reorder,
            shared_loss,
        }
    }

    #[test]
    fn a_population_takes_its_own_delay_and_loss() {
        let mut l = link(LossSpec::default());
        let slow = DelaySpec::Fixed(SimDuration::from_millis(80));
        let id = l.add_paths(own(slow, LossSpec::Bernoulli(1.0), false, false));
        assert_eq!(id, 1);
        assert!(l.has_population_paths());
        assert_eq!(l.decide(&syn(), Direction::ClientToServer, id), Delivery::Lost);
        assert_eq!(
            l.decide(&syn(), Direction::ClientToServer, 0),
            Delivery::After(SimDuration::from_millis(10)),
            "[network]'s paths are untouched"
        );
        let id2 = l.add_paths(own(
            DelaySpec::Fixed(SimDuration::from_millis(80)),
            LossSpec::default(),
            false,
            false,
        ));
        assert_eq!(
            l.decide(&syn(), Direction::ServerToClient, id2),
            Delivery::After(SimDuration::from_millis(80))
        );
    }

    #[test]
    fn own_loss_keeps_its_own_markov_state_and_shared_loss_crosses_the_bottleneck() {
        let fixed = DelaySpec::Fixed(SimDuration::from_millis(10));
        let run = |shared: bool| {
            let mut l = link(flipping());
            let id = l.add_paths(own(fixed.clone(), flipping(), false, shared));
            // Alternate [network]'s hosts and the population's.
            [0, id, 0, id].map(|p| l.decide(&syn(), Direction::ClientToServer, p) == Delivery::Lost)
        };
        // Own channels: each sees its own 1st (lost) and 2nd (kept) segment.
        assert_eq!(run(false), [true, true, false, false]);
        // One shared channel: it flips on every segment, whoever sends it.
        assert_eq!(run(true), [true, false, true, false]);
    }

    #[test]
    fn fifo_is_per_set_of_paths() {
        let jitter = DelaySpec::Dist(crate::net::DelayDist::Uniform {
            low: SimDuration::from_millis(5),
            high: SimDuration::from_millis(15),
        });
        let mut l = link(LossSpec::default());
        assert!(!l.any_fifo(), "a constant delay needs no FIFO rule");
        let mobile = l.add_paths(own(jitter.clone(), LossSpec::default(), false, false));
        let reordering = l.add_paths(own(jitter, LossSpec::default(), true, false));
        assert!(!l.fifo(0) && l.fifo(mobile) && !l.fifo(reordering));
        assert!(l.any_fifo());
    }

    #[test]
    fn a_host_sends_one_segment_at_a_time_in_order() {
        let mut l = link(LossSpec::default());
        let t0 = SimTime::ZERO + SimDuration::from_secs(1);
        assert_eq!(l.departure(1, t0), t0, "no transmission time: a segment leaves when sent");
        let us = SimDuration::from_micros;
        l.set_transmission_time(&DelaySpec::Fixed(us(10)), stream_rng(1, 0, Stream::Transmission));
        // A burst of three at one instant leaves 10, 20, 30 us later.
        let burst: Vec<_> = (0..3).map(|_| l.departure(1, t0)).collect();
        assert_eq!(burst, vec![t0 + us(10), t0 + us(20), t0 + us(30)]);
        // Another host is not behind host 1.
        assert_eq!(l.departure(2, t0), t0 + us(10));
        // Host 1 is busy until t0 + 30 us; once idle, a segment waits only its own time.
        assert_eq!(l.departure(1, t0 + us(25)), t0 + us(40));
        assert_eq!(l.departure(1, t0 + us(100)), t0 + us(110));
    }

    #[test]
    fn a_drawn_transmission_time_still_keeps_the_host_order() {
        let mut l = link(LossSpec::default());
        let mean = SimDuration::from_micros(12);
        l.set_transmission_time(
            &DelaySpec::Dist(crate::net::DelayDist::Exponential { mean }),
            stream_rng(7, 0, Stream::Transmission),
        );
        let t0 = SimTime::ZERO;
        let left: Vec<_> = (0..1000).map(|_| l.departure(9, t0)).collect();
        assert!(left.windows(2).all(|w| w[0] <= w[1]), "departures in send order");
        // 1000 exponential draws: the burst takes 1000 x 12 us within 10 % (3 sigma).
        let span = left[999].as_nanos() as f64 / 1e3;
        assert!((span / 12_000.0 - 1.0).abs() < 0.10, "burst of 1000 took {span} us");
    }
}
