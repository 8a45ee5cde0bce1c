//! The path between the clients and the server, one decision per
//! segment: the exact drop rules first (scenarios), then the direction's
//! loss process, then its delay. The link owns its random streams, so a
//! segment's fate depends only on the segments sent before it.

use super::{DelaySampler, DelaySpec, Direction, DropRule, DropRules, LossChannel, LossSpec, RuleAction};
use crate::engine::{SimDuration, SimRng};
use crate::tcp::Segment;

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

pub struct Link {
    c2s: Path,
    s2c: Path,
    rules: DropRules,
    rng_loss: SimRng,
    rng_delay: SimRng,
}

impl Link {
    pub fn new(
        c2s: (DelaySpec, LossSpec),
        s2c: (DelaySpec, LossSpec),
        rng_loss: SimRng,
        rng_delay: SimRng,
    ) -> Self {
        Link {
            c2s: Path { loss: c2s.1.channel(), delay: c2s.0.sampler() },
            s2c: Path { loss: s2c.1.channel(), delay: s2c.0.sampler() },
            rules: DropRules::default(),
            rng_loss,
            rng_delay,
        }
    }

    /// Whether either direction's delay varies from segment to segment
    /// (only then can a segment overtake an earlier one).
    pub fn has_jitter(&self) -> bool {
        !self.c2s.delay.is_constant() || !self.s2c.delay.is_constant()
    }

    pub fn set_drop_rules(&mut self, rules: Vec<DropRule>) {
        self.rules = DropRules::new(rules);
    }

    pub fn decide(&mut self, seg: &Segment, direction: Direction) -> Delivery {
        let mut extra = SimDuration::ZERO;
        if let Some((action, rule)) = self.rules.check(seg, direction) {
            match action {
                RuleAction::Drop => return Delivery::Dropped(rule),
                RuleAction::Delay(ns) => extra = SimDuration(ns),
            }
        }
        let path = match direction {
            Direction::ClientToServer => &mut self.c2s,
            Direction::ServerToClient => &mut self.s2c,
        };
        if path.loss.lose(&mut self.rng_loss) {
            return Delivery::Lost;
        }
        Delivery::After(path.delay.sample(&mut self.rng_delay) + extra)
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
        assert!(matches!(l.decide(&syn(), Direction::ClientToServer), Delivery::Dropped(_)));
        assert_eq!(
            l.decide(&syn(), Direction::ClientToServer),
            Delivery::After(SimDuration::from_millis(40))
        );
        assert_eq!(
            l.decide(&syn(), Direction::ClientToServer),
            Delivery::After(SimDuration::from_millis(10))
        );
    }

    #[test]
    fn each_direction_has_its_own_loss() {
        let mut l = link(LossSpec::Bernoulli(1.0));
        assert_eq!(l.decide(&syn(), Direction::ClientToServer), Delivery::Lost);
        assert_eq!(
            l.decide(&syn(), Direction::ServerToClient),
            Delivery::After(SimDuration::from_millis(10))
        );
    }
}
