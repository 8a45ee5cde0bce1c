//! Simulated time: integer nanoseconds, never floats (docs/architecture.md, "Rules").

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_secs(s: u64) -> Self {
        SimTime(s * 1_000_000_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimTime(ms * 1_000_000)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds as a float, for outputs only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Milliseconds since the start, truncated: the TCP timestamp clock
    /// (Linux's `tcp_time_stamp_ms`).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    pub fn saturating_sub(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    /// Rounds a float number of seconds to the nearest nanosecond; negative
    /// and NaN inputs become zero. For sampled delays, never for timers.
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            SimDuration(0)
        } else if s >= u64::MAX as f64 / 1e9 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(round_nanos(s * 1e9))
        }
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub const fn saturating_mul(self, k: u64) -> Self {
        SimDuration(self.0.saturating_mul(k))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0 - earlier.0)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for SimTime {
    /// Seconds with microsecond precision, as a ladder diagram shows them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000_000, (self.0 % 1_000_000_000) / 1_000)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            write!(f, "0s")
        } else if ns % 1_000_000_000 == 0 {
            write!(f, "{}s", ns / 1_000_000_000)
        } else if ns % 1_000_000 == 0 {
            write!(f, "{}ms", ns / 1_000_000)
        } else if ns % 1_000 == 0 {
            write!(f, "{}us", ns / 1_000)
        } else {
            write!(f, "{ns}ns")
        }
    }
}

/// Error from [`parse_duration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a duration: write a number and a unit, one of ns, us, ms, s, min, h (e.g. \"20ms\", \"1.5s\")"
)]
pub struct DurationParseError(pub String);

/// Parses "10ms", "1.5s", "2min", "250us", "100ns", "1h". Exact for
/// decimal inputs: the number is scaled in integer arithmetic.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationParseError> {
    let err = || DurationParseError(text.to_string());
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).ok_or_else(err)?;
    let (number, unit) = t.split_at(split);
    let unit_ns: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(err()),
    };
    let number = number.replace('_', "");
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number.as_str(), ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err());
    }
    let int: u64 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| err())? };
    let mut ns = int.checked_mul(unit_ns).ok_or_else(err)?;
    let mut scale = unit_ns;
    for digit in frac_part.chars() {
        let d = digit.to_digit(10).ok_or_else(err)? as u64;
        scale /= 10;
        if scale == 0 {
            if d != 0 {
                return Err(err());
            }
            continue;
        }
        ns = ns.checked_add(d * scale).ok_or_else(err)?;
    }
    Ok(SimDuration(ns))
}

impl serde::Serialize for SimDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for SimDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SimDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration string such as \"20ms\" or \"1.5s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SimDuration, E> {
                parse_duration(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// `x.round() as u64` for a finite `x >= 0`, without the libm call (hot:
/// every sampled delay). Below 2^52 adding one half is exact, so the
/// truncation rounds half up, as `round` does for positive numbers; above
/// it every float is already a whole number.
#[inline]
pub fn round_nanos(x: f64) -> u64 {
    const EXACT: f64 = (1u64 << 52) as f64;
    if x < EXACT { (x + 0.5) as u64 } else { x as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_nanos_is_round() {
        let cases = [
            0.0,
            0.25,
            0.5,
            0.75,
            1.5,
            2.5,
            1e9 + 0.5,
            123456.499999,
            4503599627370495.5,
            4503599627370497.0,
            1e18,
        ];
        for x in cases {
            assert_eq!(round_nanos(x), x.round() as u64, "{x}");
        }
    }

    #[test]
    fn parses_units_exactly() {
        assert_eq!(parse_duration("10ms"), Ok(SimDuration::from_millis(10)));
        assert_eq!(parse_duration("1.5s"), Ok(SimDuration::from_millis(1500)));
        assert_eq!(parse_duration("2min"), Ok(SimDuration::from_secs(120)));
        assert_eq!(parse_duration("0.001ms"), Ok(SimDuration::from_nanos(1000)));
        assert_eq!(parse_duration(" 60 s"), Ok(SimDuration::from_secs(60)));
        assert_eq!(parse_duration("1_000us"), Ok(SimDuration::from_millis(1)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "ms", "10", "10 parsecs", "1.2.3s", "-1s", "0.5ns"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn displays_round_units() {
        assert_eq!(SimDuration::from_millis(20).to_string(), "20ms");
        assert_eq!(SimDuration::from_secs(60).to_string(), "60s");
        assert_eq!(SimTime::from_millis(1010).to_string(), "1.010000");
    }
}
