//! The connections of a run: a slab of slots indexed by small integers
//! with generation counters (a stale timer or hint names a dead
//! generation), the 4-tuple map, and each slot's application role.

use crate::engine::SimTime;
use crate::tcp::{Segment, SockAddr, State, Tcb};
use rustc_hash::FxHashMap;

pub(super) const NO_POP: u16 = u16::MAX;
pub(super) const NO_USER: u32 = u32::MAX;

/// The application's role for a connection slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// A legitimate client's socket.
    Client {
        pop: u16,
        user: u32,
        started: SimTime,
        measured: bool,
        established: bool,
        closes_first: bool,
        closed_by_app: bool,
    },
    /// A request in the listener's SYN queue.
    Request { pop: u16 },
    /// An established server socket (in the accept queue until accepted).
    ServerChild { pop: u16, accepted: bool, confirmed: bool, created: SimTime, sent: u32 },
    /// An attacking host's socket (connect-flood).
    AttackerConn,
}

/// Bytes of one connection slot (its TCB, role and timer bookkeeping).
pub const SLOT_BYTES: usize = std::mem::size_of::<Slot>();

pub(super) struct Slot {
    pub tcb: Tcb,
    pub role: Role,
    pub generation: u32,
    /// The peer connection's slot + 1, learned from its segments (0: unknown).
    pub peer: u32,
    /// Deadline of the timer event in the queue for this slot.
    pub queued: SimTime,
    /// When this connection's latest segment reaches its peer (FIFO paths).
    pub last_arrival: SimTime,
}

/// Connection slots in fixed chunks: growing never moves or doubles them
/// (a `Vec` of ten million slots would copy 1.3 GB and hold twice that
/// while it grows).
#[derive(Default)]
pub(super) struct Slab {
    chunks: Vec<Vec<Slot>>,
    len: usize,
}

const CHUNK: usize = 4096;

impl Slab {
    fn push(&mut self, slot: Slot) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk").push(slot);
        self.len += 1;
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn get(&self, i: usize) -> Option<&Slot> {
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Slot> {
        self.chunks.get_mut(i / CHUNK).and_then(|c| c.get_mut(i % CHUNK))
    }
    /// Starts loading slot `i` into the cache (no effect if there is none).
    pub fn prefetch(&self, i: usize) {
        if let Some(slot) = self.get(i) {
            let p = (slot as *const Slot).cast::<u8>();
            for line in (0..std::mem::size_of::<Slot>()).step_by(64) {
                prefetch_line(p.wrapping_add(line));
            }
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.chunks.iter().flatten()
    }
}

#[cfg(target_arch = "x86_64")]
fn prefetch_line(p: *const u8) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is a hint: it never faults, whatever the address.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch_line(_: *const u8) {}

impl std::ops::Index<usize> for Slab {
    type Output = Slot;
    fn index(&self, i: usize) -> &Slot {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl std::ops::IndexMut<usize> for Slab {
    fn index_mut(&mut self, i: usize) -> &mut Slot {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

/// The 4-tuple map's key: (local, remote) packed into 12 bytes, so an
/// entry with its value takes 16 and hashes in two rounds, not four.
pub(super) fn tuple(local: SockAddr, remote: SockAddr) -> (u64, u32) {
    ((local.ip as u64) << 32 | (local.port as u64) << 16 | remote.port as u64, remote.ip)
}

/// Simulation hints that travel with a segment in its event, never on the
/// wire: the sending connection's slot and the slot it believes the
/// receiver's connection has (index + 1; 0 none), so delivery usually
/// needs no 4-tuple lookup. The receiver checks the 4-tuple before
/// trusting a hint.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    pub src_slot: u32,
    pub dst_slot: u32,
}

impl Hints {
    pub const NONE: Hints = Hints { src_slot: 0, dst_slot: 0 };
}

/// Every connection alive, found by slot or by 4-tuple.
#[derive(Default)]
pub(super) struct Conns {
    pub slots: Slab,
    free: Vec<u32>,
    /// (local, remote) -> slot.
    pub demux: FxHashMap<(u64, u32), u32>,
    /// The most connections alive at once.
    pub peak: usize,
}

impl Conns {
    pub fn insert(&mut self, tcb: Tcb, role: Role) -> u32 {
        let key = tuple(tcb.local, tcb.remote);
        let slot = match self.free.pop() {
            Some(i) => {
                let s = &mut self.slots[i as usize];
                s.tcb = tcb;
                s.role = role;
                s.peer = 0;
                s.generation = s.generation.wrapping_add(1);
                s.queued = SimTime::MAX;
                s.last_arrival = SimTime::ZERO;
                i
            }
            None => {
                self.slots.push(Slot {
                    tcb,
                    role,
                    generation: 0,
                    peer: 0,
                    queued: SimTime::MAX,
                    last_arrival: SimTime::ZERO,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.demux.insert(key, slot);
        self.peak = self.peak.max(self.demux.len());
        slot
    }

    /// Frees a slot; its generation moves on, so timers and hints that
    /// name it go stale. Returns the local address it held.
    pub fn release(&mut self, slot: u32) -> SockAddr {
        let s = &mut self.slots[slot as usize];
        self.demux.remove(&tuple(s.tcb.local, s.tcb.remote));
        s.generation = s.generation.wrapping_add(1);
        s.queued = SimTime::MAX;
        self.free.push(slot);
        s.tcb.local
    }

    pub fn live(&self, slot: u32, generation: u32) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|s| s.generation == generation && s.tcb.state != State::Closed)
    }

    /// The live connection from `local` to `remote`: `hint` (a slot + 1,
    /// 0 for none) when it holds that 4-tuple alive, else the 4-tuple map
    /// (the same answer, slower).
    pub fn find(&self, local: SockAddr, remote: SockAddr, hint: u32) -> Option<u32> {
        let hinted = hint.checked_sub(1).filter(|&h| {
            self.slots.get(h as usize).is_some_and(|s| {
                s.tcb.local == local && s.tcb.remote == remote && s.tcb.state != State::Closed
            })
        });
        hinted.or_else(|| self.demux.get(&tuple(local, remote)).copied())
    }

    /// The connection a segment is for; learns the sender's slot for the
    /// replies.
    pub fn lookup(&mut self, seg: &Segment, hints: Hints) -> Option<u32> {
        let slot = self.find(seg.dst, seg.src, hints.dst_slot)?;
        if hints.src_slot != 0 {
            self.slots[slot as usize].peer = hints.src_slot;
        }
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::TcpParams;

    fn tcb(port: u16) -> Tcb {
        let (local, remote) = (SockAddr::new(1, port), SockAddr::new(2, 80));
        Tcb::connect(SimTime::ZERO, local, remote, 1, &TcpParams::default(), &mut Vec::new())
    }

    #[test]
    fn a_released_slot_is_reused_with_a_new_generation() {
        let mut c = Conns::default();
        let a = c.insert(tcb(1000), Role::AttackerConn);
        let g = c.slots[a as usize].generation;
        assert!(c.live(a, g));
        assert_eq!(c.release(a), SockAddr::new(1, 1000));
        assert!(!c.live(a, g));
        let b = c.insert(tcb(1001), Role::AttackerConn);
        assert_eq!(a, b);
        assert_ne!(c.slots[b as usize].generation, g);
        assert_eq!(c.find(SockAddr::new(1, 1000), SockAddr::new(2, 80), 0), None);
        assert_eq!(c.find(SockAddr::new(1, 1001), SockAddr::new(2, 80), 0), Some(b));
        assert_eq!(c.peak, 1);
    }

    #[test]
    fn a_wrong_hint_falls_back_to_the_map() {
        let mut c = Conns::default();
        let a = c.insert(tcb(1000), Role::AttackerConn);
        let b = c.insert(tcb(1001), Role::AttackerConn);
        let (local, remote) = (SockAddr::new(1, 1001), SockAddr::new(2, 80));
        assert_eq!(c.find(local, remote, a + 1), Some(b));
        assert_eq!(c.find(local, remote, b + 1), Some(b));
        assert_eq!(c.find(local, remote, 999), Some(b));
    }

    #[test]
    fn the_slab_grows_past_a_chunk_without_moving() {
        let mut c = Conns::default();
        for p in 0..(CHUNK as u16 + 10) {
            c.insert(tcb(p), Role::AttackerConn);
        }
        assert_eq!(c.slots.len(), CHUNK + 10);
        assert_eq!(c.slots[CHUNK + 3].tcb.local.port, CHUNK as u16 + 3);
        assert_eq!(c.slots.iter().count(), CHUNK + 10);
    }
}
