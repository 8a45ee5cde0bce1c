//! The server: its ingress path into TCP, the listener's verdicts on
//! each segment, the accept queue and the application that accepts,
//! answers and closes.

use super::addr::{Origin, SERVER};
use super::app::Acceptor;
use super::conns::{Hints, NO_POP, Role};
use super::world::{Event, World};
use crate::engine::Scheduler;
use crate::tcp::{Disposition, RequestOutcome, Segment, State, SynVerdict, reset_for};
use crate::trace::{RecordKind, Side};
use rand::Rng;

impl<Q: Scheduler<Event>> World<Q> {
    pub(super) fn server_receive(&mut self, seg: Segment, hints: Hints) {
        let origin = self.plan.origin(seg.src.ip);
        let pop = match origin {
            Origin::Population(p, _) => p,
            _ => NO_POP,
        };
        if seg.flags.syn() && !seg.flags.ack() && !matches!(origin, Origin::Population(..)) {
            self.metrics.counters.attack_syns += 1;
        }
        let before_state = self.state_at(seg.dst, seg.src);
        if let Some(slot) = self.lookup(&seg, hints) {
            self.server_segment_for_slot(slot, seg, hints, pop, before_state);
        } else if seg.dst.port == SERVER.port {
            self.listener_segment(seg, hints, pop, None, before_state);
        } else {
            self.out.extend(reset_for(&seg));
            self.record(Side::Server, RecordKind::Received, Some(seg), (before_state, before_state), "");
            self.flush(Side::Server);
        }
        self.update_listener_gauges();
    }

    pub(super) fn server_segment_for_slot(
        &mut self,
        slot: u32,
        seg: Segment,
        hints: Hints,
        pop: u16,
        before_state: Option<State>,
    ) {
        let role = self.conns.slots[slot as usize].role;
        if let Role::Request { pop: rpop } = role {
            let note = |o: &RequestOutcome| match o {
                RequestOutcome::Overflowed => Some("accept queue full: ACK dropped".into()),
                RequestOutcome::Deferred => Some("TCP_DEFER_ACCEPT: bare ACK dropped".into()),
                _ => Some("".into()),
            };
            let (outcome, before) =
                self.drive(slot, RecordKind::Received, Some(seg), note, |tcb, l, now, p, out| {
                    l.on_request_segment(now, tcb, &seg, p, out)
                });
            match outcome {
                RequestOutcome::Pending | RequestOutcome::Overflowed | RequestOutcome::Deferred => {
                    self.settle(slot, before)
                }
                RequestOutcome::Removed => {
                    self.flush(Side::Server);
                    self.release(slot);
                }
                RequestOutcome::Established => {
                    self.conns.slots[slot as usize].role = Role::ServerChild {
                        pop: rpop,
                        accepted: false,
                        confirmed: true,
                        created: self.now,
                        sent: 0,
                    };
                    self.settle(slot, State::Established);
                    self.enqueue_accept(slot);
                }
            }
            return;
        }
        let s = &mut self.conns.slots[slot as usize];
        if seg.flags.ack()
            && !seg.flags.rst()
            && let Role::ServerChild { confirmed, .. } = &mut s.role
        {
            *confirmed = true;
        }
        // A reopened TIME-WAIT is recorded by the listener that takes its SYN.
        let note = |d: &Disposition| matches!(d, Disposition::Done).then(|| "".into());
        let (disposition, before) =
            self.drive(slot, RecordKind::Received, Some(seg), note, |tcb, _, now, p, out| {
                tcb.handle_segment(now, &seg, p, out)
            });
        match disposition {
            Disposition::Done => self.settle(slot, before),
            Disposition::ReopenFromTimeWait { isn } => {
                // TIME-WAIT gives way to the new SYN (`TCP_TW_SYN`).
                // The TCB closed itself; settle reports it and frees the slot.
                self.metrics.counters.time_wait_reopened_server += 1;
                self.settle(slot, before);
                self.listener_segment(seg, hints, pop, Some(isn), before_state);
            }
        }
    }

    pub(super) fn listener_segment(
        &mut self,
        seg: Segment,
        hints: Hints,
        pop: u16,
        isn: Option<u32>,
        before_state: Option<State>,
    ) {
        let p = self.server_params_for(pop);
        let mut out = std::mem::take(&mut self.out);
        let f = seg.flags;
        if f.syn() && !f.ack() && !f.rst() {
            // A SYN that reopens a TIME-WAIT connection (`isn` set) skips
            // the last-quarter rule as a proven peer does (`tcp_conn_request`).
            let (now, metrics) = (self.now, &mut self.tcp_metrics);
            let verdict = self
                .listener
                .on_syn(now, &seg, &p, &mut out, || isn.is_some() || metrics.peer_is_proven(now, seg.src.ip));
            match verdict {
                SynVerdict::Queue => {
                    let isn = isn.unwrap_or_else(|| self.rng_isn.next_u32());
                    let tcb = self.listener.new_request(self.now, &seg, isn, &p, &mut out);
                    let established = tcb.state == State::Established;
                    let role = if established {
                        Role::ServerChild {
                            pop,
                            accepted: false,
                            confirmed: false,
                            created: self.now,
                            sent: 0,
                        }
                    } else {
                        Role::Request { pop }
                    };
                    let after = tcb.state;
                    let slot = self.insert(tcb, role);
                    self.conns.slots[slot as usize].peer = hints.src_slot;
                    self.record(
                        Side::Server,
                        RecordKind::Received,
                        Some(seg),
                        (before_state, Some(after)),
                        "",
                    );
                    self.out = out;
                    self.settle(slot, State::Listen);
                    if established {
                        self.enqueue_accept(slot);
                    }
                }
                SynVerdict::Cookie => {
                    self.record(
                        Side::Server,
                        RecordKind::Received,
                        Some(seg),
                        (before_state, before_state),
                        "SYN cookie sent",
                    );
                    self.out = out;
                    self.flush(Side::Server);
                }
                SynVerdict::Dropped => {
                    let note = if self.listener.accept_queue_full() {
                        "accept queue full: SYN dropped"
                    } else {
                        "SYN queue full: SYN dropped"
                    };
                    self.record(
                        Side::Server,
                        RecordKind::Received,
                        Some(seg),
                        (before_state, before_state),
                        note,
                    );
                    self.out = out;
                }
            }
            return;
        }
        let child = self.listener.on_stray_segment(self.now, &seg, &p, &mut out);
        let note = if child.is_some() { "valid SYN cookie: connection rebuilt" } else { "" };
        let after = child.as_ref().map(|c| c.state).or(before_state);
        self.record(Side::Server, RecordKind::Received, Some(seg), (before_state, after), note);
        self.out = out;
        match child {
            Some(tcb) => {
                let state = tcb.state;
                let role =
                    Role::ServerChild { pop, accepted: false, confirmed: true, created: self.now, sent: 0 };
                let slot = self.insert(tcb, role);
                self.conns.slots[slot as usize].peer = hints.src_slot;
                let generation = self.conns.slots[slot as usize].generation;
                self.settle(slot, state);
                // The cookie ACK may have carried an RST or FIN that ended it already.
                if self.live(slot, generation) {
                    self.enqueue_accept(slot);
                }
            }
            None => self.flush(Side::Server),
        }
    }

    pub(super) fn enqueue_accept(&mut self, slot: u32) {
        let generation = self.conns.slots[slot as usize].generation;
        self.listener.enqueue_accept((slot, generation));
        self.update_listener_gauges();
        self.accept_while_idle();
    }

    /// A worker finished serving its connection and calls accept() again.
    pub(super) fn on_worker_free(&mut self) {
        if let Acceptor::Workers(w) = &mut self.acceptor {
            w.idle += 1;
        }
        self.accept_while_idle();
    }

    /// Workers blocked in accept() (or an application that accepts at once)
    /// take connections off the accept queue, oldest first
    /// (`inet_csk_accept`). Callers have settled the connection first.
    pub(super) fn accept_while_idle(&mut self) {
        loop {
            match &self.acceptor {
                Acceptor::Never => break,
                Acceptor::Workers(w) if w.idle == 0 => break,
                _ => {}
            }
            let Some((slot, generation)) = self.listener.accept() else { break };
            if let Acceptor::Workers(w) = &mut self.acceptor {
                w.idle -= 1;
                let done = self.now + w.draw();
                self.queue.push(done, Event::WorkerFree);
            }
            // A child that died while it waited (reset, timed out) is
            // still handed out: the worker's time goes on it all the same.
            let alive = self.live(slot, generation)
                && self.conns.slots[slot as usize].tcb.state != State::Closed
                && matches!(self.conns.slots[slot as usize].role, Role::ServerChild { accepted: false, .. });
            if alive {
                self.server_app_accept(slot);
            } else {
                self.record(
                    Side::Server,
                    RecordKind::App("accept"),
                    None,
                    (None, None),
                    "a connection that died in the accept queue: read() gets ECONNRESET",
                );
            }
        }
        self.update_listener_gauges();
    }

    /// The server application took a connection: it answers (if configured),
    /// and closes when the client has, or after the hold when it closes first.
    pub(super) fn server_app_accept(&mut self, slot: u32) {
        let generation = self.conns.slots[slot as usize].generation;
        let (pop, local, remote) = {
            let s = &mut self.conns.slots[slot as usize];
            let Role::ServerChild { pop, accepted, .. } = &mut s.role else { return };
            *accepted = true;
            (*pop, s.tcb.local, s.tcb.remote)
        };
        // Served by the application: the user's success, timed from the
        // client's first SYN.
        let peer = self.conns.slots[slot as usize].peer;
        if let Some(Role::Client { started, measured: true, .. }) = self.conns.role_of(remote, local, peer) {
            self.metrics.counters.legit_accepted += 1;
            self.metrics.accept_delay.record(self.now - started);
        }
        self.record(
            Side::Server,
            RecordKind::App("accept"),
            None,
            (self.state_at(local, remote), self.state_at(local, remote)),
            "",
        );
        let bytes = self.server.response_bytes;
        if bytes > 0 {
            let (_, before) = self.drive(
                slot,
                RecordKind::App("send"),
                None,
                |_| None,
                |tcb, _, now, p, out| tcb.send(now, bytes, p, out),
            );
            self.settle(slot, before);
        }
        if !self.live(slot, generation) {
            return;
        }
        if self.conns.slots[slot as usize].tcb.state == State::CloseWait {
            self.queue.push(self.now + self.server.close_delay, Event::AppClose { slot, generation });
            return;
        }
        // Who closes first was decided by the client when it connected
        // (found through the peer hint, or the 4-tuple map).
        if pop != NO_POP
            && let Some(Role::Client { closes_first: false, .. }) = self.conns.role_of(remote, local, peer)
        {
            let hold = self.pops[pop as usize].hold;
            self.queue.push(self.now + hold, Event::AppClose { slot, generation });
        }
    }

    pub(super) fn update_listener_gauges(&mut self) {
        self.metrics.syn_recv.set(self.now, self.listener.syn_queue_len() as u64);
        self.metrics.accept_queue.set(self.now, self.listener.accept_queue_len() as u64);
    }
}
