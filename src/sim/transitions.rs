//! What a connection's state change means outside its TCB: the
//! applications' next step (send, close), the outcome counters, and the
//! TIME-WAIT accounting against `tcp_max_tw_buckets`.

use super::addr::{Origin, SERVER};
use super::conns::Role;
use super::world::{Event, World};
use crate::engine::{Scheduler, SimDuration};
use crate::tcp::params::TCP_TIMEWAIT_LEN;
use crate::tcp::time_wait::TimeWaitBuckets;
use crate::tcp::{CloseCause, State};
use crate::trace::{RecordKind, Side};

impl<Q: Scheduler<Event>> World<Q> {
    pub(super) fn on_transition(&mut self, slot: u32, before: State, mut after: State) {
        let now = self.now;
        let role = self.conns.slots[slot as usize].role;
        let is_server = self.conns.slots[slot as usize].tcb.local.ip == SERVER.ip;
        // An orphan's FIN-WAIT-2 is a TIME-WAIT socket in Linux when
        // tcp_fin_timeout <= TCP_TIMEWAIT_LEN (`tcp_rcv_state_process` ->
        // `tcp_time_wait(TCP_FIN_WAIT2)`): it holds a tcp_max_tw_buckets
        // entry from FIN-WAIT-2 on, and keeps it into TIME-WAIT. (A longer
        // timeout becomes one only for its last 60 s; not modelled.)
        let fin_wait2_tw = self.fin_wait2_is_time_wait(slot);
        if before == State::FinWait2 && fin_wait2_tw && after != State::TimeWait {
            self.tw_bucket_left(slot);
        }
        if before == State::TimeWait {
            self.time_wait_left(slot, is_server);
            if self.conns.slots[slot as usize].tcb.close_cause == Some(CloseCause::Assassinated) {
                if is_server {
                    self.metrics.counters.time_wait_assassinated_server += 1;
                } else {
                    self.metrics.counters.time_wait_assassinated_client += 1;
                }
            }
        }
        if is_server && matches!(role, Role::ServerChild { .. }) {
            self.update_tcp_metrics(slot, before, after);
        }
        // No TIME-WAIT entry when the host holds tcp_max_tw_buckets: closed
        // (`tcp_time_wait` -> `tcp_done`), in TIME-WAIT or an orphan's FIN-WAIT-2.
        let holds_entry = before == State::FinWait2 && fin_wait2_tw;
        if after == State::TimeWait && !holds_entry && !self.tw_bucket_taken(slot, is_server) {
            after = State::Closed;
        }
        if after == State::FinWait2 && fin_wait2_tw && !self.tw_bucket_taken(slot, is_server) {
            after = State::Closed;
        }
        if after == State::TimeWait {
            self.time_wait_entered(is_server);
        }
        if matches!(role, Role::Client { .. } | Role::ServerChild { .. }) {
            self.count_namespace_transition(slot, is_server, before, after, fin_wait2_tw);
        }
        match role {
            Role::Client { pop, user, started, measured, established, closes_first, closed_by_app } => {
                if after == State::Established && !established {
                    if let Role::Client { established, .. } = &mut self.conns.slots[slot as usize].role {
                        *established = true;
                    }
                    if measured {
                        self.metrics.attempt_established(started, now, self.bin);
                    }
                    let generation = self.conns.slots[slot as usize].generation;
                    let bytes = self.pops[pop as usize].request_bytes;
                    if bytes > 0 {
                        // Sent from inside a transition: flushed now, settled by the caller.
                        self.drive(
                            slot,
                            RecordKind::App("send"),
                            None,
                            |_| None,
                            |tcb, _, now, p, out| tcb.send(now, bytes, p, out),
                        );
                        self.flush(Side::Client);
                    }
                    if closes_first {
                        let hold = self.pops[pop as usize].hold;
                        self.queue.push(now + hold, Event::AppClose { slot, generation });
                    }
                }
                if after == State::CloseWait && !closed_by_app {
                    // The client read EOF: it closes at once.
                    let generation = self.conns.slots[slot as usize].generation;
                    self.queue.push(now, Event::AppClose { slot, generation });
                }
                if after == State::Closed {
                    let cause = self.conns.slots[slot as usize].tcb.close_cause;
                    if !established && !self.slots_established(slot) {
                        if measured {
                            match cause {
                                Some(CloseCause::Reset) => self.metrics.counters.failed_reset += 1,
                                Some(CloseCause::Timeout) => self.metrics.counters.failed_timeout += 1,
                                _ => {}
                            }
                        }
                    } else if measured {
                        match cause {
                            Some(CloseCause::Reset) => {
                                self.metrics.counters.legit_reset_after_established += 1
                            }
                            _ => self.metrics.counters.legit_completed += 1,
                        }
                    }
                    if !closed_by_app {
                        self.user_done(pop, user);
                    }
                }
            }
            Role::ServerChild { created, confirmed, sent, .. } => {
                if after == State::Closed {
                    if self.conns.slots[slot as usize].tcb.close_cause == Some(CloseCause::Reset)
                        && !confirmed
                        && sent > 0
                    {
                        // Two-way ablation: a connection nobody wanted.
                        self.metrics.counters.unwanted_established += 1;
                        self.metrics.counters.unwanted_segments += sent as u64;
                        self.metrics.counters.unwanted_established_ns += (now - created).as_nanos();
                    }
                } else if after == State::CloseWait
                    && let Role::ServerChild { accepted: true, .. } = role
                {
                    let generation = self.conns.slots[slot as usize].generation;
                    self.queue.push(now + self.server.close_delay, Event::AppClose { slot, generation });
                }
            }
            Role::Request { .. } | Role::AttackerConn => {}
        }
    }

    /// The nstat counters a state change increments in its host's network
    /// namespace (a legitimate client's or the server's; docs/counters.md).
    fn count_namespace_transition(
        &mut self,
        slot: u32,
        is_server: bool,
        before: State,
        after: State,
        fin_wait2_is_tw: bool,
    ) {
        let fin_timeout = self.params_for(self.conns.slots[slot as usize].role).fin_timeout;
        let c = &mut self.metrics.counters;
        let (attempt_fails, estab_resets, tw) = if is_server {
            (&mut c.server_attempt_fails, &mut c.server_estab_resets, &mut c.server_tw)
        } else {
            (&mut c.client_attempt_fails, &mut c.client_estab_resets, &mut c.client_tw)
        };
        if after == State::Closed {
            match before {
                // `tcp_done`.
                State::SynSent | State::SynReceived => *attempt_fails += 1,
                // `tcp_set_state(TCP_CLOSE)`: an RST, or an abortive close().
                State::Established | State::CloseWait => *estab_resets += 1,
                _ => {}
            }
        }
        // An orphan's FIN-WAIT-2 TIME-WAIT socket is counted there
        // (`__inet_twsk_schedule`; TcpExtTWKilled instead when its timeout
        // is 4 s or less); its FIN later only re-arms it.
        match (before, after) {
            (_, State::FinWait2) if fin_wait2_is_tw && fin_timeout > SimDuration::from_secs(4) => *tw += 1,
            (State::FinWait2, State::TimeWait) if fin_wait2_is_tw => {}
            (_, State::TimeWait) => *tw += 1,
            _ => {}
        }
    }

    /// `tcp_update_metrics` where Linux calls it: a connection that enters
    /// TIME-WAIT (`tcp_time_wait`, even when tcp_max_tw_buckets leaves it
    /// none), an orphan that enters FIN-WAIT-2 (which `tcp_rcv_state_process`
    /// hands to `tcp_time_wait` too), and LAST-ACK -> CLOSED. The entry gets
    /// an RTT if the connection has an estimate and is not backed off.
    fn update_tcp_metrics(&mut self, slot: u32, before: State, after: State) {
        if self.server.tcp_no_metrics_save {
            return;
        }
        let tcb = &self.conns.slots[slot as usize].tcb;
        let ends_well = match after {
            State::TimeWait => !(before == State::FinWait2 && tcb.is_orphan()),
            State::FinWait2 => tcb.is_orphan(),
            State::Closed => before == State::LastAck && tcb.close_cause == Some(CloseCause::Normal),
            _ => false,
        };
        if ends_well {
            // synsim samples the RTT from timestamps only (`Tcb::rtt_sample`).
            // Without them on the connection Linux samples segments that were
            // not retransmitted (Karn), as a connection that ends with its
            // timer not backed off has had: count that as an estimate.
            let without_timestamps = !self.server.tcp_timestamps || tcb.ts_recent == 0;
            let rtt_estimated = (tcb.srtt().is_some() || without_timestamps) && tcb.retransmits == 0;
            self.tcp_metrics.update(self.now, tcb.remote.ip, rtt_estimated);
        }
    }

    pub(super) fn slots_established(&self, slot: u32) -> bool {
        matches!(self.conns.slots[slot as usize].role, Role::Client { established: true, .. })
    }

    /// The TIME-WAIT buckets of the host at `ip` and its index there
    /// (None: a host whose entries are not limited).
    pub(super) fn tw_buckets(&mut self, ip: u32) -> Option<(&mut TimeWaitBuckets, usize)> {
        if ip == SERVER.ip {
            return Some((&mut self.server_tw, 0));
        }
        let Origin::Population(p, h) = self.plan.origin(ip) else { return None };
        Some((&mut self.pops[p as usize].tw_buckets, h as usize))
    }

    /// An orphan in FIN-WAIT-2 that Linux keeps as a TIME-WAIT socket
    /// (see `on_transition`).
    fn fin_wait2_is_time_wait(&self, slot: u32) -> bool {
        let s = &self.conns.slots[slot as usize];
        s.tcb.is_orphan() && self.params_for(s.role).fin_timeout <= TCP_TIMEWAIT_LEN
    }

    /// `inet_twsk_alloc`: take one of the host's tcp_max_tw_buckets
    /// entries, or make none when it holds them all already
    /// (TcpExtTCPTimeWaitOverflow): the connection is closed at once.
    /// Returns false when no entry was made.
    fn tw_bucket_taken(&mut self, slot: u32, is_server: bool) -> bool {
        let now = self.now;
        let ip = self.conns.slots[slot as usize].tcb.local.ip;
        if self.tw_buckets(ip).is_none_or(|(b, h)| b.try_enter(h)) {
            return true;
        }
        self.conns.slots[slot as usize].tcb.discard(now, CloseCause::Normal);
        if is_server {
            self.metrics.counters.server_tw_overflow += 1;
        } else {
            self.metrics.counters.client_tw_overflow += 1;
        }
        false
    }

    fn tw_bucket_left(&mut self, slot: u32) {
        let ip = self.conns.slots[slot as usize].tcb.local.ip;
        if let Some((b, h)) = self.tw_buckets(ip) {
            b.leave(h);
        }
    }

    /// A connection entered TIME-WAIT: the gauges and counts of it.
    fn time_wait_entered(&mut self, is_server: bool) {
        let now = self.now;
        if is_server {
            self.metrics.tw_server.add(now, 1);
            self.metrics.counters.time_wait_entered_server += 1;
        } else {
            self.metrics.tw_client.add(now, 1);
            self.metrics.counters.time_wait_entered_client += 1;
        }
    }

    fn time_wait_left(&mut self, slot: u32, is_server: bool) {
        let now = self.now;
        self.tw_bucket_left(slot);
        if is_server {
            self.metrics.tw_server.add(now, -1);
        } else {
            self.metrics.tw_client.add(now, -1);
        }
    }
}
