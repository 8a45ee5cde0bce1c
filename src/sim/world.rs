//! One run's world: it builds the hosts, links, server and workloads
//! from a run's configuration, runs the event loop and dispatches each
//! event to the room that handles it:
//!
//! - `conns`: the connection slab, the 4-tuple map, application roles;
//! - `timers`: connection timers; `time_wait_ring`: fresh TIME-WAITs, parked;
//! - `server`, `client`: the two ends' kernels around the TCBs and their
//!   applications; `transitions`: what a state change means to them;
//! - `workload`: populations and attackers; `script`: traced scenarios;
//! - `metrics`, `outcome`: what a run measures and reports;
//! - `net::link`, `net::ingress`: the path and the server's ingress queue.
//!
//! Every call into a connection's TCB goes through `drive` (its settings,
//! the listener, the output buffer, the one tracing hook) and ends with
//! `settle`: send what the TCB produced, report its state change, re-arm
//! or free its slot. See docs/architecture.md.

use super::RunWatch;
use super::addr::{AddressPlan, Origin, SERVER};
use super::app::Acceptor;
use super::conns::{Conns, Hints, NO_POP, Role};
use super::kernel;
use super::metrics::Metrics;
use super::outcome::RunOutcome;
use super::port_counts::PortCounts;
use super::script::ScriptAction;
use super::time_wait_ring::TimeWaitRing;
use super::workload::{self, Attacker, Population, interval};
use crate::config::{RunConfig, ServerConfig};
use crate::engine::{Scheduler, SimDuration, SimRng, SimTime, Stream, TimingWheel, stream_rng};
use crate::net::ingress::{Admit, Ingress};
use crate::net::link::{Delivery, Link, PathsId};
use crate::net::{Direction, DropRule};
use crate::tcp::time_wait::TimeWaitBuckets;
use crate::tcp::{Listener, Segment, SockAddr, State, Tcb, TcpMetrics, TcpParams};
use crate::trace::{RecordKind, Side, TraceRecord};
use rand::{Rng, RngExt};
use std::borrow::Cow;

/// Everything that can happen. Small and `Copy` (48 bytes).
#[derive(Copy, Clone, Debug)]
pub enum Event {
    /// A segment reaches its destination host.
    Arrive(Segment, Hints),
    /// A segment that waited in the server's ingress queue is done
    /// being processed (see `net::ingress`).
    IngressDone(Segment, Hints),
    /// A connection's timer may be due (lazily cancelled: checked against
    /// the slot's generation and queued deadline).
    Timer { slot: u32, generation: u32 },
    /// The application on this connection calls close().
    AppClose { slot: u32, generation: u32 },
    /// Open loop: the next Poisson arrival of a population.
    ClientArrival { pop: u16 },
    /// Closed loop: a user of a population connects.
    UserConnect { pop: u16, user: u32 },
    /// A server worker finished serving a connection (`sim::app`).
    WorkerFree,
    /// The next attack packet or connection.
    Attack { attacker: u16 },
    /// End of the warm-up: gauges start measuring, counters are snapshot.
    WarmupEnd,
    /// Start of the drain: no new attempt is measured, gauges and window
    /// counters stop.
    MeasureEnd,
    /// A time-series bin ends.
    Sample,
    /// A scripted scenario step.
    Script { index: u32 },
    /// The oldest fresh TIME-WAIT entries expire (see `time_wait_ring`).
    TimeWaitSweep,
}

/// Slots (about 140 B each) beyond which they outgrow a core's L2 cache
/// and the run loop prefetches the next event's slot.
const PREFETCH_ABOVE_SLOTS: usize = 16_384;

/// The simulation of one run. The event queue is a timing wheel by
/// default: it beats `BinaryHeap` and `priority-queue` on whole runs
/// (README.md, "Speed").
pub struct World<Q: Scheduler<Event> = TimingWheel<Event>> {
    pub(super) now: SimTime,
    pub(super) end: SimTime,
    pub(super) warmup: SimTime,
    /// The measured window's end (`duration - drain`).
    pub(super) measure_end: SimTime,
    pub(super) bin: SimDuration,
    pub(super) queue: Q,
    pub(super) events: u64,
    pub(super) conns: Conns,
    pub(super) plan: AddressPlan,
    pub(super) pops: Vec<Population>,
    pub(super) attackers: Vec<Attacker>,
    pub(super) server: ServerConfig,
    pub(super) server_params: TcpParams,
    /// CONFIG_HZ of every host (`tcp::timer_wheel`; 0: exact timers).
    pub(super) hz: u32,
    /// The clients' and attacking hosts' jiffies phases (`kernel::clock_secret`).
    pub(super) clock_secret: u64,
    /// The accept queue holds (slot, generation): a slot freed while its
    /// child waited may hold another connection by the time it is accepted.
    pub(super) listener: Listener<(u32, u32)>,
    /// The server's TCP metrics cache: the peers it has proven.
    pub(super) tcp_metrics: TcpMetrics,
    pub(super) acceptor: Acceptor,
    pub(super) ingress: Ingress,
    pub(super) link: Link,
    /// Some flow's path is FIFO (no `reorder`, and a delay that varies).
    fifo_paths: bool,
    pub(super) rng_isn: SimRng,
    pub(super) rng_arrivals: SimRng,
    pub(super) rng_attack: SimRng,
    pub(super) rng_ports: SimRng,
    /// The segments the TCB call in progress produced.
    pub(super) out: Vec<Segment>,
    pub(super) metrics: Metrics,
    /// The server's TIME-WAIT entries against its tcp_max_tw_buckets.
    pub(super) server_tw: TimeWaitBuckets,
    pub(super) trace: Option<Vec<TraceRecord>>,
    pub(super) script: Vec<ScriptAction>,
    pub(super) traced_client: Option<SockAddr>,
}

impl World<TimingWheel<Event>> {
    pub fn new(cfg: &RunConfig, seed: u64, run: u64) -> Self {
        World::with_queue(cfg, seed, run, TimingWheel::new())
    }
}

/// The server's TCP metrics cache at the start: each host of a population
/// remembered with the population's `remembered` share, as if its last
/// connection had just ended well (`tcp_update_metrics`). The cache keeps
/// what its buckets hold (`tcp_metrics::TcpMetrics`).
fn remembered_peers(cfg: &RunConfig, pops: &[Population], rng: &mut SimRng) -> TcpMetrics {
    let mut metrics = TcpMetrics::new(rng.next_u32());
    for (c, pop) in cfg.clients.values().zip(pops) {
        if c.remembered <= 0.0 {
            continue;
        }
        for h in 0..pop.hosts {
            if c.remembered >= 1.0 || rng.random::<f64>() < c.remembered {
                metrics.update(SimTime::ZERO, pop.base + h as u32, true);
            }
        }
    }
    metrics
}

impl<Q: Scheduler<Event>> World<Q> {
    pub fn with_queue(cfg: &RunConfig, seed: u64, run: u64, queue: Q) -> Self {
        let mut secrets = stream_rng(seed, run, Stream::Secrets);
        let cookie_secret = secrets.next_u64();
        // One secret behind every host's timestamp offsets (each host's
        // offsets still differ: they hash its own address).
        let ts_secret = secrets.next_u64();
        let server_params = TcpParams { ts_secret, ..kernel::server_params(&cfg.server, cfg.hz) };
        let clock_secret = kernel::clock_secret(cfg, ts_secret);
        let mut plan = AddressPlan::default();
        let (mut pops, mut attackers) = workload::build(cfg, &mut plan, server_params, seed, run);
        let listener = Listener::new(SERVER, kernel::listener_config(&cfg.server), cookie_secret);
        let tcp_metrics = remembered_peers(cfg, &pops, &mut secrets);
        let ingress = Ingress::new(
            cfg.server.netdev_max_backlog as usize,
            interval(cfg.server.packet_rate.per_second()),
        );
        let mut link = Link::new(
            cfg.network.client_to_server(),
            cfg.network.server_to_client(),
            cfg.network.reorder,
            stream_rng(seed, run, Stream::Loss),
            stream_rng(seed, run, Stream::Delay),
        );
        if let Some(t) = &cfg.network.transmission_time {
            link.set_transmission_time(t, stream_rng(seed, run, Stream::Transmission));
        }
        for (pop, c) in pops.iter_mut().zip(cfg.clients.values()) {
            if let Some(n) = &c.network {
                pop.paths = link.add_paths(cfg.network.for_population(n));
            }
        }
        for (at, a) in attackers.iter_mut().zip(cfg.attackers.values()) {
            if let Some(n) = &a.network {
                at.paths = link.add_paths(cfg.network.for_population(n));
            }
        }
        let mut world = World {
            now: SimTime::ZERO,
            end: SimTime::ZERO + cfg.duration,
            warmup: SimTime::ZERO + cfg.warmup,
            measure_end: SimTime::ZERO + SimDuration(cfg.duration.0.saturating_sub(cfg.drain.0)),
            bin: cfg.bin,
            queue,
            events: 0,
            conns: Conns::new(TimeWaitRing::clock_disorder(cfg.hz, clock_secret != 0)),
            plan,
            pops,
            attackers,
            server: cfg.server.clone(),
            server_params,
            hz: cfg.hz,
            clock_secret,
            listener,
            tcp_metrics,
            acceptor: Acceptor::new(&cfg.server, stream_rng(seed, run, Stream::Service)),
            ingress,
            fifo_paths: link.any_fifo(),
            link,
            rng_isn: stream_rng(seed, run, Stream::Isn),
            rng_arrivals: stream_rng(seed, run, Stream::Arrivals),
            rng_attack: stream_rng(seed, run, Stream::Attack),
            rng_ports: stream_rng(seed, run, Stream::Ports),
            out: Vec::with_capacity(4),
            metrics: Metrics::new(cfg.warmup == SimDuration::ZERO),
            server_tw: TimeWaitBuckets::new(cfg.server.tcp_max_tw_buckets, 1, true),
            trace: None,
            script: Vec::new(),
            traced_client: None,
        };
        world.schedule_workload();
        world
    }

    // ----- tracing -------------------------------------------------------

    /// Records every segment, timer and application call from now on.
    pub fn enable_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    pub fn take_trace(&mut self) -> Vec<TraceRecord> {
        self.trace.take().unwrap_or_default()
    }

    pub fn set_drop_rules(&mut self, rules: Vec<DropRule>) {
        self.link.set_drop_rules(rules);
    }

    pub(super) fn side_of(&self, ip: u32) -> Side {
        if ip == SERVER.ip {
            Side::Server
        } else if self.traced_client.is_some_and(|c| c.ip == ip) || ip == self.traced_client_host() {
            Side::Client
        } else {
            Side::Other
        }
    }

    pub(super) fn record(
        &mut self,
        side: Side,
        kind: RecordKind,
        seg: Option<Segment>,
        states: (Option<State>, Option<State>),
        note: impl Into<Cow<'static, str>>,
    ) {
        if let Some(t) = self.trace.as_mut() {
            let note = note.into();
            t.push(TraceRecord { at: self.now, side, kind, seg, before: states.0, after: states.1, note });
        }
    }

    /// The state of `local`'s socket toward `remote` (LISTEN for the
    /// server's port when it has none).
    /// None when not tracing: the lookup is only for the ladder.
    pub(super) fn state_at(&self, local: SockAddr, remote: SockAddr) -> Option<State> {
        self.trace.as_ref()?;
        match self.conns.state_of(local, remote) {
            Some(state) => Some(state),
            None if local == SERVER => Some(State::Listen),
            None => Some(State::Closed),
        }
    }

    // ----- the run loop --------------------------------------------------

    /// Runs until the end time (or until nothing is left to happen).
    pub fn run(&mut self) -> RunOutcome {
        self.run_watched(None)
    }

    /// Runs to the end; every 65536 events the simulated time reached and
    /// the events so far go to `watch`, for a progress display.
    pub fn run_watched(&mut self, watch: Option<&RunWatch>) -> RunOutcome {
        // Pop, not peek: a timing wheel's peek costs a scan. The first event
        // past the end is dropped with the rest of the queue.
        while let Some((at, event)) = self.queue.pop() {
            if at > self.end {
                break;
            }
            self.now = at;
            self.events += 1;
            if self.events & 0xFFFF == 0
                && let Some(w) = watch
            {
                w.reached_ns.store(at.0, std::sync::atomic::Ordering::Relaxed);
                w.events.store(self.events, std::sync::atomic::Ordering::Relaxed);
            }
            // With more slots than the caches hold, the next event's slot
            // is most likely out of them: start loading it while this event
            // runs. (With fewer, the peek would cost more than it saves.)
            if self.conns.slots.len() > PREFETCH_ABOVE_SLOTS
                && let Some(next) = self.queue.peek_cheap()
            {
                self.prefetch_for(next);
            }
            self.dispatch(event);
        }
        // The measured window closes at the end time even if the last
        // event came earlier (gauges hold their level until then).
        self.now = self.now.max(self.end);
        self.outcome()
    }

    fn prefetch_for(&self, event: &Event) {
        let slot = match *event {
            Event::Arrive(_, hints) | Event::IngressDone(_, hints) => hints.dst_slot.checked_sub(1),
            Event::Timer { slot, .. } | Event::AppClose { slot, .. } => Some(slot),
            _ => None,
        };
        if let Some(slot) = slot {
            self.conns.slots.prefetch(slot as usize);
        }
    }

    pub(super) fn dispatch(&mut self, event: Event) {
        match event {
            Event::Arrive(seg, hints) => self.on_arrive(seg, hints),
            Event::IngressDone(seg, hints) => self.server_receive(seg, hints),
            Event::Timer { slot, generation } => self.on_timer(slot, generation),
            Event::AppClose { slot, generation } => {
                if self.live(slot, generation) {
                    self.app_close(slot);
                }
            }
            Event::ClientArrival { pop } => self.on_client_arrival(pop),
            Event::UserConnect { pop, user } => {
                if self.now < self.pops[pop as usize].stop {
                    let host = (user as u64 % self.pops[pop as usize].hosts) as u32;
                    self.client_connect(pop, host, user);
                }
            }
            Event::WorkerFree => self.on_worker_free(),
            Event::Attack { attacker } => self.on_attack(attacker),
            Event::WarmupEnd => self.on_warmup_end(),
            Event::MeasureEnd => {
                self.ingress_gauge_to_now();
                self.metrics.measure_end(self.now, &self.listener.counters)
            }
            Event::Sample => self.on_sample(),
            Event::Script { index } => self.on_script(index),
            Event::TimeWaitSweep => self.on_time_wait_sweep(),
        }
    }

    // ----- connections ---------------------------------------------------

    pub(super) fn live(&self, slot: u32, generation: u32) -> bool {
        self.conns.live(slot, generation)
    }

    pub(super) fn lookup(&mut self, seg: &Segment, hints: Hints) -> Option<u32> {
        self.conns.lookup(seg, hints)
    }

    /// The port table of a client or attacking host and its index there
    /// (None for the server and spoofed addresses).
    fn port_table(&mut self, ip: u32) -> Option<(&mut PortCounts, u32)> {
        match self.plan.origin(ip) {
            Origin::Population(p, h) => Some((&mut self.pops[p as usize].port_counts, h)),
            Origin::AttackHosts(a) => {
                let at = &mut self.attackers[a as usize];
                Some((&mut at.port_counts, ip - at.base))
            }
            _ => None,
        }
    }

    /// Ports `ip` holds toward the server, even and odd.
    pub(super) fn ports_in_use(&mut self, ip: u32) -> [u32; 2] {
        self.port_table(ip).map(|(t, h)| t.get(h).map(u32::from)).unwrap_or([0, 0])
    }

    pub(super) fn insert(&mut self, tcb: Tcb, role: Role) -> u32 {
        let local = tcb.local;
        let slot = self.conns.insert(tcb, role);
        if let Some((t, h)) = self.port_table(local.ip) {
            t.take(h, local.port);
        }
        slot
    }

    pub(super) fn release(&mut self, slot: u32) {
        let local = self.conns.release(slot);
        if let Some((t, h)) = self.port_table(local.ip) {
            t.give_back(h, local.port);
        }
    }

    /// The one way into a connection's TCB: calls it (`call` gets the TCB,
    /// the listener beside it, `now`, its host's settings and the output
    /// buffer), then the one tracing hook: a record of `kind` about `seg`,
    /// with the state before and after, when `note` gives one for the
    /// result. What the call sent waits in `self.out` for `settle`, which
    /// every caller ends with (or `flush` + `release` when the slot is done).
    /// Returns the call's result and the state before it.
    pub(super) fn drive<R>(
        &mut self,
        slot: u32,
        kind: RecordKind,
        seg: Option<Segment>,
        note: impl FnOnce(&R) -> Option<Cow<'static, str>>,
        call: impl FnOnce(&mut Tcb, &mut Listener<(u32, u32)>, SimTime, &TcpParams, &mut Vec<Segment>) -> R,
    ) -> (R, State) {
        let p = self.params_for(self.conns.slots[slot as usize].role);
        let mut out = std::mem::take(&mut self.out);
        let s = &mut self.conns.slots[slot as usize];
        let before = s.tcb.state;
        let result = call(&mut s.tcb, &mut self.listener, self.now, &p, &mut out);
        let (local, after) = (s.tcb.local, s.tcb.state);
        self.out = out;
        if self.trace.is_some()
            && let Some(note) = note(&result)
        {
            self.record(self.side_of(local.ip), kind, seg, (Some(before), Some(after)), note);
        }
        (result, before)
    }

    /// After a TCB call: send what it produced, react to its state change,
    /// release it if closed, re-arm its timer.
    pub(super) fn settle(&mut self, slot: u32, before: State) {
        let (local, peer) = (self.conns.slots[slot as usize].tcb.local, self.conns.slots[slot as usize].peer);
        if let Role::ServerChild { sent, .. } = &mut self.conns.slots[slot as usize].role {
            *sent += self.out.len() as u32;
        }
        self.send_out(self.side_of(local.ip), Hints { src_slot: slot + 1, dst_slot: peer });
        let after = self.conns.slots[slot as usize].tcb.state;
        if before != after {
            self.on_transition(slot, before, after);
        }
        if self.conns.slots[slot as usize].tcb.state == State::Closed {
            self.release(slot);
        } else {
            self.arm_timer(slot);
        }
    }

    pub(super) fn params_for(&self, role: Role) -> TcpParams {
        match role {
            Role::Client { pop, .. } => self.pops[pop as usize].params,
            Role::Request { pop } | Role::ServerChild { pop, .. } => self.server_params_for(pop),
            Role::AttackerConn => kernel::attacker_params(self.hz, self.clock_secret),
        }
    }

    pub(super) fn server_params_for(&self, pop: u16) -> TcpParams {
        if pop == NO_POP { self.server_params } else { self.pops[pop as usize].server_params }
    }

    // ----- the wire ------------------------------------------------------

    /// Sends what the last TCB call produced, without slot hints.
    pub(super) fn flush(&mut self, from: Side) {
        self.send_out(from, Hints::NONE);
    }

    fn send_out(&mut self, from: Side, hints: Hints) {
        let mut out = std::mem::take(&mut self.out);
        for seg in out.drain(..) {
            self.transmit(seg, hints, from);
        }
        self.out = out;
    }

    /// Puts a segment on the path toward its destination (`net::link`
    /// decides: drop rules, the loss process, then the delay). The path is
    /// its far end's: that host's population's own, or `[network]`'s.
    pub(super) fn transmit(&mut self, seg: Segment, hints: Hints, from: Side) {
        self.transmit_on(seg, hints, from, None);
    }

    /// `transmit` on the given paths (None: the far end's), for senders
    /// whose address says nothing of them (a spoofed SYN).
    pub(super) fn transmit_on(&mut self, seg: Segment, hints: Hints, from: Side, paths: Option<PathsId>) {
        let direction =
            if seg.dst.ip == SERVER.ip { Direction::ClientToServer } else { Direction::ServerToClient };
        self.metrics.counters.segments_sent += 1;
        if seg.flags.rst() {
            // TcpOutRsts of the sender's namespace.
            match self.plan.origin(seg.src.ip) {
                Origin::Server => self.metrics.counters.server_out_rsts += 1,
                Origin::Population(..) => self.metrics.counters.client_out_rsts += 1,
                _ => {}
            }
        }
        let state = self.state_at(seg.src, seg.dst);
        self.record(from, RecordKind::Sent, Some(seg), (state, state), "");
        let departed = self.link.departure(seg.src.ip, self.now);
        let far_end = if direction == Direction::ClientToServer { seg.src.ip } else { seg.dst.ip };
        // Only looked up when something depends on it.
        let origin = (self.fifo_paths || self.link.has_population_paths()).then(|| self.plan.origin(far_end));
        let paths = paths.unwrap_or(match origin {
            Some(Origin::Population(p, _)) => self.pops[p as usize].paths,
            Some(Origin::AttackHosts(a)) => self.attackers[a as usize].paths,
            _ => 0,
        });
        match self.link.decide(&seg, direction, paths) {
            Delivery::Dropped(rule) => {
                self.metrics.counters.segments_lost += 1;
                self.record(from, RecordKind::Lost, Some(seg), (None, None), format!("{rule}"));
            }
            Delivery::Lost => {
                self.metrics.counters.segments_lost += 1;
                self.record(from, RecordKind::Lost, Some(seg), (None, None), "lost on the link");
            }
            Delivery::After(delay) => {
                // An address with no host behind it and no reply to give
                // (most SYN-ACKs of a spoofed flood): its arrival would do
                // nothing, so it costs no event. Traced runs keep the event
                // for the ladder's "no host at this address".
                if direction == Direction::ServerToClient
                    && self.trace.is_none()
                    && matches!(origin.unwrap_or_else(|| self.plan.origin(seg.dst.ip)), Origin::Elsewhere)
                    && !self.spoofed_host_answers(seg.dst.ip)
                {
                    self.metrics.counters.segments_to_nobody += 1;
                    return;
                }
                let mut at = departed + delay;
                // A FIFO path: no earlier than the flow's previous segment
                // (equal times keep send order). Segments of no connection
                // (spoofed SYNs, RSTs to strays) have no flow to keep, and
                // a spoofed address (no host) needs no lookup to know it.
                if self.link.fifo(paths)
                    && !matches!(origin, Some(Origin::Elsewhere))
                    && let Some(last) = self.conns.last_arrival_mut(seg.src, seg.dst, hints.src_slot)
                {
                    at = at.max(*last);
                    *last = at;
                }
                // A server-bound segment's event comes when its processing
                // would end on an idle ingress queue (`net::ingress`).
                let lead = if direction == Direction::ClientToServer {
                    self.ingress.lead()
                } else {
                    SimDuration::ZERO
                };
                self.queue.push(at + lead, Event::Arrive(seg, hints))
            }
        }
    }

    fn on_arrive(&mut self, seg: Segment, hints: Hints) {
        if seg.dst.ip != SERVER.ip {
            return self.host_receive(seg, hints);
        }
        // The gauge's falls so far, on the queue as it was.
        self.ingress_gauge_to_now();
        match self.ingress.admit(self.now) {
            Admit::Now => self.server_receive(seg, hints),
            Admit::At(done) => {
                self.queue.push(done, Event::IngressDone(seg, hints));
                self.metrics.ingress.set(self.now, self.ingress.waiting_lagged(self.now));
            }
            Admit::Dropped => {
                // `enqueue_to_backlog`: softnet_stat's dropped column.
                self.metrics.counters.ingress_drops += 1;
                let st = self.state_at(seg.dst, seg.src);
                self.record(
                    Side::Server,
                    RecordKind::Received,
                    Some(seg),
                    (st, st),
                    "dropped: netdev backlog full",
                );
            }
        }
    }

    /// Brings the ingress queue's gauge up to now: its length falls one
    /// processing time at a time with no event of its own (`net::ingress`),
    /// and is read one processing time late.
    pub(super) fn ingress_gauge_to_now(&mut self) {
        loop {
            let waiting = self.metrics.ingress.value;
            if waiting == 0 {
                return;
            }
            let at = self.ingress.waiting_falls_at(waiting);
            if at > self.now {
                return;
            }
            self.metrics.ingress.set(at, waiting - 1);
        }
    }

    fn on_warmup_end(&mut self) {
        self.ingress_gauge_to_now();
        self.metrics.warmup_end(self.now, &self.listener.counters);
    }

    fn on_sample(&mut self) {
        let (syn, accept) = (self.listener.syn_queue_len(), self.listener.accept_queue_len());
        self.metrics.sample(self.now, self.bin, &self.listener.counters, syn, accept);
        let next = self.now + self.bin;
        if next <= self.end {
            self.queue.push(next, Event::Sample);
        }
    }

    /// Connections in TIME-WAIT right now, on the server or on the clients
    /// (counted from the connections themselves, to check the gauges).
    pub fn time_wait_entries(&self, server: bool) -> u64 {
        self.conns.time_wait_count(SERVER.ip, server)
    }

    pub fn listener(&self) -> &Listener<(u32, u32)> {
        &self.listener
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn events(&self) -> u64 {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_within_48_bytes() {
        // Events are small and Copy: the queue moves millions of them.
        assert!(std::mem::size_of::<Event>() <= 48, "{}", std::mem::size_of::<Event>());
    }

    #[test]
    fn outcomes_are_binned_by_attempt_start_and_add_up_to_the_counters() {
        // 20 % loss: many connections establish one or more SYN timeouts
        // after they started, in a later bin than their attempt's.
        let cfg: RunConfig = toml::from_str(
            r#"
            duration = "30s"
            warmup = "5s"
            [network]
            delay = "20ms"
            loss = 0.2
            [clients.web]
            hosts = 4
            rate = 50
            stop = "20s"
            "#,
        )
        .unwrap();
        let out = World::new(&cfg, 11, 0).run();
        let col = |name| out.series.columns.iter().position(|c| *c == name).unwrap();
        let (a, e) = (col("legit_attempts_started"), col("legit_established_of_started"));
        let sum = |i: usize| out.series.rows.iter().map(|(_, r)| r[i]).sum::<f64>() as u64;
        assert_eq!(sum(a), out.counters.legit_attempts);
        assert_eq!(sum(e), out.counters.legit_established);
        // Nothing is measured in the warm-up's bins or after the clients stop.
        for (t, row) in &out.series.rows {
            if *t <= 5.0 || *t > 21.0 {
                assert_eq!(row[a], 0.0, "bin ending at {t}");
            }
            assert!(row[e] <= row[a], "bin ending at {t}: {} of {}", row[e], row[a]);
        }
        // The by-event count differs: a late establishment counts where it happens.
        let by_event = col("legit_established_per_s");
        let moved = out.series.rows.iter().filter(|(_, r)| r[by_event] != r[e]).count();
        assert!(moved > 5, "{moved}");
    }

    #[test]
    fn each_segment_waits_its_hosts_transmission_time() {
        // 5 ms each way; with a 1 ms transmission time the SYN and the
        // SYN-ACK each leave their host 1 ms later: connect() takes 12 ms.
        let run = |tx: &str| {
            let cfg: RunConfig = toml::from_str(&format!(
                r#"
                duration = "5s"
                [network]
                delay = "5ms"
                {tx}
                [clients.web]
                hosts = 1
                rate = 20
                "#
            ))
            .unwrap();
            let out = World::new(&cfg, 5, 0).run();
            assert!(out.connect_time.count() > 50);
            out.connect_time.quantile_ms(0.5)
        };
        let plain = run("");
        let sent_one_at_a_time = run(r#"transmission_time = "1ms""#);
        assert!((plain - 10.0).abs() < 0.3, "{plain}");
        assert!((sent_one_at_a_time - 12.0).abs() < 0.3, "{sent_one_at_a_time}");
    }

    #[test]
    fn an_orphaned_fin_wait_2_takes_a_time_wait_bucket() {
        // Clients close first; the server closes 5 s after reading EOF, so
        // each client sits in FIN-WAIT-2 for 5 s. Linux makes that orphan a
        // TIME-WAIT socket (`tcp_time_wait(TCP_FIN_WAIT2)`), which takes one
        // of the host's tcp_max_tw_buckets = 3 entries or, when none is
        // left, closes (TcpExtTCPTimeWaitOverflow): the server's FIN later
        // finds no socket and gets an RST.
        let cfg: RunConfig = toml::from_str(
            r#"
            duration = "20s"
            [network]
            delay = "5ms"
            [server]
            close_delay = "5s"
            [clients.web]
            hosts = 1
            rate = 10
            stop = "10s"
            hold = "10ms"
            tcp_max_tw_buckets = 3
            "#,
        )
        .unwrap();
        let out = World::new(&cfg, 3, 0).run();
        let c = &out.totals;
        // About 10/s x 10 s closed, 3 holding an entry: the others
        // overflow at FIN-WAIT-2.
        assert!(c.client_tw_overflow > 90, "{c:?}");
        assert_eq!(c.client_tw_overflow + 3, c.legit_established, "{c:?}");
        // Every FIN-WAIT-2 that got no entry answers the server's FIN
        // (5 s later, before the end) with an RST.
        assert_eq!(c.client_out_rsts, c.client_tw_overflow, "{c:?}");
        // Entries made (FIN-WAIT-2 sockets count in TcpExtTW) stay within
        // the buckets: 3 per 5 s FIN-WAIT-2 + 60 s TIME-WAIT.
        assert!(c.client_tw <= 3, "{c:?}");
    }

    #[test]
    fn a_segment_to_nobody_costs_no_event_and_changes_no_counter() {
        // A traced run keeps the arrival events at spoofed addresses (the
        // ladder shows them); an untraced one counts them instead. Every
        // counter agrees; the untraced run has that many fewer events (less those due after the end).
        let cfg: RunConfig = toml::from_str(
            r#"
            duration = "3s"
            [network]
            delay = "10ms"
            [server]
            tcp_syncookies = 2
            [clients.web]
            hosts = 100
            rate = 50
            [attackers.flood]
            kind = "spoofed-syn"
            rate = 2000
            rst_fraction = 0.25
            "#,
        )
        .unwrap();
        let plain = World::new(&cfg, 7, 0).run();
        let mut traced_world = World::new(&cfg, 7, 0);
        traced_world.enable_trace();
        let traced = traced_world.run();
        let nobody = plain.totals.segments_to_nobody;
        assert!(nobody > 3000, "SYN-ACKs to spoofed sources that do not answer: {nobody}");
        assert_eq!(traced.totals.segments_to_nobody, 0);
        let mut t = traced.totals.clone();
        t.segments_to_nobody = nobody;
        assert_eq!(plain.totals, t);
        assert_eq!(plain.listener, traced.listener);
        // Less those that would have arrived after the end (sent in the
        // last 10 ms: about 2000 x 0.75 x 0.01 = 15).
        let saved = plain.events + nobody - traced.events;
        assert!(saved <= 50, "{saved} arrivals after the end");
        assert!(traced.events > plain.events + nobody - 50);
    }

    /// 2000 client hosts, one connection each within 2 s, closed by the
    /// client: 2000 TIME-WAITs, run for `duration`.
    fn two_thousand_time_waits(duration: &str) -> World<TimingWheel<Event>> {
        let cfg: RunConfig = toml::from_str(&format!(
            r#"
            duration = "{duration}"
            [network]
            delay = "10ms"
            [clients.web]
            hosts = 2000
            rate = 1000
            host_choice = "round-robin"
            max_connections = 2000
            hold = "10ms"
            "#
        ))
        .unwrap();
        let mut world = World::new(&cfg, 1, 0);
        world.run();
        world
    }

    #[test]
    fn every_fresh_time_wait_waits_in_the_ring_not_the_queue_or_a_slot() {
        // Clients close first; each enters TIME-WAIT while its FIN's
        // retransmission event is still queued. 2000 connections in 2 s,
        // stopped 8 s later: all of them in TIME-WAIT.
        let mut world = two_thousand_time_waits("10s");
        assert_eq!(world.time_wait_entries(false), 2000);
        assert_eq!(world.conns.time_wait.len(), 2000);
        // Parked: the slab holds only the connections that were alive at once.
        assert!(world.conns.slots.len() < 200, "{} slots", world.conns.slots.len());
        // What is left in the queue: stale retransmission events, the
        // sampling tick, the sweep: none of them a TIME-WAIT timer.
        let pending: Vec<(SimTime, Event)> = std::iter::from_fn(|| world.queue.pop()).collect();
        let live_timers = pending
            .iter()
            .filter(|&&(at, e)| match e {
                Event::Timer { slot, generation } => {
                    world.live(slot, generation) && world.conns.slots[slot as usize].queued == at
                }
                _ => false,
            })
            .count();
        assert_eq!(live_timers, 0);
    }

    #[test]
    fn time_waits_on_hosts_own_clocks_end_when_due() {
        // 2000 hosts, each on its own jiffies phase, enter TIME-WAIT within
        // 2 s: their deadlines arrive out of order (each host's 2.048 s
        // grid), and each must end exactly when due (the sweep's debug
        // assertion), the last by 60 + 2 + 2.1 s.
        let world = two_thousand_time_waits("64.2s");
        assert_eq!(world.time_wait_entries(false), 0, "every TIME-WAIT ended");
        assert_eq!(world.conns.time_wait.len(), 0);
    }
}
