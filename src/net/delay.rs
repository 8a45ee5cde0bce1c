//! One-way link delay: a fixed value or a distribution (rand_distr).

use crate::engine::time::round_nanos;
use crate::engine::{SimDuration, SimRng};
use rand::RngExt;
use rand_distr::{Distribution, Exp, Normal, Pareto, StandardNormal};
use serde::{Deserialize, Serialize};

/// A one-way delay distribution, as written in an experiment file:
/// `delay = "10ms"` or `delay = { dist = "lognormal", median = "20ms", sigma = 0.5 }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DelaySpec {
    Fixed(SimDuration),
    Dist(DelayDist),
}

/// How a delay is written, for messages.
pub const DELAY_FORMS: &str = "a duration like \"10ms\", or one of { dist = \"constant\", value = \"10ms\" }, \
    { dist = \"uniform\", low = \"5ms\", high = \"15ms\" }, { dist = \"exponential\", mean = \"10ms\" }, \
    { dist = \"normal\", mean = \"10ms\", std = \"2ms\" }, { dist = \"lognormal\", median = \"20ms\", sigma = 0.5 }, \
    { dist = \"pareto\", scale = \"12ms\", shape = 1.5 }";

impl<'de> Deserialize<'de> for DelaySpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::serde_forms::scalar_or_table(
            d,
            "a delay",
            DELAY_FORMS,
            |v| {
                let s = v.as_str()?;
                Some(crate::engine::time::parse_duration(s).map(DelaySpec::Fixed).map_err(|_| {
                    format!("`{s}` is not a delay (a duration >= 0 with a unit: ns, us, ms, s, min, h)")
                }))
            },
            DelaySpec::Dist,
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum DelayDist {
    Constant {
        value: SimDuration,
    },
    Uniform {
        low: SimDuration,
        high: SimDuration,
    },
    Exponential {
        mean: SimDuration,
    },
    /// Normal, truncated at zero (a negative draw is drawn again).
    Normal {
        mean: SimDuration,
        std: SimDuration,
    },
    Lognormal {
        median: SimDuration,
        sigma: f64,
    },
    /// Pareto with minimum `scale` and tail index `shape`.
    Pareto {
        scale: SimDuration,
        shape: f64,
    },
}

impl Default for DelaySpec {
    fn default() -> Self {
        DelaySpec::Fixed(SimDuration::from_millis(10))
    }
}

impl DelaySpec {
    /// Checks the parameters; the message names what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let DelaySpec::Dist(d) = self else { return Ok(()) };
        match *d {
            DelayDist::Uniform { low, high } if high < low => {
                Err(format!("uniform delay needs low <= high (got low {low}, high {high})"))
            }
            DelayDist::Lognormal { sigma, .. } if !(sigma.is_finite() && sigma >= 0.0) => {
                Err(format!("lognormal sigma must be a finite number >= 0 (got {sigma})"))
            }
            DelayDist::Pareto { shape, scale } if !(shape.is_finite() && shape > 0.0) || scale.0 == 0 => {
                Err(format!("pareto needs shape > 0 and scale > 0 (got shape {shape}, scale {scale})"))
            }
            _ => Ok(()),
        }
    }

    /// The sampler for a run; validated parameters never fail here.
    pub fn sampler(&self) -> DelaySampler {
        let ns = |d: SimDuration| d.0 as f64;
        match *self {
            DelaySpec::Fixed(d) | DelaySpec::Dist(DelayDist::Constant { value: d }) => {
                DelaySampler::Constant(d)
            }
            DelaySpec::Dist(DelayDist::Uniform { low, high }) => DelaySampler::Uniform(low.0, high.0),
            DelaySpec::Dist(DelayDist::Exponential { mean }) => {
                if mean.0 == 0 {
                    DelaySampler::Constant(SimDuration::ZERO)
                } else {
                    DelaySampler::Exponential(Exp::new(1.0 / ns(mean)).expect("positive rate"))
                }
            }
            DelaySpec::Dist(DelayDist::Normal { mean, std }) => {
                DelaySampler::Normal(Normal::new(ns(mean), ns(std)).expect("finite std"))
            }
            DelaySpec::Dist(DelayDist::Lognormal { median, sigma }) => {
                DelaySampler::LogNormal { mu: ns(median).max(1.0).ln(), sigma }
            }
            DelaySpec::Dist(DelayDist::Pareto { scale, shape }) => {
                DelaySampler::Pareto(Pareto::new(ns(scale), shape).expect("validated pareto"))
            }
        }
    }

    /// The mean delay, for reports and analytic checks (infinite for a
    /// Pareto with shape <= 1).
    pub fn mean_secs(&self) -> f64 {
        let s = |d: SimDuration| d.as_secs_f64();
        match *self {
            DelaySpec::Fixed(d) | DelaySpec::Dist(DelayDist::Constant { value: d }) => s(d),
            DelaySpec::Dist(DelayDist::Uniform { low, high }) => (s(low) + s(high)) / 2.0,
            DelaySpec::Dist(DelayDist::Exponential { mean }) => s(mean),
            // Truncation at zero raises the mean; this is the untruncated one.
            DelaySpec::Dist(DelayDist::Normal { mean, .. }) => s(mean),
            DelaySpec::Dist(DelayDist::Lognormal { median, sigma }) => {
                s(median) * (sigma * sigma / 2.0).exp()
            }
            DelaySpec::Dist(DelayDist::Pareto { scale, shape }) => {
                if shape <= 1.0 {
                    f64::INFINITY
                } else {
                    s(scale) * shape / (shape - 1.0)
                }
            }
        }
    }
}

/// A ready-to-draw delay distribution (in nanoseconds).
#[derive(Clone, Debug)]
pub enum DelaySampler {
    Constant(SimDuration),
    Uniform(u64, u64),
    Exponential(Exp<f64>),
    Normal(Normal<f64>),
    /// exp(mu + sigma Z), Z standard normal: `rand_distr::LogNormal`'s
    /// arithmetic, drawn inline (the hottest draw of a flood run).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Pareto(Pareto<f64>),
}

impl DelaySampler {
    /// Whether every draw is the same (a path that cannot reorder).
    pub fn is_constant(&self) -> bool {
        matches!(self, DelaySampler::Constant(_))
    }

    /// Draws one delay. A constant delay draws nothing from `rng`, so
    /// scenarios with fixed delays keep other streams untouched.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            DelaySampler::Constant(d) => *d,
            DelaySampler::Uniform(lo, hi) => SimDuration(rng.random_range(*lo..=*hi)),
            DelaySampler::Exponential(e) => SimDuration::from_nanos(round_nanos(e.sample(rng))),
            DelaySampler::Normal(n) => {
                // Truncated at zero by rejection: the shape stays normal above 0.
                for _ in 0..64 {
                    let x = n.sample(rng);
                    if x >= 0.0 {
                        return SimDuration::from_nanos(round_nanos(x));
                    }
                }
                SimDuration::ZERO
            }
            DelaySampler::LogNormal { mu, sigma } => {
                let z: f64 = rng.sample(StandardNormal);
                SimDuration::from_nanos(round_nanos((mu + sigma * z).exp()))
            }
            DelaySampler::Pareto(p) => SimDuration::from_nanos(round_nanos(p.sample(rng).min(1e18))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Stream, stream_rng};

    fn mean_of(spec: DelaySpec, n: usize) -> f64 {
        let s = spec.sampler();
        let mut rng = stream_rng(1, 0, Stream::Delay);
        (0..n).map(|_| s.sample(&mut rng).as_secs_f64()).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_the_distribution_means() {
        let ms = SimDuration::from_millis;
        let specs = [
            DelaySpec::Fixed(ms(10)),
            DelaySpec::Dist(DelayDist::Uniform { low: ms(5), high: ms(15) }),
            DelaySpec::Dist(DelayDist::Exponential { mean: ms(10) }),
            DelaySpec::Dist(DelayDist::Normal { mean: ms(50), std: ms(5) }),
            DelaySpec::Dist(DelayDist::Lognormal { median: ms(20), sigma: 0.5 }),
            DelaySpec::Dist(DelayDist::Pareto { scale: ms(5), shape: 3.0 }),
        ];
        for spec in specs {
            let expected = spec.mean_secs();
            let got = mean_of(spec.clone(), 200_000);
            // 200k draws: the standard error is under 0.5 % for these shapes.
            assert!((got - expected).abs() / expected < 0.02, "{spec:?}: mean {got} vs {expected}");
        }
    }

    #[test]
    fn lognormal_draws_are_rand_distrs_bit_for_bit() {
        let median = SimDuration::from_millis(20);
        let s = DelaySpec::Dist(DelayDist::Lognormal { median, sigma: 0.5 }).sampler();
        let reference = rand_distr::LogNormal::new((median.0 as f64).ln(), 0.5).unwrap();
        let (mut a, mut b) = (stream_rng(7, 0, Stream::Delay), stream_rng(7, 0, Stream::Delay));
        for _ in 0..100_000 {
            let want = SimDuration::from_nanos(reference.sample(&mut b).round() as u64);
            assert_eq!(s.sample(&mut a), want);
        }
    }

    #[test]
    fn normal_is_truncated_at_zero() {
        let s = DelaySpec::Dist(DelayDist::Normal {
            mean: SimDuration::from_millis(1),
            std: SimDuration::from_millis(10),
        })
        .sampler();
        let mut rng = stream_rng(1, 0, Stream::Delay);
        // No draw can be negative: SimDuration is unsigned, and rejection keeps
        // the upper part's shape, so some draws exceed the mean by far.
        let big = (0..10_000).filter(|_| s.sample(&mut rng) > SimDuration::from_millis(10)).count();
        assert!(big > 100);
    }

    #[test]
    fn parses_shorthand_and_tables() {
        #[derive(Deserialize)]
        struct W {
            delay: DelaySpec,
        }
        let w: W = toml::from_str(r#"delay = "20ms""#).unwrap();
        assert_eq!(w.delay, DelaySpec::Fixed(SimDuration::from_millis(20)));
        let w: W = toml::from_str(r#"delay = { dist = "lognormal", median = "20ms", sigma = 0.5 }"#).unwrap();
        assert_eq!(
            w.delay,
            DelaySpec::Dist(DelayDist::Lognormal { median: SimDuration::from_millis(20), sigma: 0.5 })
        );
    }
}
