//! The server's ingress queue (`enqueue_to_backlog`, `process_backlog`):
//! segments wait in a FIFO of at most `netdev_max_backlog` for protocol
//! processing, which takes one at a time at the configured packet rate.
//! A full queue drops the newcomer (softnet_stat's "dropped" column).

use crate::engine::{SimDuration, SimTime};
use std::collections::VecDeque;

/// What became of an offered segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit<T> {
    /// No packet-rate limit: process it now.
    Now(T),
    /// Taken into service at once; its processing ends at this time.
    Serve(SimTime),
    /// Waiting behind the one in service.
    Queued,
    /// The queue was full.
    Dropped(T),
}

/// A FIFO with one server and a fixed service time. `T` is a segment (or
/// anything a test likes).
#[derive(Clone, Debug)]
pub struct Ingress<T> {
    cap: usize,
    /// None: unlimited processing, the queue never fills.
    service: Option<SimDuration>,
    waiting: VecDeque<T>,
    in_service: Option<T>,
}

impl<T> Ingress<T> {
    pub fn new(cap: usize, service: Option<SimDuration>) -> Self {
        Ingress { cap, service, waiting: VecDeque::new(), in_service: None }
    }

    pub fn offer(&mut self, now: SimTime, item: T) -> Admit<T> {
        let Some(service) = self.service else { return Admit::Now(item) };
        if self.in_service.is_none() {
            self.in_service = Some(item);
            Admit::Serve(now + service)
        } else if self.waiting.len() < self.cap {
            self.waiting.push_back(item);
            Admit::Queued
        } else {
            Admit::Dropped(item)
        }
    }

    /// The one in service is done: it, and when the next one's processing
    /// ends (None: nothing waits).
    pub fn done(&mut self, now: SimTime) -> (T, Option<SimTime>) {
        let item = self.in_service.take().expect("a segment in service");
        let next = self.waiting.pop_front().map(|next| {
            self.in_service = Some(next);
            now + self.service.expect("limited ingress")
        });
        (item, next)
    }

    /// Segments waiting (not counting the one in service).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: SimDuration = SimDuration::from_millis(1);

    #[test]
    fn unlimited_processing_takes_everything_now() {
        let mut q = Ingress::new(0, None);
        assert_eq!(q.offer(SimTime::ZERO, 7), Admit::Now(7));
        assert_eq!(q.waiting(), 0);
    }

    #[test]
    fn serves_in_order_and_drops_past_the_cap() {
        let mut q = Ingress::new(2, Some(MS));
        let t0 = SimTime::ZERO;
        assert_eq!(q.offer(t0, 1), Admit::Serve(t0 + MS));
        assert_eq!(q.offer(t0, 2), Admit::Queued);
        assert_eq!(q.offer(t0, 3), Admit::Queued);
        assert_eq!(q.offer(t0, 4), Admit::Dropped(4), "cap 2 waiting behind one in service");
        assert_eq!(q.done(t0 + MS), (1, Some(t0 + MS + MS)));
        assert_eq!(q.waiting(), 1);
        assert_eq!(q.offer(t0 + MS, 5), Admit::Queued);
        assert_eq!(q.done(t0 + MS + MS).0, 2);
        assert_eq!(q.done(t0 + MS + MS + MS).0, 3);
        assert_eq!(q.done(t0 + SimDuration::from_millis(4)), (5, None));
        assert_eq!(
            q.offer(t0 + SimDuration::from_millis(5), 6),
            Admit::Serve(t0 + SimDuration::from_millis(6)),
            "idle again: served at once"
        );
    }
}
