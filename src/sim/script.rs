//! Scripted steps for traced scenarios: connect, close, send, inject a
//! segment, at given times; and the traced connection's view.

use super::addr::SERVER;
use super::conns::{Hints, NO_USER};
use super::world::{Event, World};
use crate::engine::{Scheduler, SimTime};
use crate::tcp::params::DEFAULT_MSS;
use crate::tcp::{Flags, Segment, SockAddr, State};
use crate::trace::{RecordKind, Side};
use rand::Rng;

/// What a scenario script can make happen at a given time.
#[derive(Clone, Debug)]
pub enum ScriptAction {
    /// The traced client connects to the server.
    Connect,
    /// The application on that side calls close().
    Close(Side),
    /// The application on that side sends bytes.
    Send(Side, u16),
    /// A segment appears on the client->server path (an old duplicate, a
    /// spoofed SYN), as if sent now by its source.
    Inject(Segment),
    /// An old duplicate of the traced client's next SYN: same 4-tuple,
    /// an older sequence number.
    InjectOldSyn { seq_offset: u32 },
}

impl<Q: Scheduler<Event>> World<Q> {
    /// Adds a scripted step at `at` (scenarios).
    pub fn script(&mut self, at: SimTime, action: ScriptAction) {
        let index = self.script.len() as u32;
        self.script.push(action);
        self.queue.push(at, Event::Script { index });
    }

    /// The address the traced client connects from (its first host).
    pub fn traced_client_host(&self) -> u32 {
        self.pops.first().map(|p| p.base).unwrap_or(0)
    }

    pub fn traced_client(&self) -> Option<SockAddr> {
        self.traced_client
    }

    pub(super) fn on_script(&mut self, index: u32) {
        let action = self.script[index as usize].clone();
        match action {
            ScriptAction::Connect => {
                let user = NO_USER;
                if let Some(slot) = self.client_connect(0, 0, user) {
                    self.traced_client = Some(self.conns.slots[slot as usize].tcb.local);
                }
            }
            ScriptAction::Close(side) => {
                if let Some(slot) = self.traced_slot(side) {
                    self.app_close(slot);
                }
            }
            ScriptAction::Send(side, len) => {
                if let Some(slot) = self.traced_slot(side) {
                    let note = |_: &()| Some(format!("{len} bytes").into());
                    let (_, before) =
                        self.drive(slot, RecordKind::App("send"), None, note, |tcb, _, now, p, out| {
                            tcb.send(now, len, p, out)
                        });
                    self.settle(slot, before);
                }
            }
            ScriptAction::Inject(seg) => {
                let side = self.side_of(seg.src.ip);
                self.transmit(seg, Hints::NONE, side);
            }
            ScriptAction::InjectOldSyn { seq_offset } => {
                // The old incarnation used the port the traced client will pick.
                let ip = self.traced_client_host();
                let port = self.pops[0].ports.peek_port(ip, SERVER);
                let seg = Segment {
                    src: SockAddr::new(ip, port),
                    dst: SERVER,
                    seq: self.rng_isn.next_u32().wrapping_sub(seq_offset),
                    flags: Flags::SYN,
                    mss: DEFAULT_MSS,
                    ..Default::default()
                };
                self.record(
                    Side::Client,
                    RecordKind::App("old duplicate SYN"),
                    None,
                    (None, None),
                    "an earlier incarnation's SYN, delayed in the network",
                );
                self.transmit(seg, Hints::NONE, Side::Other);
            }
        }
    }

    /// The traced connection's 4-tuple on `side`.
    fn traced_key(&self, side: Side) -> Option<(SockAddr, SockAddr)> {
        let client = self.traced_client?;
        Some(match side {
            Side::Client => (client, SERVER),
            _ => (SERVER, client),
        })
    }

    /// The traced connection's slot on `side`.
    pub(super) fn traced_slot(&mut self, side: Side) -> Option<u32> {
        let (local, remote) = self.traced_key(side)?;
        self.conns.slot_of(local, remote, 0)
    }

    /// The traced connection's state on each side (client, server).
    pub fn traced_states(&self) -> (Option<State>, Option<State>) {
        let state =
            |side| self.traced_key(side).and_then(|(local, remote)| self.conns.state_of(local, remote));
        (state(Side::Client), state(Side::Server))
    }
}
