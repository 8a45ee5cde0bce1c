//! A calendar queue (R. Brown, CACM 1988) with a heap for the bucket in
//! hand and one for the far future, in the spirit of the ladder queue
//! (Tang, Goh & Thng, 2005): most events are pushed once into an unsorted
//! bucket and ordered only when their bucket comes up, among a few others.
//!
//! Time is cut into buckets of `2^BUCKET_SHIFT` ns. The bucket holding the
//! last popped time is the *current* one: its events sit in a binary heap.
//! The next `BUCKETS - 1` buckets are a ring of plain vectors with a
//! two-level occupancy bitmap; anything later waits in an overflow heap and
//! moves into the ring when the ring's horizon reaches its bucket, before
//! anything else can be pushed there. Every entry carries its push sequence
//! number and both heaps order by `(time, seq)`, so the pop order is exactly
//! `HeapQueue`'s, ties included.

use super::queue::Scheduler;
use super::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// log2 of a bucket's width in ns: 262 µs (the best of 2^13..2^20 on the
/// flood run: narrower buckets are each a cache miss when they come up).
const BUCKET_SHIFT: u32 = 18;
/// Buckets in the ring: a horizon of 1024 x 262 µs = 268 ms.
const BUCKETS: u64 = 1 << 10;
const WORDS: usize = (BUCKETS / 64) as usize;
/// Entries a drained bucket keeps room for (no memory hoarded by a bucket
/// that once held a burst).
const KEEP: usize = 1024;

struct Entry<E> {
    at: u64,
    seq: u64,
    event: E,
}

// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest (time, seq).
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}

pub struct CalendarQueue<E> {
    /// The absolute bucket number (`time >> BUCKET_SHIFT`) in hand.
    current_bucket: u64,
    /// The events of the current bucket.
    current: BinaryHeap<Entry<E>>,
    /// Buckets `current_bucket + 1 ..= current_bucket + BUCKETS - 1`, at
    /// index `bucket % BUCKETS`, unsorted, in push order.
    ring: Vec<Vec<Entry<E>>>,
    /// Bit `i % 64` of word `i / 64` set when ring bucket `i` is not empty.
    occupied: Vec<u64>,
    /// Bit `w` set when `occupied[w]` is not zero.
    summary: Vec<u64>,
    /// Events in buckets `current_bucket + BUCKETS` and later.
    overflow: BinaryHeap<Entry<E>>,
    next_seq: u64,
    len: usize,
}

impl<E> Default for CalendarQueue<E> {
    fn default() -> Self {
        CalendarQueue {
            current_bucket: 0,
            current: BinaryHeap::new(),
            ring: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: vec![0; WORDS],
            summary: vec![0; WORDS.div_ceil(64)],
            overflow: BinaryHeap::new(),
            next_seq: 0,
            len: 0,
        }
    }
}

fn bucket_of(at: u64) -> u64 {
    at >> BUCKET_SHIFT
}

impl<E> CalendarQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first bucket past the ring's horizon.
    fn horizon(&self) -> u64 {
        self.current_bucket + BUCKETS
    }

    fn place(&mut self, entry: Entry<E>) {
        let bucket = bucket_of(entry.at);
        if bucket == self.current_bucket {
            self.current.push(entry);
        } else if bucket < self.horizon() {
            self.put_in_ring(entry);
        } else {
            self.overflow.push(entry);
        }
    }

    /// Appends to the entry's ring bucket (which must lie within the horizon).
    fn put_in_ring(&mut self, entry: Entry<E>) {
        let i = (bucket_of(entry.at) % BUCKETS) as usize;
        self.ring[i].push(entry);
        self.occupied[i / 64] |= 1 << (i % 64);
        self.summary[i / 4096] |= 1 << ((i / 64) % 64);
    }

    /// The first occupied ring index at or after `from`, not wrapping.
    fn first_occupied_from(&self, from: usize) -> Option<usize> {
        let w = from / 64;
        if w >= WORDS {
            return None;
        }
        let bits = self.occupied[w] & (u64::MAX << (from % 64));
        if bits != 0 {
            return Some(w * 64 + bits.trailing_zeros() as usize);
        }
        // The summary over the words after `w`.
        let next_word = w + 1;
        for s in next_word / 64..self.summary.len() {
            let mask = if s == next_word / 64 {
                u64::MAX.checked_shl((next_word % 64) as u32).unwrap_or(0)
            } else {
                u64::MAX
            };
            let words = self.summary[s] & mask;
            if words != 0 {
                let word = s * 64 + words.trailing_zeros() as usize;
                return Some(word * 64 + self.occupied[word].trailing_zeros() as usize);
            }
        }
        None
    }

    /// The absolute number of the first occupied ring bucket after the
    /// current one.
    fn next_ring_bucket(&self) -> Option<u64> {
        let start = ((self.current_bucket + 1) % BUCKETS) as usize;
        let index = self.first_occupied_from(start).or_else(|| self.first_occupied_from(0))?;
        // Distance from the current bucket, 1..BUCKETS (index never equals
        // the current bucket's own index: that ring bucket is empty).
        let distance = (index as u64 + BUCKETS - self.current_bucket % BUCKETS) % BUCKETS;
        debug_assert!(distance != 0);
        Some(self.current_bucket + distance)
    }

    /// Makes the next non-empty bucket current. False when nothing is left.
    fn advance(&mut self) -> bool {
        debug_assert!(self.current.is_empty());
        let next = match self.next_ring_bucket() {
            Some(b) => b,
            None => match self.overflow.peek() {
                Some(e) => bucket_of(e.at),
                None => return false,
            },
        };
        self.current_bucket = next;
        // The horizon moved: far events now within it join the ring first,
        // so they keep their place before anything pushed there from now on.
        let horizon = self.horizon();
        while self.overflow.peek().is_some_and(|e| bucket_of(e.at) < horizon) {
            let entry = self.overflow.pop().expect("peeked");
            self.put_in_ring(entry);
        }
        let i = (next % BUCKETS) as usize;
        self.occupied[i / 64] &= !(1 << (i % 64));
        if self.occupied[i / 64] == 0 {
            self.summary[i / 4096] &= !(1 << ((i / 64) % 64));
        }
        // Swap the bucket's vector with the empty current heap's: buffers
        // circulate instead of being allocated per bucket.
        let mut spare = std::mem::take(&mut self.current).into_vec();
        spare.shrink_to(KEEP);
        let entries = std::mem::replace(&mut self.ring[i], spare);
        self.current = BinaryHeap::from(entries);
        true
    }
}

impl<E> Scheduler<E> for CalendarQueue<E> {
    fn push(&mut self, at: SimTime, event: E) {
        debug_assert!(bucket_of(at.0) >= self.current_bucket, "pushed into the past");
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        self.place(Entry { at: at.0, seq, event });
    }

    fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.current.is_empty() && !self.advance() {
            return None;
        }
        let e = self.current.pop().expect("advance leaves the current bucket non-empty");
        self.len -= 1;
        Some((SimTime(e.at), e.event))
    }

    fn peek_time(&self) -> Option<SimTime> {
        if let Some(e) = self.current.peek() {
            return Some(SimTime(e.at));
        }
        let at = match self.next_ring_bucket() {
            Some(b) => self.ring[(b % BUCKETS) as usize].iter().map(|e| e.at).min(),
            None => self.overflow.peek().map(|e| e.at),
        };
        at.map(SimTime)
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::queue::assert_pops_like_the_heap;
    use rand::RngExt;

    fn compare(ops: usize, seed: u64, gap: impl Fn(&mut crate::engine::SimRng) -> u64) {
        assert_pops_like_the_heap(CalendarQueue::new(), ops, seed, gap);
    }

    #[test]
    fn same_order_as_the_heap_within_the_horizon() {
        compare(200_000, 1, |r| r.random_range(0..50_000_000u64));
    }

    #[test]
    fn same_order_as_the_heap_across_the_horizon() {
        // Spread over seconds: most events wait in the overflow first.
        compare(200_000, 2, |r| r.random_range(0..5_000_000_000u64));
    }

    #[test]
    fn same_order_as_the_heap_with_many_ties() {
        // Equal times pushed at different moments: some straight into the
        // current bucket, some into the ring, some through the overflow.
        compare(200_000, 3, |r| r.random_range(0..40u64) * 1_000_000);
        compare(200_000, 4, |r| if r.random_bool(0.3) { 0 } else { r.random_range(0..4u64) << 30 });
        compare(100_000, 5, |r| r.random_range(0..3u64) * (BUCKETS << BUCKET_SHIFT));
    }

    #[test]
    fn far_future_and_the_end_of_time() {
        compare(50_000, 6, |r| match r.random_range(0..3) {
            0 => u64::MAX / 2,
            1 => r.random_range(0..1u64 << 62),
            _ => r.random_range(0..100u64),
        });
        let mut q = CalendarQueue::new();
        q.push(SimTime::MAX, 'z');
        q.push(SimTime(7), 'a');
        assert_eq!(q.peek_time(), Some(SimTime(7)));
        assert_eq!(q.pop(), Some((SimTime(7), 'a')));
        assert_eq!(q.peek_time(), Some(SimTime::MAX));
        assert_eq!(q.pop(), Some((SimTime::MAX, 'z')));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_ring_bucket_wraps_around_the_ring() {
        // An event just inside the horizon lands in the ring bucket that
        // sits just before the current one.
        let mut q = CalendarQueue::new();
        let width = 1u64 << BUCKET_SHIFT;
        q.push(SimTime(width * (BUCKETS - 1)), 2);
        q.push(SimTime(width * 3), 1);
        assert_eq!(q.pop(), Some((SimTime(width * 3), 1)));
        q.push(SimTime(width * (BUCKETS + 2)), 3); // inside the new horizon
        assert_eq!(q.pop(), Some((SimTime(width * (BUCKETS - 1)), 2)));
        assert_eq!(q.pop(), Some((SimTime(width * (BUCKETS + 2)), 3)));
        assert!(q.is_empty());
    }
}
