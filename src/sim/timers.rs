//! Connection timers. Each slot has at most one timer event in the queue
//! (its `queued` deadline); a TCB that re-arms earlier queues a new event
//! and the old one is dropped when it pops (lazy cancel: the generation or
//! the deadline no longer match). Fresh TIME-WAIT timers, which all last
//! `TCP_TIMEWAIT_LEN`, wait in a ring instead, most with their connection
//! parked beside them (`time_wait_ring`).

use super::addr::SERVER;
use super::conns::Role;
use super::time_wait_ring::Waiting;
use super::world::{Event, World};
use crate::engine::{Scheduler, SimTime};
use crate::tcp::params::TCP_TIMEWAIT_LEN;
use crate::tcp::{State, Tcb, TimerKind};
use crate::trace::RecordKind;

impl<Q: Scheduler<Event>> World<Q> {
    pub(super) fn arm_timer(&mut self, slot: u32) {
        // When a TIME-WAIT armed now ends, on this host's wheel.
        let time_wait_end = {
            let s = &self.conns.slots[slot as usize];
            (s.tcb.timer_kind() == TimerKind::TimeWait)
                .then(|| s.tcb.expires(self.now, TCP_TIMEWAIT_LEN, &self.params_for(s.role), false))
        };
        let s = &mut self.conns.slots[slot as usize];
        let Some(deadline) = s.tcb.poll_timeout() else { return };
        let generation = s.generation;
        // A fresh TIME-WAIT takes the ring (see `time_wait_ring`), even
        // when an earlier event is queued for the slot (a FIN's
        // retransmission timer, usually): that event is stale from now on
        // and dropped when it pops, rather than re-queueing the TIME-WAIT
        // timer into the wheel for a minute.
        let fresh_tw =
            time_wait_end == Some(deadline) && deadline != s.queued && self.conns.time_wait.accepts(deadline);
        if fresh_tw {
            // Parked, compact, unless a traced run's ladder reads its slot,
            // or it still waits in the accept queue (which names it by slot).
            let in_accept_queue = matches!(s.role, Role::ServerChild { accepted: false, .. });
            let compact = if self.trace.is_none() && !in_accept_queue { s.tcb.to_time_wait() } else { None };
            let was_empty = match compact {
                Some(tcb) => self.conns.park(slot, tcb, deadline),
                None => {
                    s.queued = deadline;
                    self.conns.time_wait.push(deadline, Waiting::Slot { slot, generation }).1
                }
            };
            if was_empty {
                // No sooner than the disorder before it: a deadline pushed
                // later may be due that much earlier.
                self.queue.push(self.conns.time_wait.first_look(deadline), Event::TimeWaitSweep);
            }
        } else if deadline < s.queued {
            s.queued = deadline;
            self.queue.push(deadline, Event::Timer { slot, generation });
        }
    }

    /// Fires every TIME-WAIT timer of the ring that is due, then queues the next sweep.
    pub(super) fn on_time_wait_sweep(&mut self) {
        self.events -= 1; // each expiry below counts as the event
        loop {
            let due = self.conns.time_wait.pop_due(self.now);
            debug_assert!(due.as_ref().map_or(true, |(at, _)| *at == self.now), "a TIME-WAIT fired late");
            match due {
                Ok((_, Waiting::Slot { slot, generation })) => {
                    self.events += 1;
                    self.on_timer(slot, generation);
                }
                Ok((at, Waiting::Parked(parked))) => {
                    self.events += 1;
                    let (slot, generation) = self.conns.restore(at, parked);
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
