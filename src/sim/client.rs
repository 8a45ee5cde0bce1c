//! Hosts other than the server: the clients' connect() with its port
//! choice, what a client or attacking host does with a segment, and the
//! application's close().

use super::addr::{Origin, SERVER};
use super::conns::{Hints, NO_USER, Role};
use super::world::{Event, World};
use crate::config::{AttackKind, Closer};
use crate::engine::Scheduler;
use crate::engine::rng::mix64;
use crate::tcp::ports::PortChoice;
use crate::tcp::{CloseCause, Disposition, Segment, SockAddr, State, Tcb, reset_for};
use crate::trace::{RecordKind, Side};
use rand::{Rng, RngExt};

impl<Q: Scheduler<Event>> World<Q> {
    pub(super) fn host_receive(&mut self, seg: Segment, hints: Hints) {
        let side = self.side_of(seg.dst.ip);
        let before_state = self.state_at(seg.dst, seg.src);
        if let Some(slot) = self.lookup(&seg, hints) {
            let (disposition, before) = self.drive(
                slot,
                RecordKind::Received,
                Some(seg),
                |_| Some("".into()),
                |tcb, _, now, p, out| tcb.handle_segment(now, &seg, p, out),
            );
            if let Disposition::ReopenFromTimeWait { .. } = disposition {
                // No listener on a client: the SYN ends the TIME-WAIT and gets a RST.
                self.out.extend(reset_for(&seg));
            }
            self.settle(slot, before);
            return;
        }
        // No socket: a real host answers RST (RFC 9293 §3.10.7.1); a spoofed
        // address may belong to nobody, or to a real host that answers.
        let answers = match self.plan.origin(seg.dst.ip) {
            Origin::Population(..) => true,
            Origin::AttackHosts(a) => self.attackers[a as usize].kind == AttackKind::ConnectFlood,
            Origin::Elsewhere => self.spoofed_host_answers(seg.dst.ip),
            Origin::Server => false,
        };
        let note = if answers { "no socket: RST" } else { "no host at this address" };
        self.record(side, RecordKind::Received, Some(seg), (before_state, before_state), note);
        if answers {
            self.out.extend(reset_for(&seg));
            self.flush(side);
        }
    }

    pub(super) fn spoofed_host_answers(&self, ip: u32) -> bool {
        self.attackers.iter().any(|a| {
            a.kind == AttackKind::SpoofedSyn
                && a.rst_fraction > 0.0
                && (mix64(ip as u64 ^ a.salt) as f64 / u64::MAX as f64) < a.rst_fraction
        })
    }

    /// connect() from host `host` of population `pop`.
    pub(super) fn client_connect(&mut self, pop: u16, host: u32, user: u32) -> Option<u32> {
        let now = self.now;
        let measured = self.metrics.measuring;
        if measured {
            self.metrics.attempt_started(now, self.bin);
        }
        self.metrics.counters.client_active_opens += 1;
        let ip = self.pops[pop as usize].base + host;
        let in_use = self.ports_in_use(ip);
        let conns = &self.conns;
        let choice =
            self.pops[pop as usize]
                .ports
                .choose(now, ip, SERVER, in_use, &mut self.rng_ports, |local| conns.occupant(local, SERVER));
        let (port, isn) = match choice {
            PortChoice::Free(port) => (port, self.rng_isn.next_u32()),
            PortChoice::ReuseTimeWait(port, isn) => {
                // `tcp_twsk_unique`: the TIME-WAIT entry gives way.
                let slot =
                    self.conns.slot_of(SockAddr::new(ip, port), SERVER, 0).expect("the TIME-WAIT taken over");
                self.conns.slots[slot as usize].tcb.discard(now, CloseCause::Normal);
                let note = "tcp_tw_reuse: the TIME-WAIT 4-tuple is taken over".to_string();
                self.record(
                    Side::Client,
                    RecordKind::App("connect"),
                    None,
                    (Some(State::TimeWait), Some(State::Closed)),
                    note,
                );
                self.settle(slot, State::TimeWait);
                (port, isn)
            }
            PortChoice::Exhausted => {
                if measured {
                    self.metrics.counters.failed_no_port += 1;
                }
                self.record(
                    Side::Client,
                    RecordKind::App("connect"),
                    None,
                    (Some(State::Closed), Some(State::Closed)),
                    "EADDRNOTAVAIL: no free port",
                );
                self.user_done(pop, user);
                return None;
            }
        };
        let local = SockAddr::new(ip, port);
        let pop_ref = &self.pops[pop as usize];
        let p = pop_ref.params;
        let closes_first = match pop_ref.closer {
            Closer::Client => true,
            Closer::Server => false,
            Closer::Mixed => self.rng_arrivals.random::<f64>() < pop_ref.client_close_share,
        };
        let mut out = std::mem::take(&mut self.out);
        let tcb = Tcb::connect(now, local, SERVER, isn, &p, &mut out);
        self.out = out;
        let role = Role::Client {
            pop,
            user,
            started: now,
            measured,
            established: false,
            closes_first,
            closed_by_app: false,
        };
        let slot = self.insert(tcb, role);
        self.record(
            Side::Client,
            RecordKind::App("connect"),
            None,
            (Some(State::Closed), Some(State::SynSent)),
            "",
        );
        self.settle(slot, State::SynSent);
        Some(slot)
    }

    pub(super) fn app_close(&mut self, slot: u32) {
        let role = self.conns.slots[slot as usize].role;
        let (linger_zero, before) = self.drive(
            slot,
            RecordKind::App("close"),
            None,
            |_| Some("".into()),
            |tcb, _, now, p, out| {
                tcb.close(now, p, out);
                p.linger_zero
            },
        );
        if linger_zero && self.conns.slots[slot as usize].tcb.close_cause == Some(CloseCause::Abort) {
            match role {
                Role::Client { .. } => self.metrics.counters.client_abort_on_data += 1,
                Role::ServerChild { .. } => self.metrics.counters.server_abort_on_data += 1,
                _ => {}
            }
        }
        if let Role::Client { pop, user, closed_by_app: false, .. } = role {
            if let Role::Client { closed_by_app, .. } = &mut self.conns.slots[slot as usize].role {
                *closed_by_app = true;
            }
            self.user_done(pop, user);
        }
        self.settle(slot, before);
    }

    /// A closed-loop user finished one connection: the next one after `think`.
    pub(super) fn user_done(&mut self, pop: u16, user: u32) {
        if user != NO_USER {
            let at = self.now + self.pops[pop as usize].think;
            self.queue.push(at, Event::UserConnect { pop, user });
        }
    }
}
