//! Links between hosts (delay distributions, loss models, drop rules, the
//! per-segment delivery decision) and the server's ingress queue.

pub mod delay;
pub mod drop_rule;
pub mod ingress;
pub mod link;
pub mod loss;

pub use delay::{DelayDist, DelaySampler, DelaySpec};
pub use drop_rule::{Direction, DropRule, DropRules, Occurrence, RuleAction};
pub use loss::{LossChannel, LossModel, LossSpec};
