//! Fresh TIME-WAIT timers, and the TIME-WAITs that wait for them in
//! compact form.
//!
//! A fresh TIME-WAIT ends `TCP_TIMEWAIT_LEN` from now, rounded up on its
//! host's timer wheel: hosts at different jiffies phases round to
//! different grids, so deadlines arrive almost in order, never earlier
//! than [`TimeWaitRing::disorder`] before one already in. A ring holds
//! them in arrival order, with one queued sweep, instead of a queue entry
//! each; the entries whose deadline may be next (within the disorder of
//! the earliest) wait in a small heap by deadline, so each fires exactly
//! when it is due. Most of a busy run's connections are such TIME-WAITs (a
//! minute each against milliseconds of life before), so an entry also
//! holds the connection itself, compact (`TimeWaitTcb`, as Linux swaps the
//! socket for an `inet_timewait_sock`), and its slot goes back to the slab:
//! the slab stays as small as the live connections and the ring is written
//! and read front to back.

use super::conns::Role;
use crate::engine::SimDuration;
use crate::engine::SimTime;
use crate::tcp::TimeWaitTcb;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

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
/// position; an entry that fired stays as a placeholder until the head
/// passes it.
#[derive(Default)]
pub(super) struct TimeWaitRing {
    /// Never a passed chunk: with nothing in the ring there is none.
    chunks: VecDeque<Vec<(SimTime, Waiting)>>,
    /// Position of the head in the first chunk.
    head: usize,
    head_id: u32,
    /// Entries from the head to the back, fired placeholders included.
    span: usize,
    /// Entries not fired yet.
    len: usize,
    /// Offset from the head of the first entry not yet in `due`.
    admitted: usize,
    /// Admitted entries by deadline, then id (arrival order on ties).
    due: BinaryHeap<Reverse<(SimTime, u32)>>,
    /// How much earlier than the latest deadline in the ring a new one may
    /// be (the timer wheel's rounding of a TIME-WAIT's length).
    disorder: SimDuration,
    latest: SimTime,
    /// An emptied chunk kept for the next one (no allocation per 4096).
    spare: Option<Vec<(SimTime, Waiting)>>,
}

pub(super) const ID_BITS: u32 = 31;
const ID_MASK: u32 = (1 << ID_BITS) - 1;

/// What a fired entry leaves behind.
const FIRED: Waiting = Waiting::Slot { slot: u32::MAX, generation: 0 };

fn fired(w: &Waiting) -> bool {
    matches!(w, Waiting::Slot { slot: u32::MAX, .. })
}

impl TimeWaitRing {
    /// A ring whose deadlines may come up to `disorder` before the latest.
    pub fn new(disorder: SimDuration) -> Self {
        TimeWaitRing { disorder, ..Default::default() }
    }

    /// The disorder of TIME-WAIT deadlines at CONFIG_HZ `hz`: hosts at
    /// their own jiffies phases (`own_clocks`) round a TIME-WAIT's end to
    /// their own grids, so one may end up to the wheel's rounding of
    /// `TCP_TIMEWAIT_LEN` before another armed earlier; on one clock, by
    /// the spread of a tick (the last armed of a slot runs first); none
    /// with exact timers.
    pub fn clock_disorder(hz: u32, own_clocks: bool) -> SimDuration {
        use crate::tcp::params::TCP_TIMEWAIT_LEN;
        use crate::tcp::timer_wheel::{TICK_SPREAD_NS, longest};
        match (hz, own_clocks) {
            (0, _) => SimDuration::ZERO,
            (_, false) => SimDuration(TICK_SPREAD_NS),
            (_, true) => SimDuration(longest(TCP_TIMEWAIT_LEN, hz).0 - TCP_TIMEWAIT_LEN.0),
        }
    }

    /// Whether a timer due at `deadline` can join (no earlier than the
    /// disorder before the latest deadline in).
    pub fn accepts(&self, deadline: SimTime) -> bool {
        self.span == 0 || deadline.0 + self.disorder.0 >= self.latest.0
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
        let id = self.head_id.wrapping_add(self.span as u32) & ID_MASK;
        self.latest = if self.span == 0 { deadline } else { self.latest.max(deadline) };
        self.span += 1;
        self.len += 1;
        (id, was_empty)
    }

    /// When to look at the ring for an entry due at `deadline`: entries
    /// after it may be due up to the disorder earlier, and the look admits
    /// them in time. A ring that was empty gets its first look here; every
    /// later one is the one `pop_due` asks for.
    pub fn first_look(&self, deadline: SimTime) -> SimTime {
        SimTime(deadline.0.saturating_sub(self.disorder.0))
    }

    fn at(&self, offset: usize) -> &(SimTime, Waiting) {
        let at = self.head + offset;
        &self.chunks[at / CHUNK][at % CHUNK]
    }

    /// The entry due first if it is due by `now` (taken out), or Err(when
    /// the ring must be looked at next) / Err(None) when empty.
    pub fn pop_due(&mut self, now: SimTime) -> Result<(SimTime, Waiting), Option<SimTime>> {
        if self.len == 0 {
            return Err(None);
        }
        // Every entry behind `admitted` is due no earlier than the first
        // of them less the disorder: admit them while that may be by now.
        while self.admitted < self.span {
            let at = self.at(self.admitted).0;
            if self.first_look(at) > now {
                break;
            }
            let id = self.head_id.wrapping_add(self.admitted as u32) & ID_MASK;
            self.due.push(Reverse((at, id)));
            self.admitted += 1;
        }
        let next_admission = (self.admitted < self.span).then(|| self.first_look(self.at(self.admitted).0));
        let Some(&Reverse((at, id))) = self.due.peek() else {
            return Err(next_admission);
        };
        if at > now {
            return Err(Some(next_admission.map_or(at, |n| n.min(at))));
        }
        self.due.pop();
        let what = std::mem::replace(&mut self.get_mut(id).1, FIRED);
        self.len -= 1;
        // Pass the fired entries at the head; free passed chunks.
        while self.span > 0 && self.admitted > 0 && fired(&self.at(0).1) {
            self.head += 1;
            self.head_id = self.head_id.wrapping_add(1) & ID_MASK;
            self.span -= 1;
            self.admitted -= 1;
            let front_len = self.chunks.front().map_or(0, |c| c.len());
            if self.head == front_len {
                let mut done = self.chunks.pop_front().expect("the front chunk");
                done.clear();
                self.spare = Some(done);
                self.head = 0;
            }
        }
        Ok((at, what))
    }

    fn position(&self, id: u32) -> (usize, usize) {
        let offset = (id.wrapping_sub(self.head_id) & ID_MASK) as usize;
        debug_assert!(offset < self.span, "TIME-WAIT entry {id} is not in the ring");
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
    fn deadlines_out_of_order_within_the_disorder_fire_when_due() {
        let ms = |m| SimTime::ZERO + SimDuration::from_millis(m);
        let mut r = TimeWaitRing::new(SimDuration::from_millis(2048));
        // Hosts on their own grids: later arrivals may be due earlier.
        let deadlines = [61_000, 60_100, 62_000, 60_050, 60_400];
        let ids: Vec<u32> = deadlines.iter().map(|&d| r.push(ms(d), slot(d as u32)).0).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4]);
        assert!(r.accepts(ms(60_000)) && !r.accepts(ms(59_900)), "no more than the disorder early");
        // Nothing is due before the earliest deadline; the next look is no later than it.
        assert!(matches!(r.pop_due(ms(60_000)), Err(Some(at)) if at <= ms(60_050)));
        let mut fired = Vec::new();
        for now in (60_000..=62_000).step_by(50) {
            while let Ok((at, w)) = r.pop_due(ms(now)) {
                assert_eq!(at, ms(now), "fired exactly when due");
                fired.push(slot_of(&w));
            }
        }
        assert_eq!(fired, [60_050, 60_100, 60_400, 61_000, 62_000]);
        assert_eq!(r.len(), 0);
        assert!(r.chunks.is_empty(), "the head passed every fired entry");
        // A ring emptied and refilled: its first look comes early enough
        // for a later, earlier deadline.
        r.push(ms(62_000), slot(7));
        let look = r.first_look(ms(62_000));
        r.push(ms(60_500), slot(8));
        assert!(look <= ms(60_500));
        assert!(matches!(r.pop_due(look), Err(Some(at)) if at <= ms(60_500)), "asks to look by 60.5 s");
        assert_eq!(r.pop_due(ms(60_500)).map(|e| slot_of(&e.1)).ok(), Some(8));
        assert_eq!(r.pop_due(ms(62_000)).map(|e| (e.0, slot_of(&e.1))).ok(), Some((ms(62_000), 7)));
        assert!(matches!(r.pop_due(SimTime::MAX), Err(None)));
        // An entry still waiting keeps its id while those after it fire.
        let a = r.push(ms(70_000), slot(1)).0;
        r.push(ms(69_000), slot(2));
        assert_eq!(r.pop_due(ms(69_000)).map(|e| slot_of(&e.1)).ok(), Some(2));
        assert_eq!(slot_of(&r.get(a).1), 1);
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
