//! Fresh TIME-WAIT timers in deadline order, and the TIME-WAITs that wait
//! for them in compact form.
//!
//! A fresh TIME-WAIT ends `TCP_TIMEWAIT_LEN` from now (on the timer
//! wheel's grid, a function of now that never decreases), so these
//! deadlines arrive in order: a ring holds them, with one queued sweep for
//! its head, instead of a queue entry each. Most of a busy run's
//! connections are such TIME-WAITs (a minute each against milliseconds of
//! life before), so an entry also holds the connection itself, compact
//! (`TimeWaitTcb`, as Linux swaps the socket for an `inet_timewait_sock`),
//! and its slot goes back to the slab: the slab stays as small as the live
//! connections and the ring is written and read front to back.

use super::conns::Role;
use crate::engine::SimTime;
use crate::tcp::TimeWaitTcb;
use std::collections::VecDeque;

/// A parked TIME-WAIT: the compact TCB, its 4-tuple (the 4-tuple map's
/// key, packed) and what its slot held besides the TCB.
#[derive(Clone, Debug)]
pub(super) struct Parked {
    pub key: [u32; 3],
    pub tcb: TimeWaitTcb,
    pub role: Role,
    pub last_arrival: SimTime,
}

/// What an entry's timer is for.
#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "the large variant is the common one; boxing it costs an allocation each"
)]
pub(super) enum Waiting {
    /// A connection in its slot (one that could not be parked, or one a
    /// segment has taken out of the ring since).
    Slot {
        slot: u32,
        generation: u32,
    },
    Parked(Parked),
}

const CHUNK: usize = 4096;

/// Bytes of one ring entry: a parked TIME-WAIT, its deadline included.
pub const ENTRY_BYTES: usize = std::mem::size_of::<(SimTime, Waiting)>();

/// The entries, in chunks: growing never copies them, and a chunk is
/// freed once the head has passed it. Entry ids count up (wrapping at
/// 2^31, far above what memory holds at once), so an id names its
/// position.
#[derive(Default)]
pub(super) struct TimeWaitRing {
    /// Never a passed chunk: with nothing in the ring there is none.
    chunks: VecDeque<Vec<(SimTime, Waiting)>>,
    /// Position of the head in the first chunk.
    head: usize,
    head_id: u32,
    len: usize,
    /// An emptied chunk kept for the next one (no allocation per 4096).
    spare: Option<Vec<(SimTime, Waiting)>>,
}

pub(super) const ID_BITS: u32 = 31;
const ID_MASK: u32 = (1 << ID_BITS) - 1;

impl TimeWaitRing {
    /// Whether a timer due at `deadline` can join without breaking the order.
    pub fn accepts(&self, deadline: SimTime) -> bool {
        self.back().is_none_or(|b| b <= deadline)
    }

    fn back(&self) -> Option<SimTime> {
        self.chunks.back().and_then(|c| c.last()).map(|e| e.0)
    }

    /// Adds a timer; returns its id, and true when the ring was empty (a
    /// sweep must be queued).
    pub fn push(&mut self, deadline: SimTime, what: Waiting) -> (u32, bool) {
        debug_assert!(self.accepts(deadline));
        let was_empty = self.len == 0;
        if self.chunks.back().is_none_or(|c| c.len() == CHUNK) {
            let chunk = self.spare.take().unwrap_or_else(|| Vec::with_capacity(CHUNK));
            self.chunks.push_back(chunk);
        }
        self.chunks.back_mut().expect("a chunk").push((deadline, what));
        let id = self.head_id.wrapping_add(self.len as u32) & ID_MASK;
        self.len += 1;
        (id, was_empty)
    }

    /// The head if it is due by `now` (taken out), or Err(when the head is
    /// due) / Err(None) when empty.
    pub fn pop_due(&mut self, now: SimTime) -> Result<(SimTime, Waiting), Option<SimTime>> {
        let front = self.chunks.front_mut().ok_or(None)?;
        let at = front[self.head].0;
        if at > now {
            return Err(Some(at));
        }
        let placeholder = Waiting::Slot { slot: u32::MAX, generation: 0 };
        let what = std::mem::replace(&mut front[self.head].1, placeholder);
        self.head += 1;
        self.head_id = self.head_id.wrapping_add(1) & ID_MASK;
        self.len -= 1;
        // Passed: a full chunk, or the last one (the ring is empty then).
        if self.head == front.len() {
            let mut done = self.chunks.pop_front().expect("the front chunk");
            done.clear();
            self.spare = Some(done);
            self.head = 0;
        }
        Ok((at, what))
    }

    fn position(&self, id: u32) -> (usize, usize) {
        let offset = (id.wrapping_sub(self.head_id) & ID_MASK) as usize;
        debug_assert!(offset < self.len, "TIME-WAIT entry {id} is not in the ring");
        let at = self.head + offset;
        (at / CHUNK, at % CHUNK)
    }

    /// The entry with this id (still in the ring).
    pub fn get(&self, id: u32) -> &(SimTime, Waiting) {
        let (chunk, i) = self.position(id);
        &self.chunks[chunk][i]
    }

    pub fn get_mut(&mut self, id: u32) -> &mut (SimTime, Waiting) {
        let (chunk, i) = self.position(id);
        &mut self.chunks[chunk][i]
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    fn slot(slot: u32) -> Waiting {
        Waiting::Slot { slot, generation: 0 }
    }

    fn slot_of(w: &Waiting) -> u32 {
        match w {
            Waiting::Slot { slot, .. } => *slot,
            Waiting::Parked(_) => panic!("parked"),
        }
    }

    #[test]
    fn the_ring_pops_what_is_due_in_order() {
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let mut r = TimeWaitRing::default();
        assert_eq!(r.push(t(60), slot(1)), (0, true), "the first entry needs a sweep");
        assert_eq!(r.push(t(61), slot(2)), (1, false));
        assert!(r.accepts(t(61)) && !r.accepts(t(60)));
        assert!(matches!(r.pop_due(t(59)), Err(Some(at)) if at == t(60)));
        assert_eq!(r.pop_due(t(61)).map(|e| slot_of(&e.1)).ok(), Some(1));
        assert_eq!(r.pop_due(t(61)).map(|e| slot_of(&e.1)).ok(), Some(2));
        assert!(matches!(r.pop_due(t(61)), Err(None)));
        assert_eq!(r.len(), 0);
        assert!(r.accepts(t(1)), "an empty ring takes any deadline");
    }

    #[test]
    fn ids_name_entries_across_chunks_and_wraps() {
        let mut r = TimeWaitRing { head_id: ID_MASK - 5, ..Default::default() };
        let n = 3 * CHUNK as u32 + 17;
        let ids: Vec<u32> = (0..n).map(|i| r.push(SimTime(i as u64), slot(i)).0).collect();
        assert_eq!(ids[6], 0, "ids wrap at 2^31");
        for _ in 0..CHUNK + 3 {
            r.pop_due(SimTime::MAX).unwrap();
        }
        for (i, &id) in ids.iter().enumerate().skip(CHUNK + 3) {
            assert_eq!(slot_of(&r.get_mut(id).1), i as u32);
        }
        assert_eq!(r.chunks.len(), 3, "the passed chunk is freed");
        while r.pop_due(SimTime::MAX).is_ok() {}
        assert_eq!(r.len(), 0);
        assert!(r.push(SimTime::MAX, slot(9)).1, "empty again: a sweep is needed");
    }
}
