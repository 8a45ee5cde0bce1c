//! The event queue: events keyed by `(time, insertion sequence)`, so events
//! at equal times pop in FIFO order (as ns-3's `Scheduler` keys them).
//! Cancellation is lazy: a stale event is recognised and skipped by its
//! owner when it pops, never searched for.

use super::time::SimTime;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// What every scheduler implementation offers the run loop.
pub trait Scheduler<E> {
    /// Schedules `event` at `at`. `at` must not be earlier than the time of
    /// the last popped event (a discrete-event simulation never schedules
    /// into the past); implementations may rely on it.
    fn push(&mut self, at: SimTime, event: E);
    /// Removes and returns the earliest event; among equal times, the one
    /// pushed first.
    fn pop(&mut self) -> Option<(SimTime, E)>;
    /// Time of the earliest event.
    fn peek_time(&self) -> Option<SimTime>;
    /// The earliest event, where the queue can see it without work (a
    /// hint for prefetching its memory; None when it would take a scan).
    fn peek_cheap(&self) -> Option<&E> {
        None
    }
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Entry<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A binary min-heap over `(time, seq)`: `std::collections::BinaryHeap`.
pub struct HeapQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    next_seq: u64,
}

impl<E> Default for HeapQueue<E> {
    fn default() -> Self {
        HeapQueue { heap: BinaryHeap::new(), next_seq: 0 }
    }
}

impl<E> HeapQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<E> Scheduler<E> for HeapQueue<E> {
    fn push(&mut self, at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { at, seq, event }));
    }
    fn pop(&mut self) -> Option<(SimTime, E)> {
        self.heap.pop().map(|Reverse(e)| (e.at, e.event))
    }
    fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// Test driver: runs `queue` and a `HeapQueue` through the same random
/// pushes (at now + `gap`) and pops; every pop, peek and length must agree,
/// ties included, down to the last event.
#[cfg(test)]
pub(crate) fn assert_pops_like_the_heap<Q: Scheduler<u64>>(
    mut queue: Q,
    ops: usize,
    seed: u64,
    gap: impl Fn(&mut super::SimRng) -> u64,
) {
    use rand::RngExt;
    let mut rng = super::stream_rng(seed, 0, super::Stream::Arrivals);
    let mut heap = HeapQueue::new();
    let mut now = 0u64;
    let mut id = 0u64;
    for _ in 0..ops {
        if rng.random_bool(0.55) || heap.is_empty() {
            for _ in 0..rng.random_range(1..4) {
                let at = now.saturating_add(gap(&mut rng));
                heap.push(SimTime(at), id);
                queue.push(SimTime(at), id);
                id += 1;
            }
        } else {
            assert_eq!(queue.peek_time(), heap.peek_time());
            let (a, b) = (heap.pop().unwrap(), queue.pop().unwrap());
            assert_eq!(a, b);
            now = a.0.0;
        }
        assert_eq!(heap.len(), queue.len());
    }
    while let Some(a) = heap.pop() {
        assert_eq!(Some(a), queue.pop());
    }
    assert!(queue.pop().is_none());
    assert_eq!(queue.peek_time(), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_fifo_among_equal_times() {
        let mut q = HeapQueue::new();
        q.push(SimTime(5), 'a');
        q.push(SimTime(1), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(1), 'd');
        q.push(SimTime(3), 'e');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'e', 'a', 'c']);
        assert!(q.is_empty());
    }

    #[test]
    fn peek_time_is_the_minimum() {
        let mut q = HeapQueue::new();
        assert_eq!(q.peek_time(), None);
        q.push(SimTime(9), ());
        q.push(SimTime(4), ());
        assert_eq!(q.peek_time(), Some(SimTime(4)));
        assert_eq!(q.len(), 2);
    }
}
