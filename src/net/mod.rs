//! Links between hosts: delay distributions, loss models, drop rules.

pub mod delay;
pub mod drop_rule;
pub mod loss;

pub use delay::{DelayDist, DelaySampler, DelaySpec};
pub use drop_rule::{Direction, DropRule, DropRules, Occurrence, RuleAction};
pub use loss::{LossChannel, LossModel, LossSpec};
