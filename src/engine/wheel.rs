//! A hierarchical timing wheel over nanosecond keys (the design of tokio's
//! `runtime/time/wheel`, written here for a simulation's exact ordering).
//!
//! Eleven levels of 64 slots cover the whole `u64` range: a slot at level L
//! spans 64^L ns. An event goes to the level of the highest 6-bit group in
//! which its time differs from the wheel's current time, so a level-0 slot
//! holds events of exactly one time, in push order. When the current time
//! enters a higher slot, that slot is cascaded (its events re-inserted
//! lower, in order) before anything else can be pushed into its range, so
//! events of equal time pop FIFO exactly as `HeapQueue` pops them.
//! Push is O(1); pop is O(1) amortised plus a bit scan per level. A
//! cascade hands its slot's earliest event straight back rather than
//! sending it down to level 0 first, so an event alone in its slot (most
//! are, low in the wheel) is moved once fewer per level it skips.

use super::queue::Scheduler;
use super::time::SimTime;

const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const LEVELS: usize = 11; // 11 x 6 = 66 bits >= 64
/// Entries a drained slot keeps room for.
const KEEP: usize = 4096;

struct Level<E> {
    /// Bit s set when slot s holds an event.
    occupied: u64,
    slots: [Vec<(u64, E)>; SLOTS],
}

pub struct TimingWheel<E> {
    /// The time of the last pop: nothing may be pushed earlier.
    elapsed: u64,
    /// Bit L set when level L holds an event.
    levels_occupied: u16,
    /// Entries already popped from the front of the lowest occupied level-0
    /// slot (a level-0 slot is one time, read in push order; only the slot
    /// being read can have any).
    head: usize,
    levels: Box<[Level<E>; LEVELS]>,
    len: usize,
}

impl<E> Default for TimingWheel<E> {
    fn default() -> Self {
        TimingWheel {
            elapsed: 0,
            levels_occupied: 0,
            head: 0,
            levels: Box::new(std::array::from_fn(|_| Level {
                occupied: 0,
                slots: std::array::from_fn(|_| Vec::new()),
            })),
            len: 0,
        }
    }
}

/// The level an event at `at` belongs to when the wheel stands at `elapsed`.
fn level_for(elapsed: u64, at: u64) -> usize {
    let diff = at ^ elapsed;
    if diff == 0 { 0 } else { ((63 - diff.leading_zeros()) / BITS) as usize }
}

fn slot_for(at: u64, level: usize) -> usize {
    ((at >> (BITS as usize * level)) & (SLOTS as u64 - 1)) as usize
}

impl<E> TimingWheel<E> {
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, at: u64, event: E) {
        let level = level_for(self.elapsed, at);
        let slot = slot_for(at, level);
        let l = &mut self.levels[level];
        l.occupied |= 1 << slot;
        l.slots[slot].push((at, event));
        self.levels_occupied |= 1 << level;
    }

    /// The lowest occupied level and its next occupied slot (at level 0
    /// the current slot counts; above it, only later slots can be occupied).
    fn next_slot(&self) -> Option<(usize, usize)> {
        if self.levels_occupied == 0 {
            return None;
        }
        let level = self.levels_occupied.trailing_zeros() as usize;
        let occupied = self.levels[level].occupied;
        // Occupied slots never lie behind the clock, so the lowest one is next.
        debug_assert!({
            let current = slot_for(self.elapsed, level) as u32;
            let from = if level == 0 { current } else { current + 1 };
            from < 64 && occupied & (u64::MAX << from) == occupied
        });
        Some((level, occupied.trailing_zeros() as usize))
    }

    /// Marks a slot empty.
    fn vacate(&mut self, level: usize, slot: usize) {
        let l = &mut self.levels[level];
        l.occupied &= !(1 << slot);
        if l.occupied == 0 {
            self.levels_occupied &= !(1 << level);
        }
    }
}

impl<E: Copy> Scheduler<E> for TimingWheel<E> {
    fn push(&mut self, at: SimTime, event: E) {
        debug_assert!(at.0 >= self.elapsed, "pushed into the past");
        self.len += 1;
        self.insert(at.0.max(self.elapsed), event);
    }

    fn pop(&mut self) -> Option<(SimTime, E)> {
        let (level, slot) = self.next_slot()?;
        self.len -= 1;
        if level == 0 {
            let entries = &mut self.levels[0].slots[slot];
            let (at, event) = entries[self.head];
            self.head += 1;
            if self.head == entries.len() {
                entries.clear();
                self.head = 0;
                self.vacate(0, slot);
            }
            self.elapsed = at;
            return Some((SimTime(at), event));
        }
        // Nothing is pending before this slot's earliest event (lower levels
        // are empty): move the clock there and return that event; the rest
        // of the slot cascades, as close to level 0 as its distance allows.
        // A lone event (the common case low in the wheel) moves no further.
        self.vacate(level, slot);
        let mut entries = std::mem::take(&mut self.levels[level].slots[slot]);
        let (index, &(at, event)) = entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.0) // the first of the earliest: FIFO
            .expect("occupied slot");
        self.elapsed = at;
        // Cascading only ever inserts lower, never into this slot.
        for (i, &(t, e)) in entries.iter().enumerate() {
            if i != index {
                self.insert(t, e);
            }
        }
        entries.clear();
        if entries.capacity() > KEEP {
            // No memory hoarded by a slot that once held a burst.
            entries.shrink_to(KEEP);
        }
        self.levels[level].slots[slot] = entries;
        Some((SimTime(at), event))
    }

    fn peek_time(&self) -> Option<SimTime> {
        let (level, slot) = self.next_slot()?;
        let entries = &self.levels[level].slots[slot];
        if level == 0 {
            return Some(SimTime(entries[self.head].0));
        }
        entries.iter().map(|(at, _)| SimTime(*at)).min()
    }

    fn peek_cheap(&self) -> Option<&E> {
        let (level, slot) = self.next_slot()?;
        let entries = &self.levels[level].slots[slot];
        match level {
            0 => entries.get(self.head).map(|(_, e)| e),
            // A lone event in its slot is next; more would take a scan.
            _ if entries.len() == 1 => Some(&entries[0].1),
            _ => None,
        }
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

    #[test]
    fn level_function_is_exact_at_every_boundary() {
        for level in 0..LEVELS {
            let bit = (BITS as usize * level).min(63);
            // A difference in bit b lands at level b / 6.
            for b in bit..(bit + BITS as usize).min(64) {
                assert_eq!(level_for(0, 1u64 << b), b / BITS as usize, "bit {b}");
            }
        }
        assert_eq!(level_for(5, 5), 0);
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(0, u64::MAX), 10);
        assert_eq!(slot_for(u64::MAX, 10), 15);
    }

    fn compare(ops: usize, seed: u64, gap: impl Fn(&mut crate::engine::SimRng) -> u64) {
        assert_pops_like_the_heap(TimingWheel::new(), ops, seed, gap);
    }

    #[test]
    fn same_order_as_the_heap_with_spread_times() {
        compare(200_000, 1, |r| r.random_range(0..5_000_000_000u64));
    }

    #[test]
    fn same_order_as_the_heap_with_many_ties() {
        // Coarse times: many events share a timestamp, pushed at different
        // moments, some cascaded from high levels, some pushed straight low.
        compare(200_000, 2, |r| r.random_range(0..40u64) * 1_000_000);
        compare(200_000, 3, |r| if r.random_bool(0.3) { 0 } else { r.random_range(0..4u64) << 30 });
    }

    #[test]
    fn far_future_and_the_end_of_time() {
        compare(50_000, 4, |r| match r.random_range(0..3) {
            0 => u64::MAX / 2,
            1 => r.random_range(0..1u64 << 62),
            _ => r.random_range(0..100u64),
        });
        let mut w = TimingWheel::new();
        w.push(SimTime::MAX, 'z');
        w.push(SimTime(7), 'a');
        assert_eq!(w.pop(), Some((SimTime(7), 'a')));
        assert_eq!(w.pop(), Some((SimTime::MAX, 'z')));
        assert_eq!(w.pop(), None);
    }
}
