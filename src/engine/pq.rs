//! The design card's `priority-queue` crate behind the `Scheduler` trait,
//! for comparison: an indexed heap keyed by a unique sequence number, the
//! events kept beside it.

use super::queue::Scheduler;
use super::time::SimTime;
use priority_queue::PriorityQueue;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::cmp::Reverse;

pub struct PriorityQueueScheduler<E> {
    queue: PriorityQueue<u64, Reverse<(SimTime, u64)>, FxBuildHasher>,
    events: FxHashMap<u64, E>,
    next_seq: u64,
}

impl<E> Default for PriorityQueueScheduler<E> {
    fn default() -> Self {
        PriorityQueueScheduler {
            queue: PriorityQueue::with_default_hasher(),
            events: FxHashMap::default(),
            next_seq: 0,
        }
    }
}

impl<E> PriorityQueueScheduler<E> {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<E> Scheduler<E> for PriorityQueueScheduler<E> {
    fn push(&mut self, at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(seq, Reverse((at, seq)));
        self.events.insert(seq, event);
    }
    fn pop(&mut self) -> Option<(SimTime, E)> {
        let (seq, Reverse((at, _))) = self.queue.pop()?;
        Some((at, self.events.remove(&seq).expect("event stored with its key")))
    }
    fn peek_time(&self) -> Option<SimTime> {
        self.queue.peek().map(|(_, Reverse((at, _)))| *at)
    }
    fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::queue::HeapQueue;

    #[test]
    fn same_order_as_the_heap_ties_included() {
        let mut a = HeapQueue::new();
        let mut b = PriorityQueueScheduler::new();
        for i in 0..1000u64 {
            let at = SimTime((i * 7919) % 50);
            a.push(at, i);
            b.push(at, i);
        }
        while let Some(x) = a.pop() {
            assert_eq!(Some(x), b.pop());
        }
        assert!(b.is_empty());
    }
}
