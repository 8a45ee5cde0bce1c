//! Segment loss on a link direction: independent (Bernoulli) or bursty
//! (Gilbert-Elliott: a two-state Markov chain stepped once per segment).

use crate::engine::SimRng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// `loss = 0.01`, or `loss = { model = "gilbert-elliott", p_good_to_bad = 0.01,
/// p_bad_to_good = 0.3, loss_bad = 0.5 }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LossSpec {
    Bernoulli(f64),
    Model(LossModel),
}

/// How loss is written, for messages.
pub const LOSS_FORMS: &str = "a probability from 0 to 1 like 0.01, or one of { model = \"bernoulli\", p = 0.01 }, \
    { model = \"gilbert-elliott\", p_good_to_bad = 0.01, p_bad_to_good = 0.3, loss_good = 0, loss_bad = 0.5 }";

impl<'de> Deserialize<'de> for LossSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_forms::scalar_or_table(
            d,
            "loss",
            LOSS_FORMS,
            |v| match v {
                toml::Value::Float(p) => Some(Ok(LossSpec::Bernoulli(*p))),
                toml::Value::Integer(p) => Some(Ok(LossSpec::Bernoulli(*p as f64))),
                _ => None,
            },
            LossSpec::Model,
        )
    }
}

impl Default for LossSpec {
    fn default() -> Self {
        LossSpec::Bernoulli(0.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LossModel {
    Bernoulli {
        p: f64,
    },
    GilbertElliott {
        p_good_to_bad: f64,
        p_bad_to_good: f64,
        #[serde(default)]
        loss_good: f64,
        #[serde(default = "one")]
        loss_bad: f64,
    },
}

fn one() -> f64 {
    1.0
}

fn check_probability(name: &str, p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("{name} must be a probability in [0, 1] (got {p})"))
    }
}

impl LossSpec {
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            LossSpec::Bernoulli(p) | LossSpec::Model(LossModel::Bernoulli { p }) => {
                check_probability("loss", p)
            }
            LossSpec::Model(LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            }) => {
                check_probability("p_good_to_bad", p_good_to_bad)?;
                check_probability("p_bad_to_good", p_bad_to_good)?;
                check_probability("loss_good", loss_good)?;
                check_probability("loss_bad", loss_bad)
            }
        }
    }

    /// The long-run fraction of segments lost.
    pub fn mean_loss(&self) -> f64 {
        match *self {
            LossSpec::Bernoulli(p) | LossSpec::Model(LossModel::Bernoulli { p }) => p,
            LossSpec::Model(LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            }) => {
                let total = p_good_to_bad + p_bad_to_good;
                if total == 0.0 {
                    return loss_good;
                }
                let bad_share = p_good_to_bad / total;
                (1.0 - bad_share) * loss_good + bad_share * loss_bad
            }
        }
    }

    pub fn channel(&self) -> LossChannel {
        match *self {
            LossSpec::Bernoulli(p) | LossSpec::Model(LossModel::Bernoulli { p }) => LossChannel::Bernoulli(p),
            LossSpec::Model(LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            }) => {
                LossChannel::GilbertElliott { p_good_to_bad, p_bad_to_good, loss_good, loss_bad, bad: false }
            }
        }
    }
}

/// The loss process of one link direction, with its Markov state.
#[derive(Clone, Debug)]
pub enum LossChannel {
    Bernoulli(f64),
    GilbertElliott { p_good_to_bad: f64, p_bad_to_good: f64, loss_good: f64, loss_bad: f64, bad: bool },
}

impl LossChannel {
    /// Whether the next segment is lost. Loss-free channels draw nothing.
    #[inline]
    pub fn lose(&mut self, rng: &mut SimRng) -> bool {
        match self {
            LossChannel::Bernoulli(p) => *p > 0.0 && rng.random::<f64>() < *p,
            LossChannel::GilbertElliott { p_good_to_bad, p_bad_to_good, loss_good, loss_bad, bad } => {
                let flip = if *bad { *p_bad_to_good } else { *p_good_to_bad };
                if rng.random::<f64>() < flip {
                    *bad = !*bad;
                }
                let p = if *bad { *loss_bad } else { *loss_good };
                p > 0.0 && rng.random::<f64>() < p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Stream, stream_rng};

    #[test]
    fn bernoulli_rate_matches() {
        let mut ch = LossSpec::Bernoulli(0.1).channel();
        let mut rng = stream_rng(3, 0, Stream::Loss);
        let n = 100_000;
        let lost = (0..n).filter(|_| ch.lose(&mut rng)).count() as f64 / n as f64;
        // sd = sqrt(0.09 / 1e5) ~ 0.00095: five sd.
        assert!((lost - 0.1).abs() < 0.005, "{lost}");
    }

    #[test]
    fn gilbert_elliott_is_bursty_with_the_stationary_rate() {
        let spec = LossSpec::Model(LossModel::GilbertElliott {
            p_good_to_bad: 0.01,
            p_bad_to_good: 0.25,
            loss_good: 0.0,
            loss_bad: 1.0,
        });
        let mut ch = spec.channel();
        let mut rng = stream_rng(3, 0, Stream::Loss);
        let draws: Vec<bool> = (0..400_000).map(|_| ch.lose(&mut rng)).collect();
        let rate = draws.iter().filter(|&&l| l).count() as f64 / draws.len() as f64;
        assert!((rate - spec.mean_loss()).abs() < 0.006, "{rate} vs {}", spec.mean_loss());
        // Bursts: a loss is followed by another far more often than the mean rate.
        let pairs = draws.windows(2).filter(|w| w[0]).count() as f64;
        let follow = draws.windows(2).filter(|w| w[0] && w[1]).count() as f64 / pairs;
        assert!(follow > 0.6, "P(loss | loss) = {follow}");
    }

    #[test]
    fn out_of_range_is_rejected() {
        assert!(LossSpec::Bernoulli(1.5).validate().is_err());
        assert!(LossSpec::Bernoulli(-0.1).validate().is_err());
        assert!(LossSpec::Bernoulli(1.0).validate().is_ok());
    }
}
