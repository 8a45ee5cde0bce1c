//! The server's ingress queue (`enqueue_to_backlog`, `process_backlog`):
//! segments wait in a FIFO of at most `netdev_max_backlog` for protocol
//! processing, which takes one at a time at the configured packet rate.
//! A full queue drops the newcomer (softnet_stat's "dropped" column).
//!
//! The processing time is fixed, so a segment's fate and the time its
//! processing ends are known from the time the last admitted segment is
//! done: the queue keeps only that. A sender schedules a server-bound
//! segment's event one processing time ([`Ingress::lead`]) after its
//! arrival, when its processing would end on an idle queue. A segment that
//! finds the queue idle (nearly all, below saturation) is then processed
//! by that one event; one that waits gets a second event when its turn
//! ends. The processing times are those of a FIFO with a server.

use crate::engine::{SimDuration, SimTime};

/// What becomes of a segment whose event comes one lead after it arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Its processing ends now: no packet-rate limit, or the queue was
    /// idle when it arrived.
    Now,
    /// It waits; its processing ends at this time.
    At(SimTime),
    /// The queue was full when it arrived.
    Dropped,
}

/// A FIFO with one server and a fixed processing time.
#[derive(Clone, Debug)]
pub struct Ingress {
    cap: u64,
    /// None: unlimited processing, the queue never fills.
    service: Option<SimDuration>,
    /// When the last admitted segment's processing ends.
    last_done: SimTime,
}

impl Ingress {
    pub fn new(cap: usize, service: Option<SimDuration>) -> Self {
        Ingress { cap: cap as u64, service, last_done: SimTime::ZERO }
    }

    /// How long after its arrival a server-bound segment's event comes.
    pub fn lead(&self) -> SimDuration {
        self.service.unwrap_or(SimDuration::ZERO)
    }

    /// The segment whose event is now, one lead after it arrived.
    pub fn admit(&mut self, now: SimTime) -> Admit {
        let Some(service) = self.service else { return Admit::Now };
        let arrived = SimTime(now.0 - service.0);
        match self.in_system(arrived, service) {
            0 => {
                self.last_done = now;
                Admit::Now
            }
            // n - 1 wait behind the one in processing: full at the cap.
            n if n > self.cap => Admit::Dropped,
            _ => {
                self.last_done += service;
                Admit::At(self.last_done)
            }
        }
    }

    /// Admitted segments not yet done at `t` (no later arrival counted:
    /// exact for a `t` no later than the last admitted arrival's, or
    /// with every arrival up to `t` admitted). In one busy period the
    /// processing ends one processing time apart, the last at `last_done`.
    fn in_system(&self, t: SimTime, service: SimDuration) -> u64 {
        if self.last_done > t { (self.last_done.0 - t.0).div_ceil(service.0) } else { 0 }
    }

    /// Segments waiting (not counting the one in processing) one lead
    /// before `now`: the queue's length as the events see it, late by one
    /// processing time. Exact once every event up to `now` has run.
    pub fn waiting_lagged(&self, now: SimTime) -> u64 {
        let Some(service) = self.service else { return 0 };
        self.in_system(SimTime(now.0.saturating_sub(service.0)), service).saturating_sub(1)
    }

    /// When [`Self::waiting_lagged`] falls from `waiting` (> 0) to one
    /// less, if no segment is admitted before.
    pub fn waiting_falls_at(&self, waiting: u64) -> SimTime {
        SimTime(self.last_done.0 - (waiting - 1) * self.lead().0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: SimDuration = SimDuration::from_millis(1);

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    #[test]
    fn unlimited_processing_takes_everything_at_once() {
        let mut q = Ingress::new(0, None);
        assert_eq!(q.lead(), SimDuration::ZERO);
        assert_eq!(q.admit(SimTime::ZERO), Admit::Now);
        assert_eq!(q.waiting_lagged(SimTime::ZERO), 0);
    }

    #[test]
    fn serves_in_order_and_drops_past_the_cap() {
        // Arrivals at 0, 0, 0, 0 ms (events at 1 ms), then at 1 ms, 5 ms.
        let mut q = Ingress::new(2, Some(MS));
        assert_eq!(q.lead(), MS);
        assert_eq!(q.admit(ms(1)), Admit::Now, "an idle queue: done one processing time later");
        assert_eq!(q.admit(ms(1)), Admit::At(ms(2)));
        assert_eq!(q.admit(ms(1)), Admit::At(ms(3)));
        assert_eq!(q.waiting_lagged(ms(1)), 2, "at 0 ms two wait behind the one in processing");
        assert_eq!(q.admit(ms(1)), Admit::Dropped, "cap 2 waiting behind one in processing");
        assert_eq!(q.waiting_falls_at(2), ms(2));
        assert_eq!(q.waiting_lagged(ms(2)), 1, "at 1 ms the second is in processing");
        assert_eq!(q.admit(ms(2)), Admit::At(ms(4)), "arrived at 1 ms behind the third");
        assert_eq!(q.waiting_lagged(ms(3)), 1);
        assert_eq!(q.waiting_lagged(ms(4)), 0);
        assert_eq!(q.admit(ms(6)), Admit::Now, "idle again at 5 ms: done at 6 ms");
    }

    #[test]
    fn a_segment_arriving_as_the_last_ends_is_processed_at_once() {
        let mut q = Ingress::new(1, Some(MS));
        assert_eq!(q.admit(ms(1)), Admit::Now);
        assert_eq!(q.admit(ms(2)), Admit::Now, "arrived at 1 ms, when the first was done");
    }
}
