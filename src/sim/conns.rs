//! The connections of a run: a slab of slots indexed by small integers
//! with generation counters (a stale timer or hint names a dead
//! generation), the 4-tuple map, and each slot's application role.

use super::time_wait_ring::{ID_BITS, Parked, TimeWaitRing, Waiting};
use crate::engine::SimTime;
use crate::tcp::ports::Occupant;
use crate::tcp::{Segment, SockAddr, State, Tcb, TimeWaitTcb};
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

fn untuple(key: (u64, u32)) -> (SockAddr, SockAddr) {
    let local = SockAddr::new((key.0 >> 32) as u32, (key.0 >> 16) as u16);
    (local, SockAddr::new(key.1, key.0 as u16))
}

fn pack(key: (u64, u32)) -> [u32; 3] {
    [(key.0 >> 32) as u32, key.0 as u32, key.1]
}

fn unpack(key: [u32; 3]) -> (u64, u32) {
    ((key[0] as u64) << 32 | key[1] as u64, key[2])
}

/// A 4-tuple map value with this bit set names a parked TIME-WAIT (its
/// ring id), not a slot.
const PARKED: u32 = 1 << ID_BITS;

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
    /// (local, remote) -> slot, or `PARKED | id` of a TIME-WAIT in the ring.
    demux: FxHashMap<(u64, u32), u32>,
    /// The most connections alive at once.
    pub peak: usize,
    /// Fresh TIME-WAIT timers, most with their connection parked.
    pub time_wait: TimeWaitRing,
}

impl Conns {
    /// Empty, for TIME-WAIT deadlines that may come `disorder` before the
    /// latest one (see [`TimeWaitRing`]).
    pub fn new(disorder: crate::engine::SimDuration) -> Self {
        Conns { time_wait: TimeWaitRing::new(disorder), ..Default::default() }
    }

    pub fn insert(&mut self, tcb: Tcb, role: Role) -> u32 {
        let key = tuple(tcb.local, tcb.remote);
        let slot = self.take_slot(tcb, role);
        self.demux.insert(key, slot);
        self.peak = self.peak.max(self.demux.len());
        slot
    }

    /// A slot holding `tcb`, from the free list or new; not in the map.
    fn take_slot(&mut self, tcb: Tcb, role: Role) -> u32 {
        match self.free.pop() {
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
        }
    }

    /// Moves a fresh TIME-WAIT into the ring, compact, with its timer due
    /// at `deadline`, and frees its slot (timers and hints naming the
    /// slot go stale); it keeps its 4-tuple. Returns whether the ring was
    /// empty (a sweep must be queued).
    pub fn park(&mut self, slot: u32, tcb: TimeWaitTcb, deadline: SimTime) -> bool {
        let s = &mut self.slots[slot as usize];
        let key = tuple(s.tcb.local, s.tcb.remote);
        let parked = Parked { key: pack(key), tcb, role: s.role, last_arrival: s.last_arrival };
        s.tcb.state = State::Closed; // a hint to the slot must not match it any more
        s.generation = s.generation.wrapping_add(1);
        s.queued = SimTime::MAX;
        self.free.push(slot);
        let (id, was_empty) = self.time_wait.push(deadline, Waiting::Parked(parked));
        *self.demux.get_mut(&key).expect("a parked connection is in the map") = PARKED | id;
        was_empty
    }

    /// A parked TIME-WAIT back in a slot, its timer due at `deadline`:
    /// (slot, generation).
    pub fn restore(&mut self, deadline: SimTime, parked: Parked) -> (u32, u32) {
        let key = unpack(parked.key);
        let (local, remote) = untuple(key);
        let slot = self.take_slot(parked.tcb.to_tcb(local, remote, deadline), parked.role);
        let s = &mut self.slots[slot as usize];
        s.queued = deadline;
        s.last_arrival = parked.last_arrival;
        let generation = s.generation;
        self.demux.insert(key, slot);
        (slot, generation)
    }

    /// The slot of a 4-tuple map value: a parked TIME-WAIT is restored
    /// (its ring entry keeps the timer, now naming the slot).
    fn resolve(&mut self, value: u32) -> u32 {
        if value & PARKED == 0 {
            return value;
        }
        let id = value & !PARKED;
        let entry = self.time_wait.get_mut(id);
        let deadline = entry.0;
        let placeholder = Waiting::Slot { slot: u32::MAX, generation: 0 };
        let Waiting::Parked(parked) = std::mem::replace(&mut entry.1, placeholder) else {
            unreachable!("the map names ring entry {id} as parked")
        };
        let (slot, generation) = self.restore(deadline, parked);
        self.time_wait.get_mut(id).1 = Waiting::Slot { slot, generation };
        slot
    }

    fn parked(&self, value: u32) -> Option<&Parked> {
        if value & PARKED == 0 {
            return None;
        }
        match &self.time_wait.get(value & !PARKED).1 {
            Waiting::Parked(p) => Some(p),
            Waiting::Slot { .. } => unreachable!("the map names a restored entry as parked"),
        }
    }

    fn parked_mut(&mut self, value: u32) -> Option<&mut Parked> {
        if value & PARKED == 0 {
            return None;
        }
        match &mut self.time_wait.get_mut(value & !PARKED).1 {
            Waiting::Parked(p) => Some(p),
            Waiting::Slot { .. } => unreachable!("the map names a restored entry as parked"),
        }
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

    /// The 4-tuple map's value for the live connection from `local` to
    /// `remote`: `hint` (a slot + 1, 0 for none) when it holds that 4-tuple
    /// alive, else the map (the same answer, slower).
    fn entry(&self, local: SockAddr, remote: SockAddr, hint: u32) -> Option<u32> {
        let hinted = hint.checked_sub(1).filter(|&h| {
            self.slots.get(h as usize).is_some_and(|s| {
                s.tcb.local == local && s.tcb.remote == remote && s.tcb.state != State::Closed
            })
        });
        hinted.or_else(|| self.demux.get(&tuple(local, remote)).copied())
    }

    /// The slot of the live connection from `local` to `remote`, restoring
    /// a parked TIME-WAIT.
    pub fn slot_of(&mut self, local: SockAddr, remote: SockAddr, hint: u32) -> Option<u32> {
        let value = self.entry(local, remote, hint)?;
        Some(self.resolve(value))
    }

    /// The connection a segment is for (restored if parked); learns the
    /// sender's slot for the replies.
    pub fn lookup(&mut self, seg: &Segment, hints: Hints) -> Option<u32> {
        let slot = self.slot_of(seg.dst, seg.src, hints.dst_slot)?;
        if hints.src_slot != 0 {
            self.slots[slot as usize].peer = hints.src_slot;
        }
        Some(slot)
    }

    /// The application role of the connection from `local` to `remote`,
    /// parked or not.
    pub fn role_of(&self, local: SockAddr, remote: SockAddr, hint: u32) -> Option<Role> {
        let value = self.entry(local, remote, hint)?;
        Some(self.parked(value).map_or_else(|| self.slots[value as usize].role, |p| p.role))
    }

    /// The state of the connection from `local` to `remote`.
    pub fn state_of(&self, local: SockAddr, remote: SockAddr) -> Option<State> {
        let value = self.entry(local, remote, 0)?;
        Some(if value & PARKED != 0 { State::TimeWait } else { self.slots[value as usize].tcb.state })
    }

    /// What holds `local` toward `remote`, for the port search.
    pub fn occupant(&self, local: SockAddr, remote: SockAddr) -> Option<Occupant> {
        let value = self.entry(local, remote, 0)?;
        Some(
            self.parked(value)
                .map_or_else(|| Occupant::of(&self.slots[value as usize].tcb), |p| p.tcb.occupant()),
        )
    }

    /// When the connection from `local` to `remote`'s latest segment
    /// reaches its peer, to move on (FIFO paths).
    pub fn last_arrival_mut(&mut self, local: SockAddr, remote: SockAddr, hint: u32) -> Option<&mut SimTime> {
        let value = self.entry(local, remote, hint)?;
        if value & PARKED != 0 {
            return self.parked_mut(value).map(|p| &mut p.last_arrival);
        }
        Some(&mut self.slots[value as usize].last_arrival)
    }

    /// Connections in TIME-WAIT whose local address is (or is not) `ip`.
    pub fn time_wait_count(&self, ip: u32, at_ip: bool) -> u64 {
        self.demux
            .iter()
            .filter(|&(&key, &value)| {
                (untuple(key).0.ip == ip) == at_ip
                    && (value & PARKED != 0 || self.slots[value as usize].tcb.state == State::TimeWait)
            })
            .count() as u64
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
        assert_eq!(c.slot_of(SockAddr::new(1, 1000), SockAddr::new(2, 80), 0), None);
        assert_eq!(c.slot_of(SockAddr::new(1, 1001), SockAddr::new(2, 80), 0), Some(b));
        assert_eq!(c.peak, 1);
    }

    #[test]
    fn a_wrong_hint_falls_back_to_the_map() {
        let mut c = Conns::default();
        let a = c.insert(tcb(1000), Role::AttackerConn);
        let b = c.insert(tcb(1001), Role::AttackerConn);
        let (local, remote) = (SockAddr::new(1, 1001), SockAddr::new(2, 80));
        assert_eq!(c.slot_of(local, remote, a + 1), Some(b));
        assert_eq!(c.slot_of(local, remote, b + 1), Some(b));
        assert_eq!(c.slot_of(local, remote, 999), Some(b));
    }

    /// A client connection in TIME-WAIT, its timer due at 60 s.
    fn time_wait_tcb(port: u16) -> Tcb {
        let p = TcpParams::default();
        let (c, s) = (SockAddr::new(1, port), SockAddr::new(2, 80));
        let _ = s;
        let mut out = Vec::new();
        let mut client = Tcb::connect(SimTime::ZERO, c, s, 1, &p, &mut out);
        let syn = out.pop().unwrap();
        let mut server = Tcb::accept_syn(SimTime::ZERO, &syn, 500, &p, &mut out);
        let deliver = |to: &mut Tcb, out: &mut Vec<Segment>| {
            for seg in std::mem::take(out) {
                to.handle_segment(SimTime::ZERO, &seg, &p, out);
            }
        };
        deliver(&mut client, &mut out); // SYN-ACK -> the final ACK
        deliver(&mut server, &mut out);
        client.close(SimTime::ZERO, &p, &mut out);
        deliver(&mut server, &mut out); // FIN -> its ACK
        deliver(&mut client, &mut out);
        server.close(SimTime::ZERO, &p, &mut out);
        deliver(&mut client, &mut out); // the server's FIN -> the last ACK
        assert_eq!(client.state, State::TimeWait);
        client
    }

    #[test]
    fn a_parked_time_wait_keeps_its_4_tuple_and_comes_back_bit_for_bit() {
        let mut c = Conns::default();
        let tw = time_wait_tcb(1000);
        let role = Role::Client {
            pop: 0,
            user: NO_USER,
            started: SimTime::ZERO,
            measured: true,
            established: true,
            closes_first: true,
            closed_by_app: true,
        };
        let a = c.insert(tw.clone(), role);
        c.slots[a as usize].last_arrival = SimTime(7);
        let generation = c.slots[a as usize].generation;
        let deadline = tw.poll_timeout().unwrap();
        assert!(c.park(a, tw.to_time_wait().unwrap(), deadline), "the first entry needs a sweep");
        let (local, remote) = (tw.local, tw.remote);
        assert!(!c.live(a, generation), "timers naming the slot are stale");
        assert_eq!(c.state_of(local, remote), Some(State::TimeWait));
        assert_eq!(c.role_of(local, remote, a + 1), Some(role), "the old slot's hint does not match it");
        assert_eq!(c.time_wait_count(2, false), 1);
        assert!(matches!(c.occupant(local, remote), Some(Occupant::TimeWait { .. })));
        *c.last_arrival_mut(local, remote, 0).unwrap() = SimTime(9);
        // The slot goes to the next connection; the TIME-WAIT keeps its 4-tuple.
        let b = c.insert(tcb(2000), Role::AttackerConn);
        assert_eq!(a, b);
        assert_eq!(c.slot_of(SockAddr::new(1, 2000), remote, a + 1), Some(b));
        // A segment for it restores it into a slot; the ring keeps its timer.
        let back = c.slot_of(local, remote, 0).unwrap();
        assert_ne!(back, b);
        let s = &c.slots[back as usize];
        assert_eq!((&s.tcb, s.role, s.queued, s.last_arrival), (&tw, role, deadline, SimTime(9)));
        assert_eq!(c.slot_of(local, remote, 0), Some(back), "restored once");
        match c.time_wait.pop_due(deadline) {
            Ok((at, Waiting::Slot { slot, generation })) => {
                assert_eq!((at, slot, generation), (deadline, back, c.slots[back as usize].generation))
            }
            _ => panic!("the ring's entry names the slot now"),
        }
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
