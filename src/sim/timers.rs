//! Connection timers. Each slot has at most one timer event in the queue
//! (its `queued` deadline); a TCB that re-arms earlier queues a new event
//! and the old one is dropped when it pops (lazy cancel: the generation or
//! the deadline no longer match). Fresh TIME-WAIT timers, which all last
//! `TCP_TIMEWAIT_LEN`, wait in a FIFO instead (`TimeWaitFifo`).

use super::addr::SERVER;
use super::conns::Role;
use super::world::{Event, World};
use crate::engine::{Scheduler, SimTime};
use crate::tcp::params::TCP_TIMEWAIT_LEN;
use crate::tcp::{State, Tcb, TimerKind, timer_wheel};
use crate::trace::RecordKind;
use std::collections::VecDeque;

/// Fresh TIME-WAIT timers, (deadline, slot, generation), in deadline
/// order: one queued `TimeWaitSweep` for the head stands for all of them.
#[derive(Default)]
pub(super) struct TimeWaitFifo {
    entries: VecDeque<(SimTime, u32, u32)>,
}

impl TimeWaitFifo {
    /// Whether a timer due at `deadline` can join without breaking the order.
    pub fn accepts(&self, deadline: SimTime) -> bool {
        self.entries.back().is_none_or(|b| b.0 <= deadline)
    }

    /// Adds a timer; true when the FIFO was empty (a sweep must be queued).
    pub fn push(&mut self, deadline: SimTime, slot: u32, generation: u32) -> bool {
        let was_empty = self.entries.is_empty();
        self.entries.push_back((deadline, slot, generation));
        was_empty
    }

    /// The next timer due by `now`, or Err(when the head is due) / Err(None)
    /// when empty.
    pub fn pop_due(&mut self, now: SimTime) -> Result<(u32, u32), Option<SimTime>> {
        match self.entries.front() {
            Some(&(at, slot, generation)) if at <= now => {
                self.entries.pop_front();
                Ok((slot, generation))
            }
            Some(&(at, ..)) => Err(Some(at)),
            None => Err(None),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

impl<Q: Scheduler<Event>> World<Q> {
    pub(super) fn arm_timer(&mut self, slot: u32) {
        let s = &mut self.conns.slots[slot as usize];
        let Some(deadline) = s.tcb.poll_timeout() else { return };
        let generation = s.generation;
        // A fresh TIME-WAIT ends TCP_TIMEWAIT_LEN from now (on the timer
        // wheel's grid, a function of now that never decreases), so these
        // deadlines arrive in order: a FIFO holds them, with one queued
        // sweep for its head, instead of a queue entry each. It takes the
        // FIFO even when an earlier event is queued for the slot (a FIN's
        // retransmission timer, usually): that event is stale from now on
        // and dropped when it pops, rather than re-queueing the TIME-WAIT
        // timer into the wheel for a minute.
        let fresh_tw = s.tcb.timer_kind() == TimerKind::TimeWait
            && deadline == timer_wheel::expires(self.now, TCP_TIMEWAIT_LEN, self.hz, false)
            && deadline != s.queued
            && self.tw_fifo.accepts(deadline);
        if fresh_tw {
            s.queued = deadline;
            if self.tw_fifo.push(deadline, slot, generation) {
                self.queue.push(deadline, Event::TimeWaitSweep);
            }
        } else if deadline < s.queued {
            s.queued = deadline;
            self.queue.push(deadline, Event::Timer { slot, generation });
        }
    }

    /// Fires every FIFO'd TIME-WAIT timer that is due, then queues the next sweep.
    pub(super) fn on_time_wait_sweep(&mut self) {
        self.events -= 1; // each expiry below counts as the event
        loop {
            match self.tw_fifo.pop_due(self.now) {
                Ok((slot, generation)) => {
                    self.events += 1;
                    self.on_timer(slot, generation);
                }
                Err(Some(at)) => return self.queue.push(at, Event::TimeWaitSweep),
                Err(None) => return,
            }
        }
    }

    pub(super) fn on_timer(&mut self, slot: u32, generation: u32) {
        let Some(s) = self.conns.slots.get_mut(slot as usize) else { return };
        if s.generation != generation || s.queued != self.now {
            return; // stale: re-armed or released since
        }
        s.queued = SimTime::MAX;
        match s.tcb.poll_timeout() {
            Some(deadline) if deadline <= self.now => {}
            Some(_) => return self.arm_timer(slot),
            None => return,
        }
        let what = timer_name(&s.tcb);
        // A probe is the one segment with sequence space the probe timer sends.
        let probe = s.tcb.timer_kind() == TimerKind::LossProbe;
        let request = matches!(s.role, Role::Request { .. });
        let (expired_request, before) = self.drive(
            slot,
            RecordKind::Timer(what),
            None,
            |_| Some("".into()),
            |tcb, listener, now, p, out| {
                if request {
                    listener.request_timeout(now, tcb, p, out)
                } else {
                    tcb.handle_timeout(now, p, out);
                    false
                }
            },
        );
        // Retransmissions: everything a timer sends is one, but the
        // delayed ACK (the only segment without sequence space).
        self.metrics.counters.retransmissions += self.out.iter().filter(|s| s.seq_len() > 0).count() as u64;
        if probe && self.out.iter().any(|s| s.seq_len() > 0) {
            if self.conns.slots[slot as usize].tcb.local.ip == SERVER.ip {
                self.metrics.counters.server_loss_probes += 1;
            } else if matches!(self.conns.slots[slot as usize].role, Role::Client { .. }) {
                self.metrics.counters.client_loss_probes += 1;
            }
        }
        if before == State::SynSent && matches!(self.conns.slots[slot as usize].role, Role::Client { .. }) {
            self.metrics.counters.client_syn_retrans += self.out.len() as u64;
        }
        let local = self.conns.slots[slot as usize].tcb.local;
        if expired_request {
            self.flush(self.side_of(local.ip));
            self.release(slot);
            self.update_listener_gauges();
            return;
        }
        self.settle(slot, before);
    }
}

fn timer_name(tcb: &Tcb) -> &'static str {
    match (tcb.next_timer(), tcb.state) {
        (TimerKind::Retransmit, State::SynSent) => "SYN retransmission timer",
        (TimerKind::Retransmit, State::SynReceived) => "SYN-ACK retransmission timer",
        (TimerKind::Retransmit, _) => "retransmission timer",
        (TimerKind::LossProbe, _) => "tail loss probe timer",
        (TimerKind::FinWait2, _) => "FIN-WAIT-2 timeout (tcp_fin_timeout)",
        (TimerKind::TimeWait, _) => "TIME-WAIT expiry",
        (TimerKind::DelayedAck, _) => "delayed-ACK timer",
        (TimerKind::None, _) => "timer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    #[test]
    fn the_fifo_pops_what_is_due_in_order() {
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let mut f = TimeWaitFifo::default();
        assert!(f.push(t(60), 1, 0), "the first entry needs a sweep");
        assert!(!f.push(t(61), 2, 0));
        assert!(f.accepts(t(61)) && !f.accepts(t(60)));
        assert_eq!(f.pop_due(t(59)), Err(Some(t(60))));
        assert_eq!(f.pop_due(t(61)), Ok((1, 0)));
        assert_eq!(f.pop_due(t(61)), Ok((2, 0)));
        assert_eq!(f.pop_due(t(61)), Err(None));
        assert_eq!(f.len(), 0);
    }
}
