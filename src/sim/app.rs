//! The server application as a process: `workers` threads, each blocked in
//! accept() until the accept queue has a connection, then busy serving it
//! for one service time, then back in accept(). `accept_rate` is the mean
//! rate of the whole process: a service time's mean is
//! `workers / accept_rate`.
//!
//! Every accept() costs a service time, whatever the connection turned out
//! to be: the application learns that a connection is dead (reset, or
//! closed by its client) only by serving it (its first read returns EOF or
//! ECONNRESET), as `inet_csk_accept` hands dead children out like live ones.

use crate::config::{ServerConfig, ServiceTime};
use crate::engine::{SimDuration, SimRng};
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

/// How the application takes connections off the accept queue.
#[derive(Clone, Debug)]
pub(super) enum Acceptor {
    /// accept() at once, whatever the load (`accept_rate = "unlimited"`).
    AtOnce,
    /// Never accepts (`accept_rate = 0`).
    Never,
    /// Workers with a service time each.
    Workers(Workers),
}

#[derive(Clone, Debug)]
pub(super) struct Workers {
    /// Workers blocked in accept().
    pub idle: u32,
    mean: SimDuration,
    shape: ServiceTime,
    /// `service_table` in ns, and its sum (scaled to `mean` at each draw).
    table: Vec<u64>,
    table_sum: u128,
    rng: SimRng,
}

impl Acceptor {
    pub fn new(s: &ServerConfig, rng: SimRng) -> Self {
        match s.accept_rate.per_second() {
            None => Acceptor::AtOnce,
            Some(r) if r <= 0.0 => Acceptor::Never,
            Some(r) => {
                let table: Vec<u64> = s.service_table.iter().map(|d| d.0).collect();
                Acceptor::Workers(Workers {
                    idle: s.workers,
                    mean: SimDuration::from_secs_f64(s.workers as f64 / r).max(SimDuration(1)),
                    shape: s.service_time,
                    table_sum: table.iter().map(|&v| v as u128).sum(),
                    table,
                    rng,
                })
            }
        }
    }
}

impl Workers {
    /// One connection's service time (at least 1 ns: a worker is never
    /// free again at the instant it took a connection).
    pub fn draw(&mut self) -> SimDuration {
        let mean = self.mean.0;
        let ns = match self.shape {
            ServiceTime::Constant => mean,
            ServiceTime::Exponential => {
                let e: f64 = Exp1.sample(&mut self.rng);
                (e * mean as f64).round() as u64
            }
            ServiceTime::Table => {
                let v = self.table[self.rng.random_range(0..self.table.len())] as u128;
                (v * mean as u128 * self.table.len() as u128 / self.table_sum) as u64
            }
        };
        SimDuration(ns.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rate;
    use crate::engine::{Stream, stream_rng};

    fn workers(rate: f64, n: u32, shape: ServiceTime, table: &[u64]) -> Workers {
        let s = ServerConfig {
            accept_rate: Rate::PerSecond(rate),
            workers: n,
            service_time: shape,
            service_table: table.iter().map(|&ms| SimDuration::from_millis(ms)).collect(),
            ..Default::default()
        };
        match Acceptor::new(&s, stream_rng(1, 0, Stream::Service)) {
            Acceptor::Workers(w) => w,
            other => panic!("{other:?}"),
        }
    }

    fn mean_ms(w: &mut Workers, n: u32) -> f64 {
        (0..n).map(|_| w.draw().0 as f64).sum::<f64>() / n as f64 / 1e6
    }

    #[test]
    fn the_mean_service_time_is_workers_over_the_rate() {
        // 4 workers at 20 accept()/s in all: 200 ms each.
        let mut c = workers(20.0, 4, ServiceTime::Constant, &[]);
        assert_eq!(c.draw(), SimDuration::from_millis(200));
        let mut e = workers(20.0, 4, ServiceTime::Exponential, &[]);
        assert!((mean_ms(&mut e, 20_000) - 200.0).abs() < 6.0);
        // A table [1, 3] ms is a shape: scaled to a 50 ms mean, 25 or 75 ms.
        let mut t = workers(20.0, 1, ServiceTime::Table, &[1, 3]);
        for _ in 0..100 {
            let d = t.draw();
            assert!(d == SimDuration::from_millis(25) || d == SimDuration::from_millis(75), "{d:?}");
        }
        assert!((mean_ms(&mut t, 20_000) - 50.0).abs() < 1.5);
    }

    #[test]
    fn draws_repeat_with_the_seed() {
        let mut a = workers(20.0, 2, ServiceTime::Exponential, &[]);
        let mut b = workers(20.0, 2, ServiceTime::Exponential, &[]);
        assert!((0..100).all(|_| a.draw() == b.draw()));
    }

    #[test]
    fn unlimited_and_zero_rates_have_no_workers() {
        let at_once = ServerConfig::default();
        assert!(matches!(Acceptor::new(&at_once, stream_rng(1, 0, Stream::Service)), Acceptor::AtOnce));
        let never = ServerConfig { accept_rate: Rate::PerSecond(0.0), ..Default::default() };
        assert!(matches!(Acceptor::new(&never, stream_rng(1, 0, Stream::Service)), Acceptor::Never));
    }
}
